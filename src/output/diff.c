/*
 * diff.c - what changed between snapshots of one process: `heapscan --diff`.
 *
 * Rows.  A type is (kind, name, size); each snapshot's type indexes are
 * mapped to rows through a hash table, and each typed chunk adds to its
 * row's count and bytes for that snapshot.  Two types of one snapshot with
 * the same (kind, name, size) - content previews are truncated, so two long
 * strings can share one - become one row: nothing the user sees tells them
 * apart.
 *
 * New and freed.  The first snapshot A and the last B are compared chunk by
 * chunk.  Both chunk arrays are sorted by address, so one merge pass pairs
 * them (only typed, i.e. in-use, chunks take part):
 *
 *   A:  0x100 Order   0x140 Order   0x180 Item                0x200 Order
 *   B:  0x100 Order                 0x180 "text"   0x1c0 Item 0x200 Order
 *       kept          freed         freed + new    new        kept
 *
 * A chunk of B is new when A has no chunk at its address with its size and
 * type; a chunk of A is freed when B has none.  So an address reused by
 * another type or size counts once as freed and once as new, and per type
 * count_b - count_a = new - freed.  An object freed and replaced by another of
 * the same type and size at the same address between the two snapshots looks
 * kept: a snapshot has no object identity beyond the address.
 *
 * Steady growth (three snapshots or more).  A leak grows at every step; a
 * cache fills once; a work queue grows and shrinks.  The score is
 *
 *   growth = delta_bytes * |up - down| / steps,  when delta_bytes and
 *            up - down have the same sign (else 0)
 *
 * where steps = snapshots - 1, up and down the steps in which the type's
 * bytes grew and shrank, delta_bytes = last - first.  A type that grew at
 * every step scores all it grew; one that grew in one step of three scores a
 * third of it (+300, 0, 0 scores 100; +100, +100, +100 scores 300); one that
 * went up and down about as often scores about nothing.  Magnitude still
 * counts: +1000, +1, -1 scores 333, above a steady +10 a step (30); the
 * score discounts unsteadiness, it does not forbid it.  Shrinking types get
 * the mirror image (negative) and sort last.  For two snapshots the score is
 * delta_bytes itself, so one sort serves both.  Ties: bytes grown, chunks
 * grown, then kind, name and size, so the order is reproducible.
 *
 * Output: the text report fits 100 columns before the type names; --json is
 * one object (README); --svg a plain SVG 1.1 chart, one panel per top growing
 * type (see svg_write), written to a temporary file and renamed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "diff.h"
#include "reach.h"
#include "probe.h"
#include "pyobj.h"
#include "error.h"
#include "outfile.h"
#include "json.h"
#include "seize.h"
#include "snapshot.h"
#include "xmalloc.h"

#define NO_ROW UINT32_MAX
#define SERIES_COLS 6   /* snapshots shown as columns in the text report */
#define SVG_LINES 8     /* types in the chart */
#define SVG_NAME_MAX 44 /* characters of a type name in a panel's title */

/* ---- rows: one per (kind, name, size) ------------------------------------- */

struct builder {
	struct diff_result *r;
	size_t rowcap;
	uint32_t *slot; /* row + 1; 0 = empty */
	size_t cap;     /* power of 2 */
};

static uint64_t
row_hash(enum type_kind kind, const char *name, uint64_t size)
{
	return XXH3_64bits_withSeed(name, strlen(name), size * 8 + (uint64_t)kind);
}

static void
index_put(struct builder *b, uint32_t row)
{
	const struct diff_row *w = &b->r->rows[row];
	size_t i = row_hash(w->kind, w->name, w->size) & (b->cap - 1);

	while (b->slot[i])
		i = (i + 1) & (b->cap - 1);
	b->slot[i] = row + 1;
}

static void
index_grow(struct builder *b)
{
	free(b->slot);
	b->cap = b->cap ? b->cap * 2 : 256;
	b->slot = xcalloc(b->cap, sizeof(*b->slot));
	for (size_t i = 0; i < b->r->nrows; i++)
		index_put(b, (uint32_t)i);
}

static uint32_t
row_of(struct builder *b, const struct type_entry *e)
{
	struct diff_result *r = b->r;
	const char *name = e->name ? e->name : "";
	struct diff_row *w;
	size_t i;

	if ((r->nrows + 1) * 2 > b->cap)
		index_grow(b);
	for (i = row_hash(e->kind, name, e->size) & (b->cap - 1); b->slot[i];
	     i = (i + 1) & (b->cap - 1)) {
		w = &r->rows[b->slot[i] - 1];
		if (w->kind == e->kind && w->size == e->size && !strcmp(w->name, name))
			return b->slot[i] - 1;
	}
	r->rows = xgrow(r->rows, &b->rowcap, r->nrows + 1, sizeof(*r->rows));
	w = &r->rows[r->nrows];
	memset(w, 0, sizeof(*w));
	w->kind = e->kind;
	w->name = xstrdup(name);
	w->size = e->size;
	w->count = xcalloc(r->nsnaps, sizeof(*w->count));
	w->bytes = xcalloc(r->nsnaps, sizeof(*w->bytes));
	w->leaked = xcalloc(r->nsnaps, sizeof(*w->leaked));
	b->slot[i] = (uint32_t)++r->nrows;
	return (uint32_t)(r->nrows - 1);
}

static void
builder_init(struct builder *b, struct diff_result *r, size_t nsnaps)
{
	memset(r, 0, sizeof(*r));
	memset(b, 0, sizeof(*b));
	b->r = r;
	r->nsnaps = nsnaps;
	r->chunks = xcalloc(nsnaps ? nsnaps : 1, sizeof(*r->chunks));
	r->bytes = xcalloc(nsnaps ? nsnaps : 1, sizeof(*r->bytes));
	r->leaked = xcalloc(nsnaps ? nsnaps : 1, sizeof(*r->leaked));
	r->leaked_bytes = xcalloc(nsnaps ? nsnaps : 1, sizeof(*r->leaked_bytes));
	r->has_reach = nsnaps > 0;
}

/* The row of chunk i of in, or NO_ROW for a chunk without a type. */
static uint32_t
chunk_row(const struct diff_input *in, const uint32_t *map, size_t i)
{
	uint32_t t = in->types->of_chunk ? in->types->of_chunk[i] : UINT32_MAX;

	return t < in->types->ntypes ? map[t] : NO_ROW;
}

/* A CPython target's types (pyobj.h) are rows of kind class: objects and
 * their bytes per snapshot.  They are not chunks, so they take no part in
 * the new / freed pairing (both stay 0). */
static void
diff_add_python(struct builder *b, size_t i, const struct type_table *t)
{
	for (size_t k = 0; t->py && k < t->py->nclasses; k++) {
		const struct py_class *c = &t->py->classes[k];
		/* row_of may move the rows: index them after it returns */
		uint32_t row = row_of(b, &(struct type_entry){ .kind = TK_CLASS, .name = c->name });
		struct diff_row *w = &b->r->rows[row];

		w->count[i] += c->count;
		w->bytes[i] += c->bytes;
	}
}

/* Count snapshot i into the rows.  Returns its type -> row map (the caller
 * frees it): rows are made for the types that have chunks. */
static uint32_t *
diff_add(struct builder *b, size_t i, const struct diff_input *in)
{
	const struct heap_model *h = in->heap;
	const struct type_table *t = in->types;
	uint32_t *map = xmalloc((t->ntypes ? t->ntypes : 1) * sizeof(*map));

	for (size_t k = 0; k < t->ntypes; k++)
		map[k] = NO_ROW;
	if (!in->reach)
		b->r->has_reach = false;
	for (size_t k = 0; k < h->nchunks; k++) {
		const struct hs_chunk *c = &h->chunks[k];
		uint32_t tk = t->of_chunk ? t->of_chunk[k] : UINT32_MAX;
		bool leaked = in->reach && (in->reach[k] == RS_DIRECT || in->reach[k] == RS_INDIRECT);
		struct diff_row *w;

		if (c->kind == CK_INUSE || c->kind == CK_MMAPPED) {
			b->r->chunks[i]++;
			b->r->bytes[i] += chunk_shown_size(h, c);
		}
		if (leaked) {
			b->r->leaked[i]++;
			b->r->leaked_bytes[i] += chunk_shown_size(h, c);
		}
		if (tk >= t->ntypes)
			continue;
		if (map[tk] == NO_ROW)
			map[tk] = row_of(b, &t->types[tk]);
		w = &b->r->rows[map[tk]];
		w->count[i]++;
		w->bytes[i] += chunk_shown_size(h, c);
		w->leaked[i] += leaked;
	}
	diff_add_python(b, i, t);
	return map;
}

static void
count_new(struct diff_result *r, uint32_t row, const struct heap_model *h,
	  const struct hs_chunk *c)
{
	struct diff_row *w = &r->rows[row];

	if (!w->new_chunks)
		w->sample_new = c->addr;
	w->new_chunks++;
	w->new_bytes += chunk_shown_size(h, c);
	r->new_chunks++;
	r->new_bytes += chunk_shown_size(h, c);
}

static void
count_freed(struct diff_result *r, uint32_t row, const struct heap_model *h,
	    const struct hs_chunk *c)
{
	r->rows[row].freed_chunks++;
	r->rows[row].freed_bytes += chunk_shown_size(h, c);
	r->freed_chunks++;
	r->freed_bytes += chunk_shown_size(h, c);
}

/* The next typed chunk of in at or after i (nchunks when none). */
static size_t
next_typed(const struct diff_input *in, const uint32_t *map, size_t i)
{
	while (i < in->heap->nchunks && chunk_row(in, map, i) == NO_ROW)
		i++;
	return i;
}

/* New and freed chunks from a to b: the merge pass drawn at the top. */
static void
diff_pair(struct diff_result *r, const struct diff_input *a, const uint32_t *amap,
	  const struct diff_input *b, const uint32_t *bmap)
{
	size_t i = next_typed(a, amap, 0), j = next_typed(b, bmap, 0);
	size_t na = a->heap->nchunks, nb = b->heap->nchunks;

	while (i < na || j < nb) {
		const struct hs_chunk *ca = i < na ? &a->heap->chunks[i] : NULL;
		const struct hs_chunk *cb = j < nb ? &b->heap->chunks[j] : NULL;

		if (ca && (!cb || ca->addr < cb->addr)) {
			count_freed(r, chunk_row(a, amap, i), a->heap, ca);
			i = next_typed(a, amap, i + 1);
		} else if (!ca || cb->addr < ca->addr) {
			count_new(r, chunk_row(b, bmap, j), b->heap, cb);
			j = next_typed(b, bmap, j + 1);
		} else {
			uint32_t ra = chunk_row(a, amap, i), rb = chunk_row(b, bmap, j);

			if (ca->size != cb->size || ra != rb) {
				count_freed(r, ra, a->heap, ca);
				count_new(r, rb, b->heap, cb);
			}
			i = next_typed(a, amap, i + 1);
			j = next_typed(b, bmap, j + 1);
		}
	}
}

/* ---- ranking ------------------------------------------------------------- */

static double
delta_bytes(const struct diff_row *w, size_t n)
{
	return (double)w->bytes[n - 1] - (double)w->bytes[0];
}

static double
delta_count(const struct diff_row *w, size_t n)
{
	return (double)w->count[n - 1] - (double)w->count[0];
}

/* The score documented at the top of the file. */
static void
score(struct diff_row *w, size_t n)
{
	double d = delta_bytes(w, n);
	int net;

	w->up = w->down = 0;
	for (size_t k = 0; k + 1 < n; k++) {
		w->up += w->bytes[k + 1] > w->bytes[k];
		w->down += w->bytes[k + 1] < w->bytes[k];
	}
	net = w->up - w->down;
	if ((d > 0 && net > 0) || (d < 0 && net < 0))
		w->growth = d * (net > 0 ? net : -net) / (double)(n - 1);
	else
		w->growth = 0;
}

static size_t sort_nsnaps; /* qsort has no context argument */

static int
cmp_double(double x, double y)
{
	return x > y ? -1 : x < y;
}

static int
by_growth(const void *pa, const void *pb)
{
	const struct diff_row *a = pa, *b = pb;
	size_t n = sort_nsnaps;
	int c;

	if ((c = cmp_double(a->growth, b->growth)) ||
	    (c = cmp_double(delta_bytes(a, n), delta_bytes(b, n))) ||
	    (c = cmp_double(delta_count(a, n), delta_count(b, n))))
		return c;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((c = strcmp(a->name, b->name)))
		return c;
	return a->size < b->size ? -1 : a->size > b->size;
}

static void
diff_finish(struct builder *b)
{
	struct diff_result *r = b->r;

	free(b->slot);
	b->slot = NULL;
	if (!r->nsnaps)
		return;
	for (size_t i = 0; i < r->nrows; i++)
		score(&r->rows[i], r->nsnaps);
	sort_nsnaps = r->nsnaps;
	if (r->nrows > 1) /* rows is NULL when there are none */
		qsort(r->rows, r->nrows, sizeof(*r->rows), by_growth);
}

void
diff_compute(const struct diff_input *in, size_t n, struct diff_result *out)
{
	struct builder b;
	uint32_t *first = NULL, *last = NULL;

	builder_init(&b, out, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t *map = diff_add(&b, i, &in[i]);

		if (i == 0) {
			first = map;
		} else {
			free(last);
			last = map;
		}
	}
	if (n >= 2)
		diff_pair(out, &in[0], first, &in[n - 1], last);
	free(first);
	free(last);
	diff_finish(&b);
}

void
diff_result_free(struct diff_result *r)
{
	for (size_t i = 0; i < r->nrows; i++) {
		free(r->rows[i].name);
		free(r->rows[i].count);
		free(r->rows[i].bytes);
		free(r->rows[i].leaked);
	}
	free(r->rows);
	free(r->chunks);
	free(r->bytes);
	free(r->leaked);
	free(r->leaked_bytes);
	for (size_t i = 0; i < r->nretainers; i++) {
		free(r->retainers[i].name);
		free(r->retainers[i].type);
	}
	free(r->retainers);
	memset(r, 0, sizeof(*r));
}

/* ---- reading the snapshots ------------------------------------------------ */

struct snap_info {
	const char *path;
	int pid;
	char *cmdline;
	int64_t time;
	uint32_t version;
	char heapscan_version[32];
};

struct loaded {
	struct scan s;
	struct type_table t;
	struct snap_meta m;
	bool ok;
};

static void
loaded_free(struct loaded *l)
{
	if (!l->ok)
		return;
	scan_free(&l->s);
	type_table_free(&l->t);
	snap_meta_free(&l->m);
	l->ok = false;
}

static int
load(const char *path, struct loaded *l, struct snap_info *info)
{
	char err[640];

	if (snap_read(path, &l->s, &l->t, &l->m, err, sizeof(err)) < 0) {
		error_msg("%s", err);
		return -1;
	}
	l->ok = true;
	info->path = path;
	info->pid = (int)l->s.pid;
	info->cmdline = xstrdup(l->s.cmdline ? l->s.cmdline : "");
	info->time = l->m.time;
	info->version = l->m.format_version;
	snprintf(info->heapscan_version, sizeof(info->heapscan_version), "%s",
		 l->m.heapscan_version);
	return 0;
}

/* Snapshots of different processes or formats are refused unless forced. */
static int
compatible(const struct snap_info *a, const struct snap_info *b, bool force)
{
	if (force)
		return 0;
	if (a->pid != b->pid || strcmp(a->cmdline, b->cmdline)) {
		char *ca = probe_printable(a->cmdline, strlen(a->cmdline), 200);
		char *cb = probe_printable(b->cmdline, strlen(b->cmdline), 200);

		error_msg("%s is of process %d (%s), %s of process %d (%s): use --force to "
			  "compare anyway", a->path, a->pid, ca, b->path, b->pid, cb);
		free(ca);
		free(cb);
		return -1;
	}
	/* formats 1 and 2 differ in how chunk records are stored, not in what
	 * they hold (snapshot.h) */
	if (a->version != b->version && (a->version > 2 || b->version > 2)) {
		error_msg("%s has snapshot format version %u, %s version %u: use --force to "
			  "compare anyway", a->path, a->version, b->path, b->version);
		return -1;
	}
	return 0;
}

/* ---- retainers ---------------------------------------------------------------- */

static const char *
kept_type_name(const struct type_table *t, uint32_t type)
{
	return type < t->ntypes ? t->types[type].name : "?";
}

/* The row of (kind, name) in r->retainers, made when new. */
static struct diff_retainer *
retainer_row(struct diff_result *r, size_t *cap, enum retain_kind kind, const char *name)
{
	for (size_t i = 0; i < r->nretainers; i++)
		if (r->retainers[i].kind == kind && !strcmp(r->retainers[i].name, name))
			return &r->retainers[i];
	r->retainers = xgrow(r->retainers, cap, r->nretainers + 1, sizeof(*r->retainers));
	memset(&r->retainers[r->nretainers], 0, sizeof(*r->retainers));
	r->retainers[r->nretainers].kind = kind;
	r->retainers[r->nretainers].name = xstrdup(name);
	return &r->retainers[r->nretainers++];
}

/* Add snapshot l's retainers as side b (or a): bytes and chunks, and the top
 * types, by name, into a scratch list per row (tname/tbytes...). */
struct type_delta {
	size_t row;
	char *name;
	uint64_t bytes[2], chunks[2];
};

static void
retainers_add(struct diff_result *r, size_t *cap, const struct snap_meta *m,
	      const struct type_table *t, int side, struct type_delta **td, size_t *ntd,
	      size_t *tdcap)
{
	for (size_t i = 0; i < m->retain.n; i++) {
		const struct retain_entry *e = &m->retain.e[i];
		char *key = e->kind == RK_SHARED ? xasprintf("shared %s", kept_type_name(t, e->type))
						 : xstrdup(e->name);
		struct diff_retainer *w = retainer_row(r, cap, e->kind, key);
		size_t row = (size_t)(w - r->retainers);

		free(key);
		*(side ? &w->bytes_b : &w->bytes_a) += e->bytes;
		*(side ? &w->chunks_b : &w->chunks_a) += e->chunks;
		for (size_t k = 0; k < e->ntop; k++) {
			const char *tn = kept_type_name(t, e->top[k].type);
			struct type_delta *d = NULL;

			for (size_t j = 0; j < *ntd && !d; j++)
				if ((*td)[j].row == row && !strcmp((*td)[j].name, tn))
					d = &(*td)[j];
			if (!d) {
				*td = xgrow(*td, tdcap, *ntd + 1, sizeof(**td));
				d = &(*td)[(*ntd)++];
				memset(d, 0, sizeof(*d));
				d->row = row;
				d->name = xstrdup(tn);
			}
			d->bytes[side] += e->top[k].bytes;
			d->chunks[side] += e->top[k].chunks;
		}
	}
}

static int
by_retainer_growth(const void *pa, const void *pb)
{
	const struct diff_retainer *a = pa, *b = pb;
	int64_t ga = (int64_t)(a->bytes_b - a->bytes_a), gb = (int64_t)(b->bytes_b - b->bytes_a);

	if (ga != gb)
		return ga > gb ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Which retainers grew from snapshot a to b: both must store them. */
static void
diff_retainers(struct diff_result *r, const struct snap_meta *ma, const struct type_table *ta,
	       const struct snap_meta *mb, const struct type_table *tb)
{
	struct type_delta *td = NULL;
	size_t ntd = 0, tdcap = 0, cap = 0;

	if (!ma->has_retain || !mb->has_retain)
		return;
	r->has_retain = true;
	retainers_add(r, &cap, ma, ta, 0, &td, &ntd, &tdcap);
	retainers_add(r, &cap, mb, tb, 1, &td, &ntd, &tdcap);
	for (size_t j = 0; j < ntd; j++) {
		struct diff_retainer *w = &r->retainers[td[j].row];
		int64_t g = (int64_t)(td[j].bytes[1] - td[j].bytes[0]);

		if (g > 0 && (!w->type || g > (int64_t)(w->type_bytes_b - w->type_bytes_a))) {
			free(w->type);
			w->type = xstrdup(td[j].name);
			w->type_bytes_a = td[j].bytes[0];
			w->type_bytes_b = td[j].bytes[1];
			w->type_chunks_a = td[j].chunks[0];
			w->type_chunks_b = td[j].chunks[1];
		}
	}
	for (size_t j = 0; j < ntd; j++)
		free(td[j].name);
	free(td);
	qsort(r->retainers, r->nretainers, sizeof(*r->retainers), by_retainer_growth);
}

/* Read every snapshot and compute the diff, holding two in memory at a time
 * (the first, for new and freed, and the latest): a series of large
 * snapshots need not fit at once. */
static int
read_and_compute(char *const *paths, size_t n, bool force, struct snap_info *info,
		 struct diff_result *r)
{
	struct loaded first = { 0 }, last = { 0 };
	uint32_t *fmap = NULL, *lmap = NULL;
	struct builder b;
	int ret = -1;

	builder_init(&b, r, n);
	if (load(paths[0], &first, &info[0]) < 0)
		goto out;
	fmap = diff_add(&b, 0, &(struct diff_input){ &first.s.heap, &first.t, first.m.reach_state });
	for (size_t i = 1; i < n; i++) {
		free(lmap);
		lmap = NULL;
		loaded_free(&last);
		if (load(paths[i], &last, &info[i]) < 0 || compatible(&info[0], &info[i], force) < 0)
			goto out;
		lmap = diff_add(&b, i, &(struct diff_input){ &last.s.heap, &last.t, last.m.reach_state });
	}
	diff_pair(r, &(struct diff_input){ &first.s.heap, &first.t, first.m.reach_state }, fmap,
		  &(struct diff_input){ &last.s.heap, &last.t, last.m.reach_state }, lmap);
	diff_retainers(r, &first.m, &first.t, &last.m, &last.t);
	ret = 0;
out:
	diff_finish(&b);
	free(fmap);
	free(lmap);
	loaded_free(&first);
	loaded_free(&last);
	return ret;
}

/* ---- text ------------------------------------------------------------------ */

static size_t leak_nsnaps; /* for by_leak_growth: qsort has no context argument */

static int
by_leak_growth(const void *pa, const void *pb)
{
	const struct diff_row *a = *(const struct diff_row *const *)pa;
	const struct diff_row *b = *(const struct diff_row *const *)pb;
	size_t n = leak_nsnaps;
	uint64_t ga = a->leaked[n - 1] - a->leaked[0], gb = b->leaked[n - 1] - b->leaked[0];

	if (ga != gb)
		return ga > gb ? -1 : 1;
	return strcmp(a->name, b->name);
}


/* A difference of byte counts: "+1.5 KiB", "-32 B", "0 B". */
static const char *
human_delta(uint64_t from, uint64_t to, char *buf, size_t len)
{
	char h[24]; /* "18446744073709551615 B" at most */

	human_bytes(to >= from ? to - from : from - to, h, sizeof(h));
	snprintf(buf, len, "%s%s", to > from ? "+" : to < from ? "-" : "", h);
	return buf;
}

static const char *
count_delta(uint64_t from, uint64_t to, char *buf, size_t len)
{
	if (to >= from)
		snprintf(buf, len, "%s%" PRIu64, to > from ? "+" : "", to - from);
	else
		snprintf(buf, len, "-%" PRIu64, from - to);
	return buf;
}

static bool
row_changed(const struct diff_row *w, size_t n)
{
	for (size_t k = 1; k < n; k++)
		if (w->count[k] != w->count[0] || w->bytes[k] != w->bytes[0])
			return true;
	return w->new_chunks || w->freed_chunks;
}

static bool
any_changed(const struct diff_result *r)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (row_changed(&r->rows[i], r->nsnaps))
			return true;
	return false;
}

static const char *
when(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "%" PRId64, t);
	return buf;
}

static void
text_snapshots(FILE *f, const struct snap_info *info, const struct diff_result *r)
{
	size_t n = r->nsnaps;
	bool same = true;
	char b[32], t[64], label[24];

	for (size_t i = 1; i < n; i++)
		same = same && info[i].pid == info[0].pid && !strcmp(info[i].cmdline, info[0].cmdline);
	if (same) {
		fprintf(f, "%zu snapshots of process %d: ", n, info[0].pid);
		fput_printable(f, info[0].cmdline);
		fputc('\n', f);
	} else {
		fprintf(f, "%zu snapshots of different processes (--force)\n", n);
	}
	for (size_t i = 0; i < n; i++) {
		if (n == 2)
			snprintf(label, sizeof(label), "%s", i ? "B" : "A");
		else
			snprintf(label, sizeof(label), "#%zu", i + 1);
		fprintf(f, "  %-3s %s  %10" PRIu64 " chunks %10s  ", label,
			when(info[i].time, t, sizeof(t)), r->chunks[i], human_bytes(r->bytes[i], b, sizeof(b)));
		fput_printable(f, info[i].path);
		if (!same) {
			fprintf(f, "  (process %d: ", info[i].pid);
			fput_printable(f, info[i].cmdline);
			fputc(')', f);
		}
		fputc('\n', f);
	}
}

static void
text_totals(FILE *f, const struct diff_result *r)
{
	size_t n = r->nsnaps;
	char b1[32], b2[32], b3[32], c[32];

	fprintf(f, "\n  in use: %" PRIu64 " -> %" PRIu64 " chunks (%s), %s -> %s (%s)\n", r->chunks[0],
		r->chunks[n - 1], count_delta(r->chunks[0], r->chunks[n - 1], c, sizeof(c)),
		human_bytes(r->bytes[0], b1, sizeof(b1)), human_bytes(r->bytes[n - 1], b2, sizeof(b2)),
		human_delta(r->bytes[0], r->bytes[n - 1], b3, sizeof(b3)));
	fprintf(f, "  %s: %" PRIu64 " new chunks (%s), %" PRIu64 " freed (%s)\n",
		n == 2 ? "A -> B" : "first -> last", r->new_chunks, human_bytes(r->new_bytes, b1, sizeof(b1)),
		r->freed_chunks, human_bytes(r->freed_bytes, b2, sizeof(b2)));
}

/* Two snapshots: the comparison table. */
static void
text_compare(FILE *f, const struct diff_result *r, int top)
{
	char b1[32], b2[32], c[32];
	int shown = 0;

	fprintf(f, "\n  types by bytes grown (new: chunks in B not in A; freed: in A not in B):\n");
	fprintf(f, "  %-7s %9s %9s %9s %8s %8s %10s %10s  %s\n", "kind", "count A", "count B", "+/-",
		"new", "freed", "bytes B", "+/- bytes", "type");
	for (size_t i = 0; i < r->nrows && shown < top; i++) {
		const struct diff_row *w = &r->rows[i];

		if (!row_changed(w, 2))
			continue;
		fprintf(f, "  %-7s %9" PRIu64 " %9" PRIu64 " %9s %8" PRIu64 " %8" PRIu64 " %10s %10s  ",
			type_kind_name(w->kind), w->count[0], w->count[1],
			count_delta(w->count[0], w->count[1], c, sizeof(c)), w->new_chunks,
			w->freed_chunks, human_bytes(w->bytes[1], b1, sizeof(b1)),
			human_delta(w->bytes[0], w->bytes[1], b2, sizeof(b2)));
		fput_printable(f, w->name);
		fputc('\n', f);
		shown++;
	}
	if (!any_changed(r))
		fprintf(f, "  (no type changed)\n");
}

/* Which snapshots get a column: all when they fit, else evenly spaced ones
 * with the first and the last. */
static size_t
series_cols(size_t n, size_t *col)
{
	size_t k = n < SERIES_COLS ? n : SERIES_COLS;

	for (size_t i = 0; i < k; i++)
		col[i] = k == 1 ? 0 : (i * (n - 1) + (k - 1) / 2) / (k - 1);
	return k;
}

/* More than two: each type's count over the series, steadiest growth first. */
static void
text_series(FILE *f, const struct diff_result *r, int top)
{
	size_t n = r->nsnaps, col[SERIES_COLS], k = series_cols(n, col);
	char b[32], h[16];
	int shown = 0;

	fprintf(f, "\n  types by steady growth (chunks at each snapshot; grew: steps in which "
		"its bytes grew):\n");
	fprintf(f, "  %-7s", "kind");
	for (size_t i = 0; i < k; i++) {
		snprintf(h, sizeof(h), "#%zu", col[i] + 1);
		fprintf(f, " %8s", h);
	}
	fprintf(f, " %10s %7s  %s\n", "+/- bytes", "grew", "type");
	for (size_t i = 0; i < r->nrows && shown < top; i++) {
		const struct diff_row *w = &r->rows[i];

		if (!row_changed(w, n))
			continue;
		fprintf(f, "  %-7s", type_kind_name(w->kind));
		for (size_t j = 0; j < k; j++)
			fprintf(f, " %8" PRIu64, w->count[col[j]]);
		snprintf(h, sizeof(h), "%d/%zu", w->up, n - 1);
		fprintf(f, " %10s %7s  ", human_delta(w->bytes[0], w->bytes[n - 1], b, sizeof(b)), h);
		fput_printable(f, w->name);
		fputc('\n', f);
		shown++;
	}
	if (!any_changed(r))
		fprintf(f, "  (no type changed)\n");
	if (k < n)
		fprintf(f, "  (%zu of %zu snapshots shown; --json has every count)\n", k, n);
}

/* The content clusters that grew, with their previews and chunk sizes. */
static void
text_content(FILE *f, const struct diff_result *r, int top)
{
	size_t n = r->nsnaps;
	char c[32];
	int shown = 0;

	for (size_t i = 0; i < r->nrows && shown < top; i++) {
		const struct diff_row *w = &r->rows[i];

		if (w->kind != TK_CONTENT || w->count[n - 1] <= w->count[0])
			continue;
		if (!shown++)
			fprintf(f, "\n  growing content clusters (identical chunks):\n  %9s %9s %8s  %s\n",
				"+chunks", "chunks", "size", "preview");
		fprintf(f, "  %9s %9" PRIu64 " ", count_delta(w->count[0], w->count[n - 1], c, sizeof(c)),
			w->count[n - 1]);
		if (w->size) /* 0: a string, in chunks of any size */
			fprintf(f, "%#8" PRIx64 "  ", w->size);
		else
			fprintf(f, "%8s  ", "-");
		fput_printable(f, w->name);
		fputc('\n', f);
	}
}

/* A new chunk of each type in the table that has any, to look at. */
static void
text_samples(FILE *f, const struct diff_result *r, int top)
{
	int shown = 0, listed = 0;

	for (size_t i = 0; i < r->nrows && shown < top; i++) {
		const struct diff_row *w = &r->rows[i];

		if (!row_changed(w, r->nsnaps))
			continue;
		shown++;
		if (!w->new_chunks)
			continue;
		if (!listed++)
			fprintf(f, "\n  a new chunk of each type above, in %s:\n",
				r->nsnaps == 2 ? "B" : "the last snapshot");
		fprintf(f, "  0x%-16" PRIx64 " ", CHUNK_USER(w->sample_new));
		fput_printable(f, w->name);
		fputc('\n', f);
	}
}

/* Types whose leaked chunks grew, most first. */
static void
text_leaks(FILE *f, const struct diff_result *r, int top)
{
	size_t n = r->nsnaps, shown = 0;
	struct diff_row **rows;
	char b1[32], b2[32], b3[32];

	if (!r->has_reach) {
		fprintf(f, "\n  leaks: not compared (a snapshot holds no reachability)\n");
		return;
	}
	fprintf(f, "\n  leaked: %" PRIu64 " -> %" PRIu64 " chunks, %s -> %s (%s)\n", r->leaked[0],
		r->leaked[n - 1], human_bytes(r->leaked_bytes[0], b1, sizeof(b1)),
		human_bytes(r->leaked_bytes[n - 1], b2, sizeof(b2)),
		human_delta(r->leaked_bytes[0], r->leaked_bytes[n - 1], b3, sizeof(b3)));
	rows = xmalloc((r->nrows ? r->nrows : 1) * sizeof(*rows));
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].leaked[n - 1] > r->rows[i].leaked[0])
			rows[shown++] = &r->rows[i];
	leak_nsnaps = n;
	if (shown > 1)
		qsort(rows, shown, sizeof(*rows), by_leak_growth);
	for (size_t i = 0; i < shown && (int)i < top; i++) {
		fprintf(f, "  %10s leaked  %-7s ", count_delta(rows[i]->leaked[0], rows[i]->leaked[n - 1], b1,
							   sizeof(b1)),
			type_kind_name(rows[i]->kind));
		fput_printable(f, rows[i]->name);
		fprintf(f, "  (%" PRIu64 " -> %" PRIu64 ")\n", rows[i]->leaked[0], rows[i]->leaked[n - 1]);
	}
	free(rows);
}

/* Retainers that grew: "global g_registry (...) retains +310 MiB, +1.2M chunks; most of
 * it Order +300 MiB, +1200000 chunks". */
static void
text_retainers(FILE *f, const struct diff_result *r, int top)
{
	char b1[32], b2[32], b3[32], b4[32];
	int shown = 0;

	if (!r->has_retain) {
		fprintf(f, "\n  retainers: not compared (take the snapshots with --snapshot FILE "
			"--retained)\n");
		return;
	}
	fprintf(f, "\n  retainers that grew (first snapshot to last):\n");
	for (size_t i = 0; i < r->nretainers && shown < top; i++) {
		const struct diff_retainer *w = &r->retainers[i];

		if (w->bytes_b <= w->bytes_a)
			break;
		shown++;
		fprintf(f, "  %11s %10s chunks  ", human_delta(w->bytes_a, w->bytes_b, b1, sizeof(b1)),
			count_delta(w->chunks_a, w->chunks_b, b2, sizeof(b2)));
		fput_printable(f, w->name);
		fprintf(f, " (%s)", retain_kind_name(w->kind));
		if (w->type) {
			fprintf(f, "; most of it ");
			fput_printable(f, w->type);
			fprintf(f, " %s, %s chunks",
				human_delta(w->type_bytes_a, w->type_bytes_b, b3, sizeof(b3)),
				count_delta(w->type_chunks_a, w->type_chunks_b, b4, sizeof(b4)));
		}
		fputc('\n', f);
	}
	if (!shown)
		fprintf(f, "  none\n");
}

static void
diff_text(FILE *f, const struct snap_info *info, const struct diff_result *r, int top)
{
	text_snapshots(f, info, r);
	if (r->nsnaps == 2)
		text_compare(f, r, top);
	else
		text_series(f, r, top);
	text_samples(f, r, top);
	text_content(f, r, top);
	text_totals(f, r);
	text_leaks(f, r, top);
	text_retainers(f, r, top);
}

/* ---- JSON ------------------------------------------------------------------ */

static void
json_u64s(FILE *f, const char *key, const uint64_t *v, size_t n)
{
	fprintf(f, ", \"%s\": [", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", v[i]);
	fputc(']', f);
}

static void
json_delta(FILE *f, const char *key, uint64_t from, uint64_t to)
{
	if (to >= from)
		fprintf(f, ", \"%s\": %" PRIu64, key, to - from);
	else
		fprintf(f, ", \"%s\": -%" PRIu64, key, from - to);
}

static void
json_snapshots(FILE *f, const struct snap_info *info, const struct diff_result *r)
{
	fprintf(f, "\"snapshots\": [");
	for (size_t i = 0; i < r->nsnaps; i++) {
		fprintf(f, "%s\n  {\"path\": ", i ? "," : "");
		json_str(f, info[i].path);
		fprintf(f, ", \"pid\": %d, \"cmdline\": ", info[i].pid);
		json_str(f, info[i].cmdline);
		fprintf(f, ", \"time\": %" PRId64 ", \"format_version\": %u, \"heapscan_version\": ",
			info[i].time, info[i].version);
		json_str(f, info[i].heapscan_version);
		fprintf(f, ", \"in_use_chunks\": %" PRIu64 ", \"in_use_bytes\": %" PRIu64 "}",
			r->chunks[i], r->bytes[i]);
	}
	fprintf(f, "]");
}

static void
json_row(FILE *f, const struct diff_row *w, size_t n, bool leaks)
{
	fprintf(f, "{\"name\": ");
	json_str(f, w->name);
	fprintf(f, ", \"kind\": \"%s\", \"size\": %" PRIu64 ", \"count_a\": %" PRIu64
		", \"count_b\": %" PRIu64 ", \"bytes_a\": %" PRIu64 ", \"bytes_b\": %" PRIu64,
		type_kind_name(w->kind), w->size, w->count[0], w->count[n - 1], w->bytes[0],
		w->bytes[n - 1]);
	json_delta(f, "delta_count", w->count[0], w->count[n - 1]);
	json_delta(f, "delta_bytes", w->bytes[0], w->bytes[n - 1]);
	fprintf(f, ", \"new\": %" PRIu64 ", \"freed\": %" PRIu64 ", \"new_bytes\": %" PRIu64
		", \"freed_bytes\": %" PRIu64 ", \"sample_new\": ", w->new_chunks, w->freed_chunks,
		w->new_bytes, w->freed_bytes);
	if (w->new_chunks)
		json_addr(f, CHUNK_USER(w->sample_new));
	else
		fprintf(f, "null");
	if (leaks)
		json_u64s(f, "leaked", w->leaked, n);
	if (n > 2) {
		json_u64s(f, "counts", w->count, n);
		json_u64s(f, "bytes", w->bytes, n);
		fprintf(f, ", \"growth\": ");
		json_num(f, w->growth, 1);
		fprintf(f, ", \"grew_steps\": %d, \"shrank_steps\": %d", w->up, w->down);
	}
	fputc('}', f);
}

static void
diff_json(FILE *f, const struct snap_info *info, const struct diff_result *r)
{
	size_t n = r->nsnaps;

	fprintf(f, "{");
	json_snapshots(f, info, r);
	fprintf(f, ",\n\"types\": [");
	for (size_t i = 0; i < r->nrows; i++) {
		fprintf(f, "%s\n  ", i ? "," : "");
		json_row(f, &r->rows[i], n, r->has_reach);
	}
	fprintf(f, "],\n\"totals\": {\"chunks_a\": %" PRIu64 ", \"chunks_b\": %" PRIu64
		", \"bytes_a\": %" PRIu64 ", \"bytes_b\": %" PRIu64, r->chunks[0], r->chunks[n - 1],
		r->bytes[0], r->bytes[n - 1]);
	json_delta(f, "delta_chunks", r->chunks[0], r->chunks[n - 1]);
	json_delta(f, "delta_bytes", r->bytes[0], r->bytes[n - 1]);
	fprintf(f, ", \"new\": %" PRIu64 ", \"freed\": %" PRIu64 ", \"new_bytes\": %" PRIu64
		", \"freed_bytes\": %" PRIu64, r->new_chunks, r->freed_chunks, r->new_bytes,
		r->freed_bytes);
	if (n > 2) {
		json_u64s(f, "chunks", r->chunks, n);
		json_u64s(f, "bytes", r->bytes, n);
	}
	if (r->has_reach) {
		json_u64s(f, "leaked_chunks", r->leaked, n);
		json_u64s(f, "leaked_bytes", r->leaked_bytes, n);
	}
	fprintf(f, "}");
	if (r->has_retain) {
		fprintf(f, ",\n\"retainers\": [");
		for (size_t i = 0; i < r->nretainers; i++) {
			const struct diff_retainer *w = &r->retainers[i];

			fprintf(f, "%s\n  {\"root\": ", i ? "," : "");
			json_str(f, w->name);
			fprintf(f, ", \"kind\": \"%s\", \"bytes_a\": %" PRIu64 ", \"bytes_b\": %" PRIu64
				", \"chunks_a\": %" PRIu64 ", \"chunks_b\": %" PRIu64,
				retain_kind_name(w->kind), w->bytes_a, w->bytes_b, w->chunks_a, w->chunks_b);
			json_delta(f, "delta_bytes", w->bytes_a, w->bytes_b);
			json_delta(f, "delta_chunks", w->chunks_a, w->chunks_b);
			fprintf(f, ", \"grew_most\": ");
			if (w->type) {
				fprintf(f, "{\"name\": ");
				json_str(f, w->type);
				json_delta(f, "delta_bytes", w->type_bytes_a, w->type_bytes_b);
				json_delta(f, "delta_chunks", w->type_chunks_a, w->type_chunks_b);
				fputc('}', f);
			} else {
				fputs("null", f);
			}
			fputc('}', f);
		}
		fprintf(f, "%s]", r->nretainers ? "\n" : "");
	}
	fprintf(f, "\n}\n");
}

/* ---- SVG ------------------------------------------------------------------- */

/* Length of the valid UTF-8 character XML 1.0 allows at s, or 0. */
static size_t
xml_char_len(const unsigned char *s)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' || s[0] == '\r';
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

/* s as XML character data (or an attribute value): escaped, bytes that are
 * not characters XML allows shown as '?', at most max characters ("..."). */
static void
xml_text(FILE *f, const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t nch = 0; *s; nch++) {
		size_t len = xml_char_len(s);

		if (nch == max) {
			fputs("...", f);
			return;
		}
		if (!len) {
			fputc('?', f);
			s++;
			continue;
		}
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fwrite(s, 1, len, f);
		}
		s += len;
	}
}

/*
 * The chart: small multiples, one panel per top growing type, so no line
 * can hide another and each has its own y scale (from its own low to its
 * own high, not from 0: a rise from 9.7k to 10.9k fills the panel beside a
 * type of 100k).  Each panel's title gives the first and last counts and the
 * change in percent, so panels compare without reading their axes.  The x
 * axis is time since the first snapshot, from the snapshots' timestamps
 * (evenly spaced, and said so, when they do not increase: taken within a
 * second, or given out of order).  Colours (Okabe-Ito, safe for colour
 * blindness) and marker shapes both differ per type.
 *
 *   +----------------------------------------------------------+
 *   | title, process                                           |
 *   | [#1 colour+marker  name (kind)] [#2 ...               ]  |
 *   | [ 9712 -> 10904 chunks, +12%  ] [                     ]  |
 *   | [ y |    ___/ panel           ] [   panel             ]  |
 *   | [   +-----------  0 s  21 s   ] [                     ]  |
 *   +----------------------------------------------------------+
 */
#define PANEL_LEFT 64   /* room for the y labels */
#define PANEL_W 330     /* plot area */
#define PANEL_H 110
#define PANEL_TOP 44    /* two title lines */
#define PANEL_BOTTOM 34 /* x labels and their title */
#define PANEL_GAP 26
#define CHART_TOP 54

struct chart {
	double x0, y0, w, h;  /* plot area: left, top, width, height */
	uint64_t lo, hi;      /* y range */
	uint64_t step;        /* between y ticks */
	size_t n;             /* snapshots */
	const double *tx;     /* each snapshot's x as a fraction of w */
};

static double
chart_x(const struct chart *c, size_t i)
{
	return c->x0 + c->w * c->tx[i];
}

static double
chart_y(const struct chart *c, uint64_t v)
{
	return c->y0 + c->h - c->h * (double)(v - c->lo) / (double)(c->hi - c->lo);
}

/* y range and ticks: a 1, 2 or 5 times a power of ten step, about 4 ticks. */
static void
chart_scale(struct chart *c, uint64_t min, uint64_t max)
{
	uint64_t range = max > min ? max - min : 1, p = 1;

	while (p <= UINT64_MAX / 10 && p * 10 <= range / 4)
		p *= 10;
	c->step = range / p <= 4 ? p : range / p <= 8 ? 2 * p : 5 * p;
	c->lo = min / c->step * c->step;
	c->hi = (max / c->step + 1) * c->step;
	if (max % c->step == 0 && max > min)
		c->hi = max;
}

/* x positions from the timestamps; false (evenly spaced) when they do not increase */
static bool
time_axis(const struct snap_info *info, size_t n, double *tx)
{
	bool timed = n > 1 && info[n - 1].time > info[0].time;

	for (size_t i = 1; timed && i < n; i++)
		timed = info[i].time >= info[i - 1].time;
	for (size_t i = 0; i < n; i++)
		tx[i] = timed ? (double)(info[i].time - info[0].time) /
				(double)(info[n - 1].time - info[0].time)
			      : n > 1 ? (double)i / (double)(n - 1) : 0.5;
	return timed;
}

/* "21 s", "4.5 min", "3.2 h", "2.0 d" */
static void
elapsed(char *buf, size_t len, int64_t s)
{
	if (s < 120)
		snprintf(buf, len, "%" PRId64 " s", s);
	else if (s < 2 * 3600)
		snprintf(buf, len, "%.1f min", (double)s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%.1f h", (double)s / 3600);
	else
		snprintf(buf, len, "%.1f d", (double)s / 86400);
}

static const char *const svg_colours[SVG_LINES] = {
	"#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#8C564B",
};

/* A marker of shape k (circle, square, triangles, diamond, cross, x, star) at x, y. */
static void
svg_marker(FILE *f, unsigned k, double x, double y, const char *colour)
{
	switch (k % SVG_LINES) {
	case 0:
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", x, y, colour);
		break;
	case 1:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"%s\"/>\n",
			x - 4, y - 4, colour);
		break;
	case 2:
		fprintf(f, "<path d=\"M%.1f %.1fl5 9h-10z\" fill=\"%s\"/>\n", x, y - 5, colour);
		break;
	case 3:
		fprintf(f, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\" fill=\"%s\"/>\n", x, y - 5, colour);
		break;
	case 4:
		fprintf(f, "<path d=\"M%.1f %.1fl5 -9h-10z\" fill=\"%s\"/>\n", x, y + 5, colour);
		break;
	case 5:
		fprintf(f, "<path d=\"M%.1f %.1fh10M%.1f %.1fv10\" stroke=\"%s\" stroke-width=\"3\"/>\n",
			x - 5, y, x, y - 5, colour);
		break;
	case 6:
		fprintf(f, "<path d=\"M%.1f %.1fl8 8M%.1f %.1fl-8 8\" stroke=\"%s\" stroke-width=\"3\"/>\n",
			x - 4, y - 4, x + 4, y - 4, colour);
		break;
	default:
		fprintf(f, "<path d=\"M%.1f %.1fl1.5 3.5h3.5l-3 2.3l1.2 3.7l-3.2 -2.3l-3.2 2.3l1.2 -3.7"
			"l-3 -2.3h3.5z\" fill=\"%s\"/>\n", x, y - 5, colour);
	}
}

static void
svg_panel_axes(FILE *f, const struct chart *c, const struct snap_info *info, bool timed)
{
	size_t every = c->n > 8 ? (c->n + 7) / 8 : 1;
	char t[32];

	fprintf(f, "<g stroke=\"#000\" stroke-width=\"1\">\n"
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n</g>\n",
		c->x0, c->y0, c->x0, c->y0 + c->h, c->x0, c->y0 + c->h, c->x0 + c->w, c->y0 + c->h);
	fprintf(f, "<g font-size=\"10\" text-anchor=\"end\">\n");
	for (uint64_t v = c->lo; v <= c->hi; v += c->step) {
		double y = chart_y(c, v);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
			"<text x=\"%.1f\" y=\"%.1f\">%" PRIu64 "</text>\n",
			c->x0 + 1, y, c->x0 + c->w, y, c->x0 - 5, y + 3.5, v);
		if (c->hi - v < c->step)
			break;
	}
	fprintf(f, "</g>\n<g font-size=\"10\" text-anchor=\"middle\">\n");
	for (size_t i = 0; i < c->n; i++) {
		double x = chart_x(c, i);
		bool label = i % every == 0 || i == c->n - 1;

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>",
			x, c->y0 + c->h, x, c->y0 + c->h + 4);
		if (!label) {
			fputc('\n', f);
			continue;
		}
		if (timed)
			elapsed(t, sizeof(t), info[i].time - info[0].time);
		else
			snprintf(t, sizeof(t), "#%zu", i + 1);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s<title>", x, c->y0 + c->h + 15, t);
		xml_text(f, info[i].path, 200);
		fprintf(f, "</title></text>\n");
	}
	fprintf(f, "</g>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\" "
		"text-anchor=\"middle\">%s</text>\n", c->x0 + c->w / 2, c->y0 + c->h + 29,
		timed ? "time since the first snapshot" : "snapshot (evenly spaced: no increasing timestamps)");
}

static void
svg_panel(FILE *f, const struct chart *c0, const struct diff_row *w, unsigned k,
	  const struct snap_info *info, bool timed)
{
	struct chart c = *c0;
	uint64_t min = UINT64_MAX, max = 0, first = w->count[0], last = w->count[c.n - 1];
	const char *colour = svg_colours[k % SVG_LINES];

	for (size_t i = 0; i < c.n; i++) {
		min = w->count[i] < min ? w->count[i] : min;
		max = w->count[i] > max ? w->count[i] : max;
	}
	chart_scale(&c, min, max);
	/* title: marker, name, kind; then the change */
	svg_marker(f, k, c.x0 - PANEL_LEFT + 8, c.y0 - PANEL_TOP + 10, colour);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" font-weight=\"bold\" fill=\"%s\">",
		c.x0 - PANEL_LEFT + 18, c.y0 - PANEL_TOP + 14, colour);
	xml_text(f, w->name, SVG_NAME_MAX);
	fprintf(f, "<title>");
	xml_text(f, w->name, 400);
	fprintf(f, "</title></text>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#333\">"
		"%s: %" PRIu64 " \xe2\x86\x92 %" PRIu64 " chunks", c.x0 - PANEL_LEFT + 18,
		c.y0 - PANEL_TOP + 30, type_kind_name(w->kind), first, last);
	if (first)
		fprintf(f, " (%+.1f%%)", 100.0 * ((double)last - (double)first) / (double)first);
	else
		fprintf(f, " (new)");
	fprintf(f, "</text>\n");
	svg_panel_axes(f, &c, info, timed);
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
	for (size_t i = 0; i < c.n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", chart_x(&c, i), chart_y(&c, w->count[i]));
	fprintf(f, "\"><title>");
	xml_text(f, w->name, 400);
	fprintf(f, "</title></polyline>\n");
	for (size_t i = 0; i < c.n; i++)
		svg_marker(f, k, chart_x(&c, i), chart_y(&c, w->count[i]), colour);
}

static void
svg_write(FILE *f, const struct snap_info *info, const struct diff_result *r)
{
	const struct diff_row *top[SVG_LINES];
	size_t nl = 0, n = r->nsnaps, cols, rows;
	double *tx = xmalloc((n ? n : 1) * sizeof(*tx));
	double cell_w = PANEL_LEFT + PANEL_W + PANEL_GAP, cell_h = PANEL_TOP + PANEL_H + PANEL_BOTTOM + 8;
	double width, height;
	bool timed = time_axis(info, n, tx);
	char when[64];
	struct tm tm;
	time_t t0 = (time_t)info[0].time;

	for (size_t i = 0; i < r->nrows && nl < SVG_LINES; i++)
		if (r->rows[i].growth > 0)
			top[nl++] = &r->rows[i];
	cols = nl > 1 ? 2 : 1;
	rows = nl ? (nl + cols - 1) / cols : 1;
	width = 20 + cell_w * (double)cols;
	height = CHART_TOP + cell_h * (double)rows + 10;
	if (!gmtime_r(&t0, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof(when), "?");
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n", width, height, width, height);
	fprintf(f, "<text x=\"20\" y=\"22\" font-size=\"14\">heapscan --diff: chunks of the top "
		"growing types over %zu snapshots (each on its own scale)</text>\n"
		"<text x=\"20\" y=\"40\" font-size=\"11\" fill=\"#333\">process %d: ", n, info[0].pid);
	xml_text(f, info[0].cmdline, 70);
	fprintf(f, "; first snapshot %s</text>\n", when);
	for (size_t i = 0; i < nl; i++) {
		struct chart c = { .n = n, .tx = tx, .w = PANEL_W, .h = PANEL_H };

		c.x0 = 20 + cell_w * (double)(i % cols) + PANEL_LEFT;
		c.y0 = CHART_TOP + cell_h * (double)(i / cols) + PANEL_TOP;
		fprintf(f, "<g>\n");
		svg_panel(f, &c, top[i], (unsigned)i, info, timed);
		fprintf(f, "</g>\n");
	}
	if (!nl)
		fprintf(f, "<text x=\"20\" y=\"%d\" font-size=\"12\">no type grew</text>\n",
			CHART_TOP + 20);
	fprintf(f, "</svg>\n");
	free(tx);
}

/* Write the chart to a temporary file beside path and rename it over path:
 * a reader never sees half a chart, and a failure leaves nothing behind. */
static int
svg_save(const char *path, const struct snap_info *info, const struct diff_result *r)
{
	struct outfile of;
	FILE *f;
	int ok;

	if (outfile_open(&of, path, 0666) < 0) /* a chart holds no heap bytes: the usual mode */
		return -1;
	if (!(f = fdopen(dup(of.fd), "w"))) {
		perror_msg("writing %s", path);
		return outfile_close(&of, 0);
	}
	svg_write(f, info, r);
	ok = fflush(f) == 0 && !ferror(f);
	if (fclose(f) != 0 || !ok) {
		perror_msg("writing %s", path);
		ok = 0;
	}
	return outfile_close(&of, ok);
}

/* ---- the command ------------------------------------------------------------- */

int
diff_run(char *const *paths, int npaths, const struct diff_opts *o)
{
	struct snap_info *info;
	struct diff_result r;
	int ret = EXIT_FAIL;

	if (npaths < 2) {
		error_msg("--diff compares two snapshots or more; %s given",
			  npaths == 1 ? "one was" : "none were");
		return EXIT_USAGE;
	}
	info = xcalloc((size_t)npaths, sizeof(*info));
	if (read_and_compute(paths, (size_t)npaths, o->force, info, &r) < 0)
		goto out;
	/* The chart first: when it cannot be written, stdout stays empty. */
	if (o->svg && svg_save(o->svg, info, &r) < 0)
		goto out;
	if (o->json)
		diff_json(stdout, info, &r);
	else
		diff_text(stdout, info, &r, o->top);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror_msg("writing the diff");
		goto out;
	}
	ret = EXIT_OK;
out:
	diff_result_free(&r);
	for (int i = 0; i < npaths; i++)
		free(info[i].cmdline);
	free(info);
	return ret;
}
