/*
 * test_copy.c - copy_regions() on this very process: process_vm_readv
 * batches, the /proc/PID/mem path for mappings marked shared, and holes
 * where a page cannot be read.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
