/*
 * maps.c - read and parse /proc/PID/maps, and which mappings share pages (smaps).
 *
 *   55d0c8a1e000-55d0c8a3f000 rw-p 00000000 00:00 0          [heap]
 *   ^start       ^end         ^perms ^offset ^dev ^inode     ^path (may hold spaces,
 *                                                             " (deleted)" suffix)
 *
 * The whole file is read in one go into a buffer and then parsed, so the
 * time spent reading it (which the kernel makes consistent per read() call
 * only) stays short; heapscan reads it again inside the stop window.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"
#include "xmalloc.h"

static int
parse_hex(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int n = 0;

	while (p < end && n < 17) {
		int c = *p, d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		v = (v << 4) | (uint64_t)d;
		p++;
		n++;
	}
	if (n == 0 || n > 16)
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

static int
expect(const char **pp, const char *end, char c)
{
	if (*pp >= end || **pp != c)
		return -1;
	(*pp)++;
	return 0;
}

static void
skip_spaces(const char **pp, const char *end)
{
	while (*pp < end && **pp == ' ')
		(*pp)++;
}

static int
parse_line(const char *p, const char *end, struct map_entry *e)
{
	uint64_t dev_major, dev_minor;
	const char *perm;

	memset(e, 0, sizeof(*e));
	if (parse_hex(&p, end, &e->start) || expect(&p, end, '-') ||
	    parse_hex(&p, end, &e->end) || expect(&p, end, ' ') || e->end <= e->start)
		return -1;
	if (end - p < 5)
		return -1;
	perm = p;
	if ((perm[0] != 'r' && perm[0] != '-') || (perm[1] != 'w' && perm[1] != '-') ||
	    (perm[2] != 'x' && perm[2] != '-') || (perm[3] != 'p' && perm[3] != 's'))
		return -1;
	e->perms = (perm[0] == 'r' ? MAP_PERM_R : 0) | (perm[1] == 'w' ? MAP_PERM_W : 0) |
		   (perm[2] == 'x' ? MAP_PERM_X : 0) | (perm[3] == 'p' ? MAP_PERM_P : 0);
	p += 4;
	if (expect(&p, end, ' ') || parse_hex(&p, end, &e->offset) || expect(&p, end, ' ') ||
	    parse_hex(&p, end, &dev_major) || expect(&p, end, ':') ||
	    parse_hex(&p, end, &dev_minor) || expect(&p, end, ' '))
		return -1;
	/* inode is decimal */
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9') {
		e->inode = e->inode * 10 + (uint64_t)(*p - '0');
		p++;
	}
	skip_spaces(&p, end);
	e->path = xmalloc((size_t)(end - p) + 1);
	memcpy(e->path, p, (size_t)(end - p));
	e->path[end - p] = '\0';
	return 0;
}

int
maps_parse(const char *text, size_t len, struct maps *out, size_t *bad_line)
{
	const char *p = text, *end = text + len;
	size_t cap = 0, line = 0;

	out->v = NULL;
	out->n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		line++;
		if (le > p) {
			out->v = xgrow(out->v, &cap, out->n + 1, sizeof(*out->v));
			if (parse_line(p, le, &out->v[out->n]) ||
			    (out->n && out->v[out->n].start < out->v[out->n - 1].end)) {
				free(out->v[out->n].path);
				out->v[out->n].path = NULL;
				maps_free(out);
				if (bad_line)
					*bad_line = line;
				return -EINVAL;
			}
			out->n++;
		}
		p = le + (nl ? 1 : 0);
	}
	return 0;
}

/* The whole of /proc/PID/NAME into *buf (malloc'd).  0 or -errno. */
static int
read_proc_file(pid_t pid, const char *name, char **buf, size_t *len)
{
	char path[64];
	size_t cap = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	for (;;) {
		ssize_t n;

		*buf = xgrow(*buf, &cap, *len + 65536, 1);
		n = read(fd, *buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int ret = -errno;

			close(fd);
			free(*buf);
			*buf = NULL;
			return ret;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return 0;
}

int
maps_read(pid_t pid, struct maps *out)
{
	char *buf;
	size_t len;
	int ret;

	ret = read_proc_file(pid, "maps", &buf, &len);
	if (ret)
		return ret;
	ret = maps_parse(buf, len, out, NULL);
	free(buf);
	return ret;
}

/* "Shared_Clean:   123 kB" at p: the number, else 0. */
static uint64_t
smaps_shared_kb(const char *p, const char *end)
{
	uint64_t v = 0;

	if (end - p < 13 || (memcmp(p, "Shared_Clean:", 13) && memcmp(p, "Shared_Dirty:", 13)))
		return 0;
	p += 13;
	skip_spaces(&p, end);
	while (p < end && *p >= '0' && *p <= '9' && v < (UINT64_MAX - 9) / 10)
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

int
maps_read_shared(pid_t pid, struct map_range **out, size_t *n)
{
	const char *p, *end;
	struct map_entry cur = { 0 };
	bool have = false;
	uint64_t shared = 0;
	size_t cap = 0;
	char *buf;
	size_t len;
	int ret;

	*out = NULL;
	*n = 0;
	ret = read_proc_file(pid, "smaps", &buf, &len);
	if (ret)
		return ret;
	for (p = buf, end = buf + len; p <= end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		bool header = le > p && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));

		if (header || le == end) {
			/* the mapping before this header is complete */
			if (have && shared && map_is_copied(&cur)) {
				*out = xgrow(*out, &cap, *n + 1, sizeof(**out));
				(*out)[*n].start = cur.start;
				(*out)[*n].end = cur.end;
				(*n)++;
			}
			free(cur.path);
			cur.path = NULL;
			have = header && parse_line(p, le, &cur) == 0;
			shared = 0;
		} else if (have) {
			shared += smaps_shared_kb(p, le);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	free(cur.path);
	free(buf);
	return 0;
}

void
maps_mark_shared(struct maps *m, const struct map_range *r, size_t n)
{
	for (size_t i = 0; i < m->n; i++) {
		struct map_entry *e = &m->v[i];

		e->shared = false;
		for (size_t k = 0; k < n && !e->shared; k++)
			e->shared = r[k].start < e->end && e->start < r[k].end;
	}
}

void
maps_free(struct maps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].file);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct map_entry *
maps_find(const struct maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < m->v[mid].start)
			hi = mid;
		else if (addr >= m->v[mid].end)
			lo = mid + 1;
		else
			return &m->v[mid];
	}
	return NULL;
}

int
map_is_anon(const struct map_entry *e)
{
	return e->path[0] == '\0' || !strcmp(e->path, "[heap]") ||
	       !strncmp(e->path, "[stack", 6) || !strncmp(e->path, "[anon:", 6);
}

int
map_is_copied(const struct map_entry *e)
{
	if ((e->perms & (MAP_PERM_R | MAP_PERM_W | MAP_PERM_P)) !=
	    (MAP_PERM_R | MAP_PERM_W | MAP_PERM_P))
		return 0;
	if (!strcmp(e->path, "[vvar]") || !strcmp(e->path, "[vsyscall]") ||
	    !strcmp(e->path, "[vdso]"))
		return 0;
	/* Device files (mapped GPU or driver memory): reading may have side effects. */
	if (!strncmp(e->path, "/dev/", 5) && strncmp(e->path, "/dev/zero", 9))
		return 0;
	return 1;
}

const struct map_entry *
maps_module(const struct maps *m, uint64_t addr)
{
	const struct map_entry *e = maps_find(m, addr);

	if (!e)
		return NULL;
	if (e->path[0] == '/')
		return e;
	if (!e->path[0] && e > m->v && e[-1].end == e->start && e[-1].path[0] == '/')
		return e - 1;
	return NULL;
}
