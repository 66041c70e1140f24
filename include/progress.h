/*
 * progress.h - one line on stderr that says what heapscan is doing.
 *
 *   heapscan: walking 42%
 *
 * Shown only when stderr is a terminal, not --quiet, and the work has run
 * past a second (HEAPSCAN_TEST_PROGRESS_AFTER_MS=N, a test hook, moves that
 * mark); redrawn at most every 100 ms and erased before anything else is
 * printed.  Phases: preparing (faulting in the copy's buffer), copying,
 * walking, typing, marking.  Calls are cheap when it is off, and
 * progress_add may be called from several threads.
 */
#ifndef HEAPSCAN_PROGRESS_H
#define HEAPSCAN_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

void progress_init(bool wanted);        /* wanted: not --quiet */
void progress_phase(const char *name, uint64_t total); /* NULL: done */
void progress_add(uint64_t done);       /* units of the phase's total */
void progress_set(uint64_t done);
void progress_clear(void);              /* erase the line (before other output) */

#endif
