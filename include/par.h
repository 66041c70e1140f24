/*
 * par.h - a loop over many chunks cut in two, the upper half on a thread.
 *
 * The machines heapscan is tuned on have two cores, and most passes over the
 * chunk table are short loops that split at any index: each half writes its
 * own results (counts in an array of its own, entries of its own range), and
 * the caller merges them after both are done, lower half first, so the
 * outcome is the same as one loop's.
 */
#ifndef HEAPSCAN_PAR_H
#define HEAPSCAN_PAR_H

#include <stddef.h>

/* One half of the work: items [begin, end); half is 0 (lower) or 1. */
typedef void par_fn(void *arg, size_t begin, size_t end, unsigned half);

/* Loops below this many items run in the calling thread. */
#define PAR_MIN 65536

/* fn(arg, 0, mid, 0) in the calling thread and fn(arg, mid, n, 1) on a
 * second thread, mid = n / 2; both in the calling thread, one after the
 * other, when n < PAR_MIN, on one CPU, or when no thread can be made.
 * Returns when both are done. */
void par_halves(size_t n, par_fn *fn, void *arg);

/* The same with the split given (mid <= n). */
void par_halves_at(size_t n, size_t mid, par_fn *fn, void *arg);

/* The number of CPUs online (asked once). */
int par_cpus(void);

/* For the tests (HEAPSCAN_TEST_SPLIT, unit tests): cut loops of this many
 * items and more in two threads, on any number of CPUs; 0: as usual. */
extern size_t par_min_for_tests;

#endif
