/*
 * cow.h - --cow: a copy-on-write copy of the stopped target, made by a fork
 * the target executes, so the target can go on while heapscan reads the copy.
 *
 * Inside the stop window (every thread seized by the guard process, see
 * cow_stop, registers read), one stopped thread T is made to execute system
 * calls at a `syscall; ret` that already exists in its executable memory
 * (nothing is written to the target, no libc code and no atfork handler
 * runs):
 *
 *   target --clone(CLONE_VM, exit signal 0)--> H      cheap: shares the mm
 *   T      wait4(H, __WALL), blocking in the kernel
 *   H      --clone(0, exit signal 0)---------> COPY   the page-table copy
 *   H killed; T's wait4 reaps it and stops at its exit
 *
 * H and COPY are traced from birth (PTRACE_O_TRACECLONE) and never run a user
 * instruction.  COPY's parent H dies before the target runs again, so COPY is
 * an orphan, adopted by init (or the nearest child subreaper); the target
 * never sees a child, a SIGCHLD or a zombie.  H is ended by the guard's
 * kill and reaped by the target's wait4 inside the stop (with WNOHANG from
 * T's stop when a signal cut the blocking one short).  COPY carries
 * PTRACE_O_EXITKILL from birth (it inherits H's options), so if its tracer dies
 * the kernel kills it and its adoptive parent reaps it.
 *
 * T's registers are put back exactly, at a ptrace stop inside the kernel's
 * signal path, so an interrupted system call restarts as after any ptrace
 * stop.  Signals T dequeues meanwhile are sent again after the release.
 */
#ifndef HEAPSCAN_COW_H
#define HEAPSCAN_COW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "maps.h"
#include "seize.h"

#define COW_MAX_RESEND 8

struct cow {
	pid_t pid;              /* the target */
	uint64_t site;          /* address of `syscall; ret` in the target's code */
	pid_t child;            /* the copy, stopped and traced; 0 when none */
	pid_t tid;              /* the thread that forked */
	int resend[COW_MAX_RESEND]; /* signals T dequeued during the fork */
	int nresend;
	char why[160];          /* why --cow was refused, for the notice */
	long test_borrow_ms;    /* test hook: sleep with T on borrowed registers */
	pid_t guard;            /* the guard process (cow_stop), 0 when none */
	int guard_fd;           /* heapscan's end of the pipe the guard waits on */
};

enum cow_status {
	COW_OK = 0,     /* c->child is the copy */
	COW_REFUSED,    /* no copy; the target is as it was (c->why says why) */
	COW_GONE,       /* the target exited */
	COW_NOSEIZE,    /* the guard could not stop the target (cow_stop_info) */
};

/* What the guard measured in its stop window. */
struct cow_stop_info {
	int seize_st;           /* enum seize_status of the guard's seize */
	int err;                /* its errno, where one applies */
	double pause_ms;        /* the stop window, seize to release */
	bool group_stopped;     /* the target was in group-stop (T) */
};

/* Before the stop: is a fork safe and possible, and where is a `syscall; ret`?
 * 0, or -1 with the reason in c->why (copy while stopped instead). */
int cow_prepare(pid_t pid, const struct maps *m, struct cow *c);

/* The whole --cow stop window, made by a guard process: a child of heapscan
 * in its own process group that ignores SIGINT, SIGTERM, SIGHUP, SIGQUIT and
 * SIGPIPE.  It seizes every thread, reads their registers, makes the fork,
 * releases the target and sends back what it found; then it keeps the copy
 * (its tracee, with EXITKILL) until heapscan calls cow_end() or dies, and
 * kills and reaps it.  So a SIGKILL to heapscan at any moment, even while a
 * target thread runs on borrowed registers, lets the guard finish the stop
 * and put the thread back.  stop_delay_ms (a test hook) widens the window
 * after the fork; it ends early when heapscan dies.
 *
 * COW_OK: c->child is the copy, stopped; sz lists the threads and their
 * registers (already released).  COW_REFUSED: no copy, c->why says why, the
 * target is as it was.  COW_GONE: the target exited.  COW_NOSEIZE: the
 * guard's seize failed, info->seize_st and info->err say how. */
enum cow_status cow_stop(pid_t pid, long stop_delay_ms, struct seize *sz, struct cow *c,
			 struct cow_stop_info *info);

/* Kill and reap the copy; with a guard, tell it to and wait for it to end
 * (idempotent). */
void cow_end(struct cow *c);

/* From a signal handler or die(): kill and reap the current copy, if any. */
void cow_end_current(void);

#endif
