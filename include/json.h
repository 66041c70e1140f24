/*
 * json.h - making values safe and readable in output: JSON strings and
 * addresses, escaped names for text, byte counts for people.
 */
#ifndef HEAPSCAN_JSON_H
#define HEAPSCAN_JSON_H

#include <stdint.h>
#include <stdio.h>

/* A JSON string (quotes included): escapes ", \, control bytes; bytes that
 * are not valid UTF-8 become \u00XX so the output always parses. */
void json_str(FILE *f, const char *s);
/* "0x7f…" as a JSON string: addresses exceed 2^53 and lose precision as numbers. */
void json_addr(FILE *f, unsigned long long addr);

/* A number with prec decimals.  JSON has no NaN or Infinity: a value that is
 * not finite is written as null and the call returns -1 (0 otherwise), so
 * the output still parses and the caller can tell. */
int json_num(FILE *f, double v, int prec);
/* The same for text: "?" for a value that is not finite, never "nan"/"inf". */
void fput_num(FILE *f, double v, int prec);

/* For text output: printable ASCII as is, every other byte as \xNN, and the
 * backslash doubled (so the text "\x1b" cannot pass for an escaped ESC): a
 * name taken from the target or a file cannot add lines, tabs or terminal
 * escapes to what heapscan prints. */
void fput_printable(FILE *f, const char *s);

/* "512 B", "1.5 KiB", "2.0 GiB": a byte count for people (text reports). */
const char *human_bytes(uint64_t b, char *buf, size_t len);

#endif
