/*
 * xmalloc.h - allocation that cannot fail.
 *
 * Out of memory is not an error heapscan can recover from in the middle of
 * an analysis, so these die (after detaching) instead of returning NULL, and
 * call sites need no checks.  Sizes are overflow-checked.
 */
#ifndef HEAPSCAN_XMALLOC_H
#define HEAPSCAN_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *ptr (holding *cap elements of size elsize) to hold at least need. */
void *xgrow(void *ptr, size_t *cap, size_t need, size_t elsize);

/*
 * The analyses' big tables, counted.  A bounded scan (--max-memory SIZE)
 * holds windows of the target's bytes (pager.h) and tables built over its
 * chunks; SIZE bounds the two together, except the chunk list itself (16
 * bytes a chunk, which every scan needs).  So whoever makes a table that
 * grows with the heap (bigmem_alloc does it for its blocks) charges its
 * bytes here before it touches them, and the pager, told at once, drops
 * windows to make room; the charge is returned when the table is freed.
 * Thread-safe; one listener at a time (the image's pager).
 */
void mem_charge(size_t bytes);
void mem_uncharge(size_t bytes);
size_t mem_charged(void);
/* fn(arg) after every charge, on the charging thread; NULL to stop. */
void mem_on_charge(void (*fn)(void *arg), void *arg);

#endif
