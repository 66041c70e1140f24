/*
 * fuzz_heap.c - libFuzzer target for what heapscan does with the memory it
 * copied: the glibc walker (glibc_walk), then the type finder and the
 * clustering (types_build, which calls cluster_build), on a memory image made
 * from the input.  The format is drawn in heap_seed.h.
 *
 *   make fuzz FUZZ_TARGET=heap [FUZZ_SECONDS=60]
 *                                    build build/fuzz/fuzz_heap and run it on a
 *                                    copy of test/fuzz/heap_corpus/
 *   build/fuzz/fuzz_heap FILE        replay one input (FUZZ_HEAP_VERBOSE=1:
 *                                    say what the walk and the types found)
 *
 * The seeds are real heaps (dump_image.c, make_heap_corpus.sh): libc's .data
 * with main_arena and mp_, a slice of [heap], thread arena heaps, and the
 * executable's read-only mappings, so mutations start from arenas, bins and
 * tcaches that hold together.  Every region is its own exact-size malloc'd
 * copy (image_add_copy), so ASan sees a read past any of them.  The address
 * map the type finder needs is made from the same regions, as /proc/PID/maps
 * would list them; no pid, so no module file is opened.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrmap.h"
#include "glibc.h"
#include "image.h"
#include "maps.h"
#include "types.h"

#include "heap_seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_HEAP_VERBOSE=1: one line per input on what was found (to check seeds). */
static int verbose = -1;

static uint64_t
ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t
ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* One region from the input at *off into img or ro; false at the end. */
/* Mappings listed in the address map but not copied (HEAP_SEED_MAP_ONLY). */
struct map_only {
	struct map_entry v[HEAP_SEED_MAX_REGIONS];
	size_t n;
};

static bool
add_region(const uint8_t *data, size_t size, size_t *off, struct image *img, struct image *ro,
	   struct map_only *mo, uint64_t *total)
{
	const uint8_t *h = data + *off;
	uint64_t start;
	uint32_t len, stored;
	unsigned perms, name;
	unsigned char *buf;

	if (size - *off < HEAP_SEED_REGION_HDR)
		return false;
	start = ld64(h);
	len = ld32(h + 8);
	stored = ld32(h + 12);
	perms = h[16] & (MAP_PERM_R | MAP_PERM_W | MAP_PERM_X | MAP_PERM_P);
	name = h[17] % HEAP_SEED__N;
	*off += HEAP_SEED_REGION_HDR;
	if (h[16] & HEAP_SEED_MAP_ONLY) {
		if (len && start + len > start && mo->n < HEAP_SEED_MAX_REGIONS)
			mo->v[mo->n++] = (struct map_entry){ .start = start, .end = start + len,
							     .perms = perms, .inode = 1,
							     .path = (char *)heap_seed_names[name] };
		return true;
	}
	if (len > HEAP_SEED_MAX_REGION)
		len = HEAP_SEED_MAX_REGION;
	if (stored > len)
		stored = len;
	if (stored > size - *off)
		stored = (uint32_t)(size - *off);
	buf = calloc(1, len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, data + *off, stored);
	*off += stored;
	if (len && *total + len <= HEAP_SEED_MAX_IMAGE &&
	    image_add_copy(perms & MAP_PERM_W ? img : ro, start, buf, len, perms,
			   heap_seed_names[name]) == 0)
		*total += len;
	free(buf);
	return true;
}

/* /proc/PID/maps as it would read for the regions of both images and the
 * mappings that were not copied.  Overlaps are left in: a hostile seed may
 * have them, and addrmap_build must cope. */
static void
synth_maps(const struct image *img, const struct image *ro, const struct map_only *mo,
	   struct maps *m)
{
	const struct image *both[2] = { img, ro };

	m->n = 0;
	m->v = calloc(img->n + ro->n + mo->n + 1, sizeof(*m->v));
	if (!m->v)
		abort();
	for (size_t i = 0; i < mo->n; i++) {
		m->v[m->n] = mo->v[i];
		m->v[m->n].path = strdup(mo->v[i].path);
		if (!m->v[m->n++].path)
			abort();
	}
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < both[k]->n; i++) {
			const struct region *r = &both[k]->r[i];
			struct map_entry *e = &m->v[m->n++];

			e->start = r->start;
			e->end = r->end;
			e->perms = r->perms;
			e->inode = r->name[0] == '/' ? 1 : 0;
			e->path = strdup(r->name);
			if (!e->path)
				abort();
		}
	/* sorted by address, as the kernel lists them; the two images may interleave */
	for (size_t i = 1; i < m->n; i++)
		for (size_t j = i; j > 0 && m->v[j - 1].start > m->v[j].start; j--) {
			struct map_entry t = m->v[j];

			m->v[j] = m->v[j - 1];
			m->v[j - 1] = t;
		}
}

static void
walk_and_type(const struct glibc_target *t, const struct image *ro, const struct map_only *mo)
{
	struct heap_model heap;
	struct maps maps;
	struct addrmap am;
	struct type_table tt;
	char why[256];

	if (glibc_walk(t, &heap, why, sizeof(why)) < 0) {
		if (!why[0] || memchr(why, '\n', strnlen(why, sizeof(why))))
			abort(); /* heapscan prints the cause as one line */
		return;
	}
	for (size_t i = 1; i < heap.nchunks; i++)
		if (heap.chunks[i].addr <= heap.chunks[i - 1].addr) {
			fprintf(stderr, "fuzz_heap: chunks not sorted at %zu\n", i);
			abort();
		}
	synth_maps(t->img, ro, mo, &maps);
	addrmap_build(&am, &maps);
	types_build(&(struct types_input){ .img = t->img, .ro = ro, .am = &am, .maps = &maps,
					   .heap = &heap, .pid = 0 },
		    &tt);
	if (verbose)
		fprintf(stderr, "fuzz_heap: %zu arenas, %zu chunks, %zu problems, %zu types, %zu classes\n",
			heap.narenas, heap.nchunks, heap.nproblems, tt.ntypes, tt.nclasses);
	for (size_t i = 0; verbose && i < heap.nproblems && i < 5; i++)
		fprintf(stderr, "fuzz_heap: problem 0x%lx %s\n", (unsigned long)heap.problems[i].addr,
			heap.problems[i].what);
	type_table_free(&tt);
	addrmap_free(&am);
	maps_free(&maps);
	heap_model_free(&heap);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct glibc_thread th[HEAP_SEED_MAX_THREADS];
	struct glibc_target t = { 0 };
	struct image img, ro;
	static struct map_only mo;
	size_t off, nth;
	uint64_t total = 0;

	if (verbose < 0)
		verbose = getenv("FUZZ_HEAP_VERBOSE") != NULL;
	if (size < HEAP_SEED_HDR)
		return 0;
	t.main_arena = ld64(data);
	t.mp = ld64(data + 8);
	t.lay = glibc_layout_for(data[16]);
	if (!t.lay)
		t.lay = glibc_layout_for(36);
	nth = data[17] % (HEAP_SEED_MAX_THREADS + 1);
	off = HEAP_SEED_HDR;
	for (size_t i = 0; i < nth && size - off >= 8; i++, off += 8) {
		th[i].tid = (pid_t)(1000 + i);
		th[i].tcache = ld64(data + off);
		t.nthreads = i + 1;
	}
	t.threads = th;
	image_init(&img);
	image_init(&ro);
	mo.n = 0;
	for (int n = 0; n < HEAP_SEED_MAX_REGIONS; n++)
		if (!add_region(data, size, &off, &img, &ro, &mo, &total))
			break;
	t.img = &img;
	walk_and_type(&t, &ro, &mo);
	image_free(&img);
	image_free(&ro);
	return 0;
}
