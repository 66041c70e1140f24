/*
 * probe.c - decide from /proc alone whether a pid is something heapscan can
 * scan, and explain a refused PTRACE_SEIZE.
 *
 * Nothing here stops the target.  The files read, all of them written by the
 * kernel but holding text the target chose (its comm, its argv):
 *
 *   /proc/PID/stat     "PID (COMM) S PPID PGRP SESSION TTY TPGID FLAGS ..."
 *                      COMM is up to 16 (kernel threads: 64) bytes of anything,
 *                      spaces and ')' included, so the fields after it are
 *                      found from the LAST ')' in the line.
 *   /proc/PID/status   "Uid:\tREAL\tEFFECTIVE\tSAVED\tFS", "TracerPid:\tN"
 *   /proc/PID/cmdline  argv, NUL separated; empty for kernel threads
 *   /proc/PID/exe      the executable; its e_ident[EI_CLASS] tells 32/64 bit
 *
 * Every name that ends up in a message goes through probe_printable() so a
 * target cannot put a newline or a terminal escape into heapscan's output.
 *
 * The EPERM explanation follows strace's diagnose_attach_eperm: gather the
 * facts (eperm_facts_read, /proc only), then decide (eperm_explain, a pure
 * function, so every branch has a unit test).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "probe.h"
#include "xmalloc.h"

#define PID_MAX_LIMIT 4194304L     /* the kernel's upper bound for pid_max */
#define PF_KTHREAD 0x00200000U     /* include/linux/sched.h */
#define CAP_SYS_PTRACE_BIT 19      /* include/uapi/linux/capability.h */
#define CMDLINE_CAP 4096           /* bytes of argv read, and shown at most */
#define PROC_FILE_CAP (1 << 20)    /* no /proc text file we read is this big */
#define ANCESTRY_MAX 4096          /* bound on the parent walk (pid loops) */

int
parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v;

	/* strtol alone would accept " 1", "+1" and "-1"; insist on digits. */
	if (!s || *s < '0' || *s > '9')
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > PID_MAX_LIMIT)
		return -1;
	*out = (pid_t)v;
	return 0;
}

char *
probe_printable(const char *s, size_t len, size_t cap)
{
	size_t n = 0;
	char *out = xmalloc(cap + 4); /* room for "..." and the NUL */

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;

		if (n + need > cap) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		if (need == 1)
			out[n] = (char)c;
		else
			snprintf(out + n, 5, "\\x%02x", c);
		n += need;
	}
	out[n] = '\0';
	return out;
}

/* Whole file into a NUL-terminated buffer (at most cap bytes).  0 or -errno. */
static int
read_file_capped(const char *path, size_t cap, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t n = 0;
	char *b;

	if (fd < 0)
		return -errno;
	b = xmalloc(cap + 1);
	while (n < cap) {
		ssize_t r = read(fd, b + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			free(b);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int
read_proc(pid_t pid, const char *name, size_t cap, char **buf, size_t *len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	return read_file_capped(path, cap, buf, len);
}

/* Strict unsigned decimal at *p (no sign, no spaces), advancing *p. */
static int
scan_ulong(const char **p, unsigned long *out)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	*out = strtoul(*p, &end, 10);
	if (errno)
		return -1;
	*p = end;
	return 0;
}

/* Strict signed decimal: "-1" appears in stat (tpgid). */
static int
scan_long(const char **p, long *out)
{
	char *end;

	if ((**p < '0' || **p > '9') && !(**p == '-' && (*p)[1] >= '0' && (*p)[1] <= '9'))
		return -1;
	errno = 0;
	*out = strtol(*p, &end, 10);
	if (errno)
		return -1;
	*p = end;
	return 0;
}

struct stat_fields {
	char *comm;      /* printable copy */
	char state;
	long ppid;
	unsigned long flags;
};

/* Fields 2..9 of /proc/PID/stat.  0, or -1 when the text does not parse. */
static int
stat_parse(const char *text, size_t len, struct stat_fields *sf)
{
	const char *lp = memchr(text, '(', len), *rp = memrchr(text, ')', len), *p;
	long skip;

	if (!lp || !rp || rp < lp || rp[1] != ' ' || !rp[2] || rp[3] != ' ')
		return -1;
	sf->state = rp[2];
	p = rp + 4;
	if (scan_long(&p, &sf->ppid) || *p++ != ' ')
		return -1;
	for (int i = 0; i < 4; i++) /* pgrp session tty_nr tpgid */
		if (scan_long(&p, &skip) || *p++ != ' ')
			return -1;
	if (scan_ulong(&p, &sf->flags) || (*p != ' ' && *p != '\n' && *p))
		return -1;
	sf->comm = probe_printable(lp + 1, (size_t)(rp - lp - 1), 64);
	return 0;
}

static int
stat_read(pid_t pid, struct stat_fields *sf)
{
	char *text;
	size_t len;
	int r = read_proc(pid, "stat", 4096, &text, &len);

	if (r < 0)
		return r;
	r = stat_parse(text, len, sf) ? -EINVAL : 0;
	free(text);
	return r;
}

int
target_identity_parse(const char *text, size_t len, struct target_id *id)
{
	const char *rp = memrchr(text, ')', len), *p, *end = text + len;
	int field = 3; /* rp[2] is field 3, the state */

	memset(id, 0, sizeof(*id));
	if (!rp || end - rp < 4 || rp[1] != ' ')
		return -1;
	id->state = rp[2];
	for (p = rp + 3; p < end && field < 50;) {
		unsigned long long v;
		char *e;

		if (*p++ != ' ')
			return -1;
		field++;
		errno = 0;
		v = strtoull(p, &e, 10);
		if (e == p || errno)
			return -1;
		p = e;
		if (field == 26)
			id->code = v;
		else if (field == 28)
			id->stack = v;
		else if (field == 48)
			id->args = v;
		else if (field == 50)
			id->env = v;
	}
	return field == 50 ? 0 : -1;
}

int
target_identity(pid_t pid, struct target_id *id)
{
	char *text;
	size_t len;
	int r = read_proc(pid, "stat", 4096, &text, &len);

	memset(id, 0, sizeof(*id));
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	r = target_identity_parse(text, len, id) ? -EINVAL : 0;
	free(text);
	return r;
}

/* The value after "Key:" in /proc/PID/status text, or NULL. */
static const char *
status_field(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			p += klen + 1;
			while (*p == '\t' || *p == ' ')
				p++;
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

struct status_fields {
	unsigned long uid, euid;
	unsigned long tracer;
};

static int
status_parse(const char *text, struct status_fields *st)
{
	const char *u = status_field(text, "Uid"), *t = status_field(text, "TracerPid");

	if (!u || !t || scan_ulong(&u, &st->uid) || (*u != '\t' && *u != ' '))
		return -1;
	while (*u == '\t' || *u == ' ')
		u++;
	if (scan_ulong(&u, &st->euid) || scan_ulong(&t, &st->tracer))
		return -1;
	return 0;
}

static int
status_read(pid_t pid, struct status_fields *st)
{
	char *text;
	size_t len;
	int r = read_proc(pid, "status", PROC_FILE_CAP, &text, &len);

	if (r < 0)
		return r;
	r = status_parse(text, st) ? -EINVAL : 0;
	free(text);
	return r;
}

/* argv joined by spaces and made printable; "[comm]" when there is none. */
static char *
cmdline_read(pid_t pid, const char *comm)
{
	char *raw, *out;
	size_t len;

	if (read_proc(pid, "cmdline", CMDLINE_CAP, &raw, &len) < 0)
		len = 0, raw = NULL;
	for (size_t i = 0; i < len; i++)
		if (raw[i] == '\0')
			raw[i] = ' ';
	while (len > 0 && raw[len - 1] == ' ')
		len--;
	out = len ? probe_printable(raw, len, CMDLINE_CAP) : xasprintf("[%s]", comm);
	free(raw);
	return out;
}

/* 32 or 64 from the executable's ELF header; 0 when unreadable (another
 * user's process, a kernel thread) or not ELF. */
static int
exe_class(pid_t pid)
{
	char path[64];
	unsigned char id[5];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	do
		r = pread(fd, id, sizeof(id), 0);
	while (r < 0 && errno == EINTR);
	close(fd);
	if (r != (ssize_t)sizeof(id) || memcmp(id, "\177ELF", 4))
		return 0;
	return id[4] == 1 ? 32 : id[4] == 2 ? 64 : 0;
}

/* The reason pid cannot be scanned, judged from what was read. */
int
probe_judge(const struct target_info *ti, char *why, size_t whylen)
{
	pid_t pid = ti->pid;

	if (pid == getpid()) {
		snprintf(why, whylen, "pid %d is heapscan itself", (int)pid);
		return EXIT_UNSUPPORTED;
	}
	if (ti->state == 'Z' || ti->state == 'X') {
		snprintf(why, whylen, "process %d (%s) is a zombie: it has exited and its "
			 "parent has not reaped it", (int)pid, ti->comm);
		return EXIT_UNSUPPORTED;
	}
	if (ti->flags & PF_KTHREAD) {
		snprintf(why, whylen, "process %d (%s) is a kernel thread: it has no "
			 "user-space heap", (int)pid, ti->comm);
		return EXIT_UNSUPPORTED;
	}
	if (ti->elf_class == 32) {
		snprintf(why, whylen, "process %d (%s) is a 32-bit program; heapscan reads "
			 "64-bit x86-64 processes only", (int)pid, ti->comm);
		return EXIT_UNSUPPORTED;
	}
	return EXIT_OK;
}

static int
probe_gone_or_fail(pid_t pid, int err, const char *what, char *why, size_t whylen)
{
	if (err == -ENOENT || err == -ESRCH) {
		snprintf(why, whylen, "no process with pid %d", (int)pid);
		return EXIT_NOPROC;
	}
	if (err == -EINVAL)
		snprintf(why, whylen, "cannot parse /proc/%d/%s", (int)pid, what);
	else
		snprintf(why, whylen, "cannot read /proc/%d/%s: %s", (int)pid, what,
			 strerror(-err));
	return EXIT_FAIL;
}

int
target_probe(pid_t pid, struct target_info *ti, char *why, size_t whylen)
{
	struct stat_fields sf = { 0 };
	struct status_fields st = { 0 };
	int r;

	memset(ti, 0, sizeof(*ti));
	ti->pid = pid;
	r = stat_read(pid, &sf);
	if (r < 0)
		return probe_gone_or_fail(pid, r, "stat", why, whylen);
	ti->comm = sf.comm;
	ti->state = sf.state;
	ti->flags = (unsigned)sf.flags;
	r = status_read(pid, &st);
	if (r < 0)
		return probe_gone_or_fail(pid, r, "status", why, whylen);
	ti->uid = (uid_t)st.uid;
	ti->tracer_pid = (pid_t)st.tracer;
	ti->cmdline = cmdline_read(pid, ti->comm);
	ti->elf_class = exe_class(pid);
	return probe_judge(ti, why, whylen);
}

void
target_info_free(struct target_info *ti)
{
	free(ti->cmdline);
	free(ti->comm);
	ti->cmdline = ti->comm = NULL;
}

/* ---- why PTRACE_SEIZE said EPERM ---- */

/* CAP_SYS_PTRACE in our effective set, from "CapEff:\t<hex>". */
static bool
have_cap_ptrace(void)
{
	char *text, *end;
	size_t len;
	const char *v;
	unsigned long long caps = 0;
	bool ok = false;

	if (read_file_capped("/proc/self/status", PROC_FILE_CAP, &text, &len) < 0)
		return false;
	v = status_field(text, "CapEff");
	if (v) {
		errno = 0;
		caps = strtoull(v, &end, 16);
		ok = !errno && end != v && (*end == '\n' || !*end);
	}
	free(text);
	return ok && (caps >> CAP_SYS_PTRACE_BIT & 1);
}

/* A capability set ("CapPrm", "CapEff") from a status file. */
static bool
status_caps(const char *path, const char *key, uint64_t *out)
{
	char *text, *end;
	size_t len;
	const char *v;
	bool ok = false;

	if (read_file_capped(path, PROC_FILE_CAP, &text, &len) < 0)
		return false;
	v = status_field(text, key);
	if (v) {
		errno = 0;
		*out = strtoull(v, &end, 16);
		ok = !errno && end != v && (*end == '\n' || !*end);
	}
	free(text);
	return ok;
}

/* Yama's ptrace_scope 0..3, or -1 when Yama is absent or the file is odd. */
static int
yama_scope(void)
{
	char *text;
	size_t len;
	const char *p;
	unsigned long v;
	int scope = -1;

	if (read_file_capped("/proc/sys/kernel/yama/ptrace_scope", 64, &text, &len) < 0)
		return -1;
	p = text;
	if (!scan_ulong(&p, &v) && (*p == '\n' || !*p) && v <= 3)
		scope = (int)v;
	free(text);
	return scope;
}

/* Is pid a descendant of ours?  Walk parents up to init (bounded). */
static bool
is_descendant(pid_t pid)
{
	pid_t me = getpid();

	for (int i = 0; i < ANCESTRY_MAX && pid > 1; i++) {
		struct stat_fields sf = { 0 };

		if (stat_read(pid, &sf) < 0)
			return false;
		free(sf.comm);
		if (sf.ppid == me)
			return true;
		pid = (pid_t)sf.ppid;
	}
	return false;
}

/* Opening /proc/PID/environ needs PTRACE_MODE_READ: same uids and a dumpable
 * target, or CAP_SYS_PTRACE.  Yama does not take part (it only judges
 * attaching), so EACCES here means an uid mismatch or a non-dumpable target. */
static bool
environ_readable(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	return errno != EACCES && errno != EPERM;
}

static void
tracer_name(pid_t tracer, char *buf, size_t len)
{
	char *text;
	size_t n;

	buf[0] = '\0';
	if (read_proc(tracer, "comm", 256, &text, &n) < 0)
		return;
	while (n > 0 && text[n - 1] == '\n')
		n--;
	char *p = probe_printable(text, n, len - 4);
	snprintf(buf, len, "%s", p);
	free(p);
	free(text);
}

int
eperm_facts_read(pid_t pid, struct eperm_facts *f)
{
	struct status_fields st = { 0 };
	int r;

	memset(f, 0, sizeof(*f));
	f->my_uid = geteuid();
	f->have_cap_ptrace = have_cap_ptrace();
	f->yama_scope = yama_scope();
	r = status_read(pid, &st);
	if (r < 0)
		return r;
	f->tracer_pid = (pid_t)st.tracer;
	f->target_uid = (uid_t)st.uid;
	f->target_euid = (uid_t)st.euid;
	if (f->tracer_pid)
		tracer_name(f->tracer_pid, f->tracer_comm, sizeof(f->tracer_comm));
	/* Only a same-uid target can be refused for being non-dumpable: for an
	 * other-uid one the environ test fails anyway and says nothing. */
	f->target_dumpable = environ_readable(pid);
	f->is_descendant = is_descendant(pid);
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		f->caps_known = status_caps(path, "CapPrm", &f->target_cap_prm) &&
				status_caps("/proc/self/status", "CapPrm", &f->my_cap_prm);
	}
	return 0;
}

/*
 * Order matters: the first cause that fully explains the refusal wins.
 * Scope 3 first because nothing the user can do (short of a reboot) helps;
 * root without CAP_SYS_PTRACE before the uid/dumpable/Yama causes because
 * for root every one of those is lifted by the capability alone, and
 * "run as root" would be no advice to someone who already is.
 */
void
eperm_explain(pid_t pid, const struct eperm_facts *f, char *buf, size_t len)
{
	int p = (int)pid;
	uid_t other = f->target_uid != f->my_uid ? f->target_uid : f->target_euid;

	if (f->tracer_pid && f->tracer_comm[0])
		snprintf(buf, len, "process %d is already traced by process %d (%s)", p,
			 (int)f->tracer_pid, f->tracer_comm);
	else if (f->tracer_pid)
		snprintf(buf, len, "process %d is already traced by process %d", p,
			 (int)f->tracer_pid);
	else if (f->yama_scope == 3)
		snprintf(buf, len, "kernel.yama.ptrace_scope is 3: ptrace is disabled until reboot");
	else if (f->my_uid == 0 && !f->have_cap_ptrace)
		snprintf(buf, len, "heapscan lacks CAP_SYS_PTRACE (a container may drop it: "
			 "run with --cap-add=SYS_PTRACE)");
	else if (!f->have_cap_ptrace && !f->target_dumpable && f->target_uid == f->my_uid)
		snprintf(buf, len, "process %d is not dumpable (set-uid program or "
			 "prctl(PR_SET_DUMPABLE, 0)); run heapscan as root", p);
	else if (!f->have_cap_ptrace && other != f->my_uid)
		snprintf(buf, len, "process %d belongs to uid %u and heapscan runs as uid %u "
			 "without CAP_SYS_PTRACE; run as root or as uid %u", p,
			 (unsigned)other, (unsigned)f->my_uid, (unsigned)other);
	else if (f->yama_scope == 1 && !f->is_descendant && !f->have_cap_ptrace)
		snprintf(buf, len, "kernel.yama.ptrace_scope is 1: only descendants may be "
			 "traced; run as root (or with CAP_SYS_PTRACE), or set it to 0");
	else if (f->yama_scope == 2 && !f->have_cap_ptrace)
		snprintf(buf, len, "kernel.yama.ptrace_scope is 2: only processes with "
			 "CAP_SYS_PTRACE may trace; run as root");
	else if (f->caps_known && (f->target_cap_prm & ~f->my_cap_prm))
		/* commoncap's ptrace check: a tracee whose permitted set is not
		 * a subset of ours needs CAP_SYS_PTRACE in its user namespace;
		 * a container's init often keeps capabilities its exec'd
		 * children (heapscan) were not given */
		snprintf(buf, len, "process %d%s holds capabilities heapscan lacks (0x%llx), and "
			 "heapscan's CAP_SYS_PTRACE does not reach its user namespace; run heapscan "
			 "with them (from the host, or in a container given them)", p,
			 p == 1 ? " (this namespace's init)" : "",
			 (unsigned long long)(f->target_cap_prm & ~f->my_cap_prm));
	else
		snprintf(buf, len, "permission denied tracing process %d: not traced, and no uid, "
			 "dumpable, capability or Yama cause heapscan can see; a security module "
			 "(AppArmor, SELinux) or a user namespace may refuse it", p);
}
