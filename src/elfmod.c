/*
 * elfmod.c - one ELF file, read through libelf: class, PT_INTERP, PT_LOAD
 * bytes by link-time address, and defined symbols by name.
 *
 * The file comes from the target (its executable, its libraries, possibly
 * deleted or in another mount namespace) and is treated as hostile:
 *
 *   - it is mapped private and writable (copy-on-write, the file itself is
 *     never changed) so libelf may convert data in place without faulting;
 *   - only little-endian files are accepted (heapscan reads x86-64);
 *   - every section's and every PT_LOAD's file range is checked against the
 *     file size at open, so later reads through them cannot leave the map;
 *   - symbol names are compared inside the string table's bounds, never with
 *     a strcmp that could run off its end.
 *
 * Symbol lookup is a linear scan (libc.so.6 has ~3000 .dynsym entries; a
 * handful of look-ups take well under a millisecond), .dynsym first, then
 * .symtab.  Among same-named definitions the one to prefer is the default
 * version (.gnu.version entry without the hidden bit 0x8000: memcpy@@GLIBC_2.14
 * over memcpy@GLIBC_2.2.5) or, in .symtab, a global over a local.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfmod.h"
#include "xmalloc.h"

#define X86_64_PAGE 4096ULL  /* the target's page size: heapscan reads x86-64 */
#define VERSYM_HIDDEN 0x8000 /* a non-default version (name@VER, not name@@VER) */

struct elfsyms {
	Elf_Data *syms;   /* NULL when the table is absent */
	size_t n;
	const char *str;  /* the linked string table */
	size_t strsz;
	Elf_Data *versym; /* .gnu.version for .dynsym; NULL when absent */
};

struct elfmod {
	void *map;
	size_t size;
	Elf *elf;
	int cls;
	bool interp;
	bool dyn;
	GElf_Phdr *load; /* PT_LOAD headers, ranges checked */
	size_t nload;
	struct elfsyms dynsym, symtab;
};

static bool
range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static bool
elf_lib_ready(void)
{
	static int state; /* 0 unknown, 1 ready, -1 version mismatch */

	if (!state)
		state = elf_version(EV_CURRENT) == EV_NONE ? -1 : 1;
	return state == 1;
}

/* Map the file privately; NULL with errno (EINVAL: not a regular file,
 * ENOEXEC: too short for an ELF header). */
static void *
map_file(const char *path, size_t *size)
{
	struct stat sb;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb)) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size < EI_NIDENT) {
		close(fd);
		errno = S_ISREG(sb.st_mode) ? ENOEXEC : EINVAL;
		return NULL;
	}
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*size = (size_t)sb.st_size;
	return p;
}

/* PT_INTERP and PT_LOAD; -1 when a segment lies outside the file. */
static int
load_phdrs(struct elfmod *m)
{
	size_t n;

	/* A hostile count must not make us allocate more than the file holds. */
	if (elf_getphdrnum(m->elf, &n) || n > m->size / sizeof(Elf32_Phdr))
		return -1;
	m->load = xreallocarray(NULL, n, sizeof(*m->load));
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(m->elf, (int)i, &ph))
			return -1;
		if (ph.p_type != PT_LOAD && ph.p_type != PT_INTERP)
			continue;
		if (!range_ok(ph.p_offset, ph.p_filesz, m->size))
			return -1;
		if (ph.p_type == PT_INTERP)
			m->interp = true;
		else if (ph.p_filesz <= ph.p_memsz)
			m->load[m->nload++] = ph;
		else
			return -1;
	}
	return 0;
}

/* Symbols of section scn with their string table (sh_link). */
static int
load_symtab(struct elfmod *m, Elf_Scn *scn, const GElf_Shdr *sh, struct elfsyms *t)
{
	Elf_Scn *strscn = elf_getscn(m->elf, sh->sh_link);
	GElf_Shdr strsh;
	Elf_Data *sd, *d;
	size_t entsz = gelf_fsize(m->elf, ELF_T_SYM, 1, EV_CURRENT);

	if (!strscn || !gelf_getshdr(strscn, &strsh) || strsh.sh_type != SHT_STRTAB)
		return -1;
	d = elf_getdata(scn, NULL);
	sd = elf_getdata(strscn, NULL);
	if (!d || !sd || !sd->d_buf || !entsz)
		return -1;
	t->syms = d;
	t->n = d->d_size / entsz;
	t->str = sd->d_buf;
	t->strsz = sd->d_size;
	return 0;
}

/* .gnu.version belongs to .dynsym when it has one entry per symbol. */
static void
load_versym(struct elfmod *m, Elf_Scn *scn)
{
	Elf_Data *d = elf_getdata(scn, NULL);

	if (d && m->dynsym.syms && d->d_size / 2 == m->dynsym.n)
		m->dynsym.versym = d;
}

/* Check every section range; find .dynsym, .symtab, .gnu.version. */
static int
load_sections(struct elfmod *m)
{
	Elf_Scn *scn = NULL, *versym = NULL;

	while ((scn = elf_nextscn(m->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			return -1;
		if (sh.sh_type != SHT_NOBITS && !range_ok(sh.sh_offset, sh.sh_size, m->size))
			return -1;
		if (sh.sh_type == SHT_DYNSYM && !m->dynsym.syms &&
		    load_symtab(m, scn, &sh, &m->dynsym))
			return -1;
		if (sh.sh_type == SHT_SYMTAB && !m->symtab.syms &&
		    load_symtab(m, scn, &sh, &m->symtab))
			return -1;
		if (sh.sh_type == SHT_GNU_versym)
			versym = scn;
	}
	if (versym)
		load_versym(m, versym);
	return 0;
}

static const char *
elfmod_check_header(struct elfmod *m)
{
	GElf_Ehdr eh;

	if (elf_kind(m->elf) != ELF_K_ELF || !gelf_getehdr(m->elf, &eh))
		return "not an ELF file";
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return "not a little-endian ELF file";
	m->cls = gelf_getclass(m->elf) == ELFCLASS64 ? 64 : 32;
	m->dyn = eh.e_type == ET_DYN;
	if (load_phdrs(m))
		return "malformed ELF program headers";
	if (load_sections(m))
		return "malformed ELF section headers";
	return NULL;
}

struct elfmod *
elfmod_open(const char *path, char *err, size_t errlen)
{
	struct elfmod *m;
	const char *why;

	if (!elf_lib_ready()) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->map = map_file(path, &m->size);
	if (!m->map) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == EINVAL ? "not a regular file" :
			 errno == ENOEXEC ? "not an ELF file" : strerror(errno));
		free(m);
		return NULL;
	}
	m->elf = elf_memory(m->map, m->size);
	why = m->elf ? elfmod_check_header(m) : "not an ELF file";
	if (why) {
		snprintf(err, errlen, "%s: %s", path, why);
		elfmod_close(m);
		return NULL;
	}
	return m;
}

const unsigned char *
elfmod_file(const struct elfmod *m, size_t *size)
{
	*size = m->size;
	return m->map;
}

void
elfmod_close(struct elfmod *m)
{
	if (!m)
		return;
	if (m->elf)
		elf_end(m->elf);
	if (m->map)
		munmap(m->map, m->size);
	free(m->load);
	free(m);
}

int
elfmod_class(const struct elfmod *m)
{
	return m->cls;
}

bool
elfmod_has_interp(const struct elfmod *m)
{
	return m->interp;
}

bool
elfmod_is_dyn(const struct elfmod *m)
{
	return m->dyn;
}

/* 2: a preferred definition of name, 1: an acceptable one, 0: no match. */
static int
sym_rank(const struct elfsyms *t, size_t i, const char *name, size_t nlen, GElf_Sym *s)
{
	int type;
	GElf_Versym v;

	if (!gelf_getsym(t->syms, (int)i, s) || s->st_shndx == SHN_UNDEF)
		return 0;
	if (s->st_name >= t->strsz || t->strsz - s->st_name <= nlen ||
	    memcmp(t->str + s->st_name, name, nlen + 1))
		return 0;
	type = GELF_ST_TYPE(s->st_info);
	if (type != STT_FUNC && type != STT_OBJECT && type != STT_GNU_IFUNC)
		return 0;
	if (t->versym)
		return gelf_getversym(t->versym, (int)i, &v) && !(v & VERSYM_HIDDEN) ? 2 : 1;
	return GELF_ST_BIND(s->st_info) == STB_LOCAL ? 1 : 2;
}

static bool
table_lookup(const struct elfsyms *t, const char *name, GElf_Sym *out)
{
	size_t nlen = strlen(name);
	bool found = false;

	for (size_t i = 1; t->syms && i < t->n; i++) { /* entry 0 is the null symbol */
		GElf_Sym s;
		int r = sym_rank(t, i, name, nlen, &s);

		if (r == 2) {
			*out = s;
			return true;
		}
		if (r == 1 && !found) {
			*out = s;
			found = true;
		}
	}
	return found;
}

bool
elfmod_symbol(const struct elfmod *m, const char *name, uint64_t *value, uint64_t *size)
{
	GElf_Sym s;

	if (!table_lookup(&m->dynsym, name, &s) && !table_lookup(&m->symtab, name, &s))
		return false;
	if (value)
		*value = s.st_value;
	if (size)
		*size = s.st_size;
	return true;
}

static bool
table_symbol_at(const struct elfsyms *t, uint64_t vaddr, const char *prefix, char *buf,
		size_t len)
{
	size_t plen = strlen(prefix);

	for (size_t i = 1; t->syms && i < t->n; i++) {
		GElf_Sym s;
		const char *name;
		size_t n;

		if (!gelf_getsym(t->syms, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
		    s.st_value != vaddr || s.st_name >= t->strsz)
			continue;
		name = t->str + s.st_name;
		n = strnlen(name, t->strsz - s.st_name);
		if (n == t->strsz - s.st_name || n < plen || memcmp(name, prefix, plen) || n >= len)
			continue;
		memcpy(buf, name, n + 1);
		return true;
	}
	return false;
}

bool
elfmod_symbol_at(const struct elfmod *m, uint64_t vaddr, const char *prefix, char *buf,
		 size_t len)
{
	return table_symbol_at(&m->dynsym, vaddr, prefix, buf, len) ||
	       table_symbol_at(&m->symtab, vaddr, prefix, buf, len);
}

/* The function or object symbol whose [value, value + size) holds vaddr; the
 * closest start wins when sizes overlap (aliases, nested objects). */
static bool
table_symbol_near(const struct elfsyms *t, uint64_t vaddr, GElf_Sym *best, const char **bname)
{
	bool found = false;

	for (size_t i = 1; t->syms && i < t->n; i++) {
		GElf_Sym s;
		int type;

		if (!gelf_getsym(t->syms, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
		    s.st_name >= t->strsz || vaddr < s.st_value)
			continue;
		type = GELF_ST_TYPE(s.st_info);
		if (type != STT_FUNC && type != STT_OBJECT && type != STT_TLS)
			continue;
		if (vaddr - s.st_value >= (s.st_size ? s.st_size : 1))
			continue;
		if (found && s.st_value <= best->st_value)
			continue;
		*best = s;
		*bname = t->str + s.st_name;
		found = true;
	}
	return found;
}

bool
elfmod_symbol_near(const struct elfmod *m, uint64_t vaddr, char *buf, size_t len, uint64_t *off)
{
	GElf_Sym s, s2;
	const char *name = NULL, *name2 = NULL;
	const struct elfsyms *t = &m->symtab;
	bool a = table_symbol_near(&m->symtab, vaddr, &s, &name);
	bool b = table_symbol_near(&m->dynsym, vaddr, &s2, &name2);
	size_t n, max;

	if (!a && !b)
		return false;
	if (!a || (b && s2.st_value > s.st_value)) {
		s = s2;
		name = name2;
		t = &m->dynsym;
	}
	max = t->strsz - (size_t)(name - t->str);
	n = strnlen(name, max);
	if (n == max || !len)
		return false;
	if (n >= len)
		n = len - 1;
	memcpy(buf, name, n);
	buf[n] = '\0';
	*off = vaddr - s.st_value;
	return true;
}

bool
elfmod_symbol_span(const struct elfmod *m, uint64_t vaddr, uint64_t *start, uint64_t *size)
{
	GElf_Sym s, s2;
	const char *name = NULL, *name2 = NULL;
	bool a = table_symbol_near(&m->symtab, vaddr, &s, &name);
	bool b = table_symbol_near(&m->dynsym, vaddr, &s2, &name2);

	if (!a && !b)
		return false;
	if (!a || (b && s2.st_value > s.st_value))
		s = s2;
	*start = s.st_value;
	*size = s.st_size ? s.st_size : 1;
	return true;
}

bool
elfmod_dynsym_defines(const struct elfmod *m, const char *name)
{
	GElf_Sym s;

	return table_lookup(&m->dynsym, name, &s) && GELF_ST_BIND(s.st_info) != STB_LOCAL;
}

bool
elfmod_read_vaddr(const struct elfmod *m, uint64_t vaddr, void *buf, size_t len)
{
	for (size_t i = 0; i < m->nload; i++) {
		const GElf_Phdr *ph = &m->load[i];

		if (vaddr < ph->p_vaddr || !range_ok(vaddr - ph->p_vaddr, len, ph->p_filesz))
			continue;
		memcpy(buf, (const char *)m->map + ph->p_offset + (vaddr - ph->p_vaddr), len);
		return true;
	}
	return false;
}

bool
elfmod_find_bytes(const struct elfmod *m, const void *needle, size_t nlen, uint64_t *vaddr)
{
	return elfmod_find_bytes_from(m, needle, nlen, 0, vaddr);
}

bool
elfmod_find_bytes_from(const struct elfmod *m, const void *needle, size_t nlen, uint64_t from,
		       uint64_t *vaddr)
{
	uint64_t best = UINT64_MAX;

	if (!nlen)
		return false;
	for (size_t i = 0; i < m->nload; i++) {
		const GElf_Phdr *ph = &m->load[i];
		const char *seg = (const char *)m->map + ph->p_offset;
		uint64_t skip = from > ph->p_vaddr ? from - ph->p_vaddr : 0;
		const char *hit;

		if (skip >= ph->p_filesz)
			continue;
		hit = memmem(seg + skip, ph->p_filesz - skip, needle, nlen);
		if (hit && ph->p_vaddr + (uint64_t)(hit - seg) < best)
			best = ph->p_vaddr + (uint64_t)(hit - seg);
	}
	if (best == UINT64_MAX)
		return false;
	*vaddr = best;
	return true;
}

uint64_t
elfmod_writable_start(const struct elfmod *m)
{
	uint64_t low = UINT64_MAX;

	for (size_t i = 0; i < m->nload; i++)
		if ((m->load[i].p_flags & PF_W) && m->load[i].p_vaddr < low)
			low = m->load[i].p_vaddr;
	return low;
}

uint64_t
elfmod_bias(const struct elfmod *m, uint64_t map_start)
{
	uint64_t low = UINT64_MAX;

	if (!m->dyn)
		return 0;
	for (size_t i = 0; i < m->nload; i++)
		if (m->load[i].p_vaddr < low)
			low = m->load[i].p_vaddr;
	if (low == UINT64_MAX)
		low = 0;
	return map_start - (low & ~(X86_64_PAGE - 1));
}

bool
elf_note_next(const uint8_t *buf, size_t len, size_t align, size_t *pos, struct elf_note *n)
{
	uint32_t w[3];
	uint64_t name_off, desc_off, next;

	if (align != 8)
		align = 4;
	if (*pos >= len || len - *pos < 12)
		return false;
	memcpy(w, buf + *pos, 12);
	name_off = (uint64_t)*pos + 12;
	desc_off = name_off + (((uint64_t)w[0] + align - 1) & ~(uint64_t)(align - 1));
	if (desc_off > len || w[1] > len - desc_off)
		return false;
	next = desc_off + (((uint64_t)w[1] + align - 1) & ~(uint64_t)(align - 1));
	n->namesz = w[0];
	n->descsz = w[1];
	n->type = w[2];
	n->name = (const char *)buf + name_off;
	n->desc = buf + desc_off;
	*pos = next < len ? (size_t)next : len; /* the last note's padding may be absent */
	return true;
}

bool
elf_note_is(const struct elf_note *n, const char *name)
{
	size_t l = strlen(name) + 1;

	return n->namesz == l && !memcmp(n->name, name, l);
}

bool
elfmod_build_id(const struct elfmod *m, uint8_t *id, size_t *len)
{
	size_t nph;

	if (elf_getphdrnum(m->elf, &nph) || nph > m->size / sizeof(Elf32_Phdr))
		return false;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		struct elf_note n;
		size_t pos = 0;

		if (!gelf_getphdr(m->elf, (int)i, &ph) || ph.p_type != PT_NOTE ||
		    !range_ok(ph.p_offset, ph.p_filesz, m->size))
			continue;
		while (elf_note_next((const uint8_t *)m->map + ph.p_offset, ph.p_filesz,
				     ph.p_align, &pos, &n))
			if (n.type == NT_GNU_BUILD_ID && elf_note_is(&n, "GNU") && n.descsz &&
			    n.descsz <= ELFMOD_BUILD_ID_MAX) {
				memcpy(id, n.desc, n.descsz);
				*len = n.descsz;
				return true;
			}
	}
	return false;
}

bool
elfmod_load_flags(const struct elfmod *m, uint64_t off, unsigned *flags)
{
	for (size_t i = 0; i < m->nload; i++) {
		const GElf_Phdr *ph = &m->load[i];
		/* the loader maps whole pages */
		uint64_t lo = ph->p_offset & ~(X86_64_PAGE - 1);

		if (off >= lo && off - lo < ph->p_offset - lo + ph->p_filesz) {
			*flags = ph->p_flags;
			return true;
		}
	}
	return false;
}
