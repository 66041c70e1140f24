/*
 * cluster.h - grouping untyped chunks by identical contents and by shape.
 *
 * Input: the walked heap, the image, an addrmap, and a per-chunk flag of
 * chunks already typed (C++ objects and arrays) that must be left alone.
 * Only in-use chunks (CK_INUSE, CK_MMAPPED) are considered.
 *
 * A chunk's user bytes: [addr + 16, addr + size + 8) for an arena chunk (the
 * next chunk's prev_size word belongs to it while it is in use), and
 * [addr + 16, addr + size) for an mmapped chunk.
 *
 * Content clusters: chunks of the same size whose user bytes are identical,
 * at least 2 of them.  Hashed with XXH3 over the copied bytes (memory
 * bandwidth), then confirmed with memcmp against the cluster's sample so a
 * hash collision cannot merge different contents.
 *
 * A chunk that holds a C string - at least CSTRING_MIN printable bytes (or
 * \n \t \r) and then a NUL - is keyed by the string and its NUL alone,
 * whatever follows: a strdup'd copy's tail holds what the memory held
 * before, different from chunk to chunk, and one string is one cluster.
 * Fewer than CSTRING_MIN characters are not taken for a string: an int field
 * such as 65 reads as "A" and a NUL.
 *
 * Shape clusters: the remaining chunks, by size and the kind of each of their
 * first SHAPE_WORDS words: zero, heap pointer (AK_ANON), code pointer, data
 * pointer, small integer (|v| < 2^32), text (8 printable bytes, or printable
 * then NULs), other.  A shape with zero words joins the largest shape that is
 * the same but for those words (a list's tail has next == NULL, a counter may
 * be 0): whatever their values, a program's `struct node` lands in one shape.
 * At least 2 chunks make a shape cluster.
 */
#ifndef HEAPSCAN_CLUSTER_H
#define HEAPSCAN_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrmap.h"
#include "glibc.h"
#include "image.h"

#define SHAPE_WORDS 16
#define CLUSTER_NONE UINT32_MAX

enum cluster_kind { CL_CONTENT, CL_SHAPE };

struct cluster {
	enum cluster_kind kind;
	uint64_t size;    /* chunk size (chunksize, header included) */
	uint64_t count;
	uint64_t bytes;
	uint64_t sample;  /* a chunk's header address */
	uint64_t hash;    /* content hash, or shape signature hash */
	/* content: a printable preview: "\"test_memory\"" for a NUL-terminated
	 * string, else hex of the first bytes ("4a 00 00 00 ..."); shape: the
	 * words, e.g. "int, heap ptr, heap ptr" (at most SHAPE_WORDS, then "...") */
	char desc[160];
};

struct cluster_input {
	const struct image *img;
	const struct addrmap *am;
	const struct heap_model *heap;
	const bool *typed; /* per heap->chunks index: already has a type; may be NULL */
	/* or, saving two per-chunk arrays: typed when of_chunk[i] <= CLUSTER_TYPED_MAX,
	 * untyped when UINT32_MAX.  The clustering works in it, and leaves the
	 * entries of typed chunks as they were, the others UINT32_MAX or an
	 * entry e > CLUSTER_TYPED_MAX whose cluster is cluster_of_entry(e)
	 * (CLUSTER_NONE for none): the entries are not rewritten to cluster
	 * indices, a pass over all of them that the caller's own pass over
	 * them (types.c's tally) can do as it goes.  cluster_set.of_chunk is
	 * NULL then. */
	uint32_t *of_chunk;
	/* Optional, with of_chunk: the caller has marked the candidates as it
	 * typed the chunks (CLUSTER_CANDIDATE in of_chunk for each in-use
	 * chunk it left untyped, below CLUSTER_CHUNK_MAX) and summed them per
	 * block of CLUSTER_BLOCK chunks: the clustering's own pass over every
	 * entry to mark them is saved. */
	const struct cluster_marks *marks;
};

#define CLUSTER_BLOCK 4096
#define CLUSTER_CANDIDATE 0x80000000u
#define CLUSTER_CHUNK_MAX 0x3ffffffeu

/* The content pass's work on a candidate chunk of size bytes, in units
 * of 4 bytes hashed: its parts are cut to equal sums of it.  The fixed
 * part (the table slot's miss, the shape) is most of it: weighed as
 * size + 64, the part with the most small chunks took 10% longer than the
 * other on the bench's 10M-chunk heap (3.33M candidates against 2.92M);
 * as size / 4 + 96, the parts took the same time, within the noise. */
static inline uint64_t
cluster_work(uint64_t size)
{
	return size / 4 + 96;
}

struct cluster_marks {
	const uint64_t *work;   /* per block: the candidates' cluster_work */
	const uint32_t *ncand;  /* per block: candidates */
	size_t nblocks;         /* heap->nchunks / CLUSTER_BLOCK + 1 */
};

#define CLUSTER_TYPED_MAX 0x3fffffffu
#define CLUSTER_IN 0x80000000u

struct cluster_set {
	struct cluster *v;
	size_t n;
	uint32_t *of_chunk; /* per heap->chunks index: index into v, or CLUSTER_NONE */
	/* with cluster_input.of_chunk: an entry's cluster (cluster_of_entry) */
	uint32_t *shape_map, *group_map;
};

#define CLUSTER_ENTRY_SHAPE 0x40000000u /* in an entry: the rest is a shape's number */
#define CLUSTER_ENTRY_ID 0x3fffffffu

/* The cluster (index into cs->v, or CLUSTER_NONE) of an of_chunk entry e
 * that cluster_build left, e > CLUSTER_TYPED_MAX and e != UINT32_MAX. */
static inline uint32_t
cluster_of_entry(const struct cluster_set *cs, uint32_t e)
{
	return e & CLUSTER_ENTRY_SHAPE ? cs->shape_map[e & CLUSTER_ENTRY_ID]
				       : cs->group_map[e & CLUSTER_ENTRY_ID];
}

#define CSTRING_MIN 4

/* The length of the C string p starts with, its NUL included, when it is
 * one (see above); 0 otherwise. */
size_t cluster_cstring_len(const unsigned char *p, size_t len);

/* cluster_cstring_len, but 0 when the "string" fits in the first word and
 * that word, read as a pointer, points into a mapping of am (NULL: none
 * known): a node whose first field points at an address whose bytes happen
 * to be printable (0x414243444546: "FEDCBA" and a NUL) holds no string. */
size_t cluster_string_len(const struct addrmap *am, const unsigned char *p, size_t len);

void cluster_build(const struct cluster_input *in, struct cluster_set *out);
/* The only way to free a cluster_set: v and of_chunk are mmapped (huge pages,
 * faulted in up front), not malloc'd. */
void cluster_set_free(struct cluster_set *cs);

/* User bytes of chunk c (see above); NULL when not wholly in the image. */
const unsigned char *chunk_user_bytes(const struct image *img, const struct hs_chunk *c,
				      size_t *len);

#endif
