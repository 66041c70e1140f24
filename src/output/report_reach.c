/*
 * report_reach.c - the reachability reports: --leaks, --why, --referrers.
 *
 * Addresses are chunk header addresses, as everywhere in heapscan's output
 * (the pointer malloc returned is 16 bytes further); an offset "+0x28" is
 * from the header.  A root is named for what holds it:
 *
 *   register rbx of thread 4242 (app)
 *   stack of thread 4242 (app) at 0x7ffd...: sp+0x48, frame #2 main+0x3c
 *   global g_sessions+0x8 (app+0x4c0a8 in /usr/bin/app)
 *   anonymous memory at 0x7f... (mapping 0x7f...-0x7f...)
 */
#include <inttypes.h>
#include <libiberty/demangle.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "elfmod.h"
#include "error.h"
#include "json.h"
#include "report.h"
#include "xmalloc.h"

#define PREVIEW_BYTES 24
#define LEAK_SAMPLES 3

static const char *const reg_names[] = {
	"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9",
	"r8", "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs",
	"eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
};

/* ---- naming roots --------------------------------------------------------- */

static void
module_symbol(const struct scan *s, uint64_t addr, char *buf, size_t len)
{
	const struct map_entry *e = maps_module(&s->maps, addr), *first = NULL;
	struct elfmod *elf = NULL;
	char err[128], sym[256];
	uint64_t off, bias = 0;
	const char *base;

	if (!e) {
		snprintf(buf, len, "module data at 0x%" PRIx64, addr);
		return;
	}
	for (size_t i = 0; i < s->maps.n; i++)
		if (!strcmp(s->maps.v[i].path, e->path) &&
		    (!first || s->maps.v[i].start < first->start))
			first = &s->maps.v[i];
	base = strrchr(e->path, '/') ? strrchr(e->path, '/') + 1 : e->path;
	if (first && first->file)
		elf = elfmod_open(first->file, err, sizeof(err));
	if (elf)
		bias = elfmod_bias(elf, first->start);
	if (elf && elfmod_symbol_near(elf, addr - bias, sym, sizeof(sym), &off)) {
		char *dm = sym[0] == '_' && sym[1] == 'Z'
				   ? cplus_demangle_v3(sym, DMGL_PARAMS | DMGL_ANSI)
				   : NULL;

		snprintf(buf, len, "global %s%s%.0" PRIx64 " (%s+0x%" PRIx64 " in %s)",
			 dm ? dm : sym, off ? "+0x" : "", off, base, addr - first->start, e->path);
		free(dm);
	} else {
		snprintf(buf, len, "data of %s+0x%" PRIx64 " (%s)", base,
			 first ? addr - first->start : 0, e->path);
	}
	elfmod_close(elf);
}

static const char *
thread_comm(const struct scan *s, int t, char *buf, size_t len)
{
	snprintf(buf, len, "%s", s->regs && s->regs[t].comm[0] ? s->regs[t].comm : "?");
	return buf;
}

/* ", frame #2 main+0x3c (/usr/bin/app)" for a stack address, or nothing. */
static void
frame_name(const struct unwind_set *u, const struct reach_root *root, char *buf, size_t len)
{
	const struct unwind_frame *fr;
	int i;

	buf[0] = '\0';
	if (!u || root->thread < 0 || (size_t)root->thread >= u->n)
		return;
	fr = unwind_frame_at(u, (size_t)root->thread, root->addr, &i);
	if (!fr)
		return;
	snprintf(buf, len, ", frame #%d %s (%s)", i, fr->func ? fr->func : "??",
		 fr->module ? fr->module : "?");
}

void
report_root_name(const struct scan *s, const struct unwind_set *u, const struct reach_root *root,
		 char *buf, size_t len)
{
	char frame[512];
	char comm[32];
	const struct map_entry *e;
	uint64_t sp;

	switch (root->kind) {
	case ROOT_REGISTER:
		snprintf(buf, len, "register %s of thread %d (%s)",
			 root->reg >= 0 && root->reg < (int)(sizeof(reg_names) / sizeof(*reg_names))
				 ? reg_names[root->reg]
				 : "?",
			 (int)s->regs[root->thread].tid, thread_comm(s, root->thread, comm, sizeof(comm)));
		return;
	case ROOT_STACK:
		sp = s->regs[root->thread].regs.rsp;
		frame_name(u, root, frame, sizeof(frame));
		snprintf(buf, len, "stack of thread %d (%s) at 0x%" PRIx64 ", sp%s0x%" PRIx64 "%s%s",
			 (int)s->regs[root->thread].tid, thread_comm(s, root->thread, comm, sizeof(comm)),
			 root->addr, root->addr < sp ? "-" : "+",
			 root->addr < sp ? sp - root->addr : root->addr - sp,
			 root->addr < sp ? " (red zone)" : "", frame);
		return;
	case ROOT_MODULE:
		module_symbol(s, root->addr, buf, len);
		return;
	case ROOT_ANON:
		e = maps_find(&s->maps, root->addr);
		if (e)
			snprintf(buf, len, "%s memory at 0x%" PRIx64 " (mapping 0x%" PRIx64 "-0x%" PRIx64 ")",
				 e->path[0] ? e->path : "anonymous", root->addr, e->start, e->end);
		else
			snprintf(buf, len, "memory at 0x%" PRIx64, root->addr);
		return;
	}
	snprintf(buf, len, "0x%" PRIx64, root->addr);
}

/* ---- chunk descriptions ------------------------------------------------- */

static const char *
chunk_type_name(const struct type_table *t, size_t idx)
{
	uint32_t ti = t && t->of_chunk ? t->of_chunk[idx] : UINT32_MAX;

	return ti < t->ntypes ? t->types[ti].name : "?";
}

/* Up to PREVIEW_BYTES of a chunk's user bytes, printable ones as they are and
 * the rest as '.', so a preview never carries a line break or a secret's
 * whole length. */
static void
chunk_preview(const struct scan *s, const struct hs_chunk *c, char *buf)
{
	uint64_t len;
	const unsigned char *p = reach_chunk_bytes(&s->img, c, &len);
	size_t n = len < PREVIEW_BYTES ? (size_t)len : PREVIEW_BYTES;

	buf[0] = '\0';
	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		buf[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	buf[n] = '\0';
}

/* ---- --leaks ------------------------------------------------------------ */

struct leak_group {
	uint32_t type;
	uint64_t direct, indirect, bytes;
	uint64_t sample[LEAK_SAMPLES];
	size_t nsample;
	size_t first; /* chunk index of the first sample */
};

static int
by_leak_bytes(const void *a, const void *b)
{
	const struct leak_group *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->type < y->type ? -1 : x->type > y->type;
}

static struct leak_group *
leak_groups(const struct scan *s, const struct type_table *t, const struct reach *r, size_t *ng)
{
	size_t ntypes = t && t->of_chunk ? t->ntypes : 0;
	struct leak_group *g = xcalloc(ntypes + 1, sizeof(*g));
	size_t n = 0;

	for (size_t i = 0; i <= ntypes; i++)
		g[i].type = (uint32_t)i;
	for (size_t j = 0; j < r->nchunks; j++) {
		uint8_t st = r->state[j];
		uint32_t ti;
		struct leak_group *e;

		if (st != RS_DIRECT && st != RS_INDIRECT)
			continue;
		ti = ntypes ? t->of_chunk[j] : 0;
		e = &g[ti < ntypes ? ti : ntypes];
		if (st == RS_DIRECT)
			e->direct++;
		else
			e->indirect++;
		e->bytes += chunk_shown_size(&s->heap, &s->heap.chunks[j]);
		if (!e->nsample)
			e->first = j;
		if (e->nsample < LEAK_SAMPLES)
			e->sample[e->nsample++] = heap_model_shown(&s->heap, j);
	}
	for (size_t i = 0; i <= ntypes; i++)
		if (g[i].direct + g[i].indirect)
			g[n++] = g[i];
	qsort(g, n, sizeof(*g), by_leak_bytes);
	*ng = n;
	return g;
}

static const char *
group_name(const struct type_table *t, const struct leak_group *g)
{
	return t && g->type < t->ntypes ? t->types[g->type].name : "(untyped)";
}

static const char *
group_kind(const struct type_table *t, const struct leak_group *g)
{
	return t && g->type < t->ntypes ? type_kind_name(t->types[g->type].kind) : "size";
}

static void
leaks_text(FILE *f, const struct scan *s, const struct type_table *t, const struct reach *r,
	   const struct leak_group *g, size_t ng, int top)
{
	char b1[32], b2[32], b3[32], pv[PREVIEW_BYTES + 1];

	fprintf(f, "process %d: ", (int)s->pid);
	fput_printable(f, s->cmdline);
	fprintf(f, "\n  leaked: %" PRIu64 " chunks directly (%s), %" PRIu64
		" indirectly (%s); reachable: %" PRIu64 " chunks (%s)\n",
		r->count[RS_DIRECT], human_bytes(r->bytes[RS_DIRECT], b1, sizeof(b1)),
		r->count[RS_INDIRECT], human_bytes(r->bytes[RS_INDIRECT], b2, sizeof(b2)),
		r->count[RS_REACHABLE], human_bytes(r->bytes[RS_REACHABLE], b3, sizeof(b3)));
	fprintf(f, "  roots: registers, stacks and %s of memory malloc does not own; ",
		human_bytes(r->root_bytes, b1, sizeof(b1)));
	if (r->index) {
		fprintf(f, "marked in ");
		fput_num(f, r->ms, 0);
		fprintf(f, " ms\n");
	} else {
		fprintf(f, "as the snapshot recorded\n");
	}
	if (!ng) {
		fprintf(f, "\n  no leaks: every live chunk is reachable\n");
		return;
	}
	fprintf(f, "\n  %10s %10s %11s  %-7s %-18s %-26s %s\n", "direct", "indirect", "bytes",
		"kind", "sample", "preview", "type");
	for (size_t i = 0; i < ng && (int)i < top; i++) {
		chunk_preview(s, &s->heap.chunks[g[i].first], pv);
		fprintf(f, "  %10" PRIu64 " %10" PRIu64 " %11s  %-7s 0x%-16" PRIx64 " %-26s ",
			g[i].direct, g[i].indirect, human_bytes(g[i].bytes, b1, sizeof(b1)),
			group_kind(t, &g[i]), g[i].sample[0], pv);
		fput_printable(f, group_name(t, &g[i]));
		fputc('\n', f);
	}
	if (ng > (size_t)top)
		fprintf(f, "  ... %zu more types (--top N)\n", ng - (size_t)top);
	fprintf(f, "\n  heapscan --why ADDR %d shows what holds a chunk; leaked chunks have no chain.\n",
		(int)s->pid);
}

static void
leaks_json(FILE *f, const struct scan *s, const struct type_table *t, const struct reach *r,
	   const struct leak_group *g, size_t ng)
{
	char pv[PREVIEW_BYTES + 1];

	fprintf(f, "{\"pid\": %d, \"cmdline\": ", (int)s->pid);
	json_str(f, s->cmdline);
	fprintf(f, ", \"reach_ms\": ");
	json_num(f, r->ms, 3);
	fprintf(f, ", \"root_bytes\": %" PRIu64 ", \"scanned_bytes\": %" PRIu64, r->root_bytes,
		r->scanned_bytes);
	for (int k = RS_REACHABLE; k < RS__N; k++)
		fprintf(f, ", \"%s_chunks\": %" PRIu64 ", \"%s_bytes\": %" PRIu64, reach_state_name(k),
			r->count[k], reach_state_name(k), r->bytes[k]);
	fprintf(f, ", \"leaks\": [");
	for (size_t i = 0; i < ng; i++) {
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		json_str(f, group_name(t, &g[i]));
		fprintf(f, ", \"kind\": \"%s\", \"direct\": %" PRIu64 ", \"indirect\": %" PRIu64
			", \"bytes\": %" PRIu64 ", \"samples\": [",
			group_kind(t, &g[i]), g[i].direct, g[i].indirect, g[i].bytes);
		for (size_t k = 0; k < g[i].nsample; k++) {
			if (k)
				fputs(", ", f);
			json_addr(f, g[i].sample[k]);
		}
		chunk_preview(s, &s->heap.chunks[g[i].first], pv);
		fprintf(f, "], \"preview\": ");
		json_str(f, pv);
		fputc('}', f);
	}
	fprintf(f, "%s]}\n", ng ? "\n" : "");
}

void
report_leaks(FILE *f, const struct scan *s, const struct type_table *t, const struct reach *r,
	     bool json, int top)
{
	size_t ng;
	struct leak_group *g = leak_groups(s, t, r, &ng);

	if (json)
		leaks_json(f, s, t, r, g, ng);
	else
		leaks_text(f, s, t, r, g, ng, top);
	free(g);
}

/* ---- --why and --referrers ---------------------------------------------- */

static void
chunk_line(FILE *f, const struct scan *s, const struct type_table *t, size_t idx)
{
	const struct hs_chunk *c = &s->heap.chunks[idx];

	fprintf(f, "%s 0x%" PRIx64 " (", c->arena == CHUNK_ARENA_BLOCK ? "block" : "chunk",
		heap_model_shown(&s->heap, idx));
	fput_printable(f, chunk_type_name(t, idx));
	fprintf(f, ", %" PRIu64 " B)", chunk_shown_size(&s->heap, c));
}

/* " +0x18": where in chunk idx a pointer is, off bytes from the chunk's
 * header, as an offset from the address shown (a Python object's preheader
 * lies before it: " -0x20"). */
static void
put_offset(FILE *f, const struct scan *s, size_t idx, uint64_t off)
{
	uint64_t shown = heap_model_shown(&s->heap, idx) - s->heap.chunks[idx].addr;

	if (off >= shown)
		fprintf(f, " +0x%" PRIx64, off - shown);
	else
		fprintf(f, " -0x%" PRIx64, shown - off);
}

/* The chunk that holds addr, or a one-line reason why there is none. */
static long
target_chunk(const struct scan *s, const struct reach *r, uint64_t addr)
{
	long j = reach_chunk_of(r, &s->heap, addr);
	const struct hs_chunk *c;

	if (j >= 0)
		return j;
	/* the header of a live chunk, or a free chunk */
	for (size_t i = 0; i < s->heap.nchunks; i++) {
		c = &s->heap.chunks[i];
		if (addr < c->addr || addr - c->addr >= c->size ||
		    (c->arena == CHUNK_ARENA_BLOCK && addr - c->addr < 16)) /* no header */
			continue;
		if (c->kind == CK_INUSE || c->kind == CK_MMAPPED)
			return (long)i;
		error_msg("0x%" PRIx64 " is in a free chunk (malloc's pointer 0x%" PRIx64
			  ", %s): nothing holds it", addr, CHUNK_USER(c->addr), chunk_kind_name(c->kind));
		return -1;
	}
	error_msg("0x%" PRIx64 " is not in any malloc chunk of process %d", addr, (int)s->pid);
	return -1;
}

int
report_why(FILE *f, const struct scan *s, const struct type_table *t, const struct reach *r,
	   const struct unwind_set *u, uint64_t addr)
{
	long j = target_chunk(s, r, addr);
	uint32_t *chain;
	struct reach_root root;
	size_t n;
	char name[512];

	if (j < 0)
		return EXIT_NOCHUNK;
	if (r->state[j] != RS_REACHABLE) {
		fprintf(f, "0x%" PRIx64 ": ", addr);
		chunk_line(f, s, t, (size_t)j);
		fprintf(f, " is leaked (%s): no root reaches it\n",
			r->state[j] == RS_DIRECT ? "nothing points to it"
						 : "only leaked chunks point to it");
		return EXIT_OK;
	}
	chain = xmalloc(r->nchunks * sizeof(*chain));
	n = reach_chain(r, (size_t)j, chain, r->nchunks, &root);
	report_root_name(s, u, &root, name, sizeof(name));
	fputs(name, f);
	fputc('\n', f);
	/* each line: a chunk, and where in it the pointer to the next one is */
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  -> ");
		chunk_line(f, s, t, chain[i]);
		if (i + 1 < n)
			put_offset(f, s, chain[i], r->via[chain[i + 1]]);
		fputc('\n', f);
	}
	free(chain);
	return EXIT_OK;
}

struct ref_printer {
	FILE *f;
	const struct unwind_set *u;
	const struct scan *s;
	const struct type_table *t;
	const struct reach *r;
	size_t n;
};

static void
print_referrer(void *arg, long chunk, uint64_t off, const struct reach_root *root)
{
	struct ref_printer *p = arg;
	char name[512];

	p->n++;
	if (chunk < 0) {
		report_root_name(p->s, p->u, root, name, sizeof(name));
		fprintf(p->f, "  %s\n", name);
		return;
	}
	fprintf(p->f, "  ");
	chunk_line(p->f, p->s, p->t, (size_t)chunk);
	put_offset(p->f, p->s, (size_t)chunk, off);
	fprintf(p->f, " [%s]\n", reach_state_name(p->r->state[chunk]));
}

int
report_referrers(FILE *f, const struct scan *s, const struct type_table *t,
		 const struct reach *r, const struct unwind_set *u, uint64_t addr)
{
	long j = target_chunk(s, r, addr);
	struct ref_printer p = { .f = f, .u = u, .s = s, .t = t, .r = r };

	if (j < 0)
		return EXIT_NOCHUNK;
	fprintf(f, "referrers of ");
	chunk_line(f, s, t, (size_t)j);
	fprintf(f, " [%s]:\n", reach_state_name(r->state[j]));
	reach_referrers(s, r, (size_t)j, print_referrer, &p);
	if (!p.n)
		fprintf(f, "  none\n");
	return EXIT_OK;
}
