/*
 * addrmap.h - what an address in the target points at, by mapping.
 *
 * Built from /proc/PID/maps as read inside the stop window.  Used to tell a
 * heap pointer from a pointer into a module's code or data, for shapes, for
 * vtable candidates, and later for reachability.
 */
#ifndef HEAPSCAN_ADDRMAP_H
#define HEAPSCAN_ADDRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "maps.h"

enum addr_kind {
	AK_NONE = 0,  /* not mapped (or a mapping of no interest) */
	AK_ANON,      /* anonymous writable memory: [heap], arena heaps, mmapped chunks, stacks */
	AK_CODE,      /* a module's executable mapping */
	AK_DATA,      /* a module's other mappings (rodata, relro, data, bss) */
};

struct addr_range {
	uint64_t start, end;
	uint8_t kind;     /* enum addr_kind */
	uint16_t module;  /* index into addrmap.modules for AK_CODE/AK_DATA */
};

struct addrmap {
	struct addr_range *v; /* sorted, non-overlapping */
	size_t n;
	char **modules;       /* module paths */
	size_t nmodules;
	uint64_t lo, hi;      /* lowest start, highest end: a cheap first test */
};

void addrmap_build(struct addrmap *am, const struct maps *m);
void addrmap_free(struct addrmap *am);
/* The range holding addr, or NULL. */
const struct addr_range *addrmap_find(const struct addrmap *am, uint64_t addr);
static inline enum addr_kind addrmap_kind(const struct addrmap *am, uint64_t addr)
{
	const struct addr_range *r;

	if (addr < am->lo || addr >= am->hi)
		return AK_NONE;
	r = addrmap_find(am, addr);
	return r ? (enum addr_kind)r->kind : AK_NONE;
}

#endif
