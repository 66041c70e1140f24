/*
 * report.h - what `heapscan PID` prints: a text report for people and one
 * JSON object for programs (documented in the README).
 */
#ifndef HEAPSCAN_REPORT_H
#define HEAPSCAN_REPORT_H

#include <stdio.h>

#include "scan.h"
#include "types.h"

struct report_opts {
	int top; /* rows in each "top" table of the text report */
};

void report_text(FILE *f, const struct scan *s, const struct type_table *t,
		 const struct report_opts *o);
void report_json(FILE *f, const struct scan *s, const struct type_table *t);
/* `--vtables`: "COUNT<TAB>CLASS" per class, most instances first, nothing else. */
void report_vtables(FILE *f, const struct type_table *t);

#endif
