/*
 * libc.h - where glibc keeps malloc's state in this process.
 *
 * main_arena, mp_ and the thread-local `tcache` are static: not in
 * libc.so.6's .dynsym, and there is no .symtab.  heapscan finds them by
 * disassembling exported malloc functions with capstone (no debug files):
 *
 *   malloc_trim / mallinfo2 / malloc_stats:  lea reg, [rip + main_arena]
 *   malloc:  mov reg, [rip + GOT slot]      ; TP offset of `tcache`
 *            mov reg2, fs:[reg]              ; this thread's tcache
 *            ...
 *            cmp reg3, [rip + mp_.tcache_bins]
 *
 * The glibc version comes from the "release version 2.NN" string in libc.
 * Without libc's file, or when its code does not match, glibc_find.h finds
 * the same three in memory alone (--locate).
 */
#ifndef HEAPSCAN_LIBC_H
#define HEAPSCAN_LIBC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "allocator.h"
#include "glibc.h"

/* How malloc's state was found (reported as "found by"). */
enum libc_found_by {
	FOUND_NONE,   /* not at all (another malloc), or a snapshot that does not say */
	FOUND_CODE,   /* in libc's code, from its file (this module) */
	FOUND_MEMORY, /* in memory alone (glibc_find.h) */
};

struct libc_info {
	char version[16];      /* "2.36"; "2.35-2.41" when inferred from a range */
	int minor;
	const struct glibc_layout *lay;
	uint64_t bias;         /* load bias of libc in the target */
	uint64_t main_arena;   /* target address */
	uint64_t mp;           /* target address of mp_, 0 when not found */
	bool have_tpoff;
	int64_t tcache_tpoff;  /* fs_base + tcache_tpoff = &tcache of a thread */
	enum libc_found_by found_by;
	bool version_inferred; /* no version string was read: the layout told */
};

const char *libc_found_by_name(enum libc_found_by f); /* "libc code", "memory", NULL */

/* Before stopping the target.  EXIT_OK, or an exit code with a cause. */
int libc_locate(pid_t pid, const struct allocator_info *a, struct libc_info *out,
		char *why, size_t whylen);

/* The same from a libc file opened at path `file` (named `shown` in messages)
 * and mapped (file offset 0) at map_start, with the one run-time word (the
 * TLS offset of `tcache`, in a GOT slot) read through read_word: from a live
 * process, a core or any other image. */
int libc_locate_file(const char *file, const char *shown, uint64_t map_start,
		     bool (*read_word)(void *ctx, uint64_t addr, uint64_t *out), void *ctx,
		     struct libc_info *out, char *why, size_t whylen);

/* Pure helpers, exposed for unit tests: scan x86-64 code at address addr.
 * libc_find_tcache_refs: true when the TLS slot is found; *tcache_bins is
 * the cmp's target after it, or 0. */
bool libc_find_first_lea(const uint8_t *code, size_t len, uint64_t addr, uint64_t *target);
bool libc_find_tcache_refs(const uint8_t *code, size_t len, uint64_t addr, uint64_t *got_slot,
			   uint64_t *tcache_bins);
/* "…release version 2.36…" -> minor 36; false when absent or malformed. */
bool libc_parse_version(const char *s, size_t len, int *minor);

#endif
