/*
 * report.h - what `heapscan PID` prints: a text report for people and one
 * JSON object for programs (documented in the README).
 */
#ifndef HEAPSCAN_REPORT_H
#define HEAPSCAN_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "reach.h"
#include "scan.h"
#include "types.h"
#include "unwind.h"

struct report_opts {
	int top; /* rows in each "top" table of the text report */
};

void report_text(FILE *f, const struct scan *s, const struct type_table *t,
		 const struct report_opts *o);
void report_json(FILE *f, const struct scan *s, const struct type_table *t);
/* `--vtables`: "COUNT<TAB>CLASS" per class, most instances first, nothing else. */
void report_vtables(FILE *f, const struct type_table *t);

/* `--leaks`: unreachable chunks by type, leaked directly and indirectly. */
void report_leaks(FILE *f, const struct scan *s, const struct type_table *t, const struct reach *r,
		  bool json, int top);
/* `--why ADDR`: the shortest chain from a root to the chunk holding addr
 * (needs chains).  EXIT_OK, or EXIT_FAIL after a one-line cause. */
int report_why(FILE *f, const struct scan *s, const struct type_table *t, const struct reach *r,
	       const struct unwind_set *u, uint64_t addr);
/* `--referrers ADDR`: every root word and chunk that points into the chunk. */
int report_referrers(FILE *f, const struct scan *s, const struct type_table *t,
		     const struct reach *r, const struct unwind_set *u, uint64_t addr);
/* What a root is: "register rbx of thread 42 (app)", "global g_x+0x8 (...)",
 * "stack of thread 42 (app) at 0x7ff..., sp+0x28, frame #1 worker+0x1c (...)"
 * (the frame when u, the threads' backtraces, is not NULL). */
void report_root_name(const struct scan *s, const struct unwind_set *u,
		      const struct reach_root *root, char *buf, size_t len);

#endif
