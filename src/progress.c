/*
 * progress.c - the progress line (see progress.h).
 *
 * The line lives on a terminal, so it is drawn with a carriage return and
 * erased to the end of the line (ESC [ K) rather than with newlines; any
 * message or report that follows first erases it (progress_clear, called by
 * the error module and before the report).  Counting is an atomic add; only
 * the thread that wins a try-lock draws.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define REDRAW_MS 100

static bool enabled;
static double start_ms, after_ms = 1000, last_ms;
static const char *phase;
static uint64_t total;
static atomic_uint_fast64_t done_units;
static bool shown;   /* something is on the line */
static pthread_mutex_t draw_lock = PTHREAD_MUTEX_INITIALIZER;

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void
progress_init(bool wanted)
{
	const char *after = getenv("HEAPSCAN_TEST_PROGRESS_AFTER_MS");

	enabled = wanted && isatty(STDERR_FILENO);
	start_ms = mono_ms();
	if (after && *after >= '0' && *after <= '9')
		after_ms = strtod(after, NULL);
}

static void
draw(bool force)
{
	double now;
	char line[80];
	uint64_t d;
	int pct, n;

	if (!enabled || !phase)
		return;
	now = mono_ms();
	if (now - start_ms < after_ms || (!force && now - last_ms < REDRAW_MS))
		return;
	if (pthread_mutex_trylock(&draw_lock))
		return;
	last_ms = now;
	d = atomic_load(&done_units);
	pct = total ? (int)(d >= total ? 100 : d * 100 / total) : 0;
	n = snprintf(line, sizeof(line), "\rheapscan: %s %d%%\033[K", phase, pct);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) == n)
		shown = true;
	pthread_mutex_unlock(&draw_lock);
}

void
progress_phase(const char *name, uint64_t t)
{
	if (!enabled)
		return;
	if (!name) /* done: nothing more to draw */
		progress_clear();
	phase = name;
	total = t;
	atomic_store(&done_units, 0);
	draw(true);
}

void
progress_add(uint64_t d)
{
	if (!enabled)
		return;
	atomic_fetch_add(&done_units, d);
	draw(false);
}

void
progress_set(uint64_t d)
{
	if (!enabled)
		return;
	atomic_store(&done_units, d);
	draw(false);
}

void
progress_clear(void)
{
	static const char erase[] = "\r\033[K";

	/* no lock: error messages come from signal handlers too (write is
	 * async-signal-safe); the worst race is one erase too many */
	if (!shown)
		return;
	shown = false;
	if (write(STDERR_FILENO, erase, sizeof(erase) - 1) < 0)
		(void)0; /* nothing to do about a terminal that went away */
}
