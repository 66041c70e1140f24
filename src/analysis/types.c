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
#include "types.h"
#include "xmalloc.h"

#define VC_EMPTY INT32_MIN
#define VC_NOT (-1)        /* not a vtable address point */
#define VC_SECONDARY (-2)  /* a vptr, but not a complete object's primary one */
#define MAX_NAME 512
#define GRAN_SHIFT 21      /* 2 MiB */
#define GRAN_SLOTS 1024    /* a power of 2; more than the granules of any process's data */
#define GRAN_EMPTY UINT64_MAX
#define AT_OBJECT 1 /* a chunk starts with an object of the class */
#define AT_ARRAY 2  /* a chunk holds a new[] array of them */

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
};

/* One thread's share of the word pass: its own verdict cache and counts,
 * so that two threads share nothing but classify(), behind b->lock (it runs
 * once per distinct word value that points into module data). */
struct worker {
	struct builder *b;
	struct vslot *slots;
	size_t cap, n;
	const struct region *rc; /* last region a chunk's bytes came from */
	uint64_t *inst, *sample; /* per class: instances seen, the first one */
	uint8_t *starts;         /* per class: AT_OBJECT, AT_ARRAY when chunks start so */
	size_t ncls;             /* entries in inst, sample and starts */
	size_t begin, end;       /* chunks */
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
	if (!in->pid || !in->maps)
		return NULL;
	for (size_t i = 0; i < in->maps->n; i++) {
		const struct map_entry *e = &in->maps->v[i];

		if (e->offset || strcmp(e->path, in->am->modules[idx]))
			continue;
		char *path = target_file_path(in->pid, e);

		me->elf = elfmod_open(path, err, sizeof(err));
		free(path);
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
				 * is empty, so lookup() passes every word on */
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

static int32_t
lookup_slow(struct worker *wk, uint64_t w)
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

/* The first test inline, with one branch: every word of the heap comes
 * through here, and on random bytes separate tests each mispredict.  dlo
 * and span are the builder's bounds, passed in so a loop keeps them in
 * registers. */
static inline int32_t
lookup_in(struct worker *wk, const struct builder *b, uint64_t dlo, uint64_t span, uint64_t w)
{
	if ((w - dlo >= span) | (w & 7))
		return VC_NOT;
	/* heap pointers pass the first test; most find their granule's home
	 * slot empty, and a call per word was a tenth of the pass */
	if (b->gran[gran_home(w >> GRAN_SHIFT)] == GRAN_EMPTY)
		return VC_NOT;
	return lookup_slow(wk, w);
}

static inline int32_t
lookup(struct worker *wk, uint64_t w)
{
	const struct builder *b = wk->b;

	return lookup_in(wk, b, b->dlo, b->dhi - b->dlo, w);
}

static void
count_instances(struct worker *wk, const unsigned char *p, size_t len, uint64_t at)
{
	/* the bounds in registers: the counts below could alias them */
	const struct builder *b = wk->b;
	const uint64_t dlo = b->dlo, span = b->dhi - b->dlo;

	for (size_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;
		int32_t v;

		memcpy(&w, p + off, 8);
		v = lookup_in(wk, b, dlo, span, w);
		if (v >= 0) {
			if (!wk->inst[v])
				wk->sample[v] = at + off;
			wk->inst[v]++;
		}
	}
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

/* ---- chunk types ----------------------------------------------------------- */

/* chunk_user_bytes (cluster.h) with the last region remembered: chunks come
 * in address order, and a binary search over the regions per chunk was a
 * tenth of the type pass.  A region with holes takes image_ptr's way. */
static const unsigned char *
chunk_bytes(struct worker *wk, const struct hs_chunk *c, size_t *len)
{
	const struct image *img = wk->b->in->img;
	const struct region *r = wk->rc;
	uint64_t tail = c->kind == CK_MMAPPED ? 0 : 8, a, off;

	if (c->size < 16 + 8 - tail || c->addr > UINT64_MAX - 16)
		return NULL;
	a = c->addr + 16;
	*len = (size_t)(c->size - 16 + tail);
	if (!r || r->nholes || a - r->start >= r->end - r->start) {
		r = image_region(img, a);
		if (!r)
			return NULL;
		wk->rc = r;
		if (r->nholes)
			return image_ptr(img, a, *len);
	}
	off = a - r->start;
	return *len <= r->end - r->start - off ? r->data + off : NULL;
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
tally(struct type_entry *t, const struct hs_chunk *c)
{
	if (!t->count)
		t->sample = c->addr;
	t->count++;
	t->bytes += c->size;
}

/* Class of the object at the chunk's start, or of a new[] array's elements
 * (the first word is the element count, the next a vptr).  -1: neither. */
static int32_t
object_at_start(struct worker *wk, const unsigned char *p, size_t len, bool *array)
{
	uint64_t w0, w1;
	int32_t v;

	*array = false;
	if (len < 8)
		return -1;
	memcpy(&w0, p, 8);
	v = lookup(wk, w0);
	if (v >= 0 || len < 16)
		return v >= 0 ? v : -1;
	memcpy(&w1, p + 8, 8);
	if (w0 == 0 || w0 > (len - 8) / 8)
		return -1;
	v = lookup(wk, w1);
	*array = v >= 0;
	return v >= 0 ? v : -1;
}

/* Chunks [wk->begin, wk->end): count the instances in their words, and
 * note in of_chunk the class of the object or array at each one's start
 * (class << 1 | array; UINT32_MAX for none), for type_chunks to turn into
 * types. */
static void
word_chunks(struct worker *wk, uint32_t *of_chunk)
{
	const struct hs_chunk *ch = wk->b->in->heap->chunks;

	for (size_t i = wk->begin; i < wk->end; i++) {
		const struct hs_chunk *c = &ch[i];
		const unsigned char *p;
		size_t len;
		bool array;
		int32_t v;

		of_chunk[i] = UINT32_MAX;
		if (c->kind != CK_INUSE && c->kind != CK_MMAPPED)
			continue;
		p = chunk_bytes(wk, c, &len);
		if (!p)
			continue;
		count_instances(wk, p, len, c->addr + 16);
		v = object_at_start(wk, p, len, &array);
		if (v < 0)
			continue;
		of_chunk[i] = (uint32_t)v << 1 | array;
		wk->starts[v] |= array ? AT_ARRAY : AT_OBJECT;
	}
}

struct word_job {
	struct worker *wk;
	uint32_t *of_chunk;
};

static void *
word_thread(void *arg)
{
	struct word_job *j = arg;

	word_chunks(j->wk, j->of_chunk);
	return NULL;
}

#define WORD_SPLIT_MIN 4096 /* chunks: fewer are done by one thread */

/* Every live chunk's words, the heap cut in two halves of about equal bytes
 * for two threads (the machine this was tuned on has two cores): this pass
 * reads the whole heap and was a third of the analysis. */
static void
word_pass(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	struct worker wk[2] = { { .b = b, .end = h->nchunks }, { .b = b, .end = h->nchunks } };
	struct word_job job = { &wk[1], b->out->of_chunk };
	uint64_t total = 0, acc = 0;
	size_t split = h->nchunks;
	pthread_t th;
	bool threaded = false;

	if (h->nchunks >= WORD_SPLIT_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		for (size_t i = 0; i < h->nchunks; i++)
			total += h->chunks[i].size;
		for (split = 0; split < h->nchunks && acc < total / 2; split++)
			acc += h->chunks[split].size;
	}
	wk[0].end = split;
	wk[1].begin = split;
	if (split < h->nchunks)
		threaded = pthread_create(&th, NULL, word_thread, &job) == 0;
	word_chunks(&wk[0], b->out->of_chunk);
	if (threaded)
		pthread_join(th, NULL);
	else
		word_chunks(&wk[1], b->out->of_chunk);
	worker_merge(&wk[0]);
	worker_merge(&wk[1]);
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

/* word_chunks left class << 1 | array in the entries of chunks that start
 * with an object or an array; now they become type ids. */
struct class_map {
	uint32_t *of_chunk;
	const uint32_t *type; /* by class << 1 | array */
};

static void
class_map_half(void *arg, size_t begin, size_t end, unsigned half)
{
	const struct class_map *cm = arg;

	(void)half;
	for (size_t i = begin; i < end; i++)
		if (cm->of_chunk[i] != UINT32_MAX)
			cm->of_chunk[i] = cm->type[cm->of_chunk[i]];
}

/* A type for each class, and each class's arrays, that chunks start with.
 * Their order here does not show: class names are unique, so sort_types
 * orders these types the same whatever their ids. */
static void
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
	par_halves(b->in->heap->nchunks, class_map_half,
		   &(struct class_map){ .of_chunk = b->out->of_chunk, .type = type });
	free(type);
}

/* The last pass: clusters' entries to their types, every chunk counted in
 * its type.  Chunks of no type yet are left to the end (size_type makes
 * types): each half lists them, in order, and they are typed here after
 * both halves, so their types come in the order of one loop's. */
struct tally_job {
	struct builder *b;
	const uint32_t *clu_type;
	struct type_entry *sums[2]; /* the lower half counts in the types */
	size_t *later[2], nlater[2], cap[2];
};

static void
tally_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct tally_job *j = arg;
	const struct hs_chunk *ch = j->b->in->heap->chunks;
	uint32_t *of_chunk = j->b->out->of_chunk;
	struct type_entry *sums = j->sums[half];

	for (size_t i = begin; i < end; i++) {
		const struct hs_chunk *c = &ch[i];

		if (c->kind != CK_INUSE && c->kind != CK_MMAPPED)
			continue;
		if (of_chunk[i] == UINT32_MAX) {
			j->later[half] = xgrow(j->later[half], &j->cap[half], j->nlater[half] + 1,
					       sizeof(*j->later[half]));
			j->later[half][j->nlater[half]++] = i;
			continue;
		}
		if (of_chunk[i] > CLUSTER_TYPED_MAX)
			of_chunk[i] = j->clu_type[of_chunk[i] & ~CLUSTER_IN];
		tally(&sums[of_chunk[i]], c);
	}
}

static void
tally_types(struct builder *b, const uint32_t *clu_type)
{
	struct type_table *t = b->out;
	const struct hs_chunk *ch = b->in->heap->chunks;
	struct tally_job j = { .b = b, .clu_type = clu_type };
	struct size_type *st = NULL;
	size_t nst = 0, stcap = 0;

	j.sums[0] = t->types;
	j.sums[1] = xcalloc(t->ntypes ? t->ntypes : 1, sizeof(*j.sums[1]));
	par_halves(b->in->heap->nchunks, tally_half, &j);
	for (size_t k = 0; k < t->ntypes; k++) {
		const struct type_entry *up = &j.sums[1][k];

		if (!up->count)
			continue;
		if (!t->types[k].count)
			t->types[k].sample = up->sample;
		t->types[k].count += up->count;
		t->types[k].bytes += up->bytes;
	}
	for (unsigned h = 0; h < 2; h++) {
		for (size_t k = 0; k < j.nlater[h]; k++) {
			size_t i = j.later[h][k];

			t->of_chunk[i] = size_type(b, &st, &nst, &stcap, ch[i].size);
			tally(&t->types[t->of_chunk[i]], &ch[i]);
		}
		free(j.later[h]);
	}
	free(j.sums[1]);
	free(st);
}

static void
type_chunks(struct builder *b)
{
	const struct heap_model *h = b->in->heap;
	struct type_table *t = b->out;
	uint32_t *clu_type;
	struct cluster_set cs;
	/* huge pages, populated at once: 4 KiB faults cost more than filling
	 * it.  A chunk is typed (class or array) when its entry is set. */
	t->of_chunk = bigmem_alloc(h->nchunks, sizeof(uint32_t));
	t->of_chunk_big = true;
	progress_phase("typing", 4); /* four passes; the clustering is the longest */
	word_pass(b);
	progress_set(1);
	class_types(b);
	progress_set(2);

	/* the clustering works in of_chunk: a second array of 4 bytes a
	 * chunk was a tenth of the peak memory beyond the copy */
	cluster_build(&(struct cluster_input){ .img = b->in->img, .am = b->in->am, .heap = h,
					       .of_chunk = t->of_chunk }, &cs);
	progress_set(3);
	clu_type = xmalloc((cs.n ? cs.n : 1) * sizeof(*clu_type));
	for (size_t k = 0; k < cs.n; k++)
		clu_type[k] = add_type(b, cs.v[k].kind == CL_CONTENT ? TK_CONTENT : TK_SHAPE,
				       xstrdup(cs.v[k].desc), cs.v[k].size);
	tally_types(b, clu_type);
	cluster_set_free(&cs);
	free(clu_type);
}

/* Not glibc: no chunk boundaries, no free lists; every anonymous word counts. */
static void
scan_anonymous(struct builder *b)
{
	const struct image *img = b->in->img;
	struct worker wk = { .b = b };

	for (size_t i = 0; i < img->n; i++) {
		const struct region *r = &img->r[i];

		/* the main stack holds no heap objects; thread stacks cannot be told
		 * apart from other anonymous memory here */
		if (addrmap_kind(b->in->am, r->start) != AK_ANON || r->nholes ||
		    !strncmp(r->name, "[stack", 6))
			continue;
		count_instances(&wk, r->data, r->end - r->start, r->start);
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

/* Sort types by bytes, keeping of_chunk pointing at the right entries. */
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
	for (size_t i = 0; i < nchunks; i++)
		if (t->of_chunk[i] != UINT32_MAX)
			t->of_chunk[i] = newidx[t->of_chunk[i]];
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
		sort_types(out, in->heap->nchunks);
	} else {
		scan_anonymous(&b);
	}
	if (b.nclasses)
		qsort(b.classes, b.nclasses, sizeof(*b.classes), class_by_count);
	out->classes = b.classes;
	out->nclasses = b.nclasses;
	for (size_t i = 0; i < in->am->nmodules; i++)
		if (b.mods[i].elf)
			elfmod_close(b.mods[i].elf);
	free(b.mods);
	free(b.data);
	free(b.starts);
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
	if (t->of_chunk_big)
		bigmem_free(t->of_chunk);
	else
		free(t->of_chunk);
	memset(t, 0, sizeof(*t));
}
