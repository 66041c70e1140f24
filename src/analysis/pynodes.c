/*
 * pynodes.c - a heap model with CPython's pymalloc blocks beside glibc's
 * chunks, for reachability and retention (see pynodes.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pynodes.h"
#include "xmalloc.h"

static int
cmp_range(const void *a, const void *b)
{
	const struct owned_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* ---- stale words the interpreter keeps -------------------------------------- *
 *
 * Two structures of CPython hold words that are no longer data, where the
 * conservative mark would take them for roots:
 *
 *   - the list and dict free lists, `free_list[80]` (3.13: `items[80]`)
 *     followed by `int numfree` (dicts 3.10-3.12: after the keys' free list,
 *     1280 bytes on; 3.8, 3.9: statics, the count just before the array,
 *     see try_freelist_before): a pop decrements numfree and leaves the slot as it
 *     was, so slots from numfree on point at objects handed out again, live
 *     ones.  Recognised by its first numfree slots all pointing at parked
 *     objects of the type (reference count 0, ob_type list or dict); an
 *     empty free list (numfree 0) cannot be told from other data and stays.
 *   - 3.11+'s frame data stack, chunks CPython maps itself:
 *       _PyStackChunk: +0 previous, +8 size, +16 top (in words, of a
 *       previous chunk), +24 data...
 *     and in the thread state datastack_chunk, datastack_top,
 *     datastack_limit (= chunk + size), one after the other.  From top to
 *     limit lie frames that returned.
 *
 * Both are searched in the modules' writable data and in glibc chunks of up
 * to 256 KiB (thread and interpreter states); what is found is cut from the
 * roots as malloc's own memory is (heap_model.owned) or, inside a chunk (an
 * interpreter state malloc holds, 3.10's), not scanned (heap_model.py_dead).
 */

#define FREELIST_MAX 80
#define STATE_MAX (256u << 10)
#define STACK_CHUNKS_MAX 64

struct stale {
	const struct scan *s;
	uint64_t list_type, dict_type;
	int minor;                  /* 3.minor */
	struct owned_range *r;      /* in roots */
	size_t n, cap;
	struct owned_range *in;     /* inside chunks */
	size_t nin, incap;
	bool in_chunk;              /* the search is in a chunk now */
};

static void
stale_add(struct stale *st, uint64_t start, uint64_t end, bool in_chunk)
{
	if (end <= start)
		return;
	if (in_chunk) {
		st->in = xgrow(st->in, &st->incap, st->nin + 1, sizeof(*st->in));
		st->in[st->nin++] = (struct owned_range){ start, end };
		return;
	}
	st->r = xgrow(st->r, &st->cap, st->n + 1, sizeof(*st->r));
	st->r[st->n++] = (struct owned_range){ start, end };
}

static bool
parked(const struct stale *st, uint64_t obj, uint64_t type)
{
	uint64_t refcnt, t;

	return obj && !(obj & 7) && image_u64(&st->s->img, obj, &refcnt) && !refcnt &&
	       image_u64(&st->s->img, obj + 8, &t) && t == type;
}

/* A free list of type's objects whose slots start at p (address at), with
 * numfree at at + off: the stale slots past numfree. */
static void
try_freelist(struct stale *st, const unsigned char *p, uint64_t at, uint64_t avail, uint64_t type,
	     uint64_t off)
{
	uint32_t n;

	if (!type || avail < off + 4)
		return;
	memcpy(&n, p + off, 4);
	if (!n || n > FREELIST_MAX)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t w;

		memcpy(&w, p + 8 * i, 8);
		if (!parked(st, w, type))
			return;
	}
	stale_add(st, at + 8ULL * n, at + 8ULL * FREELIST_MAX, st->in_chunk);
}

/* 3.8 and 3.9 keep a free list and its count in statics of their own, the
 * count within 32 bytes before the array (as their compilers lay out .bss).
 * Taken only when the count equals the run of parked objects the array
 * starts with, so a wrong guess cannot cut a slot that holds one. */
static void
try_freelist_before(struct stale *st, const unsigned char *p, uint64_t at, uint64_t before,
		    uint64_t avail, uint64_t type)
{
	uint32_t run = 0;

	if (!type || avail < 8 * FREELIST_MAX)
		return;
	while (run < FREELIST_MAX) {
		uint64_t w;

		memcpy(&w, p + 8 * run, 8);
		if (!parked(st, w, type))
			break;
		run++;
	}
	if (run == FREELIST_MAX)
		return; /* full: nothing stale */
	for (uint64_t back = 8; back <= 32 && back <= before; back += 8) {
		uint32_t n;

		memcpy(&n, p - back, 4);
		if (n == run) {
			stale_add(st, at + 8ULL * n, at + 8ULL * FREELIST_MAX, st->in_chunk);
			return;
		}
	}
}

/* datastack_chunk, _top, _limit at p: the dead part of every chunk. */
static void
try_datastack(struct stale *st, const unsigned char *p)
{
	const struct image *img = &st->s->img;
	uint64_t c, top, limit, size, prev, ptop;

	memcpy(&c, p, 8);
	memcpy(&top, p + 8, 8);
	memcpy(&limit, p + 16, 8);
	if (!c || (c & 7) || top <= c || top > limit || limit - c > (1ULL << 30) || ((top - c) & 7) ||
	    !image_u64(img, c + 8, &size) || size != limit - c)
		return;
	/* the data stack is an mmap of its own, in roots */
	stale_add(st, top, limit, false);
	for (int k = 0; k < STACK_CHUNKS_MAX && image_u64(img, c, &prev) && prev; k++) {
		if ((prev & 7) || !image_u64(img, prev + 8, &size) || !image_u64(img, prev + 16, &ptop) ||
		    size > (1ULL << 30) || ptop > size / 8 || 24 + 8 * ptop > size)
			return;
		stale_add(st, prev + 24 + 8 * ptop, prev + size, false);
		c = prev;
	}
}

static void
stale_search(struct stale *st, const unsigned char *p, uint64_t start, uint64_t len)
{
	for (uint64_t off = 0; off + 24 <= len; off += 8) {
		uint64_t w;

		memcpy(&w, p + off, 8);
		if (!w || (w & 7))
			continue;
		try_datastack(st, p + off);
		if (parked(st, w, st->list_type)) {
			try_freelist(st, p + off, start + off, len - off, st->list_type, 640);
			if (st->minor <= 9)
				try_freelist_before(st, p + off, start + off, off, len - off,
						    st->list_type);
		} else if (parked(st, w, st->dict_type)) {
			try_freelist(st, p + off, start + off, len - off, st->dict_type, 640);
			try_freelist(st, p + off, start + off, len - off, st->dict_type, 1280);
			if (st->minor <= 9)
				try_freelist_before(st, p + off, start + off, off, len - off,
						    st->dict_type);
		}
	}
}

/* The type of the objects of class name (a builtin) among the nodes, or 0. */
static uint64_t
builtin_type(const struct pyview *v, const char *name)
{
	const struct heap_model *m = &v->scan.heap;
	uint64_t t;

	for (size_t c = 0; c < v->py.nclasses; c++) {
		if (strcmp(v->py.classes[c].name, name))
			continue;
		for (size_t j = 0; j < m->nchunks; j++)
			if (v->cls[j] == c && image_u64(&v->scan.img, heap_model_shown(m, j) + 8, &t))
				return t;
	}
	return 0;
}

static void
find_stale(const struct pyview *v, const struct heap_model *g, struct stale *st)
{
	const struct image *img = &v->scan.img;

	st->s = &v->scan;
	st->minor = v->py.minor;
	st->list_type = builtin_type(v, "list");
	st->dict_type = builtin_type(v, "dict");
	for (size_t i = 0; i < img->n; i++) {
		const struct region *r = &img->r[i];
		bool module = r->name[0] == '/' ||
			      (!r->name[0] && i > 0 && img->r[i - 1].end == r->start &&
			       img->r[i - 1].name[0] == '/');

		st->in_chunk = false;
		if (module)
			stale_search(st, r->data, r->start, r->end - r->start);
	}
	for (size_t j = 0; j < g->nchunks; j++) {
		const struct hs_chunk *c = &g->chunks[j];
		const unsigned char *p;

		if ((c->kind != CK_INUSE && c->kind != CK_MMAPPED) || c->size > STATE_MAX ||
		    c->size < 40 || !(p = image_ptr(img, c->addr + 16, c->size - 16)))
			continue;
		st->in_chunk = true;
		stale_search(st, p, c->addr + 16, c->size - 16);
	}
}

/* The model's owned ranges, every pool and the stale words, sorted, overlaps
 * joined. */
static void
owned_with_pools(const struct heap_model *h, const struct pym_heap *p, const struct stale *st,
		 struct heap_model *out)
{
	size_t n = h->nowned + p->nall + st->n, k = 0;
	struct owned_range *o = xmalloc((n ? n : 1) * sizeof(*o));

	if (h->nowned)
		memcpy(o, h->owned, h->nowned * sizeof(*o));
	for (size_t i = 0; i < p->nall; i++)
		o[h->nowned + i] = (struct owned_range){ p->all[i], p->all[i] + p->pool_size };
	if (st->n)
		memcpy(o + h->nowned + p->nall, st->r, st->n * sizeof(*o));
	qsort(o, n, sizeof(*o), cmp_range);
	for (size_t i = 0; i < n; i++) {
		if (k && o[i].start <= o[k - 1].end) {
			if (o[i].end > o[k - 1].end)
				o[k - 1].end = o[i].end;
			continue;
		}
		o[k++] = o[i];
	}
	out->owned = o;
	out->nowned = k;
}

/* glibc's chunks and the live blocks, merged by address.  A pool never lies
 * inside a glibc chunk (pymalloc_walk skips those), and one that holds a
 * chunk's start is dropped here, so the two do not overlap and the model
 * stays sorted. */
static void
merge_nodes(const struct heap_model *g, const struct py_nodes *nd, struct pyview *v)
{
	const struct pym_heap *p = &nd->pools;
	struct heap_model *m = &v->scan.heap;
	size_t live = 0, n, k = 0, ci = 0;

	for (size_t i = 0; i < p->npools; i++)
		live += p->pools[i].nlive;
	n = g->nchunks + live;
	m->chunks = xmalloc((n ? n : 1) * sizeof(*m->chunks));
	m->py_pre = xcalloc(n ? n : 1, 1);
	m->py_span = xcalloc(n ? n : 1, sizeof(*m->py_span));
	v->cls = xmalloc((n ? n : 1) * sizeof(*v->cls));
	for (size_t i = 0; i <= p->npools; i++) {
		const struct pym_pool *pool = i < p->npools ? &p->pools[i] : NULL;
		uint64_t upto = pool ? pool->addr : UINT64_MAX;

		for (; ci < g->nchunks && g->chunks[ci].addr < upto; ci++, k++) {
			m->chunks[k] = g->chunks[ci];
			v->cls[k] = nd->chunk_cls[ci];
			m->py_pre[k] = nd->chunk_pre[ci];
			m->py_span[k] = nd->chunk_span[ci];
		}
		if (!pool)
			break;
		/* hostile memory: a "pool" with a glibc chunk inside it is none */
		if (ci < g->nchunks && g->chunks[ci].addr < pool->addr + p->pool_size)
			continue;
		for (unsigned b = 0; b < pool->nblocks; b++) {
			uint64_t at = pool->addr + PYM_POOL_OVERHEAD + (uint64_t)b * pool->block;

			if (!pym_block_live(pool, b))
				continue;
			m->chunks[k] = (struct hs_chunk){ .addr = at - 16, .size = pool->block + 16,
							  .kind = CK_MMAPPED,
							  .arena = CHUNK_ARENA_BLOCK };
			v->cls[k] = nd->cls[nd->first[i] + b];
			m->py_pre[k] = nd->pre[nd->first[i] + b];
			m->py_span[k] = nd->span[nd->first[i] + b];
			k++;
			v->blocks++;
		}
	}
	m->nchunks = m->cap = k;
}

int
pyview_build(const struct scan *s, struct pyview *v, char *why, size_t whylen)
{
	struct py_nodes nd;
	int ret;

	if (s->foreign)
		return -1;
	memset(v, 0, sizeof(*v));
	ret = pyobj_scan_nodes(&(struct py_input){ .img = &s->img, .ro = &s->ro, .heap = &s->heap },
			       &v->py, &nd, why, whylen);
	if (ret < 0)
		return ret;
	v->scan = *s;
	v->scan.heap.chunks_big = false;
	struct stale st = { 0 };

	merge_nodes(&s->heap, &nd, v);
	find_stale(v, &s->heap, &st);
	owned_with_pools(&s->heap, &nd.pools, &st, &v->scan.heap);
	if (st.nin > 1)
		qsort(st.in, st.nin, sizeof(*st.in), cmp_range);
	size_t k = 0;
	for (size_t i = 0; i < st.nin; i++) { /* overlaps joined */
		if (k && st.in[i].start <= st.in[k - 1].end) {
			if (st.in[i].end > st.in[k - 1].end)
				st.in[k - 1].end = st.in[i].end;
			continue;
		}
		st.in[k++] = st.in[i];
	}
	v->scan.heap.py_dead = st.in;
	v->scan.heap.npy_dead = k;
	free(st.r);
	py_nodes_free(&nd);
	return 0;
}

void
pyview_free(struct pyview *v)
{
	free(v->scan.heap.chunks);
	free(v->scan.heap.owned);
	free(v->scan.heap.py_pre);
	free(v->scan.heap.py_span);
	free(v->scan.heap.py_dead);
	free(v->cls);
	py_summary_free(&v->py);
	memset(v, 0, sizeof(*v));
}

void
pynodes_types(const struct heap_model *h, const uint32_t *cls, const struct py_summary *py,
	      struct type_table *sub, struct type_table *out)
{
	size_t base = sub->ntypes, k = 0;

	*out = (struct type_table){ .classes = sub->classes, .nclasses = sub->nclasses,
				    .py = sub->py };
	out->ntypes = base + py->nclasses;
	out->types = xreallocarray(sub->types, out->ntypes ? out->ntypes : 1, sizeof(*out->types));
	for (size_t i = 0; i < base; i++)
		out->types[i].count = out->types[i].bytes = 0;
	for (size_t i = 0; i < py->nclasses; i++)
		out->types[base + i] = (struct type_entry){ .kind = TK_CLASS,
							    .name = xstrdup(py->classes[i].name) };
	out->of_chunk = xmalloc((h->nchunks ? h->nchunks : 1) * sizeof(*out->of_chunk));
	for (size_t j = 0; j < h->nchunks; j++) {
		const struct hs_chunk *c = &h->chunks[j];
		uint32_t t = UINT32_MAX;
		struct type_entry *e;

		if (cls[j] != PY_NODE_NONE && cls[j] < py->nclasses)
			t = (uint32_t)(base + cls[j]);
		else if (cls[j] == PY_NODE_NONE && sub->of_chunk)
			t = sub->of_chunk[k];
		if (cls[j] == PY_NODE_NONE)
			k++;
		out->of_chunk[j] = t;
		if (t >= out->ntypes)
			continue;
		e = &out->types[t];
		if (!e->count)
			e->sample = c->addr;
		e->count++;
		e->bytes += chunk_shown_size(h, c);
	}
	if (sub->of_chunk_big)
		bigmem_free(sub->of_chunk);
	else
		free(sub->of_chunk);
	memset(sub, 0, sizeof(*sub));
}
