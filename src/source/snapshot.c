/*
 * snapshot.c - writing and reading snapshot files (layout in snapshot.h).
 *
 * The writer builds each section in memory, compresses the big ones with
 * zstd, and streams header, sections and trailer to a temporary file that is
 * renamed into place only when everything was written and synced.
 *
 * The reader trusts nothing: it checks the magic, the version, the trailer's
 * checksum over the whole file and each section's own checksum before it
 * decodes a byte, bounds every count by the bytes that could hold it, and
 * recomputes every total (per kind, per arena, per type) from the chunks
 * rather than reading sums that could disagree with them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "cluster.h"
#include "error.h"
#include "memguard.h"
#include "seize.h"
#include "pyobj.h"
#include "snapshot.h"
#include "version.h"
#include "xmalloc.h"

#define TRAILER_MAGIC "HSEND\0\0\0"
#define SEC_HDR 32
#define MAX_SECTIONS 16
#define MAX_STRING (1u << 16)
#define TYPES_FREE 65536 /* a type table this long needs no proof */
#define CLASSES_FREE 65536 /* nor a class table */
#define MAX_RAW (8ULL << 30)
#define F_ZSTD 1u
/* zstd inflates at most 32768 times (an RLE block: 4 bytes for 128 KiB); a
 * section claiming more is a lie.  Nothing is allocated by the claim: the
 * reader decompresses through a window (see struct zin). */
#define MAX_RATIO 32768

/* ---- growable byte buffer -------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t n, cap;
	bool count; /* only count the bytes (n), keep none */
};

static void
put(struct buf *b, const void *d, size_t len)
{
	if (b->count) {
		b->n += len;
		return;
	}
	b->p = xgrow(b->p, &b->cap, b->n + len, 1);
	memcpy(b->p + b->n, d, len);
	b->n += len;
}

static void
put_u32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void
put_var(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	do {
		t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	put(b, t, n);
}

static void
put_str(struct buf *b, const char *s)
{
	size_t len = s ? strnlen(s, MAX_STRING - 1) : 0;

	put_var(b, len);
	put(b, s, len);
}

static void
put_double(struct buf *b, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(b, v);
}

/* ---- sections ----------------------------------------------------------------- */

static void
meta_section(struct buf *b, const struct scan *s, bool contents)
{
	put_str(b, HEAPSCAN_VERSION);
	put_var(b, (uint64_t)time(NULL));
	put_var(b, (uint64_t)s->pid);
	put_str(b, s->cmdline);
	put_str(b, s->libc.version);
	put_var(b, s->nthreads);
	put_double(b, s->pause_ms);
	put_double(b, s->pause_total_ms);
	put_double(b, s->prepare_ms);
	put_double(b, s->walk_ms);
	put_double(b, s->analyze_ms);
	put_var(b, (uint64_t)s->attempts);
	put_var(b, s->copied_bytes);
	put_var(b, s->holes);
	put_var(b, s->nbusy > 0 ? (uint64_t)s->nbusy : 0);
	for (int i = 0; i < s->nbusy && i < SCAN_MAX_BUSY; i++)
		put_var(b, s->busy[i]);
	put_var(b, (uint64_t)s->was_stopped | (uint64_t)s->tcache_unknown << 1 |
			   (uint64_t)s->foreign << 2 | (uint64_t)s->heap.mp_valid << 3 |
			   (uint64_t)contents << 4 | (uint64_t)(s->jemalloc != NULL) << 5);
	put_str(b, s->foreign_why);
	put_var(b, (uint64_t)s->heap.tcaches);
	put_var(b, (uint64_t)s->heap.mp_n_mmaps);
	put_var(b, s->heap.mp_mmapped_mem);
	put_var(b, s->heap.problems_dropped);
}

static void
arena_section(struct buf *b, const struct heap_model *m)
{
	put_var(b, m->narenas);
	for (size_t i = 0; i < m->narenas; i++) {
		const struct arena_info *a = &m->arenas[i];

		put_var(b, a->addr);
		put_var(b, (uint64_t)a->main | (uint64_t)a->busy << 1);
		put_var(b, (uint64_t)a->nheaps);
		put_var(b, a->system_mem);
		put_var(b, a->unaccounted);
	}
}

static void
problem_section(struct buf *b, const struct heap_model *m)
{
	put_var(b, m->nproblems);
	for (size_t i = 0; i < m->nproblems; i++) {
		put_var(b, m->problems[i].addr);
		put_str(b, m->problems[i].what);
	}
}

static void
type_section(struct buf *b, const struct type_table *t)
{
	put_var(b, t->ntypes);
	for (size_t i = 0; i < t->ntypes; i++) {
		put_var(b, t->types[i].kind);
		put_str(b, t->types[i].name);
		put_var(b, t->types[i].size);
	}
}

static void
class_section(struct buf *b, const struct type_table *t)
{
	put_var(b, t->nclasses);
	for (size_t i = 0; i < t->nclasses; i++) {
		put_str(b, t->classes[i].name);
		put_var(b, t->classes[i].instances);
		put_var(b, t->classes[i].sample);
	}
}

static bool
in_use(const struct hs_chunk *c)
{
	return c->kind == CK_INUSE || c->kind == CK_MMAPPED;
}

static uint32_t
chunk_hash(const struct image *img, const struct hs_chunk *c)
{
	size_t len;
	const unsigned char *p;

	if (!in_use(c) || !img->n || !(p = chunk_user_bytes(img, c, &len)))
		return 0;
	return (uint32_t)XXH3_64bits(p, len);
}

/* The big sections are made a range of chunks at a time (see
 * wr_stream_section). */
typedef void section_range_fn(struct buf *b, const struct scan *s, const struct type_table *t,
			      size_t from, size_t to);

static section_range_fn chunk_range, contents_range;

/* The mask a chunk record's hash field is stored under (format 2): the low
 * half of splitmix64's finalizer of the chunk's address.  Addresses differ
 * from chunk to chunk, so the stored field looks random to a compressor and
 * no record compresses below 4 bytes (the reader counts 3), which is what
 * lets the reader refuse a file claiming more chunks than its bytes can hold.
 * It guards no secret and is not checked: the bound is the count check. */
static uint32_t
chunk_mask(uint64_t addr)
{
	uint64_t z = addr + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)(z ^ (z >> 31));
}

/* CHNK: varint chunk count, then per chunk the gap since the last one's
 * end, size, kind | arena << 4, type + 1 (0: none), and a hash of its user
 * bytes (u32, 0 when not in use) xor chunk_mask(its address). */
static void
chunk_range(struct buf *b, const struct scan *s, const struct type_table *t, size_t from,
	    size_t to)
{
	const struct heap_model *m = &s->heap;
	uint64_t end = from ? m->chunks[from - 1].addr + m->chunks[from - 1].size : 0;
	/* jemalloc regions: the gap from the last one's end less 16 (they
	 * overlap by that), in units of 8 (regions of 8 bytes) */
	unsigned back = s->jemalloc ? 16 : 0, unit = s->jemalloc ? 8 : 16;

	if (!from)
		put_var(b, m->nchunks);
	for (size_t i = from; i < to; i++) {
		const struct hs_chunk *c = &m->chunks[i];
		uint32_t type = t->of_chunk && t->of_chunk[i] != UINT32_MAX ? t->of_chunk[i] + 1 : 0;

		put_var(b, (c->addr + back - (from || i ? end : 0)) / unit);
		put_var(b, c->size / unit);
		put_var(b, (uint64_t)c->kind | (uint64_t)c->arena << 4);
		put_var(b, type);
		/* counting: 4 bytes whatever */
		put_u32(b, b->count ? 0 : chunk_hash(&s->img, c) ^ chunk_mask(c->addr));
		end = c->addr + c->size;
	}
}

/* CONT: the user bytes of each chunk in use, in order. */
static void
contents_range(struct buf *b, const struct scan *s, const struct type_table *t, size_t from,
	       size_t to)
{
	const struct heap_model *m = &s->heap;

	(void)t;
	for (size_t i = from; i < to; i++) {
		const struct hs_chunk *c = &m->chunks[i];
		const unsigned char *p;
		size_t len;

		if (!in_use(c))
			continue;
		p = chunk_user_bytes(&s->img, c, &len);
		if (p) {
			put(b, p, len);
		} else { /* keep offsets predictable: zeros for unreadable chunks */
			static const uint8_t zero[4096];

			len = c->kind == CK_MMAPPED ? c->size - 16 : c->size - 8;
			for (size_t k = 0; k < len; k += sizeof(zero))
				put(b, zero, len - k < sizeof(zero) ? len - k : sizeof(zero));
		}
	}
}

/* ---- writing ---------------------------------------------------------------- */

struct writer {
	int fd;
	XXH64_state_t *h;
	const char *path;
	bool failed;
};

static void
wr(struct writer *w, const void *d, size_t len)
{
	const uint8_t *p = d;

	if (w->failed)
		return;
	XXH64_update(w->h, d, len);
	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror_msg("writing %s", w->path);
			w->failed = true;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* The header and payload of a section. */
static void
wr_payload(struct writer *w, const char tag[4], uint32_t flags, const void *payload,
	   uint64_t stored, uint64_t rawlen)
{
	uint8_t hdr[SEC_HDR];
	uint64_t check = XXH64(payload, stored, 0);

	memcpy(hdr, tag, 4);
	memcpy(hdr + 4, &flags, 4);
	memcpy(hdr + 8, &stored, 8);
	memcpy(hdr + 16, &rawlen, 8);
	memcpy(hdr + 24, &check, 8);
	wr(w, hdr, sizeof(hdr));
	wr(w, payload, stored);
}

static void
wr_section(struct writer *w, const char tag[4], struct buf *raw, bool compress)
{
	struct buf out = { 0 };
	uint32_t flags = 0;
	uint64_t stored, rawlen = raw->n;
	const void *payload = raw->p;

	if (compress && raw->n > 64) {
		size_t bound = ZSTD_compressBound(raw->n), n;

		out.p = xmalloc(bound);
		n = ZSTD_compress(out.p, bound, raw->p, raw->n, 3);
		if (!ZSTD_isError(n) && n < raw->n) {
			out.n = n;
			payload = out.p;
			flags = F_ZSTD;
		}
	}
	stored = flags ? out.n : raw->n;
	wr_payload(w, tag, flags, payload, stored, rawlen);
	free(out.p);
	free(raw->p);
	memset(raw, 0, sizeof(*raw));
}

#define STREAM_MIN ((size_t)1 << 20) /* raw bytes: smaller sections are made whole */
#define STREAM_STEP 4096             /* chunks made at a time */

/* A big section compressed as it is made, STREAM_STEP chunks at a time, so
 * that its raw form is never all in memory: for 10M chunks the chunk
 * records were 95 MiB beside their compressed copy, and CONT is the whole
 * heap.  A counting pass first gives the raw length, which zstd records in
 * the frame, where the reader checks it. */
static void
wr_stream_section(struct writer *w, const char tag[4], section_range_fn *make,
		  const struct scan *s, const struct type_table *t)
{
	size_t n = s->heap.nchunks, bound, zr = 0;
	struct buf count = { .count = true }, piece = { 0 };
	ZSTD_CCtx *cc;
	ZSTD_outBuffer out;

	make(&count, s, t, 0, n);
	if (count.n < STREAM_MIN) {
		make(&piece, s, t, 0, n);
		wr_section(w, tag, &piece, true);
		return;
	}
	bound = ZSTD_compressBound(count.n);
	cc = ZSTD_createCCtx();
	out = (ZSTD_outBuffer){ xmalloc(bound), bound, 0 }; /* pages fault in as written */
	if (!cc)
		zr = (size_t)-1; /* reported as out of memory below */
	else if (!ZSTD_isError(zr = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3)))
		zr = ZSTD_CCtx_setPledgedSrcSize(cc, count.n);
	for (size_t from = 0; from < n && !ZSTD_isError(zr); from += STREAM_STEP) {
		ZSTD_inBuffer in;

		piece.n = 0;
		make(&piece, s, t, from, n - from < STREAM_STEP ? n : from + STREAM_STEP);
		in = (ZSTD_inBuffer){ piece.p, piece.n, 0 };
		while (in.pos < in.size && !ZSTD_isError(zr))
			zr = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue);
	}
	while (!ZSTD_isError(zr)) {
		ZSTD_inBuffer none = { NULL, 0, 0 };

		zr = ZSTD_compressStream2(cc, &out, &none, ZSTD_e_end);
		if (zr == 0)
			break;
	}
	if (ZSTD_isError(zr)) {
		error_msg("cannot compress section %.4s: %s", tag,
			  cc ? ZSTD_getErrorName(zr) : "out of memory");
		w->failed = true;
	} else {
		wr_payload(w, tag, F_ZSTD, out.dst, out.pos, count.n);
	}
	ZSTD_freeCCtx(cc);
	free(out.dst);
	free(piece.p);
}

/* RACH: varint chunk count, root bytes, scanned bytes, then one byte of
 * enum reach_state per chunk (mostly "reachable": zstd makes it tiny). */
static void
reach_section(struct buf *b, const struct reach *r)
{
	put_var(b, r->nchunks);
	put_var(b, r->root_bytes);
	put_var(b, r->scanned_bytes);
	put(b, r->state, r->nchunks);
}

/* LOCA: how malloc's state was found, for the report: varint found_by
 * (enum libc_found_by), flags (1 version inferred, 2 tcache offset known),
 * main_arena, mp_, the tcache offset as a u64. */
static void
locate_section(struct buf *b, const struct scan *s)
{
	put_var(b, (uint64_t)s->libc.found_by);
	put_var(b, (uint64_t)s->libc.version_inferred | (uint64_t)s->libc.have_tpoff << 1);
	put_var(b, s->libc.main_arena);
	put_var(b, s->libc.mp);
	put_var(b, (uint64_t)s->libc.tcache_tpoff);
}

/* RETN: see snapshot.h. */
static void
put_type_sum(struct buf *b, const struct retain_type_sum *ts)
{
	put_var(b, ts->type == UINT32_MAX ? 0 : (uint64_t)ts->type + 1);
	put_var(b, ts->bytes);
	put_var(b, ts->chunks);
}

static void
retain_section(struct buf *b, const struct retain_summary *sum)
{
	size_t n = sum->n < SNAP_RETAIN_MAX ? sum->n : SNAP_RETAIN_MAX;

	put_var(b, sum->reachable_bytes);
	put_var(b, sum->reachable_chunks);
	put_var(b, sum->nodes);
	put_var(b, sum->edges);
	put_var(b, sum->total);
	put_var(b, n);
	for (size_t i = 0; i < n; i++) {
		const struct retain_entry *e = &sum->e[i];

		put_str(b, e->name);
		put_var(b, e->kind);
		put_var(b, e->has_address);
		put_var(b, e->address);
		put_var(b, e->type == UINT32_MAX ? 0 : (uint64_t)e->type + 1);
		put_var(b, e->bytes);
		put_var(b, e->chunks);
		put_var(b, e->ntop);
		for (size_t k = 0; k < e->ntop; k++)
			put_type_sum(b, &e->top[k]);
	}
	put_var(b, sum->nby);
	for (size_t k = 0; k < sum->nby; k++)
		put_type_sum(b, &sum->by_type[k]);
}

static void
write_all(struct writer *w, const struct scan *s, const struct type_table *t,
	  const struct snap_write_opts *o)
{
	struct buf b = { 0 };
	uint32_t version = SNAP_FORMAT_VERSION, nsec = 7 + o->contents + !!o->reach +
		 !!o->retain + !!t->py;
	uint64_t sum;
	uint8_t trailer[16];

	wr(w, SNAP_MAGIC, 8);
	wr(w, &version, 4);
	wr(w, &nsec, 4);
	meta_section(&b, s, o->contents);
	wr_section(w, "META", &b, false);
	arena_section(&b, &s->heap);
	wr_section(w, "ARNA", &b, false);
	problem_section(&b, &s->heap);
	wr_section(w, "PROB", &b, true);
	type_section(&b, t);
	wr_section(w, "TYPE", &b, true);
	class_section(&b, t);
	wr_section(w, "CLSS", &b, true);
	locate_section(&b, s);
	wr_section(w, "LOCA", &b, false);
	wr_stream_section(w, "CHNK", chunk_range, s, t);
	if (o->contents)
		wr_stream_section(w, "CONT", contents_range, s, t);
	if (o->reach) {
		reach_section(&b, o->reach);
		wr_section(w, "RACH", &b, true);
	}
	if (o->retain) {
		retain_section(&b, o->retain);
		wr_section(w, "RETN", &b, true);
	}
	if (t->py) { /* PYTH: a CPython target's objects by type (pyobj.h) */
		size_t n;
		unsigned char *p = py_summary_encode(t->py, &n);

		put(&b, p, n);
		free(p);
		wr_section(w, "PYTH", &b, true);
	}
	sum = XXH64_digest(w->h);
	memcpy(trailer, TRAILER_MAGIC, 8);
	memcpy(trailer + 8, &sum, 8);
	wr(w, trailer, sizeof(trailer)); /* hashing it too is harmless: the sum is taken */
}

/* The temporary file being written, for the signal handler to remove. */
static char sig_tmp[4096];

static void
unlink_tmp_on_signal(void)
{
	if (sig_tmp[0])
		unlink(sig_tmp);
}

/*
 * Temporary files are named .NAME.hs-NS-PID-START.XXXXXX: the writer's pid
 * namespace (the inode of /proc/self/ns/pid), pid and start time (clock
 * ticks after boot, /proc/PID/stat field 22).  A SIGKILL between creating
 * one and renaming it leaves it behind; the next --snapshot of the same
 * NAME removes it when it is provably a stale one of ours: a regular file of
 * ours, mode 0600, one link, starting with (a part of) the snapshot magic,
 * named for our pid namespace and for a process that no longer runs (no
 * such pid, or one started at another time).  Anything else stays.
 */
static bool
self_ids(unsigned long long *ns, unsigned long long *start)
{
	struct stat st;
	char buf[1024];
	const char *rp, *p;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0 || stat("/proc/self/ns/pid", &st) < 0)
		return false;
	buf[n] = '\0';
	*ns = (unsigned long long)st.st_ino;
	/* field 22, 20 fields after the ')' that ends field 2 */
	if (!(rp = strrchr(buf, ')')))
		return false;
	p = rp + 1;
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	return p && sscanf(p, " %llu", start) == 1;
}

/* Whether pid runs and was started at start. */
static bool
process_runs(long pid, unsigned long long start)
{
	char path[64], buf[1024];
	const char *rp, *p;
	unsigned long long st;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT; /* when unsure, it runs */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	if (!(rp = strrchr(buf, ')')))
		return true;
	p = rp + 1;
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	return !p || sscanf(p, " %llu", &st) != 1 || st == start;
}

static bool
stale_temp(int dirfd, const char *name, const char *base, unsigned long long ns)
{
	size_t blen = strlen(base);
	unsigned long long fns, start;
	long pid;
	int used = 0, fd;
	char head[8];
	struct stat st;
	ssize_t n;

	if (name[0] != '.' || strncmp(name + 1, base, blen) || name[1 + blen] != '.' ||
	    sscanf(name + 2 + blen, "hs-%llu-%ld-%llu.%n", &fns, &pid, &start, &used) != 3 ||
	    !used || strlen(name + 2 + blen + used) != 6 || fns != ns || pid <= 0 ||
	    process_runs(pid, start))
		return false;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		    (st.st_mode & 07777) == 0600 && st.st_nlink == 1 ?
		    read(fd, head, sizeof(head)) :
		    -1;
	close(fd);
	return n >= 0 && !memcmp(head, SNAP_MAGIC, (size_t)n);
}

static void
remove_stale_temps(const char *dir, const char *base)
{
	unsigned long long ns, start;
	DIR *d;
	struct dirent *e;

	if (!self_ids(&ns, &start) || !(d = opendir(dir)))
		return;
	while ((e = readdir(d)))
		if (stale_temp(dirfd(d), e->d_name, base, ns) && unlinkat(dirfd(d), e->d_name, 0) == 0)
			error_msg("removed %s/%s, left by a --snapshot that was killed", dir, e->d_name);
	closedir(d);
}

static int
open_temp(const char *path, char **tmp)
{
	char *dup = xstrdup(path), *dir = dirname(dup);
	char *dup2 = xstrdup(path), *base = basename(dup2);
	unsigned long long ns = 0, start = 0;
	int fd;

	remove_stale_temps(dir, base);
	self_ids(&ns, &start);
	*tmp = xasprintf("%s/.%s.hs-%llu-%ld-%llu.XXXXXX", dir, base, ns, (long)getpid(), start);
	free(dup);
	free(dup2);
	fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		perror_msg("cannot create a temporary file next to %s", path);
		free(*tmp);
		*tmp = NULL;
		return -1;
	}
	fchmod(fd, 0600); /* heap bytes hold secrets: whatever the umask */
	if (strlen(*tmp) < sizeof(sig_tmp)) {
		memcpy(sig_tmp, *tmp, strlen(*tmp) + 1);
		seize_set_signal_cleanup(unlink_tmp_on_signal);
	}
	return fd;
}

int
snap_write(const char *path, const struct scan *s, const struct type_table *t,
	   const struct snap_write_opts *o)
{
	struct writer w = { .path = path };
	struct stat st;
	char *tmp = NULL;

	if (!strcmp(path, "-")) {
		w.fd = STDOUT_FILENO;
		w.path = "standard output";
	} else {
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			error_msg("refusing to write the snapshot through the symlink %s", path);
			return -1;
		}
		w.fd = open_temp(path, &tmp);
		if (w.fd < 0)
			return -1;
	}
	w.h = XXH64_createState();
	XXH64_reset(w.h, 0);
	write_all(&w, s, t, o);
	XXH64_freeState(w.h);
	if (!tmp)
		return w.failed ? -1 : 0;
	if (!w.failed && fsync(w.fd) < 0) {
		perror_msg("writing %s", path);
		w.failed = true;
	}
	if (close(w.fd) < 0 && !w.failed) {
		perror_msg("writing %s", path);
		w.failed = true;
	}
	if (!w.failed && rename(tmp, path) < 0) {
		perror_msg("cannot rename %s to %s", tmp, path);
		w.failed = true;
	}
	if (w.failed)
		unlink(tmp);
	seize_set_signal_cleanup(NULL);
	sig_tmp[0] = '\0';
	free(tmp);
	return w.failed ? -1 : 0;
}

/* ---- reading ---------------------------------------------------------------- */

/* A cursor over a section's payload.  A compressed payload is never
 * inflated whole: it is decompressed through a window of WINDOW bytes as the
 * decoder asks for bytes (ensure), so a section costs the window whatever it
 * claims, and a bomb is refused at its first record that does not decode,
 * having cost only the bytes read so far. */
#define WINDOW ((size_t)1 << 20) /* > MAX_STRING: one string always fits */
#define ZSTD_WINDOW_LOG_MAX 23   /* heapscan writes windows of 2^21 at most (level 3) */

struct zin {
	ZSTD_DStream *ds;
	const uint8_t *src;
	size_t srclen, srcpos;
	uint64_t raw, given; /* claimed size; bytes decompressed so far */
	uint8_t *buf;
	bool done;
};

struct cur {
	const uint8_t *p, *end;
	bool bad;
	struct zin *z; /* NULL: p..end is the whole payload */
};

/* Decompress until `need` bytes are in the window or the frame ends. */
static void
refill(struct cur *c, size_t need)
{
	struct zin *z = c->z;
	size_t have = (size_t)(c->end - c->p);

	memmove(z->buf, c->p, have);
	while (have < need && !z->done && !c->bad) {
		ZSTD_outBuffer out = { z->buf, WINDOW, have };
		ZSTD_inBuffer in = { z->src, z->srclen, z->srcpos };
		size_t ret = ZSTD_decompressStream(z->ds, &out, &in);

		if (ZSTD_isError(ret) || out.pos - have > z->raw - z->given) {
			c->bad = true;
			break;
		}
		z->given += out.pos - have;
		if (ret == 0) /* the frame is complete: nothing may follow it */
			z->done = true;
		if (ret == 0 && (in.pos != z->srclen || z->given != z->raw))
			c->bad = true;
		else if (ret != 0 && in.pos == z->srclen && out.pos < WINDOW && out.pos == have)
			c->bad = true; /* input used up, frame unfinished: truncated */
		have = out.pos;
		z->srcpos = in.pos;
	}
	c->p = z->buf;
	c->end = z->buf + have;
}

/* Whether n more bytes can be read; marks the cursor bad when not. */
static bool
ensure(struct cur *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n && c->z && !c->bad)
		refill(c, n);
	if ((size_t)(c->end - c->p) >= n)
		return true;
	c->bad = true;
	return false;
}

/* Bytes not yet read, decompressed or not. */
static uint64_t
remaining(const struct cur *c)
{
	return (uint64_t)(c->end - c->p) + (c->z ? c->z->raw - c->z->given : 0);
}

/* Whether every byte was read (and, compressed, the frame ended cleanly). */
static bool
at_end(struct cur *c)
{
	if (c->p == c->end && c->z && !c->bad)
		refill(c, 1);
	return !c->bad && c->p == c->end;
}

static uint64_t
get_var(struct cur *c)
{
	uint64_t v = 0;

	if (c->z && (size_t)(c->end - c->p) < 10 && !c->bad)
		refill(c, 10); /* a varint at the very end is shorter: checked below */
	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t byte;

		if (c->p >= c->end) {
			c->bad = true;
			return 0;
		}
		byte = *c->p++;
		if (shift == 63 && byte > 1) {
			c->bad = true;
			return 0;
		}
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static uint64_t
get_u64(struct cur *c)
{
	uint64_t v = 0;

	if (!ensure(c, 8))
		return 0;
	memcpy(&v, c->p, 8);
	c->p += 8;
	return v;
}

static uint32_t
get_u32(struct cur *c)
{
	uint32_t v = 0;

	if (!ensure(c, 4))
		return 0;
	memcpy(&v, c->p, 4);
	c->p += 4;
	return v;
}

/* A duration in ms: finite, not negative, under a year; a file that says
 * otherwise is corrupt (the reports would print nan or 309 digits). */
#define MAX_MS (365.0 * 86400 * 1000)

static double
get_ms(struct cur *c)
{
	uint64_t v = get_u64(c);
	double d;

	memcpy(&d, &v, 8);
	if (!(d >= 0 && d <= MAX_MS)) { /* NaN fails both */
		c->bad = true;
		return 0;
	}
	return d;
}

static char *
get_str(struct cur *c)
{
	uint64_t len = get_var(c);
	char *s;

	if (c->bad || len > MAX_STRING || !ensure(c, (size_t)len)) {
		c->bad = true;
		return xstrdup("");
	}
	s = xmalloc(len + 1);
	memcpy(s, c->p, len);
	s[len] = '\0';
	c->p += len;
	return s;
}

/* A count of records of at least min_bytes each: bounded by what remains
 * and by limit, before anything is allocated for them. */
static uint64_t
get_count(struct cur *c, size_t min_bytes, uint64_t limit)
{
	uint64_t n = get_var(c);

	if (c->bad || n > limit || n > remaining(c) / min_bytes) {
		c->bad = true;
		return 0;
	}
	return n;
}

struct section {
	char tag[5];
	uint32_t flags;
	const uint8_t *payload;
	uint64_t stored, raw;
	struct cur c;
	struct zin z; /* when compressed and opened */
	bool opened;  /* c was set up (and may since be done with) */
};

struct reader {
	struct section sec[MAX_SECTIONS];
	int nsec;
	uint32_t version;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 2, 3)))
fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
small_section(const char *tag)
{
	static const char *const small[] = { "PROB", "TYPE", "CLSS", "RETN", "PYTH" };

	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++)
		if (!strcmp(tag, small[i]))
			return true;
	return false;
}

/* The stored (compressed) bytes of section tag's payload; 0 when absent. */
static uint64_t
section_stored(const struct reader *r, const char *tag)
{
	for (int i = 0; i < r->nsec; i++)
		if (!strcmp(r->sec[i].tag, tag))
			return r->sec[i].stored;
	return 0;
}

/* A section's header and checksum.  Its payload is decoded later, and only
 * when it is a section this reader knows (find_section). */
static int
load_section(struct reader *r, struct cur *file)
{
	struct section *s = &r->sec[r->nsec];
	uint64_t check;

	if ((size_t)(file->end - file->p) < SEC_HDR)
		return fail(r, "truncated: section %d header is incomplete", r->nsec + 1);
	memcpy(s->tag, file->p, 4);
	s->tag[4] = '\0';
	for (int i = 0; i < 4; i++) /* it goes into messages */
		if (s->tag[i] < 0x20 || s->tag[i] > 0x7e)
			s->tag[i] = '?';
	file->p += 4;
	s->flags = get_u32(file);
	s->stored = get_u64(file);
	s->raw = get_u64(file);
	check = get_u64(file);
	if (s->stored > (uint64_t)(file->end - file->p))
		return fail(r, "truncated: section %s says %llu bytes, %zu remain", s->tag,
			    (unsigned long long)s->stored, (size_t)(file->end - file->p));
	s->payload = file->p;
	file->p += s->stored;
	if (XXH64(s->payload, s->stored, 0) != check)
		return fail(r, "corrupt: section %s fails its checksum", s->tag);
	if (s->flags & ~F_ZSTD)
		return fail(r, "corrupt: section %s has unknown flags 0x%x", s->tag, s->flags);
	if (!(s->flags & F_ZSTD) && s->raw != s->stored)
		return fail(r, "corrupt: section %s sizes disagree", s->tag);
	/* zstd cannot inflate more than 32768 times (an RLE block: 4 bytes for
	 * 128 KiB) plus its frame header: a larger claim is a lie */
	if ((s->flags & F_ZSTD) &&
	    (s->raw > MAX_RAW || s->raw > s->stored * MAX_RATIO ||
	     ZSTD_getFrameContentSize(s->payload, s->stored) != s->raw))
		return fail(r, "corrupt: section %s claims %llu bytes uncompressed", s->tag,
			    (unsigned long long)s->raw);
	/* the tables of names: what a compressor makes of real ones is far
	 * from 32768 times; their strings are kept, so their bytes are bounded */
	if (small_section(s->tag) && s->raw > SNAP_SMALL_FREE + s->stored * SNAP_SMALL_RATIO)
		return fail(r, "corrupt: section %s claims %llu bytes uncompressed in %llu (at most "
			    "%u times, plus %u)", s->tag, (unsigned long long)s->raw,
			    (unsigned long long)s->stored, SNAP_SMALL_RATIO, SNAP_SMALL_FREE);
	r->nsec++;
	return 0;
}

/* A cursor over section tag's payload, or NULL when the file has none. */
static struct cur *
find_section(struct reader *r, const char *tag)
{
	struct section *s = NULL;

	for (int i = 0; i < r->nsec && !s; i++)
		if (!strcmp(r->sec[i].tag, tag))
			s = &r->sec[i];
	if (!s || s->opened)
		return s ? &s->c : NULL;
	s->opened = true;
	s->c = (struct cur){ s->payload, s->payload + s->stored, false, NULL };
	if (s->flags & F_ZSTD) {
		s->z = (struct zin){ .ds = ZSTD_createDStream(), .src = s->payload,
				     .srclen = s->stored, .raw = s->raw, .buf = xmalloc(WINDOW) };
		if (!s->z.ds ||
		    ZSTD_isError(ZSTD_DCtx_setParameter(s->z.ds, ZSTD_d_windowLogMax,
							 ZSTD_WINDOW_LOG_MAX)))
			error_msg_and_die(EXIT_FAIL, "out of memory"); /* like xmalloc */
		s->c = (struct cur){ s->z.buf, s->z.buf, false, &s->z };
	}
	return &s->c;
}

static void
sections_free(struct reader *r)
{
	for (int i = 0; i < r->nsec; i++) {
		ZSTD_freeDStream(r->sec[i].z.ds);
		free(r->sec[i].z.buf);
		r->sec[i].z.ds = NULL;
		r->sec[i].z.buf = NULL;
	}
}

/* A section decoded: its window and zstd context go now, so that no more
 * than two (TYPE and CLSS) are held at once, ~18 MiB at most. */
static void
section_done(struct reader *r, const char *tag)
{
	for (int i = 0; i < r->nsec; i++)
		if (!strcmp(r->sec[i].tag, tag) && r->sec[i].z.ds) {
			ZSTD_freeDStream(r->sec[i].z.ds);
			free(r->sec[i].z.buf);
			r->sec[i].z.ds = NULL;
			r->sec[i].z.buf = NULL;
			r->sec[i].c = (struct cur){ NULL, NULL, true, NULL }; /* read no more */
		}
}

static int
read_header(struct reader *r, const uint8_t *buf, size_t len, struct cur *file, uint32_t *version)
{
	uint32_t nsec;
	uint64_t sum;

	if (len == 0)
		return fail(r, "empty file, not a heapscan snapshot");
	if (len < 8 || memcmp(buf, SNAP_MAGIC, 8))
		return fail(r, "not a heapscan snapshot (no HEAPSCN magic)");
	if (len < 16)
		return fail(r, "truncated: the header is incomplete");
	memcpy(version, buf + 8, 4);
	memcpy(&nsec, buf + 12, 4);
	if (*version > SNAP_FORMAT_VERSION)
		return fail(r, "snapshot format version %u is newer than this heapscan reads (%u)",
			    *version, SNAP_FORMAT_VERSION);
	if (*version == 0)
		return fail(r, "corrupt: snapshot format version 0");
	if (len < 32 || memcmp(buf + len - 16, TRAILER_MAGIC, 8))
		return fail(r, "truncated: the file does not end with the snapshot trailer");
	memcpy(&sum, buf + len - 8, 8);
	if (XXH64(buf, len - 16, 0) != sum)
		return fail(r, "corrupt: the file's checksum does not match its contents");
	if (nsec > MAX_SECTIONS)
		return fail(r, "corrupt: %u sections", nsec);
	*file = (struct cur){ buf + 16, buf + len - 16, false, NULL };
	for (uint32_t i = 0; i < nsec; i++)
		if (load_section(r, file) < 0)
			return -1;
	if (file->p != file->end)
		return fail(r, "corrupt: %zu stray bytes after the sections",
			    (size_t)(file->end - file->p));
	return 0;
}

static int
decode_meta(struct reader *r, struct cur *c, struct scan *s, struct snap_meta *m)
{
	char *v = get_str(c);
	uint64_t nbusy, flags, pid;

	snprintf(m->heapscan_version, sizeof(m->heapscan_version), "%s", v);
	free(v);
	m->time = (int64_t)get_var(c);
	pid = get_var(c);
	s->pid = pid <= 4194304 ? (pid_t)pid : 0;
	if (pid > 4194304)
		c->bad = true;
	free(s->cmdline);
	s->cmdline = get_str(c);
	v = get_str(c);
	snprintf(s->libc.version, sizeof(s->libc.version), "%s", v);
	free(v);
	s->nthreads = get_var(c);
	s->pause_ms = get_ms(c);
	s->pause_total_ms = get_ms(c);
	s->prepare_ms = get_ms(c);
	s->walk_ms = get_ms(c);
	s->analyze_ms = get_ms(c);
	s->attempts = (int)get_var(c);
	s->copied_bytes = get_var(c);
	s->holes = get_var(c);
	nbusy = get_var(c);
	if (nbusy > SCAN_MAX_BUSY)
		return fail(r, "corrupt: %llu busy arenas", (unsigned long long)nbusy);
	s->nbusy = (int)nbusy;
	for (uint64_t i = 0; i < nbusy; i++)
		s->busy[i] = get_var(c);
	flags = get_var(c);
	s->was_stopped = flags & 1;
	s->tcache_unknown = flags & 2;
	s->foreign = flags & 4;
	s->heap.mp_valid = flags & 8;
	m->has_contents = flags & 16;
	m->regions = flags & 32;
	if (m->regions && !s->jemalloc)
		s->jemalloc = xstrdup(""); /* the walk was jemalloc's; no module here */
	s->heap.pad = m->regions ? 16 : 0; /* sizes shown: the size class */
	v = get_str(c);
	snprintf(s->foreign_why, sizeof(s->foreign_why), "%s", v);
	free(v);
	s->heap.tcaches = (int)get_var(c);
	s->heap.mp_n_mmaps = (int64_t)get_var(c);
	s->heap.mp_mmapped_mem = get_var(c);
	s->heap.problems_dropped = get_var(c);
	if (c->bad || s->nthreads > (1u << 22) || s->attempts < 0)
		return fail(r, "corrupt: section META does not decode");
	return 0;
}

static int
decode_arenas(struct reader *r, struct cur *c, struct heap_model *h)
{
	uint64_t n = get_count(c, 5, CHUNK_ARENA_NONE);

	h->arenas = xcalloc(n ? n : 1, sizeof(*h->arenas));
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct arena_info *a = &h->arenas[i];
		uint64_t f;

		a->addr = get_var(c);
		f = get_var(c);
		a->main = f & 1;
		a->busy = f & 2;
		a->nheaps = (int)(get_var(c) & 0x7fffffff);
		a->system_mem = get_var(c);
		a->unaccounted = get_var(c);
		h->narenas = i + 1;
	}
	return c->bad ? fail(r, "corrupt: section ARNA does not decode") : 0;
}

static int
decode_problems(struct reader *r, struct cur *c, struct heap_model *h)
{
	uint64_t n = get_count(c, 2, 1000);

	h->problems = xcalloc(n ? n : 1, sizeof(*h->problems));
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		char *what;

		h->problems[i].addr = get_var(c);
		what = get_str(c);
		snprintf(h->problems[i].what, sizeof(h->problems[i].what), "%s", what);
		free(what);
		h->nproblems = i + 1;
	}
	return c->bad ? fail(r, "corrupt: section PROB does not decode") : 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* How many distinct types the chunks use: every type of a table heapscan
 * writes has a chunk, so a table may not be longer.  Counted by sorting a
 * copy only when the table is long enough to matter. */
static uint64_t
types_used(const uint32_t *of_chunk, size_t n, uint64_t claimed)
{
	uint32_t *v;
	size_t k = 0, distinct = 0;

	if (claimed <= TYPES_FREE)
		return claimed;
	v = xmalloc((n ? n : 1) * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (of_chunk[i] != UINT32_MAX)
			v[k++] = of_chunk[i];
	qsort(v, k, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < k; i++)
		distinct += !i || v[i] != v[i - 1];
	free(v);
	return distinct;
}

/* TYPE and CLSS, after CHNK: the type table is no longer than the types the
 * chunks use, the class table no longer than one class per 16 bytes of
 * chunks in use (each class has an instance, a vptr in a live chunk). */
static int
decode_types(struct reader *r, struct cur *tc, struct cur *cc, const struct heap_model *h,
	     struct type_table *t)
{
	uint64_t n = get_count(tc, 3, UINT32_MAX - 1), live = 0;

	if (!tc->bad && n > types_used(t->of_chunk, h->nchunks, n))
		return fail(r, "corrupt: section TYPE lists %llu types, more than the chunks use",
			    (unsigned long long)n);
	/* format 1 bounds the chunks by a fixed budget, not by its bytes: its
	 * types are bounded by their own bytes too */
	if (!tc->bad && r->version < 2 && n > TYPES_FREE + section_stored(r, "TYPE"))
		return fail(r, "snapshot format version 1 (an older heapscan's) lists %llu types in "
			    "%llu bytes, more than this heapscan reads from that version; take the "
			    "snapshot again", (unsigned long long)n,
			    (unsigned long long)section_stored(r, "TYPE"));
	for (size_t i = 0; i < h->nchunks; i++)
		if (h->chunks[i].kind == CK_INUSE || h->chunks[i].kind == CK_MMAPPED)
			live += h->chunks[i].size;

	t->types = xcalloc(n ? n : 1, sizeof(*t->types));
	for (uint64_t i = 0; i < n && !tc->bad; i++) {
		struct type_entry *e = &t->types[i];
		uint64_t kind = get_var(tc);

		e->kind = kind <= TK_SIZE ? (enum type_kind)kind : TK_SIZE;
		e->name = get_str(tc);
		e->size = get_var(tc);
		t->ntypes = i + 1;
		if (kind > TK_SIZE)
			tc->bad = true;
	}
	if (tc->bad)
		return fail(r, "corrupt: section TYPE does not decode");
	n = get_count(cc, 3, live / 16);
	/* a class's entry holds the address of an instance, which compresses
	 * to a byte or more: past CLASSES_FREE, one class per stored byte */
	if (!cc->bad && n > CLASSES_FREE + section_stored(r, "CLSS"))
		return fail(r, "corrupt: section CLSS lists %llu classes in %llu bytes",
			    (unsigned long long)n, (unsigned long long)section_stored(r, "CLSS"));
	t->classes = xcalloc(n ? n : 1, sizeof(*t->classes));
	for (uint64_t i = 0; i < n && !cc->bad; i++) {
		t->classes[i].name = get_str(cc);
		t->classes[i].instances = get_var(cc);
		t->classes[i].sample = get_var(cc);
		t->nclasses = i + 1;
	}
	if (cc->bad || !at_end(tc) || !at_end(cc))
		return fail(r, "corrupt: section %s does not decode", cc->bad ? "CLSS" : "TYPE");
	for (size_t i = 0; i < h->nchunks; i++)
		if (t->of_chunk[i] != UINT32_MAX && t->of_chunk[i] >= t->ntypes)
			return fail(r, "corrupt: chunk %zu has type %u of %zu", i, t->of_chunk[i],
				    t->ntypes);
	return 0;
}

static int
decode_chunks(struct reader *r, struct cur *c, struct heap_model *h, struct type_table *t,
	      struct snap_meta *m)
{
	uint64_t n = get_var(c), end = 0, stored = section_stored(r, "CHNK");
	size_t cap_t = 0, cap_h = 0;
	uint64_t back = m->regions ? 16 : 0, unit = m->regions ? 8 : 16;
	bool masked = r->version >= 2;

	/* before anything is allocated: a record of format 2 takes 4 stored
	 * bytes or more (its masked hash does not compress; counted as 3);
	 * format 1 records compress to almost nothing, so they get a fixed
	 * budget instead */
	if (!c->bad && n > stored / SNAP_CHUNK_MIN_BYTES) {
		if (masked)
			return fail(r, "corrupt: section CHNK says %llu chunks in %llu bytes (a chunk "
				    "takes %d bytes or more)", (unsigned long long)n,
				    (unsigned long long)stored, SNAP_CHUNK_MIN_BYTES);
		if (n > SNAP_V1_CHUNKS)
			return fail(r, "snapshot format version 1 (an older heapscan's) with %llu chunks "
				    "in %llu bytes: more than this heapscan reads from that version (%u, "
				    "or one per %d bytes); take the snapshot again",
				    (unsigned long long)n, (unsigned long long)stored, SNAP_V1_CHUNKS,
				    SNAP_CHUNK_MIN_BYTES);
	}
	if (c->bad || n > (1ULL << 36) || n > remaining(c) / 8)
		return fail(r, "corrupt: section CHNK does not decode");

	/* the arrays grow with the records that decode, not with the count the
	 * file claims: a bomb costs what it holds before its first bad record */
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct hs_chunk *k;
		uint64_t gap = get_var(c), size = get_var(c), ka = get_var(c), type = get_var(c);
		uint32_t hash = get_u32(c);

		if (c->bad || gap > (UINT64_MAX - end) / unit || size == 0 || size >= (1ULL << 44) ||
		    (ka & 15) >= CK__N || (ka >> 4) > CHUNK_ARENA_NONE ||
		    ((ka >> 4) != CHUNK_ARENA_NONE && (ka >> 4) >= h->narenas) ||
		    type > UINT32_MAX - 1 || end + gap * unit > UINT64_MAX - size * unit ||
		    end + gap * unit < back)
			return fail(r, "corrupt: chunk %llu of section CHNK", (unsigned long long)i);
		if (i == h->cap) {
			h->chunks = xgrow(h->chunks, &h->cap, i + 1, sizeof(*h->chunks));
			t->of_chunk = xgrow(t->of_chunk, &cap_t, i + 1, sizeof(*t->of_chunk));
			m->chunk_hash = xgrow(m->chunk_hash, &cap_h, i + 1, sizeof(*m->chunk_hash));
		}
		k = &h->chunks[i];
		k->addr = end + gap * unit - back;
		k->size = size * unit;
		k->kind = ka & 15;
		k->arena = ka >> 4;
		end = k->addr + k->size;
		/* in-use chunks have a type, free ones none; the type's index is
		 * checked against the table once TYPE is read */
		if ((k->kind == CK_INUSE || k->kind == CK_MMAPPED) != (type != 0))
			return fail(r, "corrupt: chunk %llu's type does not fit its kind",
				    (unsigned long long)i);
		t->of_chunk[i] = type ? (uint32_t)(type - 1) : UINT32_MAX;
		m->chunk_hash[i] = masked ? hash ^ chunk_mask(k->addr) : hash;
		h->nchunks = i + 1;
	}
	if (!h->chunks) { /* no chunks: the callers still expect arrays */
		h->chunks = xgrow(NULL, &h->cap, 1, sizeof(*h->chunks));
		t->of_chunk = xgrow(NULL, &cap_t, 1, sizeof(*t->of_chunk));
		m->chunk_hash = xgrow(NULL, &cap_h, 1, sizeof(*m->chunk_hash));
	}
	if (c->bad || !at_end(c))
		return fail(r, "corrupt: section CHNK does not decode");
	return 0;
}

/* Optional: a file without RACH (written before reachability, or by
 * a scan that did not mark) just has no leak data. */
static int
decode_reach(struct reader *r, struct cur *c, const struct heap_model *h, struct snap_meta *m)
{
	uint64_t n = get_count(c, 1, 1ULL << 36);

	m->root_bytes = get_var(c);
	m->scanned_bytes = get_var(c);
	if (c->bad || n != h->nchunks || remaining(c) != n)
		return fail(r, "corrupt: section RACH does not match the chunks");
	m->reach_state = xmalloc(n ? n : 1);
	for (uint64_t i = 0; i < n;) { /* a window at a time */
		size_t piece;

		if (!ensure(c, 1))
			return fail(r, "corrupt: section RACH does not decode");
		piece = (size_t)(c->end - c->p) < n - i ? (size_t)(c->end - c->p) : (size_t)(n - i);
		memcpy(m->reach_state + i, c->p, piece);
		c->p += piece;
		i += piece;
	}
	if (!at_end(c))
		return fail(r, "corrupt: section RACH does not decode");
	for (uint64_t i = 0; i < n; i++) {
		const struct hs_chunk *k = &h->chunks[i];
		bool live = k->kind == CK_INUSE || k->kind == CK_MMAPPED;

		if (m->reach_state[i] >= RS__N || live != (m->reach_state[i] != RS_FREE))
			return fail(r, "corrupt: chunk %llu's reachability does not fit its kind",
				    (unsigned long long)i);
	}
	m->has_reach = true;
	return 0;
}

/* Optional: older snapshots do not say how malloc's state was found. */
static int
decode_locate(struct reader *r, struct cur *c, struct scan *s)
{
	uint64_t by = get_var(c), flags = get_var(c);

	s->libc.main_arena = get_var(c);
	s->libc.mp = get_var(c);
	s->libc.tcache_tpoff = (int64_t)get_var(c);
	if (c->bad || c->p != c->end || by > FOUND_MEMORY || flags > 3)
		return fail(r, "corrupt: section LOCA does not decode");
	s->libc.found_by = (enum libc_found_by)by;
	s->libc.version_inferred = flags & 1;
	s->libc.have_tpoff = flags & 2;
	return 0;
}

/* A type + 1 as stored: 0 is none; anything past the table is corrupt. */
static uint32_t
get_type(struct cur *c, const struct type_table *t)
{
	uint64_t v = get_var(c);

	if (v > t->ntypes) {
		c->bad = true;
		return UINT32_MAX;
	}
	return v ? (uint32_t)(v - 1) : UINT32_MAX;
}

static void
get_type_sum(struct cur *c, const struct type_table *t, struct retain_type_sum *ts)
{
	ts->type = get_type(c, t);
	ts->bytes = get_var(c);
	ts->chunks = get_var(c);
}

/* Optional: a file without RETN was taken without --retained. */
static int
decode_retain(struct reader *r, struct cur *c, const struct type_table *t, struct snap_meta *m)
{
	struct retain_summary *sum = &m->retain;
	uint64_t n;

	memset(sum, 0, sizeof(*sum));
	sum->reachable_bytes = get_var(c);
	sum->reachable_chunks = get_var(c);
	sum->nodes = get_var(c);
	sum->edges = get_var(c);
	sum->total = get_var(c);
	n = get_count(c, 9, SNAP_RETAIN_MAX);
	sum->e = xcalloc(n ? n : 1, sizeof(*sum->e));
	m->has_retain = true; /* from here on, snap_meta_free frees what was read */
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		struct retain_entry *e = &sum->e[sum->n++];
		uint64_t kind, has;

		e->name = get_str(c);
		kind = get_var(c);
		has = get_var(c);
		e->address = get_var(c);
		e->type = get_type(c, t);
		e->bytes = get_var(c);
		e->chunks = get_var(c);
		e->ntop = (size_t)get_count(c, 3, RETAIN_TOP_TYPES);
		if (kind >= RK__N || has > 1)
			c->bad = true;
		e->kind = (enum retain_kind)(kind < RK__N ? kind : 0);
		e->has_address = has == 1;
		for (size_t k = 0; k < e->ntop && !c->bad; k++)
			get_type_sum(c, t, &e->top[k]);
	}
	if (!c->bad) {
		n = get_count(c, 3, (uint64_t)t->ntypes + 1);
		sum->by_type = xcalloc(n ? n : 1, sizeof(*sum->by_type));
		for (uint64_t k = 0; k < n && !c->bad; k++)
			get_type_sum(c, t, &sum->by_type[sum->nby++]);
	}
	if (c->bad || c->p != c->end || sum->n > sum->total)
		return fail(r, "corrupt: section RETN does not decode");
	return 0;
}

/* Totals are recomputed, never read: a file cannot make them disagree. */
static void
recount(struct heap_model *h, struct type_table *t)
{
	heap_model_tally(h);
	for (size_t i = 0; i < t->ntypes; i++)
		t->types[i].count = t->types[i].bytes = t->types[i].sample = 0;
	for (size_t i = 0; i < h->nchunks; i++) {
		struct type_entry *e;

		if (t->of_chunk[i] == UINT32_MAX)
			continue;
		e = &t->types[t->of_chunk[i]];
		if (!e->count)
			e->sample = h->chunks[i].addr;
		e->count++;
		e->bytes += chunk_shown_size(h, &h->chunks[i]);
	}
}

/* PYTH is decoded by pyobj.c from one buffer: the whole payload, which its
 * claimed size bounds (at most PYTH_MAX; a summary is a few KiB per hundred
 * classes). */
#define PYTH_MAX ((uint64_t)16 << 20)

static int
decode_python(struct reader *r, struct cur *c, struct type_table *t)
{
	uint64_t raw = remaining(c), got = 0;
	unsigned char *buf;
	int ret;

	if (raw > PYTH_MAX)
		return fail(r, "corrupt: section PYTH claims %llu bytes", (unsigned long long)raw);
	buf = xmalloc(raw ? raw : 1);
	while (got < raw && ensure(c, 1)) {
		size_t n = (size_t)(c->end - c->p);

		if (n > raw - got)
			n = (size_t)(raw - got);
		memcpy(buf + got, c->p, n);
		c->p += n;
		got += n;
	}
	t->py = xcalloc(1, sizeof(*t->py));
	/* each class names a sample object, a byte or more compressed: past
	 * CLASSES_FREE, one class per stored byte */
	ret = got == raw && at_end(c) ?
		      py_summary_decode(buf, raw, t->py, CLASSES_FREE + section_stored(r, "PYTH")) :
		      -1;
	free(buf);
	if (ret < 0) {
		free(t->py);
		t->py = NULL;
		return fail(r, "corrupt: section PYTH does not decode");
	}
	return 0;
}

static int
decode_all(struct reader *r, struct scan *s, struct type_table *t, struct snap_meta *m)
{
	static const char *const need[] = { "META", "ARNA", "PROB", "TYPE", "CLSS", "CHNK" };
	struct cur *c[6];

	for (int i = 0; i < 6; i++)
		if (!(c[i] = find_section(r, need[i])))
			return fail(r, "corrupt: no %s section", need[i]);
	if (decode_meta(r, c[0], s, m) < 0 || decode_arenas(r, c[1], &s->heap) < 0)
		return -1;
	if (decode_problems(r, c[2], &s->heap) < 0)
		return -1;
	section_done(r, "PROB");
	if (decode_chunks(r, c[5], &s->heap, t, m) < 0)
		return -1;
	section_done(r, "CHNK");
	if (decode_types(r, c[3], c[4], &s->heap, t) < 0)
		return -1;
	section_done(r, "TYPE");
	section_done(r, "CLSS");
	if (find_section(r, "RACH") && decode_reach(r, find_section(r, "RACH"), &s->heap, m) < 0)
		return -1;
	section_done(r, "RACH");
	if (find_section(r, "LOCA") && decode_locate(r, find_section(r, "LOCA"), s) < 0)
		return -1;
	if (find_section(r, "RETN") && decode_retain(r, find_section(r, "RETN"), t, m) < 0)
		return -1;
	section_done(r, "RETN");
	if ((c[0] = find_section(r, "PYTH")) && decode_python(r, c[0], t) < 0)
		return -1;
	recount(&s->heap, t);
	return 0;
}

int
snap_read_mem(const void *buf, size_t len, struct scan *s, struct type_table *t,
	      struct snap_meta *m, char *err, size_t errlen)
{
	struct reader r = { .err = err, .errlen = errlen };
	struct cur file;
	int ret;

	memset(s, 0, sizeof(*s));
	memset(t, 0, sizeof(*t));
	memset(m, 0, sizeof(*m));
	s->cmdline = xstrdup("");
	ret = read_header(&r, buf, len, &file, &m->format_version);
	r.version = m->format_version;
	if (ret == 0)
		ret = decode_all(&r, s, t, m);
	sections_free(&r);
	if (ret < 0) {
		scan_free(s);
		type_table_free(t);
		snap_meta_free(m);
		s->cmdline = NULL;
	}
	return ret;
}

/* "-": a snapshot on standard input.  A redirected file is mapped like any
 * other; a pipe is read into memory, at most half of what the memory guard
 * says is available (the reader's own bounds apply to what is read). */
static int
snap_read_stdin(struct scan *s, struct type_table *t, struct snap_meta *m, char *err,
		size_t errlen)
{
	struct mem_budget b;
	uint64_t cap = memguard_budget(&b) == 0 ? b.avail / 2 : (uint64_t)1 << 34;
	size_t len = 0, size = 1 << 20;
	char *buf, c[32];
	int ret;

	buf = xmalloc(size);
	for (;;) {
		ssize_t n;

		if (len == size) {
			if (size >= cap) {
				memguard_fmt(c, sizeof(c), cap);
				snprintf(err, errlen, "standard input: a snapshot of more than %s (half "
					 "the memory available); save it to a file and read that", c);
				free(buf);
				return -1;
			}
			size = size * 2 < cap ? size * 2 : (size_t)cap;
			buf = xreallocarray(buf, size, 1);
		}
		n = read(0, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "standard input: %s", strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = snap_read_mem(buf, len, s, t, m, err, errlen);
	if (ret < 0) {
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "standard input: %s", err);
		snprintf(err, errlen, "%s", tmp);
	}
	free(buf);
	return ret;
}

int
snap_read(const char *path, struct scan *s, struct type_table *t, struct snap_meta *m, char *err,
	  size_t errlen)
{
	struct stat st;
	void *p = NULL;
	int fd, ret;

	if (!strcmp(path, "-")) {
		if (fstat(0, &st) < 0 || !S_ISREG(st.st_mode))
			return snap_read_stdin(s, t, m, err, errlen);
		fd = dup(0); /* a redirected file: mapped below, as a named one */
		path = "standard input";
	} else {
		/* O_NONBLOCK: a FIFO must not hang us; only regular files are read */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	ret = snap_read_mem(p ? p : "", (size_t)st.st_size, s, t, m, err, errlen);
	if (ret < 0) {
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		snprintf(err, errlen, "%s", tmp);
	}
	if (p)
		munmap(p, (size_t)st.st_size);
	return ret;
}

void
snap_meta_free(struct snap_meta *m)
{
	free(m->chunk_hash);
	m->chunk_hash = NULL;
	free(m->reach_state);
	m->reach_state = NULL;
	if (m->has_retain)
		retain_summary_free(&m->retain);
	m->has_retain = false;
}

bool
snap_is_file(const char *path)
{
	char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	bool yes;

	if (fd < 0)
		return false;
	yes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 8) == 8 &&
	      !memcmp(magic, SNAP_MAGIC, 8);
	close(fd);
	return yes;
}
