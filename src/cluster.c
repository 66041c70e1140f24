/*
 * cluster.c - group untyped in-use chunks by identical contents, then the
 * rest by shape (see cluster.h for what each means).
 *
 * Built for heaps of tens of millions of chunks, so no pass allocates per
 * chunk and each pass walks the chunk array in address order:
 *
 *   1. hash:    XXH3 of every candidate's user bytes into hash[i]
 *               (reads the whole heap once: memory bandwidth bound).
 *   2. content: an open-addressing table keyed by (size, hash); a hit is
 *               confirmed with memcmp against the group's first chunk, and a
 *               colliding different content probes on to its own group.
 *               Slots are prefetched a few chunks ahead: with millions of
 *               distinct contents the table is far larger than the caches.
 *   3. shapes:  chunks whose content group ended with one member get a
 *               signature (size, kinds of their first SHAPE_WORDS words) in
 *               a second, much smaller table; then shapes with a few zero
 *               words join the largest shape they could be (zero-merge).
 *   4. clusters with >= 2 chunks, sorted by bytes; of_chunk renumbered.
 *
 * A content table slot (8 bytes, 0 = empty):
 *
 *   63           32 31            0
 *   +--------------+---------------+
 *   | key >> 32    | group + 1     |   key = hash ^ size * golden ratio;
 *   +--------------+---------------+   slot index = key & mask
 *
 * A shape signature: 3 bits of word kind per word (word 0 in the low bits),
 * the number of words looked at in bits 48..52; the size is kept beside it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cluster.h"
#include "xmalloc.h"

enum word_kind { WK_ZERO, WK_HEAP, WK_CODE, WK_DATA, WK_INT, WK_TEXT, WK_OTHER };

static const char *const word_kind_names[] = {
	[WK_ZERO] = "zero", [WK_HEAP] = "heap ptr", [WK_CODE] = "code ptr",
	[WK_DATA] = "data ptr", [WK_INT] = "int", [WK_TEXT] = "text", [WK_OTHER] = "other",
};

#define WK_BITS 3
#define SIG_NWORDS_SHIFT 48
#define ZERO_MERGE_MAX 4   /* shapes with more zero words are left alone */
#define PREFETCH_AHEAD 16  /* chunks between a slot's prefetch and its use */
#define NONE32 CLUSTER_NONE
/* Chunk indices and group ids are 32-bit; a heap with more chunks than this
 * (over 100 GiB of the smallest chunks) has its tail left unclustered. */
#define CHUNK_MAX (UINT32_MAX - 2)

/* Test hook, declared by test/unit/test_cluster.c: a weak hash there forces
 * the collisions XXH3 never produces, to show memcmp keeps contents apart. */
extern uint64_t (*cluster_hash_for_tests)(const void *p, size_t len);
uint64_t (*cluster_hash_for_tests)(const void *p, size_t len);

struct group {
	uint32_t first;   /* chunk index of the first member */
	uint32_t count;
	uint32_t cluster; /* provisional cluster index, or NONE32 */
};

struct shape {
	uint64_t size, sig, count;
	uint32_t first;   /* chunk index of the first member */
	uint32_t into;    /* shape it merges into (itself when none) */
	uint32_t cluster; /* provisional cluster index, or NONE32 */
};

struct ctx {
	const struct image *img;
	const struct addrmap *am;
	const struct hs_chunk *ch;
	const bool *typed;
	size_t n;
	uint32_t *prov;  /* per chunk: group, then provisional cluster index */
	uint64_t *hash;  /* per chunk: XXH3 of user bytes (candidates only) */
	const struct region *rc, *rc2; /* last regions read (two streams) */
	const struct addr_range *ac;   /* last address range hit */

	struct group *g;
	size_t ng;

	struct shape *s;
	size_t ns, scap;
	uint32_t *stab; /* shape id + 1, 0 = empty */
	size_t smask;

	struct cluster *cl;
	size_t ncl, clcap;
	size_t ncontent; /* provisional ids below this are content clusters */
};

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

/* image_ptr with the last region remembered: chunks come in address order,
 * so nearly every lookup hits the region of the one before. */
static const unsigned char *
image_bytes(const struct image *img, const struct region **last, uint64_t addr, size_t len)
{
	const struct region *r = *last;
	uint64_t off;

	if (!r || addr < r->start || addr >= r->end) {
		r = image_region(img, addr);
		if (!r)
			return NULL;
		*last = r;
	}
	if (r->nholes)
		return image_ptr(img, addr, len);
	off = addr - r->start;
	if (len > r->end - r->start - off)
		return NULL;
	return r->data + off;
}

static const unsigned char *
bytes_of(struct ctx *x, const struct region **rc, size_t i, size_t *len)
{
	uint64_t a;

	if (!user_span(&x->ch[i], &a, len))
		return NULL;
	return image_bytes(x->img, rc, a, *len);
}

static bool
is_candidate(const struct ctx *x, size_t i)
{
	enum chunk_kind k = (enum chunk_kind)x->ch[i].kind;

	return (k == CK_INUSE || k == CK_MMAPPED) && !(x->typed && x->typed[i]);
}

/* ---- pass 1 and 2: identical contents ------------------------------------ */

static size_t
hash_pass(struct ctx *x)
{
	size_t ncand = 0;

	for (size_t i = 0; i < x->n; i++) {
		const unsigned char *p;
		size_t len;

		x->prov[i] = NONE32;
		if (i >= CHUNK_MAX || !is_candidate(x, i))
			continue;
		p = bytes_of(x, &x->rc, i, &len);
		if (!p)
			continue;
		x->hash[i] = cluster_hash_for_tests ? cluster_hash_for_tests(p, len)
						    : XXH3_64bits(p, len);
		x->prov[i] = 0;
		ncand++;
	}
	return ncand;
}

static inline uint64_t
content_key(const struct ctx *x, size_t i)
{
	return x->hash[i] ^ ((uint64_t)x->ch[i].size * 0x9e3779b97f4a7c15ULL);
}

/* Same size, same length, same bytes: the hash only says where to look. */
static bool
same_content(struct ctx *x, size_t f, size_t i)
{
	const unsigned char *a, *b;
	size_t la, lb;

	if (x->hash[f] != x->hash[i] || x->ch[f].size != x->ch[i].size)
		return false;
	a = bytes_of(x, &x->rc2, f, &la);
	b = bytes_of(x, &x->rc, i, &lb);
	return a && b && la == lb && memcmp(a, b, la) == 0;
}

static uint32_t
content_group(struct ctx *x, uint64_t *tab, size_t mask, size_t i)
{
	uint64_t key = content_key(x, i), tag = key >> 32;

	for (size_t pos = key & mask;; pos = (pos + 1) & mask) {
		uint64_t slot = tab[pos];
		uint32_t g;

		if (!slot) {
			g = (uint32_t)x->ng++;
			x->g[g] = (struct group){ .first = (uint32_t)i, .count = 1, .cluster = NONE32 };
			tab[pos] = tag << 32 | (g + 1);
			return g;
		}
		g = (uint32_t)slot - 1;
		if (slot >> 32 == tag && same_content(x, x->g[g].first, i)) {
			x->g[g].count++;
			return g;
		}
	}
}

static size_t
pow2_at_least(size_t v)
{
	size_t p = 64;

	while (p < v)
		p <<= 1;
	return p;
}

static void
content_pass(struct ctx *x, size_t ncand)
{
	size_t slots = pow2_at_least(ncand + ncand / 2), mask = slots - 1;
	uint64_t *tab = xcalloc(slots, sizeof(*tab));

	x->g = xmalloc((ncand ? ncand : 1) * sizeof(*x->g));
	for (size_t i = 0; i < x->n; i++) {
		size_t ahead = i + PREFETCH_AHEAD;

		if (ahead < x->n && x->prov[ahead] != NONE32)
			__builtin_prefetch(&tab[content_key(x, ahead) & mask]);
		if (x->prov[i] != NONE32)
			x->prov[i] = content_group(x, tab, mask, i);
	}
	free(tab);
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

static void
content_desc(char *out, size_t cap, const unsigned char *p, size_t len)
{
	size_t slen = 0, o = 0;

	while (slen < len && is_string_char(p[slen]))
		slen++;
	if (slen > 0 && slen < len && p[slen] == '\0') {
		quote_string(out, cap, p, slen);
		return;
	}
	out[0] = '\0';
	for (size_t k = 0; k < len && k < 16; k++)
		o += (size_t)snprintf(out + o, cap - o, k ? " %02x" : "%02x", p[k]);
	if (len > 16)
		snprintf(out + o, cap - o, " ...");
}

/* "int, heap ptr, zero"; ", ..." when the chunk has more words than were
 * looked at, or when the names do not fit. */
static void
shape_desc(char *out, size_t cap, uint64_t sig, bool more)
{
	unsigned nwords = (unsigned)(sig >> SIG_NWORDS_SHIFT);
	size_t o = 0;

	out[0] = '\0';
	for (unsigned j = 0; j < nwords; j++) {
		const char *name = word_kind_names[sig >> (WK_BITS * j) & 7];
		size_t need = (j ? 2 : 0) + strlen(name);

		if (o + need + sizeof(", ...") > cap) {
			more = true;
			break;
		}
		o += (size_t)snprintf(out + o, cap - o, "%s%s", j ? ", " : "", name);
	}
	if (more)
		snprintf(out + o, cap - o, "%s...", o ? ", " : "");
}

/* ---- content clusters ---------------------------------------------------- */

static struct cluster *
new_cluster(struct ctx *x, enum cluster_kind kind, size_t first, uint64_t count)
{
	struct cluster *c;

	x->cl = xgrow(x->cl, &x->clcap, x->ncl + 1, sizeof(*x->cl));
	c = &x->cl[x->ncl++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->size = x->ch[first].size;
	c->count = count;
	c->bytes = count * c->size;
	c->sample = x->ch[first].addr;
	return c;
}

static void
content_clusters(struct ctx *x)
{
	for (size_t g = 0; g < x->ng; g++) {
		struct group *gr = &x->g[g];
		struct cluster *c;
		const unsigned char *p;
		size_t len;

		if (gr->count < 2)
			continue;
		gr->cluster = (uint32_t)x->ncl;
		c = new_cluster(x, CL_CONTENT, gr->first, gr->count);
		c->hash = x->hash[gr->first];
		p = bytes_of(x, &x->rc2, gr->first, &len);
		if (p)
			content_desc(c->desc, sizeof(c->desc), p, len);
	}
	x->ncontent = x->ncl;
}

/* ---- pass 3: shapes ------------------------------------------------------ */

static bool
is_text_word(uint64_t v)
{
	unsigned k = 0;

	while (k < 8 && is_print((unsigned char)(v >> (8 * k))))
		k++;
	return k > 0 && (k == 8 || v >> (8 * k) == 0);
}

static enum word_kind
word_kind(struct ctx *x, uint64_t v)
{
	const struct addrmap *am = x->am;

	if (v == 0)
		return WK_ZERO;
	if (am && v >= am->lo && v < am->hi) {
		const struct addr_range *r = x->ac;

		if (!r || v < r->start || v >= r->end)
			r = addrmap_find(am, v);
		if (r) {
			x->ac = r;
			switch (r->kind) {
			case AK_ANON: return WK_HEAP;
			case AK_CODE: return WK_CODE;
			case AK_DATA: return WK_DATA;
			default: break;
			}
		}
	}
	if (v < (1ULL << 32) || v >= (uint64_t)-(INT64_C(1) << 31))
		return WK_INT;
	return is_text_word(v) ? WK_TEXT : WK_OTHER;
}

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

static uint32_t
shape_add(struct ctx *x, size_t i, uint64_t sig)
{
	uint64_t size = x->ch[i].size;
	size_t pos = shape_slot(x, size, sig);
	uint32_t id = x->stab[pos];

	if (id) {
		x->s[id - 1].count++;
		return id - 1;
	}
	x->s = xgrow(x->s, &x->scap, x->ns + 1, sizeof(*x->s));
	x->s[x->ns] = (struct shape){ .size = size, .sig = sig, .count = 1, .first = (uint32_t)i,
				      .into = (uint32_t)x->ns, .cluster = NONE32 };
	x->stab[pos] = (uint32_t)++x->ns;
	if (x->ns * 2 > x->smask + 1)
		shape_table_grow(x);
	return (uint32_t)x->ns - 1;
}

static uint32_t
shape_of(struct ctx *x, size_t i)
{
	const unsigned char *p;
	size_t len, nwords;
	uint64_t sig;

	p = bytes_of(x, &x->rc, i, &len);
	if (!p || len < 8)
		return NONE32;
	nwords = len / 8 < SHAPE_WORDS ? len / 8 : SHAPE_WORDS;
	sig = (uint64_t)nwords << SIG_NWORDS_SHIFT;
	for (size_t j = 0; j < nwords; j++) {
		uint64_t v;

		memcpy(&v, p + 8 * j, 8);
		sig |= (uint64_t)word_kind(x, v) << (WK_BITS * j);
	}
	return shape_add(x, i, sig);
}

/* Content singletons get a shape; content groups' members their cluster. */
static void
shape_pass(struct ctx *x)
{
	x->smask = 1023;
	x->stab = xcalloc(x->smask + 1, sizeof(*x->stab));
	for (size_t i = 0; i < x->n; i++) {
		uint32_t sid;

		if (x->prov[i] == NONE32)
			continue;
		if (x->g[x->prov[i]].cluster != NONE32) {
			x->prov[i] = x->g[x->prov[i]].cluster;
			continue;
		}
		sid = shape_of(x, i);
		x->prov[i] = sid == NONE32 ? NONE32 : (uint32_t)x->ncontent + sid;
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
		if (t == NONE32)
			continue;
		if (best == s || x->s[t].count > x->s[best].count ||
		    (x->s[t].count == x->s[best].count && t < best))
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
		struct cluster *c;
		uint64_t a;
		size_t len = 0;

		if (sh->into != s || total[s] < 2)
			continue;
		sh->cluster = (uint32_t)x->ncl;
		c = new_cluster(x, CL_SHAPE, sh->first, total[s]);
		c->hash = shape_hash(sh->size, sh->sig);
		if (!user_span(&x->ch[sh->first], &a, &len))
			len = 0; /* cannot happen: it had words to take a shape from */
		shape_desc(c->desc, sizeof(c->desc), sh->sig, len / 8 > SHAPE_WORDS);
	}
	free(total);
}

/* ---- sorting and numbering ----------------------------------------------- */

static int
by_bytes_desc(const void *pa, const void *pb, void *arg)
{
	const struct cluster *v = arg, *a = &v[*(const uint32_t *)pa], *b = &v[*(const uint32_t *)pb];

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->sample < b->sample ? -1 : a->sample > b->sample;
}

/* Sort x->cl into out->v and turn each chunk's provisional id into the
 * sorted index of its cluster. */
static void
finish(struct ctx *x, struct cluster_set *out)
{
	uint32_t *order = xmalloc((x->ncl ? x->ncl : 1) * sizeof(*order));
	uint32_t *pos = xmalloc((x->ncl ? x->ncl : 1) * sizeof(*pos));

	for (size_t k = 0; k < x->ncl; k++)
		order[k] = (uint32_t)k;
	qsort_r(order, x->ncl, sizeof(*order), by_bytes_desc, x->cl);
	out->v = xmalloc((x->ncl ? x->ncl : 1) * sizeof(*out->v));
	for (size_t k = 0; k < x->ncl; k++) {
		out->v[k] = x->cl[order[k]];
		pos[order[k]] = (uint32_t)k;
	}
	out->n = x->ncl;
	for (size_t i = 0; i < x->n; i++) {
		uint32_t p = x->prov[i], c;

		if (p == NONE32)
			continue;
		c = p < x->ncontent ? p : x->s[x->s[p - x->ncontent].into].cluster;
		x->prov[i] = c == NONE32 ? NONE32 : pos[c];
	}
	out->of_chunk = x->prov;
	free(order);
	free(pos);
}

void
cluster_build(const struct cluster_input *in, struct cluster_set *out)
{
	struct ctx x = { .img = in->img, .am = in->am, .ch = in->heap->chunks,
			 .typed = in->typed, .n = in->heap->nchunks };
	size_t ncand;

	memset(out, 0, sizeof(*out));
	x.prov = xmalloc((x.n ? x.n : 1) * sizeof(*x.prov));
	x.hash = xmalloc((x.n ? x.n : 1) * sizeof(*x.hash));
	ncand = hash_pass(&x);
	content_pass(&x, ncand);
	content_clusters(&x);
	free(x.hash);
	x.hash = NULL;
	shape_pass(&x);
	free(x.g);
	zero_merge(&x);
	free(x.stab);
	shape_clusters(&x);
	finish(&x, out);
	free(x.s);
	free(x.cl);
}

void
cluster_set_free(struct cluster_set *cs)
{
	free(cs->v);
	free(cs->of_chunk);
	memset(cs, 0, sizeof(*cs));
}
