/*
 * clock.h - milliseconds on the monotonic clock, for the phase timings every
 * source and analysis reports (prepare_ms, walk_ms, analyze_ms ...).
 */
#ifndef HEAPSCAN_CLOCK_H
#define HEAPSCAN_CLOCK_H

double now_ms(void);

#endif
