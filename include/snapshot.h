/*
 * snapshot.h - a scan saved to a file, and read back.
 *
 * A snapshot holds what the report, --json, --vtables and --diff need: the
 * scan's summary, arenas, problems, the type and class tables, and every
 * chunk (address, size, kind, arena, type, content hash); with --contents,
 * the user bytes of every in-use chunk too.  Reading one back gives the same
 * struct scan (without the memory image) and struct type_table as the live
 * scan had, so every report works on it unchanged.
 *
 * File layout (all integers little-endian):
 *
 *   offset 0   magic "HEAPSCN\n"                                   8 bytes
 *          8   format version (SNAP_FORMAT_VERSION)                u32
 *         12   number of sections                                  u32
 *         16   sections, each:
 *                tag       4 ASCII bytes ("META", "ARNA", "PROB", "TYPE",
 *                          "CLSS", "CHNK"; optional "CONT", "RACH", "LOCA")
 *                flags     u32: bit 0 = payload is zstd-compressed
 *                stored    u64: payload bytes in the file
 *                raw       u64: payload bytes once decompressed (= stored when not)
 *                check     u64: XXH64 (seed 0) of the stored payload
 *                payload   stored bytes
 *   trailer    "HSEND\0\0\0" then u64 XXH64 (seed 0) of every byte before the trailer
 *
 * Payloads are sequences of unsigned LEB128 varints and length-prefixed
 * strings (varint length, bytes, no NUL).  CHNK, per chunk sorted by
 * address: varint (addr - previous chunk's end) / 16, varint size / 16,
 * varint kind | arena << 4, varint type + 1 (0 for free chunks), u32 low
 * half of the XXH3 of the user bytes (0 for free chunks) xor the chunk's
 * mask (format 2: the low half of splitmix64's finalizer of the chunk's
 * address; format 1 stored the hash bare); zstd-compressed.
 * RACH (reachability, when the scan marked): varint chunk count, varint
 * root bytes, varint scanned bytes, then one byte per chunk, its enum
 * reach_state (0 free, 1 reachable, 2 leaked, 3 leaked indirectly);
 * zstd-compressed.  LOCA (how malloc's state was found, for the report):
 * varints found_by, flags, main_arena, mp_, tcache offset.
 * RETN (who holds the memory, with --snapshot FILE --retained): varints
 * reachable bytes, reachable chunks, nodes, edges, retainers in all, then
 * the count kept (at most SNAP_RETAIN_MAX, most bytes first) and each:
 * name (string), kind (enum retain_kind), has_address, address, type + 1
 * (0: none), retained bytes, retained chunks, count of top types (at most
 * RETAIN_TOP_TYPES) and each: type + 1, bytes, chunks; then the count of
 * types and each: type + 1, retained bytes, chunks.  zstd-compressed.
 * PYTH (a CPython target): its pymalloc totals and live objects per type
 * (py_summary_encode, pyobj.h); zstd-compressed.
 * Readers ignore sections they do not know, so adding an
 * optional one does not change the format version.
 *
 * Everything read is checked: lengths against what remains, counts against
 * what the bytes could hold, the decompressed size against a bound, every
 * index against its table.  A bad file is one line on stderr and exit 1.
 *
 * What reading may cost (checksums catch accidents, not intent, so these
 * hold for files made to hurt):
 *   - A compressed section is never inflated whole: it is decompressed
 *     through a 1 MiB window as it is decoded, with a zstd window of at most
 *     8 MiB (heapscan writes 2 MiB at most); so a section costs ~9 MiB
 *     whatever it claims, and a bomb stops at its first bad record.
 *   - A section may not claim more than 32768 times its stored bytes (zstd's
 *     own limit: an RLE block is 4 bytes for 128 KiB) nor more than 8 GiB.
 *   - Sections the reader does not know, and CONT, are checksummed and never
 *     decompressed.
 *   - Tables grow with the records that decode, not with the counts the
 *     file claims; each count is bounded by the bytes left to decode before
 *     anything is allocated for it.
 *   - The chunk table costs 24 bytes a chunk, and a file may not claim more
 *     chunks than its CHNK section has stored bytes / SNAP_CHUNK_MIN_BYTES
 *     (3), checked before anything is allocated.  This bound is honest
 *     because of the mask (format 2): the masked hash field of each record
 *     looks random, so no record compresses below 4 bytes (measured on 10M
 *     identical records, the densest a heap gives: 4.32 bytes a record at
 *     zstd level 3, the writer's, 4.10 at level 1, 4.001 at level 19: the
 *     4 random bytes stay, the rest costs nothing; 3 leaves a margin.
 *     Unmasked, format 1, they took 1/1361 of a byte, so a 45 KB file could
 *     describe 67M chunks and cost ~1.6 GiB).  A chunk costs a reader about
 *     27 bytes with the reports, so a file costs at most ~9 times its CHNK
 *     bytes for its chunks.  The mask guards
 *     no secret and is not checked: a file that does not mask only decodes
 *     to other content hashes; the count check is the bound.
 *   - Format 1 (heapscan before the mask) is read with the same checks, but
 *     its records may be denser: it may claim up to SNAP_V1_CHUNKS chunks
 *     (1Mi, ~30 MiB) whatever its bytes, more only at 3 stored bytes a chunk,
 *     and its type table at most TYPES_FREE (65536) + one type per stored
 *     byte.  A denser format-1 file is refused with one line saying to take
 *     the snapshot again.  --diff compares formats 1 and 2 (same contents).
 *   - The type table may not be longer than the distinct types the chunks
 *     use (every type heapscan writes has a chunk), nor the class table
 *     longer than one class per 16 bytes of chunks in use, nor than 65536 +
 *     one class per stored byte of CLSS; PYTH's classes the same with its
 *     bytes.
 *   - PROB, TYPE, CLSS, RETN and PYTH (whose strings are kept) may claim at
 *     most SNAP_SMALL_RATIO (64) times their stored bytes plus
 *     SNAP_SMALL_FREE (1 MiB) uncompressed.
 *   - A section's window and zstd context are freed once it is decoded: at
 *     most two (TYPE and CLSS) are held at once, ~18 MiB.
 *   - So a file of B bytes costs at most about 100 B plus ~20 MiB (windows,
 *     zstd contexts, PYTH's buffer); every crafted file of
 *     test/fuzz/snaptool.py hostile, up to 250 KB, is refused or read in
 *     under 128 MiB.
 *   - Durations must be finite, >= 0 and under a year; strings are at most
 *     64 KiB; 16 sections, 4095 arenas, 1000 problems at most.
 */
#ifndef HEAPSCAN_SNAPSHOT_H
#define HEAPSCAN_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reach.h"
#include "retain.h"
#include "scan.h"
#include "types.h"

/* 2: chunk records' hash fields masked (see above); 1 is still read. */
#define SNAP_FORMAT_VERSION 2
#define SNAP_CHUNK_MIN_BYTES 3         /* stored bytes a format-2 chunk record takes, at least
					  (4 measured at best, less a margin) */
#define SNAP_V1_CHUNKS (1u << 20)      /* chunks a format-1 file may claim whatever its size */
#define SNAP_SMALL_RATIO 64u           /* the name tables' raw bytes per stored byte, at most */
#define SNAP_SMALL_FREE (1u << 20)     /* ... plus this many */
#define SNAP_MAGIC "HEAPSCN\n"

/* Extra facts a snapshot carries beside struct scan. */
struct snap_meta {
	uint32_t format_version;
	char heapscan_version[32];
	int64_t time;              /* seconds since the epoch when taken */
	uint32_t *chunk_hash;      /* per heap chunk: low 32 bits of XXH3 of its user bytes */
	bool has_contents;
	bool regions;              /* jemalloc regions (META flag 32): chunks may overlap
				      by their 16-byte pseudo-header, sizes are in 8s */
	bool has_reach;            /* a RACH section was read */
	uint8_t *reach_state;      /* per heap chunk: enum reach_state */
	uint64_t root_bytes, scanned_bytes;
	bool has_retain;           /* a RETN section was read */
	struct retain_summary retain;
};

#define SNAP_RETAIN_MAX 1000

struct snap_write_opts {
	bool contents; /* --contents: raw user bytes of in-use chunks, zstd-compressed */
	const struct reach *reach; /* store this reachability result; NULL for none */
	const struct retain_summary *retain; /* store these retainers; NULL for none */
};

/* Write atomically: a temporary file in the target directory (mode 0600),
 * renamed over path; refuses a path that is a symlink; "-" is stdout.  On
 * failure nothing is left behind.  0, or -1 after printing the cause. */
int snap_write(const char *path, const struct scan *s, const struct type_table *t,
	       const struct snap_write_opts *o);

/* Read a snapshot into *s (heap model, summary; no image) and *t.  0, or -1
 * with a one-line cause in err. */
int snap_read(const char *path, struct scan *s, struct type_table *t, struct snap_meta *m,
	      char *err, size_t errlen);
/* The same from a buffer (for the fuzzer and tests). */
int snap_read_mem(const void *buf, size_t len, struct scan *s, struct type_table *t,
		  struct snap_meta *m, char *err, size_t errlen);
void snap_meta_free(struct snap_meta *m);

/* Whether path names a snapshot file (starts with the magic). */
bool snap_is_file(const char *path);

#endif
