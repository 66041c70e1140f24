/*
 * par.h - a loop over many chunks cut in parts, one thread a part.
 *
 * How many threads: par_jobs(), the CPUs heapscan may use (its affinity
 * mask, and its cgroup's CPU quota, v2 cpu.max or v1 cfs_quota_us over
 * cfs_period_us, of its own cgroup and every parent), or --jobs N.
 *
 * Most passes over the chunk table are short loops that split at any index:
 * each part writes its own results (counts in an array of its own, entries
 * of its own range), and the caller merges them after all are done, in part
 * order, so the outcome is the same as one loop's whatever the number of
 * parts: results never depend on --jobs.
 */
#ifndef HEAPSCAN_PAR_H
#define HEAPSCAN_PAR_H

#include <stddef.h>

/* One part of the work: items [begin, end); part is 0 (the lowest) to
 * parts - 1. */
typedef void par_fn(void *arg, size_t begin, size_t end, unsigned part);

/* Loops below this many items run in the calling thread. */
#define PAR_MIN 65536

/* --jobs takes 1 to this. */
#define PAR_MAX_JOBS 1024

/* The number of threads an analysis may run: --jobs when given, else the
 * CPUs this process may use (asked once). */
int par_jobs(void);

/* --jobs N (1 <= n <= PAR_MAX_JOBS), before any par_ call; 0: back to
 * the CPUs' count (the unit tests). */
void par_set_jobs(int n);

/* The CPUs this process may use: its affinity mask, bounded by its
 * cgroup's CPU quota (rounded up); at least 1.  *why (may be NULL) says
 * what bounded it: "affinity", "cgroup /x cpu.max" and the like.  Reads
 * $HEAPSCAN_TEST_CGROUP/cgroup in place of /proc/self/cgroup and
 * $HEAPSCAN_TEST_CGROUP/fs in place of /sys/fs/cgroup when that is set
 * (the tests' fake cgroups). */
int par_usable_cpus(char *why, size_t whylen);

/* How many parts a loop of n items is cut into: 1 when n < PAR_MIN (or
 * par_min_for_tests), else par_jobs(), at most n. */
unsigned par_parts(size_t n);

/* Where part k of n items cut in parts begins (k == parts: n). */
size_t par_cut(size_t n, unsigned parts, unsigned k);

/* fn(arg, par_cut(k), par_cut(k + 1), k) for every k < parts: part 0 in
 * the calling thread, the others on threads of their own (in the calling
 * thread, one after the other, when no thread can be made).  Returns when
 * all are done. */
void par_run(size_t n, unsigned parts, par_fn *fn, void *arg);

/* The same with the cuts given: part k is [cut[k], cut[k + 1]). */
void par_run_cuts(const size_t *cut, unsigned parts, par_fn *fn, void *arg);

/* par_run(n, par_parts(n), fn, arg), for loops whose parts share nothing
 * (part is ignored). */
void par_for(size_t n, par_fn *fn, void *arg);

/* The same as par_jobs(): what the image's and the walker's two-way splits
 * ask (they split when it is 2 or more). */
int par_cpus(void);

/* For the tests (HEAPSCAN_TEST_SPLIT, unit tests): cut loops of this many
 * items and more in par_jobs() parts, on any number of CPUs; 0: as usual. */
extern size_t par_min_for_tests;

#endif
