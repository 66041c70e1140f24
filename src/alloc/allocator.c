/*
 * allocator.c - is the target's malloc glibc's?  Decided from its mappings
 * and the .dynsym of its modules, before anything is stopped.
 *
 *   no libc.so.6 (or libc-2.NN.so) mapped at offset 0:
 *       ld-musl-*, or a musl libc.so        -> musl, refuse
 *       /proc/PID/exe without PT_INTERP     -> statically linked, refuse
 *       otherwise                           -> no glibc, refuse
 *   libc.so.6 mapped, but another module defines malloc (the executable,
 *   an LD_PRELOADed jemalloc/tcmalloc/mimalloc, libasan, ...):
 *       the dynamic linker binds every malloc call to the first definition
 *       in load order, which is never libc's when another one is loaded
 *       before it; refuse and name the module.
 *
 * A module that defines malloc but was dlopen()ed RTLD_LOCAL does not take
 * over; heapscan cannot tell it from maps and refuses too (the safe side).
 *
 * Files are opened through /proc/PID/map_files/START-END (the very file
 * mapped, even deleted or in another mount namespace; needs CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE) and else /proc/PID/root/PATH.  Only regular files
 * are opened, so a mapped device is never touched.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allocator.h"
#include "elfmod.h"
#include "error.h"
#include "probe.h"
#include "xmalloc.h"

#define DELETED_SUFFIX " (deleted)"

char *
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

/* The file name of a mapping's path, " (deleted)" left off, in buf. */
static const char *
map_basename(const struct map_entry *e, char *buf, size_t len)
{
	const char *slash = strrchr(e->path, '/');
	const char *b = slash ? slash + 1 : e->path;
	size_t n = strlen(b), dl = strlen(DELETED_SUFFIX);

	if (n >= dl && !strcmp(b + n - dl, DELETED_SUFFIX))
		n -= dl;
	snprintf(buf, len, "%.*s", (int)n, b);
	return buf;
}

static bool
is_glibc(const struct map_entry *e)
{
	char b[PATH_MAX];

	map_basename(e, b, sizeof(b));
	return e->offset == 0 && (!strcmp(b, "libc.so.6") || !fnmatch("libc-2.*.so", b, 0));
}

/* Debian's /lib/ld-musl-x86_64.so.1 is a symlink that maps shows resolved:
 * /usr/lib/x86_64-linux-musl/libc.so. */
static bool
is_musl(const struct map_entry *e)
{
	char b[PATH_MAX];

	map_basename(e, b, sizeof(b));
	return !strncmp(b, "ld-musl-", 8) || (strstr(e->path, "musl") && !strncmp(b, "libc.", 5));
}

/* Printable copy of a path for a message. */
static char *
shown(const char *path)
{
	return probe_printable(path, strlen(path), PATH_MAX);
}

static const struct map_entry *
find_libc(const struct maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (is_glibc(&m->v[i]))
			return &m->v[i];
	return NULL;
}

/* The executable's path for a message (readlink /proc/PID/exe). */
static char *
exe_path(pid_t pid)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, sizeof(buf));
	if (n <= 0 || n >= (ssize_t)sizeof(buf))
		return xstrdup(link);
	return probe_printable(buf, (size_t)n, PATH_MAX);
}

/* No glibc mapped: say what there is instead. */
static int
explain_no_glibc(pid_t pid, const struct maps *m, char *why, size_t whylen)
{
	char link[64], err[256], *p;
	struct elfmod *exe;

	for (size_t i = 0; i < m->n; i++)
		if (is_musl(&m->v[i])) {
			p = shown(m->v[i].path);
			snprintf(why, whylen, "process %d uses musl libc (%s), not glibc; heapscan "
				 "walks glibc malloc only", (int)pid, p);
			free(p);
			return EXIT_UNSUPPORTED;
		}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	exe = elfmod_open(link, err, sizeof(err));
	if (exe && !elfmod_has_interp(exe)) {
		p = exe_path(pid);
		snprintf(why, whylen, "process %d is statically linked (%s); heapscan needs "
			 "glibc's malloc in libc.so.6", (int)pid, p);
		free(p);
	} else {
		snprintf(why, whylen, "process %d has no libc.so.6 mapped", (int)pid);
	}
	elfmod_close(exe);
	return EXIT_UNSUPPORTED;
}

/* Where the dynamic linker is mapped: AT_BASE from /proc/PID/auxv, 0 when
 * unknown.  Up to glibc 2.31 ld.so itself exports malloc, calloc, realloc
 * and free (its minimal allocator, serving only the loader), and its file
 * is ld-2.NN.so or anything a distribution or a test cache calls it: the
 * loader is known by its role, not by its name. */
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

/* Modules worth opening: file-backed, the mapping at file offset 0, not libc
 * itself, not the dynamic linker (its minimal malloc serves only ld.so). */
static bool
module_candidate(const struct map_entry *e, const struct map_entry *libc, uint64_t ldbase)
{
	char b[PATH_MAX];

	if (e->offset != 0 || e->path[0] != '/' || !strcmp(e->path, libc->path))
		return false;
	if (ldbase && e->start == ldbase)
		return false;
	/* auxv unreadable: fall back to the loader's usual names */
	map_basename(e, b, sizeof(b));
	return ldbase || (strncmp(b, "ld-linux", 8) != 0 && fnmatch("ld-2.*.so", b, 0) != 0);
}

static bool
defines_malloc(pid_t pid, const struct map_entry *e)
{
	char *path = target_file_path(pid, e), err[256];
	struct stat sb;
	struct elfmod *mod = NULL;
	bool yes = false;

	if (!stat(path, &sb) && S_ISREG(sb.st_mode))
		mod = elfmod_open(path, err, sizeof(err));
	if (mod)
		yes = elfmod_dynsym_defines(mod, "malloc");
	elfmod_close(mod);
	free(path);
	return yes;
}

static const char *
allocator_name(const char *path)
{
	static const char *const known[] = { "jemalloc", "tcmalloc", "mimalloc" };
	const char *slash = strrchr(path, '/');

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(slash ? slash + 1 : path, known[i]))
			return known[i];
	return NULL;
}

static bool
seen_before(const struct maps *m, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (m->v[j].offset == 0 && !strcmp(m->v[j].path, m->v[i].path))
			return true;
	return false;
}

/* The first module other than libc that defines malloc, or NULL. */
static const struct map_entry *
find_other_malloc(pid_t pid, const struct maps *m, const struct map_entry *libc)
{
	uint64_t ldbase = loader_base(pid);

	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];

		if (module_candidate(e, libc, ldbase) && !seen_before(m, i) && defines_malloc(pid, e))
			return e;
	}
	return NULL;
}

int
allocator_check(pid_t pid, const struct maps *m, struct allocator_info *out,
		char *why, size_t whylen)
{
	const struct map_entry *libc = find_libc(m), *other;
	const char *name;
	char *p;

	memset(out, 0, sizeof(*out));
	if (!libc)
		return explain_no_glibc(pid, m, why, whylen);
	other = find_other_malloc(pid, m, libc);
	if (other) {
		p = shown(other->path);
		name = allocator_name(other->path);
		snprintf(why, whylen, "malloc in process %d comes from %s%s%s%s, not glibc; "
			 "heapscan walks glibc malloc only", (int)pid, p, name ? " (" : "",
			 name ? name : "", name ? ")" : "");
		free(p);
		return EXIT_UNSUPPORTED;
	}
	out->libc = libc;
	out->libc_file = target_file_path(pid, libc);
	return EXIT_OK;
}

void
allocator_info_free(struct allocator_info *a)
{
	free(a->libc_file);
	a->libc_file = NULL;
	a->libc = NULL;
}
