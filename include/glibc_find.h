/*
 * glibc_find.h - finding malloc's state from the memory image alone.
 *
 * libc.h finds main_arena, mp_ and the TLS offset of `tcache` in libc's
 * code, which needs libc's file.  A core from another machine comes without
 * it, and a stripped or unusual libc may not match the code patterns.  This
 * finder needs only the target's writable memory: it recognises the three
 * by what they must contain.
 *
 *   main_arena  (every 8-aligned address of libc's writable data, every
 *               layout of the table):
 *     - each of the 127 bins is self-referencing (fd == bk == its header,
 *       the bin's address - 16) or its fd/bk are free chunks of sizes the
 *       bin takes, whose bk/fd point back at the header;
 *     - fastbinsY[i] is 0 or a 16-aligned chunk of size (i + 2) * 16;
 *     - top is the unsorted bin's header (nothing allocated yet, system_mem
 *       0) or a chunk whose size runs exactly to the end of its mapping;
 *     - max_system_mem >= system_mem, and top's end - system_mem is the
 *       start of the heap's mapping (sbrk_base) when the heap is contiguous;
 *     - next closes a ring (at most 1024 arenas) through thread arenas
 *       whose heap_info (just before the arena, page-aligned) has ar_ptr
 *       pointing back at them.
 *   mp_         (near it, same data): sbrk_base is the main heap's start,
 *     n_mmaps <= max_n_mmaps, mmapped_mem <= max_mmapped_mem, and
 *     n_mmaps/mmapped_mem equal the mmapped chunks found in anonymous
 *     memory; default thresholds (128 KiB, or dynamic: trim = 2 * mmap),
 *     n_mmaps_max 65536, tcache_bins 64, tcache_max_bytes 1032,
 *     tcache_count 7 count for it (tunables may change those).
 *   tcache      a word at one negative offset from fs_base, the same for
 *     every thread: 0, or the user memory of an in-arena chunk of the tcache
 *     struct's size (lay->tc_size, or 16 more), a different one per thread.
 *
 * Each candidate that passes is scored (more evidence, more points).  Two
 * candidates that disagree (two main_arenas, or two layouts that read the
 * memory differently and fit it equally) are a refusal with the reason,
 * never a guess.  When a version string was read the layout for it is the
 * only one tried; otherwise every layout of the table (glibc_layout_at) is,
 * and the versions of the best one are reported as inferred.
 */
#ifndef HEAPSCAN_GLIBC_FIND_H
#define HEAPSCAN_GLIBC_FIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glibc.h"
#include "image.h"
#include "maps.h"

#define GLIBC_FIND_MAX_RANGES 8

/* What the finder needs: nothing but memory.  A live scan and a core reader
 * fill it the same way (glibc_find_ranges from their mappings). */
struct glibc_find_input {
	const struct image *img;      /* the target's writable memory */
	const struct map_range *data; /* libc's writable data: its rw mappings and
					 the anonymous mapping right after them (.bss) */
	size_t ndata;
	const uint64_t *fs_base;      /* each thread's fs_base; 0 when unknown */
	size_t nthreads;
	int minor;                    /* 2.minor from a version string, 0 to infer */
};

struct glibc_found {
	const struct glibc_layout *lay;
	int minor_min, minor_max; /* the versions whose layout fits */
	bool inferred;            /* no version string: the layout was inferred */
	uint64_t main_arena;
	uint64_t mp;              /* &mp_, 0 when no candidate stood out */
	bool have_tpoff;
	int64_t tcache_tpoff;     /* fs_base + tcache_tpoff = &tcache of a thread */
	long score;
	char note[256];           /* why mp_ or the tcache offset is missing, or "" */
};

/* 0 with *out filled, or -1 with the reason in why. */
int glibc_find(const struct glibc_find_input *in, struct glibc_found *out, char *why, size_t len);

/* mp_ alone, beside a main_arena found another way.  libc's code gives
 * main_arena, and mp_ by its initial bytes in .data, but 2.12-2.14 keep
 * mp_ in .bss, zero until malloc's first call sets it up: there it is
 * recognised in memory, as above, against the heap that main_arena
 * describes.  &mp_, or 0 with why in note (no place fits, or several fit
 * equally). */
uint64_t glibc_find_mp(const struct glibc_find_input *in, const struct glibc_layout *lay,
		       uint64_t main_arena, char *note, size_t len);

/* libc's writable data in m: the writable mappings of the file mapped by
 * `libc` (its offset-0 entry; up to another copy of the file), and an
 * anonymous mapping that starts where the last of them ends.  Also [*lo, *hi): everything libc maps, where its
 * version string may be.  Returns the number of ranges written (<= max). */
size_t glibc_find_ranges(const struct maps *m, const struct map_entry *libc,
			 struct map_range *out, size_t max, uint64_t *lo, uint64_t *hi);

struct libc_info;

/* The whole memory way for a source: libc's data ranges from m (libc is its
 * offset-0 entry), the version string from ro (may be NULL) or img when
 * minor is 0 (> 0: known; < 0: infer the layout, read no string), the search, and *out filled
 * (found_by FOUND_MEMORY, version "2.NN" or the range that fits).  A note
 * about what is missing (mp_, the tcache offset) goes to stderr.  0, or -1
 * with the cause in why. */
int glibc_find_libc(const struct image *img, const struct image *ro, const struct maps *m,
		    const struct map_entry *libc, const uint64_t *fs_base, size_t nthreads,
		    int minor, struct libc_info *out, char *why, size_t len);

/* For a source whose libc's code gave main_arena but not mp_ (out->mp 0):
 * glibc_find for that version in libc's data (ranges from m, libc its
 * offset-0 entry); where it finds the same main_arena, its layout row
 * (2.12-2.14 have two: built with PER_THREAD or without, which the code does
 * not tell) and mp_ replace out's; otherwise glibc_find_mp with out's row.
 * Says on stderr when mp_ stays unknown. */
void glibc_find_mp_libc(const struct image *img, const struct maps *m, const struct map_entry *libc,
			struct libc_info *out);

/* "…release version 2.NN…" in any region of img inside [lo, hi). */
bool glibc_find_version(const struct image *img, uint64_t lo, uint64_t hi, int *minor);

#endif
