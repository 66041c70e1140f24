/*
 * pager.c - windows of an image read on demand through userfaultfd (pager.h).
 *
 * Workers (two threads when heapscan may use two CPUs, else one) serve the
 * faults.  A fault names an address; its window is read whole from the
 * source and put in place, which also wakes whoever faulted.  Windows in
 * place are kept in a ring in the order they came; when one more would
 * pass the budget the oldest goes.  Two threads faulting on one window send
 * two messages: the second finds it in place (or being read: the move or
 * copy that puts it in place wakes it) and only wakes its thread.
 *
 * What makes it fast (bench/bounded.sh at 10M chunks, SIZE 441M: --vtables
 * 5.3 s -> 2.0-2.9 s, the whole copy taking 0.9-1.4 s):
 *
 * - Read-ahead.  The analyses read the heap in address order, in a few
 *   parts at once.  A fault at or just past where a reader last faulted
 *   (a stream, up to STREAMS of them) says it walks forward: the workers
 *   read the next windows (room/8/STREAMS, at most AHEAD_MAX) between
 *   faults, one at a time, faults first.  A read-ahead never drops the
 *   window a stream last faulted on: it is given up (held_back) until that
 *   stream faults again.  A reader at random (--leaks following pointers)
 *   gets none until it faults on the window after its last.
 * - No page made or freed, no second copy (UFFDIO_MOVE, Linux 6.8).  In the
 *   steady state each window read drops one: the dropped window's pages
 *   move to the worker's spare (a window's room after the regions,
 *   registered too), the source is read straight into them, and they move
 *   into place.  Without it (older kernels, HEAPSCAN_TEST_PAGER_NO_MOVE,
 *   a window of another length, pages the kernel will not move), the
 *   window is read into a bounce buffer and copied in (UFFDIO_COPY), the
 *   dropped one freed (MADV_DONTNEED): 0.44 s a GB against 0.15.
 * - Two readers of the source: the read (pread of the fork's /proc/PID/mem,
 *   which copies through a kernel page: process_vm_readv would unshare
 *   every page of the fork) is done with the lock let go, the window
 *   claimed (counted as held) beforehand.
 * - Windows of SIZE/16 up to 1 MiB: fewer faults, syscalls and wakes.
 *
 * The budget is shared with the analyses' big tables (xmalloc.h
 * mem_charge): a table charged makes the pager drop its oldest windows at
 * once, on the charging thread, before the table's memory is touched, so
 * that windows and tables together stay within the budget; a floor of a
 * few windows stays, for the readers to make progress.  Windows read ahead
 * count against the budget like any other.  Results do not change: a
 * window dropped is read again when it is read again.
 *
 * The source is read with pread: a page it refuses (EIO, EFAULT) is left
 * zero and counted, so the caller can say so.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pager.h"
#include "par.h"
#include "xmalloc.h"

/* UFFDIO_MOVE (Linux 6.8), for headers older than it */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1ULL << 16)
struct uffdio_move {
	__u64 dst, src, len, mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

#define PAGE 4096ULL
#define MAX_WINDOW ((uint64_t)1 << 20)
#define FLOOR_WINDOWS 8 /* held however much the tables take */
#define STREAMS 4       /* readers walking forward at once (the analyses' parts) */
#define AHEAD_MAX 64    /* windows read ahead of a stream at most */
#define WORKERS 2       /* threads reading windows, when there are CPUs for them */

struct slice {
	uint64_t pos, len;   /* in the mapping */
	uint64_t off, avail; /* in the source */
};

/* A reader walking forward: the last window it faulted on, and the windows
 * [next, end) to read ahead of it. */
struct stream {
	uint64_t last, next, end;
	uint64_t used; /* when it last faulted (pager.faults_seen), for reuse */
	bool live;
};

/* A thread of the pager's: its own buffers, so that two read at once. */
struct worker {
	struct pager *pg;
	pthread_t th;
	unsigned char *bounce;
	unsigned char *spare; /* a window's room in the mapping's tail, registered
			       * too: the pages of a window dropped, to be
			       * read into and moved in (UFFDIO_MOVE) */
	bool spare_full;     /* its pages are there (else it is empty) */
};

struct pager {
	int uffd, fd, stop[2];
	int nworkers, started;
	struct worker wk[WORKERS];
	unsigned char *base; /* the mapping, reserved bytes long */
	uint64_t reserved, used;
	uint64_t maplen;     /* reserved, in whole windows, and the spares */
	uint64_t budget, win;
	struct slice *s;
	size_t ns, scap;
	uint8_t *in_place;   /* per window: 1 in place, 2 being read (counted in
			      * held, not in the ring), 0 neither */
	uint64_t nwin;
	uint64_t *ring;      /* windows in place, oldest first */
	uint64_t rhead, rcount, rcap;
	uint64_t held;       /* bytes of windows in place or being read */
	uint64_t floor;      /* bytes of windows kept whatever is charged */
	uint64_t charged;    /* mem_charged() when room was last made */
	pthread_mutex_t lock; /* the ring, in_place, held, streams, st: the
			       * pager's threads place windows, a charging
			       * thread drops them */
	bool listening;      /* mem_on_charge(trim, this) */
	bool move;           /* UFFDIO_MOVE to be had */
	struct stream str[STREAMS];
	uint64_t faults_seen; /* fault messages served, a clock for the streams */
	struct pager_stats st;
};

static int
open_uffd(void)
{
	int fd;

	if (getenv("HEAPSCAN_TEST_NO_USERFAULTFD")) { /* test hook: a kernel without it */
		errno = ENOSYS;
		return -1;
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	/* unprivileged, with vm.unprivileged_userfaultfd 0: faults from user
	 * code only (5.11), which is all heapscan makes in the image */
	if (fd < 0)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd;
}

int
pager_available(char *why, size_t whylen)
{
	int fd = open_uffd();

	if (fd < 0) {
		snprintf(why, whylen, "reading in windows needs userfaultfd, which this system refuses "
			 "(%s); it needs root, or Linux 5.11 and later", strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

struct pager *
pager_new(uint64_t budget, uint64_t total, int fd, char *why, size_t whylen)
{
	struct pager *pg = xcalloc(1, sizeof(*pg));
	struct uffdio_api api = { .api = UFFD_API };
	uint64_t win = budget / 16 & ~(PAGE - 1);
	bool want_move = false;
	int probe;

	pthread_mutex_init(&pg->lock, NULL);
	pg->fd = fd;
	pg->uffd = -1;
	pg->stop[0] = pg->stop[1] = -1;
	pg->base = MAP_FAILED;
	pg->uffd = open_uffd();
	if (pg->uffd < 0) {
		snprintf(why, whylen, "reading in windows needs userfaultfd, which this system refuses "
			 "(%s); it needs root, or Linux 5.11 and later", strerror(errno));
		goto fail;
	}
	/* the features this kernel has, asked of a second descriptor: one asks
	 * UFFDIO_API once */
	probe = open_uffd();
	if (probe >= 0) {
		struct uffdio_api q = { .api = UFFD_API };

		if (ioctl(probe, UFFDIO_API, &q) == 0 && (q.features & UFFD_FEATURE_MOVE) &&
		    !getenv("HEAPSCAN_TEST_PAGER_NO_MOVE")) /* test hook: a kernel before 6.8 */
			want_move = true;
		api.features = want_move ? UFFD_FEATURE_MOVE : 0;
		close(probe);
	}
	if (ioctl(pg->uffd, UFFDIO_API, &api) < 0) {
		snprintf(why, whylen, "userfaultfd refused its API (%s)", strerror(errno));
		goto fail;
	}
	pg->win = win < PAGE ? PAGE : win > MAX_WINDOW ? MAX_WINDOW : win;
	pg->budget = budget;
	pg->floor = FLOOR_WINDOWS * pg->win < budget ? FLOOR_WINDOWS * pg->win : budget;
	/* the kernel answers with every feature it has: asked for, or not */
	pg->move = want_move && (api.features & UFFD_FEATURE_MOVE);
	pg->reserved = (total + PAGE - 1) & ~(PAGE - 1);
	if (!pg->reserved)
		pg->reserved = PAGE;
	/* and the workers' spares after the last window */
	pg->maplen = (pg->reserved + pg->win - 1) / pg->win * pg->win + WORKERS * pg->win;
	pg->base = mmap(NULL, pg->maplen, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pg->base == MAP_FAILED) {
		snprintf(why, whylen, "cannot reserve %llu bytes of address space (%s)",
			 (unsigned long long)pg->reserved, strerror(errno));
		goto fail;
	}
	/* windows are put in place 4 KiB pages at a time; a guard process
	 * forked later must not share them */
	madvise(pg->base, pg->maplen, MADV_NOHUGEPAGE);
	madvise(pg->base, pg->maplen, MADV_DONTFORK);
	pg->nworkers = par_jobs() > 1 ? WORKERS : 1;
	for (int i = 0; i < WORKERS; i++) {
		pg->wk[i].pg = pg;
		pg->wk[i].spare = pg->base + pg->maplen - (uint64_t)(WORKERS - i) * pg->win;
		pg->wk[i].bounce = i < pg->nworkers ? xmalloc(pg->win) : NULL;
	}
	pg->st.budget = budget;
	pg->st.window = pg->win;
	pg->st.floor = pg->floor;
	pg->st.can_move = pg->move;
	pg->st.workers = (uint64_t)pg->nworkers;
	return pg;
fail:
	pager_free(pg);
	return NULL;
}

unsigned char *
pager_add(struct pager *pg, uint64_t len, uint64_t off, uint64_t avail)
{
	uint64_t room = (len + PAGE - 1) & ~(PAGE - 1);
	unsigned char *p;

	if (pg->started || room > pg->reserved - pg->used)
		return NULL;
	pg->s = xgrow(pg->s, &pg->scap, pg->ns + 1, sizeof(*pg->s));
	pg->s[pg->ns++] = (struct slice){ pg->used, len, off, avail < len ? avail : len };
	p = pg->base + pg->used;
	pg->used += room;
	return p;
}

/* The first slice ending after pos. */
static size_t
slice_at(const struct pager *pg, uint64_t pos)
{
	size_t lo = 0, hi = pg->ns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pg->s[mid].pos + pg->s[mid].len <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* What a worker read, added to the stats under the lock. */
struct got {
	uint64_t read, unread;
};

/* len bytes of the source at off into buf; pages it refuses are zeros. */
static void
read_source(const struct pager *pg, unsigned char *buf, uint64_t off, uint64_t len,
	    struct got *got)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = pread(pg->fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* skip to the next page of the source */
			uint64_t next = ((off + done) & ~(PAGE - 1)) + PAGE - off;

			if (next > len)
				next = len;
			memset(buf + done, 0, next - done);
			got->unread += next - done;
			done = next;
			continue;
		}
		done += (uint64_t)n;
		got->read += (uint64_t)n;
	}
}

/* Window w's bytes into buf (the bounce buffer, the spare): each slice's part from the
 * source, gaps and what the source does not hold as zeros (only those are
 * cleared: the rest is written over). */
static uint64_t
fill(const struct pager *pg, uint64_t w, unsigned char *buf, struct got *got)
{
	uint64_t lo = w * pg->win, hi = lo + pg->win, at = lo;

	if (hi > pg->reserved)
		hi = pg->reserved;
	for (size_t i = slice_at(pg, lo); i < pg->ns && pg->s[i].pos < hi; i++) {
		const struct slice *s = &pg->s[i];
		uint64_t a = s->pos > lo ? s->pos : lo;
		uint64_t b = s->pos + s->avail < hi ? s->pos + s->avail : hi;

		if (a >= b)
			continue;
		if (at < a)
			memset(buf + (at - lo), 0, a - at);
		read_source(pg, buf + (a - lo), s->off + (a - s->pos), b - a, got);
		at = b;
	}
	if (at < hi)
		memset(buf + (at - lo), 0, hi - at);
	return hi - lo;
}

static uint64_t
window_len(const struct pager *pg, uint64_t w)
{
	uint64_t lo = w * pg->win;

	return lo + pg->win > pg->reserved ? pg->reserved - lo : pg->win;
}

/* UFFDIO_MOVE len bytes from src to dst (dst empty, in the mapping): the
 * bytes moved. */
static uint64_t
move(struct pager *pg, unsigned char *dst, unsigned char *src, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		struct uffdio_move m = { (uintptr_t)dst + done, (uintptr_t)src + done, len - done,
					 0, 0 };

		if (ioctl(pg->uffd, UFFDIO_MOVE, &m) == 0)
			return len;
		if (m.move > 0)
			done += (uint64_t)m.move;
		else if (errno != EAGAIN)
			break;
	}
	return done;
}

/* The oldest window dropped.  keep: its pages go to keep's spare (empty,
 * and the window whole) to be read into again, when they can; else they go
 * back to the system. */
static void
evict_oldest(struct pager *pg, struct worker *keep)
{
	uint64_t w = pg->ring[pg->rhead], lo = w * pg->win, len = window_len(pg, w);

	if (keep && len == pg->win && move(pg, keep->spare, pg->base + lo, len) == len) {
		keep->spare_full = true;
	} else {
		madvise(pg->base + lo, len, MADV_DONTNEED);
		if (keep) /* what moved of it, if any */
			madvise(keep->spare, pg->win, MADV_DONTNEED);
	}
	pg->in_place[w] = 0;
	pg->held -= len;
	pg->rhead = (pg->rhead + 1) % pg->rcap;
	pg->rcount--;
}

/* What the windows may hold now: the budget less the tables charged, not
 * below the floor.  The charge seen is kept: a table charged since is not
 * touched before trim has seen it too. */
static uint64_t
room_for_windows(struct pager *pg)
{
	uint64_t charged = mem_charged();

	pg->charged = charged;
	return pg->budget > charged && pg->budget - charged > pg->floor ? pg->budget - charged
									  : pg->floor;
}

static void
note_peaks(struct pager *pg)
{
	uint64_t charged = pg->charged;

	if (pg->held > pg->st.peak)
		pg->st.peak = pg->held;
	if (charged > pg->st.tables)
		pg->st.tables = charged;
	if (pg->held + charged > pg->st.total)
		pg->st.total = pg->held + charged;
}

/* A table was charged (mem_on_charge): drop the oldest windows until the
 * rest fits beside the tables. */
static void
trim(void *arg)
{
	struct pager *pg = arg;
	uint64_t room;

	pthread_mutex_lock(&pg->lock);
	room = room_for_windows(pg);
	while (pg->rcount && pg->held > room) {
		evict_oldest(pg, NULL);
		pg->st.dropped++;
	}
	note_peaks(pg);
	pthread_mutex_unlock(&pg->lock);
}

static void
wake(struct pager *pg, uint64_t w)
{
	/* the whole window: a thread may have faulted on any page of it */
	struct uffdio_range r = { (uintptr_t)pg->base + w * pg->win, window_len(pg, w) };

	(void)ioctl(pg->uffd, UFFDIO_WAKE, &r);
}

/* Does a stream's reader stand in window w (the last it faulted on)? */
static bool
protected(const struct pager *pg, uint64_t w)
{
	for (int i = 0; i < STREAMS; i++)
		if (pg->str[i].live && pg->str[i].last == w)
			return true;
	return false;
}

/* Can window w come in ahead of its reader without dropping a window a
 * stream stands in?  The oldest windows would make room for it. */
static bool
room_ahead(const struct pager *pg, uint64_t len, uint64_t room)
{
	uint64_t need = pg->held + len > room ? pg->held + len - room : 0, freed = 0;

	for (uint64_t i = 0; freed < need && i < pg->rcount; i++) {
		uint64_t v = pg->ring[(pg->rhead + i) % pg->rcap];

		if (protected(pg, v))
			return false;
		freed += window_len(pg, v);
	}
	return freed >= need;
}

/* Window w read and put in place by worker k, the oldest dropped to make
 * room.  Called with the lock held, which is let go for the read and the
 * move (the window counts as held meanwhile, and no one else reads it: a
 * fault on it waits for the move, which wakes it).  ahead: for a reader not
 * there yet, which may drop no window a stream stands in: false when it
 * would have to, and nothing is done. */
static bool
place(struct pager *pg, struct worker *k, uint64_t w, bool ahead)
{
	uint64_t len = window_len(pg, w), room = room_for_windows(pg), done = 0;
	unsigned char *at = pg->base + w * pg->win, *src = k->bounce;
	struct got got = { 0, 0 };
	bool whole = false;

	if (ahead && !room_ahead(pg, len, room))
		return false;
	/* the first window dropped lends its pages (UFFDIO_MOVE): read into
	 * them, moved in, no page made or freed, no second copy */
	while (pg->rcount && pg->held + len > room)
		evict_oldest(pg, pg->move && len == pg->win && !k->spare_full ? k : NULL);
	pg->in_place[w] = 2;
	pg->held += len;
	note_peaks(pg);
	pthread_mutex_unlock(&pg->lock);

	if (k->spare_full) {
		src = k->spare;
		fill(pg, w, src, &got);
		done = move(pg, at, src, len);
		whole = done == len;
	} else {
		fill(pg, w, src, &got);
	}
	/* copied in: from the bounce buffer, or what did not move of the
	 * spare */
	while (done < len) {
		struct uffdio_copy c = { .dst = (uintptr_t)at + done, .src = (uintptr_t)src + done,
					 .len = len - done };

		if (ioctl(pg->uffd, UFFDIO_COPY, &c) == 0) {
			done = len;
			break;
		}
		if (c.copy > 0)
			done += (uint64_t)c.copy;
		else if (errno == EEXIST) { /* cannot be: windows go whole */
			wake(pg, w);
			break;
		} else if (errno != EAGAIN) {
			break;
		}
	}
	if (src == k->spare && !whole) /* what stayed: the spare empty again */
		madvise(k->spare, pg->win, MADV_DONTNEED);
	k->spare_full = false;

	pthread_mutex_lock(&pg->lock);
	pg->in_place[w] = 1;
	pg->ring[(pg->rhead + pg->rcount) % pg->rcap] = w;
	pg->rcount++;
	pg->st.faults++;
	pg->st.moved += whole;
	pg->st.bytes_read += got.read;
	pg->st.unread += got.unread;
	return true;
}

/* How many windows to read ahead of a stream: a share of the room, so that
 * the streams' windows ahead together stay within half of it. */
static uint64_t
ahead_depth(struct pager *pg)
{
	uint64_t n = room_for_windows(pg) / pg->win / (2 * STREAMS);

	return n > AHEAD_MAX ? AHEAD_MAX : n;
}

/*
 * A fault on window w: which reader is it?  A stream whose reader faults at
 * or just past where it was (last < w <= end: in the windows being read
 * ahead of it, or the first after them) walks forward: the windows after w
 * are to be read ahead of it.  Any other fault starts a stream, in place of
 * the one that faulted longest ago, with nothing ahead: a reader at random
 * (--leaks following pointers) gets no read-ahead until it faults on the
 * window after its last.
 */
static void
follow(struct pager *pg, uint64_t w)
{
	struct stream *s = NULL, *old = &pg->str[0];

	pg->faults_seen++;
	for (int i = 0; i < STREAMS && !s; i++) {
		struct stream *t = &pg->str[i];
		uint64_t end = t->end > t->last + 1 ? t->end : t->last + 1;

		if (t->live && t->last <= w && w <= end)
			s = t;
		else if (!t->live || (old->live && t->used < old->used))
			old = t;
	}
	if (!s) {
		*old = (struct stream){ w, w + 1, w + 1, pg->faults_seen, true };
		return;
	}
	if (w > s->last) {
		uint64_t end = w + 1 + ahead_depth(pg);

		s->end = end < pg->nwin ? end : pg->nwin;
		if (s->next < w + 1)
			s->next = w + 1;
	}
	s->last = w;
	s->used = pg->faults_seen;
}

/* A fault: the window in place (read; or already there, when its thread
 * is woken; or being read, when the move will wake it). */
static void
serve(struct worker *k, uint64_t addr)
{
	struct pager *pg = k->pg;
	uint64_t w = (addr - (uintptr_t)pg->base) / pg->win;

	if (w >= pg->nwin)
		return;
	pthread_mutex_lock(&pg->lock);
	follow(pg, w);
	if (pg->in_place[w] == 1)
		wake(pg, w);
	else if (!pg->in_place[w] && place(pg, k, w, false))
		pg->st.waits++;
	pthread_mutex_unlock(&pg->lock);
}

/* The stream that faulted last among those with windows to read ahead (the
 * lock held). */
static struct stream *
stream_ahead(struct pager *pg)
{
	struct stream *best = NULL;

	for (int i = 0; i < STREAMS; i++) {
		struct stream *t = &pg->str[i];

		while (t->live && t->next < t->end && pg->in_place[t->next])
			t->next++;
		if (t->live && t->next < t->end && (!best || t->used > best->used))
			best = t;
	}
	return best;
}

static bool
ahead_due(struct pager *pg)
{
	bool due;

	pthread_mutex_lock(&pg->lock);
	due = stream_ahead(pg) != NULL;
	pthread_mutex_unlock(&pg->lock);
	return due;
}

/* One window read ahead of a stream, if one is due and the room allows. */
static void
read_ahead(struct worker *k)
{
	struct pager *pg = k->pg;
	struct stream *s;

	pthread_mutex_lock(&pg->lock);
	s = stream_ahead(pg);
	if (s) {
		uint64_t x = s->next++; /* claimed before the lock is let go */

		if (place(pg, k, x, true)) {
			pg->st.ahead++;
		} else {
			s->next = s->end = x; /* no room now: until its reader faults again */
			pg->st.held_back++;
		}
	}
	pthread_mutex_unlock(&pg->lock);
}

/* Faults first; between them, while none waits, windows ahead of the
 * streams, one at a time. */
static void *
pager_main(void *arg)
{
	struct worker *k = arg;
	struct pager *pg = k->pg;

	for (;;) {
		struct pollfd p[2] = { { pg->uffd, POLLIN, 0 }, { pg->stop[0], POLLIN, 0 } };
		struct uffd_msg msg;
		ssize_t n;
		int r = poll(p, 2, ahead_due(pg) ? 0 : -1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (r == 0) {
			read_ahead(k);
			continue;
		}
		/* the other worker may have taken it: EAGAIN */
		n = read(pg->uffd, &msg, sizeof(msg));
		if (n != (ssize_t)sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			serve(k, msg.arg.pagefault.address);
	}
	return NULL;
}

int
pager_start(struct pager *pg, char *why, size_t whylen)
{
	struct uffdio_register reg = {
		.range = { (uintptr_t)pg->base, pg->maplen },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	sigset_t all, old;
	int rc = 0;

	pg->nwin = (pg->reserved + pg->win - 1) / pg->win;
	pg->in_place = xcalloc(pg->nwin, 1);
	pg->rcap = pg->budget / pg->win + 2;
	pg->ring = xcalloc(pg->rcap, sizeof(*pg->ring));
	if (ioctl(pg->uffd, UFFDIO_REGISTER, &reg) < 0) {
		snprintf(why, whylen, "userfaultfd refused the mapping (%s)", strerror(errno));
		return -1;
	}
	if (pipe2(pg->stop, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* signals are the main thread's to take */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < pg->nworkers && !rc; i++) {
		rc = pthread_create(&pg->wk[i].th, NULL, pager_main, &pg->wk[i]);
		if (!rc)
			pg->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc && !pg->started) {
		snprintf(why, whylen, "cannot start the pager thread (%s)", strerror(rc));
		return -1;
	}
	mem_on_charge(trim, pg);
	pg->listening = true;
	return 0;
}

void
pager_get_stats(struct pager *pg, struct pager_stats *st)
{
	pthread_mutex_lock(&pg->lock);
	*st = pg->st;
	st->held = pg->held;
	pthread_mutex_unlock(&pg->lock);
}

void
pager_free(struct pager *pg)
{
	if (!pg)
		return;
	if (pg->listening)
		mem_on_charge(NULL, NULL);
	if (pg->started) {
		char c = 0;

		/* the pipe stays readable: every worker sees it */
		if (write(pg->stop[1], &c, 1) == 1)
			for (int i = 0; i < pg->started; i++)
				pthread_join(pg->wk[i].th, NULL);
	}
	if (pg->base != MAP_FAILED)
		munmap(pg->base, pg->maplen);
	if (pg->uffd >= 0)
		close(pg->uffd);
	if (pg->fd >= 0)
		close(pg->fd);
	if (pg->stop[0] >= 0) {
		close(pg->stop[0]);
		close(pg->stop[1]);
	}
	free(pg->s);
	free(pg->in_place);
	free(pg->ring);
	for (int i = 0; i < WORKERS; i++)
		free(pg->wk[i].bounce);
	pthread_mutex_destroy(&pg->lock);
	free(pg);
}
