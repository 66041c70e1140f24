/*
 * scan.c - the live scan (see scan.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allocator.h"
#include "copy.h"
#include "cow.h"
#include "error.h"
#include "maps.h"
#include "memguard.h"
#include "probe.h"
#include "scan.h"
#include "seize.h"
#include "xmalloc.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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
	if (ret == 0)
		ret = copy_regions(cw->child, &s->maps, &s->img);
	cow_end(cw);
	s->cow_read_ms = now_ms() - t0;
	return ret;
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
stop_and_copy(struct scan *s, const struct scan_opts *opts, struct seize *sz, struct cow *cw)
{
	bool refused_before = s->cow_refused[0] != '\0';
	int ret = 0;

	s->cow = false;
	if (cw) {
		ret = stop_fork_release(s, opts, sz, cw);
		if (ret > 0)
			return ret;
		if (s->cow_refused[0] && !refused_before)
			error_msg("--cow: %s; copying while stopped", s->cow_refused);
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
		if (!s->libc.have_tpoff || !sz->t[i].have_regs)
			continue;
		if (image_u64(&s->img, sz->t[i].regs.fs_base + (uint64_t)s->libc.tcache_tpoff, &v))
			t->tcache = v;
	}
	s->tcache_unknown = !s->libc.have_tpoff;
}

static size_t
count_holes(const struct image *img)
{
	size_t n = 0;

	for (size_t i = 0; i < img->n; i++)
		n += img->r[i].nholes;
	return n;
}

static int
prepare(pid_t pid, struct scan *s, struct maps *m, bool allow_foreign)
{
	struct target_info ti;
	struct allocator_info ai;
	char why[512];
	int ret;

	ret = target_probe(pid, &ti, why, sizeof(why));
	s->cmdline = xstrdup(ti.cmdline ? ti.cmdline : "");
	target_info_free(&ti);
	if (ret != EXIT_OK) {
		error_msg("%s", why);
		return ret;
	}
	ret = maps_read(pid, m);
	if (ret) {
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
	ret = allocator_check(pid, m, &ai, why, sizeof(why));
	if (ret == EXIT_UNSUPPORTED && allow_foreign) {
		s->foreign = true;
		snprintf(s->foreign_why, sizeof(s->foreign_why), "%s", why);
		return EXIT_OK;
	}
	if (ret != EXIT_OK) {
		error_msg("%s", why);
		return ret;
	}
	ret = libc_locate(pid, &ai, &s->libc, why, sizeof(why));
	allocator_info_free(&ai);
	if (ret != EXIT_OK)
		error_msg("%s", why);
	return ret;
}

/* Before the stop: cw when the target can be made to fork, else NULL after
 * the notice. */
static struct cow *
prepare_cow(struct scan *s, const struct scan_opts *opts, const struct maps *m, struct cow *cw)
{
	if (cow_prepare(s->pid, m, cw) < 0) {
		snprintf(s->cow_refused, sizeof(s->cow_refused), "%s", cw->why);
		error_msg("--cow: %s; copying while stopped", cw->why);
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

int
scan_live(pid_t pid, const struct scan_opts *opts, struct scan *s)
{
	struct seize sz;
	struct cow cw, *cwp = NULL;
	struct maps m = { 0 };
	struct glibc_target gt;
	char why[256];
	int ret;

	double t0 = now_ms();

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	ret = prepare(pid, s, &m, opts->allow_foreign);
	/* A target sharing pages with a process it forked, or that forked it,
	 * must not be made to copy them (maps_read_shared).  Unknown when
	 * smaps cannot be read: then the rest fails too. */
	if (ret == EXIT_OK && maps_read_shared(pid, &s->shared, &s->nshared) < 0)
		s->nshared = 0;
	/* before anything is reserved or the target stopped */
	if (ret == EXIT_OK && !opts->no_memory_check)
		ret = memguard_check((int)pid, copy_plan_bytes(&m));
	if (ret == EXIT_OK && opts->cow)
		cwp = prepare_cow(s, opts, &m, &cw);
	if (ret == EXIT_OK) {
		ret = copy_prepare(&s->img, copy_plan_bytes(&m));
		if (ret) {
			errno = -ret;
			perror_msg("cannot reserve %lu bytes for the copy",
				   (unsigned long)copy_plan_bytes(&m));
			ret = EXIT_FAIL;
		}
	}
	maps_free(&m);
	if (ret != EXIT_OK)
		return ret;
	s->prepare_ms = now_ms() - t0;

	for (s->attempts = 1;; s->attempts++) {
		ret = stop_and_copy(s, opts, &sz, cwp);
		if (ret != EXIT_OK) {
			seize_free(&sz);
			return ret;
		}
		if (s->foreign)
			break;
		s->nbusy = glibc_busy_arenas(&s->img, s->libc.lay, s->libc.main_arena, s->busy,
					     SCAN_MAX_BUSY);
		if (s->nbusy <= 0 || s->attempts >= opts->max_attempts)
			break;
		seize_free(&sz);
		sleep_ms(s->attempts);
	}
	collect_threads(s, &sz);
	seize_free(&sz);
	s->copied_bytes = s->img.bytes;
	copy_trim(&s->img);
	s->holes = count_holes(&s->img);

	ret = copy_readonly_modules(pid, &s->maps, &s->ro);
	if (ret == -ESRCH) {
		error_msg("process %d exited during the scan", (int)pid);
		return EXIT_NOPROC;
	}
	if (s->foreign)
		return EXIT_OK;
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
	free(s->threads);
	free(s->regs);
	free(s->shared);
	maps_free(&s->maps);
	image_free(&s->img);
	image_free(&s->ro);
	heap_model_free(&s->heap);
}
