/*
 * report_retain.c - who holds the memory: --retained, --folded, --pprof.
 *
 * From the dominator tree (retain.h) and each chunk's type (types.h):
 *
 *   retainers         the nodes right under the super-root, by retained bytes,
 *                     each with the types it retains most (the chunks of its
 *                     dominator subtree, by type)
 *   retained by type  for each type, the bytes of the union of the subtrees
 *                     of its chunks: all of its instances together keep that
 *                     much alive.  A chunk counts when no dominator of it has
 *                     its type, which one walk down the tree with a counter
 *                     per type tells.
 *   paths             each chunk's retention path: its retainer's name, then
 *                     the types down the dominator tree, a run of one type
 *                     once, at most PATH_MAX_DEPTH deep (deeper chunks count
 *                     at the last frame).  Paths are kept in a trie; each
 *                     trie node's own chunks are one sample.  A frame's
 *                     cumulative value in a flame graph is then the bytes
 *                     the path down to it retains.
 *
 * --folded prints one line per path: "retainer;Type;Type BYTES" (";" in a
 * name becomes ":").  --pprof writes the same paths as a profile.proto
 * (src/output/profile.proto), gzipped: sample types inuse_objects/count and
 * inuse_space/bytes, inuse_space the default; each frame a function named
 * for the retainer or the type; leaf first, as pprof wants.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "error.h"
#include "json.h"
#include "outfile.h"
#include "profile.pb-c.h"
#include "report.h"
#include "report_retain.h"
#include "xmalloc.h"

#define PATH_MAX_DEPTH 64
#define TOP_TYPES 5

/* ---- a small hash: 64-bit key -> 32-bit value -------------------------------- */

struct hmap {
	uint64_t *key;
	uint32_t *val;
	size_t cap, n;
};

static void hmap_put(struct hmap *h, uint64_t key, uint32_t val);

static inline size_t
hmap_slot(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static void
hmap_grow(struct hmap *h)
{
	struct hmap old = *h;

	h->cap = old.cap ? 2 * old.cap : 1024;
	h->n = 0;
	h->key = xmalloc(h->cap * sizeof(*h->key));
	h->val = xmalloc(h->cap * sizeof(*h->val));
	memset(h->val, 0xff, h->cap * sizeof(*h->val));
	for (size_t i = 0; i < old.cap; i++)
		if (old.val[i] != UINT32_MAX)
			hmap_put(h, old.key[i], old.val[i]);
	free(old.key);
	free(old.val);
}

static uint32_t
hmap_get(const struct hmap *h, uint64_t key)
{
	if (!h->cap)
		return UINT32_MAX;
	for (size_t i = hmap_slot(key, h->cap);; i = (i + 1) & (h->cap - 1)) {
		if (h->val[i] == UINT32_MAX)
			return UINT32_MAX;
		if (h->key[i] == key)
			return h->val[i];
	}
}

static void
hmap_put(struct hmap *h, uint64_t key, uint32_t val)
{
	if (2 * (h->n + 1) > h->cap)
		hmap_grow(h);
	for (size_t i = hmap_slot(key, h->cap);; i = (i + 1) & (h->cap - 1)) {
		if (h->val[i] == UINT32_MAX) {
			h->key[i] = key;
			h->val[i] = val;
			h->n++;
			return;
		}
		if (h->key[i] == key) {
			h->val[i] = val;
			return;
		}
	}
}

static void
hmap_free(struct hmap *h)
{
	free(h->key);
	free(h->val);
	memset(h, 0, sizeof(*h));
}

/* ---- what the report works from --------------------------------------------- */

struct tally {
	uint64_t bytes, chunks;
	uint32_t label;
};

struct ctx {
	const struct scan *s;
	const struct type_table *t;
	const struct unwind_set *u;
	const struct retain *rt;
	uint32_t ntypes;       /* type labels 0..ntypes-1; ntypes: untyped */
	uint32_t *tops;        /* dfs numbers of the retainers, most bytes first */
	size_t ntops;
	char **root_name;      /* per root (id - 1), made when first asked */
	/* the path trie */
	uint32_t *tparent, *tlabel, *tdepth;
	uint64_t *tbytes, *tcount;
	size_t ntrie, trie_cap;
};

/* Labels: types, then "?", then "shared", then the roots. */
static uint32_t
label_shared(const struct ctx *c)
{
	return c->ntypes + 1;
}

static uint32_t
label_root(const struct ctx *c, uint32_t node)
{
	return c->ntypes + 1 + node; /* node >= 1 */
}

static uint32_t
chunk_label(const struct ctx *c, uint32_t node)
{
	long j = retain_node_chunk(c->rt, node);
	uint32_t ti = j >= 0 && c->t && c->t->of_chunk ? c->t->of_chunk[j] : UINT32_MAX;

	return ti < c->ntypes ? ti : c->ntypes;
}

static const char *
type_name(const struct ctx *c, uint32_t label)
{
	return label < c->ntypes ? c->t->types[label].name : "?";
}

/* "name+0x1f" -> "name" */
static void
strip_offset(char *fn)
{
	char *p = strrchr(fn, '+');

	if (p && p[1] == '0' && p[2] == 'x' && p[3] && strspn(p + 3, "0123456789abcdef") == strlen(p + 3))
		*p = '\0';
}

static const char *
root_name(struct ctx *c, uint32_t node)
{
	const struct retain_root *rr = &c->rt->roots[node - 1];
	char buf[1024];

	if (c->root_name[node - 1])
		return c->root_name[node - 1];
	if (rr->kind == ROOT_STACK) {
		const struct unwind_thread *ut =
			c->u && (size_t)rr->thread < c->u->n ? &c->u->t[rr->thread] : NULL;
		char fn[512] = "";

		if (ut && rr->frame >= 0 && (size_t)rr->frame < ut->n) {
			snprintf(fn, sizeof(fn), "%s", ut->f[rr->frame].func ? ut->f[rr->frame].func : "??");
			strip_offset(fn);
		}
		if (rr->frame >= 0)
			snprintf(buf, sizeof(buf), "stack of thread %d (%s), frame #%d %s",
				 (int)c->s->regs[rr->thread].tid, ut ? ut->comm : "", rr->frame, fn);
		else
			snprintf(buf, sizeof(buf), "stack of thread %d (%s)",
				 (int)c->s->regs[rr->thread].tid, ut ? ut->comm : "");
	} else if (rr->kind == ROOT_MODULE && !rr->symbol) { /* no symbol covers its words */
		const struct map_entry *e = maps_find(&c->s->maps, rr->addr);
		const char *path = e ? e->path : "?", *base = strrchr(path, '/');

		snprintf(buf, sizeof(buf), "data of %s (%s)", base ? base + 1 : path, path);
	} else {
		struct reach_root root = { .kind = rr->kind, .addr = rr->addr, .thread = rr->thread,
					   .reg = rr->reg };

		report_root_name(c->s, c->u, &root, buf, sizeof(buf));
	}
	c->root_name[node - 1] = xstrdup(buf);
	return c->root_name[node - 1];
}

static const char *
label_name(struct ctx *c, uint32_t label)
{
	if (label <= c->ntypes)
		return type_name(c, label);
	if (label == label_shared(c))
		return "shared";
	return root_name(c, label - c->ntypes - 1);
}

static int
by_retained(const void *x, const void *y, void *arg)
{
	const struct retain *rt = arg;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	if (rt->bytes[a] != rt->bytes[b])
		return rt->bytes[a] > rt->bytes[b] ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int
by_tally(const void *x, const void *y)
{
	const struct tally *a = x, *b = y;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return a->label < b->label ? -1 : a->label > b->label;
}

static void
find_tops(struct ctx *c)
{
	const struct retain *rt = c->rt;

	c->tops = xmalloc((rt->n ? rt->n : 1) * sizeof(*c->tops));
	for (size_t i = 1; i < rt->n; i++)
		if (rt->idom[i] == 0)
			c->tops[c->ntops++] = (uint32_t)i;
	qsort_r(c->tops, c->ntops, sizeof(*c->tops), by_retained, (void *)rt);
}

/* ---- the trie of paths -------------------------------------------------------- */

static uint32_t
trie_child(struct ctx *c, struct hmap *h, uint32_t parent, uint32_t label)
{
	uint64_t key = (uint64_t)parent << 32 | label;
	uint32_t v = hmap_get(h, key);

	if (v != UINT32_MAX)
		return v;
	if (c->ntrie == c->trie_cap) {
		c->trie_cap = c->trie_cap ? 2 * c->trie_cap : 1024;
		c->tparent = xreallocarray(c->tparent, c->trie_cap, sizeof(*c->tparent));
		c->tlabel = xreallocarray(c->tlabel, c->trie_cap, sizeof(*c->tlabel));
		c->tdepth = xreallocarray(c->tdepth, c->trie_cap, sizeof(*c->tdepth));
		c->tbytes = xreallocarray(c->tbytes, c->trie_cap, sizeof(*c->tbytes));
		c->tcount = xreallocarray(c->tcount, c->trie_cap, sizeof(*c->tcount));
	}
	v = (uint32_t)c->ntrie++;
	c->tparent[v] = parent;
	c->tlabel[v] = label;
	c->tdepth[v] = parent == UINT32_MAX ? 0 : c->tdepth[parent] + 1;
	c->tbytes[v] = c->tcount[v] = 0;
	hmap_put(h, key, v);
	return v;
}

/* Trie node of every dfs number, in increasing order (idom first). */
static void
build_trie(struct ctx *c)
{
	const struct retain *rt = c->rt;
	uint32_t *tr = xmalloc((rt->n ? rt->n : 1) * sizeof(*tr));
	struct hmap h = { 0 };

	tr[0] = UINT32_MAX;
	for (size_t i = 1; i < rt->n; i++) {
		uint32_t node = rt->vertex[i], p = tr[rt->idom[i]], label;
		long j = retain_node_chunk(rt, node);

		if (j < 0) {
			tr[i] = trie_child(c, &h, UINT32_MAX, label_root(c, node));
			continue;
		}
		if (p == UINT32_MAX) /* under the super-root: shared */
			p = trie_child(c, &h, UINT32_MAX, label_shared(c));
		label = chunk_label(c, node);
		if (c->tlabel[p] == label || c->tdepth[p] + 1 >= PATH_MAX_DEPTH)
			tr[i] = p;
		else
			tr[i] = trie_child(c, &h, p, label);
		c->tbytes[tr[i]] += chunk_shown_size(&c->s->heap, &c->s->heap.chunks[j]);
		c->tcount[tr[i]]++;
	}
	free(tr);
	hmap_free(&h);
}

/* ---- retained by type: one walk down the dominator tree ---------------------- */

static struct tally *
retained_by_type(const struct ctx *c, size_t *nout)
{
	const struct retain *rt = c->rt;
	size_t n = rt->n;
	uint32_t *coff = xcalloc(n + 1, sizeof(*coff)), *child = xmalloc((n ? n : 1) * sizeof(*child));
	uint32_t *stack = xmalloc((n ? n : 1) * sizeof(*stack)), *cur = xmalloc((n ? n : 1) * sizeof(*cur));
	uint32_t *active = xcalloc(c->ntypes + 1, sizeof(*active));
	struct tally *by = xcalloc(c->ntypes + 1, sizeof(*by));
	size_t sp = 0, k = 0;

	for (size_t i = 1; i < n; i++)
		coff[rt->idom[i] + 1]++;
	for (size_t i = 0; i < n; i++)
		coff[i + 1] += coff[i];
	memcpy(cur, coff, n * sizeof(*cur));
	for (size_t i = 1; i < n; i++)
		child[cur[rt->idom[i]]++] = (uint32_t)i;
	stack[sp] = 0;
	cur[sp++] = coff[0];
	while (sp) {
		uint32_t v = stack[sp - 1];

		if (cur[sp - 1] < coff[v + 1]) {
			uint32_t w = child[cur[sp - 1]++];

			if (retain_node_chunk(rt, rt->vertex[w]) >= 0) {
				uint32_t l = chunk_label(c, rt->vertex[w]);

				if (!active[l]++) {
					by[l].bytes += rt->bytes[w];
					by[l].chunks += rt->chunks[w];
				}
			}
			stack[sp] = w;
			cur[sp++] = coff[w];
			continue;
		}
		if (v && retain_node_chunk(rt, rt->vertex[v]) >= 0)
			active[chunk_label(c, rt->vertex[v])]--;
		sp--;
	}
	for (uint32_t l = 0; l <= c->ntypes; l++) {
		by[l].label = l;
		if (by[l].chunks)
			by[k++] = by[l];
	}
	qsort(by, k, sizeof(*by), by_tally);
	free(coff);
	free(child);
	free(stack);
	free(cur);
	free(active);
	*nout = k;
	return by;
}

/* ---- the types each listed retainer retains ----------------------------------- */

struct top_types {
	struct tally *t;
	size_t n;
};

/* Per listed retainer, the own bytes and chunks of what it retains, by type:
 * a table of nlisted x (ntypes + 1) when that is small (the usual case, a
 * plain index per chunk), else a hash of (slot, type). */
#define TYPE_TABLE_MAX (4u << 20)

static struct top_types *
retainer_types(const struct ctx *c, size_t nlisted)
{
	const struct retain *rt = c->rt;
	struct top_types *tt = xcalloc(nlisted ? nlisted : 1, sizeof(*tt));
	size_t width = (size_t)c->ntypes + 1;
	bool table = nlisted * width <= TYPE_TABLE_MAX && !getenv("HEAPSCAN_TEST_TYPE_HASH");
	struct hmap slot = { 0 }, pair = { 0 };
	struct tally *tal = NULL;
	uint32_t *tal_slot = NULL, *slot_of;
	size_t ntal = 0, cap = 0, cap2 = 0;

	for (size_t k = 0; k < nlisted; k++)
		hmap_put(&slot, c->tops[k], (uint32_t)k);
	slot_of = xmalloc((rt->n ? rt->n : 1) * sizeof(*slot_of));
	slot_of[0] = UINT32_MAX;
	for (size_t i = 1; i < rt->n; i++) /* the idom is numbered first */
		slot_of[i] = rt->idom[i] == 0 ? hmap_get(&slot, (uint32_t)i) : slot_of[rt->idom[i]];
	if (table) {
		ntal = nlisted * width;
		tal = xcalloc(ntal ? ntal : 1, sizeof(*tal));
		tal_slot = xmalloc((ntal ? ntal : 1) * sizeof(*tal_slot));
		for (size_t v = 0; v < ntal; v++) {
			tal[v].label = (uint32_t)(v % width);
			tal_slot[v] = (uint32_t)(v / width);
		}
	}
	for (size_t i = 1; i < rt->n; i++) {
		long j = retain_node_chunk(rt, rt->vertex[i]);
		uint32_t l, v;
		uint64_t key;

		if (j < 0 || slot_of[i] == UINT32_MAX)
			continue;
		l = chunk_label(c, rt->vertex[i]);
		if (table) {
			v = (uint32_t)(slot_of[i] * width + l);
		} else if ((v = hmap_get(&pair, key = (uint64_t)slot_of[i] << 32 | l)) == UINT32_MAX) {
			tal = xgrow(tal, &cap, ntal + 1, sizeof(*tal));
			tal_slot = xgrow(tal_slot, &cap2, ntal + 1, sizeof(*tal_slot));
			tal[ntal] = (struct tally){ .label = l };
			tal_slot[ntal] = slot_of[i];
			hmap_put(&pair, key, v = (uint32_t)ntal++);
		}
		tal[v].bytes += chunk_shown_size(&c->s->heap, &c->s->heap.chunks[j]);
		tal[v].chunks++;
	}
	for (size_t v = 0; v < ntal; v++)
		tt[tal_slot[v]].n += tal[v].chunks > 0;
	for (size_t k = 0; k < nlisted; k++) {
		tt[k].t = xmalloc((tt[k].n ? tt[k].n : 1) * sizeof(*tt[k].t));
		tt[k].n = 0;
	}
	for (size_t v = 0; v < ntal; v++)
		if (tal[v].chunks)
			tt[tal_slot[v]].t[tt[tal_slot[v]].n++] = tal[v];
	for (size_t k = 0; k < nlisted; k++)
		qsort(tt[k].t, tt[k].n, sizeof(*tt[k].t), by_tally);
	free(slot_of);
	free(tal);
	free(tal_slot);
	hmap_free(&slot);
	hmap_free(&pair);
	return tt;
}

/* ---- the summary ---------------------------------------------------------------- */

static uint32_t
label_type(const struct ctx *c, uint32_t label)
{
	return label < c->ntypes ? label : UINT32_MAX;
}

static enum retain_kind
root_kind(enum root_kind k)
{
	switch (k) {
	case ROOT_REGISTER:
		return RK_REGISTER;
	case ROOT_STACK:
		return RK_STACK;
	case ROOT_MODULE:
		return RK_GLOBAL;
	case ROOT_ANON:
		return RK_ANON;
	}
	return RK_ANON;
}

static void
summarize_entry(struct ctx *c, uint32_t i, const struct top_types *tt, struct retain_entry *e)
{
	const struct retain *rt = c->rt;
	uint32_t node = rt->vertex[i];
	long j = retain_node_chunk(rt, node);

	memset(e, 0, sizeof(*e));
	e->bytes = rt->bytes[i];
	e->chunks = rt->chunks[i];
	e->type = UINT32_MAX;
	e->has_address = true;
	if (j >= 0) {
		e->name = xstrdup("shared");
		e->kind = RK_SHARED;
		e->address = heap_model_shown(&c->s->heap, (size_t)j); /* malloc's pointer, an object's */
		e->type = label_type(c, chunk_label(c, node));
	} else {
		e->name = xstrdup(root_name(c, node));
		e->kind = root_kind(rt->roots[node - 1].kind);
		e->address = rt->roots[node - 1].addr;
		e->has_address = e->kind != RK_REGISTER;
	}
	for (size_t m = 0; m < tt->n && m < RETAIN_TOP_TYPES; m++)
		e->top[e->ntop++] = (struct retain_type_sum){ label_type(c, tt->t[m].label),
							      tt->t[m].bytes, tt->t[m].chunks };
}

static void
summarize(struct ctx *c, size_t max, struct retain_summary *sum)
{
	const struct retain *rt = c->rt;
	size_t nl = c->ntops < max ? c->ntops : max, nby;
	struct top_types *tt = retainer_types(c, nl);
	struct tally *by = retained_by_type(c, &nby);

	memset(sum, 0, sizeof(*sum));
	sum->reachable_bytes = rt->bytes[0];
	sum->reachable_chunks = rt->chunks[0];
	sum->nodes = rt->n;
	sum->edges = rt->edges;
	sum->graph_ms = rt->graph_ms;
	sum->dom_ms = rt->dom_ms;
	sum->total = c->ntops;
	sum->e = xcalloc(nl ? nl : 1, sizeof(*sum->e));
	for (size_t k = 0; k < nl; k++)
		summarize_entry(c, c->tops[k], &tt[k], &sum->e[sum->n++]);
	sum->by_type = xcalloc(nby ? nby : 1, sizeof(*sum->by_type));
	for (size_t k = 0; k < nby; k++)
		sum->by_type[sum->nby++] = (struct retain_type_sum){ label_type(c, by[k].label),
								     by[k].bytes, by[k].chunks };
	for (size_t k = 0; k < nl; k++)
		free(tt[k].t);
	free(tt);
	free(by);
}

/* ---- text and JSON -------------------------------------------------------------- */

static const char *
sum_type_name(const struct type_table *t, uint32_t type)
{
	return t && type < t->ntypes ? t->types[type].name : "?";
}

static void
retained_text(FILE *f, const struct scan *s, const struct type_table *t,
	      const struct retain_summary *sum, int top)
{
	char b1[32], b2[32];
	uint64_t shared = 0, nshared = 0;
	size_t nl = sum->n < (size_t)top ? sum->n : (size_t)top;

	for (size_t k = 0; k < sum->n; k++)
		if (sum->e[k].kind == RK_SHARED) {
			shared += sum->e[k].bytes;
			nshared += sum->e[k].chunks;
		}
	fprintf(f, "process %d: ", (int)s->pid);
	fput_printable(f, s->cmdline);
	fprintf(f, "\n  reachable: %" PRIu64 " chunks (%s), %" PRIu64 " of them (%s) shared by "
		"several roots%s\n", sum->reachable_chunks,
		human_bytes(sum->reachable_bytes, b1, sizeof(b1)), nshared,
		human_bytes(shared, b2, sizeof(b2)), sum->n < sum->total ? " (among those listed)" : "");
	fprintf(f, "  dominator tree of %" PRIu64 " nodes and %" PRIu64 " edges", sum->nodes,
		sum->edges);
	if (sum->graph_ms > 0 || sum->dom_ms > 0)
		fprintf(f, ": graph %.0f ms, dominators %.0f ms\n", sum->graph_ms, sum->dom_ms);
	else
		fprintf(f, ", as the snapshot recorded\n");
	fprintf(f, "\n  %11s %10s  %s\n", "retained", "chunks", "retainer");
	for (size_t k = 0; k < nl; k++) {
		const struct retain_entry *e = &sum->e[k];

		fprintf(f, "  %11s %10" PRIu64 "  ", human_bytes(e->bytes, b1, sizeof(b1)), e->chunks);
		if (e->kind == RK_SHARED) {
			fprintf(f, "shared chunk 0x%" PRIx64 " (", e->address);
			fput_printable(f, sum_type_name(t, e->type));
			fputc(')', f);
		} else {
			fput_printable(f, e->name);
		}
		fputc('\n', f);
		for (size_t m = 0; m < e->ntop; m++) {
			fprintf(f, "  %11s %10" PRIu64 "    ",
				human_bytes(e->top[m].bytes, b1, sizeof(b1)), e->top[m].chunks);
			fput_printable(f, sum_type_name(t, e->top[m].type));
			fputc('\n', f);
		}
	}
	if (sum->total > nl)
		fprintf(f, "  ... %" PRIu64 " more retainers (--top N)\n", sum->total - nl);
	fprintf(f, "\n  retained by type (all chunks of a type together keep alive):\n");
	fprintf(f, "  %11s %10s  %s\n", "retained", "chunks", "type");
	for (size_t k = 0; k < sum->nby && (int)k < top; k++) {
		fprintf(f, "  %11s %10" PRIu64 "  ",
			human_bytes(sum->by_type[k].bytes, b1, sizeof(b1)), sum->by_type[k].chunks);
		fput_printable(f, sum_type_name(t, sum->by_type[k].type));
		fputc('\n', f);
	}
	if (sum->nby > (size_t)top)
		fprintf(f, "  ... %zu more types (--top N)\n", sum->nby - (size_t)top);
}

static void
type_sum_json(FILE *f, const struct type_table *t, const struct retain_type_sum *ts, bool kind)
{
	fprintf(f, "{\"name\": ");
	json_str(f, sum_type_name(t, ts->type));
	if (kind)
		fprintf(f, ", \"kind\": \"%s\"",
			t && ts->type < t->ntypes ? type_kind_name(t->types[ts->type].kind) : "size");
	fprintf(f, ", \"bytes\": %" PRIu64 ", \"chunks\": %" PRIu64 "}", ts->bytes, ts->chunks);
}

static void
retained_json(FILE *f, const struct scan *s, const struct type_table *t,
	      const struct retain_summary *sum, int top)
{
	size_t nl = sum->n < (size_t)top ? sum->n : (size_t)top;

	fprintf(f, "{\"pid\": %d, \"cmdline\": ", (int)s->pid);
	json_str(f, s->cmdline);
	fprintf(f, ", \"reachable_bytes\": %" PRIu64 ", \"reachable_chunks\": %" PRIu64
		", \"nodes\": %" PRIu64 ", \"edges\": %" PRIu64 ", \"graph_ms\": %.3f"
		", \"dominators_ms\": %.3f, \"retainers_total\": %" PRIu64 ", \"retainers\": [",
		sum->reachable_bytes, sum->reachable_chunks, sum->nodes, sum->edges, sum->graph_ms,
		sum->dom_ms, sum->total);
	for (size_t k = 0; k < nl; k++) {
		const struct retain_entry *e = &sum->e[k];

		fprintf(f, "%s\n  {\"address\": ", k ? "," : "");
		if (e->has_address)
			json_addr(f, e->address);
		else
			fputs("null", f);
		fprintf(f, ", \"root\": ");
		json_str(f, e->name);
		fprintf(f, ", \"kind\": \"%s\", \"type\": ", retain_kind_name(e->kind));
		if (e->kind == RK_SHARED)
			json_str(f, sum_type_name(t, e->type));
		else
			fputs("null", f);
		fprintf(f, ", \"retained_bytes\": %" PRIu64 ", \"retained_chunks\": %" PRIu64
			", \"top_types\": [", e->bytes, e->chunks);
		for (size_t m = 0; m < e->ntop; m++) {
			if (m)
				fputs(", ", f);
			type_sum_json(f, t, &e->top[m], false);
		}
		fputs("]}", f);
	}
	fprintf(f, "%s], \"retained_by_type\": [", nl ? "\n" : "");
	for (size_t k = 0; k < sum->nby; k++) {
		fputs(k ? ",\n  " : "\n  ", f);
		type_sum_json(f, t, &sum->by_type[k], true);
	}
	fprintf(f, "%s]}\n", sum->nby ? "\n" : "");
}

void
report_retained_summary(FILE *f, const struct scan *s, const struct type_table *t,
			const struct retain_summary *sum, bool json, int top)
{
	if (json)
		retained_json(f, s, t, sum, top);
	else
		retained_text(f, s, t, sum, top);
}

/* ---- folded stacks and pprof ----------------------------------------------------- */

/* A name as one folded frame: no ';', no line breaks, printable. */
static void
fput_frame(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		fputc(ch == ';' ? ':' : ch < 0x20 || ch >= 0x7f ? '?' : ch, f);
	}
}

static void
folded(FILE *f, struct ctx *c)
{
	uint32_t path[PATH_MAX_DEPTH + 1];

	for (size_t v = 0; v < c->ntrie; v++) {
		size_t d = 0;

		if (!c->tcount[v])
			continue;
		for (uint32_t x = (uint32_t)v; x != UINT32_MAX && d <= PATH_MAX_DEPTH; x = c->tparent[x])
			path[d++] = c->tlabel[x];
		while (d--) {
			fput_frame(f, label_name(c, path[d]));
			fputc(d ? ';' : ' ', f);
		}
		fprintf(f, "%" PRIu64 "\n", c->tbytes[v]);
	}
}

struct strtab {
	char **s;
	size_t n, cap;
	struct hmap by_label; /* label -> string index */
};

/* proto3 strings must be UTF-8 and names come from the target: printable
 * ASCII as is, any other byte '?'. */
static int64_t
str_add(struct strtab *st, const char *s)
{
	char *c = xstrdup(s);

	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	st->s = xgrow(st->s, &st->cap, st->n + 1, sizeof(*st->s));
	st->s[st->n] = c;
	return (int64_t)st->n++;
}

static int
pprof_write(struct ctx *c, const char *path)
{
	Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[2] = { PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
						 PERFTOOLS__PROFILES__VALUE_TYPE__INIT };
	Perftools__Profiles__ValueType *vtp[2] = { &vt[0], &vt[1] };
	struct strtab st = { 0 };
	struct hmap fn_of = { 0 }; /* label -> function/location id - 1 */
	Perftools__Profiles__Function *fns = NULL, **fnp = NULL;
	Perftools__Profiles__Location *locs = NULL, **locp = NULL;
	Perftools__Profiles__Line *lines = NULL, **linep = NULL;
	Perftools__Profiles__Sample *smp, **smpp;
	size_t nfn = 0, fcap = 0, ns = 0, len;
	uint8_t *buf;
	int ret = EXIT_OK;
	gzFile gz;
	struct outfile of;
	bool to_file = strcmp(path, "-") != 0;

	str_add(&st, "");
	vt[0].type = str_add(&st, "inuse_objects");
	vt[0].unit = str_add(&st, "count");
	vt[1].type = str_add(&st, "inuse_space");
	vt[1].unit = str_add(&st, "bytes");
	p.n_sample_type = 2;
	p.sample_type = vtp;
	p.default_sample_type = vt[1].type;
	/* one function and one location per label */
	for (size_t v = 0; v < c->ntrie; v++) {
		if (hmap_get(&fn_of, c->tlabel[v]) != UINT32_MAX)
			continue;
		hmap_put(&fn_of, c->tlabel[v], (uint32_t)nfn);
		fns = xgrow(fns, &fcap, nfn + 1, sizeof(*fns));
		perftools__profiles__function__init(&fns[nfn]);
		fns[nfn].id = nfn + 1;
		fns[nfn].name = fns[nfn].system_name = str_add(&st, label_name(c, c->tlabel[v]));
		nfn++;
	}
	fnp = xmalloc((nfn ? nfn : 1) * sizeof(*fnp));
	locs = xmalloc((nfn ? nfn : 1) * sizeof(*locs));
	locp = xmalloc((nfn ? nfn : 1) * sizeof(*locp));
	lines = xmalloc((nfn ? nfn : 1) * sizeof(*lines));
	linep = xmalloc((nfn ? nfn : 1) * sizeof(*linep));
	for (size_t k = 0; k < nfn; k++) {
		fnp[k] = &fns[k];
		perftools__profiles__line__init(&lines[k]);
		lines[k].function_id = k + 1;
		linep[k] = &lines[k];
		perftools__profiles__location__init(&locs[k]);
		locs[k].id = k + 1;
		locs[k].n_line = 1;
		locs[k].line = &linep[k];
		locp[k] = &locs[k];
	}
	p.n_function = nfn;
	p.function = fnp;
	p.n_location = nfn;
	p.location = locp;
	smp = xmalloc((c->ntrie ? c->ntrie : 1) * sizeof(*smp));
	smpp = xmalloc((c->ntrie ? c->ntrie : 1) * sizeof(*smpp));
	for (size_t v = 0; v < c->ntrie; v++) {
		Perftools__Profiles__Sample *sm = &smp[ns];
		size_t d = 0;

		if (!c->tcount[v])
			continue;
		perftools__profiles__sample__init(sm);
		sm->location_id = xmalloc((c->tdepth[v] + 1) * sizeof(*sm->location_id));
		for (uint32_t x = (uint32_t)v; x != UINT32_MAX && d <= c->tdepth[v]; x = c->tparent[x])
			sm->location_id[d++] = hmap_get(&fn_of, c->tlabel[x]) + 1; /* leaf first */
		sm->n_location_id = d;
		sm->value = xmalloc(2 * sizeof(*sm->value));
		sm->value[0] = (int64_t)c->tcount[v];
		sm->value[1] = (int64_t)c->tbytes[v];
		sm->n_value = 2;
		smpp[ns++] = sm;
	}
	p.n_sample = ns;
	p.sample = smpp;
	p.n_string_table = st.n;
	p.string_table = st.s;
	len = perftools__profiles__profile__get_packed_size(&p);
	buf = xmalloc(len ? len : 1);
	perftools__profiles__profile__pack(&p, buf);
	/* a file is written whole or not at all (outfile.h); "-" is stdout */
	if (to_file && outfile_open(&of, path, 0600) < 0) {
		ret = EXIT_FAIL;
	} else {
		gz = gzdopen(dup(to_file ? of.fd : STDOUT_FILENO), "wb");
		if (!gz || (len && gzwrite(gz, buf, (unsigned)len) != (int)len)) {
			error_msg("cannot write the profile to %s", path);
			ret = EXIT_FAIL;
		}
		if (gz && gzclose(gz) != Z_OK && ret == EXIT_OK) {
			error_msg("cannot write the profile to %s", path);
			ret = EXIT_FAIL;
		}
		if (to_file && outfile_close(&of, ret == EXIT_OK) < 0)
			ret = EXIT_FAIL;
	}
	free(buf);
	for (size_t k = 0; k < ns; k++) {
		free(smp[k].location_id);
		free(smp[k].value);
	}
	free(smp);
	free(smpp);
	for (size_t k = 0; k < st.n; k++)
		free(st.s[k]);
	free(st.s);
	free(fns);
	free(fnp);
	free(locs);
	free(locp);
	free(lines);
	free(linep);
	hmap_free(&fn_of);
	return ret;
}

static void
ctx_init(struct ctx *c, const struct scan *s, const struct type_table *t,
	 const struct unwind_set *u, const struct retain *rt)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->t = t;
	c->u = u;
	c->rt = rt;
	c->ntypes = t && t->of_chunk ? (uint32_t)t->ntypes : 0;
	c->root_name = xcalloc(rt->nroots ? rt->nroots : 1, sizeof(*c->root_name));
	find_tops(c);
}

static void
ctx_free(struct ctx *c)
{
	for (size_t k = 0; k < c->rt->nroots; k++)
		free(c->root_name[k]);
	free(c->root_name);
	free(c->tops);
	free(c->tparent);
	free(c->tlabel);
	free(c->tdepth);
	free(c->tbytes);
	free(c->tcount);
}

void
retain_summarize(const struct scan *s, const struct type_table *t, const struct unwind_set *u,
		 const struct retain *rt, size_t max, struct retain_summary *sum)
{
	struct ctx c;

	ctx_init(&c, s, t, u, rt);
	summarize(&c, max, sum);
	ctx_free(&c);
}

int
report_retained(FILE *f, const struct scan *s, const struct type_table *t,
		const struct unwind_set *u, const struct retain *rt, const struct retain_report_opts *o)
{
	struct ctx c;
	int ret = EXIT_OK;

	ctx_init(&c, s, t, u, rt);
	if (o->folded || o->pprof) {
		build_trie(&c);
		if (o->folded)
			folded(f, &c);
		if (o->pprof)
			ret = pprof_write(&c, o->pprof);
	} else {
		struct retain_summary sum;

		summarize(&c, (size_t)o->top, &sum);
		report_retained_summary(f, s, t, &sum, o->json, o->top);
		retain_summary_free(&sum);
	}
	ctx_free(&c);
	return ret;
}
