/*
 * unseen.c - anonymous memory that no malloc chunk covers (see unseen.h).
 *
 * For each copied mapping that is anonymous (no path, not [heap], [stack] or
 * any other bracketed name) and holds no thread's stack pointer, the bytes
 * outside every chunk of the heap model (all kinds: in use, free, top,
 * mmapped) are memory malloc does not own.  A thread arena's heap keeps a
 * heap_info and, for its first heap, the arena itself before its first
 * chunk: those few KiB are slack, so a mapping counts only beyond SLACK
 * bytes.  A module's .bss that spills into an anonymous mapping (right after
 * its data) is globals, not counted.
 */
#include <stdlib.h>
#include <string.h>

#include "glibc.h"
#include "par.h"
#include "maps.h"
#include "scan.h"
#include "unseen.h"
#include "xmalloc.h"

#define SLACK ((uint64_t)64 << 10)

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

const char *
unseen_hint(const struct maps *m, const char *exe, const void *exe_head, size_t head_len)
{
	static const char go_note[] = "Go build ID: \"";

	for (size_t i = 0; m && i < m->n; i++) {
		const char *b = base_name(m->v[i].path);

		if (!strncmp(b, "libpython", 9))
			return "CPython's pymalloc arenas and objects";
		if (!strcmp(b, "libjvm.so"))
			return "the JVM's heap";
	}
	if (exe && !strncmp(base_name(exe), "python", 6))
		return "CPython's pymalloc arenas and objects";
	if (exe_head && head_len >= sizeof(go_note) &&
	    memmem(exe_head, head_len, go_note, sizeof(go_note) - 1))
		return "the Go runtime's heap";
	return NULL;
}

static bool
holds_stack(const struct scan *s, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->regs[i].have_regs && s->regs[i].regs.rsp >= start && s->regs[i].regs.rsp < end)
			return true;
	return false;
}

/* A module's .bss beyond its file's last page is an anonymous mapping right
 * after the module's writable data: globals, not a heap. */
static bool
is_bss(const struct image *img, size_t i)
{
	const struct region *prev = i ? &img->r[i - 1] : NULL;

	return prev && prev->end == img->r[i].start && prev->name[0] == '/';
}

/* Bytes of [start, end) that chunks cover; *j walks the address-sorted
 * chunks once over all regions. */
/* Each region's bytes that chunks cover, summed by a part of the chunks
 * (chunks and regions both in address order). */
struct cover_job {
	const struct heap_model *h;
	const struct image *img;
	uint64_t **sum; /* per part: per region */
};

static void
cover_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct cover_job *j = arg;
	const struct image *img = j->img;
	uint64_t *sum = j->sum[part];
	size_t r = 0;

	for (size_t k = begin; k < end; k++) {
		uint64_t a = j->h->chunks[k].addr, b = a + j->h->chunks[k].size;

		if (b < a) /* cannot wrap in a walked heap; stay safe */
			b = UINT64_MAX;
		while (r < img->n && img->r[r].end <= a)
			r++;
		if (r < img->n && img->r[r].start <= a && b <= img->r[r].end) {
			sum[r] += b - a; /* nearly always: the chunk is inside one mapping */
			continue;
		}
		for (size_t q = r; q < img->n && img->r[q].start < b; q++) {
			uint64_t s = img->r[q].start, e = img->r[q].end;

			sum[q] += (b < e ? b : e) - (a > s ? a : s);
		}
	}
}

void
unseen_measure(const struct scan *s, const char *exe, const void *exe_head, size_t head_len,
	       struct unseen *u)
{
	unsigned parts = s->foreign ? 1 : par_parts(s->heap.nchunks);
	struct cover_job j = { &s->heap, &s->img, xcalloc(parts, sizeof(*j.sum)) };
	uint64_t *own = xcalloc(s->img.n ? s->img.n : 1, sizeof(*own));

	memset(u, 0, sizeof(*u));
	for (unsigned p = 0; p < parts; p++)
		j.sum[p] = xcalloc(s->img.n ? s->img.n : 1, sizeof(*j.sum[p]));
	if (!s->foreign)
		par_run(s->heap.nchunks, parts, cover_part, &j);
	for (unsigned p = 0; p < parts; p++) {
		for (size_t i = 0; i < s->img.n; i++)
			own[i] += j.sum[p][i];
		free(j.sum[p]);
	}
	free(j.sum);
	for (size_t i = 0; i < s->img.n; i++) {
		const struct region *r = &s->img.r[i];
		uint64_t len = r->end - r->start;

		if (r->name[0] || holds_stack(s, r->start, r->end) || is_bss(&s->img, i))
			continue;
		if (own[i] > len)
			own[i] = len;
		if (len - own[i] > SLACK) {
			u->bytes += len - own[i];
			u->regions++;
		}
	}
	free(own);
	u->hint = unseen_hint(&s->maps, exe, exe_head, head_len);
}
