/*
 * probe.h - what kind of process is PID, before touching it.
 *
 * Everything here reads /proc only (no ptrace), so it runs before the
 * target is stopped.  Each refusal comes with a one-line cause and one of
 * the exit codes in error.h; the caller prints "heapscan: <cause>" and exits.
 */
#ifndef HEAPSCAN_PROBE_H
#define HEAPSCAN_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct target_info {
	pid_t pid;
	char state;        /* /proc/PID/stat field 3: R S D T t Z X ... */
	unsigned flags;    /* field 9, PF_* */
	uid_t uid;         /* real uid from /proc/PID/status */
	pid_t tracer_pid;  /* TracerPid, 0 when untraced */
	char *cmdline;     /* NULs turned to spaces, non-printables escaped */
	char *comm;
	int elf_class;     /* 64 or 32 from /proc/PID/exe; 0 when unknown */
};

/* Strict decimal pid: digits only, 1..PID_MAX_LIMIT.  "10x", "", "-1",
 * "abc" fail.  Returns 0 or -1. */
int parse_pid(const char *s, pid_t *out);

/* Check that pid can be scanned: exists, not heapscan itself, not a zombie
 * (nor dead), not a kernel thread, a 64-bit process.  Fills *ti (also on
 * failure, as far as known).  Returns EXIT_OK or an exit code with a cause in
 * why ("process 123 is a zombie (it exited; its parent has not reaped it)"). */
int target_probe(pid_t pid, struct target_info *ti, char *why, size_t whylen);
void target_info_free(struct target_info *ti);
/* Which program a process runs, as far as an exec would change it: where
 * its code, stack, arguments and environment start (/proc/PID/stat fields 26,
 * 28, 48, 50; an exec maps them anew, at new random addresses).  state is
 * field 3. */
struct target_id {
	char state;
	uint64_t code, stack, args, env;
};

/* 0; -ESRCH when the process is gone; -EINVAL when stat does not parse. */
int target_identity(pid_t pid, struct target_id *id);
/* From /proc/PID/stat text (pure; for tests).  0 or -1. */
int target_identity_parse(const char *text, size_t len, struct target_id *id);

/* The verdict of target_probe from facts already read (pure; for tests). */
int probe_judge(const struct target_info *ti, char *why, size_t whylen);

/* A printable copy of untrusted bytes read about the target (comm, argv,
 * paths): bytes outside 0x20..0x7e become \xNN; at most cap bytes, then
 * "..." marks a cut.  Free with free(). */
char *probe_printable(const char *s, size_t len, size_t cap);

/* The facts that decide why PTRACE_SEIZE said EPERM, gathered from /proc. */
struct eperm_facts {
	pid_t tracer_pid;       /* TracerPid of the target */
	char tracer_comm[64];   /* its name, "" when unknown */
	uid_t target_uid;       /* real uid of the target */
	uid_t target_euid;
	uid_t my_uid;           /* our effective uid */
	bool have_cap_ptrace;   /* CAP_SYS_PTRACE in our effective set */
	int yama_scope;         /* /proc/sys/kernel/yama/ptrace_scope, -1 when absent */
	bool target_dumpable;   /* false for set-uid and prctl(PR_SET_DUMPABLE, 0) */
	bool is_descendant;     /* target is a descendant of heapscan */
	bool caps_known;        /* the two CapPrm below were read */
	uint64_t target_cap_prm; /* the target's permitted capabilities */
	uint64_t my_cap_prm;    /* ours */
};

int eperm_facts_read(pid_t pid, struct eperm_facts *f);
/* One line naming the cause, e.g. "process 12 is already traced by 345 (gdb)". */
void eperm_explain(pid_t pid, const struct eperm_facts *f, char *buf, size_t len);

#endif
