/*
 * json.h - writing JSON text to a stream, with correct string escaping.
 * The caller writes the structure; these only make the values safe.
 */
#ifndef HEAPSCAN_JSON_H
#define HEAPSCAN_JSON_H

#include <stdio.h>

/* A JSON string (quotes included): escapes ", \, control bytes; bytes that
 * are not valid UTF-8 become \u00XX so the output always parses. */
void json_str(FILE *f, const char *s);
/* "0x7f…" as a JSON string: addresses exceed 2^53 and lose precision as numbers. */
void json_addr(FILE *f, unsigned long long addr);

/* For text output: printable ASCII as is, every other byte as \xNN, so a
 * name taken from the target or a file cannot add lines, tabs or terminal
 * escapes to what heapscan prints. */
void fput_printable(FILE *f, const char *s);

#endif
