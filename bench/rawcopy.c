/*
 * rawcopy.c - the physical limit of a stop window: copy the same mappings
 * heapscan copies (private, readable and writable) from a process stopped by
 * the caller, with process_vm_readv into a pre-faulted buffer.  Prints the
 * copy's milliseconds and bytes.  Usage: rawcopy PID [THREADS]
 *
 * With THREADS (default 1), the bytes are cut in page-aligned parts of 16
 * MiB, which that many threads take in turn until none is left, as
 * heapscan's copy does on its --jobs (copy.c).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#define MAXMAP 65536
#define MAXTHREADS 64

static struct iovec remote[MAXMAP];
static int nmaps, pid;
static char *buf;

#define PART_BYTES (16UL << 20)

struct part {
	unsigned long lo, hi; /* bytes of the maps laid end to end */
};

static unsigned long total;
static atomic_ulong next_part; /* the next part no thread has taken */

static void
copy_part(const struct part *p)
{
	unsigned long at = 0;

	for (int i = 0; i < nmaps; i++) {
		unsigned long s = at, e = at + remote[i].iov_len;

		at = e;
		if (e <= p->lo || s >= p->hi)
			continue;
		unsigned long from = s < p->lo ? p->lo : s, to = e > p->hi ? p->hi : e;
		struct iovec l = { buf + from, to - from };
		struct iovec r = { (char *)remote[i].iov_base + (from - s), to - from };

		if (process_vm_readv(pid, &l, 1, &r, 1, 0) < 0)
			perror("process_vm_readv");
	}
}

/* A thread: the next part nobody has taken, until none is left. */
static void *
copy_parts(void *arg)
{
	unsigned long k;

	(void)arg;
	while ((k = atomic_fetch_add(&next_part, 1)) * PART_BYTES < total) {
		unsigned long hi = (k + 1) * PART_BYTES;
		struct part p = { k * PART_BYTES, hi < total ? hi : total };

		copy_part(&p);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	static pthread_t th[MAXTHREADS];
	char path[64], line[4096];
	unsigned long s, e;
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	FILE *f;

	if (argc < 2 || argc > 3 || threads < 1 || threads > MAXTHREADS)
		return 2;
	pid = atoi(argv[1]);
	snprintf(path, sizeof(path), "/proc/%s/maps", argv[1]);
	f = fopen(path, "r");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f) && nmaps < MAXMAP) {
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3 || strncmp(perms, "rw-p", 4) ||
		    strstr(line, "[vvar") || strstr(line, "[vsyscall]"))
			continue;
		remote[nmaps].iov_base = (void *)s;
		remote[nmaps].iov_len = e - s;
		total += e - s;
		nmaps++;
	}
	fclose(f);
	/* the same buffer heapscan uses: transparent huge pages, faulted in */
	buf = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	madvise(buf, total, MADV_HUGEPAGE);
	madvise(buf, total, MADV_POPULATE_WRITE);
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int t = 1; t < threads; t++)
		if (pthread_create(&th[t], NULL, copy_parts, NULL))
			return 1;
	copy_parts(NULL);
	for (int t = 1; t < threads; t++)
		pthread_join(th[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f %lu\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6, total);
	return 0;
}
