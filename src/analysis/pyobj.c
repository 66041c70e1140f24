/*
 * pyobj.c - every live Python object by its type (layouts in pyobj.h).
 *
 * The candidates are pymalloc's live blocks (pymalloc.c) and glibc's in-use
 * chunks (objects over 512 bytes, type objects themselves).  A word is taken
 * for a type pointer only after the object it points at is checked to be a
 * type (its own ob_type is `type`, or a metatype whose ob_type is `type`);
 * the verdict is then cached per pointer value, so the reads of a type's
 * name and module happen once per type.  Words that fail the first check
 * (most GC-list pointers) are not cached: the check is two reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "par.h"
#include "pyobj.h"
#include "scan.h"
#include "types.h"
#include "xmalloc.h"

#define TPF_HEAPTYPE (1ULL << 9)
#define TPF_READY (1ULL << 12)
#define TPF_HAVE_GC (1ULL << 14)
#define TPF_MANAGED_DICT (1ULL << 4)
#define TPF_MANAGED_WEAKREF (1ULL << 3)
#define TPF_INLINE_VALUES (1ULL << 2)
#define TPF_TYPE_SUBCLASS (1ULL << 31)

#define OFF_TYPE 8
#define OFF_TP_NAME 24
#define OFF_BASICSIZE 32
#define OFF_FLAGS 168
#define OFF_TP_DICT 264
#define OFF_DICTOFFSET 288
#define OFF_DICT_KEYS 32
#define OFF_DICT_VALUES 40
#define MAX_NAME 256
#define MAX_DICT_LOG2 16   /* a type's dict is small; larger is not read */
#define MAX_META_DEPTH 4

struct layout {
	int minor;
	uint32_t ht_qualname; /* offset in PyHeapTypeObject */
	uint32_t str_data;    /* sizeof(PyASCIIObject) */
	bool dict311;         /* the 3.11 dict keys layout */
	uint64_t preheader_flags; /* flags that add 16 bytes before the GC head */
};

static const struct layout layouts[] = {
	{ 8, 864, 48, false, 0 },
	{ 9, 856, 48, false, 0 },
	{ 10, 864, 48, false, 0 },
	{ 11, 864, 48, true, TPF_MANAGED_DICT },
	{ 12, 872, 40, true, TPF_MANAGED_DICT | TPF_MANAGED_WEAKREF },
	{ 13, 872, 40, true, TPF_MANAGED_DICT | TPF_MANAGED_WEAKREF },
};

struct tslot {
	uint64_t key;      /* 0: empty */
	int32_t cls;       /* index into classes, -1: not a type */
	uint32_t pre;      /* preheader bytes of its instances */
	uint64_t basicsize, itemsize;
	bool is_long;      /* int and its subclasses: ob_size is not a count in 3.12+ */
	bool is_list, is_dict;
	bool gc;           /* Py_TPFLAGS_HAVE_GC: a GC head ends the preheader */
	bool sized;        /* an instance's bytes end at basicsize + itemsize * ob_size
			      (not int, no managed dict or inline values) */
	bool values;       /* 3.11, 3.12: instances may keep attribute values apart */
	int64_t dict_at;   /* where an instance keeps its __dict__ pointer, from the
			      object; 0: none (see owned_dicts) */
};

/* Blocks that belong to an object: an instance's own __dict__ (OWN_DICT,
 * moved from "dict" to the instance's class), its attribute values array
 * (OWN_BYTES: bytes to the class), a list's item array or a dict's keys or
 * values (OWN_ROW: a row of their own, "[list items]" ...). */
enum own_kind { OWN_DICT, OWN_BYTES, OWN_ROW };

struct owned {
	uint64_t dict;     /* the dict object's or the block's address */
	int32_t owner;     /* the class (or row) it counts in */
	int32_t kind;      /* enum own_kind */
	uint32_t span;     /* 1 + the bytes of it in use (a list's items: 8 each); 0: all */
};

struct scanner {
	const struct py_input *in;
	const struct layout *lay;
	uint64_t type_type;
	struct tslot *slots;
	size_t cap, n;
	struct py_class *cls;
	size_t ncls, ccap;
	const struct region *rc; /* last region read */
	uint64_t dict_type;      /* the static type named "dict" */
	struct owned *own;       /* instances' __dict__s, to count with them */
	size_t nown, owncap;
	int32_t row_items, row_keys, row_values; /* "[list items]" ... once interned */
	struct py_nodes *nodes;  /* per block and chunk: its class (pyobj_scan_nodes), or NULL */
};

/* ---- reading the target ---------------------------------------------------- */

static bool
rd(const struct scanner *s, uint64_t addr, uint64_t *v)
{
	return image_u64(s->in->img, addr, v) || (s->in->ro && image_u64(s->in->ro, addr, v));
}

static bool
rd8(const struct scanner *s, uint64_t addr, uint8_t *v)
{
	const uint8_t *p = image_ptr(s->in->img, addr, 1);

	if (!p && s->in->ro)
		p = image_ptr(s->in->ro, addr, 1);
	if (!p)
		return false;
	*v = *p;
	return true;
}

/* A NUL-terminated printable name at addr. */
static bool
rd_cstr(const struct scanner *s, uint64_t addr, char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c;

		if (!rd8(s, addr + i, &c))
			return false;
		buf[i] = (char)c;
		if (!c)
			return i > 0;
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return false;
}

/* A compact ASCII str object's text (the only kind names and modules of
 * classes written in Python are, bar non-ASCII identifiers). */
static bool
rd_ascii(const struct scanner *s, uint64_t obj, char *buf, size_t len)
{
	uint64_t type, name, n, state;
	char tn[8];

	if (!obj || (obj & 7) || !rd(s, obj + OFF_TYPE, &type) || !rd(s, type + OFF_TP_NAME, &name) ||
	    !rd_cstr(s, name, tn, sizeof(tn)) || strcmp(tn, "str") || !rd(s, obj + 16, &n) ||
	    !rd(s, obj + 32, &state))
		return false;
	if (!(state >> 5 & 1) || !(state >> 6 & 1) || n >= len) /* compact, ascii */
		return false;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t c;

		if (!rd8(s, obj + s->lay->str_data + i, &c) || c < 0x20 || c >= 0x7f)
			return false;
		buf[i] = (char)c;
	}
	buf[n] = '\0';
	return true;
}

/* d[key] for a dict whose keys are str, or 0. */
static uint64_t
dict_get(const struct scanner *s, uint64_t dict, const char *key)
{
	uint64_t keys, values = 0, n, entries, esize, koff, voff, size;
	char buf[64];

	if (!dict || !rd(s, dict + OFF_DICT_KEYS, &keys) || !rd(s, dict + OFF_DICT_VALUES, &values))
		return 0;
	if (s->lay->dict311) {
		uint8_t log2size, log2idx, kind;

		if (!rd8(s, keys + 8, &log2size) || !rd8(s, keys + 9, &log2idx) ||
		    !rd8(s, keys + 10, &kind) || !rd(s, keys + 24, &n) || log2size > MAX_DICT_LOG2 ||
		    log2idx > MAX_DICT_LOG2 + 3 || kind > 2)
			return 0;
		size = 1ULL << log2size;
		entries = keys + 32 + (1ULL << log2idx);
		esize = kind == 0 ? 24 : 16;
		koff = kind == 0 ? 8 : 0;
	} else {
		uint64_t ix;

		if (!rd(s, keys + 8, &size) || !rd(s, keys + 32, &n) || !size ||
		    size > 1ULL << MAX_DICT_LOG2)
			return 0;
		ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
		entries = keys + 40 + size * ix;
		esize = 24;
		koff = 8;
	}
	voff = koff + 8;
	if (n > size)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k, v;

		if (!rd(s, entries + i * esize + koff, &k) || !k || !rd_ascii(s, k, buf, sizeof(buf)) ||
		    strcmp(buf, key))
			continue;
		if (values)
			return rd(s, values + 8 * i, &v) ? v : 0;
		return rd(s, entries + i * esize + voff, &v) ? v : 0;
	}
	return 0;
}

/* ---- types ------------------------------------------------------------------ */

static int32_t
intern_class(struct scanner *s, const char *name)
{
	for (size_t i = 0; i < s->ncls; i++) /* types are few: hundreds to thousands */
		if (!strcmp(s->cls[i].name, name))
			return (int32_t)i;
	s->cls = xgrow(s->cls, &s->ccap, s->ncls + 1, sizeof(*s->cls));
	s->cls[s->ncls] = (struct py_class){ .name = xstrdup(name) };
	return (int32_t)s->ncls++;
}

/* Whether t's type is `type` or, a few levels deep, a metatype of it. */
static bool
is_type(const struct scanner *s, uint64_t t)
{
	uint64_t m, flags;

	for (int d = 0; d < MAX_META_DEPTH; d++) {
		if (!t || (t & 7) || !rd(s, t + OFF_TYPE, &m))
			return false;
		if (m == s->type_type)
			return true;
		if (!rd(s, m + OFF_FLAGS, &flags) || !(flags & TPF_TYPE_SUBCLASS))
			return false;
		t = m;
	}
	return false;
}

/* The class name of type t: tp_name for a static type, module.qualname for
 * a heap type.  false when t's name cannot be read. */
static bool
type_name(const struct scanner *s, uint64_t t, uint64_t flags, char *buf, size_t len)
{
	char tp[MAX_NAME], qual[MAX_NAME], mod[MAX_NAME];
	uint64_t p, q, dict;

	if (!rd(s, t + OFF_TP_NAME, &p) || !rd_cstr(s, p, tp, sizeof(tp)))
		return false;
	if (!(flags & TPF_HEAPTYPE)) {
		snprintf(buf, len, "%s", tp);
		return true;
	}
	if (!rd(s, t + s->lay->ht_qualname, &q) || !rd_ascii(s, q, qual, sizeof(qual)))
		snprintf(qual, sizeof(qual), "%s", tp);
	if (rd(s, t + OFF_TP_DICT, &dict) && rd_ascii(s, dict_get(s, dict, "__module__"), mod,
						       sizeof(mod)) && strcmp(mod, "builtins"))
		snprintf(buf, len, "%s.%s", mod, qual);
	else
		snprintf(buf, len, "%s", qual);
	return true;
}

static void
verdict(struct scanner *s, uint64_t t, struct tslot *v)
{
	uint64_t flags, basic;
	char name[2 * MAX_NAME + 2];

	v->key = t;
	v->cls = -1;
	if (!rd(s, t + OFF_FLAGS, &flags) || !(flags & TPF_READY) ||
	    !rd(s, t + OFF_BASICSIZE, &basic) || basic < 16 || basic > (1ULL << 32) ||
	    !type_name(s, t, flags, name, sizeof(name)))
		return;
	v->pre = (flags & TPF_HAVE_GC ? 16 : 0) + (flags & s->lay->preheader_flags ? 16 : 0);
	v->gc = flags & TPF_HAVE_GC;
	v->sized = !(flags & (1ULL << 24)) && !(flags & (TPF_MANAGED_DICT | TPF_INLINE_VALUES));
	v->basicsize = basic;
	if (!rd(s, t + 40, &v->itemsize) || v->itemsize > 64)
		v->itemsize = 0;
	v->is_long = flags & (1ULL << 24); /* Py_TPFLAGS_LONG_SUBCLASS */
	v->is_list = flags & (1ULL << 25);  /* Py_TPFLAGS_LIST_SUBCLASS */
	v->is_dict = flags & (1ULL << 29);  /* Py_TPFLAGS_DICT_SUBCLASS */
	v->values = (s->lay->minor == 11 || s->lay->minor == 12) && (flags & TPF_HEAPTYPE) &&
		    (flags & TPF_MANAGED_DICT);
	v->dict_at = 0;
	if (flags & TPF_HEAPTYPE) {
		uint64_t off;

		if (s->lay->minor >= 11 && (flags & TPF_MANAGED_DICT))
			v->dict_at = -24; /* _PyObject_ManagedDictPointer */
		else if (rd(s, t + OFF_DICTOFFSET, &off) && off >= 16 && off < basic && !(off & 7))
			v->dict_at = (int64_t)off;
	}
	if (!(flags & TPF_HEAPTYPE) && !strcmp(name, "dict"))
		s->dict_type = t;
	v->cls = intern_class(s, name);
}

static uint64_t
mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static const struct tslot *
lookup(struct scanner *s, uint64_t t)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct tslot *old = s->slots;
		size_t ocap = s->cap;

		s->cap = ocap ? ocap * 2 : 1024;
		s->slots = xcalloc(s->cap, sizeof(*s->slots));
		for (size_t j = 0; j < ocap; j++) {
			if (!old[j].key)
				continue;
			for (i = mix(old[j].key) & (s->cap - 1); s->slots[i].key; i = (i + 1) & (s->cap - 1))
				;
			s->slots[i] = old[j];
		}
		free(old);
	}
	for (i = mix(t) & (s->cap - 1); s->slots[i].key; i = (i + 1) & (s->cap - 1))
		if (s->slots[i].key == t)
			return &s->slots[i];
	if (!is_type(s, t))
		return NULL; /* not cached: most such words are list links, each seen once */
	verdict(s, t, &s->slots[i]);
	s->n++;
	return &s->slots[i];
}

/* Whether an object of this type fits in len bytes.  str's basicsize is
 * PyUnicodeObject's (80) and a compact ASCII string smaller: a 48-byte head
 * is all a fixed-size object must fit.  A variable-size one (not int, whose
 * ob_size is a tag in 3.12+) must hold its ob_size items. */
static bool
fits(const struct scanner *s, const struct tslot *v, const unsigned char *obj, uint64_t len)
{
	uint64_t n;

	(void)s;
	if ((v->basicsize < 48 ? v->basicsize : 48) > len)
		return false;
	if (!v->itemsize || v->is_long || len < 24)
		return true;
	memcpy(&n, obj + 16, 8);
	return n <= len / v->itemsize && v->basicsize + n * v->itemsize <= len + 8;
}

/* A GC head before an object: untracked (next 0), or in a generation's
 * doubly linked list, whose next element points back at it (prev keeps
 * flags in its low two bits).  Item arrays and dict entries that happen to
 * hold a word and a type pointer at the right place fail this. */
static bool
gc_head_ok(const struct scanner *s, const unsigned char *head, uint64_t at)
{
	uint64_t next, back;

	memcpy(&next, head, 8);
	if (!next)
		return true;
	return !(next & 7) && rd(s, next + 8, &back) && (back & ~3ULL) == at;
}

/* The class of the object at the start of p (len bytes, at address at),
 * -1 for none. */
static int32_t
object_class(struct scanner *s, const unsigned char *p, uint64_t len, uint64_t at,
	     const struct tslot **tv, uint32_t *off)
{
	for (uint32_t o = 0; o <= 32 && o + 16 <= len; o += 16) {
		uint64_t refcnt, t;
		const struct tslot *v;

		memcpy(&refcnt, p + o, 8);
		memcpy(&t, p + o + 8, 8);
		if (!t || (t & 7) || !(v = lookup(s, t)) || v->cls < 0 || v->pre != o)
			continue;
		if (!refcnt) /* parked on a free list */
			return -1;
		if (!fits(s, v, p + o, len - o) || (o && !gc_head_ok(s, p + o - 16, at + o - 16)))
			continue;
		*tv = v;
		*off = o;
		return v->cls;
	}
	return -1;
}

static void
note(struct scanner *s, uint64_t addr, int32_t owner, int32_t kind, uint32_t span)
{
	if (!addr || (addr & 7))
		return;
	s->own = xgrow(s->own, &s->owncap, s->nown + 1, sizeof(*s->own));
	s->own[s->nown++] = (struct owned){ addr, owner, kind, span };
}

static int32_t
row(struct scanner *s, int32_t *id, const char *name)
{
	if (*id < 0)
		*id = intern_class(s, name);
	return *id;
}

/* Where the block of a dict values array starts: 3.11 and 3.12 put a
 * prefix of insertion-order bytes before it, its size in the byte just
 * before the array; earlier versions none.  0: not known (3.13). */
static uint64_t
values_block(const struct scanner *s, uint64_t values)
{
	uint8_t prefix;

	if (s->lay->minor <= 10)
		return values;
	if (s->lay->minor > 12 || !rd8(s, values - 1, &prefix) || !prefix || (prefix & 7))
		return 0;
	return values - prefix;
}

/* What an object owns, to count with it (see enum own_kind): an instance's
 * own __dict__ (a dict object of its own before 3.11 always, since only once
 * asked for) or, 3.11 and 3.12, its values array; a list's items, a dict's
 * keys and values. */
static void
note_parts(struct scanner *s, const struct tslot *v, uint64_t obj)
{
	uint64_t w;

	if (v->dict_at && rd(s, obj + (uint64_t)v->dict_at, &w) && !(w & 1))
		note(s, w, v->cls, OWN_DICT, 0); /* 3.12 tags a values pointer with bit 0 */
	if (v->values && s->lay->minor == 11 && rd(s, obj - 32, &w) && w)
		note(s, values_block(s, w), v->cls, OWN_BYTES, 0);
	if (v->values && s->lay->minor == 12 && rd(s, obj - 24, &w) && (w & 1))
		note(s, values_block(s, w - 1), v->cls, OWN_BYTES, 0);
	if (v->is_list && rd(s, obj + 24, &w) && w) {
		uint64_t n;

		/* items past ob_size are unused capacity: stale words */
		note(s, w, row(s, &s->row_items, "[list items]"), OWN_ROW,
		     rd(s, obj + 16, &n) && n < (1u << 28) ? (uint32_t)(8 * n + 1) : 0);
	}
	if (v->is_dict && rd(s, obj + OFF_DICT_KEYS, &w))
		note(s, w, row(s, &s->row_keys, "[dict keys]"), OWN_ROW, 0);
	if (v->is_dict && rd(s, obj + OFF_DICT_VALUES, &w) && w)
		note(s, values_block(s, w), row(s, &s->row_values, "[dict values]"), OWN_ROW, 0);
}

static void
count(struct scanner *s, struct py_summary *out, int32_t c, uint64_t addr, uint64_t bytes)
{
	struct py_class *k = &s->cls[c];

	if (!k->count)
		k->sample = addr;
	k->count++;
	k->bytes += bytes;
	out->objects++;
	out->object_bytes += bytes;
}

/* 1 + the bytes of a block that an object at offset o in it occupies, when
 * its type says so and that is less than the block (the rest is slack,
 * stale); 0: the whole block. */
static uint32_t
object_span(const struct tslot *v, const unsigned char *obj, uint32_t o, uint32_t block)
{
	uint64_t n = 0, end;

	if (!v->sized)
		return 0;
	if (v->itemsize)
		memcpy(&n, obj + 16, 8);
	if (n > block)
		return 0;
	end = (o + v->basicsize + v->itemsize * n + 7) & ~7ULL;
	return end < block ? (uint32_t)end + 1 : 0;
}

static void
scan_pools(struct scanner *s, const struct pym_heap *h, size_t begin, size_t end,
	   struct py_summary *out)
{
	for (size_t i = begin; i < end; i++) {
		const struct pym_pool *pool = &h->pools[i];
		const unsigned char *p = image_ptr(s->in->img, pool->addr, h->pool_size);

		if (!p)
			continue;
		for (unsigned b = 0; b < pool->nblocks; b++) {
			uint64_t off = PYM_POOL_OVERHEAD + (uint64_t)b * pool->block;
			const struct tslot *v;
			uint32_t o;
			int32_t c;

			if (!pym_block_live(pool, b))
				continue;
			c = object_class(s, p + off, pool->block, pool->addr + off, &v, &o);
			if (c < 0) {
				out->untyped_blocks++;
				continue;
			}
			if (s->nodes) {
				s->nodes->cls[s->nodes->first[i] + b] = (uint32_t)c;
				s->nodes->pre[s->nodes->first[i] + b] = v->gc ? (uint8_t)(o / 16) : 0;
				s->nodes->span[s->nodes->first[i] + b] =
					object_span(v, p + off + o, o, pool->block);
			}
			count(s, out, c, pool->addr + off, pool->block);
			note_parts(s, v, pool->addr + off + o);
		}
	}
}

/* The pools in parts on --jobs threads (par.h), each with a scanner of
 * its own (type cache, classes, owned dicts); the later parts' classes are
 * then merged into the first's by name, so the result is one loop's. */
struct pool_job {
	struct scanner **s;       /* per part; the first is the caller's */
	const struct pym_heap *h;
	struct py_summary *part;
	size_t *begin;            /* per part: its first pool */
};

static void
pools_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct pool_job *j = arg;

	j->begin[half] = begin;
	scan_pools(j->s[half], j->h, begin, end, &j->part[half]);
}

/* u's classes into s's; the node classes u wrote, pools [from, to),
 * renumbered to s's. */
static void
merge_scanner(struct scanner *s, struct scanner *u, size_t from, size_t to)
{
	int32_t *id = xmalloc((u->ncls ? u->ncls : 1) * sizeof(*id));

	for (size_t i = 0; i < u->ncls; i++) {
		struct py_class *c;

		id[i] = intern_class(s, u->cls[i].name);
		c = &s->cls[id[i]];
		if (!c->count)
			c->sample = u->cls[i].sample;
		c->count += u->cls[i].count;
		c->bytes += u->cls[i].bytes;
		free(u->cls[i].name);
	}
	for (size_t i = 0; i < u->nown; i++) {
		s->own = xgrow(s->own, &s->owncap, s->nown + 1, sizeof(*s->own));
		s->own[s->nown++] = (struct owned){ u->own[i].dict, id[u->own[i].owner], u->own[i].kind,
						    u->own[i].span };
	}
	if (!s->dict_type)
		s->dict_type = u->dict_type;
	if (s->nodes)
		for (size_t k = s->nodes->first[from]; k < s->nodes->first[to]; k++)
			if (s->nodes->cls[k] != PY_NODE_NONE && s->nodes->cls[k] < u->ncls)
				s->nodes->cls[k] = (uint32_t)id[s->nodes->cls[k]];
	free(id);
	free(u->cls);
	free(u->own);
	free(u->slots);
}

static void
scan_all_pools(struct scanner *s, const struct pym_heap *h, struct py_summary *out)
{
	unsigned parts = par_parts(h->npools);
	struct scanner *up = xcalloc(parts, sizeof(*up));
	struct pool_job j = { .s = xcalloc(parts, sizeof(*j.s)), .h = h,
			      .part = xcalloc(parts, sizeof(*j.part)),
			      .begin = xcalloc(parts, sizeof(*j.begin)) };

	j.s[0] = s;
	for (unsigned k = 1; k < parts; k++) {
		up[k] = (struct scanner){ .in = s->in, .lay = s->lay, .type_type = s->type_type,
					  .row_items = -1, .row_keys = -1, .row_values = -1,
					  .nodes = s->nodes };
		j.s[k] = &up[k];
	}
	par_run(h->npools, parts, pools_half, &j);
	/* in address order: classes interned and sampled as one loop would */
	for (unsigned k = 1; k < parts; k++)
		merge_scanner(s, &up[k], j.begin[k], k + 1 < parts ? j.begin[k + 1] : h->npools);
	for (unsigned k = 0; k < parts; k++) {
		out->objects += j.part[k].objects;
		out->object_bytes += j.part[k].object_bytes;
		out->untyped_blocks += j.part[k].untyped_blocks;
	}
	free(up);
	free(j.s);
	free(j.part);
	free(j.begin);
}

static void
scan_chunks(struct scanner *s, const struct heap_model *g, struct py_summary *out)
{
	for (size_t i = 0; g && i < g->nchunks; i++) {
		const struct hs_chunk *c = &g->chunks[i];
		uint64_t usable, look;
		const unsigned char *p;
		const struct tslot *v;
		uint32_t o;
		int32_t k;

		if (c->kind != CK_INUSE && c->kind != CK_MMAPPED)
			continue;
		usable = c->size - (c->kind == CK_MMAPPED ? 16 : 8);
		if (c->size < 32 || usable > c->size)
			continue;
		look = usable < 56 ? usable : 56;
		if (!(p = image_ptr(s->in->img, c->addr + 16, look)))
			continue;
		k = object_class(s, p, usable, c->addr + 16, &v, &o);
		if (k < 0)
			continue;
		/* object_class reads at most 56 bytes: look covers them */
		count(s, out, k, c->addr + 16, c->size);
		if (s->nodes) {
			s->nodes->chunk_cls[i] = (uint32_t)k;
			s->nodes->chunk_pre[i] = v->gc ? (uint8_t)(o / 16) : 0;
		}
		note_parts(s, v, c->addr + 16 + o);
		out->in_chunks++;
	}
}

/* Where the block starting at addr is: a live pymalloc block (pool *pi,
 * block *bi) or an in-use glibc chunk (*ci).  false: neither. */
static bool
find_block(const struct scanner *s, const struct pym_heap *h, uint64_t addr, size_t *pi,
	   unsigned *bi, const struct hs_chunk **ci)
{
	size_t lo = 0, hi = h->npools;

	*ci = NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->pools[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr - h->pools[lo - 1].addr < h->pool_size) {
		const struct pym_pool *pool = &h->pools[lo - 1];
		uint64_t off = addr - pool->addr;

		if (off < PYM_POOL_OVERHEAD || (off - PYM_POOL_OVERHEAD) % pool->block)
			return false;
		*pi = lo - 1;
		*bi = (unsigned)((off - PYM_POOL_OVERHEAD) / pool->block);
		return pym_block_live(pool, *bi);
	}
	if (!s->in->heap || addr < 16)
		return false;
	*ci = heap_model_find(s->in->heap, addr - 16);
	return *ci && ((*ci)->kind == CK_INUSE || (*ci)->kind == CK_MMAPPED) && (*ci)->size >= 32;
}

/* Each block is counted with one owner: claimed blocks, one bit per pool
 * block and one byte per glibc chunk (made when first needed). */
struct claims {
	uint64_t (*pool)[PYM_MAX_BLOCKS / 64];
	uint8_t *chunk;
};

static bool
claim(const struct scanner *s, struct claims *cl, size_t pi, unsigned bi, const struct hs_chunk *c,
      int32_t owner, uint32_t span)
{
	if (c) {
		size_t k = (size_t)(c - s->in->heap->chunks);

		if (!cl->chunk)
			cl->chunk = xcalloc(s->in->heap->nchunks, 1);
		if (cl->chunk[k])
			return false;
		cl->chunk[k] = 1;
		if (s->nodes) {
			s->nodes->chunk_cls[k] = (uint32_t)owner;
			s->nodes->chunk_span[k] = span;
		}
		return true;
	}
	if (cl->pool[pi][bi / 64] >> (bi % 64) & 1)
		return false;
	cl->pool[pi][bi / 64] |= 1ULL << (bi % 64);
	if (s->nodes) {
		s->nodes->cls[s->nodes->first[pi] + bi] = (uint32_t)owner;
		s->nodes->span[s->nodes->first[pi] + bi] = span;
	}
	return true;
}

/* The bytes of the block at addr when it holds no object (0 otherwise). */
static uint64_t
buffer_bytes(struct scanner *s, const struct pym_heap *h, uint64_t addr, size_t pi,
	     const struct hs_chunk *c)
{
	const struct tslot *v;
	const unsigned char *p;
	uint64_t len, bytes;
	uint32_t o;

	if (c) {
		bytes = c->size;
		len = c->size - (c->kind == CK_MMAPPED ? 16 : 8);
	} else {
		len = bytes = h->pools[pi].block;
	}
	/* object_class reads at most 56 bytes, and needs the whole length */
	p = image_ptr(s->in->img, addr, len < 56 ? len : 56);
	if (!p || object_class(s, p, len, addr, &v, &o) >= 0)
		return 0;
	return bytes;
}

/* What objects own (note_parts) counts with them, each block once (the
 * first noting, in the owners' scan order, wins); an instance's dict only
 * when it is a live dict object. */
static void
owned_parts(struct scanner *s, const struct pym_heap *h, struct py_summary *out)
{
	struct claims cl = { .pool = xcalloc(h->npools ? h->npools : 1, sizeof(*cl.pool)) };
	int32_t dc = -1;

	for (size_t i = 0; i < s->ncls; i++)
		if (!strcmp(s->cls[i].name, "dict"))
			dc = (int32_t)i;
	for (size_t i = 0; i < s->nown; i++) {
		const struct owned *w = &s->own[i];
		struct py_class *c = &s->cls[w->owner];
		const struct hs_chunk *ch;
		size_t pi = 0;
		unsigned bi = 0;
		uint64_t b, t;

		if (w->kind == OWN_DICT) {
			/* the dict object: its GC head is the block's start */
			if (dc < 0 || !s->dict_type || !s->cls[dc].count || w->dict < 16 ||
			    !rd(s, w->dict + OFF_TYPE, &t) || t != s->dict_type ||
			    !find_block(s, h, w->dict - 16, &pi, &bi, &ch))
				continue;
			b = ch ? ch->size : h->pools[pi].block;
			if (b > s->cls[dc].bytes || !claim(s, &cl, pi, bi, ch, w->owner, 0))
				continue;
			s->cls[dc].count--;
			s->cls[dc].bytes -= b;
			c->bytes += b;
			out->objects--;
			if (ch && out->in_chunks)
				out->in_chunks--;
			continue;
		}
		if (!find_block(s, h, w->dict, &pi, &bi, &ch) ||
		    !(b = buffer_bytes(s, h, w->dict, pi, ch)) ||
		    !claim(s, &cl, pi, bi, ch, w->owner, w->span))
			continue;
		if (w->kind == OWN_ROW) {
			if (!c->count)
				c->sample = w->dict;
			c->count++;
		}
		c->bytes += b;
		out->owned_blocks++;
		out->owned_bytes += b;
		if (!ch && out->untyped_blocks)
			out->untyped_blocks--;
	}
	free(cl.pool);
	free(cl.chunk);
}

/* ---- finding `type` ---------------------------------------------------------- */

static bool
find_type_type(struct scanner *s, const char **module)
{
	const struct image *img = s->in->img;

	for (size_t i = 0; i < img->n; i++) {
		const struct region *r = &img->r[i];
		uint64_t len = r->end - r->start;

		if (r->name[0] != '/' || len < OFF_TP_DICT)
			continue;
		for (uint64_t off = 0; off + OFF_TP_DICT <= len; off += 8) {
			uint64_t self, name, flags;
			char buf[8];

			memcpy(&self, r->data + off + OFF_TYPE, 8);
			if (self != r->start + off)
				continue;
			memcpy(&name, r->data + off + OFF_TP_NAME, 8);
			memcpy(&flags, r->data + off + OFF_FLAGS, 8);
			if (!(flags & TPF_TYPE_SUBCLASS) || !rd_cstr(s, name, buf, sizeof(buf)) ||
			    strcmp(buf, "type"))
				continue;
			s->type_type = self;
			*module = r->name;
			return true;
		}
	}
	return false;
}

/* The free-threaded build (3.13t, --disable-gil) has a longer object
 * header: ob_tid, flags, mutex, gc bits, ob_ref_local (u32), ob_ref_shared,
 * and ob_type only at +24, so tp_name is at +40 and tp_basicsize at +48.
 * Its objects live in mimalloc's heaps, not pymalloc's pools: recognised,
 * so the user is told, not read.  true and *module when `type` is found so. */
#define FT_OFF_TYPE 24
#define FT_OFF_TP_NAME 40
#define FT_OFF_BASICSIZE 48

static bool
find_type_type_ft(struct scanner *s, const char **module, uint64_t *hsize)
{
	const struct image *img = s->in->img;

	for (size_t i = 0; i < img->n; i++) {
		const struct region *r = &img->r[i];
		uint64_t len = r->end - r->start;

		if (r->name[0] != '/' || len < OFF_TP_DICT + 16)
			continue;
		for (uint64_t off = 0; off + OFF_TP_DICT + 16 <= len; off += 8) {
			uint64_t self, name;
			char buf[8];

			memcpy(&self, r->data + off + FT_OFF_TYPE, 8);
			if (self != r->start + off)
				continue;
			memcpy(&name, r->data + off + FT_OFF_TP_NAME, 8);
			if (!rd_cstr(s, name, buf, sizeof(buf)) || strcmp(buf, "type"))
				continue;
			memcpy(hsize, r->data + off + FT_OFF_BASICSIZE, 8);
			*module = r->name;
			return true;
		}
	}
	return false;
}

/* 3.minor from sizeof(PyHeapTypeObject); 3.8 and 3.9 share 880 bytes, and
 * the file name of the module holding `type` tells them apart. */
static int
python_minor(uint64_t heaptype_size, const char *module)
{
	switch (heaptype_size) {
	case 888: return 10;
	case 904: return 11;
	case 920: return 12;
	case 928: return 13;
	case 880:
		if (strstr(module, "python3.8"))
			return 8;
		if (strstr(module, "python3.9"))
			return 9;
		return -1;
	default:
		return -1;
	}
}

static int
by_count(const void *a, const void *b, void *arg)
{
	const struct py_class *cls = arg;
	const struct py_class *x = &cls[*(const uint32_t *)a], *y = &cls[*(const uint32_t *)b];

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Classes no object was counted in (types seen only as words) drop out; the
 * rest most objects first, and the nodes' class numbers with them. */
static void
sort_classes(struct scanner *s)
{
	uint32_t *ord = xmalloc((s->ncls ? s->ncls : 1) * sizeof(*ord));
	uint32_t *map = xmalloc((s->ncls ? s->ncls : 1) * sizeof(*map));
	struct py_class *cls = xmalloc((s->ncls ? s->ncls : 1) * sizeof(*cls));
	size_t k = 0;

	for (size_t i = 0; i < s->ncls; i++) {
		map[i] = PY_NODE_NONE;
		if (s->cls[i].count)
			ord[k++] = (uint32_t)i;
		else
			free(s->cls[i].name);
	}
	if (k > 1)
		qsort_r(ord, k, sizeof(*ord), by_count, s->cls);
	for (size_t i = 0; i < k; i++) {
		cls[i] = s->cls[ord[i]];
		map[ord[i]] = (uint32_t)i;
	}
	if (s->nodes) {
		struct py_nodes *n = s->nodes;

		for (size_t i = 0; i < n->nblocks; i++)
			if (n->cls[i] != PY_NODE_NONE)
				n->cls[i] = n->cls[i] < s->ncls ? map[n->cls[i]] : PY_NODE_NONE;
		for (size_t i = 0; i < n->nchunks; i++)
			if (n->chunk_cls[i] != PY_NODE_NONE)
				n->chunk_cls[i] = n->chunk_cls[i] < s->ncls ? map[n->chunk_cls[i]]
									    : PY_NODE_NONE;
	}
	free(s->cls);
	free(ord);
	free(map);
	s->cls = cls;
	s->ncls = k;
}

static void
nodes_init(struct py_nodes *n, const struct py_input *in)
{
	const struct pym_heap *h = &n->pools;

	n->first = xmalloc((h->npools + 1) * sizeof(*n->first));
	n->nblocks = 0;
	for (size_t i = 0; i < h->npools; i++) {
		n->first[i] = n->nblocks;
		n->nblocks += h->pools[i].nblocks;
	}
	n->first[h->npools] = n->nblocks;
	n->cls = xmalloc((n->nblocks ? n->nblocks : 1) * sizeof(*n->cls));
	n->pre = xcalloc(n->nblocks ? n->nblocks : 1, 1);
	memset(n->cls, 0xff, n->nblocks * sizeof(*n->cls));
	n->nchunks = in->heap ? in->heap->nchunks : 0;
	n->chunk_cls = xmalloc((n->nchunks ? n->nchunks : 1) * sizeof(*n->chunk_cls));
	n->chunk_pre = xcalloc(n->nchunks ? n->nchunks : 1, 1);
	n->span = xcalloc(n->nblocks ? n->nblocks : 1, sizeof(*n->span));
	n->chunk_span = xcalloc(n->nchunks ? n->nchunks : 1, sizeof(*n->chunk_span));
	memset(n->chunk_cls, 0xff, n->nchunks * sizeof(*n->chunk_cls));
}

void
py_nodes_free(struct py_nodes *n)
{
	pym_heap_free(&n->pools);
	free(n->first);
	free(n->cls);
	free(n->pre);
	free(n->chunk_cls);
	free(n->chunk_pre);
	free(n->span);
	free(n->chunk_span);
	memset(n, 0, sizeof(*n));
}

int
pyobj_scan(const struct py_input *in, struct py_summary *out, char *why, size_t whylen)
{
	return pyobj_scan_nodes(in, out, NULL, why, whylen);
}

int
pyobj_scan_nodes(const struct py_input *in, struct py_summary *out, struct py_nodes *nodes,
		 char *why, size_t whylen)
{
	struct scanner s = { .in = in, .row_items = -1, .row_keys = -1, .row_values = -1 };
	struct pym_heap h;
	const char *module = "";
	uint64_t hsize;

	memset(out, 0, sizeof(*out));
	if (!find_type_type(&s, &module)) {
		if (!find_type_type_ft(&s, &module, &hsize))
			return -1;
		snprintf(why, whylen, "%s holds CPython's `type` of a free-threaded build "
			 "(python3.13t, sizeof(PyHeapTypeObject) %llu), whose objects mimalloc "
			 "allocates, not pymalloc: they are not read", module,
			 (unsigned long long)hsize);
		return -2;
	}
	if (!rd(&s, s.type_type + OFF_BASICSIZE, &hsize))
		hsize = 0;
	out->minor = python_minor(hsize, module);
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == out->minor)
			s.lay = &layouts[i];
	if (!s.lay) {
		snprintf(why, whylen, "%s holds CPython's `type` (sizeof(PyHeapTypeObject) %llu), "
			 "of a version heapscan does not read (3.8 to 3.13)", module,
			 (unsigned long long)hsize);
		return -2;
	}
	out->type_type = s.type_type;
	pymalloc_walk(in->img, in->heap, &h);
	if (nodes) {
		memset(nodes, 0, sizeof(*nodes));
		nodes->pools = h;
		nodes_init(nodes, in);
		s.nodes = nodes;
	}
	out->pool_size = h.pool_size;
	out->pools = h.pools_seen;
	out->live_blocks = h.live_blocks;
	out->live_bytes = h.live_bytes;
	out->free_blocks = h.free_blocks;
	out->free_bytes = h.free_bytes;
	out->bad_lists = h.bad_lists;
	out->count_mismatch = h.count_mismatch;
	scan_all_pools(&s, &h, out);
	scan_chunks(&s, in->heap, out);
	owned_parts(&s, &h, out);
	free(s.own);
	if (!nodes)
		pym_heap_free(&h);
	sort_classes(&s);
	out->classes = s.cls;
	out->nclasses = s.ncls;
	free(s.slots);
	return 0;
}

void
py_summary_free(struct py_summary *s)
{
	for (size_t i = 0; i < s->nclasses; i++)
		free(s->classes[i].name);
	free(s->classes);
	memset(s, 0, sizeof(*s));
}

/* ---- glue: a live scan, a snapshot section ----------------------------------- */

void
pyobj_types(const struct scan *s, struct type_table *tt)
{
	struct py_summary *py = xcalloc(1, sizeof(*py));
	char why[512];
	int ret = pyobj_scan(&(struct py_input){ .img = &s->img, .ro = &s->ro,
						  .heap = s->foreign ? NULL : &s->heap },
			     py, why, sizeof(why));

	if (ret == -2)
		error_msg("%s; Python objects are not typed", why);
	if (ret < 0) {
		free(py);
		return;
	}
	tt->py = py;
}

struct enc {
	unsigned char *p;
	size_t n, cap;
};

static void
put_var(struct enc *e, uint64_t v)
{
	e->p = xgrow(e->p, &e->cap, e->n + 10, 1);
	do {
		e->p[e->n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void
put_str(struct enc *e, const char *s)
{
	size_t len = strlen(s);

	put_var(e, len);
	e->p = xgrow(e->p, &e->cap, e->n + len, 1);
	memcpy(e->p + e->n, s, len);
	e->n += len;
}

#define SUMMARY_FIELDS(X) \
	X(type_type) X(pool_size) X(pools) X(live_blocks) X(live_bytes) X(free_blocks) \
	X(free_bytes) X(bad_lists) X(count_mismatch) X(objects) X(object_bytes) X(in_chunks) \
	X(untyped_blocks) X(owned_blocks) X(owned_bytes)

unsigned char *
py_summary_encode(const struct py_summary *s, size_t *len)
{
	struct enc e = { 0 };

	put_var(&e, (uint64_t)s->minor);
#define PUT(f) put_var(&e, s->f);
	SUMMARY_FIELDS(PUT)
#undef PUT
	put_var(&e, s->nclasses);
	for (size_t i = 0; i < s->nclasses; i++) {
		put_str(&e, s->classes[i].name);
		put_var(&e, s->classes[i].count);
		put_var(&e, s->classes[i].bytes);
		put_var(&e, s->classes[i].sample);
	}
	*len = e.n;
	return e.p;
}

struct dec {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t
get_var(struct dec *d)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		unsigned char b;

		if (d->p >= d->end || d->bad)
			break;
		b = *d->p++;
		if (shift == 63 && b > 1)
			break;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	d->bad = true;
	return 0;
}

static char *
get_name(struct dec *d)
{
	uint64_t len = get_var(d);
	char *s;

	if (d->bad || len > 2 * MAX_NAME + 2 || len > (uint64_t)(d->end - d->p) ||
	    memchr(d->p, '\0', len)) {
		d->bad = true;
		return xstrdup("");
	}
	s = xmalloc(len + 1);
	memcpy(s, d->p, len);
	s[len] = '\0';
	d->p += len;
	return s;
}

int
py_summary_decode(const unsigned char *p, size_t len, struct py_summary *out, uint64_t max_classes)
{
	struct dec d = { p, p + len, false };
	uint64_t n, minor;

	memset(out, 0, sizeof(*out));
	minor = get_var(&d);
	out->minor = minor < 100 ? (int)minor : -1;
#define GET(f) out->f = get_var(&d);
	SUMMARY_FIELDS(GET)
#undef GET
	n = get_var(&d);
	/* each class takes at least 4 bytes */
	if (d.bad || out->minor < 0 || out->pool_size > 1u << 20 ||
	    n > (uint64_t)(d.end - d.p) / 4 || n > max_classes) {
		py_summary_free(out);
		return -1;
	}
	out->classes = xcalloc(n ? n : 1, sizeof(*out->classes));
	for (uint64_t i = 0; i < n && !d.bad; i++) {
		out->classes[i].name = get_name(&d);
		out->classes[i].count = get_var(&d);
		out->classes[i].bytes = get_var(&d);
		out->classes[i].sample = get_var(&d);
		out->nclasses = i + 1;
	}
	if (d.bad || d.p != d.end) {
		py_summary_free(out);
		return -1;
	}
	return 0;
}
