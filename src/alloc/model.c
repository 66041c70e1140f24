/*
 * model.c - what every allocator's walker does to the chunk model
 * (glibc.h's struct heap_model) alike: record a problem, note the ranges
 * the allocator keeps for itself, and put the chunks and ranges in order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "glibc.h"
#include "xmalloc.h"

void
heap_model_problem(struct heap_model *m, uint64_t addr, const char *fmt, ...)
{
	size_t cap = m->nproblems;
	va_list ap;

	if (m->nproblems >= HEAP_MODEL_MAX_PROBLEMS) {
		m->problems_dropped++;
		return;
	}
	m->problems = xgrow(m->problems, &cap, m->nproblems + 1, sizeof(*m->problems));
	m->problems[m->nproblems].addr = addr;
	va_start(ap, fmt);
	vsnprintf(m->problems[m->nproblems].what, sizeof(m->problems[0].what), fmt, ap);
	va_end(ap);
	m->nproblems++;
}

void
heap_model_own(struct heap_model *m, size_t *cap, uint64_t start, uint64_t end)
{
	if (end <= start)
		return;
	if (m->nowned && m->owned[m->nowned - 1].end == start) {
		m->owned[m->nowned - 1].end = end;
		return;
	}
	m->owned = xgrow(m->owned, cap, m->nowned + 1, sizeof(*m->owned));
	m->owned[m->nowned++] = (struct owned_range){ start, end };
}

static int
cmp_owned(const void *a, const void *b)
{
	uint64_t x = ((const struct owned_range *)a)->start, y = ((const struct owned_range *)b)->start;

	return x < y ? -1 : x > y;
}

void
heap_model_owned_finish(struct heap_model *m)
{
	size_t k = 0;

	if (!m->nowned)
		return;
	qsort(m->owned, m->nowned, sizeof(*m->owned), cmp_owned);
	for (size_t i = 1; i < m->nowned; i++) {
		if (m->owned[i].start <= m->owned[k].end) {
			if (m->owned[i].end > m->owned[k].end)
				m->owned[k].end = m->owned[i].end;
		} else {
			m->owned[++k] = m->owned[i];
		}
	}
	m->nowned = k + 1;
}

static int
cmp_chunk(const void *a, const void *b)
{
	uint64_t x = ((const struct hs_chunk *)a)->addr, y = ((const struct hs_chunk *)b)->addr;

	return x < y ? -1 : x > y;
}

void
heap_model_sort_chunks(struct heap_model *m)
{
	if (m->nchunks > 1)
		qsort(m->chunks, m->nchunks, sizeof(*m->chunks), cmp_chunk);
}
