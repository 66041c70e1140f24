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
#include <string.h>

#include "glibc.h"
#include "maps.h"
#include "scan.h"
#include "unseen.h"

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
static uint64_t
covered(const struct heap_model *h, size_t *j, uint64_t start, uint64_t end)
{
	uint64_t n = 0;

	while (*j < h->nchunks && h->chunks[*j].addr + h->chunks[*j].size <= start)
		(*j)++;
	for (size_t k = *j; k < h->nchunks && h->chunks[k].addr < end; k++) {
		uint64_t a = h->chunks[k].addr, b = a + h->chunks[k].size;

		if (b < a) /* cannot wrap in a walked heap; stay safe */
			b = UINT64_MAX;
		n += (b < end ? b : end) - (a > start ? a : start);
	}
	return n;
}

void
unseen_measure(const struct scan *s, const char *exe, const void *exe_head, size_t head_len,
	       struct unseen *u)
{
	size_t j = 0;

	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < s->img.n; i++) {
		const struct region *r = &s->img.r[i];
		uint64_t len = r->end - r->start, own;

		if (r->name[0] || holds_stack(s, r->start, r->end) || is_bss(&s->img, i))
			continue;
		own = s->foreign ? 0 : covered(&s->heap, &j, r->start, r->end);
		if (own > len)
			own = len;
		if (len - own > SLACK) {
			u->bytes += len - own;
			u->regions++;
		}
	}
	u->hint = unseen_hint(&s->maps, exe, exe_head, head_len);
}
