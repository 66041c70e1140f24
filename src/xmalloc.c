/*
 * xmalloc.c - allocation wrappers that die on failure (see xmalloc.h).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "xmalloc.h"

static void
oom(size_t n)
{
	error_msg_and_die(EXIT_FAIL, "out of memory allocating %zu bytes", n);
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom(size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom(nmemb * size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		error_msg_and_die(EXIT_FAIL, "allocation size overflow (%zu x %zu)", nmemb, size);
	p = realloc(ptr, (nmemb && size) ? nmemb * size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		oom(strlen(s));
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom(0);
	va_end(ap);
	return p;
}

void *
xgrow(void *ptr, size_t *cap, size_t need, size_t elsize)
{
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return ptr;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			error_msg_and_die(EXIT_FAIL, "allocation size overflow");
		n *= 2;
	}
	ptr = xreallocarray(ptr, n, elsize);
	*cap = n;
	return ptr;
}

/* ---- big tables, counted (see xmalloc.h) -------------------------------- */

static _Atomic size_t charged;
static void (*_Atomic charge_fn)(void *);
static void *_Atomic charge_arg;

void
mem_charge(size_t bytes)
{
	void (*fn)(void *) = atomic_load(&charge_fn);

	atomic_fetch_add(&charged, bytes);
	if (fn)
		fn(atomic_load(&charge_arg));
}

void
mem_uncharge(size_t bytes)
{
	atomic_fetch_sub(&charged, bytes);
}

size_t
mem_charged(void)
{
	return atomic_load(&charged);
}

void
mem_on_charge(void (*fn)(void *arg), void *arg)
{
	atomic_store(&charge_fn, NULL);
	atomic_store(&charge_arg, arg);
	atomic_store(&charge_fn, fn);
}
