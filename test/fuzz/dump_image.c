/*
 * dump_image.c - write a fuzz_heap seed (heap_seed.h) from a live process.
 *
 *   build/fuzz/dump_image PID OUT [SLICE_KIB]
 *
 * Scans PID as heapscan does (scan_live: stop, copy, let go, walk) and writes
 * the part of the copy the walker needs to a seed of at most a few hundred
 * KiB: libc's writable mapping holding main_arena and mp_; each arena's heap
 * that holds its top chunk, from the mapping's start to the end of top (at
 * most SLICE_KIB, default 192, of its bytes stored: a bigger heap's walk stops
 * at the zeros), and a thread arena's first heap (64 KiB) when top is in a
 * later one; the executable's read-only mappings (vtables, typeinfo and
 * names, 64 KiB each at most); every other mapping, listed but not copied;
 * and the threads' tcache pointers.  Each
 * region's trailing zeros are left out (the format zero-fills).  Built only for fuzzing
 * (`make fuzz-seeds`); needs ptrace rights over PID.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "scan.h"

#include "heap_seed.h"

#define ARENA_SLICE (64u << 10)
#define RO_SLICE (64u << 10)

static FILE *out;
static int nregions;
static uint64_t put_start[HEAP_SEED_MAX_REGIONS], put_end[HEAP_SEED_MAX_REGIONS];

static void
put(const void *p, size_t n)
{
	if (fwrite(p, 1, n, out) != n) {
		perror("dump_image: write");
		exit(1);
	}
}

static void
put64(uint64_t v)
{
	put(&v, 8);
}

static void
put32(uint32_t v)
{
	put(&v, 4);
}

static unsigned
name_of(const char *name, const char *exe)
{
	if (!strcmp(name, "[heap]"))
		return HEAP_SEED_HEAP;
	if (!strncmp(name, "[stack", 6))
		return HEAP_SEED_STACK;
	if (strstr(name, "/libc.so") || strstr(name, "/libc-"))
		return HEAP_SEED_LIBC;
	if (name[0] == '/' || (exe[0] && !strcmp(name, exe)))
		return HEAP_SEED_EXE;
	return HEAP_SEED_ANON;
}

/* [start, start + len) of region r, at most cap bytes of it stored and its
 * trailing zeros not (the format zero-fills the rest). */
static void
put_region(const struct region *r, uint64_t start, uint64_t len, uint64_t cap, const char *exe)
{
	const unsigned char *p = r->data + (start - r->start);
	uint64_t stored = len < cap ? len : cap;
	unsigned char hdr[4] = { (unsigned char)r->perms, (unsigned char)name_of(r->name, exe) };

	if (nregions == HEAP_SEED_MAX_REGIONS)
		return;
	while (stored && !p[stored - 1])
		stored--;
	put64(start);
	put32((uint32_t)len);
	put32((uint32_t)stored);
	put(hdr, 4);
	put(p, stored);
	put_start[nregions] = start;
	put_end[nregions++] = start + len;
	fprintf(stderr, "dump_image: %-40s 0x%lx +0x%lx (0x%lx stored)\n", r->name[0] ? r->name : "(anon)",
		(unsigned long)start, (unsigned long)len, (unsigned long)stored);
}

static bool
seen(const struct region *r, uint64_t *done, size_t *ndone)
{
	for (size_t i = 0; i < *ndone; i++)
		if (done[i] == r->start)
			return true;
	done[(*ndone)++] = r->start;
	return false;
}

/* The region holding addr from its start, at most max bytes long and cap stored. */
static void
put_from_start(const struct image *img, uint64_t addr, uint64_t max, uint64_t cap, const char *exe,
	       uint64_t *done, size_t *ndone)
{
	const struct region *r = image_region(img, addr);

	if (r && *ndone < HEAP_SEED_MAX_REGIONS && !seen(r, done, ndone))
		put_region(r, r->start, r->end - r->start < max ? r->end - r->start : max, cap, exe);
}

/* An arena's heap that holds its top chunk: from the mapping's start (the
 * heap_info or sbrk base) to the end of top, so that the walk gets to top. */
static void
put_arena_heap(const struct scan *s, uint64_t arena, uint64_t slice, const char *exe,
	       uint64_t *done, size_t *ndone)
{
	uint64_t top, topsize, end;
	const struct region *r;

	if (!image_u64(&s->img, arena + s->libc.lay->ms_top, &top) ||
	    !image_u64(&s->img, top + 8, &topsize) || !(r = image_region(&s->img, top)))
		return;
	/* top's header and a page of it: the walk needs no more, and a region of
	 * megabytes of zeros would only slow every fuzz execution */
	end = top + (topsize & ~7ULL);
	if (end > r->end || end < top + 16)
		end = r->end;
	if (end > ((top + 16 + 4095) & ~4095ULL))
		end = (top + 16 + 4095) & ~4095ULL;
	if (end - r->start > HEAP_SEED_MAX_REGION)
		end = r->start + HEAP_SEED_MAX_REGION;
	if (top + 16 > end)
		return; /* a heap bigger than a region may be: the walk would stop short anyway */
	if (*ndone < HEAP_SEED_MAX_REGIONS && !seen(r, done, ndone))
		put_region(r, r->start, end - r->start, slice, exe);
}

/* Every mapping no region covers, in the address map only: pointers to
 * other modules' code and data (a typeinfo's vptr into libstdc++) classify. */
static void
put_map_only(const struct maps *m, const char *exe)
{
	for (size_t i = 0; i < m->n && nregions < HEAP_SEED_MAX_REGIONS; i++) {
		const struct map_entry *e = &m->v[i];
		unsigned char hdr[4] = { (unsigned char)(e->perms | HEAP_SEED_MAP_ONLY),
					 (unsigned char)name_of(e->path, exe) };
		bool covered = false;

		for (int k = 0; k < nregions; k++)
			covered |= e->start < put_end[k] && e->end > put_start[k];
		if (covered || e->end - e->start > UINT32_MAX)
			continue;
		put64(e->start);
		put32((uint32_t)(e->end - e->start));
		put32(0);
		put(hdr, 4);
		put_start[nregions] = e->start;
		put_end[nregions++] = e->end;
	}
}

static void
dump(const struct scan *s, uint64_t slice, const char *exe)
{
	uint64_t done[HEAP_SEED_MAX_REGIONS + 4];
	size_t ndone = 0, nth = 0;
	unsigned char hdr[8] = { (unsigned char)s->libc.minor };
	uint64_t tc[HEAP_SEED_MAX_THREADS];

	for (size_t i = 0; i < s->nthreads && nth < HEAP_SEED_MAX_THREADS; i++)
		if (s->threads[i].tcache)
			tc[nth++] = s->threads[i].tcache;
	hdr[1] = (unsigned char)nth;
	put64(s->libc.main_arena);
	put64(s->libc.mp);
	put(hdr, 8);
	put(tc, nth * 8);

	put_from_start(&s->img, s->libc.main_arena, 256u << 10, 256u << 10, exe, done, &ndone);
	if (s->libc.mp)
		put_from_start(&s->img, s->libc.mp, 256u << 10, 256u << 10, exe, done, &ndone);
	for (size_t i = 0; i < s->heap.narenas; i++) {
		put_arena_heap(s, s->heap.arenas[i].addr, slice, exe, done, &ndone);
		/* an arena whose top moved to a later heap: its first heap too */
		if (!s->heap.arenas[i].main)
			put_from_start(&s->img, s->heap.arenas[i].addr, ARENA_SLICE, ARENA_SLICE, exe,
				       done, &ndone);
	}
	for (size_t i = 0; i < s->ro.n && exe[0]; i++)
		if (!strcmp(s->ro.r[i].name, exe))
			put_from_start(&s->ro, s->ro.r[i].start, RO_SLICE, RO_SLICE, exe, done, &ndone);
	put_map_only(&s->maps, exe);
}

int
main(int argc, char **argv)
{
	struct scan_opts opts = { .max_attempts = 5 };
	struct scan s;
	char link[64], exe[PATH_MAX] = "";
	unsigned long slice_kib = 192;
	char *end;
	long pid;
	ssize_t n;
	int ret;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: dump_image PID OUT [SLICE_KIB]\n");
		return 2;
	}
	pid = strtol(argv[1], &end, 10);
	if (*end || end == argv[1] || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "dump_image: bad pid '%s'\n", argv[1]);
		return 2;
	}
	if (argc == 4) {
		slice_kib = strtoul(argv[3], &end, 10);
		if (*end || end == argv[3] || !slice_kib || slice_kib > 1024) {
			fprintf(stderr, "dump_image: bad SLICE_KIB '%s' (1..1024)\n", argv[3]);
			return 2;
		}
	}
	snprintf(link, sizeof(link), "/proc/%ld/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	ret = scan_live((pid_t)pid, &opts, &s);
	if (ret != EXIT_OK)
		return ret;
	out = fopen(argv[2], "wb");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	dump(&s, (uint64_t)slice_kib << 10, exe);
	if (fclose(out) != 0) {
		perror(argv[2]);
		return 1;
	}
	scan_free(&s);
	return 0;
}
