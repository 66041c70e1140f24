/*
 * rawcopy.c - the physical limit of a stop window: copy the same mappings
 * heapscan copies (private, readable and writable) from a process stopped by
 * the caller, with process_vm_readv into a pre-faulted buffer.  Prints the
 * copy's milliseconds and bytes.  Usage: rawcopy PID
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

int
main(int argc, char **argv)
{
	static struct iovec remote[65536];
	char path[64], line[4096];
	unsigned long s, e, total = 0;
	int n = 0;
	FILE *f;

	if (argc != 2)
		return 2;
	snprintf(path, sizeof(path), "/proc/%s/maps", argv[1]);
	f = fopen(path, "r");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f) && n < 65536) {
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3 || strncmp(perms, "rw-p", 4) ||
		    strstr(line, "[vvar") || strstr(line, "[vsyscall]"))
			continue;
		remote[n].iov_base = (void *)s;
		remote[n].iov_len = e - s;
		total += e - s;
		n++;
	}
	fclose(f);
	/* the same buffer heapscan uses: transparent huge pages, faulted in */
	char *buf = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(buf, total, MADV_HUGEPAGE);
	madvise(buf, total, MADV_POPULATE_WRITE);
	struct timespec a, b;
	unsigned long done = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i += 1024) {
		struct iovec local = { buf + done, 0 };
		int k = n - i < 1024 ? n - i : 1024;

		for (int j = 0; j < k; j++)
			local.iov_len += remote[i + j].iov_len;
		ssize_t r = process_vm_readv(atoi(argv[1]), &local, 1, &remote[i], k, 0);
		done += local.iov_len;
		if (r < 0)
			perror("process_vm_readv");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f %lu\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6, total);
	return 0;
}
