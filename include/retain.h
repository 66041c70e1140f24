/*
 * retain.h - who holds the memory: the dominator tree of the live heap.
 *
 * The graph is reachability's (reach.h): its nodes are a virtual super-root,
 * the roots - grouped into what a person would name: one global symbol, one
 * stack frame of one thread, one register of one thread, one anonymous
 * mapping - and the reachable chunks; its edges are the pointers the mark
 * follows.  Node d dominates node v when every path from the super-root to v
 * passes through d.  A chunk's retained size is the bytes of every chunk it
 * dominates, itself included: what freeing it (and dropping the pointers to
 * it) would give back.  A root retains what only it leads to; what two
 * roots share is dominated by the super-root alone, and is "shared".
 *
 * Nodes are numbered in depth-first order from the super-root (0): every
 * array below is indexed by that number, and a node's immediate dominator
 * has a smaller number than the node, so one backward pass sums retained
 * sizes and one forward pass propagates anything down the tree.
 */
#ifndef HEAPSCAN_RETAIN_H
#define HEAPSCAN_RETAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "reach.h"
#include "scan.h"
#include "unwind.h"

/* One root node: the root words of one global, frame, register or mapping. */
struct retain_root {
	enum root_kind kind;
	int thread;      /* REGISTER, STACK: index into the scan's threads; else -1 */
	int reg;         /* REGISTER: index into user_regs_struct, in words */
	int frame;       /* STACK: frame number (unwind.h), -1 when not known */
	uint64_t addr;   /* MODULE: the symbol's start (or the mapping's when no
			  * symbol covers it); ANON: the mapping's start; STACK:
			  * the lowest root word; REGISTER: its value */
	bool symbol;     /* MODULE: addr is a symbol's start */
	uint64_t words;  /* root words in it that point into chunks */
};

#define RETAIN_NONE UINT32_MAX

struct retain {
	struct retain_root *roots;  /* node ids 1 .. nroots */
	size_t nroots;
	size_t nchunks;             /* chunk j is node id 1 + nroots + j */
	size_t n;                   /* nodes reached from the super-root, itself included */
	uint32_t *vertex;           /* dfs number -> node id */
	uint32_t *num;              /* node id -> dfs number, RETAIN_NONE if not reached */
	uint32_t *idom;             /* dfs number -> its immediate dominator's (0 for 0) */
	uint64_t *bytes;            /* dfs number -> retained bytes */
	uint32_t *chunks;           /* dfs number -> retained chunks */
	uint64_t edges;             /* edges of the graph, root edges included */
	double graph_ms, dom_ms;
};

/* ---- what a report or a snapshot keeps of the tree ---- */

enum retain_kind { RK_GLOBAL, RK_STACK, RK_REGISTER, RK_ANON, RK_SHARED, RK__N };

const char *retain_kind_name(enum retain_kind k); /* "global", ..., "shared" */

#define RETAIN_TOP_TYPES 5

struct retain_type_sum {
	uint32_t type;           /* index into the type table; UINT32_MAX: untyped */
	uint64_t bytes, chunks;
};

/* A node right under the super-root: a root, or a chunk roots share. */
struct retain_entry {
	char *name;              /* the root's name; "shared" for a shared chunk */
	enum retain_kind kind;
	bool has_address;        /* registers have none */
	uint64_t address;        /* global's or mapping's start, stack's lowest root
				  * word, a shared chunk's malloc pointer */
	uint32_t type;           /* a shared chunk's type; UINT32_MAX otherwise */
	uint64_t bytes, chunks;  /* retained */
	struct retain_type_sum top[RETAIN_TOP_TYPES]; /* own bytes of the chunks it
						       * retains, by type, most first */
	size_t ntop;
};

struct retain_summary {
	uint64_t reachable_bytes, reachable_chunks, nodes, edges;
	double graph_ms, dom_ms;
	uint64_t total;              /* retainers in all */
	struct retain_entry *e;      /* the first n of them, most bytes first */
	size_t n;
	struct retain_type_sum *by_type; /* retained by all chunks of a type, most first */
	size_t nby;
};

void retain_summary_free(struct retain_summary *sum);

/* Node id of chunk j, and the chunk of a node (-1 for the super-root and roots). */
static inline uint32_t
retain_chunk_node(const struct retain *rt, size_t j)
{
	return (uint32_t)(1 + rt->nroots + j);
}

static inline long
retain_node_chunk(const struct retain *rt, uint32_t node)
{
	return node > rt->nroots ? (long)(node - 1 - rt->nroots) : -1;
}

/* The dominator tree of s's live heap from the pointer graph reach_run(s)
 * kept in g (freed here); u (may be NULL) numbers stack frames.  Dies when
 * out of memory. */
void retain_run(const struct scan *s, struct reach_graph *g, const struct unwind_set *u,
		struct retain *out);
void retain_free(struct retain *rt);

/* The tree of a graph given (for the unit tests): g's chunk edges (g->nchunks
 * chunks, sizes from h, as shown: chunk_shown_size), nroots roots whose edges are gedge[], each
 * root << 32 | chunk, sorted.  rt->roots is left NULL. */
void retain_from_graph(const struct reach_graph *g, size_t nroots, const uint64_t *gedge,
		       size_t ngedge, const struct heap_model *h, struct retain *rt);

#endif
