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
 *       before it; jemalloc (it exports mallctl too) is walked by
 *       jemalloc.c, tcmalloc (tc_malloc, or its version string) by
 *       tcmalloc.c; for any other, refuse and name the module.
 *
 * A module that defines malloc but was dlopen()ed RTLD_LOCAL does not take
 * over; heapscan cannot tell it from maps and refuses too (the safe side).
 *
 * Files are opened where the source says (map_entry.file: for a live
 * process /proc/PID/map_files/START-END, for a core the on-disk file whose
 * build-id matches), never by the path the target shows.  Only regular files
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
#include <sys/stat.h>
#include <unistd.h>

#include "allocator.h"
#include "elfmod.h"
#include "error.h"
#include "jemalloc.h"
#include "probe.h"
#include "tcmalloc.h"
#include "xmalloc.h"

#define DELETED_SUFFIX " (deleted)"

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

/* The executable's path for a message (what the link exe_file names). */
static char *
exe_path(const char *exe_file)
{
	char buf[PATH_MAX];
	ssize_t n;

	n = readlink(exe_file, buf, sizeof(buf));
	if (n <= 0 || n >= (ssize_t)sizeof(buf))
		return shown(exe_file);
	return probe_printable(buf, (size_t)n, PATH_MAX);
}

/* No glibc mapped: say what there is instead. */
static int
explain_no_glibc(pid_t pid, const struct maps *m, const char *exe_file, char *why,
		 size_t whylen)
{
	char err[256], *p;
	struct elfmod *exe;

	for (size_t i = 0; i < m->n; i++)
		if (is_musl(&m->v[i])) {
			p = shown(m->v[i].path);
			snprintf(why, whylen, "process %d uses musl libc (%s), not glibc; heapscan "
				 "walks glibc malloc only", (int)pid, p);
			free(p);
			return EXIT_UNSUPPORTED;
		}
	exe = exe_file ? elfmod_open(exe_file, err, sizeof(err)) : NULL;
	if (exe && !elfmod_has_interp(exe)) {
		p = exe_path(exe_file);
		snprintf(why, whylen, "process %d is statically linked (%s); heapscan needs "
			 "glibc's malloc in libc.so.6", (int)pid, p);
		free(p);
	} else {
		snprintf(why, whylen, "process %d has no libc.so.6 mapped", (int)pid);
	}
	elfmod_close(exe);
	return EXIT_UNSUPPORTED;
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
	/* where the loader is, unknown: fall back to its usual names */
	map_basename(e, b, sizeof(b));
	return ldbase || (strncmp(b, "ld-linux", 8) != 0 && fnmatch("ld-2.*.so", b, 0) != 0);
}

/* Whether the module defines malloc; *je too when it is jemalloc's (its
 * API: mallctl and malloc_stats_print beside malloc, or jemalloc's version
 * string in the file) or tcmalloc's (*tc too: tc_malloc beside malloc, or
 * "gperftools 2.N" in the file). */
static bool
defines_malloc(const struct map_entry *e, bool *je, bool *tc)
{
	char err[256];
	struct stat sb;
	struct elfmod *mod = NULL;
	bool yes = false;

	if (e->file && !stat(e->file, &sb) && S_ISREG(sb.st_mode))
		mod = elfmod_open(e->file, err, sizeof(err));
	if (mod)
		yes = elfmod_dynsym_defines(mod, "malloc");
	*je = yes && elfmod_dynsym_defines(mod, "mallctl") &&
	      elfmod_dynsym_defines(mod, "malloc_stats_print");
	/* jemalloc linked into an executable exports malloc (libc's callers
	 * bind to it) but not mallctl: its version string tells */
	if (yes && !*je) {
		char v[16];

		*je = jemalloc_version(mod, v, sizeof(v));
	}
	*tc = yes && !*je && (elfmod_dynsym_defines(mod, "tc_malloc") ||
			      tcmalloc_version(mod, (char[16]){ 0 }, 16));
	/* tcmalloc's debug allocator (libtcmalloc*_debug) wraps each block in
	 * guards of its own: its objects are not malloc's pointers */
	if (*tc && elfmod_dynsym_defines(mod, "_ZN25DebugMallocImplementation16GetAllocatedSizeEPKv"))
		*tc = false;
	*je = *je || *tc;
	elfmod_close(mod);
	return yes;
}

static const char *
allocator_name(const char *path)
{
	static const char *const known[] = { "jemalloc", "tcmalloc", "mimalloc" };
	const char *slash = strrchr(path, '/');

	if (strstr(slash ? slash + 1 : path, "tcmalloc") && strstr(slash ? slash + 1 : path, "debug"))
		return "tcmalloc's debug allocator";
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
find_other_malloc(const struct maps *m, const struct map_entry *libc, uint64_t ldbase, bool *je,
		  bool *tc)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];

		if (module_candidate(e, libc, ldbase) && e->file && !seen_before(m, i) &&
		    defines_malloc(e, je, tc))
			return e;
	}
	*je = *tc = false;
	return NULL;
}

int
allocator_check(pid_t pid, const struct maps *m, const char *exe_file, uint64_t ldbase,
		struct allocator_info *out, char *why, size_t whylen)
{
	const struct map_entry *libc = find_libc(m), *other;
	const char *name;
	char *p;
	bool je, tc;

	memset(out, 0, sizeof(*out));
	if (!libc)
		return explain_no_glibc(pid, m, exe_file, why, whylen);
	other = find_other_malloc(m, libc, ldbase, &je, &tc);
	if (other && je) { /* jemalloc.c or tcmalloc.c walks it */
		out->jemalloc = other;
		out->tcmalloc = tc;
	} else if (other) {
		p = shown(other->path);
		name = allocator_name(other->path);
		snprintf(why, whylen, "malloc in process %d comes from %s%s%s%s, not glibc; "
			 "heapscan walks glibc malloc, jemalloc and tcmalloc only", (int)pid, p, name ? " (" : "",
			 name ? name : "", name ? ")" : "");
		free(p);
		return EXIT_UNSUPPORTED;
	}
	out->libc = libc;
	out->libc_file = libc->file ? xstrdup(libc->file) : NULL;
	return EXIT_OK;
}

void
allocator_info_free(struct allocator_info *a)
{
	free(a->libc_file);
	a->libc_file = NULL;
	a->libc = NULL;
}
