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

#endif
