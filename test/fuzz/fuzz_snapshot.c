/*
 * fuzz_snapshot.c - libFuzzer target for the snapshot reader (snap_read_mem)
 * and every report that runs on what it returns.
 *
 *   make fuzz [FUZZ_SECONDS=60]      build build/fuzz/fuzz_snapshot and run it
 *                                    on a copy of test/fuzz/corpus/; crashing
 *                                    inputs land in test/fuzz/crashes/
 *   build/fuzz/fuzz_snapshot FILE    replay one input
 *
 * A snapshot is sealed by XXH64 checksums (one per section, one over the
 * file), which a mutating fuzzer almost never gets right, so every input is
 * read twice:
 *
 *   1. as it is: the magic, version, trailer and checksum checks;
 *   2. resealed: a copy whose section checks and trailer sum are recomputed
 *      wherever the section headers can be followed, so that mutations reach
 *      the length, zstd and varint decoding behind the checksums - what a
 *      hostile file (whose author can compute XXH64 too) reaches.
 *
 * On success the text report, the JSON and --vtables are written to
 * /dev/null (opened once) and everything is freed, as `heapscan FILE` does.
 * The corpus holds uncompressed variants of real snapshots (flags 0), so
 * mutations land on the varints themselves rather than on zstd frames.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "report.h"
#include "report_retain.h"
#include "scan.h"
#include "snapshot.h"
#include "types.h"

#define SEC_HDR 32
#define MAX_SECTIONS 16 /* what the reader accepts; more is refused anyway */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static uint64_t
ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Recompute what the reader checks, following the layout in snapshot.h as far
 * as the section headers allow.  The trailer magic is left alone. */
static void
reseal(uint8_t *buf, size_t len)
{
	size_t off = 16, end, nsec;
	uint32_t n;
	uint64_t sum;

	if (len < 32)
		return;
	end = len - 16;
	memcpy(&n, buf + 12, 4);
	nsec = n < MAX_SECTIONS ? n : MAX_SECTIONS;
	for (size_t i = 0; i < nsec && end - off >= SEC_HDR; i++) {
		uint64_t stored = ld64(buf + off + 8), check;

		if (stored > end - off - SEC_HDR)
			break;
		check = XXH64(buf + off + SEC_HDR, (size_t)stored, 0);
		memcpy(buf + off + 24, &check, 8);
		off += SEC_HDR + (size_t)stored;
	}
	sum = XXH64(buf, end, 0);
	memcpy(buf + len - 8, &sum, 8);
}

static void
read_and_report(const uint8_t *data, size_t size)
{
	struct scan scan;
	struct type_table types;
	struct snap_meta meta;
	struct report_opts ro = { .top = 10 };
	char err[512] = "";

	if (snap_read_mem(data, size, &scan, &types, &meta, err, sizeof(err)) < 0) {
		/* the cause must be a line of text: heapscan prints it as one */
		if (!err[0] || memchr(err, '\n', strnlen(err, sizeof(err)))) {
			fprintf(stderr, "fuzz_snapshot: the cause is not one line: \"%s\"\n", err);
			abort();
		}
		return;
	}
	report_text(devnull, &scan, &types, &ro);
	report_json(devnull, &scan, &types);
	report_vtables(devnull, &types);
	if (meta.has_retain) { /* --retained FILE */
		report_retained_summary(devnull, &scan, &types, &meta.retain, false, 10);
		report_retained_summary(devnull, &scan, &types, &meta.retain, true, 1000);
	}
	fflush(devnull);
	scan_free(&scan);
	type_table_free(&types);
	snap_meta_free(&meta);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	read_and_report(data, size);
	/* an exact-size heap copy, so ASan sees any read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	reseal(copy, size);
	if (memcmp(copy, data, size))
		read_and_report(copy, size);
	free(copy);
	return 0;
}
