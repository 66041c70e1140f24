/*
 * test_pager.c - windows read on demand (pager.h) from a file: every byte as
 * the file has it, wherever and in whatever order it is read, from two
 * threads at once; what the file does not hold reads as zeros; never more
 * than the budget in place; the budget shared with the tables charged
 * (xmalloc.h mem_charge): windows dropped at once to make room, down to a
 * floor, and the bytes still right.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
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

/* An unlinked file of len bytes of pattern(): its descriptor, or -1 when it
 * cannot be made (a failed check) or no pager can be had here (skipped). */
static int
pattern_file(size_t len)
{
	char path[] = "/tmp/heapscan-unit-pager.XXXXXX", why[256];
	unsigned char *buf = malloc(len);
	int fd = mkstemp(path);

	CHECK(fd >= 0 && buf);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	unlink(path);
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i);
	CHECK(write(fd, buf, len) == (ssize_t)len);
	free(buf);
	if (pager_available(why, sizeof(why)) < 0) {
		fprintf(stderr, "  skipped: %s\n", why);
		close(fd);
		return -1;
	}
	return fd;
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

/* Every byte right, within the budget, read in order and at random from two
 * threads; no_move: the windows copied in (UFFDIO_COPY), as on a kernel
 * before 6.8, else moved in (UFFDIO_MOVE) when the kernel can. */
static void
windows_from_a_file(bool no_move)
{
	unsigned char *a, *b;
	struct reader r[2];
	struct pager_stats st;
	struct pager *pg;
	pthread_t th;
	char why[256];
	int fd = pattern_file(FILE_LEN);
	long bad = 0;

	if (fd < 0)
		return;
	if (no_move)
		setenv("HEAPSCAN_TEST_PAGER_NO_MOVE", "1", 1);
	pg = pager_new(BUDGET, 4 * FILE_LEN, fd, why, sizeof(why));
	unsetenv("HEAPSCAN_TEST_PAGER_NO_MOVE");
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
	if (no_move)
		CHECK_EQ_U64(st.can_move + st.moved, 0);
	else /* nearly every window after the first 16 came in a dropped one's pages */
		CHECK(!st.can_move || st.moved > st.faults / 2);
	pager_free(pg);
}

UNIT_TEST(pager_windows_from_a_file)
{
	windows_from_a_file(false);
}

UNIT_TEST(pager_windows_from_a_file_copied_in)
{
	windows_from_a_file(true);
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
	unsigned char *a;
	struct pager_stats st;
	struct pager *pg;
	char why[256];
	int fd = pattern_file(FILE_LEN / 2);
	long bad = 0;
	size_t before = mem_charged();

	if (fd < 0)
		return;
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

/* Is window k of a (4 KiB windows) in place?  mincore: without reading it. */
static bool
resident(const unsigned char *a, size_t k)
{
	unsigned char v = 0;

	return mincore((void *)(a + k * 4096), 4096, &v) == 0 && (v & 1);
}

/* Wait (a bound that only catches hangs) until *field of the stats is want;
 * the stats as they are then in st. */
static bool
wait_stat(struct pager *pg, struct pager_stats *st, size_t field_off, uint64_t want)
{
	for (int i = 0; i < 30000; i++) {
		pager_get_stats(pg, st);
		if (*(const uint64_t *)((const char *)st + field_off) >= want)
			return true;
		usleep(1000);
	}
	return false;
}

#define WAIT_STAT(pg, st, f, want) wait_stat(pg, st, offsetof(struct pager_stats, f), want)

static unsigned char
touch(const unsigned char *a, size_t k)
{
	return *(volatile const unsigned char *)(a + k * 4096);
}

/* Window k read on a fault and n windows in all (k's and those it set
 * reading ahead) in place, in the order of the windows in place (the
 * pager's two threads may be reading two at once). */
static bool
fault_in(struct pager *pg, const unsigned char *a, size_t k, uint64_t n)
{
	struct pager_stats st;

	pager_get_stats(pg, &st);
	(void)touch(a, k);
	return WAIT_STAT(pg, &st, faults, st.faults + n);
}

/*
 * Read-ahead (64K budget: 4K windows, 16 in place; 2 read ahead of a
 * stream, 1 when tables leave only the floor of 8): a reader walking
 * forward gets the windows after its own before it asks; a reader that only
 * starts does not; a window a stream's reader stands in is never dropped
 * for a window read ahead (the read-ahead is given up instead); and a whole
 * pass in order reads every byte right within the budget, mostly ahead.
 */
UNIT_TEST(pager_reads_ahead_of_a_reader)
{
	unsigned char *a;
	struct pager_stats st;
	struct pager *pg;
	char why[256];
	int fd = pattern_file(FILE_LEN / 2);
	long bad = 0;
	size_t nw = (FILE_LEN / 2 - 4096) / 4096;

	if (fd < 0)
		return;
	CHECK_EQ_U64(mem_charged(), 0);
	pg = pager_new(BUDGET, FILE_LEN / 2, fd, why, sizeof(why));
	CHECK(pg != NULL);
	if (!pg)
		return;
	a = pager_add(pg, FILE_LEN / 2 - 4096, 4096, FILE_LEN / 2 - 4096);
	CHECK(a && pager_start(pg, why, sizeof(why)) == 0);

	/* a first fault: nothing ahead */
	bad += touch(a, 100) != pattern(4096 + 100 * 4096);
	CHECK(WAIT_STAT(pg, &st, faults, 1));
	usleep(20000); /* room for a wrong read-ahead to show */
	pager_get_stats(pg, &st);
	CHECK_EQ_U64(st.ahead, 0);
	CHECK(!resident(a, 101));
	/* the window after it: walking forward, the next two come ahead */
	bad += touch(a, 101) != pattern(4096 + 101 * 4096);
	CHECK(WAIT_STAT(pg, &st, ahead, 2));
	CHECK(resident(a, 102) && resident(a, 103) && !resident(a, 104));
	bad += touch(a, 102) != pattern(4096 + 102 * 4096);
	bad += touch(a, 103) != pattern(4096 + 103 * 4096);
	CHECK(WAIT_STAT(pg, &st, faults, 4));
	CHECK_EQ_U64(st.waits, 2); /* read ahead: no wait */
	CHECK_EQ_U64(st.faults, 4);

	/* a whole pass in order, every byte */
	bad += check_range(a, 0, nw * 4096);
	pager_get_stats(pg, &st);
	CHECK(st.peak <= BUDGET);
	CHECK(st.ahead > 0);
	CHECK_EQ_U64(st.ahead + st.waits, st.faults);

	/* tables leave the floor, 8 windows: 1 read ahead.  16 readers that
	 * only start (316, 318, ... 346) take the 4 streams (the pass's, with
	 * what it had ahead, goes) and then fill the windows; reader B stands
	 * in window 200; C walks 220, 221 (222 ahead); D 240, 241 (242
	 * ahead): the streams are the last 4 to fault (346, B, C, D), the
	 * windows in place 346, 200, 220, 221, 222, 240, 241, 242.  C's 223
	 * comes in on a fault and drops 346 (a fault may drop any) ... */
	mem_charge(BUDGET / 2);
	for (size_t k = 316; k < 348; k += 2)
		CHECK(fault_in(pg, a, k, 1));
	pager_get_stats(pg, &st);
	uint64_t ahead0 = st.ahead, held0 = st.held_back;

	CHECK(fault_in(pg, a, 200, 1));
	CHECK(fault_in(pg, a, 220, 1));
	CHECK(fault_in(pg, a, 221, 2));
	CHECK(WAIT_STAT(pg, &st, ahead, ahead0 + 1));
	CHECK(fault_in(pg, a, 240, 1));
	CHECK(fault_in(pg, a, 241, 2));
	CHECK(WAIT_STAT(pg, &st, ahead, ahead0 + 2));
	CHECK(resident(a, 200) && resident(a, 222) && resident(a, 242) && resident(a, 346));
	CHECK(!resident(a, 344));
	/* ... and its 224 ahead would drop 200, where B's reader stands:
	 * given up */
	(void)touch(a, 223);
	CHECK(WAIT_STAT(pg, &st, held_back, held0 + 1));
	CHECK(resident(a, 200) && resident(a, 223) && !resident(a, 224) && !resident(a, 346));
	CHECK_EQ_U64(st.ahead, ahead0 + 2);
	CHECK(st.held <= BUDGET / 2);
	/* B moves on to 201: 200 is anybody's again */
	bad += touch(a, 201) != pattern(4096 + 201 * 4096);
	bad += check_range(a, 200 * 4096, 260 * 4096);
	mem_uncharge(BUDGET / 2);
	CHECK_EQ_U64(bad, 0);
	pager_free(pg);
}
