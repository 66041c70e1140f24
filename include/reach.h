/*
 * reach.h - which live chunks can the program still get to?
 *
 * A conservative mark from the roots, the way valgrind's leak check and chap
 * do it, on the copy taken in the stop window:
 *
 *   roots   every thread's registers; every thread's stack from its stack
 *           pointer (less the 128-byte red zone, unless the thread is in a
 *           system call) to the end of its mapping
 *           (thread-local storage and the thread descriptor sit above the
 *           stack in that mapping); every other copied writable mapping that
 *           malloc does not own - modules' .data and .bss, anonymous mmaps,
 *           the main thread's TLS; and the modules' read-only mappings
 *           (RELRO data).  The dead part of a stack, below the red zone, is
 *           not a root: it holds stale pointers of returned calls.
 *   targets the live chunks (in use, mmapped).  Any 8-byte-aligned word whose
 *           value falls in a chunk's user bytes - from the pointer malloc
 *           returned to the next chunk's header, interior pointers included
 *           - marks the chunk, and the chunk's own words (its last usable 8
 *           bytes too) are scanned in turn.  Free chunks (tcache, fastbins,
 *           bins, top) are neither scanned nor marked.
 *
 * What is left unmarked has leaked.  Among those, a chunk that no other
 * leaked chunk points to is leaked directly ("definitely lost"); what is
 * reachable only through it is leaked indirectly.  A cycle of leaked chunks
 * that nothing outside points to gets one direct leak, its lowest address.
 *
 * Memory: one byte of state per chunk and a 4-byte work queue entry per live
 * chunk, plus a lookup table of 4 bytes per 256 bytes of heap; --why adds
 * 8 bytes per chunk for the chain.
 */
#ifndef HEAPSCAN_REACH_H
#define HEAPSCAN_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glibc.h"
#include "image.h"
#include "maps.h"

struct scan;

enum reach_state {
	RS_FREE = 0,   /* not a live chunk */
	RS_REACHABLE,
	RS_DIRECT,     /* leaked: nothing points to it */
	RS_INDIRECT,   /* leaked: only leaked chunks point to it */
	RS__N
};

const char *reach_state_name(enum reach_state s);

enum root_kind {
	ROOT_REGISTER,  /* a thread's register */
	ROOT_STACK,     /* a thread's stack, at or above its stack pointer */
	ROOT_MODULE,    /* a module's writable or RELRO mapping (or its .bss tail) */
	ROOT_ANON,      /* other memory malloc does not own */
};

/* Where a chain starts (--why) or a referrer sits (--referrers). */
struct reach_root {
	enum root_kind kind;
	uint64_t addr;    /* the word's address; for a register, its value */
	int thread;       /* index into the scan's threads for REGISTER/STACK, else -1 */
	int reg;          /* REGISTER: index into user_regs_struct, in 8-byte words */
};

struct reach {
	uint8_t *state;      /* per heap chunk: enum reach_state */
	size_t nchunks;
	uint64_t count[RS__N], bytes[RS__N];
	uint64_t root_bytes; /* bytes of memory scanned as roots */
	uint64_t scanned_bytes; /* root bytes plus the reachable chunks' bytes */
	double ms;
	/* With chains (reach_opts.chains): how each reachable chunk was first
	 * reached, breadth first, so the chain back to a root is a shortest one. */
	uint32_t *parent;    /* chunk index, or REACH_PARENT_ROOT */
	uint32_t *via;       /* offset of the pointer in the parent, or index into roots */
	struct reach_root *roots;
	size_t nroots, roots_cap;
	/* private: the lookup from an address to its chunk */
	struct reach_index *index;
	size_t charged;      /* bytes of the per-chunk arrays (xmalloc.h mem_charge) */
};

#define REACH_PARENT_ROOT UINT32_MAX

struct reach_graph;

struct reach_opts {
	bool chains; /* keep parent links for reach_chain */
	struct reach_graph *graph; /* keep the pointers followed here (see below); NULL: no */
};

/* Mark s's heap model.  s must hold a glibc heap model (not foreign). */
void reach_run(const struct scan *s, const struct reach_opts *opts, struct reach *out);
void reach_free(struct reach *r);
/* A result read back (a snapshot's states, each < RS__N, one per chunk of
 * h): r takes state over and recounts; no chains, no index. */
void reach_adopt(struct reach *r, const struct heap_model *h, uint8_t *state);

/* Index of the live chunk whose user bytes hold addr, or -1.  Needs reach_run. */
long reach_chunk_of(const struct reach *r, const struct heap_model *h, uint64_t addr);

/* The chain from a root to chunk idx (needs chains): fills up to max chunk
 * indices, root side first, and the root; returns the chain length, 0 when
 * idx is not reachable, or more than max when it did not fit. */
size_t reach_chain(const struct reach *r, size_t idx, uint32_t *chain, size_t max,
		   struct reach_root *root);

/* Every root word and every live chunk word that points into chunk idx.
 * Calls fn for each: a root (chunk < 0) or a chunk index and the offset of
 * the word in it. */
typedef void (*reach_referrer_fn)(void *arg, long chunk, uint64_t off,
				  const struct reach_root *root);
void reach_referrers(const struct scan *s, const struct reach *r, size_t idx,
		     reach_referrer_fn fn, void *arg);

/* The bytes of live chunk c that are scanned, from malloc's pointer (header
 * + 16): its user bytes and, in an arena, the 8 it borrows from the next
 * chunk's prev_size (unless the copy ends there).  *len gets their count;
 * NULL when they were not copied. */
const unsigned char *reach_chunk_bytes(const struct image *img, const struct hs_chunk *c,
				       uint64_t *len);

/* ---- the pointer graph (for the dominator tree, retain.h) ---------------- *
 *
 * Every pointer the mark follows, kept as it goes: the edges out of each
 * reachable chunk, compact (CSR: chunk j's targets are to[off[j]] .. to[off[j+1]-1],
 * chunk indices, no self edges, a target repeated at once dropped), and every
 * root word that points into a live chunk (its root and the chunk).  About
 * 4 bytes per chunk and 4 per pointer.
 */
struct reach_graph {
	uint32_t *off;           /* nchunks + 1 */
	uint32_t *to;
	size_t nchunks, nedges;
	struct reach_root *root; /* root words: where each is, ... */
	uint32_t *root_to;       /* ... and the chunk it points into */
	size_t nroots, roots_cap;
	double ms;
};

/* reach_run fills it when reach_opts.graph points to one (dying, as out of
 * memory, past 2^32 - 1 edges); ms: the time joining the scanners' edges. */
void reach_graph_free(struct reach_graph *g);

#endif
