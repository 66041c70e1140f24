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

/* The model's owned ranges and every pool, sorted, overlaps joined. */
static void
owned_with_pools(const struct heap_model *h, const struct pym_heap *p, struct heap_model *out)
{
	size_t n = h->nowned + p->nall, k = 0;
	struct owned_range *o = xmalloc((n ? n : 1) * sizeof(*o));

	if (h->nowned)
		memcpy(o, h->owned, h->nowned * sizeof(*o));
	for (size_t i = 0; i < p->nall; i++)
		o[h->nowned + i] = (struct owned_range){ p->all[i], p->all[i] + p->pool_size };
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
 * inside a glibc chunk (pymalloc_walk skips those), so the two do not
 * overlap. */
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
		}
	}
	m->nchunks = m->cap = k;
	v->blocks = live;
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
	merge_nodes(&s->heap, &nd, v);
	owned_with_pools(&s->heap, &nd.pools, &v->scan.heap);
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
		e->bytes += hs_chunk_bytes(c);
	}
	if (sub->of_chunk_big)
		bigmem_free(sub->of_chunk);
	else
		free(sub->of_chunk);
	memset(sub, 0, sizeof(*sub));
}
