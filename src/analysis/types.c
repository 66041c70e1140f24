/*
 * types.c - C++ classes from vtable pointers, and one type per chunk (see
 * types.h for the object and vtable layout).
 *
 * Every 8-byte word of every live chunk is a candidate vptr.  Words outside
 * [lowest mapping, highest mapping) are rejected by two compares; the rest
 * go through one hash lookup in a cache of verdicts per word value, so the
 * RTTI checks (reads of the vtable, the typeinfo and its name, demangling)
 * run once per distinct value.
 */
#include <libiberty/demangle.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "allocator.h"
#include "elfmod.h"
#include "par.h"
#include "pyobj.h"
#include "types.h"
#include "xmalloc.h"

/* The loops every word or chunk of the heap goes through start at a 64-byte
 * boundary: where the build happened to put them, a loop's first block
 * across one made the container search a fifth slower (AMD EPYC; one
 * build in two, from edits elsewhere in the file).  GCC's attribute; clang
 * (the fuzzers' build) has none. */
#if defined(__GNUC__) && !defined(__clang__)
#define HOT_LOOPS __attribute__((optimize("align-loops=64")))
#else
#define HOT_LOOPS
#endif

#define VC_EMPTY INT32_MIN
#define VC_NOT (-1)        /* not a vtable address point */
#define VC_SECONDARY (-2)  /* a vptr, but not a complete object's primary one */
#define MAX_NAME 512
#define GRAN_SHIFT 21      /* 2 MiB */
#define GRAN_SLOTS 1024    /* a power of 2; more than the granules of any process's data */
#define GRAN_EMPTY UINT64_MAX
#define AT_OBJECT 1 /* a chunk starts with an object of the class */
#define AT_ARRAY 2  /* a chunk holds a new[] array of them */

/* A live chunk that a container's header points at: only its first len
 * user bytes hold objects (a std::vector's [begin, end), a std::string's
 * characters and NUL). */
struct extent {
	size_t chunk;
	uint64_t len;
};

struct vslot {
	uint64_t key;
	int32_t val;
};

struct modelf {
	struct elfmod *elf; /* NULL: not opened yet or not openable */
	uint64_t bias;
	bool tried;
};

struct builder {
	const struct types_input *in;
	struct addr_range *data;   /* the AK_DATA ranges only: where vtables can be */
	size_t ndata;
	uint64_t dlo, dhi;
	uint64_t gran[GRAN_SLOTS]; /* 2 MiB granules that hold module data; ~0 empty */
	pthread_mutex_t lock;      /* classify(): classes, mods */
	struct class_entry *classes;
	size_t nclasses, ccap;
	struct modelf *mods;
	struct type_table *out;
	size_t tcap;
	uint8_t *starts; /* per class: AT_OBJECT, AT_ARRAY when chunks start so */
	size_t nstarts;
	struct extent *ext; /* chunks whose container says how much of them is live */
	size_t next, extcap;
	uint64_t *dead;     /* words of short strings' buffers past their NUL, sorted */
	size_t ndead, deadcap;
	unsigned parts;     /* of the passes that read every live chunk (work_cuts): */
	size_t *cut;        /* the container search's part k is chunks [cut[k], cut[k + 1]), */
	size_t *wcut;       /* the word pass's [wcut[k], wcut[k + 1]) */
	/* The container search's filter (ends_add): per image region, a bit
	 * per 16 bytes of [start, end], set where an in-use arena chunk ends;
	 * NULL for a region no chunk starts in.  mm: the mmapped chunks'
	 * headers, sorted. */
	uint64_t **ends;
	uint64_t *ends_mem;
	uint64_t *mm;
	size_t nmm;
	bool *mm_in; /* per image region: an mmapped chunk starts in it */
	/* Every held word of the class and array chunks, in address order,
	 * unless there were more than HELD_MAX (held_full). */
	struct held *held;
	size_t nheld;
	bool held_full;
	struct cluster_marks marks; /* the word pass's, for the clustering */
	uint64_t *mwork;
	uint32_t *mcand;
};

/* A word of an object that may point at a chunk (name_holders): in the
 * heap's range and aligned as malloc's pointers are. */
struct held {
	uint64_t word;
	size_t chunk; /* the object's */
};

#define HELD_MAX 131072 /* held words kept, over all parts: 2 MiB */

#define CAND_BATCH 32 /* container candidates whose size fields are fetched together */

/* What one thread of the container search found (see find_containers). */
struct found {
	const struct builder *b;
	struct extent *ext;
	size_t next, extcap;
	uint64_t *dead;
	size_t ndead, deadcap;
	const struct region *rc; /* last region a size field was read from */
	const struct region *hc; /* last region a candidate's header was in */
	uint64_t cand[CAND_BATCH][3]; /* headers waiting for their size fields */
	size_t ncand;
	size_t *big; /* big chunks this part left (containers_half, BIG_CHUNK) */
	size_t nbig, bigcap;
};

/* One thread's share of the word pass: its own verdict cache and counts,
 * so that two threads share nothing but classify(), behind b->lock (it runs
 * once per distinct word value that points into module data). */
#define RECENT 64 /* verdicts of the last words looked up (a power of 2) */

struct worker {
	struct builder *b;
	struct vslot *slots;
	size_t cap, n;
	struct vslot recent[RECENT]; /* by word (lookup_slow); key 0 unset */
	const struct region *rc; /* last region a chunk's bytes came from */
	uint64_t *inst, *sample; /* per class: instances seen, the first one */
	uint8_t *starts;         /* per class: AT_OBJECT, AT_ARRAY when chunks start so */
	size_t ncls;             /* entries in inst, sample and starts */
	size_t begin, end;       /* chunks */
	size_t ext;              /* next entry of b->ext to look at */
	struct held *held;       /* this part's held words (held_words) */
	size_t nheld, heldcap, heldmax;
	bool held_full;
	uint64_t hlo, hspan;     /* the heap's user bytes: [hlo, hlo + hspan) */
	uint64_t *bwork;         /* per CLUSTER_BLOCK of chunks: the clustering's */
	uint32_t *bcand;         /* candidates, marked (NULL for --vtables) */
};

const char *
type_kind_name(enum type_kind k)
{
	static const char *const names[] = { "class", "array", "content", "shape", "size" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* ---- reading target memory: read-only module copies first ---------------- */

static bool
mem_u64(const struct types_input *in, uint64_t addr, uint64_t *v)
{
	return (in->ro && image_u64(in->ro, addr, v)) || image_u64(in->img, addr, v);
}

static bool
mem_str(const struct types_input *in, uint64_t addr, char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		const char *c = NULL;

		if (in->ro)
			c = image_ptr(in->ro, addr + i, 1);
		if (!c)
			c = image_ptr(in->img, addr + i, 1);
		if (!c)
			return false;
		buf[i] = *c;
		if (!*c)
			return true;
	}
	return false;
}

/* ---- classes ------------------------------------------------------------- */

static int32_t
intern_class(struct builder *b, const char *name, uint64_t vptr)
{
	for (size_t i = 0; i < b->nclasses; i++)
		if (!strcmp(b->classes[i].name, name))
			return (int32_t)i;
	b->classes = xgrow(b->classes, &b->ccap, b->nclasses + 1, sizeof(*b->classes));
	b->classes[b->nclasses] = (struct class_entry){ .name = xstrdup(name) };
	(void)vptr;
	return (int32_t)b->nclasses++;
}

static char *
demangle_type(const char *mangled)
{
	if (*mangled == '*') /* GCC marks names compared by address */
		mangled++;
	if (!((*mangled >= '0' && *mangled <= '9') || *mangled == 'N' || *mangled == 'S' ||
	      *mangled == 'Z'))
		return NULL;
	return cplus_demangle_v3(mangled, DMGL_PARAMS | DMGL_ANSI | DMGL_TYPES);
}

static struct modelf *
module_elf(struct builder *b, unsigned idx)
{
	const struct types_input *in = b->in;
	struct modelf *me = &b->mods[idx];
	char err[128];

	if (me->tried)
		return me->elf ? me : NULL;
	me->tried = true;
	if (!in->maps)
		return NULL;
	for (size_t i = 0; i < in->maps->n; i++) {
		const struct map_entry *e = &in->maps->v[i];

		if (e->offset || strcmp(e->path, in->am->modules[idx]))
			continue;
		if (e->file)
			me->elf = elfmod_open(e->file, err, sizeof(err));
		if (me->elf)
			me->bias = elfmod_bias(me->elf, e->start);
		break;
	}
	return me->elf ? me : NULL;
}

/* No RTTI (-fno-rtti): the vtable's own symbol, _ZTV<type>, starts 16 bytes
 * before a primary address point. */
static char *
name_from_symbol(struct builder *b, uint64_t vptr)
{
	const struct addr_range *r = addrmap_find(b->in->am, vptr);
	struct modelf *me;
	char sym[MAX_NAME];

	if (!r || r->kind != AK_DATA || !(me = module_elf(b, r->module)))
		return NULL;
	if (!elfmod_symbol_at(me->elf, vptr - 16 - me->bias, "_ZTV", sym, sizeof(sym)))
		return NULL;
	return demangle_type(sym + 4);
}

static int32_t
classify(struct builder *b, uint64_t w)
{
	const struct types_input *in = b->in;
	uint64_t ott, ti, tiv, np;
	char name[MAX_NAME], *dm = NULL;
	int32_t v;

	if ((w & 7) || addrmap_kind(in->am, w) != AK_DATA || !mem_u64(in, w - 16, &ott) ||
	    !mem_u64(in, w - 8, &ti))
		return VC_NOT;
	if (ti == 0) {
		if (ott == 0)
			dm = name_from_symbol(b, w);
	} else if (!(ti & 7) && addrmap_kind(in->am, ti) == AK_DATA && mem_u64(in, ti, &tiv) &&
		   mem_u64(in, ti + 8, &np) && addrmap_kind(in->am, tiv) == AK_DATA &&
		   addrmap_kind(in->am, np) == AK_DATA && mem_str(in, np, name, sizeof(name))) {
		dm = demangle_type(name);
	}
	if (!dm)
		return VC_NOT;
	v = ott == 0 ? intern_class(b, dm, w) : VC_SECONDARY;
	free(dm);
	return v;
}

static uint64_t
mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

/* Most words are not pointers into module data at all: decide that by a
 * binary search over the few data ranges before touching the cache, which
 * then holds only module-data values. */
static bool
in_data(const struct builder *b, uint64_t w)
{
	size_t lo = 0, hi = b->ndata;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w < b->data[mid].start)
			hi = mid;
		else if (w >= b->data[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static size_t
gran_home(uint64_t g)
{
	return (size_t)((g * 0x9e3779b97f4a7c15ULL) >> 54) & (GRAN_SLOTS - 1);
}

/* Every heap pointer lies between the lowest and the highest module, so
 * that first test passes for most words of a heap of linked objects: a set
 * of the 2 MiB granules that hold module data (a few dozen, in L1) then
 * turns nearly all of them away with one probe.  When the data spans more
 * granules than the set holds, the set is not used. */
static void
gran_build(struct builder *b)
{
	size_t used = 0;

	memset(b->gran, 0xff, sizeof(b->gran));
	for (size_t i = 0; i < b->ndata; i++) {
		for (uint64_t g = b->data[i].start >> GRAN_SHIFT;
		     g <= (b->data[i].end - 1) >> GRAN_SHIFT; g++) {
			size_t pos = gran_home(g);

			while (b->gran[pos] != GRAN_EMPTY && b->gran[pos] != g)
				pos = (pos + 1) & (GRAN_SLOTS - 1);
			if (b->gran[pos] == g)
				continue;
			if (++used > GRAN_SLOTS / 2) {
				/* "no filter": granule 0 is never data, and no slot
				 * is empty, so skip_words passes every word on */
				memset(b->gran, 0, sizeof(b->gran));
				return;
			}
			b->gran[pos] = g;
		}
	}
}

static inline bool
gran_maybe(const struct builder *b, uint64_t w)
{
	uint64_t g = w >> GRAN_SHIFT;
	size_t pos = gran_home(g);

	if (b->gran[0] == 0)
		return true;
	for (; b->gran[pos] != GRAN_EMPTY; pos = (pos + 1) & (GRAN_SLOTS - 1))
		if (b->gran[pos] == g)
			return true;
	return false;
}

static void
collect_data_ranges(struct builder *b)
{
	const struct addrmap *am = b->in->am;

	b->data = xmalloc((am->n ? am->n : 1) * sizeof(*b->data));
	for (size_t i = 0; i < am->n; i++)
		if (am->v[i].kind == AK_DATA && am->v[i].end > am->v[i].start)
			b->data[b->ndata++] = am->v[i];
	if (b->ndata) {
		b->dlo = b->data[0].start;
		b->dhi = b->data[b->ndata - 1].end;
	}
	gran_build(b);
}

/* The cached verdict for w: a class index, VC_NOT or VC_SECONDARY. */
static void
worker_counts(struct worker *wk, size_t ncls)
{
	size_t old = wk->ncls;

	if (ncls <= old)
		return;
	wk->ncls = ncls * 2;
	wk->inst = xreallocarray(wk->inst, wk->ncls, sizeof(*wk->inst));
	wk->sample = xreallocarray(wk->sample, wk->ncls, sizeof(*wk->sample));
	wk->starts = xreallocarray(wk->starts, wk->ncls, sizeof(*wk->starts));
	memset(wk->inst + old, 0, (wk->ncls - old) * sizeof(*wk->inst));
	memset(wk->starts + old, 0, (wk->ncls - old) * sizeof(*wk->starts));
}

static int32_t lookup_full(struct worker *wk, uint64_t w);

/* A program's objects are of a few classes: the same few vtable pointers
 * come again and again, each a walk of the granules, the data ranges and
 * the verdict cache.  A direct-mapped set of the last words found (a key of
 * 0 is unset: word 0 is no vtable's) answers them at once. */
static inline int32_t
lookup_slow(struct worker *wk, uint64_t w)
{
	struct vslot *r = &wk->recent[(w >> 3) & (RECENT - 1)];
	int32_t v;

	if (r->key == w && w)
		return r->val;
	v = lookup_full(wk, w);
	r->key = w;
	r->val = v;
	return v;
}

static int32_t
lookup_full(struct worker *wk, uint64_t w)
{
	struct builder *b = wk->b;
	size_t i;
	int32_t v;

	if (!gran_maybe(b, w) || !in_data(b, w))
		return VC_NOT;
	if ((wk->n + 1) * 2 > wk->cap) {
		struct vslot *old = wk->slots;
		size_t ocap = wk->cap;

		wk->cap = ocap ? ocap * 2 : 4096;
		wk->slots = xcalloc(wk->cap, sizeof(*wk->slots));
		for (size_t j = 0; j < wk->cap; j++)
			wk->slots[j].val = VC_EMPTY;
		for (size_t j = 0; j < ocap; j++) {
			if (old[j].val == VC_EMPTY)
				continue;
			for (i = mix(old[j].key) & (wk->cap - 1); wk->slots[i].val != VC_EMPTY;
			     i = (i + 1) & (wk->cap - 1))
				;
			wk->slots[i] = old[j];
		}
		free(old);
	}
	for (i = mix(w) & (wk->cap - 1); wk->slots[i].val != VC_EMPTY; i = (i + 1) & (wk->cap - 1))
		if (wk->slots[i].key == w)
			return wk->slots[i].val;
	pthread_mutex_lock(&b->lock);
	v = classify(b, w);
	worker_counts(wk, b->nclasses);
	pthread_mutex_unlock(&b->lock);
	wk->slots[i].key = w;
	wk->slots[i].val = v;
	wk->n++;
	return v;
}

static bool is_dead(const struct builder *b, uint64_t addr);
static size_t live_len(struct worker *wk, size_t i, const unsigned char *p, size_t len,
		       bool vptr_first);

/* The instances in p (len bytes at at): chunk i's user bytes (i SIZE_MAX:
 * anonymous memory, all of it live).  Most chunks hold no vtable pointer, so
 * their live part (live_len) is worked out only at the first one.  Returns
 * it, or len when there was none; first[] gets the verdicts of the first
 * two words (VC_NOT for a word skip_words turns away), for object_at_start,
 * which looked them up again. */
/* The offset of the first word from off on that may be a vtable pointer,
 * or len: nearly every word of the heap is turned away here, in a loop of
 * its own that the compiler keeps in registers.  The first test has one
 * branch: on random bytes separate tests each mispredict.  Heap pointers
 * pass it; most find their granule's home slot empty (a call per word to
 * lookup_slow was a tenth of the pass). */
static __attribute__((noinline)) HOT_LOOPS size_t
skip_words(const unsigned char *p, size_t off, size_t len, uint64_t dlo, uint64_t span,
	   const uint64_t *gran)
{
	/* [lo, lo + span) holds [dlo, dlo + span) and is 8-aligned: a word
	 * w - lo turned right by 3 is below span / 8 only when it is in range
	 * and its low bits (which come to the top) are 0 - both tests in one
	 * compare.  Words the wider range lets through go on to the granules
	 * and lookup_slow as any other. */
	const uint64_t lo = dlo & ~(uint64_t)7,
		       span8 = (dlo - lo + span + 7) / 8;

	for (size_t k = off / 8, n = len / 8; k < n; k++) {
		uint64_t w, x;

		memcpy(&w, p + 8 * k, 8);
		x = w - lo;
		if (((x >> 3) | (x << 61)) < span8 && gran[gran_home(w >> GRAN_SHIFT)] != GRAN_EMPTY)
			return 8 * k;
	}
	return len;
}

static HOT_LOOPS size_t
count_instances(struct worker *wk, const unsigned char *p, size_t len, uint64_t at, size_t i,
		int32_t first[2])
{
	/* the bounds in registers: the counts below could alias them */
	const struct builder *b = wk->b;
	const uint64_t dlo = b->dlo, span = b->dhi - b->dlo;
	const uint64_t *gran = b->gran;
	size_t live = SIZE_MAX;

	first[0] = first[1] = VC_NOT;
	for (size_t off = 0;; off += 8) {
		uint64_t w;
		int32_t v;

		off = skip_words(p, off, len, dlo, span, gran);
		if (off + 8 > len)
			break;
		memcpy(&w, p + off, 8);
		v = lookup_slow(wk, w);
		if (off < 16)
			first[off / 8] = v;
		if (v < 0)
			continue;
		if (live == SIZE_MAX)
			live = i == SIZE_MAX ? len : live_len(wk, i, p, len, off == 0);
		if (off + 8 > live)
			break;
		if (b->ndead && is_dead(b, at + off))
			continue;
		if (!wk->inst[v])
			wk->sample[v] = at + off;
		wk->inst[v]++;
	}
	return live == SIZE_MAX ? len : live;
}

/* A worker's counts into the classes; workers in address order, so each
 * class's sample is its first instance, as with one thread. */
static void
worker_merge(struct worker *wk)
{
	struct builder *b = wk->b;

	if (b->nclasses > b->nstarts) {
		b->starts = xreallocarray(b->starts, b->nclasses, sizeof(*b->starts));
		memset(b->starts + b->nstarts, 0, b->nclasses - b->nstarts);
		b->nstarts = b->nclasses;
	}
	for (size_t v = 0; v < wk->ncls && v < b->nclasses; v++) {
		b->starts[v] |= wk->starts[v];
		if (!wk->inst[v])
			continue;
		if (!b->classes[v].instances)
			b->classes[v].sample = wk->sample[v];
		b->classes[v].instances += wk->inst[v];
	}
	free(wk->inst);
	free(wk->sample);
	free(wk->starts);
	free(wk->slots);
}

/* ---- containers: how much of a chunk is live ------------------------------ */

/* What malloc makes of a request of n bytes (glibc's request2size). */
static uint64_t
request_chunk(uint64_t n)
{
	return n + 8 + 15 < 32 ? 32 : (n + 8 + 15) & ~(uint64_t)15;
}

/* Chunk c was malloc'd for exactly n bytes: an arena chunk of request2size(n),
 * or an mmapped chunk of that rounded up to a page (its usable size is then
 * the chunk less 16, and less than a page of it unused). */
static bool
allocated_for(const struct hs_chunk *c, uint64_t n)
{
	if (c->kind == CK_MMAPPED)
		return n + 16 <= c->size && c->size - (n + 16) < 4096 + 16;
	return c->kind == CK_INUSE && c->size == request_chunk(n);
}

#define CONTAINER_MAX ((uint64_t)1 << 40) /* bytes: no vector or string is larger */
#define SSO_CAPACITY 15 /* libstdc++ strings up to this are in the object, not on the heap */

/* The live chunk whose user bytes start at a, or NULL. */
static const struct hs_chunk *
chunk_at_user(const struct heap_model *h, uint64_t a)
{
	const struct hs_chunk *c = heap_model_find(h, a - 16);

	return c && (c->kind == CK_INUSE || c->kind == CK_MMAPPED) ? c : NULL;
}

static void
add_extent(struct found *f, const struct hs_chunk *c, uint64_t len)
{
	f->ext = xgrow(f->ext, &f->extcap, f->next + 1, sizeof(*f->ext));
	f->ext[f->next++] = (struct extent){ (size_t)(c - f->b->in->heap->chunks), len };
}

/* user_bytes_at's way when a's region is not the last one. */
static __attribute__((noinline)) const unsigned char *
user_bytes_slow(const struct image *img, const struct region **rc, uint64_t a, size_t len)
{
	const struct region *r = image_region(img, a);
	uint64_t off;

	if (!r)
		return NULL;
	*rc = r;
	if (r->nholes)
		return image_ptr(img, a, len);
	off = a - r->start;
	return len <= r->end - r->start - off ? r->data + off : NULL;
}

/* chunk_user_bytes (cluster.h) with the last region remembered in *rc:
 * chunks come in address order, and a binary search over the regions per
 * chunk was a tenth of the type pass.  A region with holes takes
 * image_ptr's way.  Inline: every pass over the chunks calls it per chunk,
 * and nearly every call finds its chunk in the last region. */
static inline const unsigned char *
user_bytes_at(const struct image *img, const struct region **rc, const struct hs_chunk *c,
	      size_t *len)
{
	const struct region *r = *rc;
	uint64_t tail = c->kind == CK_MMAPPED ? 0 : 8, a, off;

	if (c->size < 16 + 8 - tail || c->addr > UINT64_MAX - 16)
		return NULL;
	a = c->addr + 16;
	*len = (size_t)(c->size - 16 + tail);
	if (!r || r->nholes || a - r->start >= r->end - r->start)
		return user_bytes_slow(img, rc, a, *len);
	off = a - r->start;
	return *len <= r->end - r->start - off ? r->data + off : NULL;
}

/* image_u64 with the last region remembered: candidates mostly point into
 * the region of the one before. */
static bool
found_u64(struct found *f, uint64_t addr, uint64_t *v)
{
	const struct region *r = f->rc;

	if (!r || r->nholes || addr - r->start > r->end - r->start - 8 || r->end - r->start < 8) {
		r = image_region(f->b->in->img, addr);
		if (!r)
			return false;
		f->rc = r;
		if (r->nholes)
			return image_u64(f->b->in->img, addr, v);
		if (addr - r->start > r->end - r->start - 8 || r->end - r->start < 8)
			return false;
	}
	memcpy(v, r->data + (addr - r->start), 8);
	return true;
}

/* Where the in-use arena chunks end, and which chunks are mmapped: a
 * container candidate's chunk must end where the header says (ends_add),
 * and that turns away nearly all candidates without reading their size
 * fields.  An array of pointers to chunks in address order (a program's
 * index of its objects) makes a candidate of every word, {p[i], p[i+1],
 * p[i+2]} - each a read of a size field somewhere in the heap, a third of
 * the container search on the bench heap; a bit per 16 bytes is a 128th of
 * the heap's bytes, read in order with those words.
 *
 * A part of the chunks writes the bits of its chunks' ends: its first word
 * and its last may be another part's too, and take an atomic or. */
struct ends_state {
	const struct region *rg;
	uint64_t *bits;          /* rg's */
	const uint64_t *edge[2]; /* the part's first and last words */
	size_t mmcap;
};

/* Where in-use chunk c's end bit is, or NULL. */
static inline uint64_t *
ends_word(const struct builder *b, struct ends_state *st, const struct hs_chunk *c,
	  uint64_t *bit)
{
	const struct image *img = b->in->img;
	uint64_t x;

	if (!st->rg || c->addr - st->rg->start >= st->rg->end - st->rg->start) {
		st->rg = image_region(img, c->addr);
		st->bits = st->rg ? b->ends[st->rg - img->r] : NULL;
	}
	if (!st->bits || c->size > st->rg->end - c->addr)
		return NULL;
	x = (c->addr + c->size - st->rg->start) / 16;
	*bit = (uint64_t)1 << (x % 64);
	return &st->bits[x / 64];
}

/* Chunks [begin, end) are a part's: find its edge words. */
static void
ends_edges(const struct builder *b, struct ends_state *st, size_t begin, size_t end)
{
	const struct hs_chunk *ch = b->in->heap->chunks;
	uint64_t bit;

	for (size_t i = begin; i < end && !st->edge[0]; i++)
		if (ch[i].kind == CK_INUSE)
			st->edge[0] = ends_word(b, st, &ch[i], &bit);
	for (size_t i = end; i > begin && !st->edge[1]; i--)
		if (ch[i - 1].kind == CK_INUSE)
			st->edge[1] = ends_word(b, st, &ch[i - 1], &bit);
}

static inline void
ends_add(const struct builder *b, struct ends_state *st, const struct hs_chunk *c)
{
	uint64_t bit, *w = ends_word(b, st, c, &bit);

	if (!w)
		return;
	if (w == st->edge[0] || w == st->edge[1])
		__atomic_fetch_or(w, bit, __ATOMIC_RELAXED);
	else
		*w |= bit;
}

/* The bits, zero, for every region a chunk starts in. */
static void
ends_alloc(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	const struct image *img = b->in->img;
	size_t *off = xcalloc(img->n ? img->n : 1, sizeof(*off)), total = 0;

	b->ends = xcalloc(img->n ? img->n : 1, sizeof(*b->ends));
	b->mm_in = xcalloc(img->n ? img->n : 1, sizeof(*b->mm_in));
	for (size_t r = 0; r < img->n; r++) {
		/* the first chunk at or past the region's start */
		size_t lo = 0, hi = h->nchunks;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (h->chunks[mid].addr < img->r[r].start)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == h->nchunks || h->chunks[lo].addr >= img->r[r].end)
			continue;
		off[r] = total + 1;
		total += ((img->r[r].end - img->r[r].start) / 16 + 1 + 63) / 64;
	}
	b->ends_mem = bigmem_alloc(total ? total : 1, sizeof(uint64_t));
	for (size_t r = 0; r < img->n; r++)
		if (off[r])
			b->ends[r] = b->ends_mem + off[r] - 1;
	free(off);
}

static void
ends_free(struct builder *b)
{
	bigmem_free(b->ends_mem);
	free(b->ends);
	free(b->mm_in);
	free(b->mm);
	b->ends_mem = NULL;
	b->ends = NULL;
	b->mm_in = NULL;
	b->mm = NULL;
}

/* Chunk a - 16 cannot have been allocated for n bytes: no in-use arena
 * chunk ends where one of request2size(n) at a - 16 would, and no mmapped
 * chunk starts there.  False when unsure (a region without the bits). */
static bool
not_allocated_for(struct found *f, uint64_t a, uint64_t n)
{
	const struct builder *b = f->b;
	const struct image *img = b->in->img;
	const struct region *r = f->hc;
	uint64_t hdr = a - 16, x, *bits;
	size_t lo = 0, hi = b->nmm;

	if (!r || hdr - r->start >= r->end - r->start) {
		r = image_region(img, hdr);
		if (!r)
			return false;
		f->hc = r;
	}
	bits = b->ends[r - img->r];
	if (!bits || request_chunk(n) > r->end - hdr)
		return false;
	x = (hdr + request_chunk(n) - r->start) / 16;
	if (bits[x / 64] >> (x % 64) & 1)
		return false;
	if (!b->mm_in[r - img->r])
		return true;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->mm[mid] < hdr)
			lo = mid + 1;
		else if (b->mm[mid] > hdr)
			hi = mid;
		else
			return false;
	}
	return true;
}

/* The three words at q, if they are a container's header:
 *   std::vector<T>  {begin, end, end_of_storage}: pointers, begin malloc's
 *                   pointer of a chunk allocated for end_of_storage - begin
 *                   bytes: live [begin, end)
 *   std::string     {data, size, capacity} (libstdc++'s, capacity > 15 so
 *                   not in its local buffer): data malloc's pointer of a
 *                   chunk allocated for capacity + 1 bytes, data[0..size)
 *                   without a NUL and data[size] == NUL: live size + 1
 * A header in a dead stack frame or a stale copy may point at a chunk that
 * was freed and handed out again for something else of the same size; its
 * words are rarely all of this form (begin at the chunk's start, end of
 * storage exactly at what the chunk was allocated for). */
/* The bytes the chunk at q[0] must have been allocated for if q is a
 * container's header, and how many of them are live; false: q is none. */
static inline bool
container_size(const uint64_t q[3], uint64_t *n, uint64_t *len, bool *vec)
{
	uint64_t a = q[0];

	if (q[1] >= a && q[2] >= q[1] && q[2] > a && q[2] - a < CONTAINER_MAX) {
		*vec = true;
		*n = q[2] - a;
		*len = q[1] - a;
	} else if (q[1] <= q[2] && q[2] >= SSO_CAPACITY && q[2] < CONTAINER_MAX) {
		*vec = false;
		*n = q[2] + 1;
		*len = q[1] + 1;
	} else {
		return false;
	}
	return true;
}

static void
container_at(struct found *f, const uint64_t q[3])
{
	const struct builder *b = f->b;
	const struct heap_model *h = b->in->heap;
	const struct hs_chunk *c;
	uint64_t a = q[0], n, len, sz;
	bool vec;

	if (!container_size(q, &n, &len, &vec))
		return;
	/* the size field in the header first: most candidates fail there, for
	 * the price of a look at the image rather than a search of the chunks */
	if (!found_u64(f, a - 8, &sz) ||
	    (!(sz & 2) && (sz & ~(uint64_t)7) != request_chunk(n)) || !(c = chunk_at_user(h, a)) ||
	    !allocated_for(c, n))
		return;
	if (!vec) {
		/* text: no NUL before data[size], one there (an object's vtable
		 * pointer has NULs in its top bytes) */
		const unsigned char *s = image_ptr(b->in->img, a, len);

		if (!s || s[len - 1] || memchr(s, 0, len - 1))
			return;
	}
	add_extent(f, c, len);
}

/* A libstdc++ std::string of at most 15 characters keeps them in the object:
 * {data == &local, size, local[16]}.  Only local[0..size] was written for
 * this string; a word of local that starts at or after the NUL holds what
 * the memory held before (a freed object's vtable pointer, often). */
static void
short_string_at(struct found *f, const unsigned char *p, uint64_t at)
{
	uint64_t q[2];

	memcpy(q, p, 16);
	if (q[0] != at + 16 || q[1] > SSO_CAPACITY || p[16 + q[1]] != 0)
		return;
	for (uint64_t k = 0; k < 2; k++) {
		if (8 * k < q[1])
			continue;
		f->dead = xgrow(f->dead, &f->deadcap, f->ndead + 1, sizeof(*f->dead));
		f->dead[f->ndead++] = at + 16 + 8 * k;
	}
}

/* The waiting candidates, in the order found. */
static void
cand_flush(struct found *f)
{
	for (size_t k = 0; k < f->ncand; k++)
		container_at(f, f->cand[k]);
	f->ncand = 0;
}

/* Header q waits with others for its chunk's size field: that word is
 * anywhere in the heap, nearly always a cache miss, and a batch of them
 * fetched together costs little more than one (it was half of this pass). */
static void
cand_add(struct found *f, const uint64_t q[3])
{
	const struct region *r;
	uint64_t a = q[0] - 8, n, len;
	bool vec;

	if (!container_size(q, &n, &len, &vec) || not_allocated_for(f, q[0], n))
		return;
	r = f->rc;
	if (r && a - r->start < r->end - r->start)
		__builtin_prefetch(r->data + (a - r->start));
	memcpy(f->cand[f->ncand++], q, 24);
	if (f->ncand == CAND_BATCH)
		cand_flush(f);
}

/* The word at p + off (of len bytes at at, off + 24 <= len) points into
 * the heap: a short string's data pointer, or the first of a container
 * header's words. */
static inline void
container_word(struct found *f, const unsigned char *p, size_t len, uint64_t at, size_t off)
{
	uint64_t q[3];

	memcpy(q, p + off, 8);
	if (q[0] == at + off + 16 && off + 32 <= len)
		short_string_at(f, p + off, at + off);
	if (q[0] & 15)
		return;
	memcpy(q, p + off, 24);
	if (!(q[1] >= q[0] && q[2] >= q[1] && q[2] > q[0]) &&
	    !(q[1] <= q[2] && q[2] >= SSO_CAPACITY))
		return; /* neither a vector's nor a string's (container_at) */
	cand_add(f, q);
}

/* p: len bytes of the target at address at. */
static HOT_LOOPS void
containers_in(struct found *f, const unsigned char *p, size_t len, uint64_t at, uint64_t hlo,
	      uint64_t hspan)
{
	for (size_t off = 0; off + 24 <= len; off += 8) {
		uint64_t w;

		memcpy(&w, p + off, 8);
		if (w - hlo < hspan)
			container_word(f, p, len, at, off);
	}
}

static int
u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The word at addr is in a short string's buffer, past its NUL. */
static bool
is_dead(const struct builder *b, uint64_t addr)
{
	size_t lo = 0, hi = b->ndead;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->dead[mid] < addr)
			lo = mid + 1;
		else if (b->dead[mid] > addr)
			hi = mid;
		else
			return true;
	}
	return false;
}

static int
extent_cmp(const void *x, const void *y)
{
	const struct extent *a = x, *b = y;

	if (a->chunk != b->chunk)
		return a->chunk < b->chunk ? -1 : 1;
	return a->len > b->len ? -1 : a->len < b->len; /* the longest first */
}

/* Where region rg's live words start: a thread's stack is live from its
 * stack pointer (less the red zone) up. */
static uint64_t
live_from(const struct builder *b, const struct region *rg)
{
	uint64_t from = rg->end;

	for (size_t t = 0; t < b->in->nstack_low; t++) {
		uint64_t sp = b->in->stack_low[t] & ~(uint64_t)7;

		if (sp >= rg->start && sp < rg->end && sp < from)
			from = sp;
	}
	return from == rg->end ? rg->start : from;
}

#define CUT_BLOCKS 64 /* per part: the grain of work_cuts */

struct table_job {
	struct builder *b;
	size_t nblocks;
	uint64_t *sum;  /* per block: the container search's work */
	uint64_t *wsum; /* per block: the word pass's */
	uint64_t **mm; /* per part: its mmapped chunks' headers */
	size_t *nmm;
};

/* Bytes: a chunk this big is searched by every part (big_part).  With
 * HEAPSCAN_TEST_SPLIT (par_min_for_tests), 128: the tests' heaps have few
 * chunks of a MiB, and their objects holding containers are small. */
#define BIG_CHUNK ((uint64_t)1 << 20)
#define BIG_CHUNK_TESTS ((uint64_t)128)

/* A block's work: its live chunks' bytes, and as many again for each chunk
 * (a chunk's own cost, whatever its size, is that of about 32 bytes); and
 * the ends of its in-use chunks (ends_add).  Two sums: a big chunk
 * (BIG_CHUNK) is no part's own work in the container search (big_part
 * shares it out), and in the word pass, which its owner reads alone, it
 * weighs half its bytes (an array of heap pointers: each word turned away
 * at the granules).  Weighed in full in both, the part without the bench
 * heap's four 20 MB arrays ran 8 and 10 ms longer; without them, the word
 * pass's other part ran 8 ms longer. */
static void
table_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct table_job *j = arg;
	const struct heap_model *h = j->b->in->heap;
	const struct hs_chunk *ch = h->chunks;
	const uint64_t big = par_min_for_tests ? BIG_CHUNK_TESTS : BIG_CHUNK;
	struct ends_state st = { 0 };

	ends_edges(j->b, &st, par_cut(h->nchunks, (unsigned)j->nblocks, (unsigned)begin),
		   par_cut(h->nchunks, (unsigned)j->nblocks, (unsigned)end));
	for (size_t k = begin; k < end; k++) {
		size_t lo = par_cut(h->nchunks, (unsigned)j->nblocks, (unsigned)k),
		       hi = par_cut(h->nchunks, (unsigned)j->nblocks, (unsigned)k + 1);
		uint64_t s = 0, ws = 0;

		for (size_t i = lo; i < hi; i++) {
			const struct hs_chunk *c = &ch[i];

			s += 32;
			ws += 32;
			if (c->kind == CK_INUSE) {
				s += c->size;
				ws += c->size;
				ends_add(j->b, &st, c);
			} else if (c->kind == CK_MMAPPED) {
				s += c->size < big ? c->size : 0;
				ws += c->size < big ? c->size : c->size / 2;
				j->mm[part] = xgrow(j->mm[part], &st.mmcap, j->nmm[part] + 1,
						    sizeof(**j->mm));
				j->mm[part][j->nmm[part]++] = c->addr;
			}
		}
		j->sum[k] = s;
		j->wsum[k] = ws;
	}
}

/* One pass over the chunk table, in parallel, for the container search's
 * filter (ends_add) and for where to cut the chunks for the passes that
 * read every live one, in parts of about equal work: cut by count, the
 * part with the big mmapped chunks (arrays of pointers, every triple of
 * which is a container candidate) ran alone for a third of the container
 * search.  The cuts change no result (each part's findings merge in part
 * order), so they are at block boundaries: one loop over 10M chunks to
 * sum their sizes was 15 ms alone. */
/* Where to cut n chunks in parts of about equal work, at block
 * boundaries, from each block's work. */
static size_t *
cuts_by_work(const uint64_t *sum, size_t nblocks, unsigned parts, size_t n)
{
	size_t *cut = xmalloc((parts + 1) * sizeof(*cut)), k = 0;
	uint64_t total = 0, acc = 0;

	cut[0] = 0;
	cut[parts] = n;
	for (size_t q = 0; q < nblocks; q++)
		total += sum[q];
	for (unsigned p = 1; p < parts; p++) {
		uint64_t want = (uint64_t)((unsigned __int128)total * p / parts);

		for (; k < nblocks && acc + sum[k] / 2 < want; k++)
			acc += sum[k];
		cut[p] = par_cut(n, (unsigned)nblocks, (unsigned)k);
	}
	return cut;
}

static void
work_cuts(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	const struct image *img = b->in->img;
	unsigned parts = par_parts(h->nchunks);
	struct table_job j = { .b = b, .nblocks = (size_t)parts * CUT_BLOCKS,
			       .mm = xcalloc(parts, sizeof(*j.mm)),
			       .nmm = xcalloc(parts, sizeof(*j.nmm)) };

	ends_alloc(b);
	j.sum = xmalloc(j.nblocks * sizeof(*j.sum));
	j.wsum = xmalloc(j.nblocks * sizeof(*j.wsum));
	par_run(j.nblocks, parts, table_part, &j);
	for (unsigned p = 0; p < parts; p++) {
		b->mm = xreallocarray(b->mm, b->nmm + j.nmm[p] + 1, sizeof(*b->mm));
		if (j.nmm[p])
			memcpy(b->mm + b->nmm, j.mm[p], j.nmm[p] * sizeof(*b->mm));
		b->nmm += j.nmm[p];
		free(j.mm[p]);
	}
	for (size_t m = 0; m < b->nmm; m++) {
		const struct region *rg = image_region(img, b->mm[m]);

		if (rg)
			b->mm_in[rg - img->r] = true;
	}
	b->parts = parts;
	b->cut = cuts_by_work(j.sum, j.nblocks, parts, h->nchunks);
	b->wcut = cuts_by_work(j.wsum, j.nblocks, parts, h->nchunks);
	free(j.sum);
	free(j.wsum);
	free(j.mm);
	free(j.nmm);
}


/* A big chunk's user bytes, and where its words start in all big chunks'. */
struct big {
	const unsigned char *p;
	size_t len;
	uint64_t at;
	size_t word0;
};

struct found_job {
	struct found *f; /* one per part */
	uint64_t hlo, hspan;
	size_t *outside; /* the regions that hold no chunk, for the last part */
	uint64_t *outside_from; /* where each one's live words start */
	size_t noutside;
	struct big *big; /* in address order */
	size_t nbig;
};

/* Chunks [begin, end).  A run of in-use chunks side by side in one region
 * (no holes) is scanned as one range, as the word pass does (word_chunks):
 * a loop and its mispredicted end per chunk were a third of the search.
 * A word in the heap's range is mapped to its chunk and looked at as
 * containers_in does; one on a size field between two chunks, or in a
 * chunk's last two words, starts no header. */
static HOT_LOOPS void
containers_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct found_job *j = arg;
	struct found *f = &j->f[half];
	const struct heap_model *h = f->b->in->heap;
	const struct hs_chunk *ch = h->chunks;
	const uint64_t hlo = j->hlo, hspan = j->hspan;
	const uint64_t big = par_min_for_tests ? BIG_CHUNK_TESTS : BIG_CHUNK;
	const struct region *rc = NULL;

	if (half + 1 == f->b->parts) /* the regions that hold no chunk: the last part's */
		for (size_t r = 0; r < j->noutside; r++) {
			const struct region *rg = &f->b->in->img->r[j->outside[r]];
			uint64_t from = j->outside_from[r];

			containers_in(f, rg->data + (from - rg->start), rg->end - from, from, hlo,
				      hspan);
		}
	for (size_t i = begin; i < end;) {
		const struct hs_chunk *c = &ch[i];
		const unsigned char *p;
		uint64_t ua, ue, uj, ej;
		size_t len, m = i + 1, k = i;

		if (c->kind != CK_INUSE && c->kind != CK_MMAPPED) {
			i++;
			continue;
		}
		if (c->size >= big) { /* for big_part */
			f->big = xgrow(f->big, &f->bigcap, f->nbig + 1, sizeof(*f->big));
			f->big[f->nbig++] = i++;
			continue;
		}
		if (!(p = user_bytes_at(f->b->in->img, &rc, c, &len))) {
			i++;
			continue;
		}
		ua = c->addr + 16;
		ue = ua + len;
		if (c->kind == CK_INUSE && !rc->nholes && rc->data + (ua - rc->start) == p)
			while (m < end && ch[m].kind == CK_INUSE && ch[m].addr + 8 == ue &&
			       ch[m].size >= 16 && ch[m].size < big &&
			       ch[m].size <= rc->end - ue) {
				ue = ch[m].addr + ch[m].size + 8;
				m++;
			}
		uj = ua;
		ej = ua + len;
		for (size_t w8 = 0, n = (size_t)(ue - ua) / 8; w8 < n; w8++) {
			uint64_t w, x;

			memcpy(&w, p + 8 * w8, 8);
			if (w - hlo >= hspan)
				continue;
			x = ua + 8 * w8;
			while (x >= ej) { /* the chunk of the word at x */
				k++;
				uj = ch[k].addr + 16;
				ej = ch[k].addr + ch[k].size + 8;
			}
			if (x >= uj && x - uj + 24 <= ej - uj)
				container_word(f, p + (uj - ua), (size_t)(ej - uj), uj, (size_t)(x - uj));
		}
		i = m;
	}
	cand_flush(f);
}
/* Words [begin, end) of the big chunks' (found_job.big), looked at as
 * containers_in does: a big chunk is most often an array of pointers, each
 * word of which is a candidate, and one part holding them all ran alone
 * for a third of the search. */
static HOT_LOOPS void
big_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct found_job *j = arg;
	struct found *f = &j->f[part];
	const uint64_t hlo = j->hlo, hspan = j->hspan;

	for (size_t k = 0; k < j->nbig; k++) {
		const struct big g = j->big[k];
		/* the words that can start a header: off + 24 <= len */
		size_t n = g.len >= 24 ? (g.len - 24) / 8 + 1 : 0;
		size_t lo = begin > g.word0 ? begin - g.word0 : 0,
		       hi = end - g.word0 < n ? end - g.word0 : n;

		if (end <= g.word0)
			break;
		for (size_t w8 = lo; w8 < hi; w8++) {
			uint64_t w;

			memcpy(&w, g.p + 8 * w8, 8);
			if (w - hlo < hspan)
				container_word(f, g.p, g.len, g.at, 8 * w8);
		}
	}
	cand_flush(f);
}

/* The big chunks the parts left, searched by all parts, their words cut
 * evenly. */
static void
big_chunks(const struct builder *b, struct found_job *j)
{
	const struct region *rc = NULL;
	size_t words = 0;

	for (unsigned p = 0; p < b->parts; p++) {
		struct found *f = &j->f[p];

		for (size_t k = 0; k < f->nbig; k++) {
			const struct hs_chunk *c = &b->in->heap->chunks[f->big[k]];
			struct big g = { .at = c->addr + 16, .word0 = words };

			if (!(g.p = user_bytes_at(b->in->img, &rc, c, &g.len)))
				continue;
			j->big = xreallocarray(j->big, j->nbig + 1, sizeof(*j->big));
			j->big[j->nbig++] = g;
			words += g.len / 8;
		}
		free(f->big);
	}
	if (words)
		par_run(words, b->parts, big_part, j);
}

/* Find the containers' headers wherever they are: in live chunks (a
 * vector member of an object; two threads) and in memory malloc does not
 * own (globals, live stack frames, thread-local storage); not in free
 * chunks, whose bytes are stale.  A chunk several headers point at keeps
 * the longest extent: a stale copy of a header can then only let stale
 * bytes count, never make a live object disappear. */
static void
find_containers(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	const struct image *img = b->in->img;
	unsigned parts = b->parts;
	const struct heap_model *hw = h->whole ? h->whole : h;
	struct found_job j = { .f = xcalloc(b->parts, sizeof(*j.f)) };
	size_t i = 0, k = 0;

	for (unsigned p = 0; p < parts; p++)
		j.f[p].b = b;
	if (!h->nchunks) {
		free(j.f);
		ends_free(b);
		return;
	}
	j.hlo = h->chunks[0].addr + 16;
	j.hspan = h->chunks[h->nchunks - 1].addr + h->chunks[h->nchunks - 1].size - j.hlo;
	for (size_t r = 0; r < img->n; r++) { /* the regions that hold no chunk */
		const struct region *rg = &img->r[r];
		uint64_t from;

		/* of the whole heap: a view's (the leaked chunks) leaves out most
		 * of the heap's mappings, which are no globals or stacks (their
		 * free chunks' stale bytes would be read as headers, and a
		 * bounded scan would read every one of them again) */
		/* a binary search: stepping through the chunks up to each region
		 * was 6 ms of one thread on the 10M-chunk heap */
		i = heap_model_first_at(hw, i, rg->start);
		if (i < hw->nchunks && hw->chunks[i].addr < rg->end)
			continue;
		from = live_from(b, rg);
		j.outside = xreallocarray(j.outside, j.noutside + 1, sizeof(*j.outside));
		j.outside_from = xreallocarray(j.outside_from, j.noutside + 1,
					       sizeof(*j.outside_from));
		j.outside[j.noutside] = r;
		j.outside_from[j.noutside++] = from;
	}
	/* those regions are searched by the last part (the results are sorted
	 * below: which part finds a header changes nothing); searched here,
	 * before the parts, they kept the other thread waiting (3 ms on the
	 * bench heap) */
	par_run_cuts(b->cut, parts, containers_half, &j);
	free(j.outside);
	free(j.outside_from);
	big_chunks(b, &j);
	for (unsigned p = 0; p < parts; p++) {
		struct found *f = &j.f[p];

		b->ext = xgrow(b->ext, &b->extcap, b->next + f->next + 1, sizeof(*b->ext));
		if (f->next)
			memcpy(b->ext + b->next, f->ext, f->next * sizeof(*f->ext));
		b->next += f->next;
		b->dead = xgrow(b->dead, &b->deadcap, b->ndead + f->ndead + 1, sizeof(*b->dead));
		if (f->ndead)
			memcpy(b->dead + b->ndead, f->dead, f->ndead * sizeof(*f->dead));
		b->ndead += f->ndead;
		free(f->ext);
		free(f->dead);
	}
	free(j.f);
	free(j.big);
	ends_free(b);
	if (b->ndead)
		qsort(b->dead, b->ndead, sizeof(*b->dead), u64_cmp);
	if (b->next)
		qsort(b->ext, b->next, sizeof(*b->ext), extent_cmp);
	for (size_t e = 0; e < b->next; e++)
		if (!k || b->ext[k - 1].chunk != b->ext[e].chunk)
			b->ext[k++] = b->ext[e];
	b->next = k;
}

/* How many of chunk i's len user bytes (at p) can hold objects: all, but
 * what a container says is unused, nothing after a C string's NUL, and,
 * when no container says, not an arena chunk's last 8 bytes: the next
 * chunk's prev_size word, which malloc lends a request 8 bytes longer than
 * one that fits without it - a request of sizeof(T) % 16 == 0 leaves it
 * unwritten, and an object starting there would be a vtable pointer alone. */
static size_t
live_len(struct worker *wk, size_t i, const unsigned char *p, size_t len, bool vptr_first)
{
	const struct builder *b = wk->b;

	while (wk->ext < b->next && b->ext[wk->ext].chunk < i)
		wk->ext++;
	if (wk->ext < b->next && b->ext[wk->ext].chunk == i) {
		if (b->ext[wk->ext].len < len)
			len = (size_t)b->ext[wk->ext].len;
	} else if (b->in->heap->chunks[i].kind == CK_INUSE && len >= 16) {
		len -= 8;
	}
	/* a first word that points into a mapping (a vtable or heap pointer
	 * whose low bytes happen to be printable) is no C string: for a
	 * vtable pointer (vptr_first, a third of the chunks) whose top two
	 * bytes are 0 that is known without looking: a string in it would end
	 * within the word */
	if (vptr_first && len >= 8) {
		uint64_t w0;

		memcpy(&w0, p, 8);
		if (!(w0 >> 48))
			return len;
	}
	if (cluster_string_len(b->in->am, p, len))
		return 0;
	return len;
}

/* ---- chunk types ----------------------------------------------------------- */

/* The chunk's user bytes, the worker's last region remembered. */
static const unsigned char *
chunk_bytes(struct worker *wk, const struct hs_chunk *c, size_t *len)
{
	return user_bytes_at(wk->b->in->img, &wk->rc, c, len);
}

static uint32_t
add_type(struct builder *b, enum type_kind kind, char *name, uint64_t size)
{
	struct type_table *t = b->out;

	t->types = xgrow(t->types, &b->tcap, t->ntypes + 1, sizeof(*t->types));
	t->types[t->ntypes] = (struct type_entry){ .kind = kind, .name = name, .size = size };
	return (uint32_t)t->ntypes++;
}

static void
tally(struct type_entry *t, const struct hs_chunk *c, unsigned pad)
{
	if (!t->count)
		t->sample = c->addr;
	t->count++;
	t->bytes += c->size - pad; /* chunk_shown_size */
}

/* Class of the object at the chunk's start, or of a new[] array's elements
 * (the first word is the element count, the next a vptr), from the first
 * words' verdicts (count_instances).  -1: neither. */
static int32_t
object_at_start(const int32_t first[2], const unsigned char *p, size_t len, bool *array)
{
	uint64_t w0;

	*array = false;
	if (len < 8)
		return -1;
	if (first[0] >= 0 || len < 16)
		return first[0] >= 0 ? first[0] : -1;
	memcpy(&w0, p, 8);
	if (w0 == 0 || w0 > (len - 8) / 8)
		return -1;
	*array = first[1] >= 0;
	return first[1] >= 0 ? first[1] : -1;
}

/* The words of object chunk i (p, len bytes) that may point at a chunk,
 * for name_holders: in a heap whose objects hold few pointers it need not
 * read every object again (they are a third of the chunks, most of them a
 * miss by then).  Past a part's share of HELD_MAX it reads them all, as
 * before. */
static void
held_words(struct worker *wk, const unsigned char *p, size_t len, size_t i)
{
	for (size_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;

		memcpy(&w, p + off, 8);
		if ((w & 15) || w - wk->hlo >= wk->hspan)
			continue;
		if (wk->nheld == wk->heldmax) {
			wk->held_full = true;
			free(wk->held);
			wk->held = NULL;
			wk->nheld = 0;
			return;
		}
		wk->held = xgrow(wk->held, &wk->heldcap, wk->nheld + 1, sizeof(*wk->held));
		wk->held[wk->nheld++] = (struct held){ w, i };
	}
}

/* Chunk i's words (p, len bytes): count its instances, and note in of_chunk
 * the class of the object or array at its start (class << 1 | array), for
 * type_chunks to turn into types. */
/* An in-use chunk, untyped so far: the clustering's candidate, marked
 * for it (cluster.h), and summed in its block, unless --vtables (no
 * clustering) or past what the clustering numbers. */
static inline void
mark_candidate(struct worker *wk, uint32_t *of_chunk, size_t i)
{
	if (!wk->bwork || i >= CLUSTER_CHUNK_MAX) {
		of_chunk[i] = UINT32_MAX;
		return;
	}
	of_chunk[i] = CLUSTER_CANDIDATE;
	wk->bwork[i / CLUSTER_BLOCK] += cluster_work(wk->b->in->heap->chunks[i].size);
	wk->bcand[i / CLUSTER_BLOCK]++;
}

static void
word_chunk(struct worker *wk, uint32_t *of_chunk, size_t i, const unsigned char *p, size_t ulen)
{
	size_t len;
	bool array;
	int32_t v, first[2];

	/* no vtable pointer, no object at the start: len need not be live */
	len = count_instances(wk, p, ulen, wk->b->in->heap->chunks[i].addr + 16, i, first);
	v = object_at_start(first, p, len, &array);
	if (v < 0)
		return;
	if (of_chunk[i] == CLUSTER_CANDIDATE) { /* typed after all: not the clustering's */
		wk->bwork[i / CLUSTER_BLOCK] -= cluster_work(wk->b->in->heap->chunks[i].size);
		wk->bcand[i / CLUSTER_BLOCK]--;
	}
	of_chunk[i] = (uint32_t)v << 1 | array;
	wk->starts[v] |= array ? AT_ARRAY : AT_OBJECT;
	if (!wk->held_full)
		held_words(wk, p, ulen, i);
}

/* Chunks [wk->begin, wk->end): their types' entries (UINT32_MAX for none)
 * and instances.  A chunk none of whose words skip_words lets through has
 * neither (count_instances finds nothing, object_at_start nothing): so the
 * words of a run of in-use chunks side by side in one region go through
 * skip_words as one range, and only a chunk with a word it stops at goes
 * through word_chunk (two thirds of the bench heap's chunks do not; a
 * call per chunk, and the end of its loop, mispredicted, was a third of
 * the pass).  The range holds the size fields between the chunks too: a
 * word skip_words stops at there belongs to no chunk and is passed over. */
static HOT_LOOPS void
word_chunks(struct worker *wk, uint32_t *of_chunk)
{
	const struct builder *b = wk->b;
	const struct hs_chunk *ch = b->in->heap->chunks;
	const uint64_t dlo = b->dlo, span = b->dhi - b->dlo;

	for (size_t i = wk->begin; i < wk->end;) {
		const struct hs_chunk *c = &ch[i];
		const struct region *r;
		const unsigned char *p;
		uint64_t ua, end;
		size_t ulen, m = i + 1, j = i, off = 0;

		of_chunk[i] = UINT32_MAX;
		if (c->kind != CK_INUSE && c->kind != CK_MMAPPED) {
			i++;
			continue;
		}
		mark_candidate(wk, of_chunk, i);
		if (!(p = chunk_bytes(wk, c, &ulen))) {
			i++;
			continue;
		}
		/* the run: chunks i to m - 1, each in use and right after the one
		 * before, its user bytes (and the next chunk's prev_size) in r */
		ua = c->addr + 16;
		end = ua + ulen;
		r = wk->rc;
		if (c->kind == CK_INUSE && r && !r->nholes && r->data + (ua - r->start) == p) {
			while (m < wk->end && ch[m].kind == CK_INUSE && ch[m].addr + 8 == end &&
			       ch[m].size >= 16 && ch[m].size <= r->end - end) {
				mark_candidate(wk, of_chunk, m);
				end = ch[m].addr + ch[m].size + 8;
				m++;
			}
		}
		for (;;) {
			uint64_t x, uj, ej;

			off = skip_words(p, off, (size_t)(end - ua), dlo, span, b->gran);
			if (off + 8 > end - ua)
				break;
			/* the chunk of the word at x: the first whose user bytes
			 * end past it */
			x = ua + off;
			for (;;) {
				uj = ch[j].addr + 16;
				ej = j == i ? ua + ulen : ch[j].addr + ch[j].size + 8;
				if (x < ej)
					break;
				j++;
			}
			if (x < uj) { /* chunk j's size field */
				off = (size_t)(uj - ua);
				continue;
			}
			word_chunk(wk, of_chunk, j, p + (uj - ua), (size_t)(ej - uj));
			if (++j == m)
				break;
			off = (size_t)(ch[j].addr + 16 - ua);
		}
		i = m;
	}
}
struct word_job {
	struct worker *wk; /* one per part */
	uint32_t *of_chunk;
};

static void
word_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct word_job *j = arg;

	(void)begin;
	(void)end; /* the worker's own, set by word_pass */
	word_chunks(&j->wk[part], j->of_chunk);
}

/* Every live chunk's words, the heap cut in parts of about equal bytes, one
 * thread a part: this pass reads the whole heap and was a third of the
 * analysis.  The workers merge in address order, as one would count. */
static void
word_pass(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	unsigned parts = b->parts;
	struct word_job job = { xcalloc(parts, sizeof(*job.wk)), b->out->of_chunk };

	for (unsigned p = 0; p < parts; p++) {
		struct worker *wk = &job.wk[p];

		*wk = (struct worker){ .b = b, .begin = b->wcut[p], .end = b->wcut[p + 1],
				       .heldmax = HELD_MAX / parts,
				       /* --vtables names no holders */
				       .held_full = b->in->classes_only };
		if (!b->in->classes_only) {
			wk->bwork = xcalloc(h->nchunks / CLUSTER_BLOCK + 1, sizeof(*wk->bwork));
			wk->bcand = xcalloc(h->nchunks / CLUSTER_BLOCK + 1, sizeof(*wk->bcand));
		}
		if (h->nchunks) {
			wk->hlo = h->chunks[0].addr + 16;
			wk->hspan = h->chunks[h->nchunks - 1].addr + h->chunks[h->nchunks - 1].size -
				    wk->hlo;
		}
		while (wk->ext < b->next && b->ext[wk->ext].chunk < b->wcut[p])
			wk->ext++;
	}
	par_run_cuts(b->wcut, parts, word_part, &job);
	if (!b->in->classes_only) {
		b->marks.nblocks = h->nchunks / CLUSTER_BLOCK + 1;
		b->mwork = xcalloc(b->marks.nblocks, sizeof(*b->mwork));
		b->mcand = xcalloc(b->marks.nblocks, sizeof(*b->mcand));
		for (unsigned p = 0; p < parts; p++) /* a block cut by two parts has two sums */
			for (size_t k = 0; k < b->marks.nblocks; k++) {
				b->mwork[k] += job.wk[p].bwork[k];
				b->mcand[k] += job.wk[p].bcand[k];
			}
		b->marks.work = b->mwork;
		b->marks.ncand = b->mcand;
	}
	for (unsigned p = 0; p < parts; p++) {
		struct worker *wk = &job.wk[p];

		free(wk->bwork);
		free(wk->bcand);
		worker_merge(wk);
		b->held_full |= wk->held_full;
		if (!b->held_full && wk->nheld) {
			b->held = xreallocarray(b->held, b->nheld + wk->nheld, sizeof(*b->held));
			memcpy(b->held + b->nheld, wk->held, wk->nheld * sizeof(*b->held));
			b->nheld += wk->nheld;
		}
		free(wk->held);
	}
	free(job.wk);
}

struct size_type {
	uint64_t size;
	uint32_t type;
};

static uint32_t
size_type(struct builder *b, struct size_type **st, size_t *n, size_t *cap, uint64_t size)
{
	for (size_t i = 0; i < *n; i++)
		if ((*st)[i].size == size)
			return (*st)[i].type;
	*st = xgrow(*st, cap, *n + 1, sizeof(**st));
	(*st)[*n] = (struct size_type){ size, add_type(b, TK_SIZE, xasprintf("0x%lx bytes",
								      (unsigned long)size), size) };
	return (*st)[(*n)++].type;
}

/* A type for each class, and each class's arrays, that chunks start with:
 * type[class << 1 | array].  word_chunks left those codes in the entries
 * of chunks that start with an object or an array; the clustering leaves
 * typed entries as they are, and tally_types turns them into type ids in
 * its pass (a pass of its own over 10M entries was 13 ms).  Their order
 * here does not show: class names are unique, so sort_types orders these
 * types the same whatever their ids. */
static uint32_t *
class_types(struct builder *b)
{
	uint32_t *type = xmalloc((b->nstarts ? b->nstarts : 1) * 2 * sizeof(*type));

	for (size_t v = 0; v < b->nstarts; v++) {
		const char *name = b->classes[v].name;

		type[2 * v] = type[2 * v + 1] = UINT32_MAX;
		if (b->starts[v] & AT_OBJECT)
			type[2 * v] = add_type(b, TK_CLASS, xstrdup(name), 0);
		if (b->starts[v] & AT_ARRAY)
			type[2 * v + 1] = add_type(b, TK_ARRAY, xasprintf("%s[]", name), 0);
	}
	return type;
}

/* The last pass: clusters' entries to their types, every chunk counted in
 * its type.  Chunks of no type yet are left to the end (size_type makes
 * types): each half lists them, in order, and they are typed here after
 * both halves, so their types come in the order of one loop's. */
struct tally_job {
	struct builder *b;
	const uint32_t *clu_type;
	const struct cluster_set *cs; /* what the clustering left in of_chunk */
	const uint32_t *class_type; /* by class << 1 | array (class_types) */
	struct type_entry **sums; /* per part; part 0 counts in the types */
	size_t **later, *nlater, *cap;
};

static HOT_LOOPS void
tally_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct tally_job *j = arg;
	const struct hs_chunk *ch = j->b->in->heap->chunks;
	uint32_t *of_chunk = j->b->out->of_chunk;
	struct type_entry *sums = j->sums[half];
	/* in registers: the counts written below could alias them */
	const uint32_t *clu_type = j->clu_type, *class_type = j->class_type;
	const struct cluster_set *cs = j->cs;
	const unsigned pad = j->b->in->heap->pad;

	for (size_t i = begin; i < end; i++) {
		const struct hs_chunk *c = &ch[i];
		uint32_t t = of_chunk[i];

		if (c->kind != CK_INUSE && c->kind != CK_MMAPPED)
			continue;
		if (t == UINT32_MAX) {
			j->later[half] = xgrow(j->later[half], &j->cap[half], j->nlater[half] + 1,
					       sizeof(*j->later[half]));
			j->later[half][j->nlater[half]++] = i;
			continue;
		}
		if (t > CLUSTER_TYPED_MAX) { /* the clustering's entry: its cluster's type */
			t = cluster_of_entry(cs, t);
			if (t == CLUSTER_NONE) {
				j->later[half] = xgrow(j->later[half], &j->cap[half],
						       j->nlater[half] + 1, sizeof(*j->later[half]));
				j->later[half][j->nlater[half]++] = i;
				continue;
			}
			t = clu_type[t];
		} else {
			t = class_type[t];
		}
		of_chunk[i] = t;
		tally(&sums[t], c, pad);
	}
}

static void
tally_types(struct builder *b, const struct cluster_set *cs, const uint32_t *clu_type,
	    const uint32_t *class_type)
{
	struct type_table *t = b->out;
	const struct hs_chunk *ch = b->in->heap->chunks;
	unsigned parts = par_parts(b->in->heap->nchunks);
	struct tally_job j = { .b = b, .clu_type = clu_type, .cs = cs, .class_type = class_type,
			       .sums = xcalloc(parts, sizeof(*j.sums)),
			       .later = xcalloc(parts, sizeof(*j.later)),
			       .nlater = xcalloc(parts, sizeof(*j.nlater)),
			       .cap = xcalloc(parts, sizeof(*j.cap)) };
	struct size_type *st = NULL;
	size_t nst = 0, stcap = 0;

	j.sums[0] = t->types;
	for (unsigned p = 1; p < parts; p++)
		j.sums[p] = xcalloc(t->ntypes ? t->ntypes : 1, sizeof(*j.sums[p]));
	par_run(b->in->heap->nchunks, parts, tally_half, &j);
	for (unsigned p = 1; p < parts; p++) {
		for (size_t k = 0; k < t->ntypes; k++) {
			const struct type_entry *up = &j.sums[p][k];

			if (!up->count)
				continue;
			if (!t->types[k].count)
				t->types[k].sample = up->sample;
			t->types[k].count += up->count;
			t->types[k].bytes += up->bytes;
		}
		free(j.sums[p]);
	}
	for (unsigned p = 0; p < parts; p++) {
		for (size_t k = 0; k < j.nlater[p]; k++) {
			size_t i = j.later[p][k];

			t->of_chunk[i] = size_type(b, &st, &nst, &stcap,
						   chunk_shown_size(b->in->heap, &ch[i]));
			tally(&t->types[t->of_chunk[i]], &ch[i], b->in->heap->pad);
		}
		free(j.later[p]);
	}
	free(j.sums);
	free(j.later);
	free(j.nlater);
	free(j.cap);
	free(st);
}

static void name_holders(struct builder *b);

static void
type_chunks(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	struct type_table *t = b->out;
	uint32_t *clu_type, *class_type;
	struct cluster_set cs;
	/* huge pages, populated at once: 4 KiB faults cost more than filling
	 * it.  A chunk is typed (class or array) when its entry is set. */
	t->of_chunk = bigmem_alloc(h->nchunks, sizeof(uint32_t));
	t->of_chunk_big = true;
	progress_phase("typing", 4); /* four passes; the clustering is the longest */
	work_cuts(b);
	find_containers(b);
	word_pass(b);
	if (b->in->classes_only) { /* the instances are counted: all --vtables needs */
		bigmem_free(t->of_chunk);
		t->of_chunk = NULL;
		return;
	}
	progress_set(1);
	class_type = class_types(b);
	progress_set(2);

	/* the clustering works in of_chunk: a second array of 4 bytes a
	 * chunk was a tenth of the peak memory beyond the copy */
	cluster_build(&(struct cluster_input){ .img = b->in->img, .am = b->in->am, .heap = h,
					       .of_chunk = t->of_chunk, .marks = &b->marks }, &cs);
	free(b->mwork);
	free(b->mcand);
	progress_set(3);
	clu_type = xmalloc((cs.n ? cs.n : 1) * sizeof(*clu_type));
	for (size_t k = 0; k < cs.n; k++)
		clu_type[k] = add_type(b, cs.v[k].kind == CL_CONTENT ? TK_CONTENT : TK_SHAPE,
				       xstrdup(cs.v[k].desc),
				       cs.v[k].size ? cs.v[k].size - h->pad : 0);
	tally_types(b, &cs, clu_type, class_type);
	cluster_set_free(&cs);
	free(clu_type);
	free(class_type);
	name_holders(b);
}

/* ---- who holds a shape's chunks ------------------------------------------- */

/* A shape says what a chunk's words are, not what the chunk is for; the
 * one thing that holds it often does: a global (`held by g_cache: ...`) or
 * an object of a class whose member points at it (`held by Session: ...`).
 * Asked of each shape type's sample chunk (its lowest): a pointer to the
 * pointer malloc returned for it, in a module's writable data (named by the
 * module's symbols; preferred) or in a chunk of class or array type. */

#define HOLDER_BLOOM 4096 /* bits */

struct holder_set {
	uint64_t *key;   /* a sample's malloc pointer, 0 empty */
	uint32_t *type;  /* its type */
	char **name;     /* the holder found, or NULL */
	size_t mask;
	uint64_t lo, hi; /* the keys' range */
	uint64_t bloom[HOLDER_BLOOM / 64]; /* bit holder_bit(key) of every key */
};

/* A set bit per key in a few cache lines: most words in the keys' range
 * (any heap pointer, a vtable pointer) are turned away without a probe. */
static inline size_t
holder_bit(uint64_t w)
{
	return (size_t)(w >> 4) & (HOLDER_BLOOM - 1);
}

static inline bool
holder_maybe(const struct holder_set *hs, uint64_t w)
{
	return hs->bloom[holder_bit(w) / 64] >> (holder_bit(w) % 64) & 1;
}

static size_t
holder_slot(const struct holder_set *hs, uint64_t key)
{
	size_t i = (size_t)(mix(key) & hs->mask);

	while (hs->key[i] && hs->key[i] != key)
		i = (i + 1) & hs->mask;
	return i;
}

/* The symbol of module mod that holds addr: "g_cache", "table+0x18". */
static char *
global_name(struct builder *b, unsigned mod, uint64_t addr)
{
	struct modelf *me;
	char sym[MAX_NAME];
	uint64_t off;
	char *dm, *out;

	if (!(me = module_elf(b, mod)) ||
	    !elfmod_symbol_near(me->elf, addr - me->bias, sym, sizeof(sym), &off))
		return NULL;
	dm = sym[0] == '_' && sym[1] == 'Z' ? cplus_demangle_v3(sym, DMGL_PARAMS | DMGL_ANSI) : NULL;
	out = off ? xasprintf("%s+0x%lx", dm ? dm : sym, (unsigned long)off)
		  : xstrdup(dm ? dm : sym);
	free(dm);
	return out;
}

/* The words of p (len bytes at at, in module mod's data) that point at a
 * sample: the first global that does names its holder. */
static void
global_holders_in(struct builder *b, struct holder_set *hs, const unsigned char *p, size_t len,
		  uint64_t at, unsigned mod)
{
	for (size_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;
		size_t i;

		memcpy(&w, p + off, 8);
		if ((w & 15) || w - hs->lo > hs->hi - hs->lo)
			continue;
		i = holder_slot(hs, w);
		if (hs->key[i] && !hs->name[i])
			hs->name[i] = global_name(b, mod, at + off);
	}
}

/* Class holders, a half of the chunks per thread: cls[half][slot] is the
 * first class or array type whose chunk points at the slot's sample. */
struct class_holders {
	const struct builder *b;
	const struct holder_set *hs;
	const char ***cls; /* per part */
};

#define HOLDER_AHEAD 64 /* chunks: a third of them objects, each ~10 ns of work */

static void
class_holders_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct class_holders *j = arg;
	const struct holder_set *hs = j->hs;
	const struct heap_model *h = j->b->in->heap;
	const struct type_table *t = j->b->out;
	const char **cls = j->cls[half];
	const struct region *rc = NULL;

	for (size_t c = begin; c < end; c++) {
		const struct type_entry *te;
		const unsigned char *p;
		size_t len;

		/* objects are a chunk here and there: a miss each, unless
		 * fetched ahead */
		if (c + HOLDER_AHEAD < end && rc && t->of_chunk[c + HOLDER_AHEAD] != UINT32_MAX &&
		    (t->types[t->of_chunk[c + HOLDER_AHEAD]].kind == TK_CLASS ||
		     t->types[t->of_chunk[c + HOLDER_AHEAD]].kind == TK_ARRAY)) {
			uint64_t a = h->chunks[c + HOLDER_AHEAD].addr + 16;

			if (a - rc->start < rc->end - rc->start)
				__builtin_prefetch(rc->data + (a - rc->start));
			if (a + 64 - rc->start < rc->end - rc->start)
				__builtin_prefetch(rc->data + (a + 64 - rc->start));
		}
		if (t->of_chunk[c] == UINT32_MAX)
			continue;
		te = &t->types[t->of_chunk[c]];
		if ((te->kind != TK_CLASS && te->kind != TK_ARRAY) ||
		    !(p = user_bytes_at(j->b->in->img, &rc, &h->chunks[c], &len)))
			continue;
		for (size_t off = 0; off + 8 <= len; off += 8) {
			uint64_t w;
			size_t i;

			memcpy(&w, p + off, 8);
			if ((w & 15) || w - hs->lo > hs->hi - hs->lo || !holder_maybe(hs, w))
				continue;
			i = holder_slot(hs, w);
			if (hs->key[i] && !cls[i])
				cls[i] = te->name;
		}
	}
}

static void
name_holders(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	const struct image *img = b->in->img;
	struct type_table *t = b->out;
	struct holder_set hs = { .lo = UINT64_MAX };
	struct class_holders cj = { .b = b, .hs = &hs };
	size_t nshape = 0, cap = 16;
	unsigned parts;

	for (size_t k = 0; k < t->ntypes; k++)
		nshape += t->types[k].kind == TK_SHAPE && t->types[k].count;
	if (!nshape)
		return;
	while (cap < nshape * 2)
		cap *= 2;
	hs.mask = cap - 1;
	hs.key = xcalloc(cap, sizeof(*hs.key));
	hs.type = xcalloc(cap, sizeof(*hs.type));
	hs.name = xcalloc(cap, sizeof(*hs.name));
	hs.hi = 0;
	for (size_t k = 0; k < t->ntypes; k++) {
		uint64_t key = CHUNK_USER(t->types[k].sample);
		size_t i;

		if (t->types[k].kind != TK_SHAPE || !t->types[k].count)
			continue;
		i = holder_slot(&hs, key);
		hs.key[i] = key;
		hs.type[i] = (uint32_t)k;
		hs.bloom[holder_bit(key) / 64] |= (uint64_t)1 << (holder_bit(key) % 64);
		hs.lo = key < hs.lo ? key : hs.lo;
		hs.hi = key > hs.hi ? key : hs.hi;
	}
	/* globals: modules' writable mappings, and the anonymous mapping right
	 * after one, where its .bss runs on */
	for (size_t r = 0; r < img->n; r++) {
		const struct region *rg = &img->r[r];
		const struct addr_range *ar = addrmap_find(b->in->am, rg->start);

		if ((!ar || ar->kind != AK_DATA) && r > 0 && img->r[r - 1].end == rg->start &&
		    !rg->name[0] && img->r[r - 1].name[0] == '/')
			ar = addrmap_find(b->in->am, img->r[r - 1].start);
		if (ar && ar->kind == AK_DATA)
			global_holders_in(b, &hs, rg->data, rg->end - rg->start, rg->start,
					  ar->module);
	}
	/* objects: chunks whose type is a class or an array of one; their
	 * held words, when the word pass kept them all */
	parts = b->held_full ? par_parts(h->nchunks) : 1;
	cj.cls = xcalloc(parts, sizeof(*cj.cls));
	for (unsigned p = 0; p < parts; p++)
		cj.cls[p] = xcalloc(cap, sizeof(*cj.cls[p]));
	if (b->held_full) {
		par_run(h->nchunks, parts, class_holders_half, &cj);
	} else {
		for (size_t k = 0; k < b->nheld; k++) {
			uint64_t w = b->held[k].word;
			size_t i;

			if (w - hs.lo > hs.hi - hs.lo || !holder_maybe(&hs, w))
				continue;
			i = holder_slot(&hs, w);
			if (hs.key[i] && !cj.cls[0][i])
				cj.cls[0][i] = t->types[t->of_chunk[b->held[k].chunk]].name;
		}
	}
	for (unsigned p = 0; p < parts; p++) { /* the lowest holder, as one loop finds */
		for (size_t i = 0; i <= hs.mask; i++)
			if (hs.key[i] && !hs.name[i] && cj.cls[p][i])
				hs.name[i] = xstrdup(cj.cls[p][i]);
		free(cj.cls[p]);
	}
	free(cj.cls);
	for (size_t i = 0; i <= hs.mask; i++) {
		struct type_entry *te;
		char *name;

		if (!hs.key[i] || !hs.name[i])
			continue;
		te = &t->types[hs.type[i]];
		name = xasprintf("held by %s: %s", hs.name[i], te->name);
		free(te->name);
		te->name = name;
		free(hs.name[i]);
	}
	free(hs.key);
	free(hs.type);
	free(hs.name);
}

/* Not glibc: no chunk boundaries, no free lists; every anonymous word counts. */
static void
scan_anonymous(struct builder *b)
{
	const struct image *img = b->in->img;
	struct worker wk = { .b = b };
	int32_t first[2];

	for (size_t i = 0; i < img->n; i++) {
		const struct region *r = &img->r[i];

		/* the main stack holds no heap objects; thread stacks cannot be told
		 * apart from other anonymous memory here */
		if (addrmap_kind(b->in->am, r->start) != AK_ANON || r->nholes ||
		    !strncmp(r->name, "[stack", 6))
			continue;
		count_instances(&wk, r->data, r->end - r->start, r->start, SIZE_MAX, first);
	}
	worker_merge(&wk);
}

/* ---- ordering ------------------------------------------------------------- */

static int
type_by_bytes(const void *a, const void *b)
{
	const struct type_entry *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
class_by_count(const void *a, const void *b)
{
	const struct class_entry *x = a, *y = b;

	if (x->instances != y->instances)
		return x->instances > y->instances ? -1 : 1;
	return strcmp(x->name, y->name);
}

static const struct type_entry *sort_base;

static int
perm_by_bytes(const void *a, const void *b)
{
	return type_by_bytes(&sort_base[*(const uint32_t *)a], &sort_base[*(const uint32_t *)b]);
}

struct renumber_job {
	uint32_t *of_chunk;
	const uint32_t *newidx;
};

static void
renumber_part(void *arg, size_t begin, size_t end, unsigned part)
{
	const struct renumber_job *j = arg;

	(void)part;
	for (size_t i = begin; i < end; i++)
		if (j->of_chunk[i] != UINT32_MAX)
			j->of_chunk[i] = j->newidx[j->of_chunk[i]];
}

/* Sort types by bytes, keeping of_chunk pointing at the right entries
 * (renumbered in parallel: 10M chunks took 8 ms on one thread). */
static void
sort_types(struct type_table *t, size_t nchunks)
{
	size_t n = t->ntypes ? t->ntypes : 1;
	uint32_t *perm = xmalloc(n * sizeof(*perm)), *newidx = xmalloc(n * sizeof(*newidx));
	struct type_entry *sorted = xmalloc(n * sizeof(*sorted));

	for (size_t i = 0; i < t->ntypes; i++)
		perm[i] = (uint32_t)i;
	sort_base = t->types;
	if (t->ntypes)
		qsort(perm, t->ntypes, sizeof(*perm), perm_by_bytes);
	for (size_t i = 0; i < t->ntypes; i++) {
		sorted[i] = t->types[perm[i]];
		newidx[perm[i]] = (uint32_t)i;
	}
	free(t->types);
	t->types = sorted;
	par_for(nchunks, renumber_part, &(struct renumber_job){ t->of_chunk, newidx });
	free(perm);
	free(newidx);
}

void
types_build(const struct types_input *in, struct type_table *out)
{
	struct builder b = { .in = in, .out = out };


	memset(out, 0, sizeof(*out));
	pthread_mutex_init(&b.lock, NULL);
	b.mods = xcalloc(in->am->nmodules ? in->am->nmodules : 1, sizeof(*b.mods));
	collect_data_ranges(&b);
	if (in->heap) {
		type_chunks(&b);
		if (out->of_chunk)
			sort_types(out, in->heap->nchunks);
	} else {
		scan_anonymous(&b);
	}
	if (b.nclasses)
		qsort(b.classes, b.nclasses, sizeof(*b.classes), class_by_count);
	/* classes whose every vtable pointer was in dead bytes: none to show */
	while (b.nclasses && !b.classes[b.nclasses - 1].instances)
		free(b.classes[--b.nclasses].name);
	out->classes = b.classes;
	out->nclasses = b.nclasses;
	for (size_t i = 0; i < in->am->nmodules; i++)
		if (b.mods[i].elf)
			elfmod_close(b.mods[i].elf);
	free(b.mods);
	free(b.data);
	free(b.starts);
	free(b.ext);
	free(b.dead);
	free(b.cut);
	free(b.wcut);
	free(b.held);
	pthread_mutex_destroy(&b.lock);
}

void
type_table_free(struct type_table *t)
{
	for (size_t i = 0; i < t->ntypes; i++)
		free(t->types[i].name);
	for (size_t i = 0; i < t->nclasses; i++)
		free(t->classes[i].name);
	free(t->types);
	free(t->classes);
	if (t->py)
		py_summary_free(t->py);
	free(t->py);
	if (t->of_chunk_big)
		bigmem_free(t->of_chunk);
	else
		free(t->of_chunk);
	memset(t, 0, sizeof(*t));
}
