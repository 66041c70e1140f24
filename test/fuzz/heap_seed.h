/*
 * heap_seed.h - the input format of fuzz_heap (the glibc walker, the type
 * finder and the clustering on a memory image), shared with dump_image, which
 * writes seeds of it from a live process.
 *
 * Little-endian, no magic and no checksum, so that every mutation reaches the
 * walker:
 *
 *   header       0  u64  &main_arena
 *                8  u64  &mp_ (0: unknown)
 *               16  u8   glibc minor version (2.NN); one with no layout -> 36
 *               17  u8   thread count T (at most HEAP_SEED_MAX_THREADS)
 *               18  u16  0
 *               20  u32  0
 *               24  u64  tcache pointer of each of the T threads
 *   regions      until the input ends, each:
 *                0  u64  start address
 *                8  u32  length (at most HEAP_SEED_MAX_REGION)
 *               12  u32  stored: bytes that follow (at most length; the rest
 *                        of the region is zero)
 *               16  u8   MAP_PERM_* bits; a region without MAP_PERM_W goes to
 *                        the read-only image (vtables, typeinfo, names);
 *                        HEAP_SEED_MAP_ONLY: a mapping not copied, listed in
 *                        the address map only (another module's data)
 *               17  u8   name: HEAP_SEED_ANON, _HEAP, _STACK, _LIBC, _EXE
 *               18  u16  0
 *               20  stored bytes
 *
 * A region that overlaps an earlier one of its image, or has length 0, is
 * skipped.
 */
#ifndef HEAPSCAN_HEAP_SEED_H
#define HEAPSCAN_HEAP_SEED_H

#define HEAP_SEED_HDR 24
#define HEAP_SEED_REGION_HDR 20
#define HEAP_SEED_MAX_THREADS 8
#define HEAP_SEED_MAX_REGIONS 128
#define HEAP_SEED_MAP_ONLY 0x80
#define HEAP_SEED_MAX_REGION (1u << 20)    /* one region */
#define HEAP_SEED_MAX_IMAGE (8u << 20)     /* all regions, zero tails included */

enum heap_seed_name {
	HEAP_SEED_ANON,
	HEAP_SEED_HEAP,
	HEAP_SEED_STACK,
	HEAP_SEED_LIBC,
	HEAP_SEED_EXE,
	HEAP_SEED__N
};

/* Paths the names stand for: a module's path only has to be a path. */
static const char *const heap_seed_names[HEAP_SEED__N] = {
	"", "[heap]", "[stack]", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/fuzz/target",
};

#endif
