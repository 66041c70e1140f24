/*
 * addrmap.c - classify target addresses by the mapping they fall in (see
 * addrmap.h).
 *
 * Built once from /proc/PID/maps, then asked hundreds of millions of times
 * (every word of every chunk that shapes look at), so the map keeps only the
 * mappings a pointer can usefully point into and merges neighbours of the
 * same kind: a module's r--p/r-xp/r--p/rw-p run becomes one code range
 * between data ranges, a heap next to an anonymous arena one range.
 *
 *   anonymous, private, writable ([heap], arenas, stacks, [anon:*]) -> ANON
 *   /path, executable                                               -> CODE
 *   /path, otherwise (rodata, relro, .data, .bss)                   -> DATA
 *   [vdso]                                                          -> CODE
 *   shared mappings, [vvar], PROT_NONE guards, read-only anon       -> none
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addrmap.h"
#include "xmalloc.h"

/* Past this, further files share one catch-all module slot so the
 * uint16_t index cannot wrap. */
#define MODULE_MAX UINT16_MAX

static bool
is_private(const struct map_entry *e)
{
	return (e->perms & MAP_PERM_P) != 0;
}

static enum addr_kind
entry_kind(const struct map_entry *e)
{
	unsigned rwx = e->perms & (MAP_PERM_R | MAP_PERM_W | MAP_PERM_X);

	if (!strcmp(e->path, "[vdso]"))
		return AK_CODE;
	if (!is_private(e) || rwx == 0)
		return AK_NONE;
	if (map_is_anon(e))
		return (e->perms & MAP_PERM_W) ? AK_ANON : AK_NONE;
	if (e->path[0] != '/')
		return AK_NONE; /* [vvar], [vsyscall], other pseudo files */
	/* A private /dev/zero mapping is anonymous memory by another name. */
	if (!strncmp(e->path, "/dev/zero", 9))
		return (e->perms & MAP_PERM_W) ? AK_ANON : AK_NONE;
	return (e->perms & MAP_PERM_X) ? AK_CODE : AK_DATA;
}

/* Index of path in am->modules, adding it when new.  Mappings of one file
 * are adjacent in maps, so the last module is tried first. */
static uint16_t
module_index(struct addrmap *am, size_t *cap, const char *path)
{
	size_t i;

	if (am->nmodules && !strcmp(am->modules[am->nmodules - 1], path))
		return (uint16_t)(am->nmodules - 1);
	for (i = 0; i < am->nmodules; i++)
		if (!strcmp(am->modules[i], path))
			return (uint16_t)i;
	if (am->nmodules == MODULE_MAX)
		return MODULE_MAX - 1; /* the last slot, renamed below */
	am->modules = xgrow(am->modules, cap, am->nmodules + 1, sizeof(*am->modules));
	am->modules[am->nmodules] = xstrdup(path);
	if (am->nmodules == MODULE_MAX - 1) {
		free(am->modules[am->nmodules]);
		am->modules[am->nmodules] = xstrdup("(other modules)");
	}
	return (uint16_t)am->nmodules++;
}

void
addrmap_build(struct addrmap *am, const struct maps *m)
{
	size_t cap = 0, mcap = 0;

	memset(am, 0, sizeof(*am));
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];
		enum addr_kind k = entry_kind(e);
		uint16_t mod = 0;
		struct addr_range *last = am->n ? &am->v[am->n - 1] : NULL;

		if (k == AK_NONE || e->end <= e->start)
			continue;
		if (k != AK_ANON)
			mod = module_index(am, &mcap, e->path);
		if (last && last->end == e->start && last->kind == k && last->module == mod) {
			last->end = e->end;
			continue;
		}
		am->v = xgrow(am->v, &cap, am->n + 1, sizeof(*am->v));
		am->v[am->n++] = (struct addr_range){ .start = e->start, .end = e->end,
						      .kind = (uint8_t)k, .module = mod };
	}
	if (am->n) {
		am->lo = am->v[0].start;
		am->hi = am->v[am->n - 1].end;
	}
}

void
addrmap_free(struct addrmap *am)
{
	for (size_t i = 0; i < am->nmodules; i++)
		free(am->modules[i]);
	free(am->modules);
	free(am->v);
	memset(am, 0, sizeof(*am));
}

const struct addr_range *
addrmap_find(const struct addrmap *am, uint64_t addr)
{
	size_t lo = 0, hi = am->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < am->v[mid].start)
			hi = mid;
		else if (addr >= am->v[mid].end)
			lo = mid + 1;
		else
			return &am->v[mid];
	}
	return NULL;
}
