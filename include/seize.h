/*
 * seize.h - stop every thread of a process with ptrace, and let them go.
 *
 * PTRACE_SEIZE + PTRACE_INTERRUPT each thread listed in /proc/PID/task,
 * wait for its stop, and list again until a pass finds no new thread (a
 * thread that was still running may have cloned).  Nothing else: no code
 * runs in the target, no options that could outlive heapscan (no EXITKILL).
 *
 * Leaving: PTRACE_DETACH each thread, handing back any signal whose
 * delivery our stop intercepted.  A process that was in group-stop (state T)
 * re-enters it after detach; a running one resumes.  SIGINT, SIGTERM, SIGHUP
 * and SIGPIPE detach from the stopped threads before heapscan dies, and if
 * heapscan is killed the kernel detaches for it (the target resumes).
 */
#ifndef HEAPSCAN_SEIZE_H
#define HEAPSCAN_SEIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct seized_thread {
	pid_t tid;
	int pass_sig;          /* signal to re-inject on detach, 0 for none */
	volatile int stopped;  /* in a ptrace stop: detach works */
	struct user_regs_struct regs;
	bool have_regs;
};

struct seize {
	pid_t pid;
	struct seized_thread *t;
	volatile size_t n;
	size_t cap;
	bool group_stopped;  /* the process was in group-stop (T) when seized */
	int passes;
};

enum seize_status {
	SEIZE_OK = 0,
	SEIZE_GONE,        /* the process exited */
	SEIZE_PERM,        /* EPERM on the first thread */
	SEIZE_EXEC,        /* a thread called execve while we were seizing */
	SEIZE_CHURN,       /* threads kept appearing past the bound on passes */
	SEIZE_TIMEOUT,     /* a thread did not stop in time (uninterruptible sleep) */
	SEIZE_ERROR,       /* anything else; errno-style cause in *err */
};

/* Install the SIGINT/SIGTERM/SIGHUP/SIGPIPE handlers (once, at start). */
void seize_install_signal_handlers(void);
/* One more thing those handlers do before heapscan dies (async-signal-safe
 * code only: the snapshot writer unlinks its temporary file); NULL for none. */
void seize_set_signal_cleanup(void (*fn)(void));
/* Another, for a process heapscan created from the target (--cow's copy): it
 * runs right after the threads are released, from the handlers and from
 * seize_release_current(); async-signal-safe code only. */
void seize_set_child_cleanup(void (*fn)(void));

/* Stop every thread.  On any status but SEIZE_OK everything already seized
 * has been released again.  *err gets an errno where one applies. */
enum seize_status seize_all(struct seize *s, pid_t pid, int *err);

/* Read each thread's registers (PTRACE_GETREGS); failures leave have_regs false. */
void seize_read_regs(struct seize *s);

/* Detach from every thread (idempotent). */
void seize_release(struct seize *s);
void seize_free(struct seize *s);

/* Release whatever is seized right now, and run the child cleanup, from any
 * context (die, signals). */
void seize_release_current(void);

#endif
