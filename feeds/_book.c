/* feeds._book: the L2 order book of one (venue, symbol), compiled (see feeds/book.py).
 *
 * Each side is a sorted C array of keys (sign * price: bids ascending by price, asks by negated
 * price) with the sizes (and, with keep_text, the venue's price and size objects) in parallel,
 * best level LAST: most changes happen near the top, so inserting or deleting there moves few
 * items. A level is found by binary search.
 *
 * Numbers arrive as the venue sent them (str, or JSON float/int). A decimal string that is
 * plain digits with at most one '.' and whose digits fit in 53 bits is converted as
 * m / 10^k, both exact doubles, so the one IEEE division is correctly rounded: the same
 * value Python's float() gives (Clinger's fast path). Anything else goes through Python's
 * own float(), so every spelling float() accepts is accepted, with the same value.
 *
 * The venue checksums are computed here too, from the kept text objects: one CRC32 over a
 * text whose layout (levels, order, separator, number text, signs, result) is data, defined
 * in feeds/checksum.py, which also holds the readable Python definition.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_book.h"

static PyObject *BadLevel;
static uint32_t CRC_TABLE[8][256]; /* slicing-by-8: table k advances a byte k places */

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* ---- numbers ------------------------------------------------------------------------- */

/* 1 and *out set if `p` is a plain decimal on the exact fast path, else 0 (no error set). */
int book_fast_decimal(const char *p, Py_ssize_t len, double *out) {
    uint64_t m = 0;
    int digits = 0, frac = -1;
    for (Py_ssize_t i = 0; i < len; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            m = m * 10 + (uint64_t)(c - '0');
            if (m > (UINT64_C(1) << 53)) return 0;
            digits++;
            if (frac >= 0) frac++;
        } else if (c == '.' && frac < 0) {
            frac = 0;
        } else {
            return 0;
        }
    }
    if (digits == 0 || frac > 22) return 0;
    *out = (double)m / POW10[frac < 0 ? 0 : frac];
    return 1;
}

/* 0 and *out set, or -1 with a Python error set: only exact str, float and int are numbers
 * (a bool is not). */
static int to_double(PyObject *o, double *out) {
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyUnicode_Type) {
        if (PyUnicode_IS_COMPACT_ASCII(o) &&
            book_fast_decimal((const char *)PyUnicode_DATA(o), PyUnicode_GET_LENGTH(o), out))
            return 0;
        PyObject *f = PyFloat_FromString(o);
        if (f == NULL) return -1;
        *out = PyFloat_AS_DOUBLE(f);
        Py_DECREF(f);
        return 0;
    }
    if (t == &PyFloat_Type) {
        *out = PyFloat_AS_DOUBLE(o);
        return 0;
    }
    if (t == &PyLong_Type) {
        double d = PyLong_AsDouble(o);
        if (d == -1.0 && PyErr_Occurred()) return -1;
        *out = d;
        return 0;
    }
    PyErr_SetString(PyExc_TypeError, "not a number");
    return -1;
}

static int bad_level(PyObject *level, const char *what, PyObject *value) {
    PyErr_Clear();
    if (value != NULL)
        PyErr_Format(BadLevel, "bad level %.80R: bad %s %.40R", level, what, value);
    else
        PyErr_Format(BadLevel, "bad level %.80R: %s", level, what);
    return -1;
}

/* ---- sides --------------------------------------------------------------------------- */

int book_side_reserve(Side *s, Py_ssize_t need, int keep_text) {
    if (need <= s->cap) return 0;
    Py_ssize_t cap = s->cap ? s->cap : 32;
    while (cap < need) cap *= 2;
    double *keys = PyMem_Realloc(s->keys, (size_t)cap * sizeof(double));
    if (keys == NULL) return PyErr_NoMemory(), -1;
    s->keys = keys;
    double *sizes = PyMem_Realloc(s->sizes, (size_t)cap * sizeof(double));
    if (sizes == NULL) return PyErr_NoMemory(), -1;
    s->sizes = sizes;
    if (keep_text) {
        PyObject **text = PyMem_Realloc(s->text, (size_t)cap * 2 * sizeof(PyObject *));
        if (text == NULL) return PyErr_NoMemory(), -1;
        s->text = text;
    }
    s->cap = cap;
    return 0;
}

/* Remove levels [0, count): the worst ones. */
static void side_drop_worst(Side *s, Py_ssize_t count) {
    if (count <= 0) return;
    if (s->text != NULL) {
        for (Py_ssize_t i = 0; i < 2 * count; i++) Py_DECREF(s->text[i]);
        memmove(s->text, s->text + 2 * count, (size_t)(s->n - count) * 2 * sizeof(PyObject *));
    }
    memmove(s->keys, s->keys + count, (size_t)(s->n - count) * sizeof(double));
    memmove(s->sizes, s->sizes + count, (size_t)(s->n - count) * sizeof(double));
    s->n -= count;
}

void book_side_clear(Side *s) { side_drop_worst(s, s->n); }

static void side_free(Side *s) {
    book_side_clear(s);
    PyMem_Free(s->keys);
    PyMem_Free(s->sizes);
    PyMem_Free(s->text);
    s->keys = s->sizes = NULL;
    s->text = NULL;
    s->cap = 0;
}

/* The first index whose key is >= `key` (bisect_left), without a branch the CPU can
 * mispredict: the halving step is a conditional move. On the bench's diff stream (1,000-level
 * sides) a level cost 69 ns with it, 75 ns with the branchy loop. */
static inline Py_ssize_t lower_bound(const double *keys, Py_ssize_t n, double key) {
    if (n == 0) return 0;
    const double *base = keys;
    while (n > 1) {
        Py_ssize_t half = n >> 1;
        base = base[half - 1] < key ? base + half : base;
        n -= half;
    }
    return (base - keys) + (*base < key);
}

/* Set the level at `key` (sign * price) to `size` (0 deletes; the text objects are kept when
 * keep_text). 1 if the side changed, 0 for deleting an absent level (a no-op), -1 with a
 * Python error set when memory runs out. */
int book_side_put(Side *s, double key, double size, PyObject *po, PyObject *so, int keep_text) {
    double *keys = s->keys;
    Py_ssize_t lo = lower_bound(keys, s->n, key);
    if (lo < s->n && keys[lo] == key) { /* the level exists */
        if (size == 0.0) {
            Py_ssize_t tail = s->n - lo - 1;
            if (keep_text) {
                Py_DECREF(s->text[2 * lo]);
                Py_DECREF(s->text[2 * lo + 1]);
                memmove(s->text + 2 * lo, s->text + 2 * lo + 2,
                        (size_t)tail * 2 * sizeof(PyObject *));
            }
            memmove(keys + lo, keys + lo + 1, (size_t)tail * sizeof(double));
            memmove(s->sizes + lo, s->sizes + lo + 1, (size_t)tail * sizeof(double));
            s->n--;
        } else {
            s->sizes[lo] = size;
            if (keep_text) {
                Py_INCREF(po);
                Py_INCREF(so);
                Py_SETREF(s->text[2 * lo], po);
                Py_SETREF(s->text[2 * lo + 1], so);
            }
        }
        return 1;
    }
    if (size == 0.0) return 0;
    if (book_side_reserve(s, s->n + 1, keep_text) < 0) return -1;
    keys = s->keys;
    Py_ssize_t tail = s->n - lo;
    memmove(keys + lo + 1, keys + lo, (size_t)tail * sizeof(double));
    memmove(s->sizes + lo + 1, s->sizes + lo, (size_t)tail * sizeof(double));
    keys[lo] = key;
    s->sizes[lo] = size;
    if (keep_text) {
        memmove(s->text + 2 * lo + 2, s->text + 2 * lo, (size_t)tail * 2 * sizeof(PyObject *));
        Py_INCREF(po);
        Py_INCREF(so);
        s->text[2 * lo] = po;
        s->text[2 * lo + 1] = so;
    }
    s->n++;
    return 1;
}

/* Apply absolute levels (size 0 deletes) to one side; set *touched if a level within the
 * current top `top_n` (or one entering it) changed. 0, or -1 with BadLevel set (the side
 * then holds the levels before the bad one). */
static int side_apply(Side *s, PyObject *levels, double sign, int keep_text, Py_ssize_t top_n,
                      int *touched) {
    PyObject *seq = PySequence_Fast(levels, "levels must be a sequence");
    if (seq == NULL) return bad_level(levels, "levels are not a sequence", NULL);
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    double edge = s->n >= top_n ? s->keys[s->n - top_n] : -INFINITY;
    for (Py_ssize_t j = 0; j < count; j++) {
        PyObject *level = items[j], *po, *so;
        PyTypeObject *lt = Py_TYPE(level);
        if (lt == &PyList_Type && PyList_GET_SIZE(level) >= 2) {
            po = PyList_GET_ITEM(level, 0);
            so = PyList_GET_ITEM(level, 1);
        } else if (lt == &PyTuple_Type && PyTuple_GET_SIZE(level) >= 2) {
            po = PyTuple_GET_ITEM(level, 0);
            so = PyTuple_GET_ITEM(level, 1);
        } else { /* the message is built before `seq` (which may own `level`) is released */
            bad_level(level, "not a [price, size, ...] list or tuple", NULL);
            Py_DECREF(seq);
            return -1;
        }
        double price, size;
        if (to_double(po, &price) < 0 || !(price > 0.0 && price < INFINITY)) {
            bad_level(level, "price", po);
            Py_DECREF(seq);
            return -1;
        }
        if (to_double(so, &size) < 0 || !(size >= 0.0 && size < INFINITY)) {
            bad_level(level, "size", so);
            Py_DECREF(seq);
            return -1;
        }
        int put = book_side_put(s, sign * price, size, po, so, keep_text);
        if (put < 0) {
            Py_DECREF(seq);
            return -1;
        }
        if (put == 0) continue; /* deleting an absent level is a no-op */
        double key = sign * price;
        if (key >= edge) {
            *touched = 1;
            edge = INFINITY;
        }
    }
    Py_DECREF(seq);
    return 0;
}

/* ---- the Book type ------------------------------------------------------------------- */

/* max_depth: None -> 0 (no truncation), else an int >= 1. */
static int parse_depth(PyObject *value, Py_ssize_t *depth) {
    *depth = 0;
    if (value == Py_None) return 0;
    *depth = PyLong_AsSsize_t(value);
    if (*depth == -1 && PyErr_Occurred()) return -1;
    if (*depth < 1) {
        PyErr_SetString(PyExc_ValueError, "max_depth must be >= 1 or None");
        return -1;
    }
    return 0;
}

static int Book_init(BookObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"top_n", "keep_text", "max_depth", NULL};
    Py_ssize_t top_n = 20;
    int keep_text = 0;
    PyObject *max_depth = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$npO", kwlist, &top_n, &keep_text, &max_depth))
        return -1;
    if (top_n < 1) {
        PyErr_SetString(PyExc_ValueError, "top_n must be >= 1");
        return -1;
    }
    Py_ssize_t depth;
    if (parse_depth(max_depth, &depth) < 0) return -1;
    if (self->bids.keys != NULL || self->asks.keys != NULL) { /* __init__ called again */
        side_free(&self->bids);
        side_free(&self->asks);
    }
    self->top_n = top_n;
    self->keep_text = keep_text;
    self->max_depth = depth;
    return 0;
}

static void Book_dealloc(BookObject *self) {
    side_free(&self->bids);
    side_free(&self->asks);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Book_clear(BookObject *self, PyObject *Py_UNUSED(ignored)) {
    book_side_clear(&self->bids);
    book_side_clear(&self->asks);
    Py_RETURN_NONE;
}

/* 1 if either side was cut (levels below max_depth removed). */
int book_truncate_both(BookObject *self) {
    Py_ssize_t d = self->max_depth, cut = 0;
    if (d == 0) return 0;
    if (self->bids.n > d) {
        side_drop_worst(&self->bids, self->bids.n - d);
        cut = 1;
    }
    if (self->asks.n > d) {
        side_drop_worst(&self->asks, self->asks.n - d);
        cut = 1;
    }
    return (int)cut;
}

/* -1 on error, else whether the top changed. */
static int apply_both(BookObject *self, PyObject *bids, PyObject *asks) {
    int touched = 0, t;
    if ((t = PyObject_IsTrue(bids)) < 0) return -1;
    if (t && side_apply(&self->bids, bids, 1.0, self->keep_text, self->top_n, &touched) < 0)
        return -1;
    if ((t = PyObject_IsTrue(asks)) < 0) return -1;
    if (t && side_apply(&self->asks, asks, -1.0, self->keep_text, self->top_n, &touched) < 0)
        return -1;
    /* truncation removes only levels below max_depth: a change of the top only when
     * max_depth < top_n, where any removal is within the top */
    if (book_truncate_both(self) && self->max_depth < self->top_n) touched = 1;
    return touched;
}

static PyObject *Book_apply(BookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply(bids, asks) takes 2 arguments");
        return NULL;
    }
    int changed = apply_both(self, args[0], args[1]);
    if (changed < 0) return NULL;
    return PyBool_FromLong(changed);
}

static PyObject *Book_apply_snapshot(BookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_snapshot(bids, asks) takes 2 arguments");
        return NULL;
    }
    book_side_clear(&self->bids);
    book_side_clear(&self->asks);
    if (apply_both(self, args[0], args[1]) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *prices_list(const Side *s, double sign, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyFloat_FromDouble(sign * s->keys[s->n - 1 - i]);
        if (f == NULL) return Py_DECREF(out), NULL;
        PyList_SET_ITEM(out, i, f);
    }
    return out;
}

static PyObject *sizes_list(const Side *s, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyFloat_FromDouble(s->sizes[s->n - 1 - i]);
        if (f == NULL) return Py_DECREF(out), NULL;
        PyList_SET_ITEM(out, i, f);
    }
    return out;
}

static int parse_n(BookObject *self, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *n) {
    *n = self->top_n;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "takes at most 1 argument");
        return -1;
    }
    if (nargs == 1 && args[0] != Py_None) {
        *n = PyLong_AsSsize_t(args[0]);
        if (*n == -1 && PyErr_Occurred()) return -1;
        if (*n < 0) {
            PyErr_SetString(PyExc_ValueError, "n must be >= 0");
            return -1;
        }
    }
    return 0;
}

static PyObject *Book_top(BookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t n;
    if (parse_n(self, args, nargs, &n) < 0) return NULL;
    Py_ssize_t nb = n < self->bids.n ? n : self->bids.n;
    Py_ssize_t na = n < self->asks.n ? n : self->asks.n;
    PyObject *bp = prices_list(&self->bids, 1.0, nb), *bs = sizes_list(&self->bids, nb);
    PyObject *ap = prices_list(&self->asks, -1.0, na), *as = sizes_list(&self->asks, na);
    if (bp == NULL || bs == NULL || ap == NULL || as == NULL) {
        Py_XDECREF(bp), Py_XDECREF(bs), Py_XDECREF(ap), Py_XDECREF(as);
        return NULL;
    }
    PyObject *out = PyTuple_Pack(4, bp, bs, ap, as);
    Py_DECREF(bp);
    Py_DECREF(bs);
    Py_DECREF(ap);
    Py_DECREF(as);
    return out;
}

static PyObject *text_list(const Side *s, Py_ssize_t n) {
    if (n > s->n) n = s->n;
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t k = s->n - 1 - i;
        PyObject *pair = PyTuple_Pack(2, s->text[2 * k], s->text[2 * k + 1]);
        if (pair == NULL) return Py_DECREF(out), NULL;
        PyList_SET_ITEM(out, i, pair);
    }
    return out;
}

static int need_text(BookObject *self) {
    if (self->keep_text) return 0;
    PyErr_SetString(PyExc_ValueError, "this book does not keep the venue's text");
    return -1;
}

static PyObject *Book_top_text(BookObject *self, PyObject *arg) {
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0");
        return NULL;
    }
    if (need_text(self) < 0) return NULL;
    PyObject *b = text_list(&self->bids, n), *a = text_list(&self->asks, n);
    if (b == NULL || a == NULL) return Py_XDECREF(b), Py_XDECREF(a), NULL;
    PyObject *out = PyTuple_Pack(2, b, a);
    Py_DECREF(b);
    Py_DECREF(a);
    return out;
}

static PyObject *Book_side(BookObject *self, PyObject *arg) {
    int bids = PyObject_IsTrue(arg);
    if (bids < 0) return NULL;
    const Side *s = bids ? &self->bids : &self->asks;
    double sign = bids ? 1.0 : -1.0;
    PyObject *out = PyList_New(s->n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < s->n; i++) {
        Py_ssize_t k = s->n - 1 - i;
        PyObject *pair = PyTuple_New(2), *px = PyFloat_FromDouble(sign * s->keys[k]);
        PyObject *sz = PyFloat_FromDouble(s->sizes[k]);
        if (pair == NULL || px == NULL || sz == NULL) {
            Py_XDECREF(pair), Py_XDECREF(px), Py_XDECREF(sz);
            return Py_DECREF(out), NULL;
        }
        PyTuple_SET_ITEM(pair, 0, px);
        PyTuple_SET_ITEM(pair, 1, sz);
        PyList_SET_ITEM(out, i, pair);
    }
    return out;
}

/* A copy of the levels (no text), for agrees(). */
static PyObject *Book_copy(BookObject *self, PyObject *Py_UNUSED(ignored)) {
    BookObject *copy = PyObject_New(BookObject, &BookType);
    if (copy == NULL) return NULL;
    memset(&copy->bids, 0, sizeof(Side));
    memset(&copy->asks, 0, sizeof(Side));
    copy->top_n = self->top_n;
    copy->max_depth = 0;
    copy->keep_text = 0;
    Side *from[2] = {&self->bids, &self->asks}, *to[2] = {&copy->bids, &copy->asks};
    for (int k = 0; k < 2; k++) {
        if (from[k]->n == 0) continue;
        if (book_side_reserve(to[k], from[k]->n, 0) < 0) return Py_DECREF(copy), NULL;
        memcpy(to[k]->keys, from[k]->keys, (size_t)from[k]->n * sizeof(double));
        memcpy(to[k]->sizes, from[k]->sizes, (size_t)from[k]->n * sizeof(double));
        to[k]->n = from[k]->n;
    }
    return (PyObject *)copy;
}

/* Whether `before` held exactly this side's levels, best first, from this side's best price
 * down (keys ascending, best last). */
static int side_agrees(const Side *now, const Side *before) {
    if (now->n == 0) return 1;
    double best = now->keys[now->n - 1];
    Py_ssize_t j = lower_bound(before->keys, before->n, best); /* first key >= best */
    j = j < before->n && before->keys[j] == best ? j : j - 1;  /* the last key <= best */
    if (j + 1 < now->n) return 0;                              /* fewer levels held */
    for (Py_ssize_t t = 0; t < now->n; t++, j--)
        if (before->keys[j] != now->keys[now->n - 1 - t] ||
            before->sizes[j] != now->sizes[now->n - 1 - t])
            return 0;
    return 1;
}

static PyObject *Book_agrees(BookObject *self, PyObject *arg) {
    if (!PyObject_TypeCheck(arg, &BookType)) {
        PyErr_SetString(PyExc_TypeError, "agrees(before) takes a Book");
        return NULL;
    }
    BookObject *before = (BookObject *)arg;
    return PyBool_FromLong(side_agrees(&self->bids, &before->bids) &&
                           side_agrees(&self->asks, &before->asks));
}

static PyObject *Book_best_bid(BookObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->bids.n == 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->bids.keys[self->bids.n - 1]);
}

static PyObject *Book_best_ask(BookObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->asks.n == 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(-self->asks.keys[self->asks.n - 1]);
}

static PyObject *Book_crossed(BookObject *self, PyObject *Py_UNUSED(ignored)) {
    const Side *b = &self->bids, *a = &self->asks;
    return PyBool_FromLong(b->n && a->n && b->keys[b->n - 1] >= -a->keys[a->n - 1]);
}

/* write_top(buffer, offset, n, missing_ask): the best n levels as four float64 rows
 * [bid_px * n, bid_sz * n, ask_px * n, ask_sz * n], best first, into a writable buffer at
 * byte `offset`; a missing bid is (0, 0), a missing ask (missing_ask, 0). This is how the
 * scanner's board takes a book without 4n Python floats in between. */
static PyObject *Book_write_top(BookObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "write_top(buffer, offset, n, missing_ask)");
        return NULL;
    }
    Py_ssize_t offset = PyLong_AsSsize_t(args[1]);
    if (offset == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyLong_AsSsize_t(args[2]);
    if (n == -1 && PyErr_Occurred()) return NULL;
    double miss = PyFloat_AsDouble(args[3]);
    if (miss == -1.0 && PyErr_Occurred()) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE) < 0) return NULL;
    char *at = (char *)view.buf + offset;
    if (offset < 0 || n < 0 || n > (view.len - offset) / (4 * (Py_ssize_t)sizeof(double)) ||
        ((uintptr_t)at) % sizeof(double) != 0) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError,
                     "write_top: %zd levels at byte %zd do not fit an aligned buffer of %zd bytes",
                     n, offset, view.len);
        return NULL;
    }
    double *out = (double *)at;
    const Side *b = &self->bids, *a = &self->asks;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i < b->n) {
            out[i] = b->keys[b->n - 1 - i];
            out[n + i] = b->sizes[b->n - 1 - i];
        } else {
            out[i] = out[n + i] = 0.0;
        }
        if (i < a->n) {
            out[2 * n + i] = -a->keys[a->n - 1 - i];
            out[3 * n + i] = a->sizes[a->n - 1 - i];
        } else {
            out[2 * n + i] = miss;
            out[3 * n + i] = 0.0;
        }
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

/* ---- checksums over the venue's text ------------------------------------------------- */

/* CRC32 (zlib's, reflected 0xEDB88320) of `len` bytes, eight at a time where the CPU is
 * little-endian (slicing-by-8), else one at a time. */
static uint32_t crc_bytes(uint32_t crc, const char *p, Py_ssize_t len) {
    const unsigned char *s = (const unsigned char *)p;
#if PY_LITTLE_ENDIAN
    for (; len >= 8; s += 8, len -= 8) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + 4, 4);
        lo ^= crc;
        crc = CRC_TABLE[7][lo & 0xFF] ^ CRC_TABLE[6][(lo >> 8) & 0xFF] ^
              CRC_TABLE[5][(lo >> 16) & 0xFF] ^ CRC_TABLE[4][lo >> 24] ^
              CRC_TABLE[3][hi & 0xFF] ^ CRC_TABLE[2][(hi >> 8) & 0xFF] ^
              CRC_TABLE[1][(hi >> 16) & 0xFF] ^ CRC_TABLE[0][hi >> 24];
    }
#endif
    for (; len > 0; s++, len--) crc = CRC_TABLE[0][(crc ^ *s) & 0xFF] ^ (crc >> 8);
    return crc;
}

/* The checksummed text is gathered here and hashed in one pass per buffer-full: the fields
 * are a few bytes each, too short for the eight-byte steps on their own. */
typedef struct {
    uint32_t crc;
    Py_ssize_t n;
    char buf[2048];
} CrcText;

static void crc_flush(CrcText *c) {
    c->crc = crc_bytes(c->crc, c->buf, c->n);
    c->n = 0;
}

static void crc_put(CrcText *c, const char *p, Py_ssize_t len) {
    if (c->n + len > (Py_ssize_t)sizeof c->buf) {
        crc_flush(c);
        if (len > (Py_ssize_t)sizeof c->buf) {
            c->crc = crc_bytes(c->crc, p, len);
            return;
        }
    }
    memcpy(c->buf + c->n, p, (size_t)len);
    c->n += len;
}

/* The text of a kept number: the str itself, else str() of the JSON number (a new reference
 * in *owned to release). NULL with an error set on failure. */
static const char *text_of(PyObject *o, Py_ssize_t *len, PyObject **owned) {
    *owned = NULL;
    if (Py_TYPE(o) == &PyUnicode_Type && PyUnicode_IS_COMPACT_ASCII(o)) { /* the usual case */
        *len = PyUnicode_GET_LENGTH(o);
        return (const char *)PyUnicode_DATA(o);
    }
    if (Py_TYPE(o) != &PyUnicode_Type) {
        o = *owned = PyObject_Str(o);
        if (o == NULL) return NULL;
    }
    const char *p = PyUnicode_AsUTF8AndSize(o, len);
    if (p == NULL) Py_CLEAR(*owned);
    return p;
}

/* The layout (feeds/checksum.py, ChecksumLayout.code) packed in one int. */
#define LAYOUT_LEVELS(c) ((Py_ssize_t)((c) & 0xFFFFu))
#define LAYOUT_ORDER(c) (((c) >> 16) & 3u)   /* 0 interleaved, 1 asks then bids, 2 bids then asks */
#define LAYOUT_COLON(c) (((c) >> 18) & 1u)   /* ':' between numbers */
#define LAYOUT_TEXT(c) (((c) >> 19) & 3u)    /* 0 as sent, 1 JavaScript number, 2 toFixed(8) */
#define LAYOUT_DIGITS(c) (((c) >> 21) & 1u)  /* '.' removed, leading zeros stripped */
#define LAYOUT_NEGATE(c) (((c) >> 22) & 1u)  /* ask sizes written with a leading '-' */
#define LAYOUT_SIGNED(c) (((c) >> 23) & 1u)  /* result as signed 32-bit */
#define LAYOUT_ORDER_ID(c) (((c) >> 24) & 1u) /* (order_id, price, size) raw orders */

static int layout_of(PyObject *arg, unsigned long *code) {
    *code = PyLong_AsUnsignedLong(arg);
    if (*code == (unsigned long)-1 && PyErr_Occurred()) return -1;
    if (LAYOUT_LEVELS(*code) == 0 || LAYOUT_ORDER(*code) == 3 || LAYOUT_TEXT(*code) == 3 ||
        (*code >> 25) != 0) {
        PyErr_Format(PyExc_ValueError, "not a checksum layout code: %lu", *code);
        return -1;
    }
    return 0;
}

/* The value of a decimal text as JavaScript prints a number (shortest digits, which
 * str() of a float already gives) into out (at least len + 32 bytes); its length. */
static Py_ssize_t js_number(const char *p, Py_ssize_t len, char *out) {
    Py_ssize_t k = 0, i = 0, o = 0;
    long long n = 0, e = 0; /* the value is 0.<digits> x 10^n */
    int neg = 0, point = 0, eneg = 0;
    char *digits = out + 32; /* gathered here, then moved into place */
    for (; i < len && p[i] != 'e' && p[i] != 'E'; i++) {
        char ch = p[i];
        if (ch == '-') neg = 1;
        else if (ch == '.') point = 1;
        else if (ch >= '0' && ch <= '9') {
            if (k == 0 && ch == '0') {
                if (point) n--;
            } else {
                digits[k++] = ch;
                if (!point) n++;
            }
        }
    }
    for (i++; i < len; i++) {
        if (p[i] == '-') eneg = 1;
        else if (p[i] >= '0' && p[i] <= '9' && e < 1000000000) e = e * 10 + (p[i] - '0');
    }
    n += eneg ? -e : e;
    while (k > 0 && digits[k - 1] == '0') k--;
    if (k == 0) {
        out[0] = '0';
        return 1;
    }
    if (neg) out[o++] = '-';
    if (k <= n && n <= 21) {
        memmove(out + o, digits, (size_t)k);
        o += k;
        for (; k < n; k++) out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memmove(out + o, digits, (size_t)n);
        o += (Py_ssize_t)n;
        out[o++] = '.';
        memmove(out + o, digits + n, (size_t)(k - n));
        o += k - (Py_ssize_t)n;
    } else if (-6 < n && n <= 0) {
        Py_ssize_t zeros = (Py_ssize_t)-n;
        memmove(out + o + 2 + zeros, digits, (size_t)k);
        out[o++] = '0';
        out[o++] = '.';
        for (Py_ssize_t z = 0; z < zeros; z++) out[o++] = '0';
        o += k;
    } else {
        char d0 = digits[0];
        memmove(out + o + 2, digits + 1, (size_t)(k - 1));
        out[o] = d0;
        o += 1;
        if (k > 1) {
            out[o] = '.';
            o += k;
        }
        o += sprintf(out + o, "e%c%lld", n - 1 >= 0 ? '+' : '-', n - 1 >= 0 ? n - 1 : 1 - n);
    }
    return o;
}

/* Text into the CRC, with '.' removed and leading zeros stripped when `digits`. */
static inline void crc_emit(CrcText *c, const char *p, Py_ssize_t len, int digits) {
    if (!digits) {
        crc_put(c, p, len);
        return;
    }
    Py_ssize_t i = 0;
    while (i < len && (p[i] == '0' || p[i] == '.')) i++; /* leading zeros, and any '.' */
    for (; i < len; i++) {
        if (c->n == (Py_ssize_t)sizeof c->buf) crc_flush(c);
        if (p[i] != '.') c->buf[c->n++] = p[i];
    }
}

/* A number that is not plain ASCII text written as sent: str() of a JSON number, or the
 * value rewritten (JavaScript notation, toFixed(8)). */
static int crc_number_slow(CrcText *c, PyObject *obj, unsigned long code) {
    Py_ssize_t len;
    PyObject *owned = NULL;
    char small[128], *heap = NULL;
    const char *p;
    unsigned text = LAYOUT_TEXT(code);
    if (text == 2) { /* toFixed(8) of the value */
        PyObject *f = PyNumber_Float(obj);
        if (f == NULL) return -1;
        heap = PyOS_double_to_string(PyFloat_AS_DOUBLE(f), 'f', 8, 0, NULL);
        Py_DECREF(f);
        if (heap == NULL) return -1;
        p = heap;
        len = (Py_ssize_t)strlen(heap);
    } else {
        p = text_of(obj, &len, &owned);
        if (p == NULL) return -1;
        if (text == 1) {
            char *out = small;
            if (len + 32 > (Py_ssize_t)sizeof small) {
                out = heap = PyMem_Malloc((size_t)len + 32);
                if (out == NULL) {
                    Py_XDECREF(owned);
                    PyErr_NoMemory();
                    return -1;
                }
            }
            len = js_number(p, len, out);
            p = out;
        }
    }
    crc_emit(c, p, len, (int)LAYOUT_DIGITS(code));
    Py_XDECREF(owned);
    PyMem_Free(heap);
    return 0;
}

/* One number of a level, written as the layout says. */
static inline int crc_number(CrcText *c, PyObject *obj, unsigned long code, int negate,
                             int *first) {
    if (LAYOUT_COLON(code) && !*first) crc_put(c, ":", 1);
    *first = 0;
    if (negate) crc_put(c, "-", 1);
    if (LAYOUT_TEXT(code) == 0 && Py_TYPE(obj) == &PyUnicode_Type &&
        PyUnicode_IS_COMPACT_ASCII(obj)) { /* the usual case: the venue's text as sent */
        crc_emit(c, (const char *)PyUnicode_DATA(obj), PyUnicode_GET_LENGTH(obj),
                 (int)LAYOUT_DIGITS(code));
        return 0;
    }
    return crc_number_slow(c, obj, code);
}

/* One side's levels best first: level i is at[i * step] (label) and at[i * step + 1] (size). */
typedef struct {
    PyObject *const *at;
    Py_ssize_t step, n;
} Levels;

/* Writes levels [from, to) of one side, best first, into the CRC text. */
typedef int (*SideText)(CrcText *c, const void *side, Py_ssize_t from, Py_ssize_t to,
                        unsigned long code, int ask, int *first);

static int crc_side(CrcText *c, const void *side, Py_ssize_t from, Py_ssize_t to,
                    unsigned long code, int ask, int *first) {
    const Levels *s = side;
    for (Py_ssize_t i = from; i < to && i < s->n; i++) {
        PyObject *const *lv = s->at + i * s->step;
        if (crc_number(c, lv[0], code, 0, first) < 0 ||
            crc_number(c, lv[1], code, ask && LAYOUT_NEGATE(code), first) < 0)
            return -1;
    }
    return 0;
}

/* The checksum of two sides in the layout's order, each written by `put`. */
static PyObject *crc_layout(unsigned long code, SideText put, const void *b, const void *a,
                            Py_ssize_t nb, Py_ssize_t na) {
    CrcText c = {.crc = 0xFFFFFFFFu, .n = 0};
    int first = 1;
    Py_ssize_t depth = LAYOUT_LEVELS(code);
    unsigned order = LAYOUT_ORDER(code);
    if (order == 0) {
        for (Py_ssize_t i = 0; i < depth && (i < nb || i < na); i++)
            if (put(&c, b, i, i + 1, code, 0, &first) < 0 ||
                put(&c, a, i, i + 1, code, 1, &first) < 0)
                return NULL;
    } else {
        int asks_first = order == 1;
        if (put(&c, asks_first ? a : b, 0, depth, code, asks_first, &first) < 0 ||
            put(&c, asks_first ? b : a, 0, depth, code, !asks_first, &first) < 0)
            return NULL;
    }
    crc_flush(&c);
    uint32_t crc = c.crc ^ 0xFFFFFFFFu;
    if (LAYOUT_SIGNED(code) && crc >= 0x80000000u)
        return PyLong_FromLongLong((long long)crc - 0x100000000LL);
    return PyLong_FromUnsignedLong(crc);
}

static PyObject *crc_levels(unsigned long code, const Levels *b, const Levels *a) {
    return crc_layout(code, crc_side, b, a, b->n, a->n);
}

static Levels book_levels(const Side *s) {
    Levels l = {s->text, -2, s->n};
    if (s->n > 0) l.at = s->text + 2 * (s->n - 1);
    return l;
}

/* A layout written from the numbers' values (JavaScript notation, toFixed(8)) over a book
 * that keeps no text: each number from its double, as JavaScript (the venue's own printer)
 * holds it. */
static int crc_value(CrcText *c, double value, unsigned long code, int negate, int *first) {
    if (LAYOUT_COLON(code) && !*first) crc_put(c, ":", 1);
    *first = 0;
    if (negate) crc_put(c, "-", 1);
    int fixed = LAYOUT_TEXT(code) == 2;
    char *text = PyOS_double_to_string(value, fixed ? 'f' : 'r', fixed ? 8 : 0, 0, NULL);
    if (text == NULL) return -1;
    Py_ssize_t len = (Py_ssize_t)strlen(text);
    char out[160];
    if (!fixed && len + 32 <= (Py_ssize_t)sizeof out) {
        len = js_number(text, len, out);
        crc_emit(c, out, len, (int)LAYOUT_DIGITS(code));
    } else {
        crc_emit(c, text, len, (int)LAYOUT_DIGITS(code));
    }
    PyMem_Free(text);
    return 0;
}

static int crc_values(CrcText *c, const void *side, Py_ssize_t from, Py_ssize_t to,
                      unsigned long code, int ask, int *first) {
    const Side *s = side;
    double sign = ask ? -1.0 : 1.0;
    for (Py_ssize_t i = from; i < to && i < s->n; i++) {
        Py_ssize_t k = s->n - 1 - i;
        if (crc_value(c, sign * s->keys[k], code, 0, first) < 0 ||
            crc_value(c, s->sizes[k], code, ask && LAYOUT_NEGATE(code), first) < 0)
            return -1;
    }
    return 0;
}

static PyObject *Book_crc32(BookObject *self, PyObject *arg) {
    unsigned long code;
    if (layout_of(arg, &code) < 0) return NULL;
    if (LAYOUT_ORDER_ID(code)) {
        PyErr_SetString(PyExc_ValueError, "the book keeps price levels, not orders");
        return NULL;
    }
    if (!self->keep_text && LAYOUT_TEXT(code) != 0)
        return crc_layout(code, crc_values, &self->bids, &self->asks, self->bids.n, self->asks.n);
    if (need_text(self) < 0) return NULL;
    Levels b = book_levels(&self->bids), a = book_levels(&self->asks);
    return crc_levels(code, &b, &a);
}

/* crc32(code, bids, asks) over lists of levels best first (for raw books of orders). */
static PyObject *module_crc32(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    unsigned long code;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "crc32(code, bids, asks)");
        return NULL;
    }
    if (layout_of(args[0], &code) < 0) return NULL;
    Py_ssize_t size_at = LAYOUT_ORDER_ID(code) ? 2 : 1, depth = LAYOUT_LEVELS(code);
    PyObject *seq[2] = {NULL, NULL}, **items[2] = {NULL, NULL}, *result = NULL;
    Levels sides[2];
    for (int k = 0; k < 2; k++) {
        seq[k] = PySequence_Fast(args[1 + k], "crc32: bids and asks must be sequences");
        if (seq[k] == NULL) goto done;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq[k]);
        if (n > depth) n = depth;
        items[k] = PyMem_Malloc(sizeof(PyObject *) * (size_t)(2 * n + 2));
        if (items[k] == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *lv = PySequence_Fast_GET_ITEM(seq[k], i);
            if (!(PyList_Check(lv) || PyTuple_Check(lv)) || PySequence_Fast_GET_SIZE(lv) <= size_at) {
                PyErr_Format(BadLevel, "crc32: a level must be a list or tuple of %zd numbers",
                             size_at + 1);
                goto done;
            }
            items[k][2 * i] = PySequence_Fast_GET_ITEM(lv, 0);
            items[k][2 * i + 1] = PySequence_Fast_GET_ITEM(lv, size_at);
        }
        sides[k] = (Levels){items[k], 2, n};
    }
    result = crc_levels(code, &sides[0], &sides[1]);
done:
    for (int k = 0; k < 2; k++) {
        PyMem_Free(items[k]);
        Py_XDECREF(seq[k]);
    }
    return result;
}

/* ---- attributes ---------------------------------------------------------------------- */

static PyObject *Book_get_top_n(BookObject *self, void *c) { return PyLong_FromSsize_t(self->top_n); }
static PyObject *Book_get_keep_text(BookObject *self, void *c) {
    return PyBool_FromLong(self->keep_text);
}
static PyObject *Book_get_bid_count(BookObject *self, void *c) {
    return PyLong_FromSsize_t(self->bids.n);
}
static PyObject *Book_get_ask_count(BookObject *self, void *c) {
    return PyLong_FromSsize_t(self->asks.n);
}
static PyObject *Book_get_max_depth(BookObject *self, void *c) {
    if (self->max_depth == 0) Py_RETURN_NONE;
    return PyLong_FromSsize_t(self->max_depth);
}
static int Book_set_max_depth(BookObject *self, PyObject *value, void *c) {
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "max_depth cannot be deleted");
        return -1;
    }
    Py_ssize_t depth;
    if (parse_depth(value, &depth) < 0) return -1;
    self->max_depth = depth;
    return 0;
}

static PyGetSetDef Book_getset[] = {
    {"top_n", (getter)Book_get_top_n, NULL, "The depth the caller publishes.", NULL},
    {"keep_text", (getter)Book_get_keep_text, NULL, "Whether the venue's text is kept.", NULL},
    {"max_depth", (getter)Book_get_max_depth, (setter)Book_set_max_depth,
     "Levels kept per side after every apply (None: all).", NULL},
    {"bid_count", (getter)Book_get_bid_count, NULL, "Number of bid levels.", NULL},
    {"ask_count", (getter)Book_get_ask_count, NULL, "Number of ask levels.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Book_methods[] = {
    {"clear", (PyCFunction)Book_clear, METH_NOARGS, "Remove every level."},
    {"apply", (PyCFunction)(void (*)(void))Book_apply, METH_FASTCALL,
     "apply(bids, asks) -> changed_top"},
    {"apply_snapshot", (PyCFunction)(void (*)(void))Book_apply_snapshot, METH_FASTCALL,
     "apply_snapshot(bids, asks): replace the book"},
    {"top", (PyCFunction)(void (*)(void))Book_top, METH_FASTCALL,
     "top(n=None) -> (bid_px, bid_sz, ask_px, ask_sz), best first"},
    {"write_top", (PyCFunction)(void (*)(void))Book_write_top, METH_FASTCALL,
     "write_top(buffer, offset, n, missing_ask): the top n as four float64 rows"},
    {"top_text", (PyCFunction)Book_top_text, METH_O, "top_text(n) -> (bids, asks) as sent"},
    {"side", (PyCFunction)Book_side, METH_O, "side(bids) -> every level, best first"},
    {"copy", (PyCFunction)Book_copy, METH_NOARGS, "copy() -> a Book of the same levels, no text"},
    {"agrees", (PyCFunction)Book_agrees, METH_O,
     "agrees(before) -> whether before held this book's levels from its best price down"},
    {"best_bid", (PyCFunction)Book_best_bid, METH_NOARGS, "Highest bid, None if none."},
    {"best_ask", (PyCFunction)Book_best_ask, METH_NOARGS, "Lowest ask, None if none."},
    {"crossed", (PyCFunction)Book_crossed, METH_NOARGS, "best bid >= best ask"},
    {"crc32", (PyCFunction)Book_crc32, METH_O,
     "crc32(code): the checksum of the kept text as the layout code says (feeds.checksum)"},
    {"apply_lane", (PyCFunction)Book_apply_lane, METH_O,
     "apply_lane(lane) -> changed_top, or None when a level's action contradicts the book"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject BookType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "feeds._book.Book",
    .tp_doc = PyDoc_STR("L2 book of one symbol; see feeds.book."),
    .tp_basicsize = sizeof(BookObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Book_init,
    .tp_dealloc = (destructor)Book_dealloc,
    .tp_methods = Book_methods,
    .tp_getset = Book_getset,
};

static PyMethodDef module_methods[] = {
    {"crc32", (PyCFunction)(void (*)(void))module_crc32, METH_FASTCALL,
     "crc32(code, bids, asks): the checksum of levels given best first (feeds.checksum)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef book_module = {
    PyModuleDef_HEAD_INIT,
    .m_methods = module_methods,
    .m_name = "feeds._book",
    .m_doc = "The compiled L2 order book (see feeds.book).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__book(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        CRC_TABLE[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            CRC_TABLE[k][i] = (CRC_TABLE[k - 1][i] >> 8) ^ CRC_TABLE[0][CRC_TABLE[k - 1][i] & 0xFF];
    if (PyType_Ready(&BookType) < 0) return NULL;
    PyObject *m = PyModule_Create(&book_module);
    if (m == NULL) return NULL;
    BadLevel = PyErr_NewExceptionWithDoc(
        "feeds._book.BadLevel",
        "A level the book refuses: not [price, size, ...], a price that is not a finite number "
        "> 0, or a size that is not a finite number >= 0. The book may hold part of the "
        "message that carried it: the caller must resync the symbol.",
        PyExc_ValueError, NULL);
    if (BadLevel == NULL || PyModule_AddObjectRef(m, "BadLevel", BadLevel) < 0 ||
        PyModule_AddObjectRef(m, "Book", (PyObject *)&BookType) < 0 || lane_add_to_module(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
