/*
 * test_retain.c - the dominator tree (retain.c) against a slow, obvious one:
 * on random small graphs, d dominates v when v cannot be reached from the
 * super-root with d taken out; the immediate dominator is the strict
 * dominator every other strict dominator dominates.  Retained bytes: the
 * sizes of the chunks each node dominates.  And a 1M-node list (the search
 * must not recurse).
 */
#include <stdlib.h>
#include <string.h>

#include "retain.h"
#include "unit.h"
#include "xmalloc.h"

#define MAXN 48

struct small {
	size_t nroots, nchunks, n; /* n = 1 + nroots + nchunks nodes */
	uint64_t adj[MAXN];        /* node -> successors (bit per node) */
	uint64_t size[MAXN];
};

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Nodes reachable from 0 without passing through node skip (skip may be -1). */
static uint64_t
reach_without(const struct small *g, int skip)
{
	uint64_t seen = 1, todo = 1;

	if (skip == 0)
		return 0;
	while (todo) {
		int v = __builtin_ctzll(todo);

		todo &= todo - 1;
		uint64_t nx = g->adj[v] & ~seen;

		if (skip >= 0)
			nx &= ~(1ULL << skip);
		seen |= nx;
		todo |= nx;
	}
	return seen;
}

static void
build(const struct small *g, struct reach_graph *rg, uint64_t **gedge, size_t *ngedge,
      struct hs_chunk *chunks)
{
	size_t R = g->nroots, m = 0;

	memset(rg, 0, sizeof(*rg));
	rg->nchunks = g->nchunks;
	rg->off = xmalloc((g->nchunks + 1) * sizeof(*rg->off));
	rg->to = xmalloc(MAXN * MAXN * sizeof(*rg->to));
	for (size_t j = 0; j < g->nchunks; j++) {
		rg->off[j] = (uint32_t)m;
		for (size_t w = 1 + R; w < g->n; w++)
			if (g->adj[1 + R + j] >> w & 1)
				rg->to[m++] = (uint32_t)(w - 1 - R);
		chunks[j].size = g->size[1 + R + j];
	}
	rg->off[g->nchunks] = (uint32_t)m;
	rg->nedges = m;
	*gedge = xmalloc(MAXN * MAXN * sizeof(**gedge));
	*ngedge = 0;
	for (size_t r = 0; r < R; r++)
		for (size_t w = 1 + R; w < g->n; w++)
			if (g->adj[1 + r] >> w & 1)
				(*gedge)[(*ngedge)++] = (uint64_t)r << 32 | (w - 1 - R);
}

static void
check_one(const struct small *g)
{
	struct reach_graph rg;
	struct retain rt = { 0 };
	struct hs_chunk chunks[MAXN];
	uint64_t *gedge, all = reach_without(g, -1), sdom[MAXN];
	size_t ngedge;

	memset(chunks, 0, sizeof(chunks));
	build(g, &rg, &gedge, &ngedge, chunks);
	retain_from_graph(&rg, g->nroots, gedge, ngedge, &(struct heap_model){ .chunks = chunks, .nchunks = g->n }, &rt);
	for (size_t v = 0; v < g->n; v++) {
		sdom[v] = 0;
		if (!(all >> v & 1) || v == 0)
			continue;
		for (size_t d = 0; d < g->n; d++)
			if (d != v && (all >> d & 1) && !(reach_without(g, (int)d) >> v & 1))
				sdom[v] |= 1ULL << d;
	}
	CHECK_EQ_U64(rt.n, __builtin_popcountll(all));
	for (size_t v = 0; v < g->n; v++) {
		uint64_t bytes = 0, chunks_n = 0;
		int idom = -1;

		if (!(all >> v & 1)) {
			CHECK(rt.num[v] == RETAIN_NONE);
			continue;
		}
		for (size_t w = 0; w < g->n; w++)
			if ((all >> w & 1) && (w == v || (sdom[w] >> v & 1)) && w > g->nroots) {
				bytes += g->size[w];
				chunks_n++;
			}
		CHECK_EQ_U64(rt.bytes[rt.num[v]], bytes);
		CHECK_EQ_U64(rt.chunks[rt.num[v]], chunks_n);
		if (v == 0)
			continue;
		for (size_t d = 0; d < g->n; d++)
			if ((sdom[v] >> d & 1) && sdom[d] == (sdom[v] & ~(1ULL << d)))
				idom = (int)d;
		CHECK(idom >= 0);
		CHECK_EQ_U64(rt.vertex[rt.idom[rt.num[v]]], idom);
	}
	retain_free(&rt);
	free(gedge);
	reach_graph_free(&rg);
}

UNIT_TEST(retain_random_graphs_match_slow_dominators)
{
	for (int round = 0; round < 3000; round++) {
		struct small g;
		unsigned dens = 1 + next() % 6;

		memset(&g, 0, sizeof(g));
		g.nroots = 1 + next() % 4;
		g.nchunks = 1 + next() % (MAXN - 1 - g.nroots);
		g.n = 1 + g.nroots + g.nchunks;
		for (size_t r = 1; r <= g.nroots; r++)
			g.adj[0] |= 1ULL << r;
		for (size_t v = 1; v < g.n; v++) {
			for (size_t w = 1 + g.nroots; w < g.n; w++)
				if (w != v && next() % (g.n * 2) < dens)
					g.adj[v] |= 1ULL << w;
			g.size[v] = v > g.nroots ? 16 * (2 + next() % 50) : 0;
		}
		check_one(&g);
		if (unit_failed_checks)
			break;
	}
}

UNIT_TEST(retain_long_list_is_one_chain)
{
	size_t n = 1000000;
	struct reach_graph rg = { .nchunks = n };
	struct hs_chunk *chunks = xcalloc(n, sizeof(*chunks));
	uint64_t gedge = 0; /* root 0 -> chunk 0 */
	struct retain rt;

	rg.off = xmalloc((n + 1) * sizeof(*rg.off));
	rg.to = xmalloc(n * sizeof(*rg.to));
	for (size_t j = 0; j < n; j++) {
		rg.off[j] = (uint32_t)rg.nedges;
		if (j + 1 < n)
			rg.to[rg.nedges++] = (uint32_t)(j + 1);
		chunks[j].size = 32;
	}
	rg.off[n] = (uint32_t)rg.nedges;
	retain_from_graph(&rg, 1, &gedge, 1, &(struct heap_model){ .chunks = chunks, .nchunks = n }, &rt);
	CHECK_EQ_U64(rt.n, n + 2);
	CHECK_EQ_U64(rt.bytes[rt.num[1]], 32 * n);
	CHECK_EQ_U64(rt.chunks[rt.num[retain_chunk_node(&rt, n / 2)]], n - n / 2);
	CHECK_EQ_U64(rt.vertex[rt.idom[rt.num[retain_chunk_node(&rt, n - 1)]]],
		     retain_chunk_node(&rt, n - 2));
	retain_free(&rt);
	free(chunks);
	reach_graph_free(&rg);
}

/* The pointer graph the mark keeps, on the two-thread mark (200000 chunks)
 * and the one-thread one (chains), against each reachable chunk's words
 * read here: the same edges, in the same order, and the root words. */
UNIT_TEST(retain_graph_kept_by_the_mark)
{
	enum { N = 200000, SZ = 0x30 };
	struct scan s;
	struct reach a, b;
	struct reach_graph ga, gb;
	unsigned char *heap = calloc(N, SZ), data[64];
	struct hs_chunk *ch = calloc(N, sizeof(*ch));
	uint64_t seed = 777, base = 0x100000, v, bad = 0, nedges = 0;

	memset(&s, 0, sizeof(s));
	image_init(&s.img);
	image_init(&s.ro);
	for (size_t i = 0; i < N; i++) {
		ch[i] = (struct hs_chunk){ .addr = base + i * SZ, .size = SZ, .kind = CK_INUSE };
		for (int k = 0; k < 4; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			if ((seed >> 60) < 12) { /* interior pointers, repeats, self, free targets */
				size_t t = (seed >> 61) == 0 && k ? i : (seed >> 20) % N;

				v = base + t * SZ + 16 + (k & 1) * 8;
				memcpy(heap + i * SZ + 16 + k * 8, &v, 8);
				if (k == 2 && (seed >> 58) == 3) /* the same target twice in a row */
					memcpy(heap + i * SZ + 16 + 24, &v, 8);
			}
		}
		if (i % 89 == 0)
			ch[i].kind = CK_FASTBIN;
	}
	for (int k = 0; k < 8; k++) {
		v = base + (uint64_t)(k * 7919 % N) * SZ + 16;
		memcpy(data + k * 8, &v, 8);
	}
	CHECK(image_add_copy(&s.img, 0x10000, data, sizeof(data), MAP_PERM_R | MAP_PERM_W, "/a") == 0);
	CHECK(image_add_copy(&s.img, base, heap, (size_t)N * SZ, MAP_PERM_R | MAP_PERM_W, "[heap]") == 0);
	s.heap.chunks = ch;
	s.heap.nchunks = N;
	reach_run(&s, &(struct reach_opts){ .graph = &ga }, &a);
	reach_run(&s, &(struct reach_opts){ .chains = true, .graph = &gb }, &b);
	CHECK_EQ_U64(ga.nedges, gb.nedges);
	for (int k = 0; k < 8; k++) /* root words into live chunks (chunk 0 is free) */
		nedges += ch[k * 7919 % N].kind == CK_INUSE;
	CHECK_EQ_U64(ga.nroots, nedges);
	CHECK_EQ_U64(gb.nroots, nedges);
	nedges = 0;
	for (size_t i = 0; i < N && !bad; i++) {
		const unsigned char *p = heap + i * SZ + 16;
		long prev = -1;
		size_t e = ga.off[i];

		bad += ga.off[i] != gb.off[i];
		if (a.state[i] != RS_REACHABLE) {
			bad += ga.off[i + 1] != ga.off[i];
			continue;
		}
		for (int k = 0; k < (SZ - 16 + 8) / 8; k++) { /* the next chunk's prev_size too */
			long t;

			memcpy(&v, i + 1 < N || k < 4 ? p + k * 8 : p, 8);
			if (i + 1 == N && k == 4)
				break;
			if (v < base + 16 || (v - base) / SZ >= N || (v - base) % SZ < 16)
				continue;
			t = (long)((v - base) / SZ);
			if (ch[t].kind != CK_INUSE || t == (long)i || t == prev)
				continue;
			prev = t;
			bad += e >= ga.off[i + 1] || ga.to[e] != (uint32_t)t || gb.to[e] != (uint32_t)t;
			e++;
			nedges++;
		}
		bad += e != ga.off[i + 1];
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(nedges, ga.nedges);
	CHECK(nedges > N / 2);
	reach_graph_free(&ga);
	reach_graph_free(&gb);
	reach_free(&a);
	reach_free(&b);
	image_free(&s.img);
	image_free(&s.ro);
	free(heap);
	free(ch);
}
