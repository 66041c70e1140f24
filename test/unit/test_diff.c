/*
 * test_diff.c - heapscan --diff on hand-built snapshots.
 *
 * diff_compute() gets heap models and type tables filled in by hand: chunks
 * in address order, each with a type index (or none for a free chunk), the
 * type tables of the two sides deliberately in different orders, since types
 * must be matched by (kind, name, size) and never by index.  diff_run() gets
 * snapshot files written with snap_write() into a temporary directory, with
 * stdout and stderr caught in files.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diff.h"
#include "error.h"
#include "scan.h"
#include "snapshot.h"
#include "unit.h"

#include <stdio.h>
#include <xxhash.h>
#include <zstd.h>
#include "cluster.h"
#include "image.h"

#define MAXCH 256
#define MAXTY 16

struct side {
	struct hs_chunk ch[MAXCH];
	uint32_t of[MAXCH];
	struct type_entry ty[MAXTY];
	struct heap_model h;
	struct type_table t;
};

static int
ty(struct side *s, enum type_kind k, const char *name, uint64_t size)
{
	struct type_entry *e = &s->ty[s->t.ntypes];

	e->kind = k;
	e->name = (char *)name;
	e->size = size;
	return (int)s->t.ntypes++;
}

/* A chunk at addr (after every chunk added before); type -1: a free chunk. */
static void
ch(struct side *s, uint64_t addr, uint64_t size, int type)
{
	size_t i = s->h.nchunks++;

	if (i >= MAXCH)
		abort(); /* the test's own arrays */
	s->ch[i] = (struct hs_chunk){ .addr = addr, .size = size,
				      .kind = type < 0 ? CK_TCACHE : CK_INUSE, .arena = 0 };
	s->of[i] = type < 0 ? UINT32_MAX : (uint32_t)type;
}

static struct side *
side_new(void)
{
	struct side *s = calloc(1, sizeof(*s));

	s->h.chunks = s->ch;
	s->t.types = s->ty;
	s->t.of_chunk = s->of;
	return s;
}

static struct diff_input
in(struct side *s)
{
	return (struct diff_input){ &s->h, &s->t, NULL };
}

static const struct diff_row *
row(const struct diff_result *r, enum type_kind k, const char *name, uint64_t size)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].kind == k && r->rows[i].size == size && !strcmp(r->rows[i].name, name))
			return &r->rows[i];
	fprintf(stderr, "  no row for %s %s\n", type_kind_name(k), name);
	return NULL;
}

/* Per row: count_b - count_a = new - freed, and the totals are the sums. */
static void
check_identities(const struct diff_result *r)
{
	size_t n = r->nsnaps;
	uint64_t nw = 0, fr = 0;

	for (size_t i = 0; i < r->nrows; i++) {
		const struct diff_row *w = &r->rows[i];

		CHECK_EQ_U64(w->count[n - 1] + w->freed_chunks, w->count[0] + w->new_chunks);
		CHECK_EQ_U64(w->bytes[n - 1] + w->freed_bytes, w->bytes[0] + w->new_bytes);
		CHECK((w->new_chunks == 0) == (w->sample_new == 0));
		nw += w->new_chunks;
		fr += w->freed_chunks;
	}
	CHECK_EQ_U64(r->new_chunks, nw);
	CHECK_EQ_U64(r->freed_chunks, fr);
}

UNIT_TEST(diff_new_and_freed_when_chunks_move)
{
	struct side *a = side_new(), *b = side_new();
	struct diff_input v[2];
	struct diff_result r;
	const struct diff_row *w;
	/* A's table: Order, Item; B's the other way round */
	int ao = ty(a, TK_CLASS, "shop::Order", 0), ai = ty(a, TK_CLASS, "shop::Item", 0);
	int bi = ty(b, TK_CLASS, "shop::Item", 0), bo = ty(b, TK_CLASS, "shop::Order", 0);

	ch(a, 0x1000, 0x40, ao);
	ch(a, 0x1040, 0x40, ao);   /* freed */
	ch(a, 0x1080, 0x40, ai);   /* moves to 0x10c0 */
	ch(a, 0x10c0, 0x40, -1);   /* free in A */
	ch(a, 0x1100, 0x40, ao);
	ch(b, 0x1000, 0x40, bo);
	ch(b, 0x1040, 0x40, -1);
	ch(b, 0x1080, 0x40, -1);
	ch(b, 0x10c0, 0x40, bi);   /* new */
	ch(b, 0x1100, 0x40, bo);
	ch(b, 0x1140, 0x40, bo);   /* new, from top */
	v[0] = in(a);
	v[1] = in(b);
	diff_compute(v, 2, &r);

	CHECK_EQ_U64(r.nrows, 2);
	w = row(&r, TK_CLASS, "shop::Order", 0);
	CHECK(w != NULL);
	if (w) {
		CHECK_EQ_U64(w->count[0], 3);
		CHECK_EQ_U64(w->count[1], 3);
		CHECK_EQ_U64(w->new_chunks, 1);
		CHECK_EQ_U64(w->freed_chunks, 1);
		CHECK_EQ_U64(w->sample_new, 0x1140);
		CHECK_EQ_U64(w->bytes[1], 0xc0);
	}
	w = row(&r, TK_CLASS, "shop::Item", 0);
	CHECK(w != NULL);
	if (w) {
		CHECK_EQ_U64(w->count[0], 1);
		CHECK_EQ_U64(w->count[1], 1);
		CHECK_EQ_U64(w->new_chunks, 1);
		CHECK_EQ_U64(w->freed_chunks, 1);
		CHECK_EQ_U64(w->sample_new, 0x10c0);
		CHECK_EQ_U64(w->freed_bytes, 0x40);
	}
	/* in use: free chunks are not counted */
	CHECK_EQ_U64(r.chunks[0], 4);
	CHECK_EQ_U64(r.chunks[1], 4);
	CHECK_EQ_U64(r.bytes[1], 0x100);
	CHECK_EQ_U64(r.new_chunks, 2);
	CHECK_EQ_U64(r.freed_chunks, 2);
	check_identities(&r);
	diff_result_free(&r);
	free(a);
	free(b);
}

UNIT_TEST(diff_address_reused_by_another_type_or_size)
{
	struct side *a = side_new(), *b = side_new();
	struct diff_input v[2];
	struct diff_result r;
	const struct diff_row *o, *t, *s;
	int ao = ty(a, TK_CLASS, "Node", 0), as = ty(a, TK_SIZE, "0x20 bytes", 0x20);
	int bt = ty(b, TK_CONTENT, "\"text\"", 0x40), bo = ty(b, TK_CLASS, "Node", 0);
	int bs = ty(b, TK_SIZE, "0x20 bytes", 0x20);

	ch(a, 0x2000, 0x40, ao);  /* B: a string at the same address, same size */
	ch(a, 0x2040, 0x40, ao);  /* B: a Node again, but 0x60 bytes (realloc in place) */
	ch(a, 0x20a0, 0x20, as);  /* kept */
	ch(b, 0x2000, 0x40, bt);
	ch(b, 0x2040, 0x60, bo);
	ch(b, 0x20a0, 0x20, bs);
	v[0] = in(a);
	v[1] = in(b);
	diff_compute(v, 2, &r);

	o = row(&r, TK_CLASS, "Node", 0);
	t = row(&r, TK_CONTENT, "\"text\"", 0x40);
	s = row(&r, TK_SIZE, "0x20 bytes", 0x20);
	CHECK(o && t && s);
	if (o && t && s) {
		CHECK_EQ_U64(o->freed_chunks, 2);
		CHECK_EQ_U64(o->new_chunks, 1);
		CHECK_EQ_U64(o->count[0], 2);
		CHECK_EQ_U64(o->count[1], 1);
		CHECK_EQ_U64(t->new_chunks, 1);
		CHECK_EQ_U64(t->freed_chunks, 0);
		CHECK_EQ_U64(t->sample_new, 0x2000);
		CHECK_EQ_U64(s->new_chunks, 0);
		CHECK_EQ_U64(s->freed_chunks, 0);
	}
	check_identities(&r);
	diff_result_free(&r);
	free(a);
	free(b);
}

UNIT_TEST(diff_types_only_in_one_snapshot)
{
	struct side *a = side_new(), *b = side_new();
	struct diff_input v[2];
	struct diff_result r;
	const struct diff_row *gone, *born, *same_name;
	int aw = ty(a, TK_CLASS, "Widget", 0), ax = ty(a, TK_CONTENT, "\"x\"", 0x20);
	int bg = ty(b, TK_CLASS, "Gadget", 0), bx = ty(b, TK_CONTENT, "\"x\"", 0x30);

	ch(a, 0x3000, 0x30, aw);
	ch(a, 0x3030, 0x30, aw);
	ch(a, 0x3060, 0x20, ax);
	ch(a, 0x3080, 0x20, ax);
	ch(b, 0x4000, 0x30, bg);
	ch(b, 0x4030, 0x30, bg);
	ch(b, 0x4060, 0x30, bg);
	ch(b, 0x4090, 0x30, bx); /* same preview, another size: another type */
	ch(b, 0x40c0, 0x30, bx);
	v[0] = in(a);
	v[1] = in(b);
	diff_compute(v, 2, &r);

	CHECK_EQ_U64(r.nrows, 4);
	gone = row(&r, TK_CLASS, "Widget", 0);
	born = row(&r, TK_CLASS, "Gadget", 0);
	same_name = row(&r, TK_CONTENT, "\"x\"", 0x30);
	CHECK(gone && born && same_name);
	if (gone && born && same_name) {
		CHECK_EQ_U64(gone->count[0], 2);
		CHECK_EQ_U64(gone->count[1], 0);
		CHECK_EQ_U64(gone->freed_chunks, 2);
		CHECK_EQ_U64(gone->bytes[1], 0);
		CHECK_EQ_U64(born->count[0], 0);
		CHECK_EQ_U64(born->count[1], 3);
		CHECK_EQ_U64(born->new_chunks, 3);
		CHECK_EQ_U64(born->sample_new, 0x4000);
		CHECK_EQ_U64(same_name->count[0], 0);
		CHECK_EQ_U64(same_name->count[1], 2);
	}
	/* two snapshots: by bytes grown; Gadget (+0x90) first, Widget (-0x60) last */
	CHECK(r.rows[0].kind == TK_CLASS && !strcmp(r.rows[0].name, "Gadget"));
	CHECK(!strcmp(r.rows[r.nrows - 1].name, "Widget"));
	CHECK(r.rows[0].growth == 0x90);
	check_identities(&r);
	diff_result_free(&r);
	free(a);
	free(b);
}

/* Two types of one snapshot with the same (kind, name, size) are one row. */
UNIT_TEST(diff_same_key_twice_in_one_snapshot)
{
	struct side *a = side_new(), *b = side_new();
	struct diff_input v[2];
	struct diff_result r;
	int a1 = ty(a, TK_CONTENT, "\"a long str\"...", 0x50);
	int b1 = ty(b, TK_CONTENT, "\"a long str\"...", 0x50);
	int b2 = ty(b, TK_CONTENT, "\"a long str\"...", 0x50);

	ch(a, 0x5000, 0x50, a1);
	ch(b, 0x5000, 0x50, b2); /* kept: the same row, whichever of the two */
	ch(b, 0x5050, 0x50, b1);
	v[0] = in(a);
	v[1] = in(b);
	diff_compute(v, 2, &r);
	CHECK_EQ_U64(r.nrows, 1);
	CHECK_EQ_U64(r.rows[0].count[1], 2);
	CHECK_EQ_U64(r.rows[0].new_chunks, 1);
	CHECK_EQ_U64(r.rows[0].freed_chunks, 0);
	diff_result_free(&r);
	free(a);
	free(b);
}

/* Out-of-range type indexes (a hostile file the reader let through) are
 * ignored, not read past the table. */
UNIT_TEST(diff_ignores_bad_type_index)
{
	struct side *a = side_new(), *b = side_new();
	struct diff_input v[2];
	struct diff_result r;
	int t = ty(a, TK_CLASS, "T", 0);

	ty(b, TK_CLASS, "T", 0);
	ch(a, 0x100, 0x20, t);
	ch(b, 0x100, 0x20, 7);
	v[0] = in(a);
	v[1] = in(b);
	diff_compute(v, 2, &r);
	CHECK_EQ_U64(r.nrows, 1);
	CHECK_EQ_U64(r.rows[0].freed_chunks, 1);
	CHECK_EQ_U64(r.new_chunks, 0);
	CHECK_EQ_U64(r.chunks[1], 1); /* still an in-use chunk */
	diff_result_free(&r);
	free(a);
	free(b);
}

/* Steady growth ranks above a single bump of a larger total, above a type
 * that went up and down, and shrinking comes last. */
UNIT_TEST(diff_steady_growth_beats_a_bump)
{
	static const struct { const char *name; int n[3]; } plan[] = {
		{ "Bump", { 10, 35, 35 } },   /* +25 once: the largest total */
		{ "Churn", { 10, 50, 30 } },  /* +20 overall, up then down */
		{ "Steady", { 10, 20, 30 } }, /* +10, +10 */
		{ "Shrink", { 30, 20, 10 } },
		{ "Flat", { 5, 5, 5 } },
	};
	struct side *s[3];
	struct diff_input v[3];
	struct diff_result r;
	uint64_t addr = 0x10000;

	for (int k = 0; k < 3; k++) {
		s[k] = side_new();
		for (size_t p = 0; p < sizeof(plan) / sizeof(plan[0]); p++) {
			int t = ty(s[k], TK_CLASS, plan[p].name, 0);

			/* each snapshot at fresh addresses: all new, all freed */
			for (int i = 0; i < plan[p].n[k]; i++, addr += 0x40)
				ch(s[k], addr, 0x40, t);
		}
		v[k] = in(s[k]);
	}
	diff_compute(v, 3, &r);
	CHECK_EQ_U64(r.nrows, 5);
	if (r.nrows == 5) {
		CHECK(!strcmp(r.rows[0].name, "Steady"));
		CHECK(!strcmp(r.rows[1].name, "Bump"));
		CHECK(!strcmp(r.rows[2].name, "Churn"));
		CHECK(!strcmp(r.rows[3].name, "Flat"));
		CHECK(!strcmp(r.rows[4].name, "Shrink"));
		/* growth = delta bytes * |up - down| / steps */
		CHECK(r.rows[0].growth == 20 * 0x40);
		CHECK(r.rows[1].growth == 25 * 0x40 / 2);
		CHECK(r.rows[2].growth == 0);
		CHECK(r.rows[4].growth == -20 * 0x40);
		CHECK_EQ_U64(r.rows[0].up, 2);
		CHECK_EQ_U64(r.rows[1].up, 1);
		CHECK_EQ_U64(r.rows[2].down, 1);
		CHECK_EQ_U64(r.rows[0].count[1], 20);
		/* new and freed: first against last */
		CHECK_EQ_U64(r.rows[0].new_chunks, 30);
		CHECK_EQ_U64(r.rows[0].freed_chunks, 10);
	}
	CHECK_EQ_U64(r.chunks[0], 65);
	CHECK_EQ_U64(r.chunks[1], 130);
	CHECK_EQ_U64(r.chunks[2], 110);
	check_identities(&r);
	diff_result_free(&r);
	for (int k = 0; k < 3; k++)
		free(s[k]);
}

/* ---- diff_run on snapshot files ----------------------------------------- */

struct caught {
	char dir[64];
	int saved_out, saved_err;
};

static void
write_snap(const char *path, pid_t pid, const char *cmdline, struct side *s)
{
	struct scan sc;
	struct snap_write_opts wo = { 0 };
	struct arena_info main_arena = { .addr = 0x7f0000001000, .main = true, .nheaps = 1 };

	memset(&sc, 0, sizeof(sc));
	sc.pid = pid;
	sc.cmdline = (char *)cmdline;
	snprintf(sc.libc.version, sizeof(sc.libc.version), "2.36");
	sc.heap = s->h;
	sc.heap.arenas = &main_arena;
	sc.heap.narenas = 1;
	CHECK(snap_write(path, &sc, &s->t, &wo) == 0);
}

/* Run diff_run with stdout and stderr going to DIR/out and DIR/err. */
static int
run_caught(const char *dir, char *const *paths, int n, const struct diff_opts *o)
{
	char p[128];
	int out, err, so, se, ret;

	fflush(stdout);
	fflush(stderr);
	snprintf(p, sizeof(p), "%s/out", dir);
	out = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	snprintf(p, sizeof(p), "%s/err", dir);
	err = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	so = dup(1);
	se = dup(2);
	dup2(out, 1);
	dup2(err, 2);
	ret = diff_run(paths, n, o);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(out);
	close(err);
	return ret;
}

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	static char buf[1 << 16];
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "r");
	*len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[*len] = '\0';
	if (f)
		fclose(f);
	return buf;
}

UNIT_TEST(diff_run_refuses_other_processes_unless_forced)
{
	char dir[] = "/tmp/heapscan-unit.XXXXXX", pa[64], pb[64], pc[64], *paths[3];
	struct diff_opts o = { .top = 20 };
	struct side *a = side_new(), *b = side_new();
	size_t len;
	char *s;

	CHECK(mkdtemp(dir) != NULL);
	ch(a, 0x100, 0x20, ty(a, TK_CLASS, "T", 0));
	ch(b, 0x100, 0x20, ty(b, TK_CLASS, "T", 0));
	snprintf(pa, sizeof(pa), "%s/a.snap", dir);
	snprintf(pb, sizeof(pb), "%s/b.snap", dir);
	snprintf(pc, sizeof(pc), "%s/c.snap", dir);
	write_snap(pa, 12, "./app", a);
	write_snap(pb, 13, "./other", b);
	write_snap(pc, 12, "./app", b);
	paths[0] = pa;
	paths[1] = pb;

	CHECK(run_caught(dir, paths, 2, &o) == EXIT_FAIL);
	s = slurp(dir, "err", &len);
	CHECK(strstr(s, "heapscan: ") == s && strstr(s, "a.snap is of process 12 (./app), ") &&
	      strstr(s, "b.snap of process 13 (./other): use --force to compare anyway\n"));
	CHECK(strchr(s, '\n') == s + len - 1); /* one line */
	slurp(dir, "out", &len);
	CHECK_EQ_U64(len, 0);

	o.force = true;
	CHECK(run_caught(dir, paths, 2, &o) == EXIT_OK);
	s = slurp(dir, "out", &len);
	CHECK(strstr(s, "different processes") != NULL);

	o.force = false;
	paths[1] = pc;
	CHECK(run_caught(dir, paths, 2, &o) == EXIT_OK);
	CHECK(run_caught(dir, paths, 1, &o) == EXIT_USAGE);
	s = slurp(dir, "err", &len);
	CHECK(strstr(s, "heapscan: --diff compares two snapshots or more") == s);
	paths[1] = dir; /* a directory */
	CHECK(run_caught(dir, paths, 2, &o) == EXIT_FAIL);
	s = slurp(dir, "err", &len);
	CHECK(strstr(s, "not a regular file") != NULL);
	slurp(dir, "out", &len);
	CHECK_EQ_U64(len, 0);

	unlink(pa);
	unlink(pb);
	unlink(pc);
	snprintf(pa, sizeof(pa), "%s/out", dir);
	unlink(pa);
	snprintf(pa, sizeof(pa), "%s/err", dir);
	unlink(pa);
	rmdir(dir);
	free(a);
	free(b);
}

/* Type names come from the target: in the chart they must not break the
 * XML, whatever bytes they hold. */
UNIT_TEST(diff_svg_escapes_names)
{
	static const char hostile[] = "a<b>&\"c\" 'd'\x01\x7f\xff\xc3(\xed\xa0\x80 \xc3\xa9";
	char dir[] = "/tmp/heapscan-unit.XXXXXX", pa[64], pb[64], svg[64], bad[64], *paths[2];
	struct diff_opts o = { .top = 20, .svg = svg };
	struct side *a = side_new(), *b = side_new();
	size_t len;
	char *s;

	CHECK(mkdtemp(dir) != NULL);
	ch(a, 0x100, 0x20, ty(a, TK_CLASS, hostile, 0));
	ch(b, 0x100, 0x20, ty(b, TK_CLASS, hostile, 0));
	ch(b, 0x120, 0x20, 0);
	snprintf(pa, sizeof(pa), "%s/a.snap", dir);
	snprintf(pb, sizeof(pb), "%s/b.snap", dir);
	snprintf(svg, sizeof(svg), "%s/chart.svg", dir);
	write_snap(pa, 12, "./app & <co>", a);
	write_snap(pb, 12, "./app & <co>", b);
	paths[0] = pa;
	paths[1] = pb;
	o.json = true;
	CHECK(run_caught(dir, paths, 2, &o) == EXIT_OK);
	s = slurp(dir, "chart.svg", &len);
	CHECK(strstr(s, "<svg ") != NULL && strstr(s, "</svg>\n") != NULL);
	/* split: "??(" would be a trigraph */
	CHECK(strstr(s, "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;?\x7f??"
			"(??? \xc3\xa9") != NULL);
	CHECK(strstr(s, "./app &amp; &lt;co&gt;") != NULL);
	CHECK(memchr(s, '\x01', len) == NULL && memchr(s, '\xff', len) == NULL);

	/* an unwritable chart: exit 1, nothing on stdout, no file left */
	snprintf(bad, sizeof(bad), "%s/no/such/dir/chart.svg", dir);
	o.svg = bad;
	CHECK(run_caught(dir, paths, 2, &o) == EXIT_FAIL);
	slurp(dir, "out", &len);
	CHECK_EQ_U64(len, 0);
	s = slurp(dir, "err", &len);
	CHECK(strstr(s, "heapscan: cannot create a temporary file next to ") == s);

	unlink(pa);
	unlink(pb);
	unlink(svg);
	snprintf(pa, sizeof(pa), "%s/out", dir);
	unlink(pa);
	snprintf(pa, sizeof(pa), "%s/err", dir);
	unlink(pa);
	CHECK(rmdir(dir) == 0); /* no temporary file left behind */
	free(a);
	free(b);
}

/* ---- big sections: written as they are compressed ----------------------- */

/* The section tag's payload in a snapshot file, decompressed (NULL if not
 * there or not zstd): for checking CONT, which the reader keeps compressed. */
static unsigned char *
section_raw(const unsigned char *f, size_t len, const char *tag, uint64_t *rawlen)
{
	size_t off = 16; /* magic, version, section count */

	while (off + 32 <= len) {
		uint32_t flags;
		uint64_t stored, raw;

		memcpy(&flags, f + off + 4, 4);
		memcpy(&stored, f + off + 8, 8);
		memcpy(&raw, f + off + 16, 8);
		if (stored > len - off - 32)
			return NULL;
		if (!memcmp(f + off, tag, 4) && flags == 1) {
			unsigned char *out = malloc(raw ? raw : 1);

			if (ZSTD_decompress(out, raw, f + off + 32, stored) != raw) {
				free(out);
				return NULL;
			}
			*rawlen = raw;
			return out;
		}
		off += 32 + stored;
	}
	return NULL;
}

/* 200K chunks make sections over STREAM_MIN: the chunk records and the
 * contents go through the streaming writer, and must read back exactly. */
UNIT_TEST(snap_big_sections_round_trip)
{
	enum { N = 200000 };
	const uint64_t base = 0x555500000000ULL;
	struct hs_chunk *chs = calloc(N, sizeof(*chs));
	uint32_t *of = calloc(N, sizeof(*of));
	struct type_entry tys[5] = { 0 };
	struct type_table t = { .types = tys, .ntypes = 5, .of_chunk = of };
	struct arena_info main_arena = { .addr = 0x7f0000001000, .main = true, .nheaps = 1 };
	struct snap_write_opts wo = { .contents = true };
	char dir[] = "/tmp/hs-unit-XXXXXX", path[64], err[256];
	struct scan sc, rd;
	struct type_table rt;
	struct snap_meta meta;
	unsigned char *heap, *file, *cont;
	uint64_t addr = base, contlen = 0, want = 0;
	size_t hlen = 0, flen;
	FILE *fp;
	bool ok;

	for (size_t i = 0; i < N; i++)
		hlen += 0x20 + 0x10 * (i * 7919 % 31);
	heap = malloc(hlen + 16);
	for (size_t k = 0; k < hlen + 16; k++)
		heap[k] = (unsigned char)(k * 131 ^ k >> 9);
	for (size_t i = 0; i < N; i++) {
		uint64_t size = 0x20 + 0x10 * (i * 7919 % 31), sz = size | 1;
		bool in_use = i % 7 != 3;

		memcpy(heap + (addr - base) + 8, &sz, 8);
		chs[i] = (struct hs_chunk){ .addr = addr, .size = size,
					    .kind = in_use ? CK_INUSE : CK_FASTBIN, .arena = 0 };
		of[i] = in_use ? (uint32_t)(i % 5) : UINT32_MAX;
		want += in_use ? size - 8 : 0;
		addr += size;
	}
	for (int k = 0; k < 5; k++)
		tys[k] = (struct type_entry){ .kind = TK_SIZE, .name = (char *)"t", .size = 0x20 };
	memset(&sc, 0, sizeof(sc));
	sc.pid = 4242;
	sc.cmdline = (char *)"big";
	snprintf(sc.libc.version, sizeof(sc.libc.version), "2.36");
	sc.heap.chunks = chs;
	sc.heap.nchunks = N;
	sc.heap.arenas = &main_arena;
	sc.heap.narenas = 1;
	image_init(&sc.img);
	CHECK(image_add_copy(&sc.img, base, heap, hlen + 16, 3, "[heap]") == 0);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/big.snap", dir);
	CHECK(snap_write(path, &sc, &t, &wo) == 0);

	memset(&rd, 0, sizeof(rd));
	memset(&rt, 0, sizeof(rt));
	memset(&meta, 0, sizeof(meta));
	ok = snap_read(path, &rd, &rt, &meta, err, sizeof(err)) == 0;
	CHECK(ok);
	if (!ok) {
		fprintf(stderr, "  %s\n", err);
		rd.heap.nchunks = 0;
	}
	CHECK_EQ_U64(rd.heap.nchunks, N);
	for (size_t i = 0; i < N && i < rd.heap.nchunks; i++) {
		const struct hs_chunk *a = &chs[i], *b = &rd.heap.chunks[i];
		size_t ulen;
		const unsigned char *u = chunk_user_bytes(&sc.img, a, &ulen);
		uint32_t h = a->kind == CK_INUSE && u ? (uint32_t)XXH3_64bits(u, ulen) : 0;

		if (a->addr != b->addr || a->size != b->size || a->kind != b->kind ||
		    rt.of_chunk[i] != of[i] || meta.chunk_hash[i] != h) {
			CHECK(!"chunk read back differs");
			fprintf(stderr, "  at chunk %zu\n", i);
			break;
		}
	}
	CHECK(!ok || meta.has_contents);

	fp = fopen(path, "r");
	file = malloc(64 << 20);
	flen = fp ? fread(file, 1, 64 << 20, fp) : 0;
	if (fp)
		fclose(fp);
	cont = section_raw(file, flen, "CONT", &contlen);
	CHECK(cont != NULL);
	CHECK_EQ_U64(contlen, want);
	if (cont && contlen == want) {
		uint64_t o = 0;
		bool same = true;

		for (size_t i = 0; i < N && same; i++) {
			if (chs[i].kind != CK_INUSE)
				continue;
			same = !memcmp(cont + o, heap + (chs[i].addr - base) + 16, chs[i].size - 8);
			o += chs[i].size - 8;
		}
		CHECK(same);
	}
	free(cont);
	free(file);
	if (ok) {
		snap_meta_free(&meta);
		scan_free(&rd);
		type_table_free(&rt);
	}
	image_free(&sc.img);
	unlink(path);
	rmdir(dir);
	free(heap);
	free(chs);
	free(of);
}
