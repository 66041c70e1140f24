/*
 * test_pager.c - windows read on demand (pager.h) from a file: every byte as
 * the file has it, wherever and in whatever order it is read, from two
 * threads at once; what the file does not hold reads as zeros; never more
 * than the budget in place; the budget shared with the tables charged
 * (xmalloc.h mem_charge): windows dropped at once to make room, down to a
 * floor, and the bytes still right.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pager.h"
#include "unit.h"
#include "xmalloc.h"

#define FILE_LEN ((size_t)3 << 20)
#define BUDGET ((uint64_t)64 << 10)

struct reader {
	const unsigned char *a, *b; /* the slices */
	const unsigned char *want;
	unsigned seed;
	long bad;
};

/* Bytes of the source at off: a pattern no window could fake. */
static unsigned char
pattern(uint64_t off)
{
	return (unsigned char)(off * 2654435761u >> 13);
}

static void *
read_random(void *arg)
{
	struct reader *r = arg;

	for (int i = 0; i < 20000; i++) {
		size_t k = (size_t)rand_r(&r->seed) % (FILE_LEN / 2);

		/* slice a: file bytes [4096, 4096 + 1.5 MiB); slice b: file
		 * bytes from 8192, 1 MiB of them, then zeros */
		if (k < FILE_LEN / 2 && r->a[k] != pattern(4096 + k))
			r->bad++;
		if (r->b[k] != (k < (1u << 20) ? pattern(8192 + k) : 0))
			r->bad++;
	}
	return NULL;
}

UNIT_TEST(pager_windows_from_a_file)
{
	char path[] = "/tmp/heapscan-unit-pager.XXXXXX";
	unsigned char *buf = malloc(FILE_LEN), *a, *b;
	struct reader r[2];
	struct pager_stats st;
	struct pager *pg;
	pthread_t th;
	char why[256];
	int fd = mkstemp(path);
	long bad = 0;

	CHECK(fd >= 0 && buf);
	if (fd < 0 || !buf)
		return;
	unlink(path);
	for (size_t i = 0; i < FILE_LEN; i++)
		buf[i] = pattern(i);
	CHECK(write(fd, buf, FILE_LEN) == (ssize_t)FILE_LEN);
	free(buf);
	if (pager_available(why, sizeof(why)) < 0) {
		fprintf(stderr, "  skipped: %s\n", why);
		close(fd);
		return;
	}
	pg = pager_new(BUDGET, 4 * FILE_LEN, fd, why, sizeof(why));
	CHECK(pg != NULL);
	if (!pg)
		return;
	a = pager_add(pg, FILE_LEN / 2, 4096, FILE_LEN / 2);
	b = pager_add(pg, FILE_LEN / 2 + 100, 8192, 1 << 20);
	CHECK(a && b);
	CHECK(pager_add(pg, 8 * FILE_LEN, 0, 0) == NULL); /* past what was reserved */
	CHECK(pager_start(pg, why, sizeof(why)) == 0);
	/* in order, then at random from two threads */
	for (size_t k = 0; k < FILE_LEN / 2; k++)
		bad += a[k] != pattern(4096 + k);
	for (int t = 0; t < 2; t++)
		r[t] = (struct reader){ a, b, NULL, 7u + (unsigned)t, 0 };
	CHECK(pthread_create(&th, NULL, read_random, &r[1]) == 0);
	read_random(&r[0]);
	pthread_join(th, NULL);
	CHECK_EQ_U64(bad + r[0].bad + r[1].bad, 0);
	pager_get_stats(pg, &st);
	CHECK(st.peak <= BUDGET);
	CHECK(st.faults > FILE_LEN / 2 / st.window); /* windows were dropped and read again */
	CHECK_EQ_U64(st.unread, 0);
	pager_free(pg);
}

/* Sum of the bytes of a[from, to) that are wrong. */
static long
check_range(const unsigned char *a, size_t from, size_t to)
{
	long bad = 0;

	for (size_t k = from; k < to; k++)
		bad += a[k] != pattern(4096 + k);
	return bad;
}

UNIT_TEST(pager_budget_shared_with_tables)
{
	char path[] = "/tmp/heapscan-unit-pager.XXXXXX";
	unsigned char *buf = malloc(FILE_LEN / 2), *a;
	struct pager_stats st;
	struct pager *pg;
	char why[256];
	int fd = mkstemp(path);
	long bad = 0;
	size_t before = mem_charged();

	CHECK(fd >= 0 && buf);
	if (fd < 0 || !buf)
		return;
	unlink(path);
	for (size_t i = 0; i < FILE_LEN / 2; i++)
		buf[i] = pattern(i);
	CHECK(write(fd, buf, FILE_LEN / 2) == (ssize_t)(FILE_LEN / 2));
	free(buf);
	if (pager_available(why, sizeof(why)) < 0) {
		fprintf(stderr, "  skipped: %s\n", why);
		close(fd);
		return;
	}
	pg = pager_new(BUDGET, FILE_LEN / 2, fd, why, sizeof(why));
	CHECK(pg != NULL);
	if (!pg)
		return;
	a = pager_add(pg, FILE_LEN / 2 - 4096, 4096, FILE_LEN / 2 - 4096);
	CHECK(a && pager_start(pg, why, sizeof(why)) == 0);
	/* 64K budget: windows of 4K, a floor of 8 of them */
	bad += check_range(a, 0, 256 << 10);
	pager_get_stats(pg, &st);
	CHECK_EQ_U64(st.window, 4096);
	CHECK_EQ_U64(st.floor, 32 << 10);
	CHECK_EQ_U64(st.held, BUDGET);
	CHECK_EQ_U64(st.dropped, 0);

	/* a table of 20K: the windows make room at once, before it is read */
	mem_charge(20 << 10);
	pager_get_stats(pg, &st);
	CHECK(st.held <= BUDGET - (20 << 10));
	CHECK_EQ_U64(st.dropped, 5);
	bad += check_range(a, 0, 512 << 10); /* dropped windows read again */
	pager_get_stats(pg, &st);
	CHECK(st.held <= BUDGET - (20 << 10));
	CHECK_EQ_U64(st.tables, 20 << 10);
	CHECK(st.total <= BUDGET);

	/* tables past budget - floor: the floor stays */
	mem_charge(40 << 10);
	bad += check_range(a, 512 << 10, 768 << 10);
	pager_get_stats(pg, &st);
	CHECK_EQ_U64(st.held, 32 << 10);
	CHECK_EQ_U64(st.tables, 60 << 10);
	CHECK_EQ_U64(st.total, (60 << 10) + (32 << 10));

	/* returned: the windows take the budget again */
	mem_uncharge(60 << 10);
	CHECK_EQ_U64(mem_charged(), before);
	bad += check_range(a, 0, FILE_LEN / 2 - 4096);
	pager_get_stats(pg, &st);
	CHECK_EQ_U64(st.held, BUDGET);
	CHECK_EQ_U64(bad, 0);
	pager_free(pg);
	mem_charge(1 << 20); /* nobody listens any more */
	mem_uncharge(1 << 20);
}
