/*
 * diff.h - what changed between snapshots of one process (`heapscan --diff`).
 *
 * Types are matched across snapshots by (kind, name, size): a type's index
 * differs from one snapshot to the next.  Per type, and for the in-use heap
 * as a whole: chunks and bytes in every snapshot, and - comparing the first
 * snapshot A with the last B chunk by chunk, as Chrome DevTools' comparison
 * view does - how many chunks are new (in B, with no chunk of the same
 * address, size and type in A) and how many were freed (in A, with none in
 * B).  Rows are ranked by steady growth (see diff.c); for two snapshots that
 * is simply the bytes grown.
 *
 * diff_compute() is the pure part: it takes heap models and type tables, so
 * unit tests feed it hand-built ones.  diff_run() reads snapshot files and
 * writes the report (text, JSON, SVG chart).
 */
#ifndef HEAPSCAN_DIFF_H
#define HEAPSCAN_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glibc.h"
#include "retain.h"
#include "types.h"

struct diff_opts {
	bool json;       /* one JSON object instead of the text report */
	bool force;      /* compare snapshots of different processes or format versions */
	const char *svg; /* also write a line chart of the top growing types here; NULL: none */
	int top;         /* rows in each table of the text report */
};

/* Read every snapshot, compare, report on stdout.  An exit code (error.h):
 * EXIT_USAGE for fewer than two paths, EXIT_FAIL for an unreadable snapshot,
 * a mismatch without force, or a failed write; each after one line on stderr. */
int diff_run(char *const *paths, int npaths, const struct diff_opts *o);

/* One snapshot as diff_compute() sees it.  types->of_chunk[i] is the type of
 * heap->chunks[i] (UINT32_MAX: none); chunks are sorted by address. */
struct diff_input {
	const struct heap_model *heap;
	const struct type_table *types;
	const uint8_t *reach; /* per chunk enum reach_state, NULL when not stored */
};

struct diff_row {
	enum type_kind kind;
	char *name;
	uint64_t size;
	uint64_t *count, *bytes; /* per snapshot, [nsnaps] */
	uint64_t *leaked;        /* leaked chunks (direct + indirect) per snapshot, [nsnaps] */
	/* first snapshot vs last */
	uint64_t new_chunks, new_bytes, freed_chunks, freed_bytes;
	uint64_t sample_new;     /* a new chunk's header (in the last snapshot), 0 when none; shown as CHUNK_USER */
	int up, down;            /* steps between snapshots in which its bytes grew / shrank */
	double growth;           /* the ranking score (diff.c); = bytes grown for 2 snapshots */
};

/* A retainer (snapshots taken with --retained) in the first snapshot and
 * the last, matched by kind and name (a shared chunk: by its type's name). */
struct diff_retainer {
	enum retain_kind kind;
	char *name;              /* "shared TYPE" for shared chunks (summed) */
	uint64_t bytes_a, bytes_b, chunks_a, chunks_b;
	char *type;              /* among its top types, the one that grew most; NULL: none */
	uint64_t type_bytes_a, type_bytes_b, type_chunks_a, type_chunks_b;
};

struct diff_result {
	size_t nsnaps;
	struct diff_row *rows;   /* most growth first */
	size_t nrows;
	uint64_t *chunks, *bytes; /* in-use chunks and bytes per snapshot, [nsnaps] */
	bool has_reach;           /* every snapshot stores reachability */
	uint64_t *leaked, *leaked_bytes; /* leaked chunks and bytes per snapshot, [nsnaps] */
	uint64_t new_chunks, new_bytes, freed_chunks, freed_bytes; /* over all types */
	bool has_retain;          /* the first and the last snapshot store retainers */
	struct diff_retainer *retainers; /* most bytes grown first */
	size_t nretainers;
};

void diff_compute(const struct diff_input *in, size_t n, struct diff_result *out);
void diff_result_free(struct diff_result *r);

#endif
