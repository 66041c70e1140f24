/*
 * pynodes.h - Python objects as nodes of the pointer graph.
 *
 * --leaks, --why, --referrers and --retained follow pointers between the
 * chunks of one heap model (reach.h, retain.h).  In a CPython process most
 * objects are pymalloc blocks, in arenas CPython maps itself: to the glibc
 * model those arenas are anonymous memory, so roots, and the objects in them
 * invisible.  The view built here is the scan with a heap model that holds
 * both, sorted by address:
 *
 *   - every in-use glibc chunk, as it is;
 *   - every live pymalloc block, as a "chunk" at the block - 16 of the
 *     block's size + 16 (kind CK_MMAPPED, arena CHUNK_ARENA_BLOCK: the
 *     block's bytes are read exactly and count as its size, glibc.h);
 *   - every pool (live blocks, free ones, the header) in the model's owned
 *     ranges, so free blocks' stale words are never roots, and never
 *     targets (they are no chunk);
 *   - per chunk, the preheader of the GC-tracked object it holds (py_pre):
 *     the GC head, the collector's doubly linked list through every tracked
 *     object, is bookkeeping like malloc's free lists.  Followed, it would
 *     make every object reachable from every other and dominate nothing.
 *     Real references point at the object, after its GC head, never into
 *     it, so a word that points into a GC head is not taken as a pointer
 *     (the generation lists' heads, in the interpreter state, point there
 *     too), and a GC head's words are not followed.
 *
 * Everything else is conservative as for C: any word equal to an address
 * inside a live block or chunk is a pointer.  The interpreter's own
 * references are real references (a class's type object, interned strings,
 * the small-int cache, free lists of parked objects: those hold blocks the
 * interpreter keeps, reachable from its globals).
 *
 * Types: each node holding an object (or owned by one: an instance's
 * __dict__ and attribute values, a list's items, a dict's keys and values)
 * gets its Python class (`__main__.Holder`, `[list items]`); the other
 * chunks and blocks are typed as C chunks are (types.h).
 */
#ifndef HEAPSCAN_PYNODES_H
#define HEAPSCAN_PYNODES_H

#include <stdint.h>

#include "pyobj.h"
#include "scan.h"
#include "types.h"

struct pyview {
	struct scan scan;       /* s, borrowed, with heap replaced by the merged model */
	struct py_summary py;   /* the classes the nodes name */
	uint32_t *cls;          /* per chunk of scan.heap: py class, PY_NODE_NONE */
	uint64_t blocks;        /* pymalloc blocks among the nodes */
};

/* 0 and v filled when s is a CPython process with pymalloc pools (or
 * objects in glibc chunks); -1 when it is not CPython; -2 with a one-line
 * cause in why for a CPython heapscan does not read (v untouched). */
int pyview_build(const struct scan *s, struct pyview *v, char *why, size_t whylen);
void pyview_free(struct pyview *v);

/* The type table of a model with Python nodes: cls gives each chunk of h
 * its py class (PY_NODE_NONE: typed as a C chunk); sub is types_build's
 * table of the chunks whose cls is PY_NODE_NONE, in order (taken over:
 * its arrays move into out).  Python classes are TK_CLASS entries after
 * sub's types. */
void pynodes_types(const struct heap_model *h, const uint32_t *cls, const struct py_summary *py,
		   struct type_table *sub, struct type_table *out);

#endif
