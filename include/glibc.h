/*
 * glibc.h - glibc malloc's state, read from a memory image.
 *
 * The walker takes an image and a few addresses, never a pid, so unit tests
 * and fuzzers feed it byte buffers.  What it produces, per chunk and per
 * arena, is exact for a consistent heap; where the heap is not (corrupted
 * headers, broken lists, an arena locked mid-update), it records a problem
 * with the address and carries on with what it can trust.
 *
 * A chunk (addresses grow down the page):
 *
 *   chunk -> +-----------------------------+
 *            | prev_size (if prev is free) |
 *            +-----------------------------+
 *            | size              |A|M|P|   |  A: NON_MAIN_ARENA 0x4
 *   mem   -> +-----------------------------+  M: IS_MMAPPED    0x2
 *            | user data, or when free:    |  P: PREV_INUSE    0x1
 *            |   fd, bk (bins; fastbin and |
 *            |   tcache fd safe-linked)    |  chunksize = size & ~7, header
 *            +-----------------------------+  included
 *
 * A chunk is free when a free list holds it: a thread's tcache, a fastbin,
 * the unsorted bin, a small or large bin, or it is an arena's top.  tcache
 * and fastbin chunks keep the next chunk's P bit set, so the header alone
 * cannot tell; the lists decide.
 */
#ifndef HEAPSCAN_GLIBC_H
#define HEAPSCAN_GLIBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"

enum chunk_kind {
	CK_INUSE,
	CK_MMAPPED,  /* in use, served by its own mmap */
	CK_TCACHE,
	CK_FASTBIN,
	CK_UNSORTED,
	CK_SMALLBIN,
	CK_LARGEBIN,
	CK_TOP,
	CK__N
};

const char *chunk_kind_name(enum chunk_kind k);
static inline bool chunk_kind_is_free(enum chunk_kind k)
{
	return k >= CK_TCACHE;
}

/* The pointer malloc returned for the chunk whose header is at a: every
 * address heapscan shows a user is this one (heap problems, which are about
 * headers, say "chunk at" instead). */
#define CHUNK_USER(a) ((a) + 16)

#define CHUNK_ARENA_NONE 0xfffu /* mmapped chunks belong to no arena */
/* A block of CPython's pymalloc (pymalloc.h), in a model built for
 * reachability only (pynodes.h): like a jemalloc region, a "chunk" at the
 * block's address - 16 of its size + 16, kind CK_MMAPPED, so that every
 * analysis reads the block's bytes exactly; its bytes are the block's. */
#define CHUNK_ARENA_BLOCK 0xffeu

struct hs_chunk {
	uint64_t addr;           /* chunk header address (glibc's mchunkptr) */
	uint64_t size : 48;      /* chunksize(), header included */
	uint64_t kind : 4;       /* enum chunk_kind */
	uint64_t arena : 12;     /* index into heap_model.arenas, or CHUNK_ARENA_NONE */
};

/* What differs between glibc versions (x86-64): byte offsets into malloc's
 * structures and the rules of its free lists.  One row per run of releases
 * whose malloc reads the same; see the table in src/alloc/glibc.c.  An
 * offset of 0 marks a field that version does not have (no optional field
 * sits at offset 0). */
struct glibc_layout {
	int minor_min, minor_max; /* 2.minor_min .. 2.minor_max */
	/* struct malloc_state */
	uint32_t ms_flags;          /* int flags (FASTCHUNKS_BIT 1 = "no fast chunks" before 2.27) */
	uint32_t ms_have_fastchunks; /* int have_fastchunks (2.27+), 0 before */
	uint32_t ms_fastbins;       /* mfastbinptr fastbinsY[10] */
	uint32_t ms_top;            /* mchunkptr top */
	uint32_t ms_bins;           /* mchunkptr bins[254] */
	uint32_t ms_next;           /* struct malloc_state *next: the arena ring */
	uint32_t ms_next_free;      /* free-arena list */
	uint32_t ms_attached_threads; /* INTERNAL_SIZE_T (2.23+), 0 before */
	uint32_t ms_system_mem;
	uint32_t ms_size;           /* sizeof (struct malloc_state) */
	/* struct _heap_info */
	uint32_t hi_ar_ptr, hi_prev, hi_size;
	uint32_t hi_pagesize;       /* size_t pagesize (2.35+), 0 before */
	uint32_t hi_sizeof;
	/* struct malloc_par (mp_) */
	uint32_t mp_arena_test;     /* INTERNAL_SIZE_T, initialised to 8 */
	uint32_t mp_hp_pagesize;    /* INTERNAL_SIZE_T hp_pagesize (2.35+), 0 before */
	uint32_t mp_n_mmaps;        /* int n_mmaps; int n_mmaps_max follows */
	uint32_t mp_mmapped_mem;
	uint32_t mp_sbrk_base;
	uint32_t mp_tcache_bins;    /* size_t tcache_bins (tcache_small_bins in 2.42), 0: no tcache */
	uint32_t mp_tcache_max_bytes, mp_tcache_count;
	uint32_t mp_size;           /* sizeof (struct malloc_par) */
	/* struct tcache_perthread_struct: counts[tc_bins], then entries[tc_bins] */
	uint32_t tc_bins;           /* TCACHE_MAX_BINS: 0 (no tcache), 64, 76 (2.42) */
	uint32_t tc_small_bins;     /* bins of one chunk size each (64); the rest hold ranges */
	uint32_t tc_count_size;     /* bytes per count: 1 (char, <= 2.29), 2 (uint16_t) */
	bool tc_counts_free_slots;  /* 2.42: num_slots[] = room left, not chunks held */
	uint32_t tc_entries;        /* offset of entries[] */
	uint32_t tc_size;           /* the struct's chunk size (header included) */
	bool tc_entry_key;          /* tcache_entry.key beside next (2.29+) */
	bool tc_key_random;         /* key is the random tcache_key (2.34+), else the tcache's address */
	bool safe_linking;          /* tcache next and fastbin fd stored as (&field >> 12) ^ ptr (2.32+) */
};

const struct glibc_layout *glibc_layout_for(int minor);
/* The i-th layout of the table, NULL past its end: for finding malloc's
 * state by what it holds when no version string says which layout applies. */
const struct glibc_layout *glibc_layout_at(size_t i);
const struct glibc_layout *glibc_layout_last(void); /* the newest */

struct glibc_thread {
	pid_t tid;
	uint64_t tcache; /* value of the thread's `tcache` TLS variable, 0 if none */
};

struct glibc_target {
	const struct image *img;
	const struct glibc_layout *lay;
	uint64_t main_arena;  /* &main_arena */
	uint64_t mp;          /* &mp_, 0 when unknown */
	const struct glibc_thread *threads;
	size_t nthreads;
};

struct arena_info {
	uint64_t addr;
	bool main;
	bool busy;        /* mutex held when the target stopped */
	int nheaps;
	uint64_t system_mem;
	uint64_t count[CK__N], bytes[CK__N];
	uint64_t unaccounted; /* bytes of heap not walked because of corruption */
};

struct heap_problem {
	uint64_t addr;
	char what[160];
};

struct heap_model {
	struct hs_chunk *chunks; /* sorted by addr */
	size_t nchunks, cap;
	bool chunks_big;         /* chunks is from bigmem (the walk), not malloc */
	struct arena_info *arenas;
	size_t narenas;
	struct heap_problem *problems;
	size_t nproblems, problems_dropped;
	uint64_t count[CK__N], bytes[CK__N]; /* totals over arenas and mmapped */
	int tcaches;          /* thread caches found */
	bool mp_valid;
	int64_t mp_n_mmaps;   /* glibc's own count of mmapped chunks */
	uint64_t mp_mmapped_mem;
	/* Memory malloc owns that is no chunk (jemalloc: extent descriptors, free
	 * slab regions, dirty extents): never a root.  Sorted, not overlapping;
	 * not kept in snapshots. */
	struct owned_range { uint64_t start, end; } *owned;
	size_t nowned;
	/* Bytes of each chunk's size that are no part of what the user sees:
	 * 0 for glibc (its chunk sizes, header included, are what heapscan
	 * shows), 16 for jemalloc and tcmalloc, whose objects are chunks of
	 * their size class + 16 (include/jemalloc.h): shown as the class. */
	unsigned pad;
	/* NULL, or per chunk (a model with Python objects as nodes, pynodes.h):
	 * the preheader of the GC-tracked Python object it holds, in 16-byte
	 * units from malloc's pointer (1 or 2; 0: none).  Its last 16 bytes are
	 * the object's GC head, the collector's list links: neither followed
	 * nor taken as pointers into the chunk.  The object itself (its
	 * PyObject *, the address shown) follows.  Not kept in snapshots. */
	uint8_t *py_pre;
	/* NULL, or per chunk: 1 + the bytes from malloc's pointer that hold
	 * data (a Python object's extent in its block, a list's items in use);
	 * the rest is slack or unused capacity, stale words that are not
	 * scanned.  0: all of it. */
	uint32_t *py_span;
	/* Ranges inside chunks whose words are stale (pynodes.h: free-list
	 * slots past numfree in an interpreter state malloc holds): not
	 * scanned.  Sorted, not overlapping; NULL when none. */
	struct owned_range *py_dead;
	size_t npy_dead;
	/* A view's (some of a scan's chunks: the leaked ones, the C chunks of
	 * a CPython target): the model they were taken from, whose chunks say
	 * which mappings are the heap; NULL for a model of its own. */
	const struct heap_model *whole;
};

/* A chunk's size as heapscan shows it and counts it in byte totals: a
 * pymalloc block's own size (it has no header; the model gives it 16), or
 * the chunk's size less the model's pad. */
static inline uint64_t
chunk_shown_size(const struct heap_model *m, const struct hs_chunk *c)
{
	return c->size - (c->arena == CHUNK_ARENA_BLOCK ? 16 : m->pad);
}

/* The address shown for chunk j of m: malloc's pointer, or the Python
 * object's address after its preheader. */
static inline uint64_t
heap_model_shown(const struct heap_model *m, size_t j)
{
	return CHUNK_USER(m->chunks[j].addr) + (m->py_pre ? 16u * m->py_pre[j] : 0);
}

/* For the tests (HEAPSCAN_TEST_SPLIT, unit tests): walk any heap in
 * par_jobs() parts (two at least with par_min_for_tests set), cut inside
 * heaps as a big one is, however small it is. */
extern bool glibc_walk_split_for_tests;
/* What the last walk cut in parts did, for the tests: its parts, the cuts
 * inside a heap (a guessed chunk boundary), and the guesses the join found
 * wrong (the part before stopped elsewhere: that heap walked again). */
struct glibc_split_stats {
	unsigned parts, guessed, wrong;
};
extern struct glibc_split_stats glibc_walk_last_split;
/* HEAPSCAN_TEST_WALK_STATS: each walk says on stderr how it was cut. */
extern bool glibc_walk_stats_for_tests;

/* Walk everything.  Returns 0, or -1 with a cause in why when the image does
 * not hold a usable main_arena (nothing was walked). */
int glibc_walk(const struct glibc_target *t, struct heap_model *out, char *why, size_t len);
void heap_model_free(struct heap_model *m);

/* For every allocator's walker (src/alloc/model.c). */
#define HEAP_MODEL_MAX_PROBLEMS 1000 /* more are counted in problems_dropped */
void heap_model_problem(struct heap_model *m, uint64_t addr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* [start, end) is the allocator's own (not scanned as a root); cap: the
 * caller's capacity of m->owned.  Empty ranges are ignored. */
void heap_model_own(struct heap_model *m, size_t *cap, uint64_t start, uint64_t end);
/* Sort m->owned and join the ranges that touch or overlap. */
void heap_model_owned_finish(struct heap_model *m);
/* Sort m->chunks by address. */
void heap_model_sort_chunks(struct heap_model *m);
/* (Re)compute the per-kind totals of the model and of each arena from its chunks. */
void heap_model_tally(struct heap_model *m);

/* Count arenas whose mutex is held, for the retry-before-walking decision.
 * Writes up to max addresses into busy[].  Returns the count, -1 when the
 * arena ring cannot be read. */
int glibc_busy_arenas(const struct image *img, const struct glibc_layout *lay,
		      uint64_t main_arena, uint64_t *busy, int max);

/* Chunk whose header is at addr, or NULL (binary search). */
struct hs_chunk *heap_model_find(const struct heap_model *m, uint64_t addr);

/* The index of the first chunk from index i on whose header is at or past
 * addr, or m->nchunks (binary search). */
size_t heap_model_first_at(const struct heap_model *m, size_t i, uint64_t addr);

#endif
