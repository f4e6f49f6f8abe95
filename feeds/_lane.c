/* feeds._book.Lane: a venue's most common frame read straight into the book (see feeds/lane.py).
 *
 * A Lane is compiled from a venue's declared frame shape: the paths (object members, array
 * elements) of the values one book delta needs (a symbol, sequence ids, a time, level
 * arrays, a connection counter) and of the strings that must hold fixed values or be absent.
 * `scan(frame)` walks the frame's JSON once, in C, without building Python objects for what it
 * does not need, and either returns (symbol, first, last, prev, ts, counter) with the levels
 * parsed into the lane, or None: "not this shape, or not sure". None is always safe: the caller then parses the frame the ordinary way
 * (the codec), which decides what the frame is and reports what is wrong with it. So the scan
 * declines anything it would have to interpret: invalid JSON, escapes in strings, a wanted
 * member twice, a number it cannot convert exactly as float() would, a level the book would
 * refuse, an unknown symbol, nesting deeper than MAX_DEPTH, non-ASCII bytes in a bytes frame.
 * `Book.apply_lane(lane)` then applies the parsed levels as `Book.apply` would apply the
 * codec's levels (tests prove the two ways give the same books, events and answers).
 */
#include "_book.h"

#include <limits.h>
#include <stdint.h>
#include <stddef.h>
#include <structmember.h>
#include <math.h>
#include <string.h>

#define MAX_NODES 32
#define MAX_DEPTH 64

enum { K_NODE, K_MATCH, K_SYMBOL, K_FIRST, K_LAST, K_PREV, K_TS, K_COUNTER, K_BIDS, K_ASKS, K_LEVELS,
       K_LEVEL, K_ABSENT };
enum { F_PAIR, F_OBJECT, F_TAGGED, F_ACTION, F_COUNTED };
enum { TS_MS, TS_US, TS_NS, TS_TEXT };
enum { A_NONE, A_NEW, A_CHANGE, A_DELETE };
enum { ZERO_TEXT = 1, ZERO_NUMBER = 2 }; /* a price that is no level, left out (skip_zero) */
static const double POW10[17] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7, 1e8,
                                 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16};
#define ARG_TEXT 1     /* an id or time may also be a string of digits */
#define ARG_OPTIONAL 2 /* the value may be absent */
#define ARG_CONTAINS 4 /* K_MATCH: the string contains the text */
#define ARG_LINKED 8   /* K_FIRST: the delta follows id first - 1 (its prev) */

typedef struct Node {
    char *key; /* object member name ("*" with wild); NULL: an array element */
    Py_ssize_t key_len, index;
    int kind, arg;
    unsigned bit;
    char *text; /* K_MATCH: the value; K_SYMBOL: the prefix */
    Py_ssize_t text_len;
    int kids[MAX_NODES];
    int nkids;
    int wild;            /* a member of any name, the symbol (its object has no other) */
    Py_ssize_t elements; /* an array: exactly this many elements */
} Node;

typedef struct {
    double price, size;
    signed char ask, action;
} LaneLevel;

typedef struct {
    PyObject_HEAD
    Node nodes[MAX_NODES];
    int nnodes;
    unsigned required;
    int form, skip_zero, ts_mode;
    int whole; /* the frame is a whole book (a snapshot), not a delta */
    char *tags[2], *keys[3]; /* bid and ask tags; F_OBJECT: price, size (and side) keys */
    Py_ssize_t tag_len[2], key_len[3];
    int nkeys;
    PyObject *symbols; /* venue id -> canonical symbol */
    /* the last scan */
    LaneLevel *levels;
    Py_ssize_t nlevels, cap;
    unsigned seen;
    int ready, depth, ascii_only;
    Py_ssize_t count; /* elements of the container just read */
    const char *end, *sym, *ts_text;
    Py_ssize_t sym_len, ts_len;
    long long ids[5]; /* first, last, prev, ts, counter */
    int has[5];
    long long sym_id; /* a symbol that is a JSON integer (sym == NULL) */
} LaneObject;

static PyTypeObject LaneType;

/* ---- JSON, declining (NULL) on anything not plainly valid ---------------------------- */

static inline const char *ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Bytes a string's scan stops at: 1 the closing quote, 2 a backslash or a control
 * character, 3 a byte of a multi-byte character (declined in a bytes frame). */
static unsigned char STOP[256];

/* A string at p (p[0] == '"') without escapes: its contents in *s, *n; the end. */
static const char *str_(LaneObject *L, const char *p, const char **s, Py_ssize_t *n) {
    const char *e = L->end, *start = ++p;
    for (;;) {
        while (p < e && !STOP[(unsigned char)*p]) p++;
        if (p >= e) return NULL;
        unsigned char stop = STOP[(unsigned char)*p];
        if (stop == 1) {
            *s = start;
            *n = p - start;
            return p + 1;
        }
        if (stop == 2 || L->ascii_only) return NULL;
        p++;
    }
}

/* A JSON number token at p: its end; *is_int when it has no fraction and no exponent. One
 * that may not fit a double (over 300 digits, or an exponent of 3 digits) is declined:
 * Python's reader refuses a number that overflows. */
static const char *num_(const char *p, const char *e, int *is_int) {
    const char *q = p < e && *p == '-' ? p + 1 : p, *d;
    if (q >= e) return NULL;
    if (*q == '0')
        q++;
    else if (*q >= '1' && *q <= '9')
        while (q < e && is_digit(*q)) q++;
    else
        return NULL;
    *is_int = 1;
    if (q < e && *q == '.') {
        d = ++q;
        while (q < e && is_digit(*q)) q++;
        if (q == d) return NULL;
        *is_int = 0;
    }
    if (q - p > 300) return NULL;
    if (q < e && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < e && (*q == '+' || *q == '-')) q++;
        d = q;
        while (q < e && is_digit(*q)) q++;
        if (q == d || q - d > 2) return NULL;
        *is_int = 0;
    }
    return q;
}

static const char *skip_(LaneObject *L, const char *p);

/* The members of an object or the elements of an array, each given to `each`. */
typedef const char *(*Each)(LaneObject *L, const char *p, const void *ctx, const char *key,
                            Py_ssize_t key_len, Py_ssize_t index);

static const char *container_(LaneObject *L, const char *p, Each each, const void *ctx) {
    const char *e = L->end;
    char close = *p == '{' ? '}' : ']';
    if (++L->depth > MAX_DEPTH) return NULL;
    p = ws(p + 1, e);
    if (p < e && *p == close) {
        L->depth--;
        L->count = 0;
        return p + 1;
    }
    for (Py_ssize_t i = 0;; i++) {
        const char *key = NULL;
        Py_ssize_t key_len = 0;
        if (close == '}') {
            if (p >= e || *p != '"' || (p = str_(L, p, &key, &key_len)) == NULL) return NULL;
            p = ws(p, e);
            if (p >= e || *p != ':') return NULL;
            p++;
        }
        p = ws(p, e);
        if (p >= e || (p = each(L, p, ctx, key, key_len, i)) == NULL) return NULL;
        p = ws(p, e);
        if (p >= e) return NULL;
        if (*p == close) {
            L->depth--;
            L->count = i + 1;
            return p + 1;
        }
        if (*p != ',') return NULL;
        p = ws(p + 1, e);
    }
}

static const char *skip_each(LaneObject *L, const char *p, const void *ctx, const char *key,
                             Py_ssize_t key_len, Py_ssize_t index) {
    (void)ctx, (void)key, (void)key_len, (void)index;
    return skip_(L, p);
}

/* Any JSON value at p (no leading space): its end. */
static const char *skip_(LaneObject *L, const char *p) {
    const char *e = L->end, *s;
    Py_ssize_t n;
    int is_int;
    switch (*p) {
    case '"': return str_(L, p, &s, &n);
    case '{':
    case '[': return container_(L, p, skip_each, NULL);
    case 't': return e - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f': return e - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n': return e - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default: return num_(p, e, &is_int);
    }
}

/* ---- values --------------------------------------------------------------------------- */

/* The value float() gives the decimal text, when it is a plain number (else -1). */
static int text_double(const char *s, Py_ssize_t n, double *out) {
    if (book_fast_decimal(s, n, out)) return 0;
    if (n == 0 || n > 63) return -1;
    Py_ssize_t i = s[0] == '-' || s[0] == '+';
    int mantissa = 0;
    for (; i < n && (is_digit(s[i]) || s[i] == '.'); i++) mantissa += is_digit(s[i]);
    if (!mantissa) return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        if (i == n) return -1;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i != n || memchr(s, '.', (size_t)n) != memrchr(s, '.', (size_t)n)) return -1;
    char buf[64];
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    double d = PyOS_string_to_double(buf, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *out = d;
    return 0;
}

/* A level's number at p, a decimal string or a JSON number; *zero: ZERO_TEXT for the
 * string "0", ZERO_NUMBER for a JSON number equal to 0, else 0. */
static const char *number_(LaneObject *L, const char *p, double *out, int *zero) {
    const char *s;
    Py_ssize_t n;
    int text = *p == '"';
    if (text) {
        /* the usual level number: plain digits with one '.', converted as it is scanned
         * (the same value as book_fast_decimal, m / 10^k with both exact) */
        const char *q = p + 1, *e = L->end;
        uint64_t m = 0;
        int frac = -1;
        for (; q < e && q - p <= 20; q++) {
            char c = *q;
            if (c >= '0' && c <= '9') {
                m = m * 10 + (uint64_t)(c - '0');
                if (frac >= 0) frac++;
            } else if (c == '.' && frac < 0) {
                frac = 0;
            } else {
                break;
            }
        }
        if (q < e && *q == '"' && q - p > 1 && q - p <= 17 && !(frac == 0 && q - p == 2) &&
            m <= (UINT64_C(1) << 53)) {
            *out = (double)m / POW10[frac < 0 ? 0 : frac];
            *zero = q - p == 2 && p[1] == '0' ? ZERO_TEXT : 0;
            return q + 1;
        }
        if ((p = str_(L, p, &s, &n)) == NULL) return NULL;
    } else {
        int is_int;
        s = p;
        if ((p = num_(p, L->end, &is_int)) == NULL) return NULL;
        n = p - s;
        if (is_int && n > 18) return NULL; /* an int past 64 bits: let Python say */
    }
    if (text_double(s, n, out) < 0 || !isfinite(*out)) return NULL;
    *zero = text ? (n == 1 && s[0] == '0' ? ZERO_TEXT : 0) : (*out == 0.0 ? ZERO_NUMBER : 0);
    return p;
}

/* A non-negative integer id at p: a JSON integer, or (ARG_TEXT) a string of up to 18 digits. */
static const char *id_(LaneObject *L, const char *p, int arg, long long *out) {
    const char *s;
    Py_ssize_t n;
    if (*p == '"') {
        if (!(arg & ARG_TEXT) || (p = str_(L, p, &s, &n)) == NULL) return NULL;
    } else {
        int is_int;
        s = p;
        if ((p = num_(p, L->end, &is_int)) == NULL || !is_int) return NULL;
        n = p - s;
    }
    if (n == 0 || n > 18) return NULL;
    long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return NULL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return p;
}

static int push(LaneObject *L, double price, double size, int ask, int action) {
    if (L->nlevels == L->cap) {
        Py_ssize_t cap = L->cap ? 2 * L->cap : 64;
        LaneLevel *grown = PyMem_Realloc(L->levels, (size_t)cap * sizeof(LaneLevel));
        if (grown == NULL) return -1;
        L->levels = grown;
        L->cap = cap;
    }
    L->levels[L->nlevels++] = (LaneLevel){price, size, (signed char)ask, (signed char)action};
    return 0;
}

static int word(const char *s, Py_ssize_t n, const char *w) {
    return (size_t)n == strlen(w) && memcmp(s, w, (size_t)n) == 0;
}

/* A side's word at p (the lane's tags): its end, *ask set. */
static const char *tag_(LaneObject *L, const char *p, int *ask) {
    const char *s;
    Py_ssize_t n;
    if (*p != '"' || (p = str_(L, p, &s, &n)) == NULL) return NULL;
    if (n == L->tag_len[0] && memcmp(s, L->tags[0], (size_t)n) == 0) *ask = 0;
    else if (n == L->tag_len[1] && memcmp(s, L->tags[1], (size_t)n) == 0) *ask = 1;
    else return NULL;
    return p;
}

/* One level at p in the lane's form; `ask`: the side of its array (F_TAGGED: its tag). */
static const char *level_each(LaneObject *L, const char *p, const void *ctx, const char *key,
                              Py_ssize_t key_len, Py_ssize_t index) {
    (void)key, (void)key_len, (void)index;
    const char *e = L->end, *s;
    Py_ssize_t n;
    int ask = *(const int *)ctx, action = A_NONE, zero = 0, zero_size;
    double price = 0, size = 0;
    if (L->form == F_OBJECT) {
        if (*p != '{' || ++L->depth > MAX_DEPTH) return NULL;
        int got = 0;
        p = ws(p + 1, e);
        while (p < e && *p != '}') {
            if (*p != '"' || (p = str_(L, p, &s, &n)) == NULL) return NULL;
            p = ws(p, e);
            if (p >= e || *p != ':') return NULL;
            p = ws(p + 1, e);
            if (p >= e) return NULL;
            int which = 0;
            for (int k = 0; k < L->nkeys && !which; k++)
                if (n == L->key_len[k] && memcmp(s, L->keys[k], (size_t)n) == 0) which = 1 << k;
            if (which & got) return NULL; /* twice */
            got |= which;
            p = which == 1   ? number_(L, p, &price, &zero)
                : which == 2 ? number_(L, p, &size, &zero_size)
                : which == 4 ? tag_(L, p, &ask)
                             : skip_(L, p);
            if (p == NULL) return NULL;
            p = ws(p, e);
            if (p < e && *p == ',') {
                p = ws(p + 1, e);
                if (p < e && *p == '}') return NULL; /* a trailing comma */
            } else {
                break;
            }
        }
        if (p >= e || *p != '}' || got != (1 << L->nkeys) - 1) return NULL;
        L->depth--;
        p++;
    } else {
        if (*p != '[' || ++L->depth > MAX_DEPTH) return NULL;
        p = ws(p + 1, e);
        if (L->form == F_TAGGED || L->form == F_ACTION) {
            if (L->form == F_TAGGED) {
                if (p >= e || (p = tag_(L, p, &ask)) == NULL) return NULL;
            } else {
                if (p >= e || *p != '"' || (p = str_(L, p, &s, &n)) == NULL) return NULL;
                action = word(s, n, "new")      ? A_NEW
                         : word(s, n, "change") ? A_CHANGE
                         : word(s, n, "delete") ? A_DELETE
                                                : A_NONE;
                if (action == A_NONE) return NULL;
            }
            p = ws(p, e);
            if (p >= e || *p != ',') return NULL;
            p = ws(p + 1, e);
        }
        if (p >= e || (p = number_(L, p, &price, &zero)) == NULL) return NULL;
        p = ws(p, e);
        if (p >= e || *p != ',') return NULL;
        p = ws(p + 1, e);
        if (L->form == F_COUNTED) { /* [price, count, amount] */
            long long orders;
            if (p >= e || (p = id_(L, p, 0, &orders)) == NULL) return NULL;
            p = ws(p, e);
            if (p >= e || *p != ',') return NULL;
            p = ws(p + 1, e);
            double amount;
            if (p >= e || (p = number_(L, p, &amount, &zero_size)) == NULL) return NULL;
            if (orders == 0 && (amount == 1.0 || amount == -1.0)) /* a delete, on that side */
                ask = amount < 0, size = 0.0;
            else if (orders > 0 && amount != 0.0)
                ask = amount < 0, size = fabs(amount);
            else
                return NULL;
        } else if (p >= e || (p = number_(L, p, &size, &zero_size)) == NULL) {
            return NULL;
        }
        for (p = ws(p, e); p < e && *p == ',' && L->form < F_ACTION; p = ws(p, e)) {
            /* more items, any value (action and counted levels have exactly three) */
            p = ws(p + 1, e);
            if (p >= e || (p = skip_(L, p)) == NULL) return NULL;
        }
        if (p >= e || *p != ']') return NULL;
        L->depth--;
        p++;
    }
    if (zero && zero == L->skip_zero) return p; /* not a level: the venue says so */
    if (!(price > 0.0) || !(size >= 0.0)) return NULL;
    return push(L, price, size, ask, action) < 0 ? NULL : p;
}

static const char *value_(LaneObject *L, const char *p, const Node *node);

static const char *node_each(LaneObject *L, const char *p, const void *ctx, const char *key,
                             Py_ssize_t key_len, Py_ssize_t index) {
    const Node *parent = ctx;
    for (int k = 0; k < parent->nkids; k++) {
        const Node *kid = &L->nodes[parent->kids[k]];
        if (kid->wild) {
            if (key == NULL) break;
            L->sym = key;
            L->sym_len = key_len;
            return value_(L, p, kid);
        }
        if (key != NULL ? kid->key != NULL && kid->key_len == key_len &&
                              memcmp(kid->key, key, (size_t)key_len) == 0
                        : kid->key == NULL && kid->index == index)
            return value_(L, p, kid);
    }
    return skip_(L, p);
}

static const char *value_(LaneObject *L, const char *p, const Node *node) {
    const char *s;
    Py_ssize_t n;
    if (L->seen & node->bit) return NULL; /* a member twice: which one counts is Python's call */
    L->seen |= node->bit;
    switch (node->kind) {
    case K_NODE:
        if (node->elements) {
            if (*p != '[' || (p = container_(L, p, node_each, node)) == NULL) return NULL;
            return L->count == node->elements ? p : NULL;
        }
        return *p == '{' ? container_(L, p, node_each, node) : NULL;
    case K_MATCH:
        if (*p != '"' || (p = str_(L, p, &s, &n)) == NULL) return NULL;
        if (node->arg & ARG_CONTAINS) /* the text anywhere in the string */
            return memmem(s, (size_t)n, node->text, (size_t)node->text_len) ? p : NULL;
        return n == node->text_len && memcmp(s, node->text, (size_t)n) == 0 ? p : NULL;
    case K_SYMBOL:
        if (*p != '"') { /* a channel number */
            L->sym = NULL;
            return id_(L, p, 0, &L->sym_id);
        }
        if ((p = str_(L, p, &s, &n)) == NULL) return NULL;
        if (n < node->text_len || memcmp(s, node->text, (size_t)node->text_len) != 0) return NULL;
        L->sym = s + node->text_len;
        L->sym_len = n - node->text_len;
        return p;
    case K_TS:
        if (L->ts_mode == TS_TEXT) {
            if (*p != '"' || (p = str_(L, p, &L->ts_text, &L->ts_len)) == NULL) return NULL;
            L->has[3] = 1;
            return p;
        }
        /* fallthrough */
    case K_FIRST:
    case K_LAST:
    case K_PREV:
    case K_COUNTER: {
        int slot = node->kind - K_FIRST;
        L->has[slot] = 1;
        if ((p = id_(L, p, node->arg, &L->ids[slot])) == NULL) return NULL;
        if (node->arg & ARG_LINKED) {
            if (L->ids[0] < 1) return NULL;
            L->has[2] = 1;
            L->ids[2] = L->ids[0] - 1;
        }
        return p;
    }
    case K_ABSENT: return NULL; /* a member the frame must not have */
    case K_LEVEL: { /* one level */
        int ask = 0;
        return level_each(L, p, &ask, NULL, 0, 0);
    }
    default: { /* levels */
        int ask = node->kind == K_ASKS;
        if (*p != '[') return NULL;
        return container_(L, p, level_each, &ask);
    }
    }
}

/* ---- the Lane type ------------------------------------------------------------------- */

static char *copy_text(PyObject *o, Py_ssize_t *len) {
    const char *s = PyUnicode_AsUTF8AndSize(o, len);
    if (s == NULL) return NULL;
    char *out = PyMem_Malloc((size_t)*len + 1);
    if (out == NULL) return PyErr_NoMemory(), NULL;
    memcpy(out, s, (size_t)*len + 1);
    return out;
}

static int new_node(LaneObject *L, int parent) {
    if (L->nnodes == MAX_NODES) {
        PyErr_SetString(PyExc_ValueError, "too many paths for a lane");
        return -1;
    }
    int i = L->nnodes++;
    memset(&L->nodes[i], 0, sizeof(Node));
    L->nodes[i].bit = 1u << i;
    L->nodes[i].index = -1;
    if (parent >= 0) L->nodes[parent].kids[L->nodes[parent].nkids++] = i;
    return i;
}

/* The node at `step` below `parent`, made if new. */
static int child(LaneObject *L, int parent, PyObject *step) {
    Node *p = &L->nodes[parent];
    int is_key = PyUnicode_Check(step);
    if (!is_key && !PyLong_CheckExact(step)) {
        PyErr_SetString(PyExc_TypeError, "a path step is a str (member) or an int (element)");
        return -1;
    }
    Py_ssize_t len = 0, index = -1;
    const char *key = NULL;
    if (is_key) {
        if ((key = PyUnicode_AsUTF8AndSize(step, &len)) == NULL) return -1;
    } else if ((index = PyLong_AsSsize_t(step)) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "an element index is >= 0");
        return -1;
    }
    for (int k = 0; k < p->nkids; k++) {
        Node *kid = &L->nodes[p->kids[k]];
        if (is_key ? kid->key && kid->key_len == len && memcmp(kid->key, key, (size_t)len) == 0
                   : kid->key == NULL && kid->index == index)
            return p->kids[k];
        if ((kid->key == NULL) == is_key) {
            PyErr_SetString(PyExc_ValueError, "a lane node is an object or an array, not both");
            return -1;
        }
    }
    int i = new_node(L, parent);
    if (i < 0) return -1;
    p = &L->nodes[parent];
    if (is_key && len == 1 && key[0] == '*') {
        if (p->nkids > 1) {
            PyErr_SetString(PyExc_ValueError, "a member of any name is its object's only path");
            return -1;
        }
        L->nodes[i].wild = 1;
    }
    if (is_key) {
        for (int k = 0; k < p->nkids - 1; k++)
            if (L->nodes[p->kids[k]].wild) {
                PyErr_SetString(PyExc_ValueError, "a member of any name is its object's only path");
                return -1;
            }
        if ((L->nodes[i].key = copy_text(step, &L->nodes[i].key_len)) == NULL) return -1;
    } else if (index + 1 > p->elements) {
        p->elements = index + 1; /* the array has exactly the elements its paths name */
    }
    L->nodes[i].index = index;
    return i;
}

static int Lane_init(LaneObject *L, PyObject *args, PyObject *kwds) {
    static char *names[] = {"paths", "form",      "symbols", "tags",
                            "keys",  "skip_zero", "whole",   NULL};
    PyObject *paths, *symbols, *tags = NULL, *keys = NULL;
    int form, skip = 0;
    if (L->nnodes) {
        PyErr_SetString(PyExc_TypeError, "a lane is made once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!iO!|O!O!ip", names, &PyTuple_Type, &paths,
                                     &form, &PyDict_Type, &symbols, &PyTuple_Type, &tags,
                                     &PyTuple_Type, &keys, &skip, &L->whole))
        return -1;
    if (form < F_PAIR || form > F_COUNTED) {
        PyErr_SetString(PyExc_ValueError, "unknown level form");
        return -1;
    }
    L->form = form;
    L->skip_zero = skip;
    Py_INCREF(symbols);
    L->symbols = symbols;
    PyObject *pairs[2] = {tags, keys};
    char **into[2] = {L->tags, L->keys};
    Py_ssize_t *lens[2] = {L->tag_len, L->key_len};
    for (int w = 0; w < 2; w++) {
        if (pairs[w] == NULL) continue;
        Py_ssize_t count = PyTuple_GET_SIZE(pairs[w]);
        if (count != 2 && !(w == 1 && count == 3)) {
            PyErr_SetString(PyExc_ValueError, "tags are two str, keys two or three");
            return -1;
        }
        if (w == 1) L->nkeys = (int)count;
        for (int k = 0; k < count; k++) {
            PyObject *t = PyTuple_GET_ITEM(pairs[w], k);
            if (!PyUnicode_Check(t) || (into[w][k] = copy_text(t, &lens[w][k])) == NULL) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "expected str");
                return -1;
            }
        }
    }
    if ((form == F_TAGGED && tags == NULL) || (form == F_OBJECT && keys == NULL)) {
        PyErr_SetString(PyExc_ValueError, "this form needs its tags or keys");
        return -1;
    }
    if (new_node(L, -1) < 0) return -1; /* the root */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(paths); i++) {
        PyObject *path, *value;
        int kind, arg;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(paths, i), "O!iiO", &PyTuple_Type, &path, &kind,
                              &arg, &value))
            return -1;
        if (kind <= K_NODE || kind > K_ABSENT || PyTuple_GET_SIZE(path) == 0) {
            PyErr_SetString(PyExc_ValueError, "bad lane path");
            return -1;
        }
        int at = 0;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(path); k++) {
            if (L->nodes[at].kind != K_NODE) {
                PyErr_SetString(PyExc_ValueError, "a lane path goes through a value");
                return -1;
            }
            if ((at = child(L, at, PyTuple_GET_ITEM(path, k))) < 0) return -1;
        }
        Node *leaf = &L->nodes[at];
        if (leaf->wild && kind == K_SYMBOL) { /* the symbol is the member's name */
            L->required |= leaf->bit;
            continue;
        }
        if (leaf->wild || leaf->kind != K_NODE || leaf->nkids) {
            PyErr_SetString(PyExc_ValueError, "two lane paths end at one place");
            return -1;
        }
        leaf->kind = kind;
        leaf->arg = arg;
        if (kind == K_MATCH || kind == K_SYMBOL) {
            if (!PyUnicode_Check(value)) {
                PyErr_SetString(PyExc_TypeError, "a match or a symbol prefix is a str");
                return -1;
            }
            if ((leaf->text = copy_text(value, &leaf->text_len)) == NULL) return -1;
        }
        if (kind == K_TS) L->ts_mode = arg >> 2;
        if (!(arg & ARG_OPTIONAL) && kind != K_ABSENT) L->required |= leaf->bit;
    }
    return 0;
}

static void Lane_dealloc(LaneObject *L) {
    for (int i = 0; i < L->nnodes; i++) {
        PyMem_Free(L->nodes[i].key);
        PyMem_Free(L->nodes[i].text);
    }
    for (int k = 0; k < 3; k++) {
        if (k < 2) PyMem_Free(L->tags[k]);
        PyMem_Free(L->keys[k]);
    }
    PyMem_Free(L->levels);
    Py_XDECREF(L->symbols);
    Py_TYPE(L)->tp_free((PyObject *)L);
}

static PyObject *id_or_none(LaneObject *L, int slot) {
    if (!L->has[slot]) Py_RETURN_NONE;
    return PyLong_FromLongLong(L->ids[slot]);
}

static PyObject *Lane_scan(LaneObject *L, PyObject *frame) {
    const char *p;
    Py_ssize_t n;
    L->ready = 0;
    if (PyUnicode_CheckExact(frame)) {
        if ((p = PyUnicode_AsUTF8AndSize(frame, &n)) == NULL) { /* lone surrogates */
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        L->ascii_only = 0;
    } else if (PyBytes_CheckExact(frame)) {
        p = PyBytes_AS_STRING(frame);
        n = PyBytes_GET_SIZE(frame);
        L->ascii_only = 1;
    } else {
        Py_RETURN_NONE;
    }
    L->end = p + n;
    L->seen = 0;
    L->nlevels = L->depth = 0;
    L->sym = L->ts_text = NULL;
    L->sym_id = -1;
    memset(L->has, 0, sizeof(L->has));
    p = ws(p, L->end);
    if (p >= L->end || (p = value_(L, p, &L->nodes[0])) == NULL) Py_RETURN_NONE;
    if (ws(p, L->end) != L->end || (L->seen & L->required) != L->required) Py_RETURN_NONE;
    if (L->has[0] && L->has[1] && L->ids[0] > L->ids[1]) Py_RETURN_NONE; /* a range backwards */
    PyObject *vid = L->sym != NULL ? PyUnicode_FromStringAndSize(L->sym, L->sym_len)
                                   : PyLong_FromLongLong(L->sym_id);
    if (vid == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *symbol = PyDict_GetItemWithError(L->symbols, vid);
    Py_DECREF(vid);
    if (symbol == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *ts;
    if (!L->has[3]) {
        ts = Py_NewRef(Py_None);
    } else if (L->ts_mode == TS_TEXT) {
        ts = PyUnicode_FromStringAndSize(L->ts_text, L->ts_len);
    } else {
        long long scale = L->ts_mode == TS_MS ? 1000000 : L->ts_mode == TS_US ? 1000 : 1;
        if (L->ids[3] > LLONG_MAX / scale) Py_RETURN_NONE;
        ts = PyLong_FromLongLong(L->ids[3] * scale);
    }
    if (ts == NULL) return NULL;
    PyObject *out = PyTuple_New(6);
    PyObject *a = id_or_none(L, 0), *b = id_or_none(L, 1), *c = id_or_none(L, 2);
    PyObject *d = id_or_none(L, 4);
    if (out == NULL || a == NULL || b == NULL || c == NULL || d == NULL) {
        Py_XDECREF(out), Py_XDECREF(a), Py_XDECREF(b), Py_XDECREF(c), Py_XDECREF(d);
        Py_DECREF(ts);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, Py_NewRef(symbol));
    PyTuple_SET_ITEM(out, 1, a);
    PyTuple_SET_ITEM(out, 2, b);
    PyTuple_SET_ITEM(out, 3, c);
    PyTuple_SET_ITEM(out, 4, ts);
    PyTuple_SET_ITEM(out, 5, d);
    L->ready = 1;
    return out;
}

static PyObject *Lane_levels(LaneObject *L, PyObject *Py_UNUSED(ignored)) {
    PyObject *out = PyList_New(L->nlevels);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < L->nlevels; i++) {
        const LaneLevel *lv = &L->levels[i];
        static const char *actions[] = {"", "new", "change", "delete"};
        PyObject *t = Py_BuildValue("(ddis)", lv->price, lv->size, (int)lv->ask,
                                    actions[(int)lv->action]);
        if (t == NULL) return Py_DECREF(out), NULL;
        PyList_SET_ITEM(out, i, t);
    }
    return out;
}

/* ---- applying a scan ----------------------------------------------------------------- */

static inline double edge_of(const Side *s, Py_ssize_t top_n) {
    return s->n >= top_n ? s->keys[s->n - top_n] : -INFINITY;
}

/* True/False: whether the top changed (as Book.apply); None: a level's action contradicted
 * the book (F_ACTION, as feeds.levelrules.apply_level_actions: the book holds part of it).
 * A whole book (the lane's `whole`) replaces the book, actions unchecked (as
 * Book.apply_snapshot). */
PyObject *Book_apply_lane(BookObject *self, PyObject *arg) {
    if (!PyObject_TypeCheck(arg, &LaneType)) {
        PyErr_SetString(PyExc_TypeError, "apply_lane takes a Lane");
        return NULL;
    }
    LaneObject *L = (LaneObject *)arg;
    int check = !L->whole;
    if (!L->ready || self->keep_text) {
        PyErr_SetString(PyExc_ValueError,
                        self->keep_text ? "a lane carries no venue text"
                                        : "the lane holds no scanned frame");
        return NULL;
    }
    L->ready = 0;
    int touched = 0;
    if (L->whole) {
        book_side_clear(&self->bids);
        book_side_clear(&self->asks);
    }
    for (int ask = 0; ask < 2; ask++) {
        Side *s = ask ? &self->asks : &self->bids;
        double sign = ask ? -1.0 : 1.0, edge = edge_of(s, self->top_n);
        for (Py_ssize_t i = 0; i < L->nlevels; i++) {
            const LaneLevel *lv = &L->levels[i];
            if (lv->ask != ask) continue;
            Py_ssize_t before = s->n;
            if (check && lv->action != A_NONE) edge = edge_of(s, self->top_n); /* level by level */
            double key = sign * lv->price;
            int put = book_side_put(s, key, lv->size, NULL, NULL, 0);
            if (put < 0) return NULL;
            if (put && key >= edge) {
                touched = 1;
                edge = INFINITY;
            }
            if (check && lv->action != A_NONE) {
                Py_ssize_t want = lv->action == A_NEW ? 1 : lv->action == A_DELETE ? -1 : 0;
                if (s->n - before != want) Py_RETURN_NONE;
            }
        }
    }
    if (book_truncate_both(self) && self->max_depth < self->top_n) touched = 1;
    return PyBool_FromLong(touched);
}

static PyMethodDef Lane_methods[] = {
    {"scan", (PyCFunction)Lane_scan, METH_O,
     "scan(frame) -> (symbol, first, last, prev, ts, counter) with the levels held, or None"},
    {"levels", (PyCFunction)Lane_levels, METH_NOARGS,
     "levels() -> [(price, size, ask, action)] of the last scan (for tests)"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Lane_members[] = {
    {"whole", T_INT, offsetof(LaneObject, whole), READONLY, "whether the frame is a whole book"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "feeds._book.Lane",
    .tp_doc = PyDoc_STR("A venue's common frame read straight into the book; see feeds.lane."),
    .tp_basicsize = sizeof(LaneObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Lane_init,
    .tp_dealloc = (destructor)Lane_dealloc,
    .tp_methods = Lane_methods,
    .tp_members = Lane_members,
};

int lane_add_to_module(PyObject *module) {
    for (int c = 0; c < 0x20; c++) STOP[c] = 2;
    STOP['\\'] = 2;
    STOP['"'] = 1;
    for (int c = 0x80; c < 0x100; c++) STOP[c] = 3;
    if (PyType_Ready(&LaneType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Lane", (PyObject *)&LaneType);
}
