/*
 * test_json.c - the output escapers: no NaN or Infinity in JSON or text, no
 * byte of a name that could pass for an escape.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "unit.h"

/* What fn wrote, as a string (the caller frees it). */
static char *
written(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(f, arg);
	fclose(f);
	return buf;
}

static int json_ret;

static void
put_json(FILE *f, const void *v)
{
	json_ret = json_num(f, *(const double *)v, 3);
}

static void
put_text(FILE *f, const void *v)
{
	fput_num(f, *(const double *)v, 2);
}

static void
put_printable(FILE *f, const void *s)
{
	fput_printable(f, s);
}

UNIT_TEST(json_refuses_numbers_that_are_not_finite)
{
	const double bad[] = { NAN, -NAN, INFINITY, -INFINITY };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *j = written(put_json, &bad[i]), *t = written(put_text, &bad[i]);

		CHECK(strcmp(j, "null") == 0);
		CHECK(json_ret == -1);
		CHECK(strcmp(t, "?") == 0);
		free(j);
		free(t);
	}
	{
		double ok = 1.25;
		char *j = written(put_json, &ok), *t = written(put_text, &ok);

		CHECK(strcmp(j, "1.250") == 0);
		CHECK(json_ret == 0);
		CHECK(strcmp(t, "1.25") == 0);
		free(j);
		free(t);
	}
}

UNIT_TEST(text_escapes_the_backslash_so_no_text_reads_as_an_escape)
{
	char *a = written(put_printable, "a\\x1b"), *b = written(put_printable, "a\x1b");

	CHECK(strcmp(a, "a\\\\x1b") == 0);
	CHECK(strcmp(b, "a\\x1b") == 0);
	CHECK(strcmp(a, b) != 0);
	free(a);
	free(b);
}
