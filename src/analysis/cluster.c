/*
 * cluster.c - group untyped in-use chunks by identical contents, then the
 * rest by shape (see cluster.h for what each means).
 *
 * Built for heaps of tens of millions of chunks (bench/cluster_bench.c
 * times 10M chunks in 1.2 GB).  Nothing is allocated per chunk, and the
 * heap's bytes are read once, in address order, by one pass that does all
 * that needs them while they are in cache:
 *
 *   content pass, in blocks of BLOCK chunks:
 *     hash    XXH3 of each chunk's user bytes, keyed with its size, and
 *             its table slot fetched (it misses: the table is far larger
 *             than the caches), so that the block's fetches overlap;
 *     group   probe the table in address order; on a tag match confirm with
 *             memcmp, so a hash collision probes on.  A content seen for the
 *             first time is a slot naming the chunk, whose prov names its
 *             shape (the signature is taken now, while its bytes are in
 *             cache, in case it stays alone); the second time, the slot
 *             becomes a group, which keeps a copy of the bytes.
 *             Most contents on a real heap are seen once: they cost a slot
 *             and no group.
 *     Each chunk that stays alone is counted in its shape (a small table:
 *     shapes are few) as it comes; the first of each is its sample.
 *     A big heap is cut in parts, one per job (par.h); each part's
 *     contents found in a lower part (its tag looked up in the lower
 *     parts' tables, whose slots are in tag order as the upper table's
 *     are, so a range of upper slots reads them in order; the lowest part
 *     that has one wins) join that part's group, the other groups and the
 *     shapes are added to part 0's, and the part's chunks renumbered, part
 *     by part in address order: the clusters are one loop's whatever the
 *     number.
 *   shapes: the first of a shape whose first chunk joined a group since
 *       is found again.
 *   zero-merge: a shape with a few zero words joins the largest shape it
 *       would be were those words pointers or ints.
 *   finish: clusters of >= 2 chunks sorted by bytes; previews written;
 *       of_chunk renumbered (the caller's entries are left for its own
 *       pass to map: cluster_of_entry).
 *
 * What the profile said, and shaped this: re-reading chunks after a hashing
 * pass (memcmp and shape words on cold memory) cost more than the hashing;
 * faulting in working arrays page by page cost more again (big_alloc); a
 * table lookup waits for memory unless many are in flight (the block); the
 * word tests mispredict on real data unless done with masks (value_kind);
 * and fresh memory is slow to fault in (0.5 to 2 s a GB on the VM this was
 * tuned on), so a group for each of millions of contents seen once (16
 * bytes, then a copy of them all when the halves merged) cost 130 MiB and
 * a fifth of the pass.
 *
 * A content table slot (8 bytes, 0 = empty):
 *
 *   63           32 31 30         0
 *   +--------------+--+------------+   key = hash ^ size * golden ratio
 *   | tag          |G | ref        |   tag = key >> 32
 *   +--------------+--+------------+   slot index = the tag's top bits
 *
 * G (REF_GROUP) set: ref is a group; clear: ref - 1 is the one chunk seen
 * with this content.  The index comes from the tag so the table can grow
 * from its slots alone.
 *
 * A shape signature: 3 bits of word kind per word (word 0 in the low bits),
 * the number of words looked at in bits 48..52; the size is kept beside it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <emmintrin.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "cluster.h"
#include "error.h"
#include "par.h"
#include "xmalloc.h"

enum word_kind { WK_ZERO, WK_HEAP, WK_CODE, WK_DATA, WK_INT, WK_TEXT, WK_OTHER };

static const char *const word_kind_names[] = {
	[WK_ZERO] = "zero", [WK_HEAP] = "heap ptr", [WK_CODE] = "code ptr",
	[WK_DATA] = "data ptr", [WK_INT] = "int", [WK_TEXT] = "text", [WK_OTHER] = "other",
};

#define WK_BITS 3
#define SIG_NWORDS_SHIFT 48
#define ZERO_MERGE_MAX 4 /* shapes with more zero words are left alone */
#define SPLIT_MIN 4096 /* chunks: fewer are grouped by one thread */
#define ARENA_BLOCK ((size_t)2 << 20) /* sample copies: one huge page per block */
#define ARENA_BLOCKS 32                 /* at most 64 MiB of them */
#define ARENA_COPY_MAX 4096             /* larger samples stay in the image */
#define NONE32 CLUSTER_NONE
/* Chunk, group and shape ids are 30-bit (in prov, two bits say which); a
 * heap with more chunks than this (over 32 GiB of the smallest chunks) has
 * its tail left unclustered. */
#define CHUNK_MAX CLUSTER_CHUNK_MAX
#define REF_GROUP 0x80000000u  /* a slot's low half: group id | REF_GROUP, or chunk + 1 */
#define PROV_GROUP 0x80000000u /* prov: group id | PROV_GROUP */
#define PROV_SHAPE 0xc0000000u /* prov: shape id | PROV_SHAPE */
#define PROV_ID 0x3fffffffu
_Static_assert(PROV_GROUP == CLUSTER_IN && PROV_GROUP == CLUSTER_CANDIDATE &&
		       (PROV_SHAPE & ~PROV_GROUP) == CLUSTER_ENTRY_SHAPE && PROV_ID == CLUSTER_ENTRY_ID,
	       "an entry left in of_chunk reads as cluster.h says");

/* Test hook, declared by test/unit/test_cluster.c: a weak hash there forces
 * the collisions XXH3 never produces, to show memcmp keeps contents apart. */
extern uint64_t (*cluster_hash_for_tests)(const void *p, size_t len);
uint64_t (*cluster_hash_for_tests)(const void *p, size_t len);

/* Test hook, declared by test/unit/test_cluster.c: 1 takes shape
 * signatures word by word, 2 four words at a time (AVX2), even on a CPU
 * that has more; 0 the most the CPU has. */
extern int cluster_sig_for_tests;
int cluster_sig_for_tests;

/* Chunks of one content seen at least twice (a content seen once is a
 * table slot and a count in its shape, nothing more). */
struct group {
	const unsigned char *bytes; /* while grouping: the content, in the arena or the image */
	uint64_t key;               /* while grouping: hash ^ size * golden ratio */
	size_t len;
	uint32_t first;             /* chunk index of the lowest member */
	uint32_t count;
	uint32_t id;                /* provisional cluster; while merging: the lower half's group */
};

struct shape {
	uint64_t size, sig, count; /* count: its chunks whose content is their own */
	uint32_t first;   /* chunk index of the first of them (NONE32 until shape_tally) */
	uint32_t into;    /* shape it merges into (itself when none) */
	uint32_t cluster; /* provisional cluster, or NONE32 */
	uint32_t final;   /* sorted cluster of its members, or NONE32 */
};

/* A cluster before sorting; the full struct cluster is written at the end. */
struct proto {
	uint64_t bytes, count, size, sig;
	uint32_t first; /* chunk index of the sample */
	uint32_t id;    /* provisional cluster index: its place in ctx.pr */
	enum cluster_kind kind;
};

/* A chunk hashed ahead of its grouping (see the content pass). */
struct pending {
	const unsigned char *p; /* its user bytes; NULL: not a candidate */
	size_t len;             /* of the key: a string's up to its NUL */
	size_t slen;            /* of its user bytes */
	uint64_t key;           /* hash ^ size * golden ratio */
};

struct ctx {
	const struct image *img;
	const struct addrmap *am;
	const struct hs_chunk *ch;
	const bool *typed;
	size_t n;
	uint32_t *prov;  /* per chunk: PROV_GROUP | its group, or PROV_SHAPE | its
			  * shape when its content is its own; NONE32 or (when
			  * shared) a type when not clustered; then its sorted
			  * cluster */
	bool shared;     /* prov is the caller's of_chunk */
	const struct cluster_marks *marks; /* the caller's, or NULL */
	const struct region *rc, *rc2; /* last regions read (two streams) */
	const struct addr_range *ac[2]; /* last address ranges hit, latest first */
	uint64_t lo, span;             /* the addrmap's [lo, lo + span) */
	bool avx2, avx512;             /* shape signatures by shape_sig_avx2, _avx512 */

	uint64_t *tab;   /* content table */
	size_t nslots, nused;
	size_t begin, end; /* the chunks this pass (or thread) groups */
	size_t ncand;      /* candidates among them */
	struct group *g;
	size_t ng, gcap;
	unsigned char *arena[ARENA_BLOCKS]; /* blocks of ARENA_BLOCK bytes */
	size_t narena, arena_used;           /* blocks, bytes used in the last */

	struct shape *s;
	size_t ns, scap;
	uint32_t *stab; /* shape id + 1, 0 = empty */
	size_t smask;

	struct proto *pr;
	size_t npr, prcap;
	size_t ncontent; /* provisional ids below this are content clusters */
};

/* ---- working memory ---------------------------------------------------- */

/* Working arrays come from bigmem_alloc (image.h): huge pages, populated
 * in one call. */

/* ---- user bytes ---------------------------------------------------------- */

/* The target range of c's user bytes; false when it is empty or wraps. */
static bool
user_span(const struct hs_chunk *c, uint64_t *addr, size_t *len)
{
	uint64_t tail = c->kind == CK_MMAPPED ? 0 : 8;

	if (c->size < 16 + 8 - tail || c->addr > UINT64_MAX - 16)
		return false;
	*addr = c->addr + 16;
	*len = (size_t)(c->size - 16 + tail);
	return true;
}

const unsigned char *
chunk_user_bytes(const struct image *img, const struct hs_chunk *c, size_t *len)
{
	uint64_t a;

	if (!user_span(c, &a, len))
		return NULL;
	return image_ptr(img, a, *len);
}

static inline bool
cstring_char(unsigned char c)
{
	return (c >= 0x20 && c <= 0x7e) || c == '\n' || c == '\t' || c == '\r';
}

/* 16 bytes at a time (SSE2 is part of x86-64): a string's characters are
 * most of what this reads, binary data stops it at the first byte. */
size_t
cluster_cstring_len(const unsigned char *p, size_t len)
{
	size_t slen = 0;

	if (!len || !cstring_char(p[0]))
		return 0;
	while (slen + 16 <= len) {
		__m128i v = _mm_loadu_si128((const void *)(p + slen));
		__m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)),
					   _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)));
		unsigned bad;

		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
		bad = ~(unsigned)_mm_movemask_epi8(ok) & 0xffff;
		if (bad) {
			slen += (size_t)__builtin_ctz(bad);
			goto end;
		}
		slen += 16;
	}
	while (slen < len && cstring_char(p[slen]))
		slen++;
end:
	return slen >= CSTRING_MIN && slen < len && p[slen] == '\0' ? slen + 1 : 0;
}

size_t
cluster_string_len(const struct addrmap *am, const unsigned char *p, size_t len)
{
	size_t sl = cluster_cstring_len(p, len);
	uint64_t w;

	if (sl && sl <= 8 && len >= 8 && am) {
		memcpy(&w, p, 8);
		if (addrmap_kind(am, w) != AK_NONE)
			return 0;
	}
	return sl;
}

/* The bytes a chunk is keyed by: its user bytes, or only its C string and
 * the NUL (what follows was never written by the program, or not as part
 * of this value: a strdup'd copy's tail holds whatever the memory held). */
static inline size_t
key_len(const struct addrmap *am, const unsigned char *p, size_t len)
{
	size_t sl = cluster_string_len(am, p, len);

	return sl ? sl : len;
}

/* Chunk a (size sa, user bytes pa[0..la)) has the content that chunk b's
 * key bytes (pb[0..kb), from key_len) are: the same C string, or, for
 * other contents, the same size and bytes. */
static bool
same_key(const struct addrmap *am, uint64_t sa, const unsigned char *pa, size_t la, uint64_t sb,
	 const unsigned char *pb, size_t kb)
{
	size_t ka = key_len(am, pa, la);

	if (ka != kb || memcmp(pa, pb, kb) != 0)
		return false;
	return ka < la || sa == sb || cluster_string_len(am, pa, la);
}

#define STRING_KEY 0x5354524b45590000ULL /* a string's key: its hash ^ this, no size */

/* image_ptr with the last region remembered: chunks come in address order,
 * so nearly every lookup hits the region of the one before.  The common
 * case is inline; a new region, or one with holes, takes image_ptr's way. */
static const unsigned char *
image_bytes_slow(const struct image *img, const struct region **last, uint64_t addr, size_t len)
{
	const struct region *r = image_region(img, addr);

	if (!r)
		return NULL;
	*last = r;
	return image_ptr(img, addr, len);
}

static inline const unsigned char *
image_bytes(const struct image *img, const struct region **last, uint64_t addr, size_t len)
{
	const struct region *r = *last;
	uint64_t off;

	if (!r || r->nholes || addr - r->start >= r->end - r->start)
		return image_bytes_slow(img, last, addr, len);
	off = addr - r->start;
	return len <= r->end - r->start - off ? r->data + off : NULL;
}

static bool
is_candidate(const struct ctx *x, size_t i)
{
	enum chunk_kind k = (enum chunk_kind)x->ch[i].kind;

	/* shared: read at each chunk before mark_candidates writes it */
	return (k == CK_INUSE || k == CK_MMAPPED) && !(x->typed && x->typed[i]) &&
	       !(x->shared && x->prov[i] != UINT32_MAX);
}

/* A chunk being clustered: prov holds its group or shape. */
static inline bool
prov_working(uint32_t p)
{
	return p >= PROV_GROUP && p != NONE32;
}

static inline bool
prov_shape(uint32_t p)
{
	return (p & PROV_SHAPE) == PROV_SHAPE && p != NONE32;
}

static uint64_t
content_hash(const unsigned char *p, size_t len)
{
	return cluster_hash_for_tests ? cluster_hash_for_tests(p, len) : XXH3_64bits(p, len);
}

/* ---- word kinds and shape signatures ------------------------------------ */

/* Per-byte tests on the 16 bytes at p (two words): bit b of *print is set
 * when byte b is printable (0x20..0x7e), of *nul when it is 0.  SSE2 is
 * part of x86-64, heapscan's only target. */
static inline void
byte_masks(__m128i v, unsigned *print, unsigned *nul)
{
	__m128i pr = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)),
				   _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)));

	*print = (unsigned)_mm_movemask_epi8(pr);
	*nul = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
}

/* Text, from a word's 8-bit masks: 8 printable bytes, or a printable prefix
 * and then only NULs (print is 0b0..01..1 and covers every non-NUL). */
static inline unsigned
is_text(unsigned print, unsigned nul)
{
	return ((print | nul) == 0xff) & (print & 1) & ((print & (print + 1)) == 0);
}

/* The kind of a word that points nowhere we know.  By masks, without
 * branches: on real data each test goes either way, and mispredictions cost
 * more than the tests (compilers turn a ?: chain back into branches). */
static inline enum word_kind
value_kind(uint64_t v, unsigned print, unsigned nul)
{
	unsigned k = WK_OTHER - is_text(print, nul); /* WK_TEXT == WK_OTHER - 1 */
	unsigned is_int = -(unsigned)(v + 0x80000000ULL < 0x180000000ULL); /* v < 2^32, or
									      -2^31 <= v < 0 */
	k = (k & ~is_int) | (WK_INT & is_int);
	return (enum word_kind)(k & -(unsigned)(v != 0)); /* WK_ZERO == 0 */
}

/* The word kind of a pointer into a mapping of each kind. */
static const enum word_kind of_ak[] = {
	[AK_NONE] = WK_OTHER, [AK_ANON] = WK_HEAP, [AK_CODE] = WK_CODE, [AK_DATA] = WK_DATA,
};

/* v is inside [am->lo, am->hi): which mapping?  Pointers in a chunk tend to
 * go to a few places (the heap, a module), so the last two ranges found are
 * tried first. */
static enum word_kind
pointer_kind(struct ctx *x, uint64_t v, unsigned print, unsigned nul)
{
	const struct addr_range *r = x->ac[0];

	if (!r || v - r->start >= r->end - r->start) {
		r = x->ac[1];
		if (!r || v - r->start >= r->end - r->start) {
			r = addrmap_find(x->am, v);
			if (!r)
				return value_kind(v, print, nul);
		}
		x->ac[1] = x->ac[0];
		x->ac[0] = r;
	}
	return r->kind < sizeof(of_ak) / sizeof(of_ak[0]) ? of_ak[r->kind]
							  : value_kind(v, print, nul);
}

static inline uint64_t
word_kind(struct ctx *x, uint64_t v, unsigned print, unsigned nul)
{
	return v - x->lo < x->span && v != 0 ? pointer_kind(x, v, print, nul)
					     : value_kind(v, print, nul);
}

/* Kinds of the first words, two at a time (one vector of byte tests). */
static uint64_t
shape_sig(struct ctx *x, const unsigned char *p, size_t len)
{
	size_t nwords = len / 8 < SHAPE_WORDS ? len / 8 : SHAPE_WORDS, j;
	uint64_t sig = (uint64_t)nwords << SIG_NWORDS_SHIFT, v[2];
	unsigned print, nul;

	for (j = 0; j + 2 <= nwords; j += 2) {
		memcpy(v, p + 8 * j, 16);
		byte_masks(_mm_loadu_si128((const void *)(p + 8 * j)), &print, &nul);
		sig |= word_kind(x, v[0], print & 0xff, nul & 0xff) << (WK_BITS * j);
		sig |= word_kind(x, v[1], print >> 8, nul >> 8) << (WK_BITS * (j + 1));
	}
	if (j < nwords) { /* the last, alone: do not read past the chunk */
		memcpy(v, p + 8 * j, 8);
		byte_masks(_mm_loadl_epi64((const void *)(p + 8 * j)), &print, &nul);
		sig |= word_kind(x, v[0], print & 0xff, nul & 0xff) << (WK_BITS * j);
	}
	return sig;
}

/* shape_sig four words at a time, for CPUs with AVX2 (nearly every x86-64
 * server since 2013; the others take shape_sig).  The value kinds (zero,
 * int, text, other) are worked out in the vector, a lane each, by
 * value_kind's tests; only the words inside the mappings' span go to
 * pointer_kind, one by one.  Signatures were a quarter of the content
 * pass on the bench's 10M-chunk heap; this took a tenth off the pass. */
#define SIGN64 0x8000000000000000ULL

__attribute__((target("avx2"))) static uint64_t
shape_sig_avx2(struct ctx *x, const unsigned char *p, size_t len)
{
	size_t nwords = len / 8 < SHAPE_WORDS ? len / 8 : SHAPE_WORDS;
	uint64_t sig = (uint64_t)nwords << SIG_NWORDS_SHIFT;
	const __m256i ones = _mm256_set1_epi64x(-1), zero = _mm256_setzero_si256();
	const __m256i sign = _mm256_set1_epi64x((long long)SIGN64);
	const __m256i lo = _mm256_set1_epi64x((long long)x->lo);
	const __m256i span = _mm256_set1_epi64x((long long)(x->span ^ SIGN64));
	const __m256i int_bias = _mm256_set1_epi64x(0x80000000LL);
	const __m256i int_lim = _mm256_set1_epi64x((long long)(0x180000000ULL ^ SIGN64));
	const __m256i shifts = _mm256_set_epi64x(9, 6, 3, 0);

	for (size_t j = 0; j < nwords; j += 4) {
		size_t m = nwords - j < 4 ? nwords - j : 4;
		__m256i v, pr, nul, z, isint, in, text, kind;
		unsigned pm, nm, inm;
		uint64_t part[4], bits;

		if (m == 4) /* else not past the chunk: the lanes past it read 0, which adds no bits */
			v = _mm256_loadu_si256((const void *)(p + 8 * j));
		else
			v = _mm256_maskload_epi64((const long long *)(const void *)(p + 8 * j),
						  _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)m),
								     _mm256_set_epi64x(3, 2, 1, 0)));
		/* bytes: printable 0x20..0x7e (signed compares: 0x80.. are below),
		 * and NUL */
		pr = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x1f)),
				      _mm256_cmpgt_epi8(_mm256_set1_epi8(0x7f), v));
		nul = _mm256_cmpeq_epi8(v, zero);
		/* text: every byte printable or NUL, and the printable ones a
		 * prefix (pr, read as a number, is 0..01..1); is_text's "byte 0
		 * printable" only turns away the word 0, a zero here anyway */
		text = _mm256_and_si256(_mm256_cmpeq_epi64(_mm256_or_si256(pr, nul), ones),
					_mm256_cmpeq_epi64(
						_mm256_and_si256(pr, _mm256_add_epi64(pr, _mm256_set1_epi64x(1))),
						zero));
		z = _mm256_cmpeq_epi64(v, zero);
		/* unsigned v + 2^31 < 3 * 2^31, v - lo < span: signed compares
		 * with the top bit flipped */
		isint = _mm256_cmpgt_epi64(int_lim,
					   _mm256_xor_si256(_mm256_add_epi64(v, int_bias), sign));
		in = _mm256_andnot_si256(z, _mm256_cmpgt_epi64(
						    span, _mm256_xor_si256(_mm256_sub_epi64(v, lo), sign)));
		/* other, or text, or int; zero and the pointers' lanes 0 */
		kind = _mm256_sub_epi64(_mm256_set1_epi64x(WK_OTHER),
					_mm256_and_si256(text, _mm256_set1_epi64x(1)));
		kind = _mm256_blendv_epi8(kind, _mm256_set1_epi64x(WK_INT), isint);
		kind = _mm256_andnot_si256(_mm256_or_si256(z, in), kind);
		kind = _mm256_sllv_epi64(kind, shifts);
		_mm256_storeu_si256((void *)part, kind);
		bits = part[0] | part[1] | part[2] | part[3];
		inm = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(in)) & ((1u << m) - 1);
		if (inm) {
			uint64_t w[4];

			pm = (unsigned)_mm256_movemask_epi8(pr);
			nm = (unsigned)_mm256_movemask_epi8(nul);
			_mm256_storeu_si256((void *)w, v);
			for (unsigned k = 0; k < 4; k++)
				if (inm >> k & 1)
					bits |= (uint64_t)pointer_kind(x, w[k], (pm >> 8 * k) & 0xff,
								       (nm >> 8 * k) & 0xff)
						<< (WK_BITS * k);
		}
		sig |= bits << (WK_BITS * j);
	}
	return sig;
}

/* shape_sig_avx2 eight words at a time, for CPUs with AVX-512 (F and
 * BW): the words past the chunk are masked off, the compares are unsigned,
 * and a chunk of up to 8 words is one round. */
__attribute__((target("avx512f,avx512bw"))) static inline uint64_t
shape_sig_avx512_inline(struct ctx *x, const unsigned char *p, size_t len)
{
	size_t nwords = len / 8 < SHAPE_WORDS ? len / 8 : SHAPE_WORDS;
	uint64_t sig = (uint64_t)nwords << SIG_NWORDS_SHIFT;
	const __m512i zero = _mm512_setzero_si512(), ones = _mm512_set1_epi64(-1);
	const __m512i shifts = _mm512_set_epi64(21, 18, 15, 12, 9, 6, 3, 0);

	for (size_t j = 0; j < nwords; j += 8) {
		size_t m = nwords - j < 8 ? nwords - j : 8;
		__mmask8 lanes = (__mmask8)((1u << m) - 1), z, isint, in, text;
		__m512i v = _mm512_maskz_loadu_epi64(lanes, p + 8 * j), prv, nulv, kind;
		__mmask64 pr, nul;

		/* bytes: printable 0x20..0x7e (signed: 0x80.. are below), NUL */
		pr = _mm512_cmpgt_epi8_mask(v, _mm512_set1_epi8(0x1f)) &
		     _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(0x7f));
		nul = _mm512_cmpeq_epi8_mask(v, zero);
		prv = _mm512_movm_epi8(pr);
		nulv = _mm512_movm_epi8(nul);
		/* text: as shape_sig_avx2 has it */
		text = _mm512_cmpeq_epi64_mask(_mm512_or_si512(prv, nulv), ones) &
		       _mm512_cmpeq_epi64_mask(
			       _mm512_and_si512(prv, _mm512_add_epi64(prv, _mm512_set1_epi64(1))), zero);
		z = _mm512_cmpeq_epi64_mask(v, zero);
		isint = _mm512_cmplt_epu64_mask(_mm512_add_epi64(v, _mm512_set1_epi64(0x80000000LL)),
						_mm512_set1_epi64(0x180000000LL));
		in = _mm512_cmplt_epu64_mask(_mm512_sub_epi64(v, _mm512_set1_epi64((long long)x->lo)),
					     _mm512_set1_epi64((long long)x->span)) & ~z & lanes;
		kind = _mm512_set1_epi64(WK_OTHER);
		kind = _mm512_mask_mov_epi64(kind, text, _mm512_set1_epi64(WK_TEXT));
		kind = _mm512_mask_mov_epi64(kind, isint, _mm512_set1_epi64(WK_INT));
		kind = _mm512_maskz_mov_epi64((__mmask8)~(z | in), kind);
		/* the pointers into the last two ranges pointer_kind found, in
		 * the vector (most pointers of a chunk go to those); the others
		 * one by one below */
		for (unsigned c = 0; c < 2 && in; c++) {
			const struct addr_range *r = x->ac[c];
			__mmask8 hit;

			if (!r || r->kind >= sizeof(of_ak) / sizeof(of_ak[0]))
				continue;
			hit = _mm512_mask_cmplt_epu64_mask(
				in, _mm512_sub_epi64(v, _mm512_set1_epi64((long long)r->start)),
				_mm512_set1_epi64((long long)(r->end - r->start)));
			kind = _mm512_mask_mov_epi64(kind, hit, _mm512_set1_epi64(of_ak[r->kind]));
			in &= (__mmask8)~hit;
		}
		sig |= (uint64_t)_mm512_reduce_or_epi64(_mm512_sllv_epi64(kind, shifts)) << (WK_BITS * j);
		for (unsigned k = 0; in; k++, in >>= 1) {
			uint64_t w;

			if (!(in & 1))
				continue;
			memcpy(&w, p + 8 * (j + k), 8);
			sig |= (uint64_t)pointer_kind(x, w, (unsigned)(pr >> 8 * k) & 0xff,
						      (unsigned)(nul >> 8 * k) & 0xff)
			       << (WK_BITS * (j + k));
		}
	}
	return sig;
}

__attribute__((target("avx512f,avx512bw"))) static uint64_t
shape_sig_avx512(struct ctx *x, const unsigned char *p, size_t len)
{
	return shape_sig_avx512_inline(x, p, len);
}

/* shape_sig, eight or four words at a time when the CPU can. */
static inline uint64_t
shape_sig_fast(struct ctx *x, const unsigned char *p, size_t len)
{
	return x->avx512 ? shape_sig_avx512(x, p, len) :
	       x->avx2   ? shape_sig_avx2(x, p, len) : shape_sig(x, p, len);
}

/* ---- shapes -------------------------------------------------------------- */

static uint64_t
shape_hash(uint64_t size, uint64_t sig)
{
	uint64_t h = sig ^ (size * 0x9e3779b97f4a7c15ULL);

	/* murmur3's finaliser: every input bit reaches the low (index) bits */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb93fe53cf34dULL;
	h ^= h >> 33;
	return h;
}

/* Slot holding (size, sig), or the empty slot where it belongs. */
static size_t
shape_slot(const struct ctx *x, uint64_t size, uint64_t sig)
{
	size_t pos = shape_hash(size, sig) & x->smask;

	for (;; pos = (pos + 1) & x->smask) {
		uint32_t id = x->stab[pos];

		if (!id || (x->s[id - 1].size == size && x->s[id - 1].sig == sig))
			return pos;
	}
}

static uint32_t
shape_find(const struct ctx *x, uint64_t size, uint64_t sig)
{
	return x->stab[shape_slot(x, size, sig)] - 1; /* NONE32 when empty */
}

static void
shape_table_grow(struct ctx *x)
{
	size_t slots = (x->smask + 1) * 2;

	free(x->stab);
	x->stab = xcalloc(slots, sizeof(*x->stab));
	x->smask = slots - 1;
	for (size_t s = 0; s < x->ns; s++)
		x->stab[shape_slot(x, x->s[s].size, x->s[s].sig)] = (uint32_t)s + 1;
}

/* The id of the shape of this size and signature, made if new. */
static uint32_t
shape_add(struct ctx *x, uint64_t size, uint64_t sig)
{
	size_t pos = shape_slot(x, size, sig);
	uint32_t id = x->stab[pos];

	if (id)
		return id - 1;
	x->s = xgrow(x->s, &x->scap, x->ns + 1, sizeof(*x->s));
	x->s[x->ns] = (struct shape){ .size = size, .sig = sig, .first = NONE32,
				      .into = (uint32_t)x->ns, .cluster = NONE32,
				      .final = NONE32 };
	x->stab[pos] = (uint32_t)++x->ns;
	if (x->ns * 2 > x->smask + 1)
		shape_table_grow(x);
	return (uint32_t)x->ns - 1;
}

/* Chunk c, whose prov was p, leaves its shape (its content is not its own
 * after all): the shape's count goes down, and its first is to be found
 * again (shape_tally) when it was c. */
static inline void
shape_leave(struct ctx *x, uint32_t p, uint32_t c)
{
	struct shape *sh;

	if (!prov_shape(p))
		return;
	sh = &x->s[p & PROV_ID];
	sh->count--;
	if (sh->first == c)
		sh->first = NONE32;
}

/* ---- the content pass ---------------------------------------------------- */

#define MARK_BLOCK CLUSTER_BLOCK /* chunks: per-block sums find the cut */

/* Each block's work and candidates, for the cut. */
struct mark_job {
	struct ctx *x;
	uint64_t *work;
	size_t *ncand;
};

static void
mark_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct mark_job *j = arg;
	struct ctx *x = j->x;

	(void)half;
	for (size_t i = begin; i < end; i++) {
		bool c = i < CHUNK_MAX && is_candidate(x, i);

		if (c)
			x->prov[i] = PROV_GROUP;
		else if (!x->shared || x->prov[i] > CLUSTER_TYPED_MAX)
			x->prov[i] = NONE32;
		j->work[i / MARK_BLOCK] += c ? cluster_work(x->ch[i].size) : 0;
		j->ncand[i / MARK_BLOCK] += c;
	}
}

/* Mark the candidates and sum them per block (mark_half), the work cut at
 * block boundaries so that each block's sums are one thread's. */
static void
mark_blocks(struct ctx *x, struct mark_job *j, size_t nb)
{
	unsigned parts = par_parts(x->n);
	size_t *mcut = xmalloc((parts + 1) * sizeof(*mcut));

	for (unsigned p = 0; p < parts; p++)
		mcut[p] = par_cut(nb, parts, p) * MARK_BLOCK;
	mcut[0] = 0;
	mcut[parts] = x->n;
	for (unsigned p = 1; p < parts; p++)
		if (mcut[p] > x->n)
			mcut[p] = x->n;
	par_run_cuts(mcut, parts, mark_half, j);
	free(mcut);
}

/* Mark candidates (in use, untyped) and choose where to cut the chunks into
 * parts of about equal work (cluster_work: mostly per chunk, some per byte), one
 * per job; one part when the heap is too small to be worth it.  Returns the
 * number of parts; part p is chunks [cut[p], cut[p + 1]) and holds ncand[p]
 * candidates (they bound its groups).  A caller that marked them as it
 * typed the chunks (cluster_input.marks) gives the blocks' sums: then no
 * pass over the chunks is made here but for the blocks a cut falls in. */
static unsigned
mark_candidates(struct ctx *x, size_t *cut, size_t *ncand, unsigned maxparts)
{
	size_t nb = x->n / MARK_BLOCK + 1, nc = 0, i = 0, cnt = 0, before = 0;
	struct mark_job j = { x, xcalloc(nb, sizeof(*j.work)), xcalloc(nb, sizeof(*j.ncand)) };
	uint64_t total = 0, acc = 0;
	unsigned cp;

	if (x->marks && x->marks->nblocks == nb) { /* the caller marked them as it typed */
		for (size_t k = 0; k < nb; k++) {
			j.work[k] = x->marks->work[k];
			j.ncand[k] = x->marks->ncand[k];
		}
	} else {
		mark_blocks(x, &j, nb);
	}
	for (size_t k = 0; k < nb; k++) {
		total += j.work[k];
		nc += j.ncand[k];
	}
	cp = x->n < (par_min_for_tests ? par_min_for_tests : SPLIT_MIN) ? 1 : (unsigned)par_jobs();
	if (cp > maxparts)
		cp = maxparts;
	cut[0] = 0;
	/* each cut: the first chunk at which the work below reaches its share,
	 * whole blocks first, then the chunks of the block that holds it */
	for (unsigned p = 1; p < cp; p++) {
		uint64_t want = (uint64_t)((unsigned __int128)total * p / cp);

		while (i < x->n && i % MARK_BLOCK && acc < want) {
			if (prov_working(x->prov[i])) {
				acc += cluster_work(x->ch[i].size);
				cnt++;
			}
			i++;
		}
		while (i < x->n && i % MARK_BLOCK == 0 && acc + j.work[i / MARK_BLOCK] < want) {
			acc += j.work[i / MARK_BLOCK];
			cnt += j.ncand[i / MARK_BLOCK];
			i = i + MARK_BLOCK < x->n ? i + MARK_BLOCK : x->n;
		}
		while (i < x->n && acc < want) {
			if (prov_working(x->prov[i])) {
				acc += cluster_work(x->ch[i].size);
				cnt++;
			}
			i++;
		}
		cut[p] = i;
		ncand[p - 1] = cnt - before;
		before = cnt;
	}
	cut[cp] = x->n;
	ncand[cp - 1] = nc - before;
	free(j.work);
	free(j.ncand);
	return cp;
}

/* The slot index is the tag scaled to the table (multiply, shift: any
 * size, not only powers of 2, so the table is as big as needed and no
 * bigger), so the table can be rehashed from its slots alone.  A tag's
 * first slot is the first of a cache line (8 slots; the table is a
 * multiple of 8 and starts a line): a probe mostly stays in the line the
 * block fetched, where one from any slot crossed into the next line, a
 * second miss, for one tag in four at 3/4 full. */
static inline size_t
slot_home(const struct ctx *x, uint32_t tag)
{
	return (size_t)(((uint64_t)tag * (x->nslots / 8)) >> 32) * 8;
}

static inline size_t
slot_next(const struct ctx *x, size_t pos)
{
	return pos + 1 < x->nslots ? pos + 1 : 0;
}

/* A table of n slots (the count kept below 2^32 for slot_home). */
static void
table_alloc(struct ctx *x, size_t n)
{
	x->nslots = n < 1024 ? 1024 : n < UINT32_MAX - 7 ? (n + 7) & ~(size_t)7 : UINT32_MAX - 7;
	x->tab = bigmem_alloc(x->nslots, sizeof(*x->tab));
}

/* Keep the table at most 3/4 full (linear probing slows down past that).
 * content_range sizes it for every candidate being distinct, so this is
 * only a safety net. */
static void
table_room(struct ctx *x)
{
	uint64_t *old = x->tab;
	size_t oldn = x->nslots;

	if (x->nused * 4 <= x->nslots * 3 || x->nslots == UINT32_MAX - 7)
		return;
	table_alloc(x, x->nused * 2);
	for (size_t k = 0; k < oldn; k++) {
		size_t pos;

		if (!old[k])
			continue;
		for (pos = slot_home(x, (uint32_t)(old[k] >> 32)); x->tab[pos]; pos = slot_next(x, pos))
			;
		x->tab[pos] = old[k];
	}
	bigmem_free(old);
}

/* A new group (of two, or of one while merging halves); its id. */
static uint32_t
new_group(struct ctx *x, uint32_t first, uint32_t count)
{
	if (x->ng == x->gcap) {
		x->gcap = x->gcap ? x->gcap * 2 : 4096;
		x->g = x->g ? bigmem_grow(x->g, x->gcap, sizeof(*x->g))
			    : bigmem_alloc(x->gcap, sizeof(*x->g));
	}
	x->g[x->ng] = (struct group){ .first = first, .count = count, .id = NONE32 };
	return (uint32_t)x->ng++;
}

/* A copy of a sample in the arena; NULL when it is large or the arena full. */
static const unsigned char *
arena_copy(struct ctx *x, const unsigned char *p, size_t len)
{
	unsigned char *dst;

	if (len > ARENA_COPY_MAX)
		return NULL;
	if (!x->narena || x->arena_used + len > ARENA_BLOCK - BIGMEM_HDR) {
		if (x->narena == ARENA_BLOCKS)
			return NULL;
		x->arena[x->narena++] = bigmem_alloc(ARENA_BLOCK - BIGMEM_HDR, 1);
		x->arena_used = 0;
	}
	dst = x->arena[x->narena - 1] + x->arena_used;
	memcpy(dst, p, len);
	x->arena_used += (len + 7) & ~(size_t)7;
	return dst;
}

/* Lone chunk f has the bytes of chunk i (in pe)?  Same size, same length,
 * same bytes: the hash only said where to look.  *fb: f's bytes. */
static bool
same_as_lone(struct ctx *x, uint32_t f, size_t i, const struct pending *pe,
	     const unsigned char **fb)
{
	uint64_t addr;
	size_t len;

	if (!user_span(&x->ch[f], &addr, &len) || !(*fb = image_bytes(x->img, &x->rc2, addr, len)))
		return false;
	return same_key(x->am, x->ch[f].size, *fb, len, x->ch[i].size, pe->p, pe->len);
}

/* Lone chunk f (bytes fb) and chunk i (bytes in pe, in cache, unlike f's)
 * have one content: a group of two, which keeps a copy of the bytes for the
 * members to come. */
static uint32_t
pair_up(struct ctx *x, uint32_t f, size_t i, const struct pending *pe, const unsigned char *fb)
{
	const unsigned char *copy = arena_copy(x, pe->p, pe->len);
	uint32_t g = new_group(x, f, 2);

	x->g[g].bytes = copy ? copy : fb;
	x->g[g].key = pe->key;
	x->g[g].len = pe->len;
	shape_leave(x, x->prov[f], f);
	x->prov[f] = x->prov[i] = PROV_GROUP | g;
	return g;
}

/* The shape of a pending chunk; a string's bytes after its NUL read as
 * zeros (they are not the program's). */
static inline __attribute__((always_inline)) uint64_t
pending_sig(struct ctx *x, const struct pending *pe, bool avx512)
{
	unsigned char buf[SHAPE_WORDS * 8];
	size_t n = pe->slen < sizeof(buf) ? pe->slen : sizeof(buf);
	const unsigned char *p = pe->p;

	if (pe->len < pe->slen && pe->len < n) {
		memcpy(buf, pe->p, pe->len);
		memset(buf + pe->len, 0, n - pe->len);
		p = buf;
	} else {
		n = pe->slen;
	}
	return avx512 ? shape_sig_avx512_inline(x, p, n) : shape_sig_fast(x, p, n);
}

/* Chunk i (bytes in pe) into its content's group, or into the table as a
 * lone chunk, its prov naming its shape. */
static inline __attribute__((always_inline)) void
content_group(struct ctx *x, size_t i, const struct pending *pe, bool avx512)
{
	uint32_t tag = (uint32_t)(pe->key >> 32), sid;
	size_t pos;

	for (pos = slot_home(x, tag); x->tab[pos]; pos = slot_next(x, pos)) {
		uint64_t slot = x->tab[pos];
		uint32_t ref = (uint32_t)slot;
		const unsigned char *fb;

		if ((uint32_t)(slot >> 32) != tag)
			continue;
		if (ref & REF_GROUP) {
			struct group *gr = &x->g[ref & ~REF_GROUP];

			/* key = hash ^ size * odd constant: with equal bytes,
			 * equal keys mean equal sizes */
			if (gr->key == pe->key && gr->len == pe->len &&
			    memcmp(gr->bytes, pe->p, pe->len) == 0) {
				gr->count++;
				x->prov[i] = PROV_GROUP | (ref & ~REF_GROUP);
				return;
			}
		} else if (same_as_lone(x, ref - 1, i, pe, &fb)) {
			x->tab[pos] = (uint64_t)tag << 32 | REF_GROUP | pair_up(x, ref - 1, i, pe, fb);
			return;
		}
	}
	x->tab[pos] = (uint64_t)tag << 32 | (uint32_t)(i + 1);
	x->nused++;
	sid = shape_add(x, x->ch[i].size, pending_sig(x, pe, avx512));
	x->prov[i] = PROV_SHAPE | sid;
	/* counted as it comes (address order: the first is the lowest) */
	if (!x->s[sid].count++)
		x->s[sid].first = (uint32_t)i;
	table_room(x);
}

/* The heap's bytes are read in address order, but a chunk at a time with
 * work between, and the hardware's prefetcher did not keep up: the first
 * read of a chunk's bytes (cluster_string_len's) waited for memory.  So
 * the first line of the chunk CHUNK_AHEAD on is fetched ahead. */
#define CHUNK_AHEAD 8

static inline void
prefetch_chunk(const struct ctx *x, size_t i)
{
	const struct region *r = x->rc;
	uint64_t a;

	if (i >= x->end || !r)
		return;
	a = x->ch[i].addr + 16;
	if (a - r->start < r->end - r->start)
		__builtin_prefetch(r->data + (a - r->start));
}

/* Hash chunk i into pe; a chunk whose bytes are not in the image stops
 * being a candidate. */
static void
hash_chunk(struct ctx *x, size_t i, struct pending *pe)
{
	uint64_t a;
	size_t sl;

	pe->p = NULL;
	prefetch_chunk(x, i + CHUNK_AHEAD);
	if (!prov_working(x->prov[i]))
		return;
	if (!user_span(&x->ch[i], &a, &pe->len) ||
	    !(pe->p = image_bytes(x->img, &x->rc, a, pe->len))) {
		x->prov[i] = NONE32;
		return;
	}
	/* a string is one content whatever the size of its chunk (a remainder
	 * too small to split off makes some copies' chunks larger) */
	pe->slen = pe->len;
	if ((sl = cluster_string_len(x->am, pe->p, pe->len))) {
		pe->len = sl;
		pe->key = content_hash(pe->p, pe->len) ^ STRING_KEY;
	} else {
		pe->key = content_hash(pe->p, pe->len) ^
			  ((uint64_t)x->ch[i].size * 0x9e3779b97f4a7c15ULL);
	}
	/* its slot is far in a big table: fetch it while the block's other
	 * chunks are hashed, so content_group finds it in cache (for writing:
	 * most contents are new, and take the slot) */
	__builtin_prefetch(&x->tab[slot_home(x, (uint32_t)(pe->key >> 32))], 1);
}

/* Chunks go through in blocks: hash the block (its bytes stay in cache,
 * and its slots are fetched meanwhile), then group each chunk in address
 * order.  (Loading the block's slots in a loop of their own first, which
 * the fetches made needless, cost 6% of the pass.) */
#define BLOCK 256

/* The content pass over chunks [x->begin, x->end), x->ncand candidates
 * among them; leaves x->tab, x->g, x->s.  The table has room for every
 * candidate being distinct (nearly so on many heaps): growing it on the
 * way costs more (fresh memory, and a rehash). */
static inline __attribute__((always_inline)) void
content_range_body(struct ctx *x, bool avx512)
{
	struct pending pe[BLOCK];

	table_alloc(x, x->ncand + x->ncand / 3 + 1);
	x->nused = 0;
	x->g = NULL;
	x->ng = x->gcap = 0;
	x->s = NULL;
	x->ns = x->scap = 0;
	x->smask = 1023;
	x->stab = xcalloc(x->smask + 1, sizeof(*x->stab));
	x->narena = 0;
	for (size_t base = x->begin; base < x->end; base += BLOCK) {
		size_t m = x->end - base < BLOCK ? x->end - base : BLOCK;

		for (size_t k = 0; k < m; k++)
			hash_chunk(x, base + k, &pe[k]);
		for (size_t k = 0; k < m; k++)
			if (pe[k].p)
				content_group(x, base + k, &pe[k], avx512);
	}
	/* the samples' copies were for grouping only */
	for (size_t k = 0; k < x->narena; k++)
		bigmem_free(x->arena[k]);
	x->narena = 0;
	for (size_t g = 0; g < x->ng; g++)
		x->g[g].bytes = NULL;
}

/* The pass compiled for AVX-512 as a whole (flatten: everything it calls
 * inlined), so that the shape signatures are part of its loop instead of a
 * call each that set its constants up anew, and as it was for other CPUs.
 * On the 10M-chunk bench heap the signatures and their shapes were 44 ms
 * of the pass's 281 (leaving them out); compiled so, the pass takes about
 * 20 ms less (medians of 8: 290 -> 273, 282 -> 260). */
__attribute__((target("avx512f,avx512bw"), flatten)) static void
content_range_avx512(struct ctx *x)
{
	content_range_body(x, true);
}

static void
content_range(struct ctx *x)
{
	if (x->avx512)
		content_range_avx512(x);
	else
		content_range_body(x, false);
}

/* Chunks f1 and f2 have the same size and bytes (for merging halves: both
 * are out of cache; this is rare). */
static bool
same_chunks(struct ctx *x, uint32_t f1, uint32_t f2)
{
	const unsigned char *a, *b;
	uint64_t a1, a2;
	size_t l1, l2;

	if (!user_span(&x->ch[f1], &a1, &l1) || !user_span(&x->ch[f2], &a2, &l2))
		return false;
	a = image_bytes(x->img, &x->rc, a1, l1);
	b = image_bytes(x->img, &x->rc2, a2, l2);
	return a && b && same_key(x->am, x->ch[f1].size, a, l1, x->ch[f2].size, b, key_len(x->am, b, l2));
}

/* A slot's chunk: the lone chunk, or the group's first. */
static uint32_t
slot_chunk(const struct ctx *x, uint64_t slot)
{
	uint32_t ref = (uint32_t)slot;

	return ref & REF_GROUP ? x->g[ref & ~REF_GROUP].first : ref - 1;
}

/* The lower half's slot with the content of the upper half's chunk f (tag
 * tag), or SIZE_MAX. */
static size_t
lower_twin(struct ctx *lo, uint32_t tag, uint32_t f)
{
	for (size_t pos = slot_home(lo, tag); lo->tab[pos]; pos = slot_next(lo, pos)) {
		uint64_t slot = lo->tab[pos];

		if ((uint32_t)(slot >> 32) == tag && same_chunks(lo, slot_chunk(lo, slot), f))
			return pos;
	}
	return SIZE_MAX;
}

/* The group, in part 0's numbering, that the content of lower part j's slot
 * pos is: the slot's group, or a group of one made of its lone chunk. */
static uint32_t
lower_group(struct ctx **cx, unsigned j, size_t pos)
{
	struct ctx *lo = cx[0], *lj = cx[j];
	uint64_t slot = lj->tab[pos];
	uint32_t tag = (uint32_t)(slot >> 32), lref = (uint32_t)slot, g, hg;

	if (lref & REF_GROUP)
		return j ? lj->g[lref & ~REF_GROUP].id : lref & ~REF_GROUP;
	g = new_group(lo, lref - 1, 1);
	/* part j's chunks are numbered as part 0's, its shapes counted there */
	shape_leave(lo, lo->prov[lref - 1], lref - 1);
	lo->prov[lref - 1] = PROV_GROUP | g;
	if (!j) {
		lo->tab[pos] = (uint64_t)tag << 32 | REF_GROUP | g;
		return g;
	}
	hg = new_group(lj, lref - 1, 1);
	lj->g[hg].id = g;
	lj->tab[pos] = (uint64_t)tag << 32 | REF_GROUP | hg;
	return g;
}

/* Contents of part k found in a lower part (the lowest that has them, so
 * the group's first chunk is the lowest, as one loop finds it): that part's
 * slot becomes (or was) a group, which takes part k's members.  Each of
 * part k's groups' id says where it went (NONE32: not here); a lone chunk
 * of part k is made a group of one for that. */
/* The slots of the upper part k whose tags a lower part's table has too
 * (few: contents in more than one part, and a tag shared by chance), by a
 * range of slots each; the lookups, the checks of the bytes and the
 * merging that follow are done by one thread, in slot order.  Slot homes
 * grow with the tag in every table, so a range of the upper table's slots
 * reads the lower tables in address order too, and no filter of the lower
 * tags is needed (one cost about as much, to build and to test, and let
 * 2.6% of the tags through to the one-thread lookups against 0.07%). */
struct maybe_job {
	struct ctx **cx;
	unsigned k;
	size_t **hit, *nhit, *cap; /* per part */
};

static bool
has_tag(const struct ctx *lo, uint32_t tag)
{
	for (size_t pos = slot_home(lo, tag); lo->tab[pos]; pos = slot_next(lo, pos))
		if ((uint32_t)(lo->tab[pos] >> 32) == tag)
			return true;
	return false;
}

/* has_tag a line of 8 slots at a time, for CPUs with AVX-512: a tag's
 * home is the first slot of a line (slot_home), and a probe goes on to the
 * next line only when this one has no empty slot.  Half the merge's time
 * on the bench heap was has_tag's loop, about 6 slots a tag, the end of
 * each mispredicted. */
__attribute__((target("avx512f"))) static bool
has_tag_avx512(const struct ctx *lo, uint32_t tag)
{
	const __m512i t = _mm512_set1_epi64((long long)tag), zero = _mm512_setzero_si512();

	for (size_t pos = slot_home(lo, tag), n = 0; n < lo->nslots; n += 8) {
		__m512i v = _mm512_loadu_si512((const void *)(lo->tab + pos));
		__mmask8 empty = _mm512_cmpeq_epi64_mask(v, zero),
			 hit = _mm512_mask_cmpeq_epi64_mask((__mmask8)~empty, _mm512_srli_epi64(v, 32), t);

		if (empty) /* the slots before the first empty one */
			return (hit & (__mmask8)((empty & -empty) - 1)) != 0;
		if (hit)
			return true;
		pos = pos + 8 < lo->nslots ? pos + 8 : 0;
	}
	return false;
}

static void
maybe_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct maybe_job *j = arg;
	const uint64_t *tab = j->cx[j->k]->tab;

	for (size_t s = begin; s < end; s++) {
		uint32_t tag = (uint32_t)(tab[s] >> 32);
		bool maybe = false;

		if (!tab[s])
			continue;
		for (unsigned lo = 0; lo < j->k && !maybe; lo++)
			maybe = j->cx[lo]->avx512 ? has_tag_avx512(j->cx[lo], tag)
						  : has_tag(j->cx[lo], tag);
		if (!maybe)
			continue;
		j->hit[part] = xgrow(j->hit[part], &j->cap[part], j->nhit[part] + 1,
				     sizeof(*j->hit[part]));
		j->hit[part][j->nhit[part]++] = s;
	}
}

static void
merge_twins(struct ctx **cx, unsigned k)
{
	struct ctx *lo = cx[0], *hi = cx[k];
	unsigned parts = par_parts(hi->nslots);
	struct maybe_job mj = { cx, k, xcalloc(parts, sizeof(*mj.hit)),
				xcalloc(parts, sizeof(*mj.nhit)), xcalloc(parts, sizeof(*mj.cap)) };

	par_run(hi->nslots, parts, maybe_part, &mj);
	for (unsigned p = 0; p < parts; p++) {
		for (size_t h = 0; h < mj.nhit[p]; h++) {
			uint64_t slot = hi->tab[mj.hit[p][h]];
			uint32_t tag = (uint32_t)(slot >> 32), ref = (uint32_t)slot, hf, hg, g;
			size_t pos = SIZE_MAX;
			unsigned j;

			hf = slot_chunk(hi, slot);
			for (j = 0; j < k && pos == SIZE_MAX; j++)
				pos = lower_twin(cx[j], tag, hf);
			if (pos == SIZE_MAX)
				continue;
			g = lower_group(cx, j - 1, pos);
			if (ref & REF_GROUP) {
				hg = ref & ~REF_GROUP;
			} else {
				hg = new_group(hi, hf, 1);
				shape_leave(hi, hi->prov[hf], hf);
				hi->prov[hf] = PROV_GROUP | hg;
			}
			lo->g[g].count += hi->g[hg].count;
			hi->g[hg].id = g;
		}
		free(mj.hit[p]);
	}
	free(mj.hit);
	free(mj.nhit);
	free(mj.cap);
}

/* A part's chunks, from its groups and shapes to part 0's. */
struct renumber {
	uint32_t *prov;
	const uint32_t *smap;
	const struct group *g;
};

static void
renumber_half(void *arg, size_t begin, size_t end, unsigned half)
{
	const struct renumber *r = arg;

	(void)half;
	for (size_t i = begin; i < end; i++) {
		uint32_t p = r->prov[i];

		if (prov_working(p))
			r->prov[i] = prov_shape(p) ? PROV_SHAPE | r->smap[p & PROV_ID]
						   : PROV_GROUP | r->g[p & PROV_ID].id;
	}
}

/* Part k into part 0: twins joined, the other groups appended (group
 * order does not matter: clusters are sorted by what they hold and their
 * first chunk), shapes added to part 0's, then part k's chunks renumbered.
 * Part k's table and groups stay until every part is merged: a higher
 * part's twins are looked up in them. */
static void
merge_part(struct ctx **cx, unsigned k)
{
	struct ctx *lo = cx[0], *hi = cx[k];
	uint32_t *smap = xmalloc((hi->ns ? hi->ns : 1) * sizeof(*smap));

	merge_twins(cx, k);
	for (size_t g = 0; g < hi->ng; g++)
		if (hi->g[g].id == NONE32)
			hi->g[g].id = new_group(lo, hi->g[g].first, hi->g[g].count);
	for (size_t s = 0; s < hi->ns; s++) {
		const struct shape *sh = &hi->s[s];
		struct shape *to;

		smap[s] = shape_add(lo, sh->size, sh->sig);
		to = &lo->s[smap[s]];
		if (!sh->count)
			continue;
		if (!to->count) /* the lower parts' chunks come first */
			to->first = sh->first;
		to->count += sh->count;
	}
	par_for(hi->end - hi->begin, renumber_half,
		&(struct renumber){ lo->prov + hi->begin, smap, hi->g });
	free(smap);
}

static void
content_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct ctx **cx = arg;

	(void)begin;
	(void)end; /* the part's own ctx has them */
	content_range(cx[part]);
}

/* Identical contents: groups in x->g, lone chunks' shapes in x->s; a big
 * heap cut in parts, one a job, then merged in address order. */
static void
content_pass(struct ctx *x)
{
	unsigned maxp = (unsigned)par_jobs(), parts;
	size_t *cut = xmalloc((maxp + 1) * sizeof(*cut)), *ncand = xmalloc(maxp * sizeof(*ncand));
	struct ctx **cx;

	parts = mark_candidates(x, cut, ncand, maxp);
	cx = xcalloc(parts, sizeof(*cx));
	x->begin = 0;
	x->end = cut[1];
	x->ncand = ncand[0];
	cx[0] = x;
	for (unsigned k = 1; k < parts; k++) {
		/* a page of its own: the threads write their ctx for every
		 * chunk, and sharing a cache line would cost more than the
		 * other cores save */
		cx[k] = bigmem_alloc(1, sizeof(*cx[k]));
		*cx[k] = *x;
		cx[k]->begin = cut[k];
		cx[k]->end = cut[k + 1];
		cx[k]->ncand = ncand[k];
	}
	par_run_cuts(cut, parts, content_part, cx);
	for (unsigned k = 1; k < parts; k++)
		merge_part(cx, k);
	for (unsigned k = 1; k < parts; k++) {
		bigmem_free(cx[k]->tab);
		bigmem_free(cx[k]->g);
		free(cx[k]->s);
		free(cx[k]->stab);
		bigmem_free(cx[k]);
	}
	bigmem_free(x->tab);
	x->tab = NULL;
	free(cx);
	free(cut);
	free(ncand);
}

/* ---- previews ------------------------------------------------------------ */

static bool
is_print(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Printable, or the whitespace escapes a C string commonly holds. */
static bool
is_string_char(unsigned char c)
{
	return is_print(c) || c == '\n' || c == '\t' || c == '\r';
}

/* c as it would be written inside a C string literal. */
static void
escape_char(unsigned char c, char out[3])
{
	const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" :
			  c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;

	if (esc) {
		memcpy(out, esc, 3);
	} else {
		out[0] = (char)c;
		out[1] = '\0';
	}
}

/* "text" with escapes; long strings end in ... inside the quotes. */
static void
quote_string(char *out, size_t cap, const unsigned char *p, size_t slen)
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t k = 0; k < slen; k++) {
		char e[3];
		size_t el;

		escape_char(p[k], e);
		el = strlen(e);
		/* room for this char, and for ...", or just " at the end */
		if (o + el + (k + 1 < slen ? 4 : 1) + 1 > cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, e, el);
		o += el;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* A string preview shows at most this many characters, quotes and "..."
 * included (so under 32 bytes of the chunk): heap bytes hold secrets, and
 * the report is a name for a cluster, not a dump. */
#define STRING_PREVIEW_CAP 36

static void
content_desc(char *out, size_t cap, const unsigned char *p, size_t len, bool string_ok)
{
	size_t slen = 0, o = 0;

	while (string_ok && slen < len && is_string_char(p[slen]))
		slen++;
	if (slen > 0 && slen < len && p[slen] == '\0') {
		quote_string(out, cap < STRING_PREVIEW_CAP ? cap : STRING_PREVIEW_CAP, p, slen);
		return;
	}
	/* by hand: a heap of many small clusters spent most of its preview
	 * time in snprintf */
	for (size_t k = 0; k < len && k < 16 && o + 4 < cap; k++) {
		if (k)
			out[o++] = ' ';
		out[o++] = "0123456789abcdef"[p[k] >> 4];
		out[o++] = "0123456789abcdef"[p[k] & 15];
	}
	out[o] = '\0';
	if (len > 16 && o + 5 <= cap)
		memcpy(out + o, " ...", 5);
}

#define SHAPE_RUN_MIN 3 /* "heap ptr, heap ptr" reads better than "heap ptr x2" */

/* "int, heap ptr x3, zero"; runs of one kind collapsed ("zero x13": ASCII,
 * the report escapes everything else); ", ..." when the chunk has more
 * words than were looked at, or when the names do not fit. */
static void
shape_desc(char *out, size_t cap, uint64_t sig, bool more)
{
	unsigned nwords = (unsigned)(sig >> SIG_NWORDS_SHIFT);
	size_t o = 0;

	out[0] = '\0';
	for (unsigned j = 0, run; j < nwords; j += run) {
		unsigned k = sig >> (WK_BITS * j) & 7;
		const char *name = word_kind_names[k];
		char item[32];
		size_t need;

		for (run = 1; j + run < nwords && (sig >> (WK_BITS * (j + run)) & 7) == k; run++)
			;
		if (run >= SHAPE_RUN_MIN) {
			snprintf(item, sizeof(item), "%s x%u", name, run);
		} else {
			run = 1;
			snprintf(item, sizeof(item), "%s", name);
		}
		need = (o ? 2 : 0) + strlen(item);
		if (o + need + sizeof(", ...") > cap) {
			more = true;
			break;
		}
		o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", item);
	}
	if (more)
		snprintf(out + o, cap - o, "%s...", o ? ", " : "");
}

/* ---- clusters before sorting --------------------------------------------- */

static uint32_t
new_proto(struct ctx *x, enum cluster_kind kind, uint32_t first, uint64_t count, uint64_t sig)
{
	uint32_t id = (uint32_t)x->npr;

	if (x->npr == x->prcap) { /* a heap of many small clusters has millions */
		x->prcap = x->prcap ? x->prcap * 2 : 4096;
		x->pr = x->pr ? bigmem_grow(x->pr, x->prcap, sizeof(*x->pr))
			      : bigmem_alloc(x->prcap, sizeof(*x->pr));
	}
	x->pr[x->npr++] = (struct proto){ .kind = kind, .first = first, .count = count,
					  .size = x->ch[first].size, .sig = sig, .id = id };
	x->pr[id].bytes = count * x->pr[id].size;
	return id;
}

static void
content_clusters(struct ctx *x)
{
	for (size_t g = 0; g < x->ng; g++)
		x->g[g].id = new_proto(x, CL_CONTENT, x->g[g].first, x->g[g].count, 0);
	x->ncontent = x->npr;
}

/* ---- shapes' clusters ---------------------------------------------------- */

/* Each shape's chunks that stayed alone, counted, and the first of them,
 * its sample: when a chunk was counted in a shape, it was not yet known
 * whether a twin would come.  A shape whose chunks all found twins has
 * none. */
/* The shapes were counted as the chunks came; a shape whose first chunk
 * joined a group since has its first found again here: the lowest chunk
 * still of it, in one scan from the start that stops when all are found
 * (they are near the start, as a rule). */
static void
shape_tally(struct ctx *x)
{
	size_t lost = 0;

	for (size_t k = 0; k < x->ns; k++)
		lost += x->s[k].count && x->s[k].first == NONE32;
	for (size_t i = 0; lost && i < x->n; i++) {
		uint32_t p = x->prov[i];
		struct shape *sh;

		if (!prov_shape(p))
			continue;
		sh = &x->s[p & PROV_ID];
		if (sh->first == NONE32) {
			sh->first = (uint32_t)i;
			lost--;
		}
	}
}

/* The largest shape that s could be were some of its zero words pointers or
 * ints, trying every such variant (at most 5^ZERO_MERGE_MAX - 1). */
static uint32_t
zero_merge_target(const struct ctx *x, uint32_t s)
{
	static const uint8_t fill[] = { WK_ZERO, WK_HEAP, WK_CODE, WK_DATA, WK_INT };
	const struct shape *sh = &x->s[s];
	unsigned nwords = (unsigned)(sh->sig >> SIG_NWORDS_SHIFT), zpos[ZERO_MERGE_MAX], nz = 0;
	unsigned combos = 1;
	uint32_t best = s;

	for (unsigned j = 0; j < nwords; j++) {
		if ((sh->sig >> (WK_BITS * j) & 7) != WK_ZERO)
			continue;
		if (nz == ZERO_MERGE_MAX)
			return s;
		zpos[nz++] = j;
	}
	for (unsigned z = 0; z < nz; z++)
		combos *= 5;
	for (unsigned c = 1; c < combos; c++) {
		uint64_t sig = sh->sig;
		uint32_t t;

		for (unsigned z = 0, d = c; z < nz; z++, d /= 5)
			sig |= (uint64_t)fill[d % 5] << (WK_BITS * zpos[z]);
		t = shape_find(x, sh->size, sig);
		if (t == NONE32 || !x->s[t].count) /* all its chunks found their twins */
			continue;
		if (best == s || x->s[t].count > x->s[best].count ||
		    (x->s[t].count == x->s[best].count && x->s[t].first < x->s[best].first))
			best = t;
	}
	return best;
}

/* A target has fewer zero words than its source, so chains end within
 * ZERO_MERGE_MAX steps; everything is moved to the end of its chain. */
static void
zero_merge(struct ctx *x)
{
	for (uint32_t s = 0; s < x->ns; s++)
		x->s[s].into = zero_merge_target(x, s);
	for (uint32_t s = 0; s < x->ns; s++) {
		uint32_t t = s;

		while (x->s[t].into != t)
			t = x->s[t].into;
		x->s[s].into = t;
	}
}

static void
shape_clusters(struct ctx *x)
{
	uint64_t *total = xcalloc(x->ns ? x->ns : 1, sizeof(*total));

	for (size_t s = 0; s < x->ns; s++)
		total[x->s[s].into] += x->s[s].count;
	for (size_t s = 0; s < x->ns; s++) {
		struct shape *sh = &x->s[s];

		if (sh->into == s && total[s] >= 2)
			sh->cluster = new_proto(x, CL_SHAPE, sh->first, total[s], sh->sig);
	}
	free(total);
}

/* ---- sorting, previews, numbering ---------------------------------------- */

static int
by_bytes_desc(const void *pa, const void *pb)
{
	const struct proto *a = pa, *b = pb;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->first < b->first ? -1 : a->first > b->first;
}

static void
prefetch_sample(struct ctx *x, const struct proto *p)
{
	const unsigned char *bytes;
	uint64_t addr;
	size_t len;

	if (p->kind == CL_CONTENT && user_span(&x->ch[p->first], &addr, &len) &&
	    (bytes = image_bytes(x->img, &x->rc, addr, len)))
		__builtin_prefetch(bytes);
}

static void
write_cluster(struct ctx *x, const struct proto *p, struct cluster *c)
{
	const unsigned char *bytes;
	uint64_t addr;
	size_t len = 0, sl;

	memset(c, 0, sizeof(*c));
	c->kind = p->kind;
	c->size = p->size;
	c->count = p->count;
	c->bytes = p->bytes;
	c->sample = x->ch[p->first].addr;
	if (!user_span(&x->ch[p->first], &addr, &len))
		return; /* cannot happen: it was clustered by its bytes */
	if (p->kind == CL_SHAPE) {
		c->hash = shape_hash(p->size, p->sig);
		shape_desc(c->desc, sizeof(c->desc), p->sig, len / 8 > SHAPE_WORDS);
	} else if ((bytes = image_bytes(x->img, &x->rc, addr, len))) {
		/* a pointer that reads as a short string is shown as bytes */
		bool pointer = !(sl = cluster_string_len(x->am, bytes, len)) &&
			       cluster_cstring_len(bytes, len);

		if (sl) {
			len = sl;
			c->size = 0; /* a string: its chunks may differ in size */
		}
		c->hash = content_hash(bytes, len);
		content_desc(c->desc, sizeof(c->desc), bytes, len, !pointer);
	}
}

/* Sort the clusters into out->v and turn each chunk's group into the sorted
 * index of its cluster. */
/* Chunks from their groups and shapes to their sorted clusters. */
static void
final_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct ctx *x = arg;

	(void)half;
	for (size_t i = begin; i < end; i++) {
		uint32_t p = x->prov[i];

		if (!prov_working(p))
			continue;
		x->prov[i] = prov_shape(p) ? x->s[p & PROV_ID].final : x->g[p & PROV_ID].id;
	}
}

static void
finish(struct ctx *x, struct cluster_set *out)
{
	uint32_t *pos = xmalloc((x->npr ? x->npr : 1) * sizeof(*pos));

	if (x->npr) /* qsort's pointer must not be NULL even for 0 items */
		qsort(x->pr, x->npr, sizeof(*x->pr), by_bytes_desc);
	out->v = bigmem_alloc(x->npr, sizeof(*out->v));
	for (size_t k = 0; k < x->npr; k++) {
		/* the samples are all over the heap: their chunk entries, then
		 * their bytes, are fetched ahead (a heap of a million pairs
		 * spent a second waiting for them) */
		if (k + 16 < x->npr)
			__builtin_prefetch(&x->ch[x->pr[k + 16].first]);
		if (k + 8 < x->npr)
			prefetch_sample(x, &x->pr[k + 8]);
		write_cluster(x, &x->pr[k], &out->v[k]);
		pos[x->pr[k].id] = (uint32_t)k;
	}
	out->n = x->npr;
	for (size_t g = 0; g < x->ng; g++)
		x->g[g].id = pos[x->g[g].id];
	for (size_t k = 0; k < x->ns; k++) {
		uint32_t c = x->s[x->s[k].into].cluster;

		x->s[k].final = c == NONE32 ? NONE32 : pos[c];
	}
	if (x->shared) { /* the caller's pass maps the entries (cluster_of_entry) */
		out->shape_map = xmalloc((x->ns ? x->ns : 1) * sizeof(*out->shape_map));
		out->group_map = xmalloc((x->ng ? x->ng : 1) * sizeof(*out->group_map));
		for (size_t k = 0; k < x->ns; k++)
			out->shape_map[k] = x->s[k].final;
		for (size_t g = 0; g < x->ng; g++)
			out->group_map[g] = x->g[g].id;
	} else {
		par_for(x->n, final_half, x);
	}
	out->of_chunk = x->shared ? NULL : x->prov;
	free(pos);
}

void
cluster_build(const struct cluster_input *in, struct cluster_set *out)
{
	struct ctx x = { .img = in->img, .am = in->am, .ch = in->heap->chunks,
			 .typed = in->typed, .n = in->heap->nchunks,
			 .prov = in->of_chunk, .shared = in->of_chunk != NULL };

	if (in->am && in->am->hi > in->am->lo) {
		x.lo = in->am->lo;
		x.span = in->am->hi - in->am->lo;
	}
	x.marks = x.shared ? in->marks : NULL;
	x.avx2 = __builtin_cpu_supports("avx2") && cluster_sig_for_tests != 1;
	x.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		   !cluster_sig_for_tests;
	memset(out, 0, sizeof(*out));
	if (!x.shared)
		x.prov = bigmem_alloc(x.n, sizeof(*x.prov));
	content_pass(&x);
	content_clusters(&x);
	shape_tally(&x);
	zero_merge(&x);
	shape_clusters(&x);
	finish(&x, out);
	bigmem_free(x.g);
	free(x.stab);
	free(x.s);
	bigmem_free(x.pr);
}

/* v and of_chunk come from big_alloc, not malloc: free them only here. */
void
cluster_set_free(struct cluster_set *cs)
{
	bigmem_free(cs->v);
	bigmem_free(cs->of_chunk);
	free(cs->shape_map);
	free(cs->group_map);
	memset(cs, 0, sizeof(*cs));
}
