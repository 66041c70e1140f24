/*
 * error.c - diagnostics on stderr, and the single exit path for failures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "progress.h"

static void (*cleanup_fn)(void);

void
error_set_cleanup(void (*fn)(void))
{
	cleanup_fn = fn;
}

static void
verror(int err, const char *fmt, va_list ap)
{
	char buf[1024];

	progress_clear();
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (err)
		fprintf(stderr, "heapscan: %s: %s\n", buf, strerror(err));
	else
		fprintf(stderr, "heapscan: %s\n", buf);
}

void
error_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(0, fmt, ap);
	va_end(ap);
}

void
perror_msg(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	verror(err, fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn))
die(int code)
{
	void (*fn)(void) = cleanup_fn;

	cleanup_fn = NULL; /* a failure inside cleanup must not recurse */
	if (fn)
		fn();
	exit(code);
}

void
error_msg_and_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(0, fmt, ap);
	va_end(ap);
	die(code);
}

void
perror_msg_and_die(int code, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	verror(err, fmt, ap);
	va_end(ap);
	die(code);
}
