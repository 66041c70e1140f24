/*
 * scan.c - the live scan (see scan.h).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "allocator.h"
#include "copy.h"
#include "cow.h"
#include "error.h"
#include "glibc_find.h"
#include "maps.h"
#include "memguard.h"
#include "pager.h"
#include "probe.h"
#include "jemalloc.h"
#include "tcmalloc.h"
#include "scan.h"
#include "seize.h"
#include "xmalloc.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Where heapscan opens a file the target maps: /proc/PID/map_files/START-END
 * (the very file mapped, even deleted or in another mount namespace; needs
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE), else /proc/PID/root/PATH. */
static char *
target_file_path(pid_t pid, const struct map_entry *e)
{
	char *p = xasprintf("/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, e->start, e->end);
	int fd = open(p, O_PATH | O_CLOEXEC); /* O_PATH: follows the link, opens nothing */

	if (fd >= 0) {
		close(fd);
		return p;
	}
	free(p);
	return xasprintf("/proc/%d/root%s", (int)pid, e->path);
}

/* Every file mapping's map_entry.file (see maps.h). */
static void
set_files(pid_t pid, struct maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].path[0] == '/' && !m->v[i].file)
			m->v[i].file = target_file_path(pid, &m->v[i]);
}

static int
seize_failed(pid_t pid, enum seize_status st, int err)
{
	char why[512];
	struct eperm_facts f;

	switch (st) {
	case SEIZE_PERM:
		eperm_facts_read(pid, &f);
		eperm_explain(pid, &f, why, sizeof(why));
		error_msg("%s", why);
		return EXIT_PERM;
	case SEIZE_GONE:
		error_msg("process %d exited during the scan", (int)pid);
		return EXIT_NOPROC;
	case SEIZE_EXEC:
		error_msg("process %d executed a new program during the scan; target changed, retry",
			  (int)pid);
		return EXIT_CHANGED;
	case SEIZE_CHURN:
		error_msg("process %d kept creating threads faster than heapscan could stop them; "
			  "target changed, retry", (int)pid);
		return EXIT_CHANGED;
	case SEIZE_TIMEOUT:
		error_msg("a thread of process %d did not stop within 3 s (uninterruptible sleep?); "
			  "target left running", (int)pid);
		return EXIT_FAIL;
	default:
		errno = err;
		perror_msg("cannot stop process %d", (int)pid);
		return EXIT_FAIL;
	}
}

/* Gone, or a zombie its parent has not reaped yet (kill(pid, 0) still works
 * on those). */
static bool
process_exited(pid_t pid)
{
	struct target_info ti;
	char why[256];
	int ret = target_probe(pid, &ti, why, sizeof(why));
	bool gone = ret == EXIT_NOPROC || ti.state == 'Z' || ti.state == 'X';

	target_info_free(&ti);
	return gone;
}

/*
 * An exec or an exit can land in any phase of a scan: while the target is
 * probed and its libc located, between that and the stop, or after the stop
 * while the read-only modules are copied.  Whatever then fails (libc not
 * where it was, main_arena not in the copy, a read refused), the cause is
 * the race, and the exit code says so: 3 when the process is gone or a
 * zombie, 6 (retry) when it runs another program than the one probed.  The
 * identity is taken at the probe (target_identity); an exec changes it for
 * good, so one look after the last read of the target tells whether one
 * happened since.
 */
static int
changed_or_gone(pid_t pid, const struct target_id *id0)
{
	struct target_id id;
	int r = target_identity(pid, &id);

	if (r == -ESRCH || (r == 0 && (id.state == 'Z' || id.state == 'X'))) {
		error_msg("process %d exited during the scan", (int)pid);
		return EXIT_NOPROC;
	}
	if (r == 0 && (id.code != id0->code || id.stack != id0->stack || id.args != id0->args ||
		       id.env != id0->env)) {
		error_msg("process %d executed a new program during the scan; target changed, retry",
			  (int)pid);
		return EXIT_CHANGED;
	}
	return EXIT_OK;
}

/* HEAPSCAN_TEST_PAUSE_AT=PHASE with HEAPSCAN_TEST_PAUSE_FILE=PATH: at PHASE
 * ("probed", "located" or "released") create PATH.reached and wait (20 s at
 * most) for PATH.go, so a test can make the target exec or exit exactly
 * there.  For tests only; nothing happens without both variables. */
static void
test_pause(const char *phase)
{
	const char *at = getenv("HEAPSCAN_TEST_PAUSE_AT"), *file = getenv("HEAPSCAN_TEST_PAUSE_FILE");
	char path[4096];
	int fd;

	if (!at || !file || strcmp(at, phase))
		return;
	snprintf(path, sizeof(path), "%s.reached", file);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s.go", file);
	for (int i = 0; i < 2000 && access(path, F_OK) < 0; i++)
		sleep_ms(10);
}

/* The windows of an earlier attempt, and the fork they came from. */
static void
drop_kept_fork(struct scan *s)
{
	image_free(&s->img);
	if (s->cow_keep) {
		cow_end(s->cow_keep);
		free(s->cow_keep);
		s->cow_keep = NULL;
	}
}

/* --max-memory: the fork stays, frozen, and the image reads it in windows
 * until scan_free ends it. */
static int
read_fork_paged(struct scan *s, const struct scan_opts *opts, struct cow *cw, double t0)
{
	char why[256];

	drop_kept_fork(s);
	s->cow_keep = xmalloc(sizeof(*s->cow_keep));
	*s->cow_keep = *cw;
	if (copy_paged(cw->child, &s->maps, &s->img, opts->max_memory, why, sizeof(why)) < 0) {
		error_msg("--max-memory: %s", why);
		drop_kept_fork(s);
		return -EOPNOTSUPP;
	}
	s->bounded = opts->max_memory;
	s->cow_read_ms = now_ms() - t0;
	return 0;
}

/* Read the fork's memory after the stop window, then end it.  Its maps are
 * the target's at the fork.  0 or -errno. */
static int
read_fork(struct scan *s, const struct scan_opts *opts, struct cow *cw)
{
	double t0 = now_ms();
	int ret;

	if (opts->test_cow_delay_ms > 0)
		sleep_ms(opts->test_cow_delay_ms);
	maps_free(&s->maps);
	ret = maps_read(cw->child, &s->maps);
	/* Every page of the fork is shared with the target: process_vm_readv
	 * would make the fork copy each one it reads. */
	for (size_t i = 0; ret == 0 && i < s->maps.n; i++)
		s->maps.v[i].shared = true;
	if (ret == 0 && opts->max_memory)
		return read_fork_paged(s, opts, cw, t0);
	if (ret == 0)
		ret = copy_regions(cw->child, &s->maps, &s->img);
	cow_end(cw);
	s->cow_read_ms = now_ms() - t0;
	return ret;
}

/* No fork: say what is done instead. */
static void
refused_notice(const struct scan *s, const struct scan_opts *opts)
{
	if (opts->max_memory)
		error_msg("--max-memory: no fork of process %d (%s); keeping it stopped while its "
			  "memory is read in windows, until the report is written", (int)s->pid,
			  s->cow_refused);
	else
		error_msg("--cow: %s; copying while stopped", s->cow_refused);
}

/* --max-memory without a fork: the target stays stopped while its memory
 * is read in windows, through the walk and the analyses, so that every
 * window is of the same instant; scan_free lets it go. */
static int
stop_hold(struct scan *s, const struct scan_opts *opts, struct seize *sz, double t0)
{
	char why[256];

	if (copy_paged(s->pid, &s->maps, &s->img, opts->max_memory, why, sizeof(why)) < 0) {
		seize_release(sz);
		error_msg("--max-memory: %s", why);
		return EXIT_FAIL;
	}
	seize_read_regs(sz);
	if (opts->test_stop_delay_ms > 0)
		sleep_ms(opts->test_stop_delay_ms);
	s->bounded = opts->max_memory;
	s->pause_ms = now_ms() - t0;
	s->was_stopped = sz->group_stopped;
	return 0;
}

/* The plain stop window: seize, copy, registers, release.  0, -ESRCH or an
 * exit code (> 0) after its message. */
static int
stop_copy_release(struct scan *s, const struct scan_opts *opts, struct seize *sz)
{
	double t0 = now_ms();
	enum seize_status st;
	int err, ret;

	st = seize_all(sz, s->pid, &err);
	if (st != SEIZE_OK)
		return seize_failed(s->pid, st, err);
	maps_free(&s->maps);
	ret = maps_read(s->pid, &s->maps);
	if (ret == 0 && opts->max_memory)
		return stop_hold(s, opts, sz, t0);
	if (ret == 0) {
		maps_mark_shared(&s->maps, s->shared, s->nshared);
		ret = copy_regions(s->pid, &s->maps, &s->img);
	}
	if (ret == 0)
		seize_read_regs(sz);
	if (opts->test_stop_delay_ms > 0)
		sleep_ms(opts->test_stop_delay_ms);
	seize_release(sz);
	s->pause_ms = now_ms() - t0;
	s->was_stopped = sz->group_stopped;
	return ret;
}

/* --cow's stop window, made by the guard process (cow_stop).  0 with
 * s->cow set when the target forked a copy, or clear when the fork was
 * refused (the target as it was, the reason kept for the notice); -ESRCH; or
 * an exit code (> 0) after its message. */
static int
stop_fork_release(struct scan *s, const struct scan_opts *opts, struct seize *sz,
		  struct cow *cw)
{
	struct cow_stop_info info;

	switch (cow_stop(s->pid, opts->test_stop_delay_ms, sz, cw, &info)) {
	case COW_OK:
		s->pause_ms = info.pause_ms;
		s->was_stopped = info.group_stopped;
		s->cow = true;
		return 0;
	case COW_GONE:
		return -ESRCH;
	case COW_NOSEIZE:
		/* The guard is another process: under Yama's ptrace_scope 1
		 * it may be refused where heapscan would not be. */
		if (info.seize_st == SEIZE_PERM)
			snprintf(s->cow_refused, sizeof(s->cow_refused),
				 "the guard process may not trace it");
		else
			return seize_failed(s->pid, (enum seize_status)info.seize_st, info.err);
		return 0;
	case COW_REFUSED:
		snprintf(s->cow_refused, sizeof(s->cow_refused), "%s", cw->why);
		/* the refused attempt stopped the target too */
		s->pause_total_ms += info.pause_ms;
		return 0;
	}
	return 0;
}

/* The stop window.  EXIT_OK with the image filled, or an exit code.  With cw
 * (--cow), the window holds a fork and the image is read from the fork after
 * it; when the fork is refused, a plain stop follows. */
static int
stop_and_copy(struct scan *s, const struct scan_opts *opts, struct seize *sz, struct cow *cw,
	      const struct target_id *id)
{
	bool refused_before = s->cow_refused[0] != '\0';
	int ret = 0;

	s->cow = false;
	if (cw) {
		ret = stop_fork_release(s, opts, sz, cw);
		if (ret > 0)
			return ret;
		if (s->cow_refused[0] && !refused_before)
			refused_notice(s, opts);
		if (ret == 0 && !s->cow)
			seize_free(sz);
	}
	if (ret == 0 && !s->cow) {
		ret = stop_copy_release(s, opts, sz);
		if (ret > 0)
			return ret;
	}
	s->pause_total_ms += s->pause_ms;
	if (s->cow) {
		ret = read_fork(s, opts, cw);
		if (ret == -EOPNOTSUPP) /* the pager said why */
			return EXIT_FAIL;
		if (ret) {
			int race = changed_or_gone(s->pid, id);

			if (race != EXIT_OK)
				return race;
		}
		if (ret) {
			errno = -ret;
			perror_msg("cannot read the copy of process %d", (int)s->pid);
			return EXIT_FAIL;
		}
	}
	if (ret == -ESRCH) {
		error_msg("process %d exited during the scan", (int)s->pid);
		return EXIT_NOPROC;
	}
	if (ret) {
		int race = changed_or_gone(s->pid, id);

		if (race != EXIT_OK)
			return race;
		errno = -ret;
		perror_msg("cannot copy the memory of process %d", (int)s->pid);
		return EXIT_FAIL;
	}
	if (process_exited(s->pid)) {
		error_msg("process %d exited during the scan", (int)s->pid);
		return EXIT_NOPROC;
	}
	return EXIT_OK;
}

static void
read_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		n = 0;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

static void
collect_threads(struct scan *s, const struct seize *sz)
{
	s->nthreads = sz->n;
	s->threads = xcalloc(sz->n, sizeof(*s->threads));
	s->regs = xcalloc(sz->n, sizeof(*s->regs));
	for (size_t i = 0; i < sz->n; i++) {
		struct glibc_thread *t = &s->threads[i];
		uint64_t v;

		t->tid = sz->t[i].tid;
		s->regs[i].tid = sz->t[i].tid;
		s->regs[i].have_regs = sz->t[i].have_regs;
		s->regs[i].regs = sz->t[i].regs;
		read_comm(s->pid, t->tid, s->regs[i].comm, sizeof(s->regs[i].comm));
		if (!s->libc.have_tpoff || !sz->t[i].have_regs)
			continue;
		if (image_u64(&s->img, sz->t[i].regs.fs_base + (uint64_t)s->libc.tcache_tpoff, &v))
			t->tcache = v;
	}
	/* before 2.26 there is no tcache to find */
	s->tcache_unknown = (!s->libc.lay || s->libc.lay->tc_bins) && !s->libc.have_tpoff;
}

/* Where malloc's state is, from libc's code (unless --locate=memory).  In
 * auto mode a failure only leaves it to the memory, after the copy. */
static int
locate_by_code(pid_t pid, struct scan *s, const struct allocator_info *ai,
	       const struct scan_opts *opts, const struct target_id *id)
{
	char why[512];
	int ret;

	s->libc_map = *ai->libc;
	s->libc_map.path = xstrdup(ai->libc->path);
	if (opts->locate == LOCATE_MEMORY)
		return EXIT_OK;
	ret = libc_locate(pid, ai, &s->libc, why, sizeof(why));
	if (ret == EXIT_OK && opts->test_code_wrong) /* test hook: code that misleads */
		s->libc.main_arena = 8;
	if (ret == EXIT_OK || opts->locate == LOCATE_CODE) {
		if (ret != EXIT_OK) {
			int race = changed_or_gone(pid, id);

			if (race != EXIT_OK)
				return race;
			error_msg("%s", why);
		}
		return ret;
	}
	memset(&s->libc, 0, sizeof(s->libc));
	snprintf(s->locate_note, sizeof(s->locate_note), "%s", why);
	error_msg("%s; looking for malloc's state in memory", why);
	return EXIT_OK;
}

/* Where the dynamic linker is mapped: AT_BASE from /proc/PID/auxv, 0 when
 * unknown (allocator_check tells the loader by it). */
static uint64_t
loader_base(pid_t pid)
{
	char path[64];
	uint64_t av[2], base = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fread(av, sizeof(av), 1, f) == 1 && av[0] != AT_NULL)
		if (av[0] == AT_BASE)
			base = av[1];
	fclose(f);
	return base;
}

int
scan_use_jemalloc(struct scan *s, const struct map_entry *je, const struct scan_opts *opts)
{
	char v[7], why[256];
	struct elfmod *mod = je->file ? elfmod_open(je->file, why, sizeof(why)) : NULL;

	if (!mod || !jemalloc_version(mod, v, sizeof(v)))
		snprintf(v, sizeof(v), "?");
	elfmod_close(mod);
	if (strncmp(v, "5.3.", 4)) { /* the layouts of jemalloc.c are 5.3's */
		snprintf(why, sizeof(why), "malloc in process %d comes from jemalloc %s; "
			 "heapscan reads jemalloc 5.3 only", (int)s->pid, v);
		if (!opts->allow_foreign) {
			error_msg("%s", why);
			return EXIT_UNSUPPORTED;
		}
		s->foreign = true;
		snprintf(s->foreign_why, sizeof(s->foreign_why), "%s", why);
		return EXIT_OK;
	}
	s->jemalloc = xstrdup(je->path);
	snprintf(s->libc.version, sizeof(s->libc.version), "jemalloc %s", v);
	return EXIT_OK;
}

int
scan_use_tcmalloc(struct scan *s, const struct map_entry *tc)
{
	char v[7], err[256];
	struct elfmod *mod = tc->file ? elfmod_open(tc->file, err, sizeof(err)) : NULL;

	if (!mod || !tcmalloc_version(mod, v, sizeof(v)))
		snprintf(v, sizeof(v), "2.x"); /* the walk checks what it reads */
	elfmod_close(mod);
	s->jemalloc = xstrdup(tc->path);
	s->tcmalloc = true;
	snprintf(s->libc.version, sizeof(s->libc.version), "tcmalloc %s", v);
	return EXIT_OK;
}

static int
prepare(pid_t pid, struct scan *s, struct maps *m, const struct scan_opts *opts,
	struct target_id *id)
{
	struct target_info ti;
	struct allocator_info ai;
	char why[512], exe[64];
	int ret;

	/* the identity first: an exec after it shows, one before it is the
	 * program probed */
	if (target_identity(pid, id) == -ESRCH) {
		error_msg("no process with pid %d", (int)pid);
		return EXIT_NOPROC;
	}
	ret = target_probe(pid, &ti, why, sizeof(why));
	s->cmdline = xstrdup(ti.cmdline ? ti.cmdline : "");
	target_info_free(&ti);
	if (ret != EXIT_OK) {
		error_msg("%s", why);
		return ret;
	}
	test_pause("probed");
	/* read while the target runs: a mapping made or dropped mid-read can
	 * leave the lines out of order (-EINVAL); a fresh read is whole */
	for (int tries = 0; (ret = maps_read(pid, m)) == -EINVAL && tries < 8; tries++)
		sleep_ms(1);
	if (ret) {
		int race = changed_or_gone(pid, id);

		if (race != EXIT_OK)
			return race;
		errno = -ret;
		if (ret == -ESRCH) {
			error_msg("no process with pid %d", (int)pid);
			return EXIT_NOPROC;
		}
		if (ret == -EACCES || ret == -EPERM) {
			/* unprivileged: /proc refuses before ptrace is tried */
			struct eperm_facts f;

			eperm_facts_read(pid, &f);
			eperm_explain(pid, &f, why, sizeof(why));
			error_msg("%s", why);
			return EXIT_PERM;
		}
		perror_msg("cannot read /proc/%d/maps", (int)pid);
		return EXIT_FAIL;
	}
	set_files(pid, m);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	ret = allocator_check(pid, m, exe, loader_base(pid), &ai, why, sizeof(why));
	if (ret != EXIT_OK) { /* a zombie's maps are empty: "no glibc" */
		int race = changed_or_gone(pid, id);

		if (race != EXIT_OK)
			return race;
	}
	if (ret == EXIT_UNSUPPORTED && opts->allow_foreign) {
		s->foreign = true;
		snprintf(s->foreign_why, sizeof(s->foreign_why), "%s", why);
		return EXIT_OK;
	}
	if (ret != EXIT_OK) {
		error_msg("%s", why);
		return ret;
	}
	if (ai.jemalloc) {
		ret = ai.tcmalloc ? scan_use_tcmalloc(s, ai.jemalloc)
				  : scan_use_jemalloc(s, ai.jemalloc, opts);
		allocator_info_free(&ai);
		return ret;
	}
	ret = locate_by_code(pid, s, &ai, opts, id);
	allocator_info_free(&ai);
	return ret;
}

/* auto: libc's code matched its patterns but gave an address that holds
 * no arena ring in the copy (an unusual build): leave it to the memory. */
static void
code_missed(struct scan *s)
{
	snprintf(s->locate_note, sizeof(s->locate_note), "libc's code gave main_arena 0x%lx, "
		 "which holds no arena ring", (unsigned long)s->libc.main_arena);
	error_msg("%s; looking for malloc's state in memory", s->locate_note);
	memset(&s->libc, 0, sizeof(s->libc));
}

/* libc's version string, from its read-only mappings in [lo, hi) (they do
 * not change: read after the stop window). */
static bool
read_version(pid_t pid, const struct maps *m, uint64_t lo, uint64_t hi, int *minor)
{
	struct image ro;
	bool found;

	image_init(&ro);
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];
		uint64_t len = e->end - e->start;
		struct iovec l, r;
		ssize_t n;
		void *buf;

		if (e->start < lo || e->end > hi || (e->perms & MAP_PERM_W) || len > (64u << 20))
			continue;
		buf = xmalloc(len);
		l = (struct iovec){ buf, len };
		r = (struct iovec){ (void *)(uintptr_t)e->start, len };
		n = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (n > 0)
			image_add_copy(&ro, e->start, buf, (size_t)n, e->perms, e->path);
		free(buf);
	}
	found = glibc_find_version(&ro, lo, hi, minor);
	image_free(&ro);
	return found;
}

/* After a copy, when libc's code did not say: malloc's state from the
 * copied memory alone (glibc_find.h).  0, or -1 with the cause in why. */
static int
locate_in_memory(struct scan *s, const struct scan_opts *opts, const struct seize *sz,
		 char *why, size_t len)
{
	const struct map_entry *libc = NULL;
	uint64_t lo, hi, *fs;
	struct map_range data[GLIBC_FIND_MAX_RANGES];
	int minor = 0, ret;
	double t0;

	for (size_t i = 0; i < s->maps.n && !libc; i++)
		if (s->maps.v[i].offset == 0 && !strcmp(s->maps.v[i].path, s->libc_map.path))
			libc = &s->maps.v[i];
	if (!libc) {
		snprintf(why, len, "libc is no longer mapped");
		return -1;
	}
	/* the version string is in libc's read-only data, not in the copy */
	glibc_find_ranges(&s->maps, libc, data, GLIBC_FIND_MAX_RANGES, &lo, &hi);
	if (!opts->test_locate_blind)
		read_version(s->pid, &s->maps, lo, hi, &minor);
	fs = xcalloc(sz->n ? sz->n : 1, sizeof(*fs));
	for (size_t i = 0; i < sz->n; i++)
		fs[i] = sz->t[i].have_regs ? sz->t[i].regs.fs_base : 0;
	t0 = now_ms();
	ret = glibc_find_libc(&s->img, NULL, &s->maps, libc, fs, sz->n,
			      opts->test_locate_blind ? -1 : minor, &s->libc, why, len);
	if (opts->test_locate_ms) /* bench hook: how long the search took */
		error_msg("glibc_find: %.3f ms (%s)", now_ms() - t0, ret < 0 ? "refused" : "found");
	free(fs);
	return ret;
}

/* libc's code gave main_arena but not mp_ (2.12-2.14 keep it in .bss):
 * mp_ from the copied memory. */
static void
mp_from_memory(struct scan *s)
{
	for (size_t i = 0; i < s->maps.n; i++)
		if (s->maps.v[i].offset == 0 && !strcmp(s->maps.v[i].path, s->libc_map.path)) {
			glibc_find_mp_libc(&s->img, &s->maps, &s->maps.v[i], &s->libc);
			return;
		}
}

/* Before the stop: cw when the target can be made to fork, else NULL after
 * the notice. */
static struct cow *
prepare_cow(struct scan *s, const struct scan_opts *opts, const struct maps *m, struct cow *cw)
{
	if (cow_prepare(s->pid, m, cw) < 0) {
		snprintf(s->cow_refused, sizeof(s->cow_refused), "%s", cw->why);
		refused_notice(s, opts);
		return NULL;
	}
	cw->test_borrow_ms = opts->test_cow_borrow_ms;
	seize_set_child_cleanup(cow_end_current);
	return cw;
}

/* Anonymous memory no chunk covers, and whose it may be: the executable's
 * name and first 64 KiB (a Go build id) from /proc, read after the stop. */
static void
measure_unseen(struct scan *s)
{
	char link[64], exe[PATH_MAX];
	static char head[64 << 10];
	ssize_t n, got = 0;
	int fd;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)s->pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		got = read(fd, head, sizeof(head));
		close(fd);
	}
	unseen_measure(s, exe, head, got > 0 ? (size_t)got : 0, &s->unseen);
	s->have_unseen = true;
}

/* The writable mappings of the module at path, and the anonymous mapping
 * right after them (its .bss), where jemalloc's globals are. */
static size_t
module_data(const struct maps *m, const char *path, struct map_range *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n && n < max; i++) {
		const struct map_entry *e = &m->v[i];

		if (!strcmp(e->path, path) && (e->perms & MAP_PERM_W))
			out[n++] = (struct map_range){ e->start, e->end };
		else if (n && !e->path[0] && e->start == out[n - 1].end && (e->perms & MAP_PERM_W) &&
			 i && !strcmp(m->v[i - 1].path, path))
			out[n++] = (struct map_range){ e->start, e->end };
	}
	return n;
}

int
scan_walk_jemalloc(struct scan *s, const struct scan_opts *opts)
{
	struct map_range data[8];
	struct jemalloc_target jt = { .img = &s->img, .data = data };
	char why[256];
	double t0 = now_ms();
	int ret;

	jt.ndata = module_data(&s->maps, s->jemalloc, data, 8);
	if (s->tcmalloc) {
		struct tcmalloc_target tt = { .img = &s->img, .data = data, .ndata = jt.ndata };

		ret = tcmalloc_walk(&tt, &s->heap, why, sizeof(why));
	} else {
		ret = jemalloc_walk(&jt, &s->heap, why, sizeof(why));
	}
	if (ret < 0) {
		if (opts->allow_foreign) { /* --vtables, --threads: without a model */
			s->foreign = true;
			snprintf(s->foreign_why, sizeof(s->foreign_why), "process %d: %s: %s",
				 (int)s->pid, s->tcmalloc ? "tcmalloc" : "jemalloc", why);
			return EXIT_OK;
		}
		error_msg("process %d: %s", (int)s->pid, why);
		return EXIT_UNSUPPORTED;
	}
	s->tcache_unknown = false;
	s->walk_ms = now_ms() - t0;
	return EXIT_OK;
}

/* Which writable mappings share pages with another process: /proc/PID/smaps,
 * whose every line costs the kernel a walk of the target's page tables
 * (45-60 ms for the 1.2 GB bench heap).  Nothing before the stop needs it,
 * so it is read on a thread of its own while the copy's buffer is faulted
 * in. */
struct shared_job {
	pid_t pid;
	struct map_range *shared;
	size_t n;
	int rc;
};

static void *
shared_main(void *arg)
{
	struct shared_job *j = arg;

	j->rc = maps_read_shared(j->pid, &j->shared, &j->n);
	return NULL;
}

int
scan_live(pid_t pid, const struct scan_opts *opts, struct scan *s)
{
	struct seize *sz;
	struct cow cw, *cwp = NULL;
	struct maps m = { 0 };
	struct glibc_target gt;
	struct target_id id;
	char why[512];
	int ret;

	double t0 = now_ms();
	struct scan_opts o2 = *opts; /* the guard may choose --max-memory */
	const struct scan_opts *opts_in = opts;
	bool auto_bounded = false, can_window, shared_on = false;
	struct shared_job sj = { .pid = pid };
	pthread_t shared_th;

	opts = &o2;
	memset(s, 0, sizeof(*s));
	sz = xcalloc(1, sizeof(*sz)); /* a held stop outlives this call (s->held) */
	s->pid = pid;
	ret = prepare(pid, s, &m, opts, &id);
	/* A target sharing pages with a process it forked, or that forked it,
	 * must not be made to copy them (maps_read_shared).  Unknown when
	 * smaps cannot be read: then the rest fails too. */
	if (ret == EXIT_OK) {
		shared_on = pthread_create(&shared_th, NULL, shared_main, &sj) == 0;
		if (!shared_on)
			shared_main(&sj);
	}
	/* before anything is reserved or the target stopped */
	can_window = pager_available(why, sizeof(why)) == 0;
	if (ret == EXIT_OK && opts->max_memory && !can_window) {
		error_msg("--max-memory: %s", why);
		ret = EXIT_FAIL;
	}
	if (ret == EXIT_OK && !opts->no_memory_check)
		ret = memguard_check((int)pid, copy_plan_bytes(&m), can_window ? &o2.max_memory : NULL);
	auto_bounded = !opts_in->max_memory && o2.max_memory;
	if (ret == EXIT_OK && opts->max_memory && !opts->cow && !auto_bounded)
		error_msg("--max-memory: reading a fork of process %d in windows (as with --cow), "
			  "so that every window is of one instant", (int)pid);
	if (ret == EXIT_OK && (opts->cow || opts->max_memory))
		cwp = prepare_cow(s, opts, &m, &cw);
	if (ret == EXIT_OK && !opts->max_memory) {
		ret = copy_prepare(&s->img, copy_plan_bytes(&m));
		if (ret) {
			errno = -ret;
			perror_msg("cannot reserve %lu bytes for the copy",
				   (unsigned long)copy_plan_bytes(&m));
			ret = EXIT_FAIL;
		}
	}
	if (shared_on)
		pthread_join(shared_th, NULL);
	s->shared = sj.shared;
	s->nshared = sj.rc < 0 ? 0 : sj.n;
	maps_free(&m);
	if (ret != EXIT_OK) {
		free(sz);
		return ret;
	}
	s->prepare_ms = now_ms() - t0;
	test_pause("located");

	for (s->attempts = 1;; s->attempts++) {
		ret = stop_and_copy(s, opts, sz, cwp, &id);
		if (ret != EXIT_OK) {
			seize_free(sz);
			return ret;
		}
		if (s->foreign || s->jemalloc)
			break;
		if (s->libc.found_by == FOUND_CODE && opts->locate == LOCATE_AUTO &&
		    glibc_busy_arenas(&s->img, s->libc.lay, s->libc.main_arena, s->busy,
				      SCAN_MAX_BUSY) < 0) {
			/* an exec since the probe explains it better than the code */
			if ((ret = changed_or_gone(pid, &id)) != EXIT_OK) {
				seize_free(sz);
				return ret;
			}
			code_missed(s);
		}
		/* a list caught mid-update can hide the arena: copy again */
		if (s->libc.found_by == FOUND_NONE &&
		    locate_in_memory(s, opts, sz, why, sizeof(why)) < 0) {
			if (s->attempts < opts->max_attempts) {
				seize_free(sz);
				sleep_ms(s->attempts);
				continue;
			}
			seize_free(sz);
			if ((ret = changed_or_gone(pid, &id)) != EXIT_OK)
				return ret;
			if (s->locate_note[0])
				error_msg("process %d: %s; in memory: %s", (int)pid, s->locate_note, why);
			else
				error_msg("process %d: cannot find malloc's state in memory: %s",
					  (int)pid, why);
			return EXIT_UNSUPPORTED;
		}
		s->nbusy = glibc_busy_arenas(&s->img, s->libc.lay, s->libc.main_arena, s->busy,
					     SCAN_MAX_BUSY);
		if (s->nbusy <= 0 || s->attempts >= opts->max_attempts)
			break;
		seize_free(sz);
		sleep_ms(s->attempts);
	}
	collect_threads(s, sz);
	if (s->bounded && !s->cow) {
		s->held = sz; /* released by scan_free, after the analyses */
	} else {
		seize_free(sz);
		free(sz);
	}
	set_files(pid, &s->maps);
	s->copied_bytes = s->img.bytes;
	copy_trim(&s->img);
	s->holes = image_nholes(&s->img);

	test_pause("released");
	ret = copy_readonly_modules(pid, &s->maps, &s->ro);
	/* the last read of the target: an exec or exit before it shows now */
	if ((ret = changed_or_gone(pid, &id)) != EXIT_OK)
		return ret;
	if (s->foreign)
		return EXIT_OK;
	if (s->jemalloc)
		return scan_walk_jemalloc(s, opts);
	if (s->libc.found_by == FOUND_CODE && !s->libc.mp)
		mp_from_memory(s);
	gt = (struct glibc_target){
		.img = &s->img, .lay = s->libc.lay, .main_arena = s->libc.main_arena,
		.mp = s->libc.mp, .threads = s->threads, .nthreads = s->nthreads,
	};
	t0 = now_ms();
	if (glibc_walk(&gt, &s->heap, why, sizeof(why)) < 0) {
		error_msg("process %d: %s", (int)pid, why);
		return EXIT_UNSUPPORTED;
	}
	s->walk_ms = now_ms() - t0;
	measure_unseen(s);
	return EXIT_OK;
}

void
scan_free(struct scan *s)
{
	free(s->cmdline);
	free(s->origin);
	free(s->jemalloc);
	free(s->libc_map.path);
	free(s->threads);
	free(s->regs);
	free(s->shared);
	maps_free(&s->maps);
	image_free(&s->ro);
	heap_model_free(&s->heap);
	drop_kept_fork(s); /* the image first: its windows read the fork */
	if (s->held) {
		seize_free(s->held);
		free(s->held);
		s->held = NULL;
	}
}
