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

#define POPULATE_SLICE ((size_t)256 << 20)

int
copy_prepare(struct image *img, uint64_t bytes)
{
	size_t len = with_slack(bytes);
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
	progress_phase("preparing", len);
	for (size_t at = 0; at < len; at += POPULATE_SLICE) {
		size_t n = len - at < POPULATE_SLICE ? len - at : POPULATE_SLICE;

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

/* Fallback reader for region r from offset off. */
static int
read_mem_file(pid_t pid, struct region *r, uint64_t off)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (off < r->end - r->start) {
		uint64_t want = r->end - r->start - off;
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
			if (hole_end > r->end)
				hole_end = r->end;
			memset(r->data + off, 0, hole_end - r->start - off);
			add_hole(r, r->start + off, hole_end);
			off = hole_end - r->start;
			continue;
		}
		off += (uint64_t)n;
	}
	close(fd);
	return 0;
}

/* Read regions [first, last) starting at byte off of region first with one
 * process_vm_readv call (at most BATCH_IOV of them; *want gets the bytes
 * asked for).  Returns bytes read or -errno. */
static ssize_t
readv_batch(pid_t pid, struct region *r, size_t first, size_t last, uint64_t off, uint64_t *want)
{
	struct iovec local[BATCH_IOV], remote[BATCH_IOV];
	size_t k = 0;
	ssize_t n;

	*want = 0;
	for (size_t i = first; i < last && k < BATCH_IOV; i++, k++) {
		uint64_t o = i == first ? off : 0;

		local[k].iov_base = r[i].data + o;
		local[k].iov_len = r[i].end - r[i].start - o;
		remote[k].iov_base = (void *)(uintptr_t)(r[i].start + o);
		remote[k].iov_len = local[k].iov_len;
		*want += local[k].iov_len;
	}
	n = process_vm_readv(pid, local, k, remote, k, 0);
	return n < 0 ? -errno : n;
}

/* Read every region of img; those with via_mem[i] set through /proc/PID/mem
 * (see maps_read_shared), the others with process_vm_readv. */
static int
read_regions(pid_t pid, struct image *img, const bool *via_mem)
{
	size_t i = 0, counted = 0;
	uint64_t off = 0, done = 0;

	while (i < img->n) {
		size_t last = i;
		uint64_t want;
		ssize_t n;
		int ret;

		for (; counted < i; counted++)
			done += img->r[counted].end - img->r[counted].start;
		progress_set(done);
		if (via_mem[i]) {
			ret = read_mem_file(pid, &img->r[i], off);
			if (ret)
				return ret;
			i++;
			off = 0;
			continue;
		}
		while (last < img->n && !via_mem[last])
			last++;
		n = readv_batch(pid, img->r, i, last, off, &want);
		if (n == -ESRCH)
			return -ESRCH;
		if (n == -EPERM || n == -ENOSYS) {
			for (; i < img->n; i++, off = 0) {
				ret = read_mem_file(pid, &img->r[i], off);
				if (ret)
					return ret;
			}
			return 0;
		}
		if (n < 0 && n != -EFAULT && n != -EIO)
			return (int)n;
		if (n < 0)
			n = 0;
		if ((uint64_t)n == want) {
			/* the whole batch */
			i += (size_t)((uint64_t)BATCH_IOV < last - i ? BATCH_IOV : last - i);
			off = 0;
			continue;
		}
		/* a short read: advance over what was read */
		while ((uint64_t)n >= img->r[i].end - img->r[i].start - off) {
			n -= (ssize_t)(img->r[i].end - img->r[i].start - off);
			i++;
			off = 0;
		}
		off += (uint64_t)n;
		/* Region i has an unreadable page somewhere after off; pread on
		 * /proc/PID/mem stops exactly at it, so let it find the holes. */
		ret = read_mem_file(pid, &img->r[i], off);
		if (ret)
			return ret;
		i++;
		off = 0;
	}
	return 0;
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
