/*
 * gen.c - workload for benchmarks: THREADS threads allocate CHUNKS chunks in
 * all (mixed sizes 24..200 bytes, some freed), then the process writes a
 * ready file and waits.  Usage: gen READYFILE CHUNKS THREADS [TICK_US]
 *
 * TICK_US > 0: the main thread wakes every TICK_US microseconds, as a server
 * does, instead of sleeping for good.  (Under this machine's hypervisor the
 * first return to user mode of a process idle for a while costs about 11 ms
 * per 1.3 GiB; a process that runs does not pay it.)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long per_thread;

static void *
work(void *arg)
{
	unsigned long seed = (unsigned long)arg * 2654435761UL + 1;
	void **keep = malloc(sizeof(void *) * per_thread);

	for (long i = 0; i < per_thread; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		keep[i] = malloc(24 + (seed >> 33) % 177);
	}
	for (long i = 0; i < per_thread; i += 16)  /* some free chunks on every list */
		free(keep[i]);
	return keep;
}

int
main(int argc, char **argv)
{
	long chunks, nthreads, tick = 0;
	pthread_t t[64];
	FILE *f;
	char tmp[4096];

	if (argc == 5)
		tick = atol(argv[4]);
	if ((argc != 4 && argc != 5) || tick < 0 || (chunks = atol(argv[2])) <= 0 || (nthreads = atol(argv[3])) <= 0 ||
	    nthreads > 64)
		return 2;
	per_thread = chunks / nthreads;
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (long i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	fprintf(f, "pid %d\n", (int)getpid());
	fclose(f);
	rename(tmp, argv[1]);
	for (;;) {
		if (tick)
			usleep((useconds_t)tick);
		else
			pause();
	}
}
