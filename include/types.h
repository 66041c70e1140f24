/*
 * types.h - what each in-use chunk is, in the program's terms.
 *
 * C++ objects are recognised by their vtable pointers (Itanium ABI):
 *
 *   object:  [vptr][fields...]      vptr -> vtable address point
 *   vtable:  [offset_to_top][typeinfo*][virtual functions...]
 *                                    ^ address point
 *   typeinfo: [vptr of a __cxxabiv1::*class_type_info][name*]
 *                                                     -> "N4shop5OrderE"
 *
 * A word is an instance's primary vptr when it points at an address point in
 * a module, offset_to_top is 0, and the typeinfo's name demangles to a type
 * (libiberty).  With no RTTI the module's _ZTV symbols name it.  The verdict
 * is cached per vptr value.
 *
 * Each in-use chunk gets one type: the class whose primary vptr is at its
 * start; an array of a class (new[] cookie word, then vptrs); a content or
 * shape cluster; otherwise its size.  Instances are counted wherever they are
 * in the live part of live chunks (arrays, vectors, members of other
 * objects): all of a chunk but a container's unused capacity (a std::vector
 * or std::string header anywhere in live memory says how much of the chunk
 * it points at is in use) and what follows a C string's NUL.
 */
#ifndef HEAPSCAN_TYPES_H
#define HEAPSCAN_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrmap.h"
#include "cluster.h"
#include "glibc.h"
#include "image.h"
#include "maps.h"

#define STACK_RED_ZONE 128 /* bytes below a stack pointer a leaf function may use (x86-64 ABI) */

struct py_summary;

enum type_kind { TK_CLASS, TK_ARRAY, TK_CONTENT, TK_SHAPE, TK_SIZE };

const char *type_kind_name(enum type_kind k);

struct type_entry {
	enum type_kind kind;
	char *name;        /* "shop::Order", "shop::Order[]", a preview, a shape, "0x40 bytes" */
	uint64_t size;     /* chunk size for content/shape/size types, else 0 */
	uint64_t count;    /* chunks of this type */
	uint64_t bytes;
	uint64_t sample;   /* a chunk's header; shown as CHUNK_USER (malloc's pointer) */
};

struct class_entry {
	char *name;
	uint64_t instances; /* primary vptrs in live chunks */
	uint64_t sample;    /* address of one instance */
};

struct type_table {
	struct type_entry *types;
	size_t ntypes;
	struct class_entry *classes;
	size_t nclasses;
	uint32_t *of_chunk; /* per heap chunk: index into types, UINT32_MAX for free chunks */
	bool of_chunk_big;  /* of_chunk is from bigmem (types_build), not malloc */
	struct py_summary *py; /* a CPython target's objects by type (pyobj.h), or NULL */
};

struct types_input {
	const struct image *img;     /* copied writable memory */
	const struct image *ro;      /* modules' read-only mappings (vtables, typeinfo, names) */
	const struct addrmap *am;
	const struct maps *maps;     /* to find a module's load bias for _ZTV symbols */
	const struct heap_model *heap; /* NULL: no malloc model (not glibc): scan anon regions */
	pid_t pid;                   /* to open module files for _ZTV symbols; 0 for none */
	/* Each thread's stack pointer less the red zone: below it a stack holds
	 * only dead frames, whose container headers are not looked at.  NULL:
	 * none known. */
	const uint64_t *stack_low;
	size_t nstack_low;
	/* Classes only (--vtables): their instances, no type for each chunk
	 * (no clusters, no shapes' holders); of_chunk and types stay empty. */
	bool classes_only;
};

void types_build(const struct types_input *in, struct type_table *out);
void type_table_free(struct type_table *t);

#endif
