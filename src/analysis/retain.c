/*
 * retain.c - the dominator tree of the live heap and retained sizes (retain.h).
 *
 * The algorithm is Semi-NCA (Georgiadis 2005; what LLVM's dominator trees
 * use), a variant of Lengauer-Tarjan:
 *
 *   1. Depth-first search from the super-root: number the nodes 0..n-1 in
 *      the order they are first reached, and keep each one's DFS parent.
 *      The search is iterative (a linked list of 10M nodes is 10M deep).
 *   2. Semidominators, from n-1 down to 1: semi(w) is the smallest number of
 *      a node from which w can be reached through nodes numbered above w
 *      only.  For each predecessor v of w it takes semi of the lowest-semi
 *      node on v's path up the forest of nodes already done (eval), with
 *      path compression, so this is O(m log n).
 *   3. Immediate dominators, from 1 up to n-1: idom(w) is the nearest common
 *      ancestor, in the dominator tree built so far, of w's DFS parent and
 *      semi(w): walk up from the parent while the number exceeds semi(w).
 *      Linear in practice; Lengauer-Tarjan's buckets would bound it, at the
 *      price of two more arrays.
 *
 * Retained sizes then take one pass from n-1 down to 1 (a node's idom has a
 * smaller number): bytes[idom(w)] += bytes[w].
 *
 * Memory for N nodes and m edges: the edges (reach_graph, 4m + 4N), their
 * reverse in DFS numbers (4m + 4N), and seven 4-byte and one 8-byte array per
 * node: about 40 bytes per chunk plus 8 per pointer.
 *
 * Roots are grouped before the tree is built (grouping after would be wrong:
 * two words of one global would each "share" what the global holds): every
 * word of one global symbol, of one stack frame of one thread, of one
 * register, of one anonymous mapping is one node.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "allocator.h"
#include "elfmod.h"
#include "error.h"
#include "retain.h"
#include "xmalloc.h"

/* ---- grouping the roots ----------------------------------------------------- */

struct modcache {
	const char *path;
	struct elfmod *elf;   /* NULL: no symbols */
	uint64_t bias;
	uint64_t first;       /* the module's lowest mapping */
	uint64_t sym_lo, sym_hi; /* the last symbol found, target addresses */
};

struct grouper {
	const struct scan *s;
	const struct unwind_set *u;
	struct modcache *mods;
	size_t nmods, cap;
};

static struct modcache *
module_cache(struct grouper *gr, const struct map_entry *e)
{
	const struct map_entry *first = NULL;
	struct modcache *mc;
	char err[128];

	for (size_t i = 0; i < gr->nmods; i++)
		if (!strcmp(gr->mods[i].path, e->path))
			return &gr->mods[i];
	gr->mods = xgrow(gr->mods, &gr->cap, gr->nmods + 1, sizeof(*gr->mods));
	mc = &gr->mods[gr->nmods++];
	memset(mc, 0, sizeof(*mc));
	mc->path = e->path;
	for (size_t i = 0; i < gr->s->maps.n; i++)
		if (!strcmp(gr->s->maps.v[i].path, e->path) &&
		    (!first || gr->s->maps.v[i].start < first->start))
			first = &gr->s->maps.v[i];
	mc->first = first ? first->start : e->start;
	if (first && first->file) /* where the source says the file opens */
		mc->elf = elfmod_open(first->file, err, sizeof(err));
	if (mc->elf)
		mc->bias = elfmod_bias(mc->elf, first->start);
	return mc;
}

/* The group of one root word: kind, a and b say which (see struct retain_root). */
struct rkey {
	uint64_t a;
	int32_t b;
	uint8_t kind;
	uint8_t symbol;
	uint32_t word; /* index into the graph's root words */
};

static void
module_key(struct grouper *gr, uint64_t addr, struct rkey *k)
{
	const struct map_entry *e = maps_module(&gr->s->maps, addr);
	struct modcache *mc;
	uint64_t start, size;

	k->b = -1;
	if (!e) {
		k->a = 0;
		return;
	}
	mc = module_cache(gr, e);
	k->a = mc->first;
	if (!mc->elf)
		return;
	if (addr >= mc->sym_lo && addr < mc->sym_hi) { /* the words of a global are together */
		k->a = mc->sym_lo;
		k->symbol = 1;
		return;
	}
	if (elfmod_symbol_span(mc->elf, addr - mc->bias, &start, &size)) {
		mc->sym_lo = start + mc->bias;
		mc->sym_hi = mc->sym_lo + size;
		k->a = mc->sym_lo;
		k->symbol = 1;
	}
}

static void
root_key(struct grouper *gr, const struct reach_root *root, struct rkey *k)
{
	const struct map_entry *e;
	int frame = -1;

	k->kind = (uint8_t)root->kind;
	k->symbol = 0;
	switch (root->kind) {
	case ROOT_REGISTER:
		k->a = (uint64_t)root->thread;
		k->b = root->reg;
		return;
	case ROOT_STACK:
		if (gr->u && root->thread >= 0 && (size_t)root->thread < gr->u->n)
			unwind_frame_at(gr->u, (size_t)root->thread, root->addr, &frame);
		k->a = (uint64_t)root->thread;
		k->b = frame;
		return;
	case ROOT_MODULE:
		module_key(gr, root->addr, k);
		return;
	case ROOT_ANON:
		e = maps_find(&gr->s->maps, root->addr);
		k->a = e ? e->start : 0;
		k->b = -1;
		return;
	}
}

static int
cmp_rkey(const void *x, const void *y)
{
	const struct rkey *a = x, *b = y;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->b != b->b)
		return a->b < b->b ? -1 : 1;
	return a->word < b->word ? -1 : a->word > b->word;
}

static int
cmp_word_addr(const void *x, const void *y, void *arg)
{
	const struct reach_root *r = arg;
	const uint32_t *a = x, *b = y;
	uint64_t p = r[*a].addr, q = r[*b].addr;

	return p < q ? -1 : p > q;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Group g's root words into rt->roots; *gedge gets (group << 32 | chunk)
 * pairs, sorted and unique, *ngedge their count. */
static void
group_roots(const struct scan *s, const struct unwind_set *u, const struct reach_graph *g,
	    struct retain *rt, uint64_t **gedge, size_t *ngedge)
{
	struct grouper gr = { .s = s, .u = u };
	struct rkey *k = xmalloc((g->nroots ? g->nroots : 1) * sizeof(*k));
	uint32_t *order = xmalloc((g->nroots ? g->nroots : 1) * sizeof(*order));
	uint64_t *pair = xmalloc((g->nroots ? g->nroots : 1) * sizeof(*pair));
	size_t ng = 0, np = 0;

	/* module words in address order, so a global's words hit the cached symbol */
	for (size_t i = 0; i < g->nroots; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, g->nroots, sizeof(*order), cmp_word_addr, g->root);
	for (size_t i = 0; i < g->nroots; i++) {
		root_key(&gr, &g->root[order[i]], &k[i]);
		k[i].word = order[i];
	}
	qsort(k, g->nroots, sizeof(*k), cmp_rkey);
	rt->roots = xcalloc(g->nroots ? g->nroots : 1, sizeof(*rt->roots));
	for (size_t i = 0; i < g->nroots; i++) {
		const struct reach_root *w = &g->root[k[i].word];
		struct retain_root *rr;

		if (!i || k[i].kind != k[i - 1].kind || k[i].a != k[i - 1].a || k[i].b != k[i - 1].b) {
			rr = &rt->roots[ng++];
			rr->kind = (enum root_kind)k[i].kind;
			rr->thread = w->thread;
			rr->reg = rr->kind == ROOT_REGISTER ? w->reg : -1;
			rr->frame = rr->kind == ROOT_STACK ? k[i].b : -1;
			rr->addr = rr->kind == ROOT_MODULE || rr->kind == ROOT_ANON ? k[i].a : w->addr;
			rr->symbol = k[i].symbol;
		}
		rr = &rt->roots[ng - 1];
		rr->words++;
		if (rr->kind == ROOT_STACK && w->addr < rr->addr)
			rr->addr = w->addr;
		pair[np++] = (uint64_t)(ng - 1) << 32 | g->root_to[k[i].word];
	}
	rt->nroots = ng;
	qsort(pair, np, sizeof(*pair), cmp_u64);
	*ngedge = 0;
	for (size_t i = 0; i < np; i++)
		if (!i || pair[i] != pair[i - 1])
			pair[(*ngedge)++] = pair[i];
	*gedge = pair;
	for (size_t i = 0; i < gr.nmods; i++)
		elfmod_close(gr.mods[i].elf);
	free(gr.mods);
	free(k);
	free(order);
}

/* ---- the graph, as the algorithm sees it ------------------------------------ */

struct graph {
	const struct reach_graph *g;
	size_t nroots;
	uint32_t *super_to;  /* 1 .. nroots */
	uint32_t *goff, *gto; /* root node r's chunks: gto[goff[r-1] .. goff[r]) */
};

/* Successors of node v: a list of targets and what to add to each. */
static inline const uint32_t *
succ(const struct graph *G, uint32_t v, size_t *n, uint32_t *add)
{
	size_t j;

	if (v == 0) {
		*n = G->nroots;
		*add = 0;
		return G->super_to;
	}
	*add = (uint32_t)(1 + G->nroots);
	if (v <= G->nroots) {
		*n = G->goff[v] - G->goff[v - 1];
		return G->gto + G->goff[v - 1];
	}
	j = v - 1 - G->nroots;
	*n = G->g->off[j + 1] - G->g->off[j];
	return G->g->to + G->g->off[j];
}

static void
graph_make(const struct reach_graph *g, size_t nroots, const uint64_t *gedge, size_t ngedge,
	   struct graph *G)
{
	G->g = g;
	G->nroots = nroots;
	G->super_to = xmalloc((nroots ? nroots : 1) * sizeof(*G->super_to));
	for (size_t i = 0; i < nroots; i++)
		G->super_to[i] = (uint32_t)(i + 1);
	G->goff = xcalloc(nroots + 1, sizeof(*G->goff));
	G->gto = xmalloc((ngedge ? ngedge : 1) * sizeof(*G->gto));
	for (size_t i = 0; i < ngedge; i++) {
		G->goff[(gedge[i] >> 32) + 1]++;
		G->gto[i] = (uint32_t)gedge[i];
	}
	for (size_t i = 0; i < nroots; i++)
		G->goff[i + 1] += G->goff[i];
}

static void
graph_free(struct graph *G)
{
	free(G->super_to);
	free(G->goff);
	free(G->gto);
}

/* ---- Semi-NCA ----------------------------------------------------------------- */

/* Step 1: number the nodes depth first; parent[] in DFS numbers. */
static size_t
dfs(const struct graph *G, size_t nnodes, uint32_t *num, uint32_t *vertex, uint32_t *parent)
{
	uint32_t *stack = xmalloc(nnodes * sizeof(*stack));
	uint32_t *cursor = xmalloc(nnodes * sizeof(*cursor));
	size_t sp = 0, n = 0;

	for (size_t v = 0; v < nnodes; v++)
		num[v] = RETAIN_NONE;
	num[0] = 0;
	vertex[n] = 0;
	parent[n++] = 0;
	stack[sp] = 0;
	cursor[sp++] = 0;
	while (sp) {
		uint32_t v = stack[sp - 1], add;
		size_t cnt;
		const uint32_t *t = succ(G, v, &cnt, &add);

		while (cursor[sp - 1] < cnt && num[t[cursor[sp - 1]] + add] != RETAIN_NONE)
			cursor[sp - 1]++;
		if (cursor[sp - 1] == cnt) {
			sp--;
			continue;
		}
		uint32_t w = t[cursor[sp - 1]++] + add;

		num[w] = (uint32_t)n;
		vertex[n] = w;
		parent[n++] = num[v];
		stack[sp] = w;
		cursor[sp++] = 0;
	}
	free(stack);
	free(cursor);
	return n;
}

/* Predecessors in DFS numbers, of reached nodes only: CSR roff/rfrom. */
static void
reverse_edges(const struct graph *G, size_t n, const uint32_t *num, const uint32_t *vertex,
	      uint32_t **roff, uint32_t **rfrom, uint64_t *nedges)
{
	uint32_t *off = xcalloc(n + 1, sizeof(*off)), *from;
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t add;
		size_t cnt;
		const uint32_t *t = succ(G, vertex[i], &cnt, &add);

		for (size_t k = 0; k < cnt; k++)
			off[num[t[k] + add] + 1]++; /* a successor of a reached node is reached */
		m += cnt;
	}
	for (size_t i = 0; i < n; i++)
		off[i + 1] += off[i];
	from = xmalloc((m ? m : 1) * sizeof(*from));
	for (size_t i = 0; i < n; i++) {
		uint32_t add;
		size_t cnt;
		const uint32_t *t = succ(G, vertex[i], &cnt, &add);

		for (size_t k = 0; k < cnt; k++)
			from[off[num[t[k] + add]]++] = (uint32_t)i;
	}
	for (size_t i = n; i > 0; i--) /* the fill moved each start to the next one's */
		off[i] = off[i - 1];
	off[0] = 0;
	*roff = off;
	*rfrom = from;
	*nedges = m;
}

/* The node of lowest semi on v's path up the forest of nodes numbered
 * >= last (those done), compressing the path; anc[] is the forest. */
static uint32_t
eval(uint32_t v, uint32_t last, uint32_t *anc, uint32_t *label, const uint32_t *semi,
     uint32_t *stack)
{
	size_t sp = 0;
	uint32_t p, plabel;

	if (anc[v] < last)
		return label[v];
	do {
		stack[sp++] = v;
		v = anc[v];
	} while (anc[v] >= last);
	p = v;
	plabel = label[p];
	while (sp) {
		v = stack[--sp];
		anc[v] = anc[p];
		if (semi[plabel] < semi[label[v]])
			label[v] = plabel;
		else
			plabel = label[v];
		p = v;
	}
	return label[v];
}

static void
semi_nca(size_t n, const uint32_t *roff, const uint32_t *rfrom, uint32_t *parent_idom)
{
	uint32_t *semi = xmalloc(n * sizeof(*semi));
	uint32_t *label = xmalloc(n * sizeof(*label));
	uint32_t *anc = xmalloc(n * sizeof(*anc));
	uint32_t *stack = xmalloc(n * sizeof(*stack));

	for (size_t i = 0; i < n; i++) {
		semi[i] = label[i] = (uint32_t)i;
		anc[i] = parent_idom[i];
	}
	for (size_t w = n - 1; w >= 1; w--) {
		semi[w] = parent_idom[w];
		for (uint32_t k = roff[w]; k < roff[w + 1]; k++) {
			uint32_t u = eval(rfrom[k], (uint32_t)w + 1, anc, label, semi, stack);

			if (semi[u] < semi[w])
				semi[w] = semi[u];
		}
	}
	for (size_t w = 1; w < n; w++) {
		uint32_t c = parent_idom[w];

		while (c > semi[w])
			c = parent_idom[c];
		parent_idom[w] = c;
	}
	free(semi);
	free(label);
	free(anc);
	free(stack);
}

/* ---- the whole ---------------------------------------------------------------- */

void
retain_from_graph(const struct reach_graph *g, size_t nroots, const uint64_t *gedge, size_t ngedge,
		  const struct heap_model *h, struct retain *rt)
{
	struct graph G;
	size_t nnodes;
	uint32_t *roff, *rfrom;
	double t0 = now_ms();

	rt->nroots = nroots;
	rt->nchunks = g->nchunks;
	if (rt->nchunks + rt->nroots + 1 >= RETAIN_NONE)
		error_msg_and_die(EXIT_FAIL, "%zu chunks: too many for the dominator tree",
				  rt->nchunks);
	nnodes = 1 + rt->nroots + rt->nchunks;
	graph_make(g, rt->nroots, gedge, ngedge, &G);
	rt->num = xmalloc(nnodes * sizeof(*rt->num));
	rt->vertex = xmalloc(nnodes * sizeof(*rt->vertex));
	rt->idom = xmalloc(nnodes * sizeof(*rt->idom));
	rt->n = dfs(&G, nnodes, rt->num, rt->vertex, rt->idom);
	reverse_edges(&G, rt->n, rt->num, rt->vertex, &roff, &rfrom, &rt->edges);
	graph_free(&G);
	semi_nca(rt->n, roff, rfrom, rt->idom);
	free(roff);
	free(rfrom);

	rt->bytes = xcalloc(rt->n, sizeof(*rt->bytes));
	rt->chunks = xcalloc(rt->n, sizeof(*rt->chunks));
	for (size_t i = 0; i < rt->n; i++) {
		long j = retain_node_chunk(rt, rt->vertex[i]);

		if (j >= 0) {
			rt->bytes[i] = chunk_shown_size(h, &h->chunks[j]);
			rt->chunks[i] = 1;
		}
	}
	for (size_t i = rt->n - 1; i >= 1; i--) {
		rt->bytes[rt->idom[i]] += rt->bytes[i];
		rt->chunks[rt->idom[i]] += rt->chunks[i];
	}
	rt->dom_ms = now_ms() - t0;
}

void
retain_run(const struct scan *s, struct reach_graph *g, const struct unwind_set *u,
	   struct retain *rt)
{
	uint64_t *gedge;
	size_t ngedge;
	double t0 = now_ms();

	memset(rt, 0, sizeof(*rt));
	group_roots(s, u, g, rt, &gedge, &ngedge);
	rt->graph_ms = g->ms + now_ms() - t0;
	retain_from_graph(g, rt->nroots, gedge, ngedge, &s->heap, rt);
	free(gedge);
	reach_graph_free(g);
}

const char *
retain_kind_name(enum retain_kind k)
{
	static const char *const names[RK__N] = { "global", "stack", "register", "anonymous",
						  "shared" };

	return k < RK__N ? names[k] : "?";
}

void
retain_summary_free(struct retain_summary *sum)
{
	for (size_t i = 0; i < sum->n; i++)
		free(sum->e[i].name);
	free(sum->e);
	free(sum->by_type);
	memset(sum, 0, sizeof(*sum));
}

void
retain_free(struct retain *rt)
{
	free(rt->roots);
	free(rt->vertex);
	free(rt->num);
	free(rt->idom);
	free(rt->bytes);
	free(rt->chunks);
	memset(rt, 0, sizeof(*rt));
}
