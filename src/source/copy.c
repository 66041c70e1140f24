/*
 * copy.c - reading the stopped target's memory (see copy.h).
 *
 * process_vm_readv stops at the first remote range it cannot read and says
 * how much it did read; the page it stopped at becomes a hole and the copy
 * goes on from the next page.  EPERM/ENOSYS (seccomp, old kernels) switch to
 * pread() on /proc/PID/mem for the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "progress.h"
#include "copy.h"
#include "pager.h"
#include "par.h"
#include "xmalloc.h"

#define PAGE 4096ULL
#define BATCH_IOV 1024

uint64_t
copy_plan_bytes(const struct maps *m)
{
	uint64_t total = 0;

	for (size_t i = 0; i < m->n; i++)
		if (map_is_copied(&m->v[i]))
			total += m->v[i].end - m->v[i].start;
	return total;
}

static size_t
with_slack(uint64_t bytes)
{
	uint64_t b = bytes + bytes / 16 + (4ULL << 20);

	return (size_t)((b + PAGE - 1) & ~(PAGE - 1));
}

/* The part of the buffer populated before the stop: the bytes planned and
 * a little room for what the process adds meanwhile.  The rest of the
 * slack faults in during the copy if the process grew that much (as a
 * buffer grown in the stop does): populated, it was 72 MB of the bench
 * heap's 1.2 GB zeroed for nothing on nearly every run. */
static size_t
populated_part(uint64_t bytes, size_t len)
{
	uint64_t b = bytes + bytes / 256 + (4ULL << 20);

	b = (b + PAGE - 1) & ~(PAGE - 1);
	return b < len ? (size_t)b : len;
}

#define POPULATE_SLICE ((size_t)256 << 20)

int
copy_prepare(struct image *img, uint64_t bytes)
{
	size_t len = with_slack(bytes), fill = populated_part(bytes, len);
	void *p;

	image_init(img);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Huge pages: every later pass over the copy (the walk, the type scan)
	 * reads it sequentially, and with 4 KiB pages a TLB miss per page
	 * dominated the walk, worse under a hypervisor's nested paging.
	 * Advice only: without THP it is the same buffer. */
	madvise(p, len, MADV_HUGEPAGE);
	/* --cow forks a guard process while this buffer is full of pages: it
	 * must neither pay for their page tables nor make every later write
	 * here a copy-on-write fault. */
	madvise(p, len, MADV_DONTFORK);
	/* in slices, so the progress line moves (each slice on two threads) */
	progress_phase("preparing", fill);
	for (size_t at = 0; at < fill; at += POPULATE_SLICE) {
		size_t n = fill - at < POPULATE_SLICE ? fill - at : POPULATE_SLICE;

		if (mem_populate((char *)p + at, n) < 0) {
			/* kernels before 5.14: touch every page */
			for (size_t off = 0; off < n; off += PAGE)
				((volatile char *)p)[at + off] = 0;
		}
		progress_set(at + n);
	}
	img->buf = p;
	img->buflen = len;
	return 0;
}

void
copy_trim(struct image *img)
{
	size_t used = 0;

	for (size_t i = 0; i < img->n; i++) {
		const unsigned char *d = img->r[i].data;

		if (d >= img->buf && d < img->buf + img->buflen) {
			size_t end = (size_t)(d - img->buf) + (size_t)(img->r[i].end - img->r[i].start);

			if (end > used)
				used = end;
		}
	}
	used = (used + PAGE - 1) & ~(size_t)(PAGE - 1);
	if (img->buf && used < img->buflen)
		madvise(img->buf + used, img->buflen - used, MADV_DONTNEED);
}

/* Grow the buffer inside the stop window: rare (the process grew between the
 * first look and the stop), and the new pages fault in during the copy. */
static int
ensure_buffer(struct image *img, uint64_t bytes)
{
	void *p;
	size_t len;

	if (bytes <= img->buflen)
		return 0;
	len = with_slack(bytes);
	p = img->buf ? mremap(img->buf, img->buflen, len, MREMAP_MAYMOVE)
		     : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	img->buf = p;
	img->buflen = len;
	return 0;
}

static void
add_hole(struct region *r, uint64_t start, uint64_t end)
{
	size_t cap = r->nholes;

	if (r->nholes && r->holes[r->nholes - 1].end == start) {
		r->holes[r->nholes - 1].end = end;
		return;
	}
	r->holes = xgrow(r->holes, &cap, r->nholes + 1, sizeof(*r->holes));
	r->holes[r->nholes].start = start;
	r->holes[r->nholes].end = end;
	r->nholes++;
}

/*
 * A big copy is cut in parts at page boundaries, read by threads (par.h):
 * two threads copy the 1.2 GB bench heap in ~100 ms where one takes 145-215
 * (process_vm_readv is a memcpy per page, and one core does not fill the
 * memory bus).  A part covers bytes [off, end) of regions [reg, last]; a
 * region cut by two parts is read by both, each its own bytes.  The parts
 * are small (COPY_PART_PAGES) and each thread takes the next one left until
 * none is: the same bytes cost more in some regions than in others (the
 * upper half of the bench heap took 114 ms, the lower 88, when each thread
 * had one half), and the target stays stopped until the slowest thread is
 * done.  The holes a part finds are kept with it and given to the regions
 * after the join, in address order (parts are in address order), so a
 * region's holes come out as one thread would have found them.
 */
#define COPY_SPLIT_PAGES ((64u << 20) / PAGE) /* less: one thread */
#define COPY_MAX_THREADS 16
#define COPY_PART_PAGES ((16u << 20) / PAGE)
#define COPY_MAX_PARTS 4096

struct part_hole {
	size_t reg;
	uint64_t start, end;
};

struct copy_part {
	size_t reg, last;   /* first and last region */
	uint64_t off, end;  /* offset in the first region; end offset in the last */
	struct part_hole *holes;
	size_t nholes, cap;
	int ret;
};

struct copy_job {
	pid_t pid;
	struct image *img;
	const bool *via_mem;
	struct copy_part *part;
	size_t nparts;
	atomic_size_t next; /* the next part no thread has taken */
	atomic_bool gone;   /* the target is gone: the parts left are not read */
};

static void
part_hole(struct copy_part *cp, size_t reg, uint64_t start, uint64_t end)
{
	if (cp->nholes && cp->holes[cp->nholes - 1].reg == reg &&
	    cp->holes[cp->nholes - 1].end == start) {
		cp->holes[cp->nholes - 1].end = end;
		return;
	}
	cp->holes = xgrow(cp->holes, &cp->cap, cp->nholes + 1, sizeof(*cp->holes));
	cp->holes[cp->nholes++] = (struct part_hole){ reg, start, end };
}

/* Where the part's bytes of region i end (an offset in the region). */
static uint64_t
part_end(const struct copy_part *cp, const struct region *r, size_t i)
{
	return i == cp->last ? cp->end : r[i].end - r[i].start;
}

/* Fallback reader for region i of the part from offset off. */
static int
read_mem_file(pid_t pid, struct image *img, struct copy_part *cp, size_t i, uint64_t off)
{
	struct region *r = &img->r[i];
	uint64_t stop = part_end(cp, img->r, i);
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (off < stop) {
		uint64_t want = stop - off;
		ssize_t n;

		if (want > (1 << 20))
			want = 1 << 20;
		n = pread(fd, r->data + off, want, (off_t)(r->start + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			uint64_t hole_end;

			if (n < 0 && errno != EIO && errno != EFAULT) {
				int e = errno;

				close(fd);
				return e == ENOENT ? -ESRCH : -e;
			}
			hole_end = ((r->start + off) & ~(PAGE - 1)) + PAGE;
			if (hole_end > r->start + stop)
				hole_end = r->start + stop;
			memset(r->data + off, 0, hole_end - r->start - off);
			part_hole(cp, i, r->start + off, hole_end);
			off = hole_end - r->start;
			continue;
		}
		off += (uint64_t)n;
	}
	close(fd);
	return 0;
}

/* Read the part's regions [first, last) starting at byte off of region
 * first with one process_vm_readv call (at most BATCH_IOV of them; *want
 * gets the bytes asked for).  Returns bytes read or -errno. */
static ssize_t
readv_batch(pid_t pid, const struct copy_part *cp, struct region *r, size_t first, size_t last,
	    uint64_t off, uint64_t *want)
{
	struct iovec local[BATCH_IOV], remote[BATCH_IOV];
	size_t k = 0;
	ssize_t n;

	*want = 0;
	for (size_t i = first; i < last && k < BATCH_IOV; i++, k++) {
		uint64_t o = i == first ? off : 0;

		local[k].iov_base = r[i].data + o;
		local[k].iov_len = part_end(cp, r, i) - o;
		remote[k].iov_base = (void *)(uintptr_t)(r[i].start + o);
		remote[k].iov_len = local[k].iov_len;
		*want += local[k].iov_len;
	}
	n = process_vm_readv(pid, local, k, remote, k, 0);
	return n < 0 ? -errno : n;
}

/* Read the part's bytes; regions with via_mem[i] set through /proc/PID/mem
 * (see maps_read_shared), the others with process_vm_readv. */
static int
read_part(pid_t pid, struct image *img, const bool *via_mem, struct copy_part *cp)
{
	size_t i = cp->reg, end = cp->last + 1;
	uint64_t off = cp->off;

	while (i < end) {
		size_t last = i;
		uint64_t want, before = 0;
		ssize_t n;
		int ret;

		if (off >= part_end(cp, img->r, i)) { /* an empty tail (the part ends at i's start) */
			i++;
			off = 0;
			continue;
		}
		if (via_mem[i]) {
			ret = read_mem_file(pid, img, cp, i, off);
			if (ret)
				return ret;
			progress_add(part_end(cp, img->r, i) - off);
			i++;
			off = 0;
			continue;
		}
		while (last < end && !via_mem[last])
			last++;
		n = readv_batch(pid, cp, img->r, i, last, off, &want);
		if (n == -ESRCH)
			return -ESRCH;
		if (n == -EPERM || n == -ENOSYS) {
			for (; i < end; i++, off = 0) {
				ret = read_mem_file(pid, img, cp, i, off);
				if (ret)
					return ret;
				progress_add(part_end(cp, img->r, i) - off);
			}
			return 0;
		}
		if (n < 0 && n != -EFAULT && n != -EIO)
			return (int)n;
		if (n < 0)
			n = 0;
		if ((uint64_t)n == want) {
			/* the whole batch */
			progress_add(want);
			i += (size_t)((uint64_t)BATCH_IOV < last - i ? BATCH_IOV : last - i);
			off = 0;
			continue;
		}
		/* a short read: advance over what was read */
		before = (uint64_t)n;
		while ((uint64_t)n >= part_end(cp, img->r, i) - off) {
			n -= (ssize_t)(part_end(cp, img->r, i) - off);
			i++;
			off = 0;
		}
		off += (uint64_t)n;
		/* Region i has an unreadable page somewhere after off; pread on
		 * /proc/PID/mem stops exactly at it, so let it find the holes. */
		ret = read_mem_file(pid, img, cp, i, off);
		if (ret)
			return ret;
		progress_add(before + part_end(cp, img->r, i) - off);
		i++;
		off = 0;
	}
	return 0;
}

/* A thread's loop: the next part nobody has taken, until none is left. */
static void
copy_part_main(void *arg, size_t begin, size_t end, unsigned thread)
{
	struct copy_job *j = arg;
	size_t k;

	(void)begin;
	(void)end;
	(void)thread; /* the parts say what to read */
	while ((k = atomic_fetch_add(&j->next, 1)) < j->nparts) {
		if (atomic_load(&j->gone)) {
			j->part[k].ret = -ESRCH;
			continue;
		}
		j->part[k].ret = read_part(j->pid, j->img, j->via_mem, &j->part[k]);
		if (j->part[k].ret == -ESRCH)
			atomic_store(&j->gone, true);
	}
}

/* The region holding byte b of the copy (regions lie in the buffer in
 * order, back to back), and b's offset in it. */
static size_t
region_of_byte(const struct image *img, uint64_t b, uint64_t *off)
{
	size_t lo = 0, hi = img->n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;

		if ((uint64_t)(img->r[mid].data - img->buf) <= b)
			lo = mid;
		else
			hi = mid - 1;
	}
	*off = b - (uint64_t)(img->r[lo].data - img->buf);
	return lo;
}

/* Read every region of img, in parts on threads when it is big. */
static int
read_regions(pid_t pid, struct image *img, const bool *via_mem)
{
	uint64_t pages = img->bytes / PAGE;
	unsigned threads = 1, parts = 1;
	size_t *cut, wcut[COPY_MAX_THREADS + 1];
	struct copy_job j = { .pid = pid, .img = img, .via_mem = via_mem };
	int ret = 0;

	if (!img->n || !img->bytes)
		return 0;
	if (pages >= COPY_SPLIT_PAGES || (par_min_for_tests && pages >= 2))
		threads = (unsigned)par_jobs();
	if (threads > COPY_MAX_THREADS)
		threads = COPY_MAX_THREADS;
	if (threads > 1) {
		/* parts of COPY_PART_PAGES, a few per thread at least (the
		 * tests' small copies too) */
		uint64_t want = pages / COPY_PART_PAGES;

		if (want < 4ULL * threads)
			want = 4ULL * threads;
		parts = want > COPY_MAX_PARTS ? COPY_MAX_PARTS : (unsigned)want;
	}
	if (parts > pages)
		parts = (unsigned)pages;
	if (!parts)
		parts = 1;
	if (threads > parts)
		threads = parts;
	cut = xmalloc((parts + 1) * sizeof(*cut));
	j.part = xcalloc(parts, sizeof(*j.part));
	j.nparts = parts;
	atomic_init(&j.next, 0);
	atomic_init(&j.gone, false);
	for (unsigned k = 0; k <= parts; k++)
		cut[k] = k == parts ? (size_t)pages : par_cut((size_t)pages, parts, k);
	for (unsigned k = 0; k < parts; k++) {
		struct copy_part *cp = &j.part[k];

		cp->reg = region_of_byte(img, (uint64_t)cut[k] * PAGE, &cp->off);
		if (k + 1 == parts) {
			cp->last = img->n - 1;
			cp->end = img->r[cp->last].end - img->r[cp->last].start;
		} else {
			cp->last = region_of_byte(img, (uint64_t)cut[k + 1] * PAGE, &cp->end);
		}
	}
	for (unsigned t = 0; t <= threads; t++)
		wcut[t] = t;
	par_run_cuts(wcut, threads, copy_part_main, &j);
	for (unsigned k = 0; k < parts; k++) {
		/* the first part's failure, but gone says more than any other */
		if (!ret || j.part[k].ret == -ESRCH)
			ret = j.part[k].ret ? j.part[k].ret : ret;
		for (size_t h = 0; h < j.part[k].nholes; h++)
			add_hole(&img->r[j.part[k].holes[h].reg], j.part[k].holes[h].start,
				 j.part[k].holes[h].end);
		free(j.part[k].holes);
	}
	free(j.part);
	free(cut);
	return ret;
}

int
copy_regions(pid_t pid, const struct maps *m, struct image *img)
{
	uint64_t total = copy_plan_bytes(m), pos = 0;
	size_t nreg = 0, cap = img->cap;
	bool *via_mem;
	int ret;

	ret = ensure_buffer(img, total);
	if (ret)
		return ret;
	for (size_t i = 0; i < img->n; i++) {
		free(img->r[i].name);
		free(img->r[i].holes);
	}
	img->n = 0;
	via_mem = xcalloc(m->n ? m->n : 1, sizeof(*via_mem));
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];
		struct region *r;

		if (!map_is_copied(e))
			continue;
		via_mem[nreg] = e->shared;
		img->r = xgrow(img->r, &cap, nreg + 1, sizeof(*img->r));
		img->cap = cap;
		r = &img->r[nreg++];
		memset(r, 0, sizeof(*r));
		r->start = e->start;
		r->end = e->end;
		r->perms = e->perms;
		r->name = xstrdup(e->path);
		r->data = img->buf + pos;
		pos += e->end - e->start;
	}
	img->n = nreg;
	img->bytes = total;
	progress_phase("copying", total);
	ret = read_regions(pid, img, via_mem);
	free(via_mem);
	return ret;
}

int
copy_paged(pid_t pid, const struct maps *m, struct image *img, uint64_t budget, char *why,
	   size_t whylen)
{
	uint64_t total = copy_plan_bytes(m);
	char path[64];
	struct pager *pg;
	size_t cap = 0;
	int fd;

	image_free(img);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	pg = pager_new(budget, total, fd, why, whylen);
	if (!pg)
		return -1;
	img->pager = pg;
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];
		uint64_t len = e->end - e->start;
		struct region *r;

		if (!map_is_copied(e))
			continue;
		img->r = xgrow(img->r, &cap, img->n + 1, sizeof(*img->r));
		r = &img->r[img->n++];
		memset(r, 0, sizeof(*r));
		r->start = e->start;
		r->end = e->end;
		r->perms = e->perms;
		r->name = xstrdup(e->path);
		r->data = pager_add(pg, len, e->start, len);
		img->bytes += len;
	}
	img->cap = cap;
	return pager_start(pg, why, whylen);
}

int
copy_readonly_modules(pid_t pid, const struct maps *m, struct image *ro)
{
	image_init(ro);
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];
		uint64_t len = e->end - e->start;
		struct iovec l, r;
		void *buf;
		ssize_t n;

		/* the vdso too: no file backs it, and backtraces need its
		 * unwind tables */
		bool vdso = !strcmp(e->path, "[vdso]");

		if (!vdso && (e->perms != (MAP_PERM_R | MAP_PERM_P) || e->path[0] != '/'))
			continue;
		if (len > (64u << 20))
			continue;
		buf = xmalloc(len);
		l.iov_base = buf;
		l.iov_len = len;
		r.iov_base = (void *)(uintptr_t)e->start;
		r.iov_len = len;
		n = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (n < 0 && errno == ESRCH) {
			free(buf);
			return -ESRCH;
		}
		if (n > 0)
			image_add_copy(ro, e->start, buf, (size_t)n, e->perms, e->path);
		free(buf);
	}
	return 0;
}
