/*
 * memguard.h - will the copy and the analysis fit in memory?
 *
 * heapscan copies the target's writable memory and then builds tables over
 * its chunks: on a machine whose memory the target has eaten (exactly when
 * someone reaches for heapscan) that can bring in the OOM killer.  Before the
 * copy, the guard compares what the scan will need with what is available -
 * MemAvailable, and the memory cgroup's limit less its usage (v2 memory.max /
 * memory.current, v1 memory.limit_in_bytes / memory.usage_in_bytes, each
 * level up to the mount's root) - and, when a whole copy does not fit, reads
 * the target in windows (--max-memory, pager.h) or refuses.
 *
 * Test hook: HEAPSCAN_TEST_MEMAVAILABLE=BYTES stands in for MemAvailable.
 */
#ifndef HEAPSCAN_MEMGUARD_H
#define HEAPSCAN_MEMGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem_budget {
	uint64_t avail;     /* bytes heapscan may still use */
	char source[256];   /* where that figure comes from: "MemAvailable", a cgroup dir */
};

/* What is available: 0, or -1 when nothing could be read (no guard then). */
int memguard_budget(struct mem_budget *b);

/* Peak memory of a scan that copies COPY_BYTES: see memguard.c for the figures. */
uint64_t memguard_need(uint64_t copy_bytes);

/* Peak memory of a scan that reads COPY_BYTES in windows of at most BUDGET
 * (--max-memory): the budget (shared by the windows and the tables over the
 * chunks, or the tables when they pass it), the chunk list, 16 MiB for the
 * rest. */
uint64_t memguard_need_bounded(uint64_t copy_bytes, uint64_t budget);

/* For process PID: EXIT_OK, or EXIT_MEMORY after the one-line refusal.
 * *max_memory is --max-memory (0: a whole copy); when a whole copy does not
 * fit but windows do, it gets the budget chosen, with one line saying so.
 * NULL: windows cannot be had (pager_available), a whole copy or nothing. */
int memguard_check(int pid, uint64_t copy_bytes, uint64_t *max_memory);

/* "1.5 GiB" */
void memguard_fmt(char *buf, size_t len, uint64_t bytes);

#endif
