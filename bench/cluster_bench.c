/*
 * cluster_bench.c - how long cluster_build takes on a large synthetic heap.
 *
 * Not part of make test.  Lays out N chunks (default 10M) back to back in
 * one buffer of about 1.2 GB, wraps it in an image and an addrmap without
 * copying, and times cluster_build a few times.  Build by hand:
 *
 *   make heapscan && gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -o build/cluster_bench \
 *       bench/cluster_bench.c build/src/cluster.o build/src/addrmap.o \
 *       build/src/image.o build/src/xmalloc.o build/src/error.o build/src/maps.o -lxxhash
 *   build/cluster_bench [mix|unique|pairs|dup] [nchunks] [rounds]
 *
 * Prints each round's wall-clock and CPU time (cluster_build uses two
 * threads on a big heap, so CPU can exceed wall) and the best wall time.
 *
 * mix:    sizes 0x20..0x400; 30% copies of 500 templates, 10% zeroed,
 *         30% structs of 50 layouts with varying values, 30% random bytes
 * unique: every chunk random bytes (all content singletons, few shapes)
 * pairs:  every content exactly twice (the most content clusters)
 * dup:    every chunk one of 16 contents (memcmp on every chunk)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrmap.h"
#include "cluster.h"
#include "glibc.h"
#include "image.h"

#define BASE 0x555500000000ULL
#define CODE 0x7f0000001000ULL

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t
pick_size(void)
{
	static const struct { uint64_t size; unsigned pct; } dist[] = {
		{ 0x20, 40 }, { 0x30, 15 }, { 0x40, 10 }, { 0x60, 10 },
		{ 0x80, 10 }, { 0x100, 8 }, { 0x200, 5 }, { 0x400, 2 },
	};
	unsigned r = (unsigned)(next() % 100);

	for (size_t i = 0; i < sizeof(dist) / sizeof(dist[0]); i++) {
		if (r < dist[i].pct)
			return dist[i].size;
		r -= dist[i].pct;
	}
	return 0x20;
}

static void
fill_random(unsigned char *p, size_t len)
{
	for (size_t k = 0; k + 8 <= len; k += 8) {
		uint64_t v = next() | 0x8000000000000000ULL; /* never a pointer or int */

		memcpy(p + k, &v, 8);
	}
}

static void
fill_template(unsigned char *p, size_t len, unsigned t)
{
	memset(p, 0, len);
	snprintf((char *)p, len, "template string number %u", t);
}

static void
fill_struct(unsigned char *p, size_t len, unsigned layout, uint64_t buflen)
{
	for (size_t k = 0, j = 0; k + 8 <= len; k += 8, j++) {
		uint64_t v;

		switch ((layout + j * 7) % 5) {
		case 0: v = BASE + (next() % buflen & ~15ULL); break;
		case 1: v = next() % 100000; break;
		case 2: v = 0; break;
		case 3: v = CODE + next() % 0x1000; break;
		default: v = 0x6f6c6c6568ULL; break;
		}
		memcpy(p + k, &v, 8);
	}
}

static void
fill(const char *mode, unsigned char *p, size_t len, size_t i, uint64_t buflen)
{
	unsigned r = (unsigned)(next() % 100);

	if (!strcmp(mode, "unique")) {
		fill_random(p, len);
	} else if (!strcmp(mode, "pairs")) {
		uint64_t save = rng;

		rng = 0x1234567ULL + i / 2 * 0x9e3779b97f4a7c15ULL; /* pair i/2: same bytes */
		fill_random(p, len);
		rng = save;
	} else if (!strcmp(mode, "dup")) {
		fill_template(p, len, (unsigned)(next() % 16));
	} else if (r < 30) {
		fill_template(p, len, (unsigned)(next() % 500));
	} else if (r < 40) {
		memset(p, 0, len);
	} else if (r < 70) {
		fill_struct(p, len, (unsigned)(next() % 50), buflen);
	} else {
		fill_random(p, len);
	}
}

static double
now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "mix";
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000000;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	uint64_t buflen = 1200000000ULL, off = 0;
	unsigned char *buf = calloc(1, buflen);
	struct heap_model m = { 0 };
	struct region reg = { .start = BASE, .end = BASE + buflen, .data = buf, .name = "[heap]" };
	struct image img = { .r = &reg, .n = 1, .cap = 1, .bytes = buflen };
	struct addr_range ranges[] = {
		{ .start = BASE, .end = BASE + buflen, .kind = AK_ANON },
		{ .start = CODE, .end = CODE + 0x1000, .kind = AK_CODE },
	};
	char *mods[] = { "/usr/lib/libfake.so" };
	struct addrmap am = { .v = ranges, .n = 2, .modules = mods, .nmodules = 1,
			      .lo = BASE, .hi = CODE + 0x1000 };
	struct cluster_input in = { .img = &img, .am = &am, .heap = &m };
	double best = 1e9;

	if (!buf)
		return 1;
	m.chunks = calloc(n, sizeof(*m.chunks));
	for (m.nchunks = 0; m.nchunks < n; m.nchunks++) {
		/* pairs: both chunks of a pair the same size too */
		uint64_t size = strcmp(mode, "pairs") || m.nchunks % 2 == 0 ? pick_size()
									     : m.chunks[m.nchunks - 1].size;

		if (off + size + 8 > buflen)
			break;
		m.chunks[m.nchunks] = (struct hs_chunk){ .addr = BASE + off, .size = size,
							 .kind = CK_INUSE };
		fill(mode, buf + off + 16, size - 8, m.nchunks, buflen);
		off += size;
	}
	printf("%s: %zu chunks, %.2f GB of chunks\n", mode, m.nchunks, (double)off / 1e9);
	for (int round = 0; round < rounds; round++) {
		struct cluster_set cs;
		double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), t, c;
		uint64_t clustered = 0;

		cluster_build(&in, &cs);
		t = now(CLOCK_MONOTONIC) - t0;
		c = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
		best = t < best ? t : best;
		for (size_t i = 0; i < m.nchunks; i++)
			clustered += cs.of_chunk[i] != CLUSTER_NONE;
		printf("  cluster_build %.3f s wall, %.3f s cpu: %zu clusters, %llu chunks in them\n",
		       t, c, cs.n, (unsigned long long)clustered);
		if (round == 0)
			for (size_t k = 0; k < cs.n && k < 3; k++)
				printf("    %s %llu x 0x%llx %s\n",
				       cs.v[k].kind == CL_CONTENT ? "content" : "shape",
				       (unsigned long long)cs.v[k].count,
				       (unsigned long long)cs.v[k].size, cs.v[k].desc);
		cluster_set_free(&cs);
	}
	printf("best %.3f s\n", best);
	free(m.chunks);
	free(buf);
	return 0;
}
