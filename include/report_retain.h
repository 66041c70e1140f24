/*
 * report_retain.h - who holds the memory: --retained, --folded, --pprof.
 *
 * A retainer is a node right under the dominator tree's super-root: a root
 * (a global, a stack frame, a register, an anonymous mapping) and what only
 * it leads to, or a chunk two or more roots share ("shared").  Each chunk's
 * retention path is the types along the dominator tree from its retainer
 * down to it, a run of one type (a list's nodes) shown once.
 */
#ifndef HEAPSCAN_REPORT_RETAIN_H
#define HEAPSCAN_REPORT_RETAIN_H

#include <stdbool.h>
#include <stdio.h>

#include "retain.h"
#include "scan.h"
#include "types.h"
#include "unwind.h"

struct retain_report_opts {
	bool json;
	int top;            /* retainers and types listed */
	bool folded;        /* folded stacks on f instead of the report */
	const char *pprof;  /* write a gzipped profile.proto here ("-": stdout) */
};

/* EXIT_OK, or EXIT_FAIL after a one-line cause (the profile not written). */
int report_retained(FILE *f, const struct scan *s, const struct type_table *t,
		    const struct unwind_set *u, const struct retain *rt,
		    const struct retain_report_opts *o);

/* The retainers (at most max, most bytes first) and retained bytes per type. */
void retain_summarize(const struct scan *s, const struct type_table *t, const struct unwind_set *u,
		      const struct retain *rt, size_t max, struct retain_summary *sum);
/* --retained's text or JSON from a summary (live, or read from a snapshot:
 * s gives the pid and command line, t the type names). */
void report_retained_summary(FILE *f, const struct scan *s, const struct type_table *t,
			     const struct retain_summary *sum, bool json, int top);

#endif
