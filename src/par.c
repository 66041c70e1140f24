/*
 * par.c - loops cut in parts on threads, and how many threads (see par.h).
 *
 * The CPUs a process may use are its affinity mask, and, in a container,
 * its cgroup's CPU quota: quota / period CPUs' worth of time per period,
 * from the file of its own cgroup and of every parent (the smallest wins):
 *
 *   v2:  /sys/fs/cgroup/PATH/cpu.max          "max 100000" or "150000 100000"
 *   v1:  /sys/fs/cgroup/cpu/PATH/cpu.cfs_quota_us   -1 or 150000
 *        /sys/fs/cgroup/cpu/PATH/cpu.cfs_period_us  100000
 *
 * PATH from /proc/self/cgroup: "0::/PATH" (v2), "N:cpu,cpuacct:/PATH" (v1).
 * A quota of 1.5 CPUs is 2 threads: the half CPU is worth a thread.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "par.h"
#include "xmalloc.h"

size_t par_min_for_tests;

static int jobs_set;      /* --jobs; 0: not given */
static int jobs_usable;   /* par_usable_cpus(), asked once */
static pthread_once_t usable_once = PTHREAD_ONCE_INIT;

/* ---- how many CPUs ------------------------------------------------------ */

/* One line of a small file, without its newline; false when unreadable. */
static bool
read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* A whole decimal number, strictly (a quota file holds nothing else). */
static bool
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || (*end && *end != ' '))
		return false;
	*v = x;
	return true;
}

/* CPUs' worth of quota / period, rounded up; 0 when either is 0 or odd. */
static unsigned
quota_cpus(uint64_t quota, uint64_t period)
{
	uint64_t n;

	if (!quota || !period)
		return 0;
	n = quota / period + (quota % period != 0);
	return n > PAR_MAX_JOBS ? PAR_MAX_JOBS : (unsigned)n;
}

/* The quota in one cgroup directory, in CPUs; 0 when it has none. */
static unsigned
dir_quota(const char *dir, bool v2)
{
	char p[PATH_MAX * 2 + 32], line[128];
	uint64_t quota, period;

	if (v2) {
		char *sp;

		snprintf(p, sizeof(p), "%s/cpu.max", dir);
		if (!read_line(p, line, sizeof(line)) || !strncmp(line, "max", 3))
			return 0;
		sp = strchr(line, ' ');
		if (!sp || !parse_u64(line, &quota) || !parse_u64(sp + 1, &period))
			return 0;
		return quota_cpus(quota, period);
	}
	snprintf(p, sizeof(p), "%s/cpu.cfs_quota_us", dir);
	if (!read_line(p, line, sizeof(line)) || !parse_u64(line, &quota)) /* -1: none */
		return 0;
	snprintf(p, sizeof(p), "%s/cpu.cfs_period_us", dir);
	if (!read_line(p, line, sizeof(line)) || !parse_u64(line, &period))
		return 0;
	return quota_cpus(quota, period);
}

/* The smallest quota over our cgroup and its parents under MOUNT, in CPUs;
 * 0 for none.  *where: the cgroup that has it. */
static unsigned
cgroup_quota(const char *cg, const char *mount, bool v2, char *where, size_t wlen)
{
	char rel[PATH_MAX], dir[PATH_MAX * 2 + 8];
	unsigned best = 0;

	if (!cgroup_own(cg, v2, "cpu", rel, sizeof(rel)) || rel[0] != '/')
		return 0;
	for (;;) {
		unsigned q;
		char *slash;

		snprintf(dir, sizeof(dir), "%s%s", mount, rel);
		q = dir_quota(dir, v2);
		if (q && (!best || q < best)) {
			best = q;
			snprintf(where, wlen, "the CPU quota of cgroup %.200s (%s)",
				 rel[0] ? rel : "/", v2 ? "cpu.max" : "cpu.cfs_quota_us");
		}
		slash = strrchr(rel, '/');
		if (!slash) /* "/a/b", "/a", "": the root last */
			break;
		*slash = '\0';
	}
	return best;
}

int
par_usable_cpus(char *why, size_t whylen)
{
	const char *fake = getenv("HEAPSCAN_TEST_CGROUP");
	char cg[PATH_MAX], v2[PATH_MAX], v1a[PATH_MAX], v1b[PATH_MAX], where[300] = "";
	char src[320];
	cpu_set_t set;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = online > 0 ? (unsigned)online : 1, q;

	snprintf(src, sizeof(src), "%u CPUs online", n);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
		n = (unsigned)CPU_COUNT(&set);
		snprintf(src, sizeof(src), "%u CPUs in the affinity mask", n);
	}
	if (fake && *fake) {
		snprintf(cg, sizeof(cg), "%s/cgroup", fake);
		snprintf(v2, sizeof(v2), "%s/fs", fake);
		snprintf(v1a, sizeof(v1a), "%s/fs/cpu", fake);
		snprintf(v1b, sizeof(v1b), "%s/fs/cpu,cpuacct", fake);
	} else {
		snprintf(cg, sizeof(cg), "/proc/self/cgroup");
		snprintf(v2, sizeof(v2), "/sys/fs/cgroup");
		snprintf(v1a, sizeof(v1a), "/sys/fs/cgroup/cpu");
		snprintf(v1b, sizeof(v1b), "/sys/fs/cgroup/cpu,cpuacct");
	}
	q = cgroup_quota(cg, v2, true, where, sizeof(where));
	if (!q)
		q = cgroup_quota(cg, v1a, false, where, sizeof(where));
	if (!q)
		q = cgroup_quota(cg, v1b, false, where, sizeof(where));
	if (q && q < n) {
		n = q;
		snprintf(src, sizeof(src), "%s", where);
	}
	if (n > PAR_MAX_JOBS)
		n = PAR_MAX_JOBS;
	if (n < 1)
		n = 1;
	if (why && whylen)
		snprintf(why, whylen, "%s", src);
	return (int)n;
}

static void
count_usable(void)
{
	jobs_usable = par_usable_cpus(NULL, 0);
}

void
par_set_jobs(int n)
{
	jobs_set = n < 0 ? 1 : n > PAR_MAX_JOBS ? PAR_MAX_JOBS : n;
}

int
par_jobs(void)
{
	if (jobs_set)
		return jobs_set;
	pthread_once(&usable_once, count_usable);
	/* the tests' split: two parts at least, as on a big machine */
	if (par_min_for_tests && jobs_usable < 2)
		return 2;
	return jobs_usable;
}

int
par_cpus(void)
{
	return par_jobs();
}

/* ---- running the parts -------------------------------------------------- */

struct part_job {
	par_fn *fn;
	void *arg;
	size_t begin, end;
	unsigned part;
	pthread_t th;
	bool started;
};

static void *
part_main(void *p)
{
	struct part_job *j = p;

	j->fn(j->arg, j->begin, j->end, j->part);
	return NULL;
}

unsigned
par_parts(size_t n)
{
	size_t min = par_min_for_tests ? par_min_for_tests : PAR_MIN;
	unsigned jobs = (unsigned)par_jobs();

	if (n < min || jobs < 2)
		return 1;
	return n < jobs ? (unsigned)n : jobs;
}

size_t
par_cut(size_t n, unsigned parts, unsigned k)
{
	if (!parts || k >= parts)
		return n;
	/* n * k / parts in 128 bits: no overflow whatever n */
	return (size_t)((unsigned __int128)n * k / parts);
}

void
par_run_cuts(const size_t *cut, unsigned parts, par_fn *fn, void *arg)
{
	struct part_job *j;

	if (parts <= 1) {
		fn(arg, cut[0], cut[parts ? 1 : 0], 0);
		return;
	}
	j = xcalloc(parts, sizeof(*j));
	for (unsigned k = 1; k < parts; k++) {
		j[k] = (struct part_job){ fn, arg, cut[k], cut[k + 1], k, 0, false };
		j[k].started = pthread_create(&j[k].th, NULL, part_main, &j[k]) == 0;
	}
	fn(arg, cut[0], cut[1], 0);
	for (unsigned k = 1; k < parts; k++) {
		if (j[k].started)
			pthread_join(j[k].th, NULL);
		else
			part_main(&j[k]);
	}
	free(j);
}

void
par_run(size_t n, unsigned parts, par_fn *fn, void *arg)
{
	size_t stack[9], *cut = parts < 9 ? stack : xmalloc((parts + 1) * sizeof(*cut));

	if (!parts)
		parts = 1;
	for (unsigned k = 0; k <= parts; k++)
		cut[k] = par_cut(n, parts, k);
	par_run_cuts(cut, parts, fn, arg);
	if (cut != stack)
		free(cut);
}

void
par_for(size_t n, par_fn *fn, void *arg)
{
	par_run(n, par_parts(n), fn, arg);
}
