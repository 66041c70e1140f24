/*
 * maps.h - /proc/PID/maps, parsed.
 *
 * One line per mapping:
 *
 *   start-end         perms offset   dev   inode   path
 *   55d0c8a1e000-55d0c8a3f000 rw-p 00000000 00:00 0   [heap]
 *
 * Parsing is kept apart from reading so tests can feed text.  Lines that do
 * not parse are an error (the kernel writes this file; a bad line means we
 * misread it), never silently skipped.
 */
#ifndef HEAPSCAN_MAPS_H
#define HEAPSCAN_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	MAP_PERM_R = 1,
	MAP_PERM_W = 2,
	MAP_PERM_X = 4,
	MAP_PERM_P = 8, /* private (copy-on-write); shared otherwise */
};

struct map_entry {
	uint64_t start, end;
	uint64_t offset;
	uint64_t inode;
	unsigned perms;
	char *path; /* "" for anonymous mappings; "[heap]", "[stack]", ... */
	bool shared; /* pages shared copy-on-write with another process: read it
			through /proc/PID/mem (see maps_read_shared) */
	char *file;  /* where heapscan opens the file mapped here, set by the
			source: /proc/PID/map_files/... for a live process, the
			on-disk path whose build-id matches for a core; NULL when
			there is none (anonymous, missing, not the same file).
			Analyses open module files through this only. */
};

struct map_range {
	uint64_t start, end;
};

struct maps {
	struct map_entry *v;
	size_t n;
};

/* 0, or -errno (ESRCH when the process is gone). */
int maps_read(pid_t pid, struct maps *out);

/* The private writable mappings of pid some of whose pages another process
 * maps too (/proc/PID/smaps: Shared_Clean + Shared_Dirty > 0): after a fork,
 * until either side writes.  process_vm_readv pins the pages it reads, and
 * the kernel unshares (copies) a copy-on-write anonymous page before it pins
 * it, so reading such a mapping that way would grow the process by the
 * shared pages; /proc/PID/mem reads them in place.  *out is malloc'd.  0 or
 * -errno. */
int maps_read_shared(pid_t pid, struct map_range **out, size_t *n);

/* Set e->shared on the entries of m that overlap one of the n ranges. */
void maps_mark_shared(struct maps *m, const struct map_range *r, size_t n);
/* 0, or -EINVAL with the 1-based bad line number in *bad_line. */
int maps_parse(const char *text, size_t len, struct maps *out, size_t *bad_line);
void maps_free(struct maps *m);

/* The mapping containing addr, or NULL. Entries are sorted by address. */
const struct map_entry *maps_find(const struct maps *m, uint64_t addr);
/* The file mapping that holds addr, or the one an anonymous mapping holding
 * addr directly follows (a module's .bss); NULL otherwise. */
const struct map_entry *maps_module(const struct maps *m, uint64_t addr);

/* Private writable mappings heapscan copies: [heap], anonymous memory, stacks,
 * modules' .data/.bss.  Not [vvar]/[vsyscall], not shared mappings. */
int map_is_copied(const struct map_entry *e);
/* Anonymous (no backing file) or [heap]/[stack]: candidates for malloc memory. */
int map_is_anon(const struct map_entry *e);

#endif
