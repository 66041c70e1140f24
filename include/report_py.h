/*
 * report_py.h - Python objects in the text report, the JSON and `--types`.
 */
#ifndef HEAPSCAN_REPORT_PY_H
#define HEAPSCAN_REPORT_PY_H

#include <stdbool.h>
#include <stdio.h>

#include "types.h"

/* The text report's python section (nothing when t->py is NULL). */
void report_py_text(FILE *f, const struct type_table *t, int top);
/* Python entries of the JSON "classes" array; first: no entry precedes them. */
void report_py_json_classes(FILE *f, const struct type_table *t, bool first);
/* ,"python": {...} after the JSON's other top-level keys (nothing without Python). */
void report_py_json_summary(FILE *f, const struct type_table *t);
/* `--types`: "COUNT<TAB>BYTES<TAB>TYPE" for C++ classes, then Python types. */
void report_types_all(FILE *f, const struct type_table *t);

#endif
