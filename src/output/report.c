/*
 * report.c - the text and JSON reports of a scan.
 *
 * Both are built from the same per-size histogram, so they cannot disagree.
 * The histogram is a small open-addressing table keyed by (kind, size):
 * a heap has millions of chunks but only hundreds of distinct sizes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "par.h"
#include "report.h"
#include "report_py.h"
#include "xmalloc.h"

struct size_row {
	uint64_t key;   /* size << 4 | kind; 0 = empty slot */
	uint64_t count, bytes, mmapped;
};

struct size_hist {
	struct size_row *rows;
	size_t cap, n;
};

/* The row of key, made if new. */
static inline struct size_row *
hist_row(struct size_hist *h, uint64_t key)
{
	size_t i;

	if ((h->n + 1) * 2 > h->cap) {
		struct size_hist g = { xcalloc(h->cap ? h->cap * 2 : 256, sizeof(*g.rows)),
				       h->cap ? h->cap * 2 : 256, 0 };

		for (size_t j = 0; j < h->cap; j++) {
			struct size_row *r = &h->rows[j];

			if (!r->key)
				continue;
			for (i = (r->key * 0x9e3779b97f4a7c15ULL) >> 40; g.rows[i & (g.cap - 1)].key; i++)
				;
			g.rows[i & (g.cap - 1)] = *r;
			g.n++;
		}
		free(h->rows);
		*h = g;
	}
	for (i = (key * 0x9e3779b97f4a7c15ULL) >> 40;; i++) {
		struct size_row *r = &h->rows[i & (h->cap - 1)];

		if (!r->key) {
			r->key = key;
			h->n++;
		}
		if (r->key == key)
			return r;
	}
}

static void
hist_add(struct size_hist *h, uint64_t key, uint64_t size, bool mmapped)
{
	struct size_row *r = hist_row(h, key);

	r->count++;
	r->bytes += size;
	r->mmapped += mmapped;
}

/* Pack the table and sort: by kind, then by bytes descending, then size. */
static int
by_kind_bytes(const void *a, const void *b)
{
	const struct size_row *x = a, *y = b;

	if ((x->key & 15) != (y->key & 15))
		return (x->key & 15) < (y->key & 15) ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* One part of the chunks into its own table.  Most chunks are small and
 * of few sizes: those are counted in an array by size first (a hash
 * probe a chunk was most of this pass), and go into the table at the end. */
#define HIST_DIRECT 4096 /* shown sizes below this, a multiple of 16 */

struct hist_job {
	const struct heap_model *m;
	struct size_hist *part;
};

static void
hist_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct hist_job *j = arg;
	struct size_hist *h = &j->part[part];
	uint64_t (*direct)[HIST_DIRECT / 16] = xcalloc(CK__N, sizeof(*direct));

	for (size_t i = begin; i < end; i++) {
		const struct hs_chunk *c = &j->m->chunks[i];
		unsigned kind = c->kind == CK_MMAPPED ? CK_INUSE : c->kind;
		uint64_t size = chunk_shown_size(j->m, c);

		if (kind == CK_TOP)
			continue;
		if (size < HIST_DIRECT && !(size & 15) && c->kind != CK_MMAPPED) {
			direct[kind][size / 16]++;
			continue;
		}
		hist_add(h, size << 4 | kind, size, c->kind == CK_MMAPPED);
	}
	for (unsigned kind = 0; kind < CK__N; kind++)
		for (uint64_t k = 0; k < HIST_DIRECT / 16; k++) {
			struct size_row *r;

			if (!direct[kind][k])
				continue;
			r = hist_row(h, k * 16 << 4 | kind);
			r->count += direct[kind][k];
			r->bytes += direct[kind][k] * k * 16;
		}
	free(direct);
}

/* The parts' tables summed (sums: the same in any order), then sorted. */
static void
hist_build(const struct heap_model *m, struct size_hist *h)
{
	unsigned parts = par_parts(m->nchunks);
	struct hist_job j = { m, xcalloc(parts, sizeof(*j.part)) };
	size_t k = 0;

	par_run(m->nchunks, parts, hist_part, &j);
	*h = j.part[0];
	for (unsigned p = 1; p < parts; p++) {
		for (size_t i = 0; i < j.part[p].cap; i++) {
			const struct size_row *r = &j.part[p].rows[i];
			struct size_row *d;

			if (!r->key)
				continue;
			d = hist_row(h, r->key);
			d->count += r->count;
			d->bytes += r->bytes;
			d->mmapped += r->mmapped;
		}
		free(j.part[p].rows);
	}
	free(j.part);
	for (size_t i = 0; i < h->cap; i++)
		if (h->rows[i].key)
			h->rows[k++] = h->rows[i];
	h->n = k;
	if (k) /* a heap of no chunks has no rows array: qsort wants a pointer */
		qsort(h->rows, k, sizeof(*h->rows), by_kind_bytes);
}

static uint64_t
free_count(const uint64_t *count)
{
	uint64_t n = 0;

	for (int k = CK_TCACHE; k < CK__N; k++)
		n += count[k];
	return n;
}

static void
text_totals(FILE *f, const struct heap_model *m)
{
	static const struct { int kind; const char *label; } rows[] = {
		{ CK_INUSE, "in use" }, { CK_MMAPPED, "mmapped (in use)" },
		{ CK_TCACHE, "free: tcache" }, { CK_FASTBIN, "free: fastbins" },
		{ CK_UNSORTED, "free: unsorted bin" }, { CK_SMALLBIN, "free: small bins" },
		{ CK_LARGEBIN, "free: large bins" }, { CK_TOP, "free: top" },
	};
	char b[32];

	fprintf(f, "\n  %-22s %12s %12s\n", "", "chunks", "bytes");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "  %-22s %12" PRIu64 " %12s\n", rows[i].label, m->count[rows[i].kind],
			human_bytes(m->bytes[rows[i].kind], b, sizeof(b)));
	fprintf(f, "  %-22s %12" PRIu64 " %12s\n", "free: total", free_count(m->count),
		human_bytes(free_count(m->bytes), b, sizeof(b)));
}

static void
text_arenas(FILE *f, const struct heap_model *m)
{
	char b1[32], b2[32], b3[32];

	fprintf(f, "\n  %-18s %5s %10s %11s %10s %11s %11s\n", "arena", "heaps", "in use",
		"bytes", "free", "bytes", "top");
	for (size_t i = 0; i < m->narenas; i++) {
		const struct arena_info *a = &m->arenas[i];

		fprintf(f, "  0x%-16" PRIx64 " %5d %10" PRIu64 " %11s %10" PRIu64 " %11s %11s%s%s\n",
			a->addr, a->nheaps, a->count[CK_INUSE], human_bytes(a->bytes[CK_INUSE], b1, sizeof(b1)),
			free_count(a->count), human_bytes(free_count(a->bytes), b2, sizeof(b2)),
			human_bytes(a->bytes[CK_TOP], b3, sizeof(b3)), a->main ? "  main" : "",
			a->busy ? "  BUSY" : "");
	}
}

static void
text_sizes(FILE *f, const struct size_hist *h, int top, bool classes)
{
	char b[32];
	int shown = 0;

	fprintf(f, "\n  largest chunk sizes by bytes (in use, %s):\n",
		classes ? "the allocator's size classes" : "header included");
	fprintf(f, "  %10s %12s %12s\n", "size", "count", "bytes");
	for (size_t i = 0; i < h->n && shown < top; i++) {
		const struct size_row *r = &h->rows[i];

		if ((r->key & 15) != CK_INUSE)
			continue;
		fprintf(f, "  %#10" PRIx64 " %12" PRIu64 " %12s%s\n", r->key >> 4, r->count,
			human_bytes(r->bytes, b, sizeof(b)), r->mmapped ? "  (mmapped)" : "");
		shown++;
	}
}

static void
text_problems(FILE *f, const struct scan *s)
{
	const struct heap_model *m = &s->heap;

	if (s->tcache_unknown)
		fprintf(f, "\n  note: thread caches could not be located; tcache'd chunks count as in use\n");
	if (s->nbusy > 0) {
		fprintf(f, "\n  note: %d arena(s) were locked by a thread inside malloc at every one of %d "
			"stops; their free-list figures may be off by the chunks being moved:\n",
			s->nbusy, s->attempts);
		for (int i = 0; i < s->nbusy && i < SCAN_MAX_BUSY; i++)
			fprintf(f, "    arena 0x%" PRIx64 "\n", s->busy[i]);
	}
	if (!m->nproblems)
		return;
	fprintf(f, "\n  heap problems (%zu%s):\n", m->nproblems + m->problems_dropped,
		m->problems_dropped ? ", first 1000 shown" : "");
	for (size_t i = 0; i < m->nproblems; i++) {
		fprintf(f, "    0x%" PRIx64 ": ", m->problems[i].addr);
		fput_printable(f, m->problems[i].what);
		fputc('\n', f);
	}
}

static int
by_count_desc(const void *a, const void *b)
{
	const struct type_entry *x = *(const struct type_entry *const *)a;
	const struct type_entry *y = *(const struct type_entry *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

static void
text_type_rows(FILE *f, const struct type_entry *const *rows, size_t n, int top)
{
	char b[32];

	fprintf(f, "  %-7s %10s %11s  %-18s %s\n", "kind", "chunks", "bytes", "sample", "type");
	for (size_t i = 0; i < n && (int)i < top; i++) {
		const struct type_entry *t = rows[i];

		fprintf(f, "  %-7s %10" PRIu64 " %11s  0x%-16" PRIx64 " ", type_kind_name(t->kind),
			t->count, human_bytes(t->bytes, b, sizeof(b)), CHUNK_USER(t->sample));
		fput_printable(f, t->name);
		if ((t->kind == TK_CONTENT || t->kind == TK_SHAPE) && t->size)
			fprintf(f, "  (0x%" PRIx64 "-byte chunks)", t->size);
		fputc('\n', f);
	}
}

static void
text_types(FILE *f, const struct type_table *t, int top)
{
	const struct type_entry **rows;

	if (!t || !t->ntypes)
		return;
	rows = xmalloc(t->ntypes * sizeof(*rows));
	for (size_t i = 0; i < t->ntypes; i++)
		rows[i] = &t->types[i];
	fprintf(f, "\n  top types by bytes (in-use chunks):\n");
	text_type_rows(f, rows, t->ntypes, top);
	qsort(rows, t->ntypes, sizeof(*rows), by_count_desc);
	fprintf(f, "\n  top types by count:\n");
	text_type_rows(f, rows, t->ntypes, top);
	free(rows);
}

void
report_vtables(FILE *f, const struct type_table *t)
{
	for (size_t i = 0; i < t->nclasses; i++) {
		fprintf(f, "%" PRIu64 "\t", t->classes[i].instances);
		fput_printable(f, t->classes[i].name);
		fputc('\n', f);
	}
}

/* How malloc's state was found: nothing when the scan does not say. */
static void
text_found_by(FILE *f, const struct libc_info *l)
{
	const char *by = libc_found_by_name(l->found_by);

	if (by)
		fprintf(f, "  malloc's state found by: %s%s\n", by,
			l->version_inferred ? " (no version string: glibc version inferred)" : "");
}

static void
json_found_by(FILE *f, const struct libc_info *l)
{
	const char *by = libc_found_by_name(l->found_by);

	fprintf(f, ", \"found_by\": ");
	if (!by) {
		fprintf(f, "null, \"glibc_inferred\": false, \"main_arena\": null, \"mp\": null"
			", \"tcache_tpoff\": null");
		return;
	}
	json_str(f, by);
	fprintf(f, ", \"glibc_inferred\": %s, \"main_arena\": ", l->version_inferred ? "true" : "false");
	json_addr(f, l->main_arena);
	fprintf(f, ", \"mp\": ");
	if (l->mp)
		json_addr(f, l->mp);
	else
		fprintf(f, "null");
	if (l->have_tpoff)
		fprintf(f, ", \"tcache_tpoff\": %" PRId64, l->tcache_tpoff);
	else
		fprintf(f, ", \"tcache_tpoff\": null");
}

/* What heapscan cannot see: said plainly, since a Python process would
 * otherwise look nearly empty (unseen.h). */
static void
text_unseen(FILE *f, const struct scan *s)
{
	char b[32];

	if (!s->have_unseen || !s->unseen.bytes)
		return;
	fprintf(f, "\n  not malloc's: %s of anonymous memory in %" PRIu64 " mapping%s holds no malloc "
		"chunk%s%s%s\n", human_bytes(s->unseen.bytes, b, sizeof(b)), s->unseen.regions,
		s->unseen.regions == 1 ? "" : "s", s->unseen.hint ? " (" : "",
		s->unseen.hint ? s->unseen.hint : "", s->unseen.hint ? "?)" : "");
	fprintf(f, "  (heapscan sees glibc malloc's chunks only: %s)\n",
		s->unseen.hint ? "that memory is managed by another allocator"
			       : "memory a program maps and manages itself is not in this report");
}

void
report_text(FILE *f, const struct scan *s, const struct type_table *types,
	    const struct report_opts *o)
{
	const struct heap_model *m = &s->heap;
	struct size_hist h;
	char b[32];

	hist_build(m, &h);
	fprintf(f, "process %d: ", (int)s->pid);
	fput_printable(f, s->cmdline);
	fprintf(f, "\n  %s", s->jemalloc ? "" : "glibc ");
	fput_printable(f, s->libc.version);
	fprintf(f, ", %zu thread%s, %zu arena%s, ", s->nthreads, s->nthreads == 1 ? "" : "s",
		m->narenas, m->narenas == 1 ? "" : "s");
	if (s->origin) {
		fputs("read from ", f);
		fput_printable(f, s->origin);
		fprintf(f, ", copied %s", human_bytes(s->copied_bytes, b, sizeof(b)));
	} else if (s->was_stopped) {
		/* a process that was stopped already was not paused by heapscan:
		 * the copy's time is no stop window of ours */
		fprintf(f, "already stopped (stays stopped), copied %s in ",
			human_bytes(s->copied_bytes, b, sizeof(b)));
		fput_num(f, s->pause_ms, 2);
		fputs(" ms", f);
	} else {
		fputs("stopped ", f);
		fput_num(f, s->pause_ms, 2);
		fprintf(f, " ms%s, copied %s", s->attempts > 1 ? " (last of several stops)" : "",
			human_bytes(s->copied_bytes, b, sizeof(b)));
	}
	if (s->holes) /* what lies there is not counted */
		fprintf(f, ", %zu range%s unreadable", s->holes, s->holes == 1 ? "" : "s");
	fputc('\n', f);
	text_found_by(f, &s->libc);
	text_totals(f, m);
	text_unseen(f, s);
	text_arenas(f, m);
	text_sizes(f, &h, o->top, m->pad != 0);
	text_types(f, types, o->top);
	report_py_text(f, types, o->top);
	text_problems(f, s);
	free(h.rows);
}

static void
json_kind_totals(FILE *f, const uint64_t *count, const uint64_t *bytes)
{
	for (int k = CK_TCACHE; k <= CK_TOP; k++)
		fprintf(f, ", \"%s_chunks\": %" PRIu64 ", \"%s_bytes\": %" PRIu64, chunk_kind_name(k),
			count[k], chunk_kind_name(k), bytes[k]);
}

static void
json_ms(FILE *f, const char *key, double ms)
{
	fprintf(f, ", \"%s\": ", key);
	json_num(f, ms, 3);
}

static void
json_summary(FILE *f, const struct scan *s)
{
	const struct heap_model *m = &s->heap;

	fprintf(f, "\"summary\": {\"pid\": %d, \"cmdline\": ", (int)s->pid);
	json_str(f, s->cmdline);
	fprintf(f, ", \"glibc\": ");
	json_str(f, s->libc.version);
	/* whose malloc was walked (a snapshot keeps the version string only) */
	fprintf(f, ", \"allocator\": %s", s->foreign ? "null" : !s->jemalloc ? "\"glibc\""
		: !strncmp(s->libc.version, "tcmalloc ", 9) ? "\"tcmalloc\"" : "\"jemalloc\"");
	json_found_by(f, &s->libc);
	fprintf(f, ", \"threads\": %zu, \"arenas\": %zu", s->nthreads, m->narenas);
	json_ms(f, "pause_ms", s->pause_ms);
	json_ms(f, "pause_total_ms", s->pause_total_ms);
	json_ms(f, "prepare_ms", s->prepare_ms);
	json_ms(f, "walk_ms", s->walk_ms);
	json_ms(f, "analyze_ms", s->analyze_ms);
	fprintf(f, ", \"attempts\": %d, \"busy_arenas\": %d, \"was_stopped\": %s, \"copied_bytes\": %" PRIu64
		", \"holes\": %zu, \"tcaches\": %d, \"tcache_unknown\": %s",
		s->attempts,
		s->nbusy > 0 ? s->nbusy : 0, s->was_stopped ? "true" : "false", s->copied_bytes,
		s->holes, m->tcaches, s->tcache_unknown ? "true" : "false");
	fprintf(f, ", \"in_use_chunks\": %" PRIu64 ", \"in_use_bytes\": %" PRIu64
		", \"free_chunks\": %" PRIu64 ", \"free_bytes\": %" PRIu64
		", \"mmapped_chunks\": %" PRIu64 ", \"mmapped_bytes\": %" PRIu64,
		m->count[CK_INUSE], m->bytes[CK_INUSE], free_count(m->count), free_count(m->bytes),
		m->count[CK_MMAPPED], m->bytes[CK_MMAPPED]);
	json_kind_totals(f, m->count, m->bytes);
	if (m->mp_valid)
		fprintf(f, ", \"glibc_mmapped_chunks\": %" PRId64 ", \"glibc_mmapped_bytes\": %" PRIu64,
			m->mp_n_mmaps, m->mp_mmapped_mem);
	fprintf(f, ", \"problems\": %zu}", m->nproblems + m->problems_dropped);
}

static void
json_arenas(FILE *f, const struct heap_model *m)
{
	fprintf(f, ",\n\"arenas\": [");
	for (size_t i = 0; i < m->narenas; i++) {
		const struct arena_info *a = &m->arenas[i];

		fprintf(f, "%s\n  {\"address\": ", i ? "," : "");
		json_addr(f, a->addr);
		fprintf(f, ", \"main\": %s, \"busy\": %s, \"heaps\": %d, \"system_mem\": %" PRIu64
			", \"unaccounted_bytes\": %" PRIu64 ", \"in_use_chunks\": %" PRIu64
			", \"in_use_bytes\": %" PRIu64 ", \"free_chunks\": %" PRIu64
			", \"free_bytes\": %" PRIu64,
			a->main ? "true" : "false", a->busy ? "true" : "false", a->nheaps, a->system_mem,
			a->unaccounted, a->count[CK_INUSE], a->bytes[CK_INUSE], free_count(a->count),
			free_count(a->bytes));
		json_kind_totals(f, a->count, a->bytes);
		fputc('}', f);
	}
	fprintf(f, "]");
}

static void
json_sizes(FILE *f, const struct size_hist *h)
{
	bool first = true;

	fprintf(f, ",\n\"sizes\": [");
	for (size_t i = 0; i < h->n; i++) {
		const struct size_row *r = &h->rows[i];

		if ((r->key & 15) != CK_INUSE)
			continue;
		fprintf(f, "%s\n  {\"size\": %" PRIu64 ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"mmapped\": %" PRIu64 "}", first ? "" : ",", r->key >> 4, r->count, r->bytes,
			r->mmapped);
		first = false;
	}
	fprintf(f, "]");
	first = true;
	fprintf(f, ",\n\"free_sizes\": [");
	for (size_t i = 0; i < h->n; i++) {
		const struct size_row *r = &h->rows[i];

		if ((r->key & 15) == CK_INUSE)
			continue;
		fprintf(f, "%s\n  {\"kind\": \"%s\", \"size\": %" PRIu64 ", \"count\": %" PRIu64
			", \"bytes\": %" PRIu64 "}", first ? "" : ",", chunk_kind_name(r->key & 15),
			r->key >> 4, r->count, r->bytes);
		first = false;
	}
	fprintf(f, "]");
}

static void
json_problems(FILE *f, const struct scan *s)
{
	const struct heap_model *m = &s->heap;

	fprintf(f, ",\n\"busy_arenas\": [");
	for (int i = 0; i < s->nbusy && i < SCAN_MAX_BUSY; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_addr(f, s->busy[i]);
	}
	fprintf(f, "],\n\"problems\": [");
	for (size_t i = 0; i < m->nproblems; i++) {
		fprintf(f, "%s\n  {\"address\": ", i ? "," : "");
		json_addr(f, m->problems[i].addr);
		fprintf(f, ", \"what\": ");
		json_str(f, m->problems[i].what);
		fputc('}', f);
	}
	fprintf(f, "]");
}

static void
json_types(FILE *f, const struct type_table *t)
{
	fprintf(f, ",\n\"types\": [");
	for (size_t i = 0; t && i < t->ntypes; i++) {
		const struct type_entry *e = &t->types[i];

		fprintf(f, "%s\n  {\"kind\": \"%s\", \"name\": ", i ? "," : "", type_kind_name(e->kind));
		json_str(f, e->name);
		fprintf(f, ", \"size\": %" PRIu64 ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"sample\": ", e->size, e->count, e->bytes);
		json_addr(f, CHUNK_USER(e->sample));
		fputc('}', f);
	}
	fprintf(f, "],\n\"classes\": [");
	for (size_t i = 0; t && i < t->nclasses; i++) {
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		json_str(f, t->classes[i].name);
		fprintf(f, ", \"runtime\": \"c++\", \"instances\": %" PRIu64 ", \"sample\": ",
			t->classes[i].instances);
		json_addr(f, t->classes[i].sample);
		fputc('}', f);
	}
	report_py_json_classes(f, t, !t || !t->nclasses);
	fprintf(f, "]");
	report_py_json_summary(f, t);
}

/* null when not measured: a snapshot does not keep it */
static void
json_unseen(FILE *f, const struct scan *s)
{
	fprintf(f, ",\n\"not_malloc\": ");
	if (!s->have_unseen) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"bytes\": %" PRIu64 ", \"mappings\": %" PRIu64 ", \"hint\": ",
		s->unseen.bytes, s->unseen.regions);
	if (s->unseen.hint)
		json_str(f, s->unseen.hint);
	else
		fprintf(f, "null");
	fputc('}', f);
}

void
report_json(FILE *f, const struct scan *s, const struct type_table *types)
{
	struct size_hist h;

	hist_build(&s->heap, &h);
	fprintf(f, "{");
	json_summary(f, s);
	json_unseen(f, s);
	json_arenas(f, &s->heap);
	json_sizes(f, &h);
	json_problems(f, s);
	json_types(f, types);
	fprintf(f, "\n}\n");
	free(h.rows);
}
