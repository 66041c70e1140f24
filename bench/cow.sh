#!/usr/bin/env bash
# bench/cow.sh [RUNS] [THREADS] [CHUNKS...] - what --cow does to the stop
# window: for each heap size (default 1M and 10M chunks of bench/gen.c), the
# median stop window (pause_ms) of `heapscan --cow --json` and of the plain
# `heapscan --json` on the same process, idle (asleep in pause()) and awake
# (waking every ms), beside a plain fork()+_exit() of a process that built
# the same heap the same way (the floor --cow can reach).
# Not part of `make test`: times vary run to run; the ratios from one run count.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5} threads=${2:-4}
shift $(($# < 2 ? $# : 2))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
make -s heapscan
out=$(mktemp -d)
gen=
trap '[ -n "$gen" ] && kill $gen 2>/dev/null; rm -rf "$out"' EXIT
cc -O2 -pthread -o "$out/gen" bench/gen.c
# forktime: gen.c's heap, then RUNS x fork()+_exit(0) timed in the parent
# (fork returns in the parent once the child's copy of the page tables is
# made, which is what --cow's stop window holds); prints the median ms.
cat >"$out/forktime.c" <<'C'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static long per_thread;
static void *work(void *arg)
{
	unsigned long seed = (unsigned long)arg * 2654435761UL + 1;
	void **keep = malloc(sizeof(void *) * per_thread);
	for (long i = 0; i < per_thread; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		keep[i] = malloc(24 + (seed >> 33) % 177);
	}
	for (long i = 0; i < per_thread; i += 16)
		free(keep[i]);
	return keep;
}
static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}
int main(int argc, char **argv)
{
	long chunks = atol(argv[1]), nthreads = atol(argv[2]), runs = atol(argv[3]);
	pthread_t t[64];
	double ms[100];
	per_thread = chunks / nthreads;
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (long i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	for (long r = 0; r < runs && r < 100; r++) {
		struct timespec a, b;
		pid_t p;
		clock_gettime(CLOCK_MONOTONIC, &a);
		p = fork();
		if (p == 0)
			_exit(0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		waitpid(p, NULL, 0);
		ms[r] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
		usleep(100000);
	}
	qsort(ms, runs, sizeof(ms[0]), cmp);
	printf("%.3f\n", ms[(runs - 1) / 2]);
	return 0;
}
C
cc -O2 -pthread -o "$out/forktime" "$out/forktime.c"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pause_of() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["pause_ms"], s["copied_bytes"])' "$1"; }

printf '%-10s %-7s %10s %14s %14s %14s %10s %10s\n' chunks target copied_MiB plain_stop_ms cow_stop_ms \
	fork_ms cow/fork cow/plain
for chunks in "${sizes[@]}"; do
	fork=$("$out/forktime" "$chunks" "$threads" "$runs")
	# idle: the workload sleeps in pause(); awake: it wakes every ms, as a
	# server does (and as forktime's process runs).  Under this machine's
	# hypervisor the first return to user mode of an idle process costs a
	# page-table walk (about 11 ms per 1.3 GiB), which the forking thread pays.
	for tick in 0 1000; do
		rm -f "$out/ready" "$out/plain" "$out/cow"
		"$out/gen" "$out/ready" "$chunks" "$threads" "$tick" & gen=$!
		for _ in $(seq 2000); do [ -e "$out/ready" ] && break; sleep 0.05; done
		[ -e "$out/ready" ] || { echo "workload did not start" >&2; exit 1; }
		for i in $(seq "$runs"); do
			./heapscan --json "$gen" >"$out/p.json"
			pause_of "$out/p.json" >>"$out/plain"
			./heapscan --cow --json "$gen" >"$out/c.json" 2>"$out/c.err"
			[ -s "$out/c.err" ] && { cat "$out/c.err" >&2; exit 1; }
			pause_of "$out/c.json" >>"$out/cow"
		done
		kill "$gen"; wait "$gen" 2>/dev/null || true; gen=
		plain=$(cut -d' ' -f1 "$out/plain" | median)
		cow=$(cut -d' ' -f1 "$out/cow" | median)
		bytes=$(tail -1 "$out/plain" | cut -d' ' -f2)
		printf '%-10s %-7s %10d %14s %14s %14s %10s %10s\n' "$chunks" \
			"$([ $tick = 0 ] && echo idle || echo awake)" $((bytes / 1048576)) "$plain" "$cow" \
			"$fork" "$(python3 -c "print(round($cow/$fork, 2))")" \
			"$(python3 -c "print(round($cow/$plain, 2))")"
	done
done
