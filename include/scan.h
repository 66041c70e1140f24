/*
 * scan.h - one look at a live process: probe, locate, stop, copy, let go, walk.
 *
 * Everything that can be done without the target stopped is done before
 * (reading /proc, opening libc, disassembling, faulting in the buffer) or
 * after (walking).  The stop window holds: seizing the threads, re-reading
 * /proc/PID/maps, the copy, reading registers, detaching.
 *
 * With --cow (cow.h) the stop window holds the seize, a fork the target is
 * made to execute, and the release; the memory is read from the fork after.
 *
 * When an arena's mutex was held at the stop (a thread inside malloc), the
 * copy may catch a list mid-update; the scan lets the target run a moment
 * and tries again, a few times, before it reports the arena as busy.
 */
#ifndef HEAPSCAN_SCAN_H
#define HEAPSCAN_SCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "unseen.h"
#include "glibc.h"
#include "image.h"
#include "libc.h"
#include "maps.h"

#define SCAN_MAX_BUSY 16

struct cow;
struct seize;

/* A thread as it was at the (last) stop: its registers are roots for the
 * reachability scan and the start of its backtrace. */
struct scan_thread {
	pid_t tid;
	char comm[16];  /* the thread's name, "" when unknown */
	bool have_regs;
	struct user_regs_struct regs;
};

/* --locate: where malloc's state is looked for. */
enum locate_mode {
	LOCATE_AUTO,   /* libc's code when its file is there and matches, else memory */
	LOCATE_CODE,   /* libc's code only (libc.h) */
	LOCATE_MEMORY, /* the copied memory only (glibc_find.h), libc's file unused */
};

struct scan_opts {
	int max_attempts;        /* copies tried while an arena is busy (>= 1) */
	enum locate_mode locate;
	bool test_locate_blind;  /* test hook: the memory way reads no version string */
	bool test_locate_ms;     /* bench hook: say on stderr how long the search took */
	bool test_code_wrong;    /* test hook: libc's code gives a main_arena with no ring */
	bool allow_foreign;      /* go on without a malloc model when malloc is not glibc's */
	long test_stop_delay_ms; /* test hook: sleep inside the stop window */
	bool cow;                /* --cow: the target forks, heapscan reads the fork */
	long test_cow_delay_ms;  /* test hook: sleep after the release, the copy alive */
	long test_cow_borrow_ms; /* test hook: --cow's guard sleeps while a target thread
				    runs on borrowed registers */
	bool no_memory_check;    /* --no-memory-check: copy even when it looks too big */
	uint64_t max_memory;     /* --max-memory: bytes of the target held at most
				    (windows, pager.h); 0: copy it whole */
};

struct scan {
	pid_t pid;
	char *cmdline;
	char *origin;           /* NULL for a live stop; else what the memory was
				   read from ("core FILE"), shown in its place */
	struct libc_info libc;
	struct map_entry libc_map;       /* libc's offset-0 mapping (path owned), for
					    finding malloc's state in memory */
	char locate_note[512];           /* why libc's code did not serve (auto) */
	struct glibc_thread *threads;    /* tid and tcache, for the walker */
	struct scan_thread *regs;        /* nthreads entries, same order */
	struct map_range *shared;        /* mappings sharing pages with another
					    process before the stop: read through
					    /proc/PID/mem (maps_read_shared) */
	size_t nshared;
	size_t nthreads;
	bool was_stopped;       /* the process was in group-stop and stays so */
	double pause_ms;        /* the last attempt's stop window */
	double pause_total_ms;  /* all attempts */
	double prepare_ms;      /* before the stop: /proc, libc, faulting in the buffer */
	double walk_ms;         /* after the stop: walking the copy */
	double analyze_ms;      /* after the walk: types, classes, clusters */
	int attempts;
	uint64_t copied_bytes;
	size_t holes;           /* unreadable ranges in the copy */
	int nbusy;              /* arenas locked at the final stop */
	uint64_t busy[SCAN_MAX_BUSY];
	bool tcache_unknown;    /* thread caches could not be located */
	bool foreign;           /* malloc is not glibc's: no heap model (allow_foreign) */
	char *jemalloc;         /* malloc is jemalloc's (or tcmalloc's, when tcmalloc is
				   set), in the module mapped from this path (libc.version
				   says "jemalloc 5.3.0", "tcmalloc 2.10"); NULL: glibc.
				   Both put objects in the chunk model the same way
				   (include/jemalloc.h, include/tcmalloc.h) */
	bool tcmalloc;
	char foreign_why[512];
	struct maps maps;       /* as read inside the (last) stop window */
	struct image img;       /* writable memory, copied inside the stop window */
	struct image ro;        /* modules' read-only mappings, copied after it */
	struct heap_model heap;
	bool cow;               /* the (last) copy was read from a fork of the target */
	double cow_read_ms;     /* reading that fork, after the stop window */
	char cow_refused[192];  /* --cow asked for but not done: why ("" otherwise) */
	uint64_t bounded;       /* the image is read in windows, this many bytes
				   held at most (pager.h); 0: a whole copy */
	struct seize *held;     /* bounded without a fork: the target's stop,
				   held until scan_free */
	struct cow *cow_keep;   /* bounded with a fork: the fork the windows are
				   read from, ended by scan_free */
	bool have_unseen;       /* a live scan of a glibc target measured it */
	struct unseen unseen;   /* anonymous memory no chunk covers (unseen.h) */
};

/* EXIT_OK, or an exit code after printing a one-line cause. */
int scan_live(pid_t pid, const struct scan_opts *opts, struct scan *out);

/* jemalloc (allocator_info.jemalloc is je): s->jemalloc and the version in
 * s->libc.version set, EXIT_OK; a version other than 5.3 is refused (a line,
 * EXIT_UNSUPPORTED), or with allow_foreign makes the scan foreign. */
int scan_use_jemalloc(struct scan *s, const struct map_entry *je, const struct scan_opts *opts);
/* tcmalloc, the same way: s->jemalloc, s->tcmalloc and "tcmalloc 2.N". */
int scan_use_tcmalloc(struct scan *s, const struct map_entry *tc);
/* Walk jemalloc (or tcmalloc) in s->img into s->heap: EXIT_OK (or foreign, when allowed
 * and no extent map is found), else a line and EXIT_UNSUPPORTED. */
int scan_walk_jemalloc(struct scan *s, const struct scan_opts *opts);
void scan_free(struct scan *s);

#endif
