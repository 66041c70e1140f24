/*
 * cow.c - the target forks a copy of itself for heapscan to read (see cow.h).
 *
 * Running one system call in a stopped thread T, with nothing written to the
 * target:
 *
 *   SETREGS   rip = a `syscall; ret` found in libc or the vdso, rax = number,
 *             orig_rax = -1 (so the kernel's restart logic leaves it alone),
 *             rdi, rsi, rdx, r10, r8 = arguments
 *   PTRACE_SYSCALL until the syscall-exit-stop (TRACESYSGOOD tells syscall
 *             stops from signals; a PTRACE_EVENT_CLONE stop in between names
 *             the new child); rax is the result
 *   park      SETREGS the thread's own registers, PTRACE_INTERRUPT, PTRACE_CONT:
 *             the thread stops again in the kernel's signal path before any
 *             user instruction, where the seize left it.  On release, the
 *             kernel applies its restart logic to the restored registers: a
 *             nanosleep, read or futex wait that the seize interrupted
 *             restarts as after any ptrace stop.
 *
 * A signal T dequeues while it runs for us (signal-delivery-stop) is
 * suppressed and sent again with tgkill once the target is released.
 *
 * Who traces: a guard process, heapscan's child in a process group of its
 * own that ignores the signals a user or a terminal sends (cow_stop).  While
 * T runs on borrowed registers the death of its tracer would let T go on
 * them, so the tracer must not be the process users kill; a SIGKILL to
 * heapscan only makes the guard cut its test delays short and end the copy.
 *
 * Why `syscall; ret` and a bogus stack for the children: between its birth
 * and the moment the guard sets PTRACE_O_EXITKILL on it, the helper H would
 * be let go if the guard were SIGKILLed.  It would then resume after the
 * syscall, where `ret` pops from an unmapped stack: it dies of SIGSEGV at its
 * first instruction (no sigaltstack: CLONE_VM resets it) without touching the
 * memory it shares with the target.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sched.h>

#include "cow.h"
#include "xmalloc.h"

#define COW_SITE "\x0f\x05\xc3" /* syscall; ret */
#define COW_BAD_SP 16UL         /* in page 0, never mapped */
#define COW_MAX_STOPS 64        /* stops one injected syscall may go through */
#define COW_SCAN_LIMIT (64u << 20)
#define COW_MAX_THREADS (1u << 22) /* bound on the guard's thread count */

static volatile pid_t current_child;

/* ---- before the stop ---------------------------------------------------- */

/* The last number on /proc/PID/status line KEY ("NSpid:\t42\t1"), or -1. */
static long
status_last_number(const char *text, const char *key)
{
	const char *p = strstr(text, key), *eol;
	long v = -1;

	if (!p)
		return -1;
	p += strlen(key);
	eol = strchr(p, '\n');
	if (!eol)
		eol = p + strlen(p);
	while (p < eol) {
		char *end;
		long x = strtol(p, &end, 10);

		if (end == p) {
			p++;
			continue;
		}
		v = x;
		p = end;
	}
	return v;
}

/* /proc/PID/status (tid 0) or /proc/PID/task/TID/status.  Seccomp filters
 * belong to threads: the prepare checks the main one, the fork the thread it
 * uses. */
static int
check_status(pid_t pid, pid_t tid, struct cow *c)
{
	char path[96], buf[8192];
	ssize_t n;
	int fd;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(c->why, sizeof(c->why), "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	/* A seccomp filter may kill the process for calling clone.  (No such
	 * line: a kernel without seccomp.) */
	if (status_last_number(buf, "\nSeccomp:") > 0) {
		snprintf(c->why, sizeof(c->why), "the target runs under seccomp");
		return -1;
	}
	/* Orphans are adopted by their pid namespace's init: if that is the
	 * target, the copy would become its child. */
	if (status_last_number(buf, "\nNSpid:") == 1) {
		snprintf(c->why, sizeof(c->why),
			 "the target is a pid namespace's init and would adopt the copy");
		return -1;
	}
	return 0;
}

/* Find COW_SITE in mapping e; 0 when there is none. */
static uint64_t
find_site_in(pid_t pid, const struct map_entry *e, unsigned char *buf, size_t buflen)
{
	for (uint64_t a = e->start; a < e->end;) {
		uint64_t want = e->end - a;
		struct iovec l, r;
		ssize_t n;
		void *hit;

		if (want > buflen)
			want = buflen;
		l.iov_base = buf;
		l.iov_len = want;
		r.iov_base = (void *)(uintptr_t)a;
		r.iov_len = want;
		n = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (n < 3)
			return 0;
		hit = memmem(buf, (size_t)n, COW_SITE, 3);
		if (hit)
			return a + (uint64_t)((unsigned char *)hit - buf);
		/* overlap by two bytes so a site across the boundary is found */
		a += (uint64_t)n - 2;
		if ((uint64_t)n < want)
			return 0;
	}
	return 0;
}

static bool
is_libc(const struct map_entry *e)
{
	const char *slash = strrchr(e->path, '/');

	/* libc.so.6, or libc-2.NN.so up to glibc 2.33 */
	return slash && (strncmp(slash + 1, "libc.so", 7) == 0 || strncmp(slash + 1, "libc-2.", 7) == 0);
}

static uint64_t
find_site(pid_t pid, const struct maps *m)
{
	size_t buflen = 1u << 20, scanned = 0;
	unsigned char *buf = xmalloc(buflen);
	uint64_t site = 0;

	/* the vdso first (two pages), then libc, then any other code */
	for (int pass = 0; pass < 3 && !site; pass++) {
		for (size_t i = 0; i < m->n && !site && scanned < COW_SCAN_LIMIT; i++) {
			const struct map_entry *e = &m->v[i];
			bool vdso = strcmp(e->path, "[vdso]") == 0, libc = is_libc(e);

			if ((e->perms & (MAP_PERM_R | MAP_PERM_X)) != (MAP_PERM_R | MAP_PERM_X))
				continue;
			if ((pass == 0 && !vdso) || (pass == 1 && !libc) || (pass == 2 && (vdso || libc)))
				continue;
			site = find_site_in(pid, e, buf, buflen);
			scanned += e->end - e->start;
		}
	}
	free(buf);
	return site;
}

int
cow_prepare(pid_t pid, const struct maps *m, struct cow *c)
{
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->guard_fd = -1;
	if (check_status(pid, 0, c) < 0)
		return -1;
	c->site = find_site(pid, m);
	if (!c->site) {
		snprintf(c->why, sizeof(c->why), "no `syscall; ret` instruction found in its code");
		return -1;
	}
	return 0;
}

/* ---- one system call in a stopped thread -------------------------------- */

static int
wait_stop(pid_t tid, int *status)
{
	for (;;) {
		pid_t w = waitpid(tid, status, __WALL);

		if (w == tid)
			return WIFSTOPPED(*status) ? 0 : -ESRCH;
		if (w < 0 && errno == EINTR)
			continue;
		return -ESRCH;
	}
}

static void
note_signal(struct cow *c, int sig)
{
	if (c->nresend < COW_MAX_RESEND)
		c->resend[c->nresend++] = sig;
}

static int
ptrace_err(void)
{
	return errno == ESRCH ? -ESRCH : -errno;
}

/* Start syscall nr in stopped thread tid, whose registers otherwise are
 * base: leaves the thread in its syscall-entry-stop.  0 or -errno. */
static int
syscall_enter(struct cow *c, pid_t tid, const struct user_regs_struct *base, long nr,
	      const long a[5])
{
	struct user_regs_struct r = *base;

	r.rip = c->site;
	r.rax = (unsigned long long)nr;
	r.orig_rax = (unsigned long long)-1;
	r.rdi = (unsigned long long)a[0];
	r.rsi = (unsigned long long)a[1];
	r.rdx = (unsigned long long)a[2];
	r.r10 = (unsigned long long)a[3];
	r.r8 = (unsigned long long)a[4];
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0 || ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
		return ptrace_err();
	for (int i = 0; i < COW_MAX_STOPS; i++) {
		int status, sig;

		if (wait_stop(tid, &status) < 0)
			return -ESRCH;
		sig = WSTOPSIG(status);
		if (sig == (SIGTRAP | 0x80))
			return 0;
		if (((unsigned)status >> 16) == 0)
			note_signal(c, sig); /* dequeued for us: suppressed, sent again later */
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return ptrace_err();
	}
	return -ETIME;
}

/* Thread tid, let go from its syscall-entry-stop by PTRACE_SYSCALL: wait for
 * its syscall-exit-stop.  0 with the result in *ret (and a traced child's
 * pid in *born when one was created), or -errno. */
static int
syscall_wait_exit(struct cow *c, pid_t tid, long *ret, pid_t *born)
{
	for (int i = 0; i < COW_MAX_STOPS; i++) {
		struct user_regs_struct r;
		int status, sig, event;

		if (wait_stop(tid, &status) < 0)
			return -ESRCH;
		sig = WSTOPSIG(status);
		event = (unsigned)status >> 16;
		if (sig == (SIGTRAP | 0x80)) {
			if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
				return ptrace_err();
			*ret = (long)r.rax;
			return 0;
		}
		if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
		    event == PTRACE_EVENT_VFORK) {
			unsigned long msg;

			if (born && ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0)
				*born = (pid_t)msg;
		} else if (event == 0) {
			note_signal(c, sig);
		}
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return ptrace_err();
	}
	return -ETIME;
}

/* Run syscall nr in stopped thread tid (see syscall_enter): leaves the thread
 * in its syscall-exit-stop.  0 with the result in *ret, or -errno. */
static int
run_syscall(struct cow *c, pid_t tid, const struct user_regs_struct *base, long nr,
	    const long a[5], long *ret, pid_t *born)
{
	int rc = syscall_enter(c, tid, base, nr, a);

	if (rc == 0 && ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
		rc = ptrace_err();
	return rc ? rc : syscall_wait_exit(c, tid, ret, born);
}

/* Put the thread's own registers back and stop it where the seize left it:
 * in the signal path, before any user instruction. */
static int
park(struct cow *c, pid_t tid, const struct user_regs_struct *orig)
{
	if (ptrace(PTRACE_SETREGS, tid, 0, orig) < 0 || ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 ||
	    ptrace(PTRACE_CONT, tid, 0, 0) < 0)
		return ptrace_err();
	for (int i = 0; i < COW_MAX_STOPS; i++) {
		int status;

		if (wait_stop(tid, &status) < 0)
			return -ESRCH;
		if (((unsigned)status >> 16) == PTRACE_EVENT_STOP)
			return ptrace(PTRACE_SETREGS, tid, 0, orig) < 0 ? ptrace_err() : 0;
		if (((unsigned)status >> 16) == 0 && WSTOPSIG(status) != (SIGTRAP | 0x80))
			note_signal(c, WSTOPSIG(status));
		if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
			return ptrace_err();
	}
	return -ETIME;
}

/* Kill a traced process of ours and collect it (as its tracer). */
static void
kill_and_collect(pid_t p)
{
	int status;

	if (p <= 0)
		return;
	kill(p, SIGKILL);
	while (waitpid(p, &status, __WALL) == p) {
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
	}
}

/* ---- the fork ------------------------------------------------------------- */

static struct seized_thread *
pick_thread(struct seize *sz)
{
	for (size_t i = 0; i < sz->n; i++) {
		struct seized_thread *t = &sz->t[i];

		/* A thread in signal-delivery-stop must stay there to get its
		 * signal back on detach. */
		if (t->stopped && t->have_regs && !t->pass_sig)
			return t;
	}
	return NULL;
}

/* The target's thread t reaps the helper h, which heapscan has killed and
 * collected: h is then the target's zombie, with exit signal 0. */
static int
target_reaps(struct cow *c, struct seized_thread *t, pid_t h)
{
	const long a[5] = { h, 0, __WALL | WNOHANG, 0, 0 };
	struct timespec nap = { 0, 100000 };

	for (int i = 0; i < 100; i++) {
		long ret = 0;
		int rc = run_syscall(c, t->tid, &t->regs, SYS_wait4, a, &ret, NULL);
		int prc = park(c, t->tid, &t->regs);

		if (rc < 0 || prc < 0)
			return rc < 0 ? rc : prc;
		if (ret == h)
			return 0;
		if (ret != 0)
			return (int)ret;
		nanosleep(&nap, NULL);
	}
	return -ETIME;
}

/* The helper h, stopped at birth, forks the copy.  0 with c->child set, or
 * -errno (the fork's own error when it was refused). */
static int
helper_forks(struct cow *c, pid_t h)
{
	const long a[5] = { 0, (long)COW_BAD_SP, 0, 0, 0 }; /* exit signal 0: see cow.h */
	struct user_regs_struct hr;
	long ret = 0;
	pid_t g = 0;
	int status, rc;

	if (wait_stop(h, &status) < 0)
		return -ESRCH;
	if (ptrace(PTRACE_SETOPTIONS, h, 0,
		   (void *)(long)(PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) < 0 ||
	    ptrace(PTRACE_GETREGS, h, 0, &hr) < 0)
		return ptrace_err();
	rc = run_syscall(c, h, &hr, SYS_clone, a, &ret, &g);
	if (rc == 0 && ret < 0)
		rc = (int)ret;
	if (rc == 0 && g <= 0)
		rc = -ECHILD;
	if (rc < 0) {
		kill_and_collect(g);
		return rc;
	}
	if (wait_stop(g, &status) < 0)
		return -ESRCH;
	c->child = g;
	current_child = g;
	return 0;
}

static enum cow_status
refuse(struct cow *c, const char *what, int err)
{
	snprintf(c->why, sizeof(c->why), "%s (%s)", what, strerror(err < 0 ? -err : err));
	return COW_REFUSED;
}

static enum cow_status
fork_in(struct seize *sz, struct cow *c)
{
	const long a[5] = { CLONE_VM, (long)COW_BAD_SP, 0, 0, 0 }; /* exit signal 0 */
	struct seized_thread *t;
	long ret = 0, wret = 0;
	pid_t h = 0;
	int rc, prc, wrc = 0, frc = 0;
	bool forked = false, reaped = false;

	if (sz->group_stopped) {
		snprintf(c->why, sizeof(c->why), "the target is stopped (state T)");
		return COW_REFUSED;
	}
	t = pick_thread(sz);
	if (!t) {
		snprintf(c->why, sizeof(c->why), "no thread free to fork");
		return COW_REFUSED;
	}
	c->tid = t->tid;
	if (check_status(c->pid, t->tid, c) < 0)
		return COW_REFUSED;
	if (ptrace(PTRACE_SETOPTIONS, t->tid, 0,
		   (void *)(long)(PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD)) < 0)
		return errno == ESRCH ? COW_GONE : refuse(c, "cannot set ptrace options", errno);

	rc = run_syscall(c, t->tid, &t->regs, SYS_clone, a, &ret, &h);
	if (c->test_borrow_ms > 0) {
		struct timespec ts = { c->test_borrow_ms / 1000, (c->test_borrow_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (rc == 0 && ret < 0)
		rc = (int)ret;
	if (rc == 0 && h <= 0)
		rc = -ECHILD;
	/* T starts the reap before H forks: wait4(H, __WALL) blocks in the
	 * kernel until H is killed and returns straight to a syscall-exit-stop.
	 * Reaping after the fork instead would take T back to user mode once
	 * more, and the first return to user mode after a fork (every page now
	 * write-protected) cost 13 ms on a 1.3 GiB target under this machine's
	 * hypervisor, more than the fork. */
	if (rc == 0) {
		const long w[5] = { h, 0, __WALL, 0, 0 };

		wrc = syscall_enter(c, t->tid, &t->regs, SYS_wait4, w);
		if (wrc == 0 && ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
			wrc = ptrace_err();
		if (wrc == 0) {
			frc = helper_forks(c, h);
			forked = true;
			kill_and_collect(h);
			wrc = syscall_wait_exit(c, t->tid, &wret, NULL);
			reaped = wrc == 0 && wret == h;
		}
	}
	prc = park(c, t->tid, &t->regs);
	if (rc == -ESRCH || prc == -ESRCH || wrc == -ESRCH) {
		kill_and_collect(h);
		cow_end(c);
		return COW_GONE;
	}
	if (rc < 0 || prc < 0) {
		kill_and_collect(h);
		ptrace(PTRACE_SETOPTIONS, t->tid, 0, (void *)(long)PTRACE_O_TRACEEXEC);
		return refuse(c, "fork refused", rc < 0 ? rc : prc);
	}
	if (!forked) {
		frc = helper_forks(c, h);
		kill_and_collect(h);
	}
	/* The blocking wait4 could not run or a signal cut it short: reap
	 * with WNOHANG, from the thread's stop. */
	prc = reaped ? 0 : target_reaps(c, t, h);
	ptrace(PTRACE_SETOPTIONS, t->tid, 0, (void *)(long)PTRACE_O_TRACEEXEC);
	if (prc == -ESRCH) {
		cow_end(c);
		return COW_GONE;
	}
	if (prc < 0) {
		/* Not expected: say so, the scan itself is not affected. */
		fprintf(stderr, "heapscan: --cow: the target did not reap helper %d (%s)\n", (int)h,
			strerror(-prc));
	}
	if (frc < 0)
		return refuse(c, "fork refused", frc);
	return COW_OK;
}

/* After the release: send again the signals the forking thread dequeued. */
static void
cow_resend(struct cow *c)
{
	for (int i = 0; i < c->nresend; i++)
		syscall(SYS_tgkill, (int)c->pid, (int)c->tid, c->resend[i]);
	c->nresend = 0;
}

/* ---- the guard process -------------------------------------------------- */

/* What the guard sends heapscan, followed by nthreads struct seized_thread. */
struct guard_report {
	int status;             /* enum cow_status */
	struct cow_stop_info info;
	uint32_t nthreads;
	struct cow c;
};

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Wait up to ms for heapscan's end of the pipe to close (ms < 0: forever). */
static void
wait_hangup(int fd, long ms)
{
	double end = mono_ms() + (double)ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = ms < 0 ? -1 : (long)(end - mono_ms());
		char byte;

		if (ms >= 0 && left <= 0)
			return;
		if (poll(&p, 1, (int)(left > 1000000 ? 1000000 : left)) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p.revents && read(fd, &byte, 1) <= 0)
			return; /* EOF: heapscan is done, or dead */
	}
}

/* The guard: never returns. */
static void
guard_main(pid_t pid, long stop_delay_ms, struct cow *c, int in_fd, int out_fd)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
				       SIGTSTP, SIGTTIN, SIGTTOU };
	struct guard_report r;
	struct seize sz;
	double t0;
	int ok;

	/* Out of the terminal's and timeout(1)'s reach: group signals go to
	 * heapscan's process group, which the guard leaves. */
	setpgid(0, 0);
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "hs-cow-guard", 0, 0, 0); /* not matched by `pkill heapscan` */
	/* heapscan's own cleanup (its snapshot's temporary file) is not ours. */
	seize_set_signal_cleanup(NULL);
	seize_set_child_cleanup(cow_end_current);

	memset(&r, 0, sizeof(r));
	memset(&sz, 0, sizeof(sz));
	t0 = mono_ms();
	r.info.seize_st = seize_all(&sz, pid, &r.info.err);
	if (r.info.seize_st != SEIZE_OK) {
		r.status = COW_NOSEIZE;
	} else {
		seize_read_regs(&sz);
		r.status = fork_in(&sz, c);
		if (r.status == COW_OK && stop_delay_ms > 0)
			wait_hangup(in_fd, stop_delay_ms);
		seize_release(&sz);
		r.info.pause_ms = mono_ms() - t0;
		r.info.group_stopped = sz.group_stopped;
		cow_resend(c);
		r.nthreads = (uint32_t)sz.n;
	}
	r.c = *c;
	ok = write_all(out_fd, &r, sizeof(r)) == 0 &&
	     (r.nthreads == 0 || write_all(out_fd, sz.t, r.nthreads * sizeof(*sz.t)) == 0);
	close(out_fd);
	if (ok && r.status == COW_OK)
		wait_hangup(in_fd, -1);
	cow_end(c);
	_exit(0);
}

enum cow_status
cow_stop(pid_t pid, long stop_delay_ms, struct seize *sz, struct cow *c, struct cow_stop_info *info)
{
	struct guard_report r;
	int to_guard[2], from_guard[2];
	pid_t g;

	memset(sz, 0, sizeof(*sz));
	memset(info, 0, sizeof(*info));
	if (pipe2(to_guard, O_CLOEXEC) < 0)
		return refuse(c, "cannot start the guard process", errno);
	if (pipe2(from_guard, O_CLOEXEC) < 0) {
		int e = errno;

		close(to_guard[0]);
		close(to_guard[1]);
		return refuse(c, "cannot start the guard process", e);
	}
	fflush(NULL);
	g = fork();
	if (g == 0) {
		close(to_guard[1]);
		close(from_guard[0]);
		guard_main(pid, stop_delay_ms, c, to_guard[0], from_guard[1]);
	}
	close(to_guard[0]);
	close(from_guard[1]);
	if (g < 0) {
		int e = errno;

		close(to_guard[1]);
		close(from_guard[0]);
		return refuse(c, "cannot start the guard process", e);
	}
	c->guard = g;
	c->guard_fd = to_guard[1];
	if (read_all(from_guard[0], &r, sizeof(r)) < 0 || r.status < COW_OK ||
	    r.status > COW_NOSEIZE || r.nthreads > COW_MAX_THREADS) {
		close(from_guard[0]);
		cow_end(c);
		return refuse(c, "the guard process failed", ECHILD);
	}
	if (r.nthreads) {
		sz->t = xcalloc(r.nthreads, sizeof(*sz->t));
		if (read_all(from_guard[0], sz->t, r.nthreads * sizeof(*sz->t)) < 0) {
			close(from_guard[0]);
			free(sz->t);
			sz->t = NULL;
			cow_end(c);
			return refuse(c, "the guard process failed", ECHILD);
		}
	}
	close(from_guard[0]);
	sz->pid = pid;
	sz->n = sz->cap = r.nthreads;
	sz->group_stopped = r.info.group_stopped;
	for (size_t i = 0; i < sz->n; i++)
		sz->t[i].stopped = 0;
	*info = r.info;
	/* The guard's view of the fork, with heapscan's own guard fields. */
	r.c.guard = c->guard;
	r.c.guard_fd = c->guard_fd;
	*c = r.c;
	if (r.status == COW_OK)
		current_child = c->child;
	else
		cow_end(c);
	return (enum cow_status)r.status;
}

void
cow_end(struct cow *c)
{
	if (c->guard > 0) {
		/* The copy is the guard's tracee: it kills and reaps it once
		 * the pipe closes.  A kill from here only makes that sooner. */
		if (c->child > 0)
			kill(c->child, SIGKILL);
		current_child = 0;
		c->child = 0;
		if (c->guard_fd >= 0)
			close(c->guard_fd);
		c->guard_fd = -1;
		while (waitpid(c->guard, NULL, 0) < 0 && errno == EINTR)
			;
		c->guard = 0;
		return;
	}
	if (c->child > 0) {
		current_child = 0;
		kill_and_collect(c->child);
		c->child = 0;
	}
}

void
cow_end_current(void)
{
	pid_t p = current_child;

	if (p > 0) {
		current_child = 0;
		kill_and_collect(p);
	}
}
