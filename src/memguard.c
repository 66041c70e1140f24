/*
 * memguard.c - refuse a scan that would not fit in memory (see memguard.h).
 *
 * What a scan needs, measured: peak RSS is the copy plus about 32 bytes per
 * chunk.  bench/gen.c with 6M chunks (830 MB copied, one chunk per 138
 * bytes): the report 1026 MB peak (copy + 33 B/chunk), --leaks 965 MB; a
 * 1.75 GB, 20M-chunk process (one chunk per 87 bytes): 2.37 GB (copy + 31
 * B/chunk); bench/results.md: 1.09 x (copy + 16 B/chunk) on 10M chunks.  The
 * chunk count is not known before the copy, so the guard assumes one chunk
 * per 64 bytes copied (denser than any heap measured here) at 32 bytes each,
 * plus 10% of the copy: need = 1.1 x copy + copy / 64 x 32 = 1.6 x the copy
 * (1.3 and 1.2 x the measured peaks above).  That errs towards refusing,
 * which --no-memory-check overrides.
 *
 * In windows (--max-memory) the budget is shared by the windows and the
 * tables over the chunks (pager.h), so a scan needs the budget, or the
 * tables when they alone pass it (about 15 bytes a chunk), and the chunk
 * list (16 bytes a chunk) beside it; bench/gen.c with 30M chunks and a
 * 1302 MiB budget peaked at budget + 16 B/chunk + 20 MiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "cgroup.h"
#include "memguard.h"

#define BYTES_PER_CHUNK_GUESS 64
#define COST_PER_CHUNK        32
#define LIST_PER_CHUNK        16 /* in windows: the chunk list, beside the budget */
#define TABLES_PER_CHUNK      16 /* in windows: the tables, within the budget */
#define BOUNDED_SLACK         ((uint64_t)16 << 20) /* the program, its buffers (~10 MiB measured) */
#define MIN_AUTO_BUDGET       ((uint64_t)4 << 20) /* less: a scan of many re-reads */

uint64_t
memguard_need(uint64_t copy_bytes)
{
	return copy_bytes + copy_bytes / 10 + copy_bytes / BYTES_PER_CHUNK_GUESS * COST_PER_CHUNK;
}

void
memguard_fmt(char *buf, size_t len, uint64_t bytes)
{
	static const char *unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
}

/* A whole number of bytes, strictly: "max" and garbage are -1. */
static int
parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	while (*end == '\n' || *end == ' ')
		end++;
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int
read_number(const char *path, uint64_t *out)
{
	char buf[64];
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	return ok ? parse_bytes(buf, out) : -1;
}

static int
mem_available(uint64_t *out)
{
	const char *fake = getenv("HEAPSCAN_TEST_MEMAVAILABLE");
	char line[256];
	FILE *f;
	int ret = -1;

	if (fake)
		return parse_bytes(fake, out);
	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*out = (uint64_t)kb * 1024;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* The room left under one cgroup directory's limit, if it has one. */
static bool
cgroup_room(const char *dir, bool v2, uint64_t *room)
{
	char p[PATH_MAX * 2 + 32];
	uint64_t limit, usage;

	snprintf(p, sizeof(p), "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
	if (read_number(p, &limit) < 0) /* v2 "max": no limit */
		return false;
	if (limit >= (1ULL << 60)) /* v1's "no limit" is a page-rounded LONG_MAX */
		return false;
	snprintf(p, sizeof(p), "%s/%s", dir, v2 ? "memory.current" : "memory.usage_in_bytes");
	if (read_number(p, &usage) < 0)
		return false;
	*room = usage < limit ? limit - usage : 0;
	return true;
}

/* The smallest room over our cgroup and its ancestors under MOUNT. */
static bool
cgroup_budget(const char *mount, bool v2, uint64_t *room, char *where, size_t wlen)
{
	char rel[PATH_MAX], dir[PATH_MAX * 2];
	bool any = false;

	if (!cgroup_own("/proc/self/cgroup", v2, "memory", rel, sizeof(rel)))
		return false;
	for (;;) {
		uint64_t r;
		char *slash;

		snprintf(dir, sizeof(dir), "%s%s", mount, rel);
		if (cgroup_room(dir, v2, &r) && (!any || r < *room)) {
			*room = r;
			snprintf(where, wlen, "the limit of cgroup %.200s", rel[0] ? rel : "/");
			any = true;
		}
		slash = strrchr(rel, '/');
		if (!slash || !rel[0])
			break;
		*slash = '\0';
	}
	return any;
}

int
memguard_budget(struct mem_budget *b)
{
	uint64_t room;
	char where[sizeof(b->source)];
	bool known = mem_available(&b->avail) == 0;

	if (known)
		snprintf(b->source, sizeof(b->source), "MemAvailable");
	if (getenv("HEAPSCAN_TEST_MEMAVAILABLE"))
		return known ? 0 : -1; /* the hook alone decides */
	if ((cgroup_budget("/sys/fs/cgroup", true, &room, where, sizeof(where)) ||
	     cgroup_budget("/sys/fs/cgroup/memory", false, &room, where, sizeof(where))) &&
	    (!known || room < b->avail)) {
		b->avail = room;
		snprintf(b->source, sizeof(b->source), "%s", where);
		known = true;
	}
	return known ? 0 : -1;
}

uint64_t
memguard_need_bounded(uint64_t copy_bytes, uint64_t budget)
{
	uint64_t chunks = copy_bytes / BYTES_PER_CHUNK_GUESS;
	uint64_t tables = chunks * TABLES_PER_CHUNK;

	return (budget > tables ? budget : tables) + chunks * LIST_PER_CHUNK + BOUNDED_SLACK;
}

/* A full copy does not fit: the windows' budget that does, the tables and
 * half the room they leave (at most 1 GiB: more saves few re-reads), or 0. */
static uint64_t
choose_budget(uint64_t copy_bytes, uint64_t avail)
{
	uint64_t fixed = memguard_need_bounded(copy_bytes, 0), room, budget;
	uint64_t tables = copy_bytes / BYTES_PER_CHUNK_GUESS * TABLES_PER_CHUNK;

	if (fixed >= avail)
		return 0;
	room = avail - fixed;
	budget = tables + room / 2 < ((uint64_t)1 << 30) ? tables + room / 2 : (uint64_t)1 << 30;
	budget &= ~(((uint64_t)1 << 20) - 1);
	return budget >= MIN_AUTO_BUDGET ? budget : 0;
}

int
memguard_check(int pid, uint64_t copy_bytes, uint64_t *max_memory)
{
	struct mem_budget b;
	uint64_t need = max_memory && *max_memory ? memguard_need_bounded(copy_bytes, *max_memory)
						  : memguard_need(copy_bytes);
	char n[32], c[32], a[32], w[32];

	if (memguard_budget(&b) < 0 || need <= b.avail)
		return EXIT_OK;
	memguard_fmt(n, sizeof(n), need);
	memguard_fmt(c, sizeof(c), copy_bytes);
	memguard_fmt(a, sizeof(a), b.avail);
	if (!max_memory) { /* no windows here */
		error_msg("scanning process %d needs about %s (a %s copy and the tables built over "
			  "it) but %s is available (%s); free memory, or take a core file (gcore) and "
			  "read it on a machine with more, or use --no-memory-check to try anyway",
			  pid, n, c, a, b.source);
		return EXIT_MEMORY;
	}
	if (*max_memory) {
		memguard_fmt(w, sizeof(w), *max_memory);
		error_msg("scanning process %d with --max-memory %s needs about %s (the windows and "
			  "the tables built over its chunks) but %s is available (%s); give a "
			  "smaller --max-memory, free memory, or use --no-memory-check to try anyway",
			  pid, w, n, a, b.source);
		return EXIT_MEMORY;
	}
	*max_memory = choose_budget(copy_bytes, b.avail);
	if (*max_memory) {
		memguard_fmt(w, sizeof(w), *max_memory);
		error_msg("scanning process %d whole needs about %s (a %s copy and the tables built "
			  "over it) but %s is available (%s); reading it in windows of at most %s "
			  "instead (--max-memory)", pid, n, c, a, b.source, w);
		return EXIT_OK;
	}
	memguard_fmt(w, sizeof(w), memguard_need_bounded(copy_bytes, MIN_AUTO_BUDGET));
	error_msg("scanning process %d needs about %s (a %s copy and the tables built over it) "
		  "but %s is available (%s); about %s even in windows (--max-memory); free memory, "
		  "or take a core file (gcore) and read it on a machine with more, or use "
		  "--no-memory-check to try anyway", pid, n, c, a, b.source, w);
	return EXIT_MEMORY;
}
