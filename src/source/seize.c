/*
 * seize.c - stopping and releasing the target's threads (see seize.h).
 *
 * The signal handler reads the same table the main code fills, so the table
 * is only reallocated with those signals blocked, and an entry is complete
 * before the count that publishes it is raised.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seize.h"
#include "xmalloc.h"

#define SEIZE_MAX_PASSES 100
#define SEIZE_STOP_TIMEOUT_NS (3 * 1000000000LL)

static struct seize *volatile current;
static void (*volatile signal_cleanup)(void);
static void (*volatile child_cleanup)(void);

static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };

static void
release_from_handler(struct seize *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->t[i].stopped) {
			s->t[i].stopped = 0;
			ptrace(PTRACE_DETACH, s->t[i].tid, 0, (void *)(long)s->t[i].pass_sig);
		}
	}
}

static void
on_fatal_signal(int sig)
{
	struct seize *s = current;

	void (*fn)(void) = signal_cleanup;
	void (*child)(void) = child_cleanup;

	if (s)
		release_from_handler(s);
	if (child)
		child();
	if (fn)
		fn();
	signal(sig, SIG_DFL);
	raise(sig);
}

void
seize_install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaddset(&sa.sa_mask, fatal_signals[i]);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);
}

void
seize_set_signal_cleanup(void (*fn)(void))
{
	signal_cleanup = fn;
}

void
seize_set_child_cleanup(void (*fn)(void))
{
	child_cleanup = fn;
}

void
seize_release_current(void)
{
	struct seize *s = current;

	void (*child)(void) = child_cleanup;

	if (s)
		seize_release(s);
	if (child)
		child();
}

static void
block_fatal(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaddset(&set, fatal_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static bool
have_tid(const struct seize *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid)
			return true;
	return false;
}

static struct seized_thread *
add_thread(struct seize *s, pid_t tid)
{
	struct seized_thread *t;

	if (s->n == s->cap) {
		sigset_t old;

		block_fatal(&old);
		s->t = xgrow(s->t, &s->cap, s->n + 1, sizeof(*s->t));
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	t = &s->t[s->n];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->n = s->n + 1;
	return t;
}

static void
drop_thread(struct seize *s, size_t i)
{
	sigset_t old;

	block_fatal(&old);
	s->t[i] = s->t[s->n - 1];
	s->n = s->n - 1;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* A thread whose /proc/PID/task/TID/stat says Z (a leader that called
 * pthread_exit while others run) cannot stop; it has no state to read. */
static bool
task_is_zombie(pid_t pid, pid_t tid)
{
	char path[96], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* The kernel refuses to attach to a thread that has begun to exit with
 * EPERM, not ESRCH.  Give such a thread up to a millisecond to vanish or show
 * Z/X; a thread that is really there and refused means a permission problem. */
static bool
thread_exiting(pid_t pid, pid_t tid)
{
	struct timespec nap = { 0, 50000 };
	char path[96];

	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
		if (access(path, F_OK) < 0 || task_is_zombie(pid, tid))
			return true;
		nanosleep(&nap, NULL);
	}
	return false;
}

/* Seize and interrupt every thread not yet in the table.  Returns the number
 * added, or -1 with status in *st. */
static int
seize_new_threads(struct seize *s, enum seize_status *st, int *err)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int added = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	d = opendir(path);
	if (!d) {
		*err = errno;
		*st = errno == ENOENT ? SEIZE_GONE : SEIZE_ERROR;
		return -1;
	}
	while ((de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end || have_tid(s, (pid_t)tid))
			continue;
		if (task_is_zombie(s->pid, (pid_t)tid))
			continue;
		if (ptrace(PTRACE_SEIZE, (pid_t)tid, 0, (void *)(long)PTRACE_O_TRACEEXEC) < 0) {
			if (errno == ESRCH)
				continue; /* exited between readdir and seize */
			if (errno == EPERM && tid != s->pid && thread_exiting(s->pid, (pid_t)tid))
				continue;
			*err = errno;
			*st = errno == EPERM ? SEIZE_PERM : SEIZE_ERROR;
			closedir(d);
			return -1;
		}
		add_thread(s, (pid_t)tid);
		if (ptrace(PTRACE_INTERRUPT, (pid_t)tid, 0, 0) < 0 && errno != ESRCH) {
			*err = errno;
			*st = SEIZE_ERROR;
			closedir(d);
			return -1;
		}
		added++;
	}
	closedir(d);
	return added;
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Interpret one wait status of thread i.  Returns 1 stopped, 0 gone,
 * -1 exec seen. */
static int
note_status(struct seize *s, size_t i, int status)
{
	struct seized_thread *t = &s->t[i];
	int event = (unsigned)status >> 16;

	if (WIFEXITED(status) || WIFSIGNALED(status))
		return 0;
	if (!WIFSTOPPED(status))
		return 1;
	if (event == PTRACE_EVENT_EXEC) {
		t->stopped = 1;
		return -1;
	}
	if (event == PTRACE_EVENT_STOP) {
		int sig = WSTOPSIG(status);

		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			s->group_stopped = true;
	} else if (event == 0) {
		/* signal-delivery-stop: the signal was dequeued for us; give it back */
		t->pass_sig = WSTOPSIG(status);
	}
	t->stopped = 1;
	return 1;
}

/* Wait until every seized thread is stopped (or gone). */
static enum seize_status
wait_stops(struct seize *s)
{
	long long deadline = now_ns() + SEIZE_STOP_TIMEOUT_NS;
	struct timespec nap = { 0, 20000 };

	for (;;) {
		size_t pending = 0;

		for (size_t i = 0; i < s->n; i++) {
			int status, r;
			pid_t w;

			if (s->t[i].stopped)
				continue;
			w = waitpid(s->t[i].tid, &status, __WALL | WNOHANG);
			if (w == 0) {
				pending++;
				continue;
			}
			if (w < 0) {
				if (errno == EINTR) {
					pending++;
					continue;
				}
				r = 0; /* ECHILD: no longer ours, it is gone */
			} else {
				r = note_status(s, i, status);
			}
			if (r < 0)
				return SEIZE_EXEC;
			if (r == 0) {
				drop_thread(s, i);
				i--;
			}
		}
		if (!pending)
			return SEIZE_OK;
		if (now_ns() > deadline)
			return SEIZE_TIMEOUT;
		nanosleep(&nap, NULL);
	}
}

static bool
process_alive(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	return access(path, F_OK) == 0 && !task_is_zombie(pid, pid);
}

enum seize_status
seize_all(struct seize *s, pid_t pid, int *err)
{
	enum seize_status st = SEIZE_OK;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	*err = 0;
	current = s;
	for (s->passes = 1;; s->passes++) {
		int added;

		if (s->passes > SEIZE_MAX_PASSES) {
			st = SEIZE_CHURN;
			break;
		}
		added = seize_new_threads(s, &st, err);
		if (added < 0)
			break;
		st = wait_stops(s);
		if (st != SEIZE_OK || added == 0)
			break;
	}
	if (st == SEIZE_OK && s->n == 0)
		st = SEIZE_GONE;
	if (st == SEIZE_OK && !process_alive(pid))
		st = SEIZE_GONE;
	if (st != SEIZE_OK)
		seize_release(s);
	return st;
}

void
seize_read_regs(struct seize *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->t[i].have_regs = s->t[i].stopped &&
				    ptrace(PTRACE_GETREGS, s->t[i].tid, 0, &s->t[i].regs) == 0;
}

void
seize_release(struct seize *s)
{
	long long deadline = now_ns() + 100000000LL;

	for (size_t i = 0; i < s->n; i++) {
		struct seized_thread *t = &s->t[i];
		struct timespec nap = { 0, 50000 };

		/* Seized but not yet stopped (an error cut the seize short): its
		 * pending interrupt would stop it with nobody to let it go, and
		 * detach only works on a stopped thread.  Wait briefly for the
		 * stop; failing that our exit detaches it. */
		while (!t->stopped && now_ns() < deadline) {
			int status;
			pid_t w = waitpid(t->tid, &status, __WALL | WNOHANG);

			if (w < 0 || (w > 0 && note_status(s, i, status) == 0))
				break;
			if (w == 0)
				nanosleep(&nap, NULL);
		}
		if (t->stopped) {
			t->stopped = 0;
			ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)t->pass_sig);
		}
	}
	if (current == s)
		current = NULL;
}

void
seize_free(struct seize *s)
{
	if (current == s)
		seize_release(s);
	free(s->t);
	s->t = NULL;
	s->n = s->cap = 0;
}
