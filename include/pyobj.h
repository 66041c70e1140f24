/*
 * pyobj.h - Python objects by type, in pymalloc blocks and glibc chunks.
 *
 * Every CPython object starts with a reference count and a pointer to its
 * type; a type object holds its name (the twin of a C++ vptr and typeinfo):
 *
 *   block/chunk:  [preheader][ob_refcnt][ob_type][fields...]
 *   preheader:    PyGC_Head (16 bytes) when the type has Py_TPFLAGS_HAVE_GC;
 *                 3.11: + dict and values pointers (16 bytes, before the GC
 *                 head) with Py_TPFLAGS_MANAGED_DICT; 3.12, 3.13: the same
 *                 with MANAGED_DICT or MANAGED_WEAKREF
 *   type object:  +8 ob_type (type, or a metatype whose type is type),
 *                 +24 tp_name, +32 tp_basicsize, +168 tp_flags, +264 tp_dict
 *   heap type:    ht_qualname at +864 (3.8, 3.10, 3.11), +856 (3.9),
 *                 +872 (3.12, 3.13); __module__ in tp_dict
 *
 * A block (or chunk) holds an object of type T at offset o in {0, 16, 32}
 * when T is a type (its own type is `type` or a metatype of it, READY is
 * set, tp_name reads as a name), T's preheader is exactly o bytes, T's
 * basicsize fits, and the reference count is not 0 (objects parked on
 * CPython's free lists - dicts, lists, tuples - keep their type but have a
 * count of 0).  Builtin types are named by tp_name; classes as
 * `module.Qualname`.
 *
 * `type` itself (PyType_Type) is found in the image as the object in a
 * module's writable data whose ob_type is itself and whose tp_name is
 * "type"; the version from sizeof(PyHeapTypeObject) (type's basicsize) and,
 * for 3.8 / 3.9 which share it, the module's file name.
 */
#ifndef HEAPSCAN_PYOBJ_H
#define HEAPSCAN_PYOBJ_H

#include <stdbool.h>
#include <stdint.h>

#include "glibc.h"
#include "image.h"
#include "pymalloc.h"

struct py_class {
	char *name;        /* "dict", "__main__.Session" */
	uint64_t count;    /* live objects */
	uint64_t bytes;    /* their blocks and chunks, preheaders included */
	uint64_t sample;   /* the address of one object (its ob_refcnt) */
};

struct py_summary {
	int minor;                 /* 3.minor */
	uint64_t type_type;        /* &PyType_Type */
	uint32_t pool_size;
	uint64_t pools, live_blocks, live_bytes, free_blocks, free_bytes;
	uint64_t bad_lists, count_mismatch;
	uint64_t objects, object_bytes;   /* typed, in blocks and chunks */
	uint64_t in_chunks;               /* of those, in glibc chunks */
	uint64_t untyped_blocks;          /* live blocks holding no object and owned by none */
	uint64_t owned_blocks, owned_bytes; /* blocks and chunks counted with their owners:
					       list items, dict keys and values */
	struct py_class *classes;         /* most objects first */
	size_t nclasses;
};

struct py_input {
	const struct image *img;  /* writable memory */
	const struct image *ro;   /* modules' read-only mappings (tp_name strings) */
	const struct heap_model *heap; /* glibc's chunks, NULL when none */
};

/* 0 and *out filled when the image holds a CPython heap it can read;
 * -1 when there is none (no `type` object found), with out zeroed; -2
 * with a one-line cause in why when it is CPython of a version not read. */
int pyobj_scan(const struct py_input *in, struct py_summary *out, char *why, size_t whylen);
void py_summary_free(struct py_summary *s);

/* Which object each live block and chunk holds, for the pointer graph
 * (pynodes.h): its class (an index into the summary's classes; a block an
 * object owns - an instance's __dict__ or attribute values, a list's items,
 * a dict's keys - gets its owner's class or row) and, for a GC-tracked
 * object, its preheader in 16-byte units (1 or 2: the GC head is the last
 * 16 bytes of it; 0 otherwise). */
#define PY_NODE_NONE UINT32_MAX

struct py_nodes {
	struct pym_heap pools;   /* the pools walked */
	size_t *first;           /* per pool (npools + 1): index of its block 0 */
	size_t nblocks;          /* blocks below the pools' nextoffsets */
	uint32_t *cls;           /* per block: class, PY_NODE_NONE */
	uint8_t *pre;
	uint32_t *span;          /* per block: 1 + the bytes that hold data (the
				    object's extent; a list's items in use); 0: all */
	size_t nchunks;          /* the glibc model's */
	uint32_t *chunk_cls;     /* per chunk: class, PY_NODE_NONE */
	uint8_t *chunk_pre;
	uint32_t *chunk_span;    /* per chunk: as span (list items only) */
};

/* pyobj_scan, and with nodes given, each block's and chunk's class there
 * (when it returns 0; nothing to free otherwise). */
int pyobj_scan_nodes(const struct py_input *in, struct py_summary *out, struct py_nodes *nodes,
		     char *why, size_t whylen);
void py_nodes_free(struct py_nodes *n);

/* The summary as bytes for a snapshot section (varints and strings; the
 * caller frees), and back.  Decoding checks every length and count against
 * what remains: 0, or -1 when the bytes do not decode. */
unsigned char *py_summary_encode(const struct py_summary *s, size_t *len);
/* At most max_classes classes (the snapshot reader bounds them by the bytes
 * the file spends on them); -1 on anything else that does not decode. */
int py_summary_decode(const unsigned char *p, size_t len, struct py_summary *out,
		      uint64_t max_classes);

struct scan;
struct type_table;
/* After types_build on a live scan: when the target is CPython, its objects
 * by type into tt->py (NULL otherwise).  A version not read is one line on
 * stderr, not a failure. */
void pyobj_types(const struct scan *s, struct type_table *tt);

#endif
