/* What feeds/_book.c (the book) and feeds/_lane.c (the frame lane) share: one extension
 * module, feeds._book, built from both files. */
#ifndef ARBSCAN_BOOK_H
#define ARBSCAN_BOOK_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    double *keys;     /* sign * price, ascending; best last */
    double *sizes;    /* > 0 */
    PyObject **text;  /* 2 per level (price, size) when keep_text, else NULL */
    Py_ssize_t n, cap;
} Side;

typedef struct {
    PyObject_HEAD
    Side bids, asks;
    Py_ssize_t top_n;
    Py_ssize_t max_depth; /* 0: none */
    int keep_text;
} BookObject;

extern PyTypeObject BookType;

int book_fast_decimal(const char *p, Py_ssize_t len, double *out);
int book_side_reserve(Side *s, Py_ssize_t need, int keep_text);
int book_side_put(Side *s, double key, double size, PyObject *po, PyObject *so, int keep_text);
int book_truncate_both(BookObject *self);
void book_side_clear(Side *s);

/* feeds/_lane.c */
int lane_add_to_module(PyObject *module);
PyObject *Book_apply_lane(BookObject *self, PyObject *lane);

#endif
