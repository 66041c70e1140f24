/*
 * core.c - an ELF core file as a source of memory (see core.h).
 *
 * What gdb's gcore and the kernel (and systemd-coredump, which stores the
 * kernel's file) write for an x86-64 process:
 *
 *   Elf64_Ehdr  e_type ET_CORE, e_machine EM_X86_64
 *   PT_NOTE     "CORE" NT_PRSTATUS  one per thread: pr_pid at 32, pr_reg
 *                                   (user_regs_struct, 27 words) at 112
 *               "CORE" NT_PRPSINFO  pr_pid at 24, pr_fname[16] at 40,
 *                                   pr_psargs[80] at 56
 *               "CORE" NT_FILE      count, page_size, count x {start, end,
 *                                   file_ofs (in page_size units)}, then
 *                                   count NUL-terminated paths
 *               "CORE" NT_AUXV      (type, value) words: AT_ENTRY, AT_SYSINFO_EHDR
 *   PT_LOAD     one per mapping: p_vaddr, p_memsz the mapping; p_filesz the
 *               bytes written at p_offset (the kernel writes the ELF header
 *               page only of a file mapping nothing wrote to, nothing of
 *               unreadable or I/O mappings; gcore leaves text out entirely
 *               and its offsets are not page aligned)
 *
 * The file is mapped read-only; regions wholly held by it point into that
 * mapping (nothing is copied, a 1 GiB core costs page cache, not heap).  A
 * segment with fewer file bytes than memory gets an anonymous, zero-filled
 * mapping of its own with the bytes it has copied in and the rest marked as
 * holes (page granular: a partial last page is a hole too).  A truncated
 * file is the same case: what its headers promise past the end is a hole.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "allocator.h"
#include "core.h"
#include "elfmod.h"
#include "error.h"
#include "glibc_find.h"
#include "pager.h"
#include "probe.h"
#include "xmalloc.h"

#define PAGE 4096ULL
#define USER_TOP 0x800000000000ULL /* x86-64 user space ends here ([vsyscall] is above) */
#define MAX_NOTE_BYTES (256u << 20) /* a note segment bigger than this is not a real core */
#define RO_MAX (64u << 20)          /* as the live copy: larger read-only mappings left out */
#define SPAN_MAX (1ULL << 46)       /* reserved for partly-held writable segments, in all */
#define PERMS_UNKNOWN (1u << 30) /* a file mapping no segment holds, until verify_modules */
#define PRSTATUS_PID 32
#define PRSTATUS_REG 112
#define PRSTATUS_MIN (PRSTATUS_REG + sizeof(struct user_regs_struct))
#define PRPSINFO_PID 24
#define PRPSINFO_FNAME 40
#define PRPSINFO_ARGS 56
#define PRPSINFO_SIZE 136

struct seg {
	uint64_t vaddr, memsz;  /* the mapping */
	uint64_t off, filesz;   /* what the headers say the file holds */
	uint64_t avail;         /* what it does hold: filesz less what lies past EOF */
	unsigned flags;         /* PF_* */
};

struct core {
	const char *path;
	const uint8_t *map;
	size_t size;
	struct seg *seg;
	size_t nseg;
	uint64_t missing;       /* bytes promised past the end of the file */
	struct core_notes notes;
	char **lost;            /* one line per module whose file is not used */
	size_t nlost;
};

/* ---- the notes --------------------------------------------------------- */

bool
core_parse_prstatus(const uint8_t *desc, size_t len, struct core_thread *out)
{
	int32_t pid;

	if (len < PRSTATUS_MIN)
		return false;
	memcpy(&pid, desc + PRSTATUS_PID, 4);
	if (pid <= 0)
		return false;
	out->tid = pid;
	memcpy(&out->regs, desc + PRSTATUS_REG, sizeof(out->regs));
	return true;
}

/* A fixed-size char field as a C string, non-printable bytes as '?'. */
static void
copy_field(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	while (i > 0 && dst[i - 1] == ' ')
		i--;
	dst[i] = '\0';
}

bool
core_parse_prpsinfo(const uint8_t *desc, size_t len, struct core_notes *out)
{
	int32_t pid;

	if (len < PRPSINFO_SIZE)
		return false;
	memcpy(&pid, desc + PRPSINFO_PID, 4);
	if (pid <= 0)
		return false;
	out->pid = pid;
	copy_field(out->fname, desc + PRPSINFO_FNAME, 16);
	copy_field(out->psargs, desc + PRPSINFO_ARGS, 80);
	out->have_psinfo = true;
	return true;
}

bool
core_parse_nt_file(const uint8_t *desc, size_t len, struct core_file **out, size_t *n)
{
	uint64_t count, page;
	const char *s, *end = (const char *)desc + len;
	struct core_file *f;

	*out = NULL;
	*n = 0;
	if (len < 16)
		return false;
	memcpy(&count, desc, 8);
	memcpy(&page, desc + 8, 8);
	/* the table and at least one byte (the NUL) of each path must fit */
	if (count > (len - 16) / 25 || count > CORE_MAX_FILES || !page || (page & (page - 1)) ||
	    page > (1u << 30))
		return false;
	f = xcalloc(count ? count : 1, sizeof(*f));
	s = (const char *)desc + 16 + count * 24;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t w[3];
		const char *nul = memchr(s, '\0', (size_t)(end - s));

		memcpy(w, desc + 16 + i * 24, 24);
		if (!nul || w[0] >= w[1] || w[2] > UINT64_MAX / page) {
			for (uint64_t k = 0; k < i; k++)
				free(f[k].path);
			free(f);
			return false;
		}
		f[i] = (struct core_file){ w[0], w[1], w[2] * page,
					   probe_printable(s, (size_t)(nul - s), PATH_MAX) };
		s = nul + 1;
	}
	*out = f;
	*n = (size_t)count;
	return true;
}

static void
parse_auxv(const uint8_t *desc, size_t len, struct core_notes *out)
{
	for (size_t i = 0; i + 16 <= len; i += 16) {
		uint64_t w[2];

		memcpy(w, desc + i, 16);
		if (w[0] == AT_ENTRY)
			out->at_entry = w[1];
		else if (w[0] == AT_SYSINFO_EHDR)
			out->at_sysinfo_ehdr = w[1];
		else if (w[0] == AT_BASE)
			out->at_base = w[1];
		else if (w[0] == AT_NULL)
			break;
	}
}

int
core_parse_notes(const uint8_t *buf, size_t len, struct core_notes *out, char *why,
		 size_t whylen)
{
	size_t pos = 0;
	struct elf_note n;

	while (elf_note_next(buf, len, 4, &pos, &n)) {
		if (!elf_note_is(&n, "CORE"))
			continue; /* "LINUX" (xstate), "GDB" (target description) */
		switch (n.type) {
		case NT_PRSTATUS: {
			struct core_thread t;

			if (!core_parse_prstatus(n.desc, n.descsz, &t)) {
				snprintf(why, whylen, "an NT_PRSTATUS note is malformed (%u bytes)",
					 n.descsz);
				return -1;
			}
			out->t = xgrow(out->t, &out->capt, out->nt + 1, sizeof(*out->t));
			out->t[out->nt++] = t;
			break;
		}
		case NT_PRPSINFO:
			if (!core_parse_prpsinfo(n.desc, n.descsz, out)) {
				snprintf(why, whylen, "the NT_PRPSINFO note is malformed (%u bytes)",
					 n.descsz);
				return -1;
			}
			break;
		case NT_FILE: {
			struct core_file *f;
			size_t nf;

			if (out->nf) {
				snprintf(why, whylen, "two NT_FILE notes");
				return -1;
			}
			if (!core_parse_nt_file(n.desc, n.descsz, &f, &nf)) {
				snprintf(why, whylen, "the NT_FILE note is malformed (%u bytes)",
					 n.descsz);
				return -1;
			}
			out->f = f;
			out->nf = nf;
			break;
		}
		case NT_AUXV:
			parse_auxv(n.desc, n.descsz, out);
			break;
		}
	}
	if (pos != len) {
		snprintf(why, whylen, "a note at offset %zu runs past the end of its segment", pos);
		return -1;
	}
	return 0;
}

void
core_notes_free(struct core_notes *n)
{
	for (size_t i = 0; i < n->nf; i++)
		free(n->f[i].path);
	free(n->f);
	free(n->t);
	memset(n, 0, sizeof(*n));
}

/* ---- the file ------------------------------------------------------------ */

bool
core_is_core(const char *path)
{
	unsigned char h[20];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	bool yes = false;

	if (fd < 0)
		return false;
	if (!fstat(fd, &sb) && S_ISREG(sb.st_mode) && read(fd, h, sizeof(h)) == (ssize_t)sizeof(h))
		yes = !memcmp(h, ELFMAG, SELFMAG) && h[EI_DATA] == ELFDATA2LSB &&
		      h[16] == ET_CORE && h[17] == 0;
	close(fd);
	return yes;
}

static int
cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int
cmp_file(const void *a, const void *b)
{
	const struct core_file *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Map the file and check its header: EXIT_OK, or an exit code after a line. */
static int
core_map(struct core *c)
{
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	const Elf64_Ehdr *eh;
	void *p;

	if (fd < 0) {
		perror_msg("cannot open %s", c->path);
		return EXIT_FAIL;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		error_msg("%s: not a core file (too short, or not a regular file)", c->path);
		return EXIT_FAIL;
	}
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror_msg("cannot map %s", c->path);
		return EXIT_FAIL;
	}
	c->map = p;
	c->size = (size_t)sb.st_size;
	eh = p;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64) {
		error_msg("%s is a core of a %s program; heapscan reads x86-64 (64-bit) only",
			  c->path, eh->e_ident[EI_CLASS] == ELFCLASS32 ? "32-bit" : "non-x86-64");
		return EXIT_UNSUPPORTED;
	}
	return EXIT_OK;
}

/* The program headers: segments and notes.  EXIT_OK or an exit code. */
static int
core_headers(struct core *c)
{
	Elf *elf = elf_memory((char *)c->map, c->size);
	size_t n;
	char why[256];
	int ret = EXIT_OK;
	bool notes = false;

	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &n)) {
		error_msg("%s: unreadable ELF headers (%s)", c->path, elf_errmsg(-1));
		if (elf)
			elf_end(elf);
		return EXIT_FAIL;
	}
	if (n > c->size / sizeof(Elf64_Phdr)) {
		error_msg("%s: %zu program headers cannot fit in a %zu-byte file", c->path, n, c->size);
		elf_end(elf);
		return EXIT_FAIL;
	}
	c->seg = xcalloc(n ? n : 1, sizeof(*c->seg));
	why[0] = '\0';
	for (size_t i = 0; i < n && ret == EXIT_OK; i++) {
		GElf_Phdr ph;
		uint64_t have;

		if (!gelf_getphdr(elf, (int)i, &ph)) {
			error_msg("%s: program header %zu unreadable (%s)", c->path, i, elf_errmsg(-1));
			ret = EXIT_FAIL;
			break;
		}
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		have = ph.p_offset >= c->size ? 0 : c->size - ph.p_offset;
		if (ph.p_filesz > have)
			c->missing += ph.p_filesz - have;
		if (ph.p_type == PT_NOTE) {
			notes = true;
			if (ph.p_filesz > have) {
				if (!why[0])
					snprintf(why, sizeof(why), "its notes (threads, mapped files) "
						 "are cut off");
			} else if (ph.p_filesz > MAX_NOTE_BYTES) {
				error_msg("%s: a note segment of %" PRIu64 " bytes; not a core heapscan "
					  "reads", c->path, (uint64_t)ph.p_filesz);
				ret = EXIT_FAIL;
			} else if (core_parse_notes(c->map + ph.p_offset, ph.p_filesz, &c->notes, why,
						    sizeof(why)) < 0) {
				ret = EXIT_FAIL;
			}
			continue;
		}
		if (!ph.p_memsz)
			continue;
		if ((ph.p_vaddr | ph.p_memsz) & (PAGE - 1) || ph.p_vaddr + ph.p_memsz < ph.p_vaddr ||
		    ph.p_filesz > ph.p_memsz) {
			error_msg("%s: segment %zu (0x%" PRIx64 ", %" PRIu64 " bytes) is not a "
				  "mapping's; not a core heapscan reads", c->path, i,
				  (uint64_t)ph.p_vaddr, (uint64_t)ph.p_memsz);
			ret = EXIT_FAIL;
			break;
		}
		c->seg[c->nseg++] = (struct seg){ ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz,
						  ph.p_filesz < have ? ph.p_filesz : have,
						  ph.p_flags };
	}
	elf_end(elf);
	if (ret == EXIT_OK && !why[0] && (!notes || !c->notes.nt))
		snprintf(why, sizeof(why), "no thread in it (%s)",
			 notes ? "no NT_PRSTATUS note" : "no note segment");
	if (c->missing && why[0]) {
		error_msg("%s is truncated: %" PRIu64 " bytes its program headers promise are "
			  "missing (the file has %zu), and %s: nothing to analyse", c->path,
			  c->missing, c->size, why);
		return EXIT_FAIL;
	}
	if (why[0]) {
		error_msg("%s: %s", c->path, why);
		return EXIT_FAIL;
	}
	if (ret != EXIT_OK)
		return ret;
	if (c->nseg) /* qsort wants a pointer even for none */
		qsort(c->seg, c->nseg, sizeof(*c->seg), cmp_seg);
	for (size_t i = 1; i < c->nseg; i++)
		if (c->seg[i].vaddr < c->seg[i - 1].vaddr + c->seg[i - 1].memsz) {
			error_msg("%s: segments overlap at 0x%" PRIx64 "; not a core heapscan reads",
				  c->path, c->seg[i].vaddr);
			return EXIT_FAIL;
		}
	if (c->notes.nf) /* a core without NT_FILE has no array */
		qsort(c->notes.f, c->notes.nf, sizeof(*c->notes.f), cmp_file);
	for (size_t i = 1; i < c->notes.nf; i++)
		if (c->notes.f[i].start < c->notes.f[i - 1].end) {
			error_msg("%s: NT_FILE mappings overlap at 0x%" PRIx64 "; not a core "
				  "heapscan reads", c->path, c->notes.f[i].start);
			return EXIT_FAIL;
		}
	return EXIT_OK;
}

/* The segment holding addr, or NULL. */
static const struct seg *
seg_at(const struct core *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nseg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < c->seg[mid].vaddr)
			hi = mid;
		else if (addr - c->seg[mid].vaddr >= c->seg[mid].memsz)
			lo = mid + 1;
		else
			return &c->seg[mid];
	}
	return NULL;
}

/* Index of the first segment starting after addr (c->nseg when none). */
static size_t
seg_after(const struct core *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nseg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->seg[mid].vaddr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* len bytes at addr from the core file itself (one segment's bytes). */
static bool
core_read(const struct core *c, uint64_t addr, void *buf, size_t len)
{
	const struct seg *s = seg_at(c, addr);

	if (!s || addr - s->vaddr > s->avail || len > s->avail - (addr - s->vaddr))
		return false;
	memcpy(buf, c->map + s->off + (addr - s->vaddr), len);
	return true;
}

/* ---- the mappings ------------------------------------------------------ */

static void
add_entry(struct maps *m, size_t *cap, uint64_t start, uint64_t end, unsigned perms,
	  uint64_t offset, const char *path)
{
	m->v = xgrow(m->v, cap, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = (struct map_entry){ .start = start, .end = end, .perms = perms,
					   .offset = offset, .path = xstrdup(path) };
}

static unsigned
seg_perms(const struct seg *s)
{
	return MAP_PERM_P | (s->flags & PF_R ? MAP_PERM_R : 0) | (s->flags & PF_W ? MAP_PERM_W : 0) |
	       (s->flags & PF_X ? MAP_PERM_X : 0);
}

/* The name of an anonymous piece at start. */
static const char *
anon_name(const struct core *c, uint64_t start, uint64_t end)
{
	uint64_t sp = 0;

	for (size_t i = 0; i < c->notes.nt; i++)
		if (c->notes.t[i].tid == c->notes.pid)
			sp = c->notes.t[i].regs.rsp;
	if (start >= USER_TOP)
		return "[vsyscall]";
	if (c->notes.at_sysinfo_ehdr && start == c->notes.at_sysinfo_ehdr)
		return "[vdso]";
	if (sp >= start && sp < end)
		return "[stack]";
	return "";
}

/* First NT_FILE entry ending after addr (files sorted, not overlapping). */
static size_t
file_after(const struct core *c, uint64_t addr)
{
	size_t lo = 0, hi = c->notes.nf;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->notes.f[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct map_entry *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* scan.maps: each segment cut by the NT_FILE entries it holds, then the
 * file mappings no segment holds (gcore leaves out text and read-only data
 * nothing wrote): their perms are settled by verify_modules. */
static void
build_maps(const struct core *c, struct maps *m)
{
	size_t cap = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < c->nseg; i++) {
		const struct seg *s = &c->seg[i];
		uint64_t pos = s->vaddr, end = s->vaddr + s->memsz;

		for (size_t k = file_after(c, pos); k < c->notes.nf && c->notes.f[k].start < end; k++) {
			const struct core_file *f = &c->notes.f[k];
			uint64_t a = f->start > pos ? f->start : pos, b = f->end < end ? f->end : end;

			if (a > pos)
				add_entry(m, &cap, pos, a, seg_perms(s), 0, anon_name(c, pos, a));
			add_entry(m, &cap, a, b, seg_perms(s), f->offset + (a - f->start), f->path);
			pos = b;
		}
		if (pos < end)
			add_entry(m, &cap, pos, end, seg_perms(s), 0, anon_name(c, pos, end));
	}
	for (size_t k = 0; k < c->notes.nf; k++) {
		const struct core_file *f = &c->notes.f[k];
		uint64_t pos = f->start;

		while (pos < f->end) {
			const struct seg *s = seg_at(c, pos);
			uint64_t next = f->end;

			if (s) {
				pos = s->vaddr + s->memsz;
				continue;
			}
			size_t i = seg_after(c, pos); /* the next segment, inside f or not */

			if (i < c->nseg && c->seg[i].vaddr < next)
				next = c->seg[i].vaddr;
			add_entry(m, &cap, pos, next, PERMS_UNKNOWN, f->offset + (pos - f->start),
				  f->path);
			pos = next;
		}
	}
	qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
}

/* ---- the module files ---------------------------------------------------- */

/* The build-id in the ELF header page the core holds at start (the module's
 * mapping of file offset 0).  -1 when no ELF header is there, 0 when it
 * holds no build-id note, 1 with it in id/len. */
static int
core_build_id(const struct core *c, uint64_t start, uint8_t *id, size_t *len)
{
	Elf64_Ehdr eh;
	uint64_t first = UINT64_MAX, bias;
	Elf64_Phdr ph[64];
	size_t n;

	if (!core_read(c, start, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		return -1;
	n = eh.e_phnum < 64 ? eh.e_phnum : 64;
	if (eh.e_phoff > PAGE || !core_read(c, start + eh.e_phoff, ph, n * sizeof(*ph)))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0 && first == UINT64_MAX)
			first = ph[i].p_vaddr & ~(PAGE - 1);
	bias = eh.e_type == ET_DYN && first != UINT64_MAX ? start - first : 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t buf[4096];
		size_t pos = 0;
		struct elf_note note;

		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz > sizeof(buf) ||
		    !core_read(c, bias + ph[i].p_vaddr, buf, ph[i].p_filesz))
			continue;
		while (elf_note_next(buf, ph[i].p_filesz, ph[i].p_align, &pos, &note))
			if (note.type == NT_GNU_BUILD_ID && elf_note_is(&note, "GNU") &&
			    note.descsz && note.descsz <= ELFMOD_BUILD_ID_MAX) {
				memcpy(id, note.desc, note.descsz);
				*len = note.descsz;
				return 1;
			}
	}
	return 0;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool
is_libc_path(const char *path)
{
	const char *b = base_name(path);

	return !strcmp(b, "libc.so.6") || (!strncmp(b, "libc-2.", 7) && strstr(b, ".so"));
}

/* Whether the file at path is the one the core mapped: NULL with the file
 * open in *mod, or why not. */
static const char *
module_mismatch(const struct core *c, const struct map_entry *e, struct elfmod **mod)
{
	uint8_t cid[ELFMOD_BUILD_ID_MAX], fid[ELFMOD_BUILD_ID_MAX];
	size_t clen = 0, flen = 0;
	struct stat sb;
	struct elfmod *m;
	char err[256];
	int have = core_build_id(c, e->start, cid, &clen);
	bool ok;

	if (have < 0) /* not asked of the file system: a core may list a million */
		return "not checkable (the core holds no copy of its ELF header)";
	if (stat(e->path, &sb) < 0)
		return "not found";
	if (!S_ISREG(sb.st_mode))
		return "not a regular file";
	if (have == 0)
		return "not checkable (no build-id in the core's copy of its header)";
	if (!(m = elfmod_open(e->path, err, sizeof(err))))
		return "not readable as ELF";
	ok = elfmod_build_id(m, fid, &flen) && flen == clen && !memcmp(cid, fid, clen);
	if (!ok) {
		elfmod_close(m);
		return "a different build (its build-id differs from the core's)";
	}
	*mod = m;
	return NULL;
}

struct by_path {
	const char *path;
	uint64_t start;
	size_t i;
};

static int
cmp_by_path(const void *a, const void *b)
{
	const struct by_path *x = a, *y = b;
	int d = strcmp(x->path, y->path);

	return d ? d : x->start < y->start ? -1 : x->start > y->start;
}

static unsigned
pf_perms(unsigned pf)
{
	return MAP_PERM_P | (pf & PF_R ? MAP_PERM_R : 0) | (pf & PF_W ? MAP_PERM_W : 0) |
	       (pf & PF_X ? MAP_PERM_X : 0);
}

/* One file's mappings, v[0..n) sorted by address: use the file when it is
 * the one the core mapped, else note what is lost. */
static void
verify_module(struct core *c, struct maps *m, const struct by_path *v, size_t n)
{
	const struct map_entry *e = NULL;
	struct elfmod *mod = NULL;
	const char *why;

	for (size_t k = 0; k < n && !e; k++)
		if (m->v[v[k].i].offset == 0)
			e = &m->v[v[k].i];
	if (!e)
		return; /* no header mapping: not a module we could check */
	why = module_mismatch(c, e, &mod);
	if (!why) {
		for (size_t k = 0; k < n; k++) {
			struct map_entry *o = &m->v[v[k].i];
			unsigned pf;

			o->file = xstrdup(o->path);
			if (o->perms == PERMS_UNKNOWN) /* ---p when no segment: a gap */
				o->perms = elfmod_load_flags(mod, o->offset, &pf) ? pf_perms(pf)
										   : MAP_PERM_P;
		}
		elfmod_close(mod);
		return;
	}
	/* Not an ELF module (data files, locale archives): nothing lost.  libc
	 * is said by the libc step, which cannot go on without it. */
	if ((core_build_id(c, e->start, (uint8_t[ELFMOD_BUILD_ID_MAX]){ 0 }, &(size_t){ 0 }) < 0 &&
	     strcmp(why, "a different build (its build-id differs from the core's)")) ||
	    is_libc_path(e->path))
		return;
	c->lost = xreallocarray(c->lost, c->nlost + 1, sizeof(*c->lost));
	c->lost[c->nlost++] = xasprintf(
		"%s %s: %s", base_name(e->path), why,
		"C++ class names of its types, the names of its functions and globals "
		"(--threads, --why) and backtraces through its code are lost");
}

/* Set map_entry.file for every module whose file matches; note the others.
 * Grouped by path with a sort: a hostile NT_FILE may list a million. */
static void
verify_modules(struct core *c, struct maps *m)
{
	struct by_path *v = xcalloc(m->n ? m->n : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].path[0] == '/')
			v[n++] = (struct by_path){ m->v[i].path, m->v[i].start, i };
	qsort(v, n, sizeof(*v), cmp_by_path);
	for (size_t k = 0, end; k < n; k = end) {
		for (end = k + 1; end < n && !strcmp(v[end].path, v[k].path); end++)
			;
		verify_module(c, m, v + k, end - k);
	}
	free(v);
	/* Without the file, a mapping the core holds nothing of is most likely
	 * a module's text: code pointers into it are then seen as such. */
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].perms == PERMS_UNKNOWN)
			m->v[i].perms = MAP_PERM_R | MAP_PERM_X | MAP_PERM_P;
}

/* ---- the images ---------------------------------------------------------- */

static struct region *
add_region(struct image *img, size_t *cap, uint64_t start, uint64_t end, unsigned char *data,
	   unsigned perms, const char *name)
{
	struct region *r;

	img->r = xgrow(img->r, cap, img->n + 1, sizeof(*img->r));
	r = &img->r[img->n++];
	*r = (struct region){ .start = start, .end = end, .data = data, .perms = perms,
			      .name = xstrdup(name) };
	img->bytes += end - start;
	return r;
}

static void
add_hole(struct region *r, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	if (r->nholes && r->holes[r->nholes - 1].end == start) {
		r->holes[r->nholes - 1].end = end;
		return;
	}
	r->holes = xreallocarray(r->holes, r->nholes + 1, sizeof(*r->holes));
	r->holes[r->nholes++] = (struct image_hole){ start, end };
}

/* Bytes of the segment the file holds, whole pages only unless it holds
 * the segment whole. */
static uint64_t
seg_kept(const struct seg *s)
{
	return s->avail == s->memsz ? s->memsz : s->avail & ~(PAGE - 1);
}

/* The writable segments into img.  EXIT_OK or an exit code after a line. */
static int
build_img(struct core *c, const struct maps *m, struct image *img)
{
	size_t cap = 0;
	uint64_t span = 0;

	image_init(img);
	img->buf = (unsigned char *)c->map; /* image_free unmaps the file */
	img->buflen = c->size;
	for (size_t i = 0; i < c->nseg; i++) {
		const struct seg *s = &c->seg[i];
		const struct map_entry *e = maps_find(m, s->vaddr);
		uint64_t kept = seg_kept(s);
		struct region *r;
		unsigned char *p;

		if (!(s->flags & PF_W) || s->vaddr >= USER_TOP)
			continue;
		if (kept == s->memsz) {
			add_region(img, &cap, s->vaddr, s->vaddr + s->memsz,
				   (unsigned char *)c->map + s->off, seg_perms(s), e ? e->path : "");
			continue;
		}
		span += s->memsz;
		if (span > SPAN_MAX) {
			error_msg("%s: writable segments the file does not hold span more than "
				  "%llu TiB; not a core heapscan reads", c->path, SPAN_MAX >> 40);
			return EXIT_FAIL;
		}
		/* read-only and unaccounted until the bytes are copied in */
		p = mmap(NULL, s->memsz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			 0);
		if (p == MAP_FAILED) {
			perror_msg("cannot reserve %" PRIu64 " bytes for a segment of %s", s->memsz,
				   c->path);
			return EXIT_FAIL;
		}
		if (kept && (mprotect(p, kept, PROT_READ | PROT_WRITE) ||
			     (memcpy(p, c->map + s->off, kept), 0))) {
			munmap(p, s->memsz);
			perror_msg("cannot copy a segment of %s", c->path);
			return EXIT_FAIL;
		}
		r = add_region(img, &cap, s->vaddr, s->vaddr + s->memsz, p, seg_perms(s),
			       e ? e->path : "");
		r->unmap_len = s->memsz;
		add_hole(r, s->vaddr + kept, s->vaddr + s->memsz);
	}
	return EXIT_OK;
}

/* --max-memory: the writable segments as windows read from the file on
 * demand (pager.h), the same regions and holes as build_img's.  EXIT_OK or
 * an exit code after a line. */
static int
build_img_paged(struct core *c, const struct maps *m, struct image *img, uint64_t budget)
{
	uint64_t total = 0;
	size_t cap = 0;
	char why[256];
	int fd;

	image_init(img);
	img->buf = (unsigned char *)c->map; /* image_free unmaps the file */
	img->buflen = c->size;
	for (size_t i = 0; i < c->nseg; i++)
		if ((c->seg[i].flags & PF_W) && c->seg[i].vaddr < USER_TOP)
			total += (c->seg[i].memsz + PAGE - 1) & ~(PAGE - 1);
	fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror_msg("cannot open %s", c->path);
		return EXIT_FAIL;
	}
	img->pager = pager_new(budget, total, fd, why, sizeof(why));
	if (!img->pager) {
		error_msg("--max-memory: %s", why);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < c->nseg; i++) {
		const struct seg *s = &c->seg[i];
		const struct map_entry *e = maps_find(m, s->vaddr);
		uint64_t kept = seg_kept(s);
		struct region *r;

		if (!(s->flags & PF_W) || s->vaddr >= USER_TOP)
			continue;
		r = add_region(img, &cap, s->vaddr, s->vaddr + s->memsz,
			       pager_add(img->pager, s->memsz, s->off, kept), seg_perms(s),
			       e ? e->path : "");
		add_hole(r, s->vaddr + kept, s->vaddr + s->memsz);
	}
	if (pager_start(img->pager, why, sizeof(why)) < 0) {
		error_msg("--max-memory: %s", why);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* From the module's file: the bytes of a read-only mapping the core left out
 * (the kernel writes only the ELF header page of a mapping nothing wrote). */
static uint64_t
fill_from_file(const struct map_entry *e, unsigned char *p, uint64_t from, uint64_t len)
{
	int fd = open(e->file, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	uint64_t got = from;

	if (fd < 0)
		return from;
	if (!fstat(fd, &sb) && e->offset <= (uint64_t)sb.st_size) {
		uint64_t have = (uint64_t)sb.st_size - e->offset;
		uint64_t want = (len < have ? len : have) & ~(PAGE - 1);

		if (have >= len)
			want = len;
		if (want > from && pread(fd, p + from, want - from, (off_t)(e->offset + from)) ==
					   (ssize_t)(want - from))
			got = want;
	}
	close(fd);
	return got;
}

/* The read-only segments into ro (copies: small), each read-only file
 * mapping filled from its module's file where the core lacks its bytes. */
static void
build_ro(struct core *c, const struct maps *m, struct image *ro)
{
	size_t cap = 0;

	image_init(ro);
	for (size_t i = 0; i < m->n; i++) {
		const struct map_entry *e = &m->v[i];
		uint64_t len = e->end - e->start, kept = 0;
		const struct seg *s = seg_at(c, e->start);
		unsigned char *p;
		struct region *r;

		/* as the live copy: modules' read-only data (not text) and the vdso */
		bool vdso = !strcmp(e->path, "[vdso]");

		if (!vdso && (e->perms != (MAP_PERM_R | MAP_PERM_P) || e->path[0] != '/'))
			continue;
		if (e->start >= USER_TOP || len > RO_MAX)
			continue;
		if (s) {
			uint64_t skept = seg_kept(s), at = e->start - s->vaddr;

			kept = skept > at ? skept - at : 0;
			if (kept > len)
				kept = len;
		}
		if (!kept && (!e->file || vdso))
			continue;
		p = xcalloc(1, len);
		if (kept)
			memcpy(p, c->map + s->off + (e->start - s->vaddr), kept);
		if (e->file && !vdso && kept < len)
			kept = fill_from_file(e, p, kept, len);
		if (!kept) {
			free(p);
			continue;
		}
		r = add_region(ro, &cap, e->start, e->end, p, e->perms, e->path);
		add_hole(r, e->start + kept, e->end);
	}
}

/* ---- threads, libc, the walk ----------------------------------------------- */

static bool
read_image_word(void *ctx, uint64_t addr, uint64_t *out)
{
	const struct scan *s = ctx;

	return image_u64(&s->img, addr, out) || image_u64(&s->ro, addr, out);
}

static void
core_threads(const struct core *c, struct scan *s)
{
	s->nthreads = c->notes.nt;
	s->threads = xcalloc(s->nthreads, sizeof(*s->threads));
	s->regs = xcalloc(s->nthreads, sizeof(*s->regs));
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct core_thread *t = &c->notes.t[i];
		uint64_t v;

		s->threads[i].tid = t->tid;
		s->regs[i].tid = t->tid;
		s->regs[i].have_regs = true;
		s->regs[i].regs = t->regs;
		/* the core names only the process; other threads' names are lost */
		if (t->tid == c->notes.pid)
			memcpy(s->regs[i].comm, c->notes.fname, sizeof(s->regs[i].comm) - 1);
		if (s->libc.have_tpoff &&
		    image_u64(&s->img, t->regs.fs_base + (uint64_t)s->libc.tcache_tpoff, &v))
			s->threads[i].tcache = v;
	}
	s->tcache_unknown = !s->libc.have_tpoff;
}

/* libc's file is absent or another build: malloc's state from the core's
 * memory alone (glibc_find.h), with the threads' fs_base for the tcache. */
static int
core_libc_from_memory(const struct core *c, struct scan *s, const struct map_entry *libc,
		      bool absent)
{
	uint64_t *fs = xcalloc(c->notes.nt ? c->notes.nt : 1, sizeof(*fs));
	char why[512];
	int ret;

	for (size_t i = 0; i < c->notes.nt; i++)
		fs[i] = c->notes.t[i].regs.fs_base;
	ret = glibc_find_libc(&s->img, &s->ro, &s->maps, libc, fs, c->notes.nt, 0, &s->libc, why,
			      sizeof(why));
	free(fs);
	if (ret < 0) {
		error_msg("%s: malloc's state was not found in memory%s: %s", c->path,
			  absent ? " (libc's file is not here, or is not the build the core mapped)" : "",
			  why);
		return EXIT_UNSUPPORTED;
	}
	if (absent)
		error_msg("libc file %s is not here (or is not the build the core mapped): malloc's "
			  "state found in memory", libc->path);
	return EXIT_OK;
}

#define CMDLINE_CAP 4096 /* as the live scan: bytes of argv shown at most */
#define ARGC_MAX 4096

/* The whole command line, as /proc/PID/cmdline shows it, from memory:
 * libc's `__environ` points at the envp array the kernel laid out right
 * after argv (argc, argv[0..argc), NULL, envp...), and the argv strings
 * run from argv[0] to envp[0].  NULL when that layout is not found (the
 * program replaced its environment); the core's 80 bytes then stand. */
static char *
full_cmdline(const struct scan *s, const char *libc_file, uint64_t libc_start, const char *psargs)
{
	char err[128];
	struct elfmod *m = elfmod_open(libc_file, err, sizeof(err));
	uint64_t sym, size, env, env0, argv0 = 0, w, len;
	const char *p;
	char *raw, *out = NULL;
	size_t n;

	if (!m)
		return NULL;
	if (!elfmod_symbol(m, "__environ", &sym, &size) ||
	    !image_u64(&s->img, elfmod_bias(m, libc_start) + sym, &env) ||
	    !image_u64(&s->img, env, &env0) || !image_u64(&s->img, env - 8, &w) || w) {
		elfmod_close(m);
		return NULL;
	}
	elfmod_close(m);
	for (n = 1; n <= ARGC_MAX; n++) /* argc sits below argv[0] */
		if (image_u64(&s->img, env - 16 - 8 * n, &w) && w == n &&
		    image_u64(&s->img, env - 8 - 8 * n, &argv0))
			break;
	if (n > ARGC_MAX || !argv0 || env0 <= argv0)
		return NULL;
	len = env0 - argv0 < CMDLINE_CAP ? env0 - argv0 : CMDLINE_CAP;
	if (!(p = image_ptr(&s->img, argv0, len)))
		return NULL;
	raw = xmalloc(len);
	memcpy(raw, p, len);
	for (size_t i = 0; i < len; i++)
		if (!raw[i])
			raw[i] = ' ';
	while (len > 0 && raw[len - 1] == ' ')
		len--;
	if (len) {
		out = probe_printable(raw, len, CMDLINE_CAP);
		if (strncmp(out, psargs, strlen(psargs))) { /* not what the kernel saw */
			free(out);
			out = NULL;
		}
	}
	free(raw);
	return out;
}

/* Which malloc, and where glibc keeps its state.  EXIT_OK, or an exit code
 * after a line; s->foreign set when allowed and malloc is not glibc's. */
static int
core_libc(struct core *c, struct scan *s, const struct scan_opts *opts)
{
	struct allocator_info ai;
	const struct map_entry *exe = c->notes.at_entry ? maps_find(&s->maps, c->notes.at_entry)
							: NULL;
	char why[512];
	int ret;

	ret = allocator_check(s->pid, &s->maps, exe ? exe->file : NULL, c->notes.at_base, &ai,
			      why, sizeof(why));
	if (ret == EXIT_OK && ai.jemalloc) { /* walked by scan_walk_jemalloc */
		ret = ai.tcmalloc ? scan_use_tcmalloc(s, ai.jemalloc)
				  : scan_use_jemalloc(s, ai.jemalloc, opts);
		allocator_info_free(&ai);
		return ret;
	}
	if (ret == EXIT_UNSUPPORTED && opts->allow_foreign) {
		s->foreign = true;
		snprintf(s->foreign_why, sizeof(s->foreign_why), "%s", why);
		return EXIT_OK;
	}
	if (ret != EXIT_OK) {
		error_msg("%s: %s", c->path, why);
		return ret;
	}
	if (!ai.libc_file || opts->locate == LOCATE_MEMORY) {
		ret = core_libc_from_memory(c, s, ai.libc, !ai.libc_file);
		allocator_info_free(&ai);
		return ret;
	}
	ret = libc_locate_file(ai.libc_file, ai.libc->path, ai.libc->start, read_image_word, s,
			       &s->libc, why, sizeof(why));
	if (ret == EXIT_OK) {
		char *full = full_cmdline(s, ai.libc_file, ai.libc->start, s->cmdline);

		/* libc's code gave main_arena but not mp_ (in .bss: 2.12-2.14) */
		glibc_find_mp_libc(&s->img, &s->maps, ai.libc, &s->libc);

		if (full) {
			free(s->cmdline);
			s->cmdline = full;
		}
	}
	allocator_info_free(&ai);
	if (ret != EXIT_OK)
		error_msg("%s", why);
	return ret;
}

static void
core_free(struct core *c)
{
	free(c->seg);
	core_notes_free(&c->notes);
	for (size_t i = 0; i < c->nlost; i++)
		free(c->lost[i]);
	free(c->lost);
}

/* Anonymous memory no chunk covers, and whose it may be (unseen.h): the
 * executable is the mapping AT_ENTRY falls in, its first 64 KiB read from
 * its file when the core's build-id check let it be used. */
static void
core_unseen(struct scan *s, uint64_t at_entry)
{
	const struct map_entry *exe = at_entry ? maps_find(&s->maps, at_entry) : NULL;
	static char head[64 << 10];
	ssize_t got = 0;
	int fd;

	if (exe && exe->file && (fd = open(exe->file, O_RDONLY | O_CLOEXEC)) >= 0) {
		got = read(fd, head, sizeof(head));
		close(fd);
	}
	unseen_measure(s, exe ? exe->path : "", head, got > 0 ? (size_t)got : 0, &s->unseen);
	s->have_unseen = true;
}

int
scan_core(const char *path, const struct scan_opts *opts, struct scan *s)
{
	struct core c = { .path = path };
	uint64_t at_entry;
	struct glibc_target gt;
	char why[256];
	double t0 = now_ms();
	int ret;

	memset(s, 0, sizeof(*s));
	s->attempts = 1;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		error_msg("libelf is older than heapscan was built for");
		return EXIT_FAIL;
	}
	ret = core_map(&c);
	if (ret == EXIT_OK)
		ret = core_headers(&c);
	if (ret != EXIT_OK) {
		if (c.map)
			munmap((void *)c.map, c.size);
		core_free(&c);
		return ret;
	}
	if (c.missing)
		error_msg("%s is truncated: %" PRIu64 " bytes its program headers promise are "
			  "missing (the file has %zu); they are read as holes, and what lies in "
			  "them is not counted", path, c.missing, c.size);
	s->pid = c.notes.have_psinfo ? c.notes.pid : c.notes.t[0].tid;
	s->cmdline = xstrdup(c.notes.have_psinfo ? c.notes.psargs : "");
	s->origin = xasprintf("core %s", path);
	build_maps(&c, &s->maps);
	verify_modules(&c, &s->maps);
	/* s->img owns the mapping from here */
	ret = opts->max_memory ? build_img_paged(&c, &s->maps, &s->img, opts->max_memory)
			       : build_img(&c, &s->maps, &s->img);
	s->bounded = opts->max_memory;
	if (ret != EXIT_OK) {
		core_free(&c);
		return ret;
	}
	build_ro(&c, &s->maps, &s->ro);
	for (size_t i = 0; i < c.nlost; i++)
		error_msg("%s", c.lost[i]);
	s->copied_bytes = s->img.bytes;
	s->holes = image_nholes(&s->img);
	ret = core_libc(&c, s, opts);
	core_threads(&c, s);
	at_entry = c.notes.at_entry;
	core_free(&c);
	s->prepare_ms = now_ms() - t0; /* headers, notes, modules, libc */
	if (ret != EXIT_OK || s->foreign)
		return ret;
	if (s->jemalloc)
		return scan_walk_jemalloc(s, opts);
	t0 = now_ms();
	s->nbusy = glibc_busy_arenas(&s->img, s->libc.lay, s->libc.main_arena, s->busy,
				     SCAN_MAX_BUSY);
	if (s->nbusy < 0)
		s->nbusy = 0;
	gt = (struct glibc_target){
		.img = &s->img, .lay = s->libc.lay, .main_arena = s->libc.main_arena,
		.mp = s->libc.mp, .threads = s->threads, .nthreads = s->nthreads,
	};
	if (glibc_walk(&gt, &s->heap, why, sizeof(why)) < 0) {
		error_msg("%s: %s", path, why);
		return EXIT_UNSUPPORTED;
	}
	s->walk_ms = now_ms() - t0;
	core_unseen(s, at_entry);
	return EXIT_OK;
}
