/*
 * reach.c - mark the live chunks the program can still get to (see reach.h).
 *
 * Looking up a word: the chunks of the heap model lie in segments, runs of
 * chunks that follow each other without a gap (an arena's heap, one mmapped
 * chunk).  Each segment keeps a table of the chunk covering every G-byte
 * bucket, G a power of two chosen so the table has about one entry per
 * chunk; a word finds its segment by binary search (the last segment hit is
 * tried first: pointers cluster), its bucket by a shift, and its chunk by a
 * short forward walk.
 *
 *   segment: base                                               end
 *            | chunk 0 | chunk 1 |  chunk 2  | c3 | ... | top      |
 *   buckets: ^ 0        ^ 1        ^ 2        ^ 3  ...   (each: the chunk
 *                                                         holding its start)
 *
 * A word w points into the chunk c whose header is the last one at or below
 * w - 16, if w lies in [c + 16, c + size).  A chunk in an arena has 8 more
 * usable bytes, the next chunk's prev_size field; they are scanned, but a
 * pointer to them is not taken as one into c: it is more often a pointer to
 * the next chunk's header (malloc's bins hold those), and counting it would
 * keep c alive by malloc's own bookkeeping.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "par.h"
#include "progress.h"
#include "reach.h"
#include "scan.h"
#include "xmalloc.h"

#define MIN_BUCKET_SHIFT 8
#define RED_ZONE 128

/* Live chunks keep state UNREACHED until marked or classified; POINTED marks
 * unreached ones another unreached chunk points to. */
#define UNREACHED 0xff
#define POINTED 0xfe

struct segment {
	uint64_t base, end;
	uint32_t first, last; /* chunk indices, inclusive */
	unsigned shift;
	uint32_t *bucket;     /* NULL: few chunks, walk from first */
};

struct reach_index {
	const struct hs_chunk *c;
	const uint8_t *pre;   /* heap_model.py_pre: GC heads, or NULL */
	const uint32_t *span; /* heap_model.py_span: bytes holding data, or NULL */
	const struct owned_range *dead; /* heap_model.py_dead */
	size_t ndead;
	size_t nchunks;
	struct segment *seg;
	size_t nseg;
	uint64_t lo, hi;
};

/* Edges a scanner found (reach_opts.graph), as records: chunk, count, then
 * count target chunks.  Each scanner has its own; reach_run joins them. */
struct ebuf {
	uint32_t *p;
	size_t n, cap;
};

struct marker {
	const struct reach_index *ix;
	uint8_t *state;
	uint32_t *queue;
	size_t qhead, qtail;
	size_t last_seg;
	struct reach *r;   /* for chains */
	bool chains;
	struct reach_graph *graph; /* NULL: no edges kept */
	struct ebuf *eb;           /* the edge buffers of every scanner */
	size_t neb, eb_cap;
};

const char *
reach_state_name(enum reach_state s)
{
	static const char *const names[RS__N] = { "free", "reachable", "leaked", "indirect" };

	return s < RS__N ? names[s] : "?";
}

const unsigned char *
reach_chunk_bytes(const struct image *img, const struct hs_chunk *c, uint64_t *len)
{
	const unsigned char *p;

	*len = c->size - 16 + (c->kind == CK_MMAPPED ? 0 : 8);
	p = image_ptr(img, c->addr + 16, *len);
	if (!p && c->kind != CK_MMAPPED) { /* the 8 borrowed bytes may run past the image */
		*len -= 8;
		p = image_ptr(img, c->addr + 16, *len);
	}
	return p;
}

/* Where a pointer must fall to point into c (see the top of the file). */
static inline void
target_range(const struct hs_chunk *c, uint64_t *start, uint64_t *end)
{
	*start = c->addr + 16;
	*end = c->addr + c->size;
}

static bool
is_live(const struct hs_chunk *c)
{
	return c->kind == CK_INUSE || c->kind == CK_MMAPPED;
}

/* Chunk j's scanned bytes, len of them, less its slack (heap_model.py_span). */
static inline void
data_len(const uint32_t *span, size_t j, uint64_t *len)
{
	if (span && span[j] && span[j] - 1u < *len)
		*len = span[j] - 1u;
}

/* Whether chunk c holds stale ranges (heap_model.py_dead), and whether the
 * word at a is in one.  They are few: a linear look. */
static inline bool
holds_dead(const struct owned_range *d, size_t n, const struct hs_chunk *c)
{
	return n && c->addr < d[n - 1].end && c->addr + c->size > d[0].start;
}

static inline bool
dead_at(const struct owned_range *d, size_t n, uint64_t a)
{
	for (size_t i = 0; i < n; i++)
		if (a >= d[i].start && a < d[i].end)
			return true;
	return false;
}

/* The offsets from malloc's pointer of chunk j's GC head (pynodes.h):
 * [*lo, *hi), empty when it holds no GC-tracked Python object. */
static inline void
gc_head(const uint8_t *pre, size_t j, uint64_t *lo, uint64_t *hi)
{
	*lo = *hi = 0;
	if (pre && pre[j]) {
		*lo = 16u * (pre[j] - 1u);
		*hi = *lo + 16;
	}
}

/* ---- edges, for the graph ------------------------------------------------ */

static inline void
ebuf_push(struct ebuf *b, uint32_t v)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 1 << 16;
		b->p = xreallocarray(b->p, b->cap, sizeof(*b->p));
	}
	b->p[b->n++] = v;
}

/* Start chunk j's record; ebuf_end fills its count, or drops it when empty. */
static inline size_t
ebuf_begin(struct ebuf *b, uint32_t j)
{
	ebuf_push(b, j);
	ebuf_push(b, 0);
	return b->n;
}

static inline void
ebuf_end(struct ebuf *b, size_t start)
{
	if (b->n == start)
		b->n -= 2;
	else
		b->p[start - 1] = (uint32_t)(b->n - start);
}

/* ---- the index ---------------------------------------------------------- */

static void
segment_buckets(struct segment *sg, const struct hs_chunk *c)
{
	size_t n = (size_t)sg->last - sg->first + 1;
	uint64_t len = sg->end - sg->base;
	size_t nb;
	uint32_t j = sg->first;

	if (n <= 8)
		return;
	sg->shift = MIN_BUCKET_SHIFT;
	while ((len >> sg->shift) > 2 * n)
		sg->shift++;
	nb = (size_t)(len >> sg->shift) + 1;
	sg->bucket = xmalloc(nb * sizeof(*sg->bucket));
	for (size_t b = 0; b < nb; b++) {
		uint64_t a = sg->base + ((uint64_t)b << sg->shift);

		while (j < sg->last && c[j + 1].addr <= a)
			j++;
		sg->bucket[b] = j;
	}
}

static struct reach_index *
index_build(const struct heap_model *h)
{
	struct reach_index *ix = xcalloc(1, sizeof(*ix));
	size_t cap = 0;

	ix->c = h->chunks;
	ix->pre = h->py_pre;
	ix->span = h->py_span;
	ix->dead = h->py_dead;
	ix->ndead = h->npy_dead;
	ix->nchunks = h->nchunks;
	for (size_t i = 0; i < h->nchunks; i++) {
		const struct hs_chunk *c = &h->chunks[i];
		struct segment *sg = ix->nseg ? &ix->seg[ix->nseg - 1] : NULL;

		/* jemalloc regions (chunks at pointer - 16, include/jemalloc.h) that
		 * follow each other overlap by those 16 bytes: one segment too */
		if (sg && ((c->addr == sg->end && c->kind != CK_MMAPPED &&
			    h->chunks[sg->last].kind != CK_MMAPPED) ||
			   c->addr + 16 == sg->end) && c->addr + c->size > c->addr) {
			sg->end = c->addr + c->size;
			sg->last = (uint32_t)i;
			continue;
		}
		if (ix->nseg == cap) {
			cap = cap ? 2 * cap : 64;
			ix->seg = xreallocarray(ix->seg, cap, sizeof(*ix->seg));
		}
		sg = &ix->seg[ix->nseg++];
		*sg = (struct segment){ .base = c->addr, .end = c->addr + c->size,
					.first = (uint32_t)i, .last = (uint32_t)i };
	}
	for (size_t i = 0; i < ix->nseg; i++)
		segment_buckets(&ix->seg[i], ix->c);
	if (ix->nseg) {
		ix->lo = ix->seg[0].base + 16;
		ix->hi = ix->seg[ix->nseg - 1].end + 8;
	}
	return ix;
}

static void
index_free(struct reach_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->nseg; i++)
		free(ix->seg[i].bucket);
	free(ix->seg);
	free(ix);
}

/* Segment whose [base, end) holds key, or -1. */
static long
index_segment(const struct reach_index *ix, uint64_t key, size_t *hint)
{
	size_t lo = 0, hi = ix->nseg;
	const struct segment *sg = &ix->seg[*hint];

	if (key >= sg->base && key < sg->end)
		return (long)*hint;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->seg[mid].end <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ix->nseg || key < ix->seg[lo].base)
		return -1;
	*hint = lo;
	return (long)lo;
}

/* Live chunk whose user bytes hold w, or -1. */
static inline long
index_lookup(const struct reach_index *ix, uint64_t w, size_t *hint)
{
	const struct segment *sg;
	const struct hs_chunk *c;
	uint64_t key, s, e;
	long si;
	uint32_t j;

	if (w < ix->lo || w >= ix->hi)
		return -1;
	key = w - 16;
	si = index_segment(ix, key, hint);
	if (si < 0)
		return -1;
	sg = &ix->seg[si];
	j = sg->bucket ? sg->bucket[(key - sg->base) >> sg->shift] : sg->first;
	while (j < sg->last && ix->c[j + 1].addr <= key)
		j++;
	c = &ix->c[j];
	if (!is_live(c))
		return -1;
	target_range(c, &s, &e);
	if (w < s || w >= e)
		return -1;
	if (ix->pre && ix->pre[j] && w - s >= 16u * (ix->pre[j] - 1u) && w - s < 16u * ix->pre[j])
		return -1; /* into a GC head: the collector's list, not a reference */
	return (long)j;
}

long
reach_chunk_of(const struct reach *r, const struct heap_model *h, uint64_t addr)
{
	size_t lo = 0, hi = h->nchunks;

	(void)r;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->chunks[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	const struct hs_chunk *c = &h->chunks[lo - 1];

	/* jemalloc regions (include/jemalloc.h): the next one's pseudo-header
	 * covers this one's last 16 bytes; glibc chunks never overlap */
	if (lo >= 2 && addr < c->addr + 16 && addr < h->chunks[lo - 2].addr + h->chunks[lo - 2].size)
		c = &h->chunks[--lo - 1];
	if (!is_live(c) || addr >= c->addr + c->size ||
	    (c->arena == CHUNK_ARENA_BLOCK && addr < c->addr + 16)) /* a block has no header */
		return -1;
	return (long)(lo - 1);
}

/* ---- marking ------------------------------------------------------------ */

static void
add_root(struct reach *r, const struct reach_root *root)
{
	if (r->nroots == r->roots_cap) {
		r->roots_cap = r->roots_cap ? 2 * r->roots_cap : 256;
		r->roots = xreallocarray(r->roots, r->roots_cap, sizeof(*r->roots));
	}
	r->roots[r->nroots++] = *root;
}

static void graph_add_root(struct reach_graph *g, const struct reach_root *root, uint32_t chunk);
static void graph_join(struct reach_graph *g, struct ebuf *eb, size_t neb, size_t nchunks);

/* Mark live chunk j (-1: none) reached from chunk from or from root. */
static inline void
mark_at(struct marker *m, long j, uint32_t from, uint64_t off, const struct reach_root *root)
{
	if (j < 0 || m->state[j] != UNREACHED)
		return;
	m->state[j] = RS_REACHABLE;
	m->queue[m->qtail++] = (uint32_t)j;
	if (!m->chains)
		return;
	if (root) {
		m->r->parent[j] = REACH_PARENT_ROOT;
		m->r->via[j] = (uint32_t)m->r->nroots;
		add_root(m->r, root);
	} else {
		m->r->parent[j] = from;
		m->r->via[j] = off > UINT32_MAX ? UINT32_MAX : (uint32_t)off;
	}
}

static inline void
mark(struct marker *m, uint64_t w, uint32_t from, uint64_t off, const struct reach_root *root)
{
	long j = index_lookup(m->ix, w, &m->last_seg);

	if (j >= 0 && root && m->graph)
		graph_add_root(m->graph, root, (uint32_t)j);
	mark_at(m, j, from, off, root);
}

/* Scan [start, end) of target memory, whose bytes are at p, as roots. */
static void
scan_root_range(struct marker *m, const unsigned char *p, uint64_t start, uint64_t end,
		struct reach_root *proto)
{
	uint64_t a = (start + 7) & ~(uint64_t)7;

	if (end < a)
		return;
	for (; a + 8 <= end; a += 8) {
		uint64_t w;

		memcpy(&w, p + (a - start), 8);
		if (w < m->ix->lo || w >= m->ix->hi)
			continue;
		proto->addr = a;
		mark(m, w, 0, 0, proto);
	}
	m->r->root_bytes += end - start;
}

static void
scan_chunk(struct marker *m, const struct image *img, uint32_t j)
{
	static _Thread_local uint32_t tick; /* chunks since the progress line was told */
	uint64_t len;
	const unsigned char *p = reach_chunk_bytes(img, &m->ix->c[j], &len);
	struct ebuf *eb = m->graph ? &m->eb[0] : NULL;
	size_t start = 0;
	long prev = -1;
	uint64_t glo, ghi;

	bool dead = holds_dead(m->ix->dead, m->ix->ndead, &m->ix->c[j]);

	gc_head(m->ix->pre, j, &glo, &ghi);
	data_len(m->ix->span, j, &len);
	if (++tick == 65536) {
		tick = 0;
		progress_add(65536);
	}
	if (!p)
		return;
	m->r->scanned_bytes += len;
	if (eb)
		start = ebuf_begin(eb, j);
	for (uint64_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;
		long t;

		memcpy(&w, p + off, 8);
		if (w < m->ix->lo || w >= m->ix->hi || (off >= glo && off < ghi) ||
		    (dead && dead_at(m->ix->dead, m->ix->ndead, m->ix->c[j].addr + 16 + off)))
			continue;
		t = index_lookup(m->ix, w, &m->last_seg);
		if (eb && t >= 0 && t != (long)j && t != prev) {
			ebuf_push(eb, (uint32_t)t);
			prev = t;
		}
		mark_at(m, t, j, off + 16, NULL);
	}
	if (eb)
		ebuf_end(eb, start);
}

static void
drain(struct marker *m, const struct image *img)
{
	while (m->qhead < m->qtail)
		scan_chunk(m, img, m->queue[m->qhead++]);
}

/* ---- marking on two cores ------------------------------------------------ *
 *
 * Without chains the order of marking does not matter, so the drain runs on
 * par_jobs() threads (par.h).  Each keeps a stack of chunks to scan; a chunk is claimed by
 * the thread whose compare-and-swap moves its state from UNREACHED, so each
 * is scanned once.  A thread with a deep stack hands blocks of it to a
 * shared pool; a thread with an empty stack takes one, and when both are
 * empty and the pool is too, the mark is complete.  A long linked list
 * stays with one thread: its nodes are found one at a time.
 */

#define MARK_BLOCK 1024
#define MARK_PARALLEL_MIN 65536 /* live chunks below which one thread does it */

struct mark_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint32_t **blocks;  /* each MARK_BLOCK chunk indices */
	size_t n, cap;
	int idle, nthreads; /* threads waiting for work, threads running */
	bool done;
};

struct mark_worker {
	const struct reach_index *ix;
	const struct image *img;
	uint8_t *state;
	struct mark_pool *pool;
	uint32_t *stack;
	size_t n, cap;
	size_t last_seg;
	uint64_t scanned_bytes;
	struct ebuf *eb;    /* NULL: no edges kept */
	pthread_t th;
	bool started;
};

static void
worker_push(struct mark_worker *w, uint32_t j)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 4 * MARK_BLOCK;
		w->stack = xreallocarray(w->stack, w->cap, sizeof(*w->stack));
	}
	w->stack[w->n++] = j;
}

/* Hand the newest MARK_BLOCK entries to the pool when it is empty. */
static void
worker_share(struct mark_worker *w)
{
	struct mark_pool *p = w->pool;
	uint32_t *b;

	if (w->n < 2 * MARK_BLOCK || __atomic_load_n(&p->n, __ATOMIC_RELAXED))
		return;
	b = xmalloc(MARK_BLOCK * sizeof(*b));
	w->n -= MARK_BLOCK;
	memcpy(b, w->stack + w->n, MARK_BLOCK * sizeof(*b));
	pthread_mutex_lock(&p->mu);
	p->blocks = xgrow(p->blocks, &p->cap, p->n + 1, sizeof(*p->blocks));
	p->blocks[p->n] = b;
	__atomic_store_n(&p->n, p->n + 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Refill an empty stack from the pool; false when the mark is complete:
 * every thread waits for work and the pool is empty, so none can appear. */
static bool
worker_refill(struct mark_worker *w)
{
	struct mark_pool *p = w->pool;
	uint32_t *b = NULL;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->n) {
			b = p->blocks[--p->n];
			break;
		}
		if (p->done)
			break;
		if (++p->idle == p->nthreads) {
			p->done = true;
			pthread_cond_broadcast(&p->cv);
			break;
		}
		pthread_cond_wait(&p->cv, &p->mu);
		p->idle--;
	}
	pthread_mutex_unlock(&p->mu);
	if (!b)
		return false;
	for (size_t i = 0; i < MARK_BLOCK; i++)
		worker_push(w, b[i]);
	free(b);
	return true;
}

static void
worker_scan(struct mark_worker *w, uint32_t j)
{
	uint64_t len;
	const unsigned char *p = reach_chunk_bytes(w->img, &w->ix->c[j], &len);
	size_t start = 0;
	long prev = -1;
	uint64_t glo, ghi;

	if (!p)
		return;
	bool dead = holds_dead(w->ix->dead, w->ix->ndead, &w->ix->c[j]);

	gc_head(w->ix->pre, j, &glo, &ghi);
	data_len(w->ix->span, j, &len);
	w->scanned_bytes += len;
	if (w->eb)
		start = ebuf_begin(w->eb, j);
	for (uint64_t off = 0; off + 8 <= len; off += 8) {
		uint64_t v;
		long t;
		uint8_t expect = UNREACHED;

		memcpy(&v, p + off, 8);
		if (v < w->ix->lo || v >= w->ix->hi || (off >= glo && off < ghi) ||
		    (dead && dead_at(w->ix->dead, w->ix->ndead, w->ix->c[j].addr + 16 + off)))
			continue;
		t = index_lookup(w->ix, v, &w->last_seg);
		if (t < 0)
			continue;
		if (w->eb && t != (long)j && t != prev) {
			ebuf_push(w->eb, (uint32_t)t);
			prev = t;
		}
		if (__atomic_load_n(&w->state[t], __ATOMIC_RELAXED) != UNREACHED)
			continue;
		if (__atomic_compare_exchange_n(&w->state[t], &expect, RS_REACHABLE, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			worker_push(w, (uint32_t)t);
		/* a big array of pointers is one chunk: share what it finds as
		 * it goes, or the other thread waits for the whole scan */
		if ((off & 0xffff) == 0)
			worker_share(w);
	}
	if (w->eb)
		ebuf_end(w->eb, start);
}

static void *
worker_main(void *arg)
{
	struct mark_worker *w = arg;

	do {
		while (w->n) {
			worker_scan(w, w->stack[--w->n]);
			worker_share(w);
		}
	} while (worker_refill(w));
	return NULL;
}

/* Drain the queue the roots filled on par_jobs() threads (fewer if a
 * thread cannot be started: the stacks it would have had go to the first).
 * Which thread marks a chunk differs from run to run; what is marked does
 * not, and the graph's edges are sorted when the buffers are joined. */
static void
drain_parallel(struct marker *m, const struct image *img)
{
	int nt = par_jobs();
	struct mark_pool pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
				  .nthreads = nt };
	struct mark_worker *w = xcalloc((size_t)nt, sizeof(*w));
	size_t per = (m->qtail - m->qhead) / (size_t)nt + 1;

	if (m->graph) {
		m->eb = xgrow(m->eb, &m->eb_cap, m->neb + (size_t)nt, sizeof(*m->eb));
		memset(m->eb + m->neb, 0, (size_t)nt * sizeof(*m->eb));
	}
	for (int i = 0; i < nt; i++) {
		w[i] = (struct mark_worker){ .ix = m->ix, .img = img, .state = m->state, .pool = &pool,
					     .eb = m->graph ? &m->eb[m->neb + i] : NULL };
		for (size_t k = 0; k < per && m->qhead < m->qtail; k++)
			worker_push(&w[i], m->queue[m->qhead++]);
	}
	for (int i = 1; i < nt; i++) {
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) == 0) {
			w[i].started = true;
			continue;
		}
		while (w[i].n)
			worker_push(&w[0], w[i].stack[--w[i].n]);
		pthread_mutex_lock(&pool.mu);
		if (--pool.nthreads == pool.idle) { /* the others wait for work it would share */
			pool.done = !pool.n;
			pthread_cond_broadcast(&pool.cv);
		}
		pthread_mutex_unlock(&pool.mu);
	}
	worker_main(&w[0]);
	if (m->graph)
		m->neb += (size_t)nt;
	for (int i = 0; i < nt; i++) {
		if (w[i].started)
			pthread_join(w[i].th, NULL);
		m->r->scanned_bytes += w[i].scanned_bytes;
		free(w[i].stack);
	}
	for (size_t i = 0; i < pool.n; i++)
		free(pool.blocks[i]);
	free(pool.blocks);
	free(w);
}

/* ---- roots -------------------------------------------------------------- */

struct cut {
	uint64_t start, end;
};

static int
cmp_cut(const void *a, const void *b)
{
	const struct cut *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The thread whose stack pointer lies in [start, end), or -1; *low gets the
 * lowest such stack pointer less the red zone. */
static int
stack_thread(const struct scan *s, uint64_t start, uint64_t end, uint64_t *low)
{
	int t = -1;

	for (size_t i = 0; s->regs && i < s->nthreads; i++) {
		uint64_t sp = s->regs[i].regs.rsp;

		if (!s->regs[i].have_regs || sp < start || sp >= end)
			continue;
		/* A leaf function may keep live data in the 128 bytes below sp;
		 * a thread stopped in a system call is not in one (the wrappers
		 * call out), and its red zone holds only dead frames' words. */
		if ((int64_t)s->regs[i].regs.orig_rax < 0)
			sp = sp - start >= RED_ZONE ? sp - RED_ZONE : start;
		if (t < 0 || sp < *low)
			*low = sp;
		if (t < 0)
			t = (int)i;
	}
	return t;
}

static enum root_kind
region_kind(const struct image *img, size_t i)
{
	const struct region *r = &img->r[i];

	if (r->name[0] == '/')
		return ROOT_MODULE;
	/* a module's .bss runs on into an anonymous mapping right after it */
	if (!r->name[0] && i > 0 && img->r[i - 1].end == r->start && img->r[i - 1].name[0] == '/')
		return ROOT_MODULE;
	return ROOT_ANON;
}

/* The pieces of image region ri that are roots: the region less malloc's
 * segments and less the dead part of a stack.  fn gets each piece. */
typedef void (*piece_fn)(void *arg, const unsigned char *p, uint64_t start, uint64_t end,
			 struct reach_root *proto);

static void
region_root_pieces(const struct scan *s, const struct reach_index *ix, size_t ri, piece_fn fn,
		   void *arg)
{
	const struct region *r = &s->img.r[ri];
	struct cut *cuts = NULL;
	size_t ncuts = 0, cap = 8, lo = 0, hi = ix->nseg;
	uint64_t low = 0, pos = r->start;
	int t = stack_thread(s, r->start, r->end, &low);
	struct reach_root proto = { .kind = t >= 0 ? ROOT_STACK : region_kind(&s->img, ri),
				    .thread = t, .reg = -1 };

	cap += r->nholes;
	cuts = xmalloc(cap * sizeof(*cuts));
	if (t >= 0 && low > r->start)
		cuts[ncuts++] = (struct cut){ r->start, low };
	for (size_t h = 0; h < r->nholes; h++) /* no bytes there: nothing to scan */
		cuts[ncuts++] = (struct cut){ r->holes[h].start, r->holes[h].end };
	while (lo < hi) { /* the first segment that ends past the region's start */
		size_t mid = lo + (hi - lo) / 2;

		if (ix->seg[mid].end <= r->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < ix->nseg && ix->seg[i].base < r->end; i++) {
		if (ncuts == cap) {
			cap *= 2;
			cuts = xreallocarray(cuts, cap, sizeof(*cuts));
		}
		cuts[ncuts++] = (struct cut){ ix->seg[i].base, ix->seg[i].end };
	}
	lo = 0;
	hi = s->heap.nowned;
	while (lo < hi) { /* malloc's, though no chunk: the first ending past start */
		size_t mid = lo + (hi - lo) / 2;

		if (s->heap.owned[mid].end <= r->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < s->heap.nowned && s->heap.owned[i].start < r->end; i++) {
		const struct owned_range *o = &s->heap.owned[i];

		if (ncuts == cap) {
			cap *= 2;
			cuts = xreallocarray(cuts, cap, sizeof(*cuts));
		}
		cuts[ncuts++] = (struct cut){ o->start, o->end };
	}
	qsort(cuts, ncuts, sizeof(*cuts), cmp_cut);
	for (size_t i = 0; i <= ncuts; i++) {
		uint64_t stop = i < ncuts ? cuts[i].start : r->end;

		if (stop > r->end)
			stop = r->end;
		if (stop > pos)
			fn(arg, r->data + (pos - r->start), pos, stop, &proto);
		if (i < ncuts && cuts[i].end > pos)
			pos = cuts[i].end;
	}
	free(cuts);
}

static void
mark_piece(void *arg, const unsigned char *p, uint64_t start, uint64_t end,
	   struct reach_root *proto)
{
	scan_root_range(arg, p, start, end, proto);
}

/* A read-only region's pieces outside its holes. */
static void
ro_pieces(const struct region *r, piece_fn fn, void *arg)
{
	struct reach_root proto = { .kind = ROOT_MODULE, .thread = -1, .reg = -1 };
	uint64_t pos = r->start;

	for (size_t h = 0; h <= r->nholes; h++) {
		uint64_t stop = h < r->nholes ? r->holes[h].start : r->end;

		if (stop > pos)
			fn(arg, r->data + (pos - r->start), pos, stop, &proto);
		if (h < r->nholes && r->holes[h].end > pos)
			pos = r->holes[h].end;
	}
}

static void
scan_register_roots(struct marker *m, const struct scan *s)
{
	for (size_t i = 0; s->regs && i < s->nthreads; i++) {
		uint64_t w[sizeof(struct user_regs_struct) / 8];

		if (!s->regs[i].have_regs)
			continue;
		memcpy(w, &s->regs[i].regs, sizeof(w));
		for (size_t k = 0; k < sizeof(w) / 8; k++) {
			struct reach_root root = { .kind = ROOT_REGISTER, .addr = w[k],
						   .thread = (int)i, .reg = (int)k };

			mark(m, w[k], 0, 0, &root);
		}
	}
}

static void
scan_roots(struct marker *m, const struct scan *s)
{
	scan_register_roots(m, s);
	for (size_t i = 0; i < s->img.n; i++)
		region_root_pieces(s, m->ix, i, mark_piece, m);
	for (size_t i = 0; i < s->ro.n; i++)
		ro_pieces(&s->ro.r[i], mark_piece, m);
}

/* ---- leaks -------------------------------------------------------------- */

static void
point_from(struct marker *m, const struct image *img, uint32_t j, bool flood)
{
	uint64_t len;
	const unsigned char *p = reach_chunk_bytes(img, &m->ix->c[j], &len);
	uint64_t glo, ghi;

	if (!p)
		return;
	bool dead = holds_dead(m->ix->dead, m->ix->ndead, &m->ix->c[j]);

	gc_head(m->ix->pre, j, &glo, &ghi);
	data_len(m->ix->span, j, &len);
	for (uint64_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;
		long t;

		if ((off >= glo && off < ghi) ||
		    (dead && dead_at(m->ix->dead, m->ix->ndead, m->ix->c[j].addr + 16 + off)))
			continue;
		memcpy(&w, p + off, 8);
		t = index_lookup(m->ix, w, &m->last_seg);
		if (t < 0 || (uint32_t)t == j)
			continue;
		if (!flood) {
			if (m->state[t] == UNREACHED)
				m->state[t] = POINTED;
		} else if (m->state[t] == UNREACHED || m->state[t] == POINTED) {
			m->state[t] = RS_INDIRECT;
			m->queue[m->qtail++] = (uint32_t)t;
		}
	}
}

static void
flood_from(struct marker *m, const struct image *img, uint32_t j)
{
	m->state[j] = RS_DIRECT;
	m->qhead = m->qtail = 0;
	m->queue[m->qtail++] = j;
	while (m->qhead < m->qtail)
		point_from(m, img, m->queue[m->qhead++], true);
}

static void
classify_leaks(struct marker *m, const struct image *img, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (m->state[j] == UNREACHED || m->state[j] == POINTED)
			point_from(m, img, (uint32_t)j, false);
	for (size_t j = 0; j < n; j++) /* heads: nothing leaked points to them */
		if (m->state[j] == UNREACHED)
			flood_from(m, img, (uint32_t)j);
	for (size_t j = 0; j < n; j++) /* cycles: the lowest address leads */
		if (m->state[j] == POINTED)
			flood_from(m, img, (uint32_t)j);
}

void
reach_run(const struct scan *s, const struct reach_opts *opts, struct reach *r)
{
	const struct heap_model *h = &s->heap;
	double t0 = now_ms();
	struct marker m = { 0 };

	memset(r, 0, sizeof(*r));
	r->nchunks = h->nchunks;
	/* the per-chunk arrays, charged so that a bounded scan's windows make
	 * room for them (xmalloc.h) */
	r->charged = h->nchunks * (1 + (opts && opts->chains ? 2 * sizeof(*r->parent) : 0));
	mem_charge(r->charged + h->nchunks * sizeof(*m.queue));
	r->state = xcalloc(h->nchunks ? h->nchunks : 1, 1);
	r->index = index_build(h);
	m.ix = r->index;
	m.state = r->state;
	m.r = r;
	m.chains = opts && opts->chains;
	m.graph = opts ? opts->graph : NULL;
	if (m.graph) {
		memset(m.graph, 0, sizeof(*m.graph));
		m.eb = xgrow(NULL, &m.eb_cap, 1 + (size_t)par_jobs(), sizeof(*m.eb));
		memset(m.eb, 0, m.eb_cap * sizeof(*m.eb));
		m.neb = 1; /* eb[0]: the one-thread drain's */
	}
	m.queue = xmalloc((h->nchunks ? h->nchunks : 1) * sizeof(*m.queue));
	if (m.chains) {
		r->parent = xmalloc((h->nchunks ? h->nchunks : 1) * sizeof(*r->parent));
		r->via = xmalloc((h->nchunks ? h->nchunks : 1) * sizeof(*r->via));
	}
	size_t live = 0;

	for (size_t j = 0; j < h->nchunks; j++) {
		r->state[j] = is_live(&h->chunks[j]) ? UNREACHED : RS_FREE;
		live += r->state[j] == UNREACHED;
	}
	progress_phase("marking", live);
	if (r->index->nseg) {
		scan_roots(&m, s);
		if (m.chains || h->nchunks < MARK_PARALLEL_MIN || par_jobs() < 2)
			drain(&m, &s->img); /* breadth first: --why's chains are shortest */
		else
			drain_parallel(&m, &s->img);
		r->scanned_bytes += r->root_bytes;
		classify_leaks(&m, &s->img, h->nchunks);
	}
	if (m.graph) {
		double tg = now_ms();

		graph_join(m.graph, m.eb, m.neb, h->nchunks);
		free(m.eb);
		m.graph->ms = now_ms() - tg;
	}
	for (size_t j = 0; j < h->nchunks; j++) {
		r->count[r->state[j]]++;
		r->bytes[r->state[j]] += chunk_shown_size(h, &h->chunks[j]);
	}
	free(m.queue);
	mem_uncharge(h->nchunks * sizeof(*m.queue));
	r->ms = now_ms() - t0;
}

void
reach_adopt(struct reach *r, const struct heap_model *h, uint8_t *state)
{
	memset(r, 0, sizeof(*r));
	r->state = state;
	r->nchunks = h->nchunks;
	for (size_t j = 0; j < h->nchunks; j++) {
		r->count[state[j]]++;
		r->bytes[state[j]] += chunk_shown_size(h, &h->chunks[j]);
	}
}

void
reach_free(struct reach *r)
{
	free(r->state);
	free(r->parent);
	free(r->via);
	mem_uncharge(r->charged);
	free(r->roots);
	index_free(r->index);
	memset(r, 0, sizeof(*r));
}

/* ---- chains and referrers ----------------------------------------------- */

size_t
reach_chain(const struct reach *r, size_t idx, uint32_t *chain, size_t max,
	    struct reach_root *root)
{
	size_t n = 0;
	uint32_t j = (uint32_t)idx;

	if (!r->parent || idx >= r->nchunks || r->state[idx] != RS_REACHABLE)
		return 0;
	/* count first, then fill from the root side */
	for (uint32_t k = j;; k = r->parent[k]) {
		n++;
		if (r->parent[k] == REACH_PARENT_ROOT || n > r->nchunks)
			break;
	}
	if (n > max)
		return n;
	for (size_t i = n; i-- > 0; j = r->parent[j]) {
		chain[i] = j;
		if (i == 0)
			*root = r->roots[r->via[j]];
	}
	return n;
}

struct referrers {
	const struct reach_index *ix;
	uint64_t us, ue;      /* the target chunk's user bytes */
	uint64_t gs, ge;      /* its GC head's, not pointed into by references */
	uint64_t skip_lo, skip_hi; /* the searched chunk's GC head: not searched */
	const struct owned_range *dead; /* stale ranges inside it, or NULL */
	size_t ndead;
	reach_referrer_fn fn;
	void *arg;
	long chunk;           /* the chunk being searched, -1 for roots */
	uint64_t base;        /* its header address */
};

static void
referrers_in(void *arg, const unsigned char *p, uint64_t start, uint64_t end,
	     struct reach_root *proto)
{
	struct referrers *rf = arg;

	for (uint64_t a = (start + 7) & ~(uint64_t)7; a + 8 <= end; a += 8) {
		uint64_t w;

		memcpy(&w, p + (a - start), 8);
		if (w < rf->us || w >= rf->ue || (w >= rf->gs && w < rf->ge))
			continue;
		if (rf->chunk >= 0 && ((a - start >= rf->skip_lo && a - start < rf->skip_hi) ||
				       (rf->dead && dead_at(rf->dead, rf->ndead, a))))
			continue;
		if (rf->chunk >= 0) {
			rf->fn(rf->arg, rf->chunk, a - rf->base, NULL);
		} else {
			proto->addr = a;
			rf->fn(rf->arg, -1, 0, proto);
		}
	}
}

void
reach_referrers(const struct scan *s, const struct reach *r, size_t idx, reach_referrer_fn fn,
		void *arg)
{
	const struct heap_model *h = &s->heap;
	struct referrers rf = { .ix = r->index, .fn = fn, .arg = arg, .chunk = -1 };

	if (idx >= h->nchunks)
		return;
	target_range(&h->chunks[idx], &rf.us, &rf.ue);
	gc_head(h->py_pre, idx, &rf.gs, &rf.ge);
	rf.gs += rf.us;
	rf.ge += rf.us;
	for (size_t i = 0; s->regs && i < s->nthreads; i++) {
		uint64_t w[sizeof(struct user_regs_struct) / 8];

		if (!s->regs[i].have_regs)
			continue;
		memcpy(w, &s->regs[i].regs, sizeof(w));
		for (size_t k = 0; k < sizeof(w) / 8; k++) {
			struct reach_root root = { .kind = ROOT_REGISTER, .addr = w[k],
						   .thread = (int)i, .reg = (int)k };

			if (w[k] >= rf.us && w[k] < rf.ue && !(w[k] >= rf.gs && w[k] < rf.ge))
				fn(arg, -1, 0, &root);
		}
	}
	for (size_t i = 0; i < s->img.n; i++)
		region_root_pieces(s, r->index, i, referrers_in, &rf);
	for (size_t i = 0; i < s->ro.n; i++)
		ro_pieces(&s->ro.r[i], referrers_in, &rf);
	for (size_t j = 0; j < h->nchunks; j++) {
		const struct hs_chunk *c = &h->chunks[j];
		uint64_t len;
		const unsigned char *p;

		if (!is_live(c) || !(p = reach_chunk_bytes(&s->img, c, &len)))
			continue;
		rf.chunk = (long)j;
		rf.base = c->addr;
		gc_head(h->py_pre, j, &rf.skip_lo, &rf.skip_hi);
		data_len(h->py_span, j, &len);
		rf.dead = holds_dead(h->py_dead, h->npy_dead, c) ? h->py_dead : NULL;
		rf.ndead = h->npy_dead;
		referrers_in(&rf, p, c->addr + 16, c->addr + 16 + len, NULL);
	}
}

/* ---- the pointer graph ---------------------------------------------------- *
 *
 * Kept as the mark goes (reach_opts.graph): each root word that points into
 * a live chunk, and each scanner's records of the edges out of the chunks it
 * scanned.  Every reachable chunk is scanned once, by one scanner, so
 * joining the records gives each its edges: counts first, then the copy.
 */

static void
graph_add_root(struct reach_graph *g, const struct reach_root *root, uint32_t chunk)
{
	if (g->nroots == g->roots_cap) {
		g->roots_cap = g->roots_cap ? 2 * g->roots_cap : 256;
		g->root = xreallocarray(g->root, g->roots_cap, sizeof(*g->root));
		g->root_to = xreallocarray(g->root_to, g->roots_cap, sizeof(*g->root_to));
	}
	g->root[g->nroots] = *root;
	g->root_to[g->nroots++] = chunk;
}

static void
graph_join(struct reach_graph *g, struct ebuf *eb, size_t neb, size_t nchunks)
{
	uint64_t m = 0;

	g->nchunks = nchunks;
	g->off = xcalloc(nchunks + 1, sizeof(*g->off));
	for (size_t b = 0; b < neb; b++)
		for (size_t i = 0; i + 1 < eb[b].n; i += 2 + eb[b].p[i + 1]) {
			g->off[eb[b].p[i] + 1] = eb[b].p[i + 1];
			m += eb[b].p[i + 1];
		}
	if (m > UINT32_MAX - 1)
		error_msg_and_die(EXIT_FAIL, "more than 2^32 pointers between chunks: the "
				  "dominator tree does not fit");
	for (size_t j = 0; j < nchunks; j++)
		g->off[j + 1] += g->off[j];
	g->nedges = m;
	g->to = xmalloc((m ? m : 1) * sizeof(*g->to));
	for (size_t b = 0; b < neb; b++) {
		for (size_t i = 0; i + 1 < eb[b].n; i += 2 + eb[b].p[i + 1])
			memcpy(g->to + g->off[eb[b].p[i]], eb[b].p + i + 2,
			       eb[b].p[i + 1] * sizeof(*g->to));
		free(eb[b].p);
	}
}

void
reach_graph_free(struct reach_graph *g)
{
	free(g->off);
	free(g->to);
	free(g->root);
	free(g->root_to);
	memset(g, 0, sizeof(*g));
}
