/*
 * stopwatch.c - run a command and time it, and, seen from outside, how long
 * it kept a target process stopped.
 *
 *   stopwatch [-p PID] -- CMD [ARG...]
 *
 * Runs CMD (stdin, stdout and stderr as given).  With -p, polls the state
 * field of /proc/PID/task/TID/stat for every thread of PID in a tight loop
 * while CMD runs, and counts the time during which any thread was in state
 * 't' (ptrace stop) or 'T' (stopped).  A target that was already stopped
 * when the poll began is an error: its window cannot be measured.
 *
 * Prints one line on stderr, after CMD's own output:
 *   stopwatch: status S wall_ms W maxrss_kb R stop_ms T stops N longest_ms L
 * where S is CMD's exit status (128+signal when killed), R its peak RSS
 * (wait4's ru_maxrss), T the sum of the stop windows, N their number and L
 * the longest.  The resolution is one pass over the threads' stat files
 * (some microseconds a thread); each window is timed from the first pass
 * that saw a thread stopped to the first that saw none.  Exits with S.
 *
 * The poller takes a core while CMD runs: time CMD's CPU-bound work in runs
 * without -p.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 1024

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Open /proc/PID/task/TID/stat of every thread; returns how many. */
static int
open_threads(pid_t pid, int *fds)
{
	char path[300];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)) && n < MAX_THREADS) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, d->d_name);
		fds[n] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[n] >= 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* The state letter in a stat line: the field after the last ')' of comm. */
static char
thread_state(int fd)
{
	char buf[512];
	ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);
	char *p;

	if (len <= 0)
		return '?';
	buf[len] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static bool
any_stopped(const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		char s = thread_state(fds[i]);

		if (s == 't' || s == 'T')
			return true;
	}
	return false;
}

static int
parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 4194304)
		return -1;
	*out = (pid_t)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static int fds[MAX_THREADS];
	pid_t target = 0, child;
	int nfd = 0, status, argi = 1, stops = 0;
	double t0, stop_total = 0, longest = 0, since = -1;
	struct rusage ru;

	if (argc > 2 && !strcmp(argv[1], "-p")) {
		if (parse_pid(argv[2], &target)) {
			fprintf(stderr, "stopwatch: bad pid '%s'\n", argv[2]);
			return 2;
		}
		argi = 3;
	}
	if (argi < argc && !strcmp(argv[argi], "--"))
		argi++;
	if (argi >= argc) {
		fprintf(stderr, "usage: stopwatch [-p PID] -- CMD [ARG...]\n");
		return 2;
	}
	if (target) {
		nfd = open_threads(target, fds);
		if (nfd <= 0) {
			fprintf(stderr, "stopwatch: cannot read the threads of %d\n", (int)target);
			return 1;
		}
		if (any_stopped(fds, nfd)) {
			fprintf(stderr, "stopwatch: process %d is stopped already\n", (int)target);
			return 1;
		}
	}
	t0 = now_ms();
	child = fork();
	if (child < 0) {
		perror("stopwatch: fork");
		return 1;
	}
	if (child == 0) {
		execvp(argv[argi], argv + argi);
		perror("stopwatch: exec");
		_exit(127);
	}
	for (;;) {
		pid_t w = wait4(child, &status, target ? WNOHANG : 0, &ru);

		if (w == child)
			break;
		if (w < 0 && errno != EINTR) {
			perror("stopwatch: wait4");
			return 1;
		}
		if (!target)
			continue;
		bool stopped = any_stopped(fds, nfd);
		double t = now_ms();

		if (stopped && since < 0) {
			since = t;
		} else if (!stopped && since >= 0) {
			stop_total += t - since;
			longest = t - since > longest ? t - since : longest;
			stops++;
			since = -1;
		}
	}
	double wall = now_ms() - t0;

	if (since >= 0) { /* still stopped when CMD ended: count up to now */
		double t = now_ms();

		stop_total += t - since;
		longest = t - since > longest ? t - since : longest;
		stops++;
	}
	status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	/* CPU time (user + system) says what the job costs when the machine is
	 * too busy for its wall time to mean much; system time alone, what the
	 * kernel (and, on a VM, the hypervisor behind it) took to give it memory */
	fprintf(stderr, "stopwatch: status %d wall_ms %.3f maxrss_kb %ld stop_ms %.3f stops %d "
		"longest_ms %.3f cpu_ms %.3f sys_ms %.3f\n", status, wall, ru.ru_maxrss, stop_total,
		stops, longest,
		(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3,
		ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3);
	return status;
}
