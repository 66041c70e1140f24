/*
 * glibc_find.c - main_arena, mp_ and the tcache TLS offset, recognised in
 * memory (see glibc_find.h for what is checked).
 *
 * The work, per layout of the table (or the one a version string names):
 *   1. every 8-aligned address A of libc's writable data is judged as a
 *      struct malloc_state (judge_arena): bins, fastbins, top, system_mem,
 *      the ring through `next`;
 *   2. for an A that passes, every 8-aligned address as struct malloc_par
 *      (judge_mp), checked against the heap A describes;
 *   3. the tcache offset (find_tpoff): candidate offsets from the TLS of a
 *      few threads, then each candidate checked on every thread.
 * The passing (A, layout) pairs are compared by score at the end (decide).
 *
 *   struct malloc_state (2.35):          heap_info (thread arenas):
 *     0x000 mutex, flags, ...              h = 64 MiB-aligned heap start
 *     0x010 fastbinsY[10]                  h + 0   ar_ptr -> its arena
 *     0x060 top                            h + 8   prev
 *     0x070 bins[254]: bin b's fd, bk      h + 16  size
 *           at bins + 16 * (b - 1);        the first heap holds the arena
 *           header = that address - 16     at h + sizeof(heap_info)
 *     0x870 next
 *     0x888 system_mem, max_system_mem
 *
 * Everything is read through image_u64 and friends; every loop has a bound
 * (the ranges' sizes, 127 bins, 1024 arenas, the TLS window, the threads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "glibc_find.h"
#include "libc.h"
#include "xmalloc.h"

#define MAX_ARENAS 1024
#define NBINS 128
#define NFASTBINS 10
#define MIN_LARGE 0x400ULL
#define MAX_ATTACHED 65536       /* threads attached to one arena, at the most */
#define MAX_BAD_BINS 2          /* a bin caught mid-update is tolerated, not more */
#define HEAP_ALIGN (64ULL << 20) /* HEAP_MAX_SIZE on 64-bit */
#define PAGE 4096ULL
#define IS_MMAPPED 2ULL
#define TLS_NEAR (64u << 10)     /* where `tcache` is, below fs_base, in practice */
#define TLS_FAR (1u << 20)       /* ... behind a large executable TLS block */
#define TLS_SAMPLE 16            /* threads searched for candidate offsets */
#define MAX_TLS_CAND 64
#define MAX_PASSING 16

/* What a passing malloc_state candidate told. */
struct arena_eval {
	long score;
	bool initial;       /* top is the unsorted header: nothing allocated yet */
	uint64_t top_end;   /* end of the main heap (top + its size) */
	uint64_t heap_start;/* start of the mapping holding the main top */
	uint64_t *ring;     /* the thread arenas, nring of them (owned) */
	size_t nring;
};

struct candidate {
	const struct glibc_layout *lay;
	uint64_t arena, mp;
	bool have_tpoff;
	int64_t tpoff;
	long score;
	long links;     /* free-list links decoded (tcache next, fastbin fd): the
			   evidence for the layout's list encoding */
	char note[256];
};

struct finder {
	const struct glibc_find_input *in;
	const struct image *img;
	struct candidate pass[MAX_PASSING];
	size_t npass;
	size_t dropped;     /* passing candidates past MAX_PASSING */
	struct {            /* the last mmapped count: layouts that read heap_info
			       alike need not scan the memory again */
		bool valid;
		uint64_t arena, n, bytes;
		uint32_t hi_ar_ptr, hi_size, ms_next;
	} mm;
};

static bool
rd(const struct finder *f, uint64_t addr, uint64_t *v)
{
	return image_u64(f->img, addr, v);
}

static uint64_t
word(const struct finder *f, uint64_t addr)
{
	uint64_t v = 0;

	image_u64(f->img, addr, &v);
	return v;
}

/* The size field of the chunk at c, flags off; false when c is not a
 * 16-aligned address with a readable header. */
static bool
chunk_size(const struct finder *f, uint64_t c, uint64_t *size)
{
	uint64_t h;

	if (!c || (c & 15) || !rd(f, c + 8, &h))
		return false;
	*size = h & ~7ULL;
	return true;
}

static unsigned
largebin_index(uint64_t sz)
{
	if ((sz >> 6) <= 48)
		return 48 + (unsigned)(sz >> 6);
	if ((sz >> 9) <= 20)
		return 91 + (unsigned)(sz >> 9);
	if ((sz >> 12) <= 10)
		return 110 + (unsigned)(sz >> 12);
	if ((sz >> 15) <= 4)
		return 119 + (unsigned)(sz >> 15);
	if ((sz >> 18) <= 2)
		return 124 + (unsigned)(sz >> 18);
	return 126;
}

static bool
fits_bin(uint64_t size, unsigned b)
{
	if (size < 32 || (size & 15))
		return false;
	if (b == 1) /* unsorted: any size */
		return true;
	return size < MIN_LARGE ? size >> 4 == b : largebin_index(size) == b;
}

/* Bins of the arena at a: points for each that checks out, -1 past
 * MAX_BAD_BINS that do not. */
static long
judge_bins(const struct finder *f, const struct glibc_layout *lay, uint64_t a)
{
	long self = 0, good = 0, bad = 0;

	for (unsigned b = 1; b < NBINS && bad <= MAX_BAD_BINS; b++) {
		uint64_t x = a + lay->ms_bins + 16 * (b - 1), hdr = x - 16, fd, bk, s1, s2;

		if (!rd(f, x, &fd) || !rd(f, x + 8, &bk))
			return -1;
		if (fd == hdr && bk == hdr)
			self++;
		else if (chunk_size(f, fd, &s1) && chunk_size(f, bk, &s2) && fits_bin(s1, b) &&
			 fits_bin(s2, b) && word(f, fd + 24) == hdr && word(f, bk + 16) == hdr)
			good++;
		else
			bad++;
	}
	if (bad > MAX_BAD_BINS || self == 0)
		return -1;
	return self + 4 * good - 8 * bad;
}

static long
judge_fastbins(const struct finder *f, const struct glibc_layout *lay, uint64_t a)
{
	long score = 0;

	for (unsigned i = 0; i < NFASTBINS; i++) {
		uint64_t p, size;

		if (!rd(f, a + lay->ms_fastbins + 8 * i, &p))
			return -1;
		if (!p)
			continue;
		if (!chunk_size(f, p, &size) || size != (i + 2) * 16)
			return -1;
		score += 2;
	}
	return score;
}

/* A thread arena b on the ring: its first heap's heap_info, just before
 * it, points back at it; its top ends its heap.  Points, or -1. */
static long
judge_thread_arena(const struct finder *f, const struct glibc_layout *lay, uint64_t b)
{
	uint64_t h = b - lay->hi_sizeof, ar, top, size, h2, hsize;
	long score = 4;

	if (b < lay->hi_sizeof || (h & (PAGE - 1)) || !rd(f, h + lay->hi_ar_ptr, &ar) || ar != b ||
	    !image_ptr(f->img, b, lay->ms_size))
		return -1;
	if (rd(f, b + lay->ms_top, &top) && chunk_size(f, top, &size)) {
		h2 = top & ~(HEAP_ALIGN - 1);
		if (word(f, h2 + lay->hi_ar_ptr) == b && rd(f, h2 + lay->hi_size, &hsize) &&
		    top < h2 + hsize && size == h2 + hsize - top)
			score += 4;
	}
	if (judge_bins(f, lay, b) >= 0)
		score += 4;
	return score;
}

/* The ring from a through next, back to a.  Points, or -1 (with the
 * arenas in ev->ring, owned by ev). */
static long
judge_ring(const struct finder *f, const struct glibc_layout *lay, uint64_t a,
	   struct arena_eval *ev)
{
	uint64_t b;
	long score = 0;
	size_t cap = 0;

	if (!rd(f, a + lay->ms_next, &b))
		return -1;
	while (b != a) {
		long s;

		if (ev->nring + 1 >= MAX_ARENAS)
			return -1; /* does not close */
		for (size_t i = 0; i < ev->nring; i++)
			if (ev->ring[i] == b)
				return -1; /* loops, but not through a */
		s = judge_thread_arena(f, lay, b);
		if (s < 0)
			return -1;
		score += s;
		ev->ring = xgrow(ev->ring, &cap, ev->nring + 1, sizeof(*ev->ring));
		ev->ring[ev->nring++] = b;
		if (!rd(f, b + lay->ms_next, &b))
			return -1;
	}
	return score;
}

static long
judge_top(const struct finder *f, const struct glibc_layout *lay, uint64_t a,
	  struct arena_eval *ev)
{
	uint64_t top, size, sys, maxsys;
	const struct region *r;
	long score = 0;

	if (!rd(f, a + lay->ms_top, &top) || !rd(f, a + lay->ms_system_mem, &sys) ||
	    !rd(f, a + lay->ms_system_mem + 8, &maxsys) || maxsys < sys)
		return -1;
	if (top == a + lay->ms_bins - 16) {
		ev->initial = true;
		return sys == 0 ? 0 : -1;
	}
	r = image_region(f->img, top);
	if (!r || !chunk_size(f, top, &size) || size > r->end - top || top + size != r->end)
		return -1;
	ev->top_end = r->end;
	ev->heap_start = r->start;
	score += 20;
	if (sys && sys <= r->end - r->start && r->end - sys - r->start < PAGE)
		score += 10; /* contiguous: the heap is system_mem from its start */
	return score;
}

static void
arena_eval_free(struct arena_eval *ev)
{
	free(ev->ring);
	memset(ev, 0, sizeof(*ev));
}

/* a as the main_arena of layout lay: -1, or points with ev filled. */
static long
judge_arena(const struct finder *f, const struct glibc_layout *lay, uint64_t a,
	    struct arena_eval *ev)
{
	long s, score = 10;
	uint64_t next, fd0, att;

	memset(ev, 0, sizeof(*ev));
	/* cheap refusals first: most addresses fail here */
	if (!rd(f, a + lay->ms_next, &next) || (next & 7) || !next ||
	    !rd(f, a + lay->ms_bins, &fd0) || !fd0 || (fd0 & 7))
		return -1;
	/* attached_threads (2.23+) counts threads: a layout that reads an
	 * older arena's system_mem there is the wrong one */
	if (lay->ms_attached_threads &&
	    (!rd(f, a + lay->ms_attached_threads, &att) || att > MAX_ATTACHED))
		return -1;
	if ((s = judge_bins(f, lay, a)) < 0)
		return -1;
	score += s;
	if ((s = judge_fastbins(f, lay, a)) < 0)
		return -1;
	score += s;
	if ((s = judge_top(f, lay, a, ev)) < 0)
		return -1;
	score += s;
	if ((s = judge_ring(f, lay, a, ev)) < 0) {
		arena_eval_free(ev);
		return -1;
	}
	ev->score = score + s;
	return ev->score;
}

/* ---- mp_ --------------------------------------------------------------------- */

/* Is chunk c in a heap of one of the arenas?  The main heap, or a thread
 * heap whose heap_info names an arena of the ring. */
static bool
in_arena_heap(const struct finder *f, const struct glibc_layout *lay, const struct arena_eval *ev,
	      uint64_t c)
{
	uint64_t h = c & ~(HEAP_ALIGN - 1), ar, size;

	if (!ev->initial && c >= ev->heap_start && c < ev->top_end)
		return true;
	if (!rd(f, h + lay->hi_ar_ptr, &ar) || !rd(f, h + lay->hi_size, &size) ||
	    c >= h + size || c < h + lay->hi_sizeof)
		return false;
	for (size_t i = 0; i < ev->nring; i++)
		if (ev->ring[i] == ar)
			return true;
	return false;
}

/* Mmapped chunks in anonymous memory outside the arenas' heaps, as the
 * walker finds them: page-aligned mapping start + prev_size, IS_MMAPPED. */
static void
count_mmapped(const struct finder *f, const struct glibc_layout *lay, const struct arena_eval *ev,
	      uint64_t *n, uint64_t *bytes)
{
	*n = *bytes = 0;
	for (size_t i = 0; i < f->img->n; i++) {
		const struct region *r = &f->img->r[i];
		uint64_t p = r->start;

		if (r->name[0] && strncmp(r->name, "[anon:", 6))
			continue; /* file-backed, [heap], [stack] */
		if (!ev->initial && r->start <= ev->heap_start && r->end >= ev->top_end)
			continue; /* the main heap, unnamed (in a core) */
		while (p + 16 <= r->end) {
			uint64_t prev, hdr, size, ar, hsize;

			if (!(p & (HEAP_ALIGN - 1)) && rd(f, p + lay->hi_ar_ptr, &ar) &&
			    rd(f, p + lay->hi_size, &hsize) && hsize >= PAGE && hsize <= HEAP_ALIGN) {
				bool ours = false;

				for (size_t k = 0; k < ev->nring && !ours; k++)
					ours = ev->ring[k] == ar;
				if (ours) { /* a thread heap: skip it */
					p += (hsize + PAGE - 1) & ~(PAGE - 1);
					continue;
				}
			}
			if (!r->nholes) { /* straight from the region: most pages end here */
				memcpy(&prev, r->data + (p - r->start), 8);
				memcpy(&hdr, r->data + (p - r->start) + 8, 8);
			} else if (!rd(f, p, &prev) || !rd(f, p + 8, &hdr)) {
				p += PAGE;
				continue;
			}
			if (prev < PAGE && !(prev & 15) && (hdr & 7) == IS_MMAPPED) {
				size = hdr & ~7ULL;
				if (size >= PAGE - prev && ((prev + size) & (PAGE - 1)) == 0 &&
				    size <= r->end - p - prev && word(f, p + prev + 8) == hdr) {
					(*n)++;
					*bytes += size;
					p += prev + size;
					continue;
				}
			}
			p += PAGE;
		}
	}
}

static bool
has_tcache(const struct glibc_layout *lay)
{
	return lay->tc_size != 0;
}

/* m as mp_: -1, or points.  Positive evidence is required: zeroed memory
 * passes every structural check. */
static long
judge_mp(const struct finder *f, const struct glibc_layout *lay, const struct arena_eval *ev,
	 uint64_t m, uint64_t n_mmapped, uint64_t mmapped_bytes)
{
	uint64_t trim, mmth, sbrk, mem, maxmem, bins, maxb, cnt;
	uint32_t n, nmax, maxn;
	long score = 0;
	int evidence = 0;

	if (!rd(f, m, &trim) || !rd(f, m + 16, &mmth) || !rd(f, m + lay->mp_sbrk_base, &sbrk) ||
	    !rd(f, m + lay->mp_mmapped_mem, &mem) || !rd(f, m + lay->mp_mmapped_mem + 8, &maxmem) ||
	    !image_u32(f->img, m + lay->mp_n_mmaps, &n) ||
	    !image_u32(f->img, m + lay->mp_n_mmaps + 4, &nmax) ||
	    !image_u32(f->img, m + lay->mp_n_mmaps + 8, &maxn))
		return -1;
	if ((int32_t)n < 0 || (int32_t)maxn < 0 || n > maxn || mem > maxmem)
		return -1;
	if (ev->initial ? sbrk != 0 && (sbrk < ev->heap_start || sbrk >= ev->top_end)
			: sbrk < ev->heap_start || sbrk - ev->heap_start >= PAGE)
		return -1;
	if (!ev->initial) {
		score += 20;
		evidence++;
	}
	if (n == n_mmapped && mem == mmapped_bytes) {
		score += 10;
		evidence += n > 0;
	}
	if ((trim == 128 << 10 && mmth == 128 << 10) ||
	    (mmth > 128 << 10 && mmth <= 32 << 20 && trim == 2 * mmth)) {
		score += 10;
		evidence++;
	}
	if (nmax == 65536) {
		score += 5;
		evidence++;
	}
	if (has_tcache(lay) && rd(f, m + lay->mp_tcache_bins, &bins) &&
	    rd(f, m + lay->mp_tcache_bins + 8, &maxb) && rd(f, m + lay->mp_tcache_bins + 16, &cnt)) {
		if (bins == 64) {
			score += 10;
			evidence++;
		}
		if (maxb == 1032)
			score += 5;
		if (cnt == 7)
			score += 5;
	}
	return evidence >= 2 ? score : -1;
}

/* Best mp_ in libc's data, or 0 (with why in note) when none or a tie. */
static uint64_t
find_mp(struct finder *f, const struct glibc_layout *lay, uint64_t a, const struct arena_eval *ev,
	long *score, char *note, size_t len)
{
	uint64_t n, bytes, best = 0;
	long top = -1;
	int ties = 0;

	if (f->mm.valid && f->mm.arena == a && f->mm.hi_ar_ptr == lay->hi_ar_ptr &&
	    f->mm.hi_size == lay->hi_size && f->mm.ms_next == lay->ms_next) {
		n = f->mm.n;
		bytes = f->mm.bytes;
	} else {
		count_mmapped(f, lay, ev, &n, &bytes);
		f->mm.valid = true;
		f->mm.arena = a;
		f->mm.n = n;
		f->mm.bytes = bytes;
		f->mm.hi_ar_ptr = lay->hi_ar_ptr;
		f->mm.hi_size = lay->hi_size;
		f->mm.ms_next = lay->ms_next; /* the same ring */
	}
	for (size_t i = 0; i < f->in->ndata; i++) {
		const struct map_range *d = &f->in->data[i];

		for (uint64_t m = (d->start + 7) & ~7ULL; m + 8 <= d->end; m += 8) {
			long s = judge_mp(f, lay, ev, m, n, bytes);

			if (s > top) {
				top = s;
				best = m;
				ties = 0;
			} else if (s == top && s >= 0) {
				ties++;
			}
		}
	}
	if (top < 0) {
		snprintf(note, len, "no mp_ found");
		return 0;
	}
	if (ties) {
		snprintf(note, len, "mp_ not decided: %d places fit equally", ties + 1);
		return 0;
	}
	*score = top;
	return best;
}

/* ---- the tcache TLS offset ---------------------------------------------------- */

struct tls_job {
	const struct finder *f;
	const struct glibc_layout *lay;
	const struct arena_eval *ev;
};

/* v as a thread's `tcache`: the user memory of an in-arena chunk of the
 * tcache struct's size. */
static bool
is_tcache(const struct tls_job *j, uint64_t v)
{
	uint64_t size, hdr;

	if (!v || (v & 15) || !rd(j->f, v - 8, &hdr) || (hdr & IS_MMAPPED))
		return false;
	size = hdr & ~7ULL;
	if (size != j->lay->tc_size && size != j->lay->tc_size + 16)
		return false;
	return in_arena_heap(j->f, j->lay, j->ev, v - 16);
}

static void
add_offset(int64_t *cand, size_t *n, int64_t d)
{
	for (size_t i = 0; i < *n; i++)
		if (cand[i] == d)
			return;
	if (*n < MAX_TLS_CAND)
		cand[(*n)++] = d;
}

/* Offsets below the fs_base of the first few threads holding a tcache. */
static size_t
tls_candidates(const struct tls_job *j, uint64_t window, int64_t *cand)
{
	const struct glibc_find_input *in = j->f->in;
	size_t n = 0, sampled = 0;

	for (size_t t = 0; t < in->nthreads && sampled < TLS_SAMPLE; t++) {
		uint64_t fs = in->fs_base[t];
		const struct region *r = fs ? image_region(j->f->img, fs - 8) : NULL;

		if (!r)
			continue;
		sampled++;
		for (uint64_t d = 8; d <= window && d <= fs - r->start; d += 8) {
			uint64_t v;

			if (rd(j->f, fs - d, &v) && is_tcache(j, v))
				add_offset(cand, &n, -(int64_t)d);
		}
	}
	return n;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Threads whose tcache is at fs_base + d, or -1 when a thread has something
 * else there, or two share one. */
static long
offset_votes(const struct tls_job *j, int64_t d, uint64_t *vals)
{
	const struct glibc_find_input *in = j->f->in;
	size_t n = 0;

	for (size_t t = 0; t < in->nthreads; t++) {
		uint64_t v;

		if (!in->fs_base[t] || !rd(j->f, in->fs_base[t] + (uint64_t)d, &v) || !v)
			continue;
		if (!is_tcache(j, v))
			return -1;
		vals[n++] = v;
	}
	qsort(vals, n, sizeof(*vals), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (vals[i] == vals[i - 1])
			return -1;
	return (long)n;
}

static bool
find_tpoff(const struct tls_job *j, int64_t *tpoff, long *score, char *note, size_t len)
{
	const struct glibc_find_input *in = j->f->in;
	int64_t cand[MAX_TLS_CAND], best = 0;
	uint64_t *vals;
	size_t n;
	long top = 0;
	int ties = 0;

	if (!has_tcache(j->lay))
		return false; /* nothing to find, nothing to say */
	n = tls_candidates(j, TLS_NEAR, cand);
	if (!n)
		n = tls_candidates(j, TLS_FAR, cand);
	vals = xcalloc(in->nthreads ? in->nthreads : 1, sizeof(*vals));
	for (size_t i = 0; i < n; i++) {
		long v = offset_votes(j, cand[i], vals);

		if (v > top) {
			top = v;
			best = cand[i];
			ties = 0;
		} else if (v == top && v > 0) {
			ties++;
		}
	}
	free(vals);
	if (top <= 0) {
		snprintf(note, len, "no thread's tcache found near its fs_base");
		return false;
	}
	if (ties) {
		snprintf(note, len, "tcache offset not decided: %d offsets fit %ld threads each",
			 ties + 1, top);
		return false;
	}
	*tpoff = best;
	*score = 10 + 2 * top;
	return true;
}

/* ---- deciding ------------------------------------------------------------------ */

/* A free-list link as the layout stores it: safe-linked from 2.32
 * ((&field >> 12) ^ ptr), raw before.  True when it decodes to the end of
 * the list or to an aligned chunk; *seen counts the links looked at.
 * The two encodings disagree on almost every link (the end of a
 * safe-linked list is &field >> 12, not 0), so links decide between
 * layouts that differ only there. */
static long
link_points(const struct finder *f, const struct glibc_layout *lay, uint64_t field,
	    uint64_t to_chunk, long *seen)
{
	uint64_t v, p, size;

	if (!rd(f, field, &v))
		return 0;
	p = lay->safe_linking ? (field >> 12) ^ v : v;
	(*seen)++;
	if (!p)
		return 1;
	if ((p & 15) || !chunk_size(f, p - to_chunk, &size))
		return -4;
	return 1;
}

/* A tcache entry's key (2.29+): the owning tcache's address up to 2.33,
 * the process's random tcache_key from 2.34.  Before 2.29 the word is
 * whatever the chunk held, so it says nothing. */
static long
key_points(const struct finder *f, const struct glibc_layout *lay, uint64_t e, uint64_t tc)
{
	uint64_t key;

	if (!lay->tc_entry_key || !rd(f, e + 8, &key))
		return 0;
	if (lay->tc_key_random)
		return key && key != tc ? 1 : -4;
	return key == tc ? 1 : -4;
}

/* Evidence for the list encoding: the first link of every non-empty
 * fastbin of main_arena and of every tcache bin of each thread. */
static long
judge_links(const struct finder *f, const struct glibc_layout *lay, uint64_t a,
	    const struct candidate *c, long *seen)
{
	long score = 0;

	for (unsigned i = 0; i < NFASTBINS; i++) {
		uint64_t p;

		if (rd(f, a + lay->ms_fastbins + 8 * i, &p) && p)
			score += link_points(f, lay, p + 16, 0, seen);
	}
	if (!c->have_tpoff || lay->tc_counts_free_slots || !lay->tc_bins)
		return score;
	for (size_t t = 0; t < f->in->nthreads; t++) {
		uint64_t tc, e;

		if (!f->in->fs_base[t] || !rd(f, f->in->fs_base[t] + (uint64_t)c->tpoff, &tc) || !tc)
			continue;
		for (unsigned b = 0; b < lay->tc_bins; b++) {
			if (!rd(f, tc + lay->tc_entries + 8 * b, &e) || !e || (e & 15))
				continue;
			/* tcache links point at user memory: 16 past the chunk */
			score += link_points(f, lay, e, 16, seen);
			score += key_points(f, lay, e, tc);
		}
	}
	return score;
}

static void
evaluate(struct finder *f, const struct glibc_layout *lay, uint64_t a, struct arena_eval *ev)
{
	struct candidate c = { .lay = lay, .arena = a, .score = ev->score };
	struct tls_job j = { .f = f, .lay = lay, .ev = ev };
	long s = 0;
	char mpnote[128] = "", tcnote[128] = "";

	c.mp = find_mp(f, lay, a, ev, &s, mpnote, sizeof(mpnote));
	if (c.mp)
		c.score += s;
	s = 0;
	c.have_tpoff = find_tpoff(&j, &c.tpoff, &s, tcnote, sizeof(tcnote));
	c.score += s;
	c.score += judge_links(f, lay, a, &c, &c.links);
	/* A layout with tcache that finds no trace of one (no thread's, mp_
	 * without 64 tcache bins) yields to an older layout without it. */
	if (has_tcache(lay) && !c.have_tpoff && !(c.mp && word(f, c.mp + lay->mp_tcache_bins) == 64))
		c.score -= 20;
	snprintf(c.note, sizeof(c.note), "%s%s%s", mpnote, mpnote[0] && tcnote[0] ? "; " : "",
		 tcnote);
	if (f->npass < MAX_PASSING)
		f->pass[f->npass++] = c;
	else
		f->dropped++;
}

static void
scan_layout(struct finder *f, const struct glibc_layout *lay)
{
	for (size_t i = 0; i < f->in->ndata; i++) {
		const struct map_range *d = &f->in->data[i];

		for (uint64_t a = (d->start + 7) & ~7ULL; a + 8 <= d->end; a += 8) {
			struct arena_eval ev;

			if (judge_arena(f, lay, a, &ev) < 0)
				continue;
			evaluate(f, lay, a, &ev);
			arena_eval_free(&ev);
		}
	}
}

/* Two layouts that read memory the same way (every offset equal).  With
 * no free-list link in memory, the list encoding (safe-linking, the tcache
 * entry's key) cannot be told and makes no difference to the walk; with no
 * thread's tcache found, neither does the tcache's own layout. */
static bool
same_offsets(const struct glibc_layout *x, const struct glibc_layout *y, bool links, bool tcache)
{
	struct glibc_layout a = *x, b = *y;

	a.minor_min = b.minor_min = a.minor_max = b.minor_max = 0;
	if (!tcache) {
		a.mp_tcache_bins = b.mp_tcache_bins = 0;
		a.mp_tcache_max_bytes = b.mp_tcache_max_bytes = 0;
		a.mp_tcache_count = b.mp_tcache_count = 0;
		a.mp_size = b.mp_size = 0;
		a.tc_bins = b.tc_bins = a.tc_small_bins = b.tc_small_bins = 0;
		a.tc_count_size = b.tc_count_size = a.tc_entries = b.tc_entries = 0;
		a.tc_size = b.tc_size = 0;
		a.tc_counts_free_slots = b.tc_counts_free_slots = false;
	}
	if (!links) {
		a.safe_linking = b.safe_linking = false;
		a.tc_entry_key = b.tc_entry_key = false;
		a.tc_key_random = b.tc_key_random = false;
	}
	return !memcmp(&a, &b, sizeof(a));
}

static bool
same_finding(const struct candidate *x, const struct candidate *y)
{
	return x->arena == y->arena && x->mp == y->mp && x->have_tpoff == y->have_tpoff &&
	       (!x->have_tpoff || x->tpoff == y->tpoff) &&
	       same_offsets(x->lay, y->lay, x->links || y->links, x->have_tpoff);
}

static int
decide(const struct finder *f, struct glibc_found *out, char *why, size_t len)
{
	const struct candidate *best = NULL;

	for (size_t i = 0; i < f->npass; i++)
		if (!best || f->pass[i].score > best->score)
			best = &f->pass[i];
	if (!best) {
		snprintf(why, len, "no malloc_state in libc's writable data fits any known glibc "
			 "layout (bins, top, the arena ring)");
		return -1;
	}
	if (f->dropped) {
		snprintf(why, len, "more than %d places in libc's data look like main_arena",
			 MAX_PASSING);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->lay = best->lay;
	out->minor_min = best->lay->minor_min;
	out->minor_max = best->lay->minor_max;
	for (size_t i = 0; i < f->npass; i++) {
		const struct candidate *c = &f->pass[i];

		if (c == best)
			continue;
		if (c->arena != best->arena) {
			snprintf(why, len, "two places fit main_arena: 0x%lx (score %ld) and 0x%lx "
				 "(score %ld); not guessing", (unsigned long)best->arena, best->score,
				 (unsigned long)c->arena, c->score);
			return -1;
		}
		if (same_finding(c, best)) { /* the same reading: both versions fit */
			if (c->lay->minor_min < out->minor_min)
				out->minor_min = c->lay->minor_min;
			if (c->lay->minor_max > out->minor_max)
				out->minor_max = c->lay->minor_max;
		} else if (c->score == best->score) {
			snprintf(why, len, "main_arena 0x%lx fits the layouts of glibc 2.%d-2.%d and "
				 "2.%d-2.%d equally (score %ld); not guessing", (unsigned long)best->arena,
				 best->lay->minor_min, best->lay->minor_max, c->lay->minor_min,
				 c->lay->minor_max, c->score);
			return -1;
		}
	}
	out->main_arena = best->arena;
	out->mp = best->mp;
	out->have_tpoff = best->have_tpoff;
	out->tcache_tpoff = best->tpoff;
	out->score = best->score;
	snprintf(out->note, sizeof(out->note), "%s", best->note);
	return 0;
}

int
glibc_find(const struct glibc_find_input *in, struct glibc_found *out, char *why, size_t len)
{
	struct finder *f = xcalloc(1, sizeof(*f));
	const struct glibc_layout *lay;
	int ret;

	f->in = in;
	f->img = in->img;
	memset(out, 0, sizeof(*out));
	if (in->minor) {
		if (!glibc_layout_for(in->minor)) {
			snprintf(why, len, "glibc 2.%d: heapscan does not know its malloc layout",
				 in->minor);
			free(f);
			return -1;
		}
		/* every row for that version (2.12-2.14: with and without PER_THREAD) */
		for (size_t i = 0; (lay = glibc_layout_at(i)); i++)
			if (in->minor >= lay->minor_min && in->minor <= lay->minor_max)
				scan_layout(f, lay);
	} else {
		for (size_t i = 0; (lay = glibc_layout_at(i)); i++)
			scan_layout(f, lay);
	}
	ret = decide(f, out, why, len);
	if (ret == 0 && in->minor) {
		out->minor_min = out->minor_max = in->minor;
	} else if (ret == 0) {
		out->inferred = true;
	}
	free(f);
	return ret;
}

uint64_t
glibc_find_mp(const struct glibc_find_input *in, const struct glibc_layout *lay,
	      uint64_t main_arena, char *note, size_t len)
{
	struct finder *f = xcalloc(1, sizeof(*f));
	struct arena_eval ev;
	uint64_t mp = 0;
	long score = 0;

	f->in = in;
	f->img = in->img;
	note[0] = '\0';
	if (judge_arena(f, lay, main_arena, &ev) < 0)
		snprintf(note, len, "main_arena does not read as an arena, so mp_ cannot be "
			 "checked against its heap");
	else
		mp = find_mp(f, lay, main_arena, &ev, &score, note, len);
	arena_eval_free(&ev);
	free(f);
	return mp;
}

/* ---- the inputs ---------------------------------------------------------------- */

size_t
glibc_find_ranges(const struct maps *m, const struct map_entry *libc, struct map_range *out,
		  size_t max, uint64_t *lo, uint64_t *hi)
{
	size_t n = 0;
	uint64_t last_end = 0;

	*lo = *hi = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];

		if (e->start < libc->start || strcmp(e->path, libc->path) || e->inode != libc->inode)
			continue;
		if (e->offset == 0 && e->start != libc->start)
			break; /* another copy of the file (dlmopen): not this libc */
		if (!*lo || e->start < *lo)
			*lo = e->start;
		if (e->end > *hi)
			*hi = e->end;
		if ((e->perms & MAP_PERM_W) && n < max) {
			out[n++] = (struct map_range){ e->start, e->end };
			last_end = e->end;
		}
	}
	/* .bss past the file's last page: anonymous, right after */
	for (size_t i = 0; last_end && i < m->n && n < max; i++)
		if (m->v[i].start == last_end && !m->v[i].path[0] && (m->v[i].perms & MAP_PERM_W))
			out[n++] = (struct map_range){ m->v[i].start, m->v[i].end };
	return n;
}

bool
glibc_find_version(const struct image *img, uint64_t lo, uint64_t hi, int *minor)
{
	static const char key[] = "release version 2.";

	for (size_t i = 0; img && i < img->n; i++) {
		const struct region *r = &img->r[i];
		const char *p, *base = (const char *)r->data;
		size_t len = r->end - r->start;

		if (r->start < lo || r->end > hi)
			continue;
		p = memmem(base, len, key, sizeof(key) - 1);
		if (p && libc_parse_version(p, len - (size_t)(p - base), minor))
			return true;
	}
	return false;
}

int
glibc_find_libc(const struct image *img, const struct image *ro, const struct maps *m,
		const struct map_entry *libc, const uint64_t *fs_base, size_t nthreads, int minor,
		struct libc_info *out, char *why, size_t len)
{
	struct map_range data[GLIBC_FIND_MAX_RANGES];
	struct glibc_find_input in = { .img = img, .data = data, .fs_base = fs_base,
				       .nthreads = nthreads, .minor = minor };
	struct glibc_found f;
	uint64_t lo, hi;

	in.ndata = glibc_find_ranges(m, libc, data, GLIBC_FIND_MAX_RANGES, &lo, &hi);
	if (in.minor == 0 && !(ro && glibc_find_version(ro, lo, hi, &in.minor)) &&
	    !glibc_find_version(img, lo, hi, &in.minor))
		in.minor = 0;
	if (in.minor < 0) /* the caller asks for the layout to be inferred */
		in.minor = 0;
	if (glibc_find(&in, &f, why, len) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	if (f.minor_min == f.minor_max)
		snprintf(out->version, sizeof(out->version), "2.%d", f.minor_min);
	else
		snprintf(out->version, sizeof(out->version), "2.%d-2.%d", f.minor_min, f.minor_max);
	out->minor = f.minor_min;
	out->lay = f.lay;
	out->main_arena = f.main_arena;
	out->mp = f.mp;
	out->have_tpoff = f.have_tpoff;
	out->tcache_tpoff = f.tcache_tpoff;
	out->found_by = FOUND_MEMORY;
	out->version_inferred = f.inferred;
	if (f.note[0])
		error_msg("malloc's state found in memory, but %s", f.note);
	return 0;
}

void
glibc_find_mp_libc(const struct image *img, const struct maps *m, const struct map_entry *libc,
		   struct libc_info *out)
{
	struct map_range data[GLIBC_FIND_MAX_RANGES];
	struct glibc_find_input in = { .img = img, .data = data, .minor = out->minor };
	struct glibc_found f;
	uint64_t lo, hi;
	char note[256];

	if (out->mp || !out->lay)
		return;
	in.ndata = glibc_find_ranges(m, libc, data, GLIBC_FIND_MAX_RANGES, &lo, &hi);
	/* the whole memory way for that version: where it agrees on main_arena,
	 * its row (2.12-2.14: with or without PER_THREAD, the one memory fits
	 * best) and its mp_ */
	if (glibc_find(&in, &f, note, sizeof(note)) == 0 && f.main_arena == out->main_arena) {
		out->lay = f.lay;
		out->mp = f.mp;
		snprintf(note, sizeof(note), "%s", f.note);
	} else {
		out->mp = glibc_find_mp(&in, out->lay, out->main_arena, note, sizeof(note));
	}
	if (!out->mp)
		error_msg("mp_ was not found (%s): glibc's own count of mmapped chunks is not "
			  "compared with the walk", note);
}
