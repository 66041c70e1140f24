/*
 * test_copy.c - copy_regions() on this very process: process_vm_readv
 * batches, the /proc/PID/mem path for mappings marked shared, and holes
 * where a page cannot be read; and all of it through /proc/PID/mem when
 * process_vm_readv is refused (a seccomp filter, as in a container).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "copy.h"
#include "image.h"
#include "maps.h"
#include "par.h"
#include "unit.h"

#define PG 4096

/* Three mappings, as maps would list them: anonymous A (read with
 * process_vm_readv), a private file mapping F of 3 pages over a 1-page file
 * (pages 2 and 3 are past its end: SIGBUS to touch, EFAULT to read: holes),
 * and anonymous B marked shared (read through /proc/self/mem). */
static void
copy_and_check(unsigned jobs)
{
	char path[] = "/tmp/heapscan-unit-copy.XXXXXX";
	unsigned char *a, *f, *b;
	struct maps m = { 0 };
	struct image img;
	int fd;

	a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = mkstemp(path);
	CHECK(a != MAP_FAILED && b != MAP_FAILED && fd >= 0);
	if (a == MAP_FAILED || b == MAP_FAILED || fd < 0)
		return;
	unlink(path);
	memset(a, 0xaa, 2 * PG);
	memset(b, 0xbb, 3 * PG);
	CHECK(ftruncate(fd, PG) == 0);
	f = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(f != MAP_FAILED);
	if (f == MAP_FAILED)
		return;
	memset(f, 0xff, PG);

	m.n = 3;
	m.v = calloc(3, sizeof(*m.v));
	m.v[0] = (struct map_entry){ .start = (uintptr_t)a, .end = (uintptr_t)a + 2 * PG };
	m.v[1] = (struct map_entry){ .start = (uintptr_t)f, .end = (uintptr_t)f + 3 * PG };
	m.v[2] = (struct map_entry){ .start = (uintptr_t)b, .end = (uintptr_t)b + 3 * PG,
				     .shared = true };
	for (int i = 0; i < 3; i++) {
		m.v[i].perms = MAP_PERM_R | MAP_PERM_W | MAP_PERM_P;
		m.v[i].path = strdup(i == 1 ? path : "");
	}
	/* maps come sorted */
	for (int i = 0; i < 3; i++)
		for (int k = i + 1; k < 3; k++)
			if (m.v[k].start < m.v[i].start) {
				struct map_entry t = m.v[i];

				m.v[i] = m.v[k];
				m.v[k] = t;
			}

	CHECK(copy_prepare(&img, copy_plan_bytes(&m)) == 0);
	if (jobs > 1) { /* cut in parts on threads, as a big copy is */
		par_min_for_tests = 1;
		par_set_jobs((int)jobs);
	}
	CHECK(copy_regions(getpid(), &m, &img) == 0);
	par_min_for_tests = 0;
	par_set_jobs(0);
	CHECK_EQ_U64(img.n, 3);
	for (size_t i = 0; i < img.n; i++) {
		const struct region *r = &img.r[i];
		const unsigned char *src = (const unsigned char *)(uintptr_t)r->start;

		if (src == f) {
			CHECK_EQ_U64(r->nholes, 1);
			if (r->nholes == 1) {
				CHECK_EQ_U64(r->holes[0].start, (uintptr_t)f + PG);
				CHECK_EQ_U64(r->holes[0].end, (uintptr_t)f + 3 * PG);
			}
			CHECK(memcmp(r->data, f, PG) == 0);
			CHECK(r->data[PG] == 0 && r->data[3 * PG - 1] == 0);
		} else {
			CHECK_EQ_U64(r->nholes, 0);
			CHECK(memcmp(r->data, src, r->end - r->start) == 0);
		}
	}
	image_free(&img);
	maps_free(&m);
	munmap(a, 2 * PG);
	munmap(b, 3 * PG);
	munmap(f, 3 * PG);
	close(fd);
}

UNIT_TEST(copy_regions_paths_and_holes)
{
	copy_and_check(1);
}

/* The same 8 pages in 2, 3 and 7 parts: parts cut regions (the file
 * mapping's hole in two of them), and the holes come out as one. */
UNIT_TEST(copy_regions_in_parts)
{
	copy_and_check(2);
	copy_and_check(3);
	copy_and_check(7);
}

/* process_vm_readv refused with EPERM, as a container's seccomp profile
 * may: every region read through /proc/PID/mem instead, the same bytes and
 * holes, in one part and in three.  In a child, which the filter stays
 * with. */
UNIT_TEST(copy_regions_without_process_vm_readv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	int status = 0, failed_before = unit_failed_checks;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		struct iovec l = { &status, sizeof(status) }, r = { &status, sizeof(status) };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(3);
		/* the filter holds: the fast way is refused */
		if (syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0) != -1 || errno != EPERM)
			_exit(4);
		copy_and_check(1);
		copy_and_check(3);
		_exit(unit_failed_checks != failed_before); /* this test's checks alone */
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) { /* as test_pager does without userfaultfd */
		fprintf(stderr, "  skipped: no seccomp filter can be set here\n");
		return;
	}
	CHECK_EQ_U64(WEXITSTATUS(status), 0);
}
