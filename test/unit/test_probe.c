/*
 * test_probe.c - probe.c (pid parsing, /proc judgements, EPERM causes),
 * elfmod.c (on the system's libc.so.6 and on files that are not ELF) and
 * allocator.c (on heapscan's own test process).
 *
 * The /proc tests use processes this test forks: a paused child, a zombie
 * child (exited, waited for with WNOWAIT so it stays unreaped), and the test
 * process itself, whose comm is set to a name full of parentheses.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "allocator.h"
#include "elfmod.h"
#include "error.h"
#include "maps.h"
#include "probe.h"
#include "unit.h"

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"

UNIT_TEST(probe_parse_pid_accepts)
{
	pid_t p = 0;

	CHECK(parse_pid("1", &p) == 0 && p == 1);
	CHECK(parse_pid("4194304", &p) == 0 && p == 4194304);
	CHECK(parse_pid("0012", &p) == 0 && p == 12);
}

UNIT_TEST(probe_parse_pid_rejects)
{
	static const char *const bad[] = {
		"0", "-1", "+1", "10x", " 1", "1 ", "", "abc", "99999999999", "4194305",
		"0x10", "1.0", "\n1",
	};
	pid_t p = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_pid(bad[i], &p) != -1)
			fprintf(stderr, "  parse_pid(\"%s\") accepted\n", bad[i]);
		CHECK(parse_pid(bad[i], &p) == -1);
	}
	CHECK(parse_pid(NULL, &p) == -1);
	CHECK(p == 77); /* untouched on failure */
}

UNIT_TEST(probe_printable_escapes)
{
	char *s = probe_printable("a\nb\x1b[c\x7f\xff", 8, 100);

	CHECK(!strcmp(s, "a\\x0ab\\x1b[c\\x7f\\xff"));
	free(s);
	s = probe_printable("abcdef", 6, 4);
	CHECK(!strcmp(s, "abcd..."));
	free(s);
	s = probe_printable("ab\x01", 3, 4); /* the escape would not fit whole */
	CHECK(!strcmp(s, "ab..."));
	free(s);
}

/* A pid with no /proc entry (looked for from the top of the pid range). */
static pid_t
unused_pid(void)
{
	char path[64];

	for (pid_t p = 4194303; p > 4000000; p--) {
		snprintf(path, sizeof(path), "/proc/%d", (int)p);
		if (access(path, F_OK) != 0)
			return p;
	}
	return 0;
}

UNIT_TEST(probe_target_nonexistent)
{
	struct target_info ti;
	char why[256];
	pid_t p = unused_pid();
	char want[64];

	CHECK(p != 0);
	CHECK(target_probe(p, &ti, why, sizeof(why)) == EXIT_NOPROC);
	snprintf(want, sizeof(want), "no process with pid %d", (int)p);
	CHECK(!strcmp(why, want));
	target_info_free(&ti);
}

UNIT_TEST(probe_target_self)
{
	struct target_info ti;
	char why[256], want[64], old[17] = "";

	/* comm with ')' and spaces: the fields must be found after the LAST ')' */
	prctl(PR_GET_NAME, old);
	prctl(PR_SET_NAME, "a) S 1 (b) c");
	CHECK(target_probe(getpid(), &ti, why, sizeof(why)) == EXIT_UNSUPPORTED);
	prctl(PR_SET_NAME, old);
	snprintf(want, sizeof(want), "pid %d is heapscan itself", (int)getpid());
	CHECK(!strcmp(why, want));
	CHECK(ti.comm && !strcmp(ti.comm, "a) S 1 (b) c"));
	CHECK(ti.state == 'R');
	CHECK(!(ti.flags & 0x00200000));
	CHECK(ti.uid == getuid());
	CHECK(ti.tracer_pid == 0 || ti.tracer_pid != getpid());
	CHECK(ti.elf_class == 64);
	CHECK(ti.cmdline && strstr(ti.cmdline, "test_unit"));
	target_info_free(&ti);
}

static pid_t
fork_paused(void)
{
	pid_t c = fork();

	if (c == 0) {
		prctl(PR_SET_NAME, "probe\nchild");
		for (;;)
			pause();
	}
	return c;
}

/* Wait (without reaping) until child c has started and renamed itself. */
static void
wait_renamed(pid_t c, const char *comm)
{
	char path[64], buf[64] = "";

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)c);
	for (int i = 0; i < 2000 && strncmp(buf, comm, strlen(comm)); i++) {
		FILE *f = fopen(path, "r");

		buf[0] = '\0';
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		usleep(1000);
	}
}

static void
kill_and_reap(pid_t c)
{
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
}

UNIT_TEST(probe_target_child_ok)
{
	struct target_info ti;
	char why[256] = "";
	pid_t c = fork_paused();

	CHECK(c > 0);
	wait_renamed(c, "probe\nchild");
	CHECK(target_probe(c, &ti, why, sizeof(why)) == EXIT_OK);
	CHECK(ti.pid == c);
	CHECK(ti.comm && !strcmp(ti.comm, "probe\\x0achild")); /* the newline escaped */
	CHECK(ti.elf_class == 64);
	CHECK(ti.cmdline && !strchr(ti.cmdline, '\n') && ti.cmdline[0]);
	CHECK(ti.cmdline && ti.cmdline[strlen(ti.cmdline) - 1] != ' ');
	target_info_free(&ti);
	kill_and_reap(c);
}

UNIT_TEST(probe_target_zombie)
{
	struct target_info ti;
	siginfo_t si;
	char why[256] = "", want[160];
	pid_t c = fork();

	if (c == 0)
		_exit(0);
	CHECK(c > 0);
	/* WNOWAIT: wait for the exit but leave the zombie in place. */
	CHECK(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT) == 0);
	CHECK(target_probe(c, &ti, why, sizeof(why)) == EXIT_UNSUPPORTED);
	CHECK(ti.state == 'Z');
	snprintf(want, sizeof(want), "process %d (%s) is a zombie: it has exited and its "
		 "parent has not reaped it", (int)c, ti.comm ? ti.comm : "?");
	CHECK(!strcmp(why, want));
	/* a zombie has no argv: the cmdline falls back to [comm] */
	CHECK(ti.cmdline && ti.cmdline[0] == '[');
	target_info_free(&ti);
	waitpid(c, NULL, 0);
}

/* Kernel threads are visible only outside a pid namespace; then kthreadd is 2. */
UNIT_TEST(probe_target_kthread)
{
	struct target_info ti;
	char why[256] = "";
	int r = target_probe(2, &ti, why, sizeof(why));

	if (r == EXIT_NOPROC || !(ti.flags & 0x00200000)) {
		printf("  (pid 2 is not a kernel thread here; not checked)\n");
	} else {
		CHECK(r == EXIT_UNSUPPORTED);
		CHECK(strstr(why, "is a kernel thread: it has no user-space heap") != NULL);
		CHECK(ti.cmdline && ti.cmdline[0] == '[');
		CHECK(ti.elf_class == 0);
	}
	target_info_free(&ti);
}

static struct eperm_facts
facts_plain(void)
{
	struct eperm_facts f;

	memset(&f, 0, sizeof(f));
	f.target_uid = f.target_euid = f.my_uid = 1000;
	f.yama_scope = -1;
	f.target_dumpable = true;
	return f;
}

#define GENERIC                                                                            \
	"permission denied tracing process 42: not traced, and no uid, dumpable, capability " \
	"or Yama cause heapscan can see; a security module (AppArmor, SELinux) or a user "    \
	"namespace may refuse it"

static void
check_explain(const struct eperm_facts *f, const char *want)
{
	char buf[512];

	eperm_explain(42, f, buf, sizeof(buf));
	if (strcmp(buf, want))
		fprintf(stderr, "  got:  %s\n  want: %s\n", buf, want);
	CHECK(!strcmp(buf, want));
}

UNIT_TEST(probe_eperm_traced)
{
	struct eperm_facts f = facts_plain();

	f.tracer_pid = 345;
	strcpy(f.tracer_comm, "gdb");
	f.yama_scope = 3; /* another tracer is the more immediate cause */
	check_explain(&f, "process 42 is already traced by process 345 (gdb)");
	f.tracer_comm[0] = '\0';
	check_explain(&f, "process 42 is already traced by process 345");
}

UNIT_TEST(probe_eperm_not_dumpable)
{
	struct eperm_facts f = facts_plain();

	f.target_dumpable = false;
	f.target_euid = 0; /* a set-uid root program run by uid 1000 */
	check_explain(&f, "process 42 is not dumpable (set-uid program or "
		      "prctl(PR_SET_DUMPABLE, 0)); run heapscan as root");
}

UNIT_TEST(probe_eperm_other_uid)
{
	struct eperm_facts f = facts_plain();

	f.target_uid = f.target_euid = 0;
	f.my_uid = 65534;
	f.target_dumpable = false; /* what the environ test says for another uid */
	check_explain(&f, "process 42 belongs to uid 0 and heapscan runs as uid 65534 "
		      "without CAP_SYS_PTRACE; run as root or as uid 0");
	f.have_cap_ptrace = true; /* the capability lifts the uid check */
	check_explain(&f, GENERIC);
}

UNIT_TEST(probe_eperm_yama)
{
	struct eperm_facts f = facts_plain();

	f.yama_scope = 1;
	check_explain(&f, "kernel.yama.ptrace_scope is 1: only descendants may be traced; "
		      "run as root (or with CAP_SYS_PTRACE), or set it to 0");
	f.is_descendant = true;
	check_explain(&f, GENERIC);
	f.yama_scope = 2;
	check_explain(&f, "kernel.yama.ptrace_scope is 2: only processes with CAP_SYS_PTRACE "
		      "may trace; run as root");
	f.yama_scope = 3;
	f.have_cap_ptrace = true;
	check_explain(&f, "kernel.yama.ptrace_scope is 3: ptrace is disabled until reboot");
	f.yama_scope = 0;
	check_explain(&f, GENERIC);
}

UNIT_TEST(probe_eperm_container_root)
{
	struct eperm_facts f = facts_plain();

	f.my_uid = 0;
	f.target_uid = f.target_euid = 1000; /* the capability alone would do */
	f.yama_scope = 1;
	check_explain(&f, "heapscan lacks CAP_SYS_PTRACE (a container may drop it: "
		      "run with --cap-add=SYS_PTRACE)");
}

UNIT_TEST(probe_eperm_generic)
{
	struct eperm_facts f = facts_plain();

	check_explain(&f, GENERIC);
}

/* Root with CAP_SYS_PTRACE refused by a container's init that keeps a
 * capability heapscan was not given (CAP_SYS_RESOURCE, bit 24, as on
 * this project's machines). */
UNIT_TEST(probe_eperm_more_capabilities)
{
	struct eperm_facts f = facts_plain();
	char buf[512];

	f.my_uid = f.target_uid = f.target_euid = 0;
	f.have_cap_ptrace = true;
	f.caps_known = true;
	f.target_cap_prm = 0x1ffffffffffULL;
	f.my_cap_prm = 0x1fffeffffffULL;
	check_explain(&f, "process 42 holds capabilities heapscan lacks (0x1000000), and "
		      "heapscan's CAP_SYS_PTRACE does not reach its user namespace; run heapscan "
		      "with them (from the host, or in a container given them)");
	eperm_explain(1, &f, buf, sizeof(buf));
	CHECK(strstr(buf, "process 1 (this namespace's init) holds") == buf);
	f.my_cap_prm = f.target_cap_prm; /* a subset: not the cause */
	check_explain(&f, GENERIC);
}

UNIT_TEST(probe_eperm_facts_child)
{
	struct eperm_facts f;
	pid_t c = fork_paused();

	CHECK(c > 0);
	wait_renamed(c, "probe\nchild");
	CHECK(eperm_facts_read(c, &f) == 0);
	CHECK(f.tracer_pid == 0);
	CHECK(f.target_uid == getuid() && f.my_uid == geteuid());
	CHECK(f.target_dumpable);
	CHECK(f.is_descendant);
	CHECK(f.yama_scope >= -1 && f.yama_scope <= 3);
	kill_and_reap(c);
	if (getppid() > 1) {
		CHECK(eperm_facts_read(getppid(), &f) == 0);
		CHECK(!f.is_descendant);
	}
	CHECK(eperm_facts_read(unused_pid(), &f) < 0);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

UNIT_TEST(probe_elfmod_libc)
{
	static const char *const names[] = { "malloc", "free", "malloc_trim", "mallinfo2",
					     "gnu_get_libc_version" };
	char err[256] = "";
	uint64_t v = 0, sz = 0;
	double t0 = now_ms(), ms;
	struct elfmod *m = elfmod_open(LIBC_PATH, err, sizeof(err));
	bool all = m != NULL;

	for (size_t i = 0; m && i < sizeof(names) / sizeof(names[0]); i++)
		all &= elfmod_symbol(m, names[i], &v, &sz);
	ms = now_ms() - t0;
	printf("  open %s + 5 look-ups: %.3f ms\n", LIBC_PATH, ms);
	CHECK(ms < 50); /* the aim is < 5 ms; leave room for sanitizers and load */
	CHECK(m != NULL);
	CHECK(all);
	if (!m)
		return;
	CHECK(elfmod_class(m) == 64);
	CHECK(elfmod_is_dyn(m));
	CHECK(elfmod_symbol(m, "malloc", &v, &sz) && v != 0 && sz != 0);
	CHECK(!elfmod_symbol(m, "no_such_symbol_anywhere", NULL, NULL));
	CHECK(!elfmod_symbol(m, "_rtld_global", NULL, NULL)); /* undefined in libc */
	CHECK(!elfmod_symbol(m, "", NULL, NULL));
	elfmod_close(m);
}

/* The code of gnu_get_libc_version as mapped in this process equals the file's
 * bytes at bias + st_value: checks the bias and read_vaddr together. */
UNIT_TEST(probe_elfmod_bias_and_bytes)
{
	char err[256];
	struct elfmod *m = elfmod_open(LIBC_PATH, err, sizeof(err));
	Dl_info di;
	uint64_t v = 0, va = 0;
	unsigned char code[16], ver[64];
	const char needle[] = "release version ";

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(dladdr((void *)gnu_get_libc_version, &di) != 0);
	CHECK(elfmod_symbol(m, "gnu_get_libc_version", &v, NULL));
	CHECK(elfmod_read_vaddr(m, v, code, sizeof(code)));
	CHECK(elfmod_bias(m, (uint64_t)(uintptr_t)di.dli_fbase) + v ==
	      (uint64_t)(uintptr_t)gnu_get_libc_version);
	CHECK(!memcmp(code, (const void *)gnu_get_libc_version, sizeof(code)));
	CHECK(!elfmod_read_vaddr(m, UINT64_MAX - 4, code, sizeof(code)));
	CHECK(elfmod_find_bytes(m, needle, sizeof(needle) - 1, &va));
	CHECK(elfmod_read_vaddr(m, va, ver, sizeof(ver)));
	CHECK(!memcmp(ver, needle, sizeof(needle) - 1));
	CHECK(!strncmp((char *)ver + sizeof(needle) - 1, gnu_get_libc_version(),
		       strlen(gnu_get_libc_version())));
	elfmod_close(m);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(data, 1, len, f) == len);
		fclose(f);
	}
}

UNIT_TEST(probe_elfmod_not_elf)
{
	char dir[] = "/tmp/heapscan-unit.XXXXXX", path[64], err[256] = "";
	char head[64];
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/text", dir);
	write_file(path, "this is not an ELF file at all\n", 31);
	CHECK(elfmod_open(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not an ELF file") != NULL);
	write_file(path, "\177ELF", 4); /* shorter than an ELF header */
	CHECK(elfmod_open(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not an ELF file") != NULL);
	/* a real ELF header whose section and segment tables lie past the end */
	fd = open(LIBC_PATH, O_RDONLY);
	CHECK(fd >= 0 && read(fd, head, sizeof(head)) == (ssize_t)sizeof(head));
	close(fd);
	write_file(path, head, sizeof(head));
	CHECK(elfmod_open(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "malformed") != NULL || strstr(err, "not an ELF") != NULL);
	unlink(path);
	CHECK(elfmod_open(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "No such file") != NULL);
	CHECK(elfmod_open(dir, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not a regular file") != NULL);
	CHECK(elfmod_open("/dev/null", err, sizeof(err)) == NULL);
	rmdir(dir);
}

/* The test binary itself: glibc's malloc, unless built with ASAN=1, when
 * libasan defines malloc and must be named. */
UNIT_TEST(probe_allocator_self)
{
	struct maps mp;
	struct allocator_info ai;
	char why[512] = "";
	bool asan = false;
	int r;

	CHECK(maps_read(getpid(), &mp) == 0);
	for (size_t i = 0; i < mp.n; i++) {
		if (strstr(mp.v[i].path, "libasan"))
			asan = true;
		if (mp.v[i].path[0] == '/') /* the source's part: where files open */
			mp.v[i].file = strdup(mp.v[i].path);
	}
	r = allocator_check(getpid(), &mp, "/proc/self/exe", getauxval(AT_BASE), &ai, why, sizeof(why));
	if (asan) {
		CHECK(r == EXIT_UNSUPPORTED);
		CHECK(strstr(why, "libasan") != NULL);
	} else {
		CHECK(r == EXIT_OK);
		CHECK(ai.libc && strstr(ai.libc->path, "libc.so.6"));
		CHECK(ai.libc_file && !strcmp(ai.libc_file, ai.libc->file));
		CHECK(ai.libc_file && access(ai.libc_file, R_OK) == 0);
		if (r != EXIT_OK)
			fprintf(stderr, "  %s\n", why);
	}
	allocator_info_free(&ai);
	maps_free(&mp);
}

/* Synthetic maps: what the messages say when libc.so.6 is missing or when
 * another module (here: this test binary, via /proc/self/exe) is named. */
UNIT_TEST(probe_allocator_no_glibc)
{
	static const char musl[] =
		"7f0000000000-7f0000001000 r--p 00000000 08:01 12 /usr/lib/x86_64-linux-musl/libc.so\n";
	struct maps mp;
	struct allocator_info ai;
	size_t bad = 0;
	char why[512] = "", want[256];

	CHECK(maps_parse(musl, sizeof(musl) - 1, &mp, &bad) == 0);
	CHECK(allocator_check(getpid(), &mp, "/proc/self/exe", getauxval(AT_BASE), &ai, why, sizeof(why)) == EXIT_UNSUPPORTED);
	snprintf(want, sizeof(want), "process %d uses musl libc (/usr/lib/x86_64-linux-musl/"
		 "libc.so), not glibc; heapscan walks glibc malloc only", (int)getpid());
	CHECK(!strcmp(why, want));
	maps_free(&mp);

	/* No libc and no musl: this (dynamically linked) test binary has PT_INTERP. */
	CHECK(maps_parse("", 0, &mp, &bad) == 0);
	CHECK(allocator_check(getpid(), &mp, "/proc/self/exe", getauxval(AT_BASE), &ai, why, sizeof(why)) == EXIT_UNSUPPORTED);
	snprintf(want, sizeof(want), "process %d has no libc.so.6 mapped", (int)getpid());
	CHECK(!strcmp(why, want));
	maps_free(&mp);
}

/* The 32-bit refusal cannot run live where the kernel lacks IA32 emulation. */
UNIT_TEST(probe_judge_32bit)
{
	struct target_info ti = { .pid = 4321, .state = 'S', .elf_class = 32, .comm = "app32" };
	char why[256];

	CHECK(probe_judge(&ti, why, sizeof(why)) == EXIT_UNSUPPORTED);
	CHECK(strstr(why, "32-bit") != NULL);
	ti.elf_class = 64;
	CHECK(probe_judge(&ti, why, sizeof(why)) == EXIT_OK);
}
