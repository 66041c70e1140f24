/*
 * unwind.c - every thread's backtrace, from the copy (see unwind.h).
 *
 * libunwind walks a remote address space whose accessors we supply:
 *
 *   access_reg      the thread's user_regs_struct as read in the stop window
 *   access_mem      scan.img (stacks, .data: the copy), then scan.ro (the
 *                   modules' read-only mappings: .eh_frame, .eh_frame_hdr),
 *                   then the module's file (code bytes, which libunwind reads
 *                   to spot signal trampolines); the vdso, which no file
 *                   backs, is in scan.ro too (the source copies it)
 *   find_proc_info  the module's PT_GNU_EH_FRAME binary-search table, handed
 *                   to libunwind's DWARF search (below)
 *
 * Why not libunwind-ptrace's _UPT_find_proc_info: it reads nothing through
 * ptrace, but it re-reads the (now running) target's /proc/PID/maps for every
 * change of module, opens the paths written there in heapscan's own mount
 * namespace, trusts the ELF file's offsets unchecked and abort()s on an
 * .eh_frame_hdr table encoding it does not know.  The file is the target's,
 * so hostile; here it is opened where the source says (map_entry.file), every read is
 * bounds-checked, and the table is validated before libunwind sees it.
 * _Ux86_64_dwarf_search_unwind_table is what _UPT_find_proc_info and
 * _UCD_find_proc_info call; libunwind-ptrace.so imports it from libunwind, so
 * it stays exported, though no public header declares it.
 *
 * The .eh_frame_hdr we accept (LSB; what every x86-64 linker writes):
 *
 *   u8 version = 1 | u8 eh_frame_ptr_enc | u8 fde_count_enc | u8 table_enc
 *   eh_frame_ptr   (encoded, skipped)
 *   fde_count      (encoded: udata4/sdata4/udata8/sdata8/absptr)
 *   table          fde_count x { s32 initial_loc, s32 fde } relative to the
 *                  header's start (table_enc = datarel|sdata4 = 0x3b)
 *
 * Symbols: each module's .symtab and .dynsym function symbols, sorted once
 * per module and looked up by binary search: a backtrace of many threads in a
 * program with a large .symtab makes many look-ups, and elfmod_symbol_near
 * scans every symbol for each.  elfmod also opens files by path only, not
 * the vdso's bytes, so this file keeps its own small ELF reader (libelf over
 * a private mapping, like elfmod).  Both could move into elfmod.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <libiberty/demangle.h>
#include <libunwind.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "allocator.h"
#include "error.h"
#include "json.h"
#include "unwind.h"
#include "xmalloc.h"

#define PAGE 4096ULL
#define VDSO_MAX (1u << 20)
#define EH_TABLE_ENC 0x3b /* DW_EH_PE_datarel | DW_EH_PE_sdata4 */
#define MAX_NAME 1024

/* Not in libunwind's public headers; see the comment at the top. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

struct usym {
	uint64_t value, size;
	const char *name; /* inside the module's string table */
	int rank;         /* lower wins among symbols at one address */
};

struct uload {
	uint64_t vaddr, offset, filesz;
};

/* One loaded module (or the vdso) as heapscan sees its file. */
struct umod {
	const char *path;   /* the map entry's path */
	uint64_t lo, hi;    /* target addresses of its mappings */
	bool ok;            /* ELF parsed; otherwise only path and range */
	void *bytes;        /* the file: private mapping (or malloc'd, vdso) */
	size_t size;
	bool mapped;
	Elf *elf;
	uint64_t bias;
	uint64_t text_lo, text_hi; /* link-time span of all PT_LOADs */
	struct uload *load;
	size_t nload;
	bool have_eh;
	uint64_t eh_hdr, eh_table, eh_count; /* link-time addresses, FDE count */
	struct usym *syms;
	size_t nsyms;
};

struct uctx {
	const struct scan *s;
	struct umod *mods;
	size_t nmods, capmods;
	const struct user_regs_struct *regs; /* the thread being walked */
};

/* ---- reading the module file ---- */

static bool
range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* len bytes of the file image at link-time address vaddr, within one PT_LOAD. */
static bool
umod_read(const struct umod *m, uint64_t vaddr, void *buf, size_t len)
{
	for (size_t i = 0; i < m->nload; i++) {
		const struct uload *l = &m->load[i];

		if (vaddr < l->vaddr || !range_ok(vaddr - l->vaddr, len, l->filesz))
			continue;
		memcpy(buf, (const char *)m->bytes + l->offset + (vaddr - l->vaddr), len);
		return true;
	}
	return false;
}

static int
usym_cmp(const void *a, const void *b)
{
	const struct usym *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

static int
sym_rank(const GElf_Sym *s, const char *name)
{
	int r = GELF_ST_BIND(s->st_info) == STB_GLOBAL ? 0 :
		GELF_ST_BIND(s->st_info) == STB_WEAK   ? 1 : 2;

	while (*name++ == '_') /* memcpy over __memcpy_avx_unaligned */
		r += 4;
	return r;
}

static void
umod_symbols(struct umod *m)
{
	Elf_Scn *scn = NULL;
	size_t cap = 0;

	while ((scn = elf_nextscn(m->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
			continue;
		/* d_size, not sh_size: libelf checked it against the file */
		for (size_t i = 1; i < d->d_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF || !s.st_value ||
			    !s.st_size ||
			    (GELF_ST_TYPE(s.st_info) != STT_FUNC &&
			     GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC) ||
			    !(name = elf_strptr(m->elf, sh.sh_link, s.st_name)) || !*name)
				continue;
			m->syms = xgrow(m->syms, &cap, m->nsyms + 1, sizeof(*m->syms));
			m->syms[m->nsyms++] = (struct usym){ s.st_value, s.st_size, name,
							     sym_rank(&s, name) };
		}
	}
	if (m->nsyms)
		qsort(m->syms, m->nsyms, sizeof(*m->syms), usym_cmp);
}

/* The name of the function holding link-time address v and its start. */
static const struct usym *
umod_symbol(const struct umod *m, uint64_t v)
{
	size_t lo = 0, hi = m->nsyms;

	while (lo < hi) { /* first symbol with value > v */
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].value <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Nested or overlapping symbols are rare: look back a little.  Among
	 * symbols at one address the first sorted (best ranked) that covers v. */
	for (size_t k = 0; k < 16 && lo > 0; k++, lo--) {
		const struct usym *best = &m->syms[lo - 1];

		if (v - best->value >= best->size)
			continue;
		for (size_t j = lo - 1; j > 0 && m->syms[j - 1].value == best->value; j--)
			if (v - m->syms[j - 1].value < m->syms[j - 1].size)
				best = &m->syms[j - 1];
		return best;
	}
	return NULL;
}

/* Skip (or read) one encoded pointer in the .eh_frame_hdr; false when the
 * encoding is not one a linker writes there. */
static bool
eh_encoded(const struct umod *m, uint64_t *at, uint8_t enc, uint64_t *val)
{
	uint32_t u32;
	uint64_t u64;

	switch (enc & 0x0f) {
	case 0x00: /* absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		if (!umod_read(m, *at, &u64, 8))
			return false;
		*at += 8;
		*val = u64;
		return true;
	case 0x03: /* udata4 */
	case 0x0b: /* sdata4 */
		if (!umod_read(m, *at, &u32, 4))
			return false;
		*at += 4;
		*val = (enc & 0x0f) == 0x0b ? (uint64_t)(int64_t)(int32_t)u32 : u32;
		return true;
	default:
		return false;
	}
}

static void
umod_eh_frame_hdr(struct umod *m, const GElf_Phdr *ph)
{
	uint8_t h[4];
	uint64_t at = ph->p_vaddr + 4, dummy, count;

	if (!umod_read(m, ph->p_vaddr, h, 4) || h[0] != 1 || h[3] != EH_TABLE_ENC ||
	    (h[2] & 0xf0) || !eh_encoded(m, &at, h[1], &dummy) || !eh_encoded(m, &at, h[2], &count))
		return;
	/* Every entry of the table must lie in the file: libunwind reads them. */
	if (at - ph->p_vaddr > ph->p_filesz || count > (ph->p_filesz - (at - ph->p_vaddr)) / 8 ||
	    !count)
		return;
	m->have_eh = true;
	m->eh_hdr = ph->p_vaddr;
	m->eh_table = at;
	m->eh_count = count;
}

/* Program headers: PT_LOADs (bounded by the file), bias, .eh_frame_hdr. */
static bool
umod_phdrs(struct umod *m, uint64_t base)
{
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t n;
	uint64_t first = UINT64_MAX;
	int eh_index = -1;

	if (!gelf_getehdr(m->elf, &eh) || gelf_getclass(m->elf) != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || elf_getphdrnum(m->elf, &n) != 0)
		return false;
	m->load = xcalloc(n ? n : 1, sizeof(*m->load));
	m->text_lo = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(m->elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_GNU_EH_FRAME)
			eh_index = (int)i;
		if (ph.p_type != PT_LOAD || !range_ok(ph.p_offset, ph.p_filesz, m->size) ||
		    ph.p_memsz < ph.p_filesz || ph.p_vaddr > UINT64_MAX - ph.p_memsz)
			continue;
		m->load[m->nload++] = (struct uload){ ph.p_vaddr, ph.p_offset, ph.p_filesz };
		if (ph.p_vaddr < m->text_lo)
			m->text_lo = ph.p_vaddr;
		if (ph.p_vaddr + ph.p_memsz > m->text_hi)
			m->text_hi = ph.p_vaddr + ph.p_memsz;
		if (ph.p_offset == 0 && first == UINT64_MAX)
			first = ph.p_vaddr;
	}
	if (!m->nload)
		return false;
	/* base maps file offset 0: the segment with p_offset 0 (ET_EXEC: 0 bias) */
	m->bias = eh.e_type == ET_DYN ? base - ((first == UINT64_MAX ? m->text_lo : first) & ~(PAGE - 1))
				      : 0;
	if (eh_index >= 0 && gelf_getphdr(m->elf, eh_index, &ph))
		umod_eh_frame_hdr(m, &ph);
	return true;
}

/* The file behind a mapping, mapped private and writable (libelf may convert
 * in place; the file is never changed). */
static void *
map_path(const char *path, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	void *p = MAP_FAILED;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 64)
		p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*size = (size_t)sb.st_size;
	return p;
}

static void
umod_open(struct uctx *c, struct umod *m, const struct map_entry *base)
{
	if (!strcmp(base->path, "[vdso]")) {
		uint64_t len = base->end - base->start;
		const void *v = len > VDSO_MAX ? NULL : image_ptr(&c->s->ro, base->start, len);

		if (!v)
			return;
		m->bytes = xmalloc(len);
		m->size = len;
		memcpy(m->bytes, v, len);
	} else {
		if (base->file)
			m->bytes = map_path(base->file, &m->size);
		if (!m->bytes)
			return;
		m->mapped = true;
	}
	m->elf = elf_memory(m->bytes, m->size);
	if (!m->elf || elf_kind(m->elf) != ELF_K_ELF || !umod_phdrs(m, base->start))
		return;
	umod_symbols(m);
	m->ok = true;
}

/* The module holding target address addr, opened on first use; NULL for
 * anonymous memory. */
static const struct umod *
module_at(struct uctx *c, uint64_t addr)
{
	const struct maps *mp = &c->s->maps;
	const struct map_entry *e = maps_find(mp, addr), *b;
	size_t i;
	struct umod *m;

	if (!e || (e->path[0] != '/' && strcmp(e->path, "[vdso]")))
		return NULL;
	for (i = 0; i < c->nmods; i++)
		if (addr >= c->mods[i].lo && addr < c->mods[i].hi)
			return &c->mods[i];
	/* The module: this mapping, back to its offset-0 mapping, and on to the
	 * last contiguous mapping of the same file. */
	i = (size_t)(e - mp->v);
	while (i > 0 && mp->v[i].offset && !strcmp(mp->v[i - 1].path, e->path) &&
	       mp->v[i - 1].end <= mp->v[i].start)
		i--;
	b = &mp->v[i];
	while (i + 1 < mp->n && !strcmp(mp->v[i + 1].path, e->path) && mp->v[i + 1].offset)
		i++;
	c->mods = xgrow(c->mods, &c->capmods, c->nmods + 1, sizeof(*c->mods));
	m = &c->mods[c->nmods++];
	memset(m, 0, sizeof(*m));
	m->path = e->path;
	m->lo = b->start;
	m->hi = mp->v[i].end;
	if (e->start < m->lo || e->end > m->hi) { /* an odd layout: just this mapping */
		m->lo = e->start;
		m->hi = e->end;
		b = e;
	}
	umod_open(c, m, b);
	return m;
}

static void
umod_free(struct umod *m)
{
	if (m->elf)
		elf_end(m->elf);
	if (m->mapped)
		munmap(m->bytes, m->size);
	else
		free(m->bytes);
	free(m->load);
	free(m->syms);
}

/* ---- libunwind's accessors ---- */

static bool
read_word(struct uctx *c, uint64_t addr, uint64_t *v)
{
	const struct map_entry *e;
	const struct umod *m;
	const void *p;

	if ((p = image_ptr(&c->s->img, addr, 8)) || (p = image_ptr(&c->s->ro, addr, 8))) {
		memcpy(v, p, 8);
		return true;
	}
	/* Not copied: only memory that cannot have changed since the stop. */
	e = maps_find(&c->s->maps, addr);
	if (!e || (e->perms & MAP_PERM_W) || addr > e->end - 8)
		return false;
	/* (anonymous executable memory, JIT code, is not copied: not read) */
	return (m = module_at(c, addr)) && m->ok && umod_read(m, addr - m->bias, v, 8);
}

static int
acc_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	uint64_t v;

	if (write || !read_word(arg, addr, &v))
		return -UNW_EINVAL;
	*val = v;
	return 0;
}

static int
acc_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	const struct user_regs_struct *r = ((struct uctx *)arg)->regs;

	if (write)
		return -UNW_EREADONLYREG;
	switch (reg) {
	case UNW_X86_64_RAX: *val = r->rax; break;
	case UNW_X86_64_RDX: *val = r->rdx; break;
	case UNW_X86_64_RCX: *val = r->rcx; break;
	case UNW_X86_64_RBX: *val = r->rbx; break;
	case UNW_X86_64_RSI: *val = r->rsi; break;
	case UNW_X86_64_RDI: *val = r->rdi; break;
	case UNW_X86_64_RBP: *val = r->rbp; break;
	case UNW_X86_64_RSP: *val = r->rsp; break;
	case UNW_X86_64_R8: *val = r->r8; break;
	case UNW_X86_64_R9: *val = r->r9; break;
	case UNW_X86_64_R10: *val = r->r10; break;
	case UNW_X86_64_R11: *val = r->r11; break;
	case UNW_X86_64_R12: *val = r->r12; break;
	case UNW_X86_64_R13: *val = r->r13; break;
	case UNW_X86_64_R14: *val = r->r14; break;
	case UNW_X86_64_R15: *val = r->r15; break;
	case UNW_X86_64_RIP: *val = r->rip; break;
	default: return -UNW_EBADREG;
	}
	return 0;
}

static int
acc_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg)
{
	return -UNW_EBADREG;
}

static int
acc_resume(unw_addr_space_t as, unw_cursor_t *cur, void *arg)
{
	return -UNW_EINVAL; /* never: the target is not ours to run */
}

static int
acc_proc_name(unw_addr_space_t as, unw_word_t ip, char *buf, size_t len, unw_word_t *off,
	      void *arg)
{
	return -UNW_ENOINFO; /* heapscan names frames itself, from .symtab too */
}

static int
acc_dyn_list(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	return -UNW_ENOINFO; /* no JIT-registered unwind info */
}

static void
acc_put_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* The DWARF parser frees what its table search allocated itself. */
}

static int
acc_find_proc(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need, void *arg)
{
	const struct umod *m = module_at(arg, ip);
	unw_dyn_info_t di;

	if (!m || !m->ok || !m->have_eh || ip < m->text_lo + m->bias || ip >= m->text_hi + m->bias)
		return -UNW_ENOINFO;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = m->text_lo + m->bias;
	di.end_ip = m->text_hi + m->bias;
	di.u.rti.segbase = m->eh_hdr + m->bias;
	di.u.rti.table_data = m->eh_table + m->bias;
	di.u.rti.table_len = m->eh_count * 8 / sizeof(unw_word_t);
	return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need, arg);
}

/* ---- walking one thread ---- */

static char *
frame_name(const struct umod *m, uint64_t lookup, uint64_t ip)
{
	const struct usym *sym = umod_symbol(m, lookup - m->bias);
	char *dm = NULL, *out;

	if (!sym)
		return NULL;
	if (!strncmp(sym->name, "_Z", 2))
		dm = cplus_demangle_v3(sym->name, DMGL_PARAMS | DMGL_ANSI);
	out = xasprintf("%.*s+0x%" PRIx64, MAX_NAME, dm ? dm : sym->name,
			ip - m->bias - sym->value);
	free(dm);
	return out;
}

/* Frame i+1's ip is a return address unless frame i is a signal frame: name
 * the call (ip - 1), which may be the last byte of a noreturn caller. */
static void
symbolize(struct uctx *c, struct unwind_frame *f, bool after_call)
{
	uint64_t look = after_call ? f->ip - 1 : f->ip;
	const struct umod *m = module_at(c, look);

	if (!m)
		return;
	f->module = m->path;
	if (!m->ok) { /* unreadable file: an offset from its first mapping */
		f->modoff = f->ip - m->lo;
		return;
	}
	f->modoff = f->ip - m->bias;
	f->func = frame_name(m, look, f->ip);
}

/* After unw_step said "no more frames": whether it said so because the last
 * frame (at lookup, the call for a return address) has no unwind info and no
 * frame pointer to follow, rather than because CFI marks the end. */
static const char *
why_ended(struct uctx *c, unw_addr_space_t as, uint64_t lookup)
{
	unw_proc_info_t pi;

	return unw_get_proc_info_by_ip(as, lookup, &pi, c) < 0 ?
		"no unwind information for the last frame" : NULL;
}

static void
walk(struct uctx *c, unw_addr_space_t as, struct unwind_thread *t)
{
	unw_cursor_t cur;
	size_t cap = 0;
	bool is_return = false; /* this frame's ip is a return address */
	uint64_t lookup = 0;    /* the last frame's ip as looked up: the call */
	int ret;

	if ((ret = unw_init_remote(&cur, as, c)) < 0) {
		t->stop = unw_strerror(ret);
		return;
	}
	for (;;) {
		unw_word_t ip, sp;
		struct unwind_frame *f;

		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || unw_get_reg(&cur, UNW_REG_SP, &sp) < 0) {
			t->stop = "registers of a frame not recovered";
			return;
		}
		if (!ip && t->n) { /* a return address of 0 ends the chain */
			t->stop = why_ended(c, as, lookup);
			return;
		}
		/* A signal handler may run on another stack (sigaltstack): only
		 * a return from a call must take the stack pointer up. */
		if (t->n && is_return && sp <= t->f[t->n - 1].sp) {
			t->stop = "stack pointer did not grow";
			return;
		}
		if (t->n == UNWIND_MAX_FRAMES) {
			t->stop = "frame limit reached";
			return;
		}
		t->f = xgrow(t->f, &cap, t->n + 1, sizeof(*t->f));
		f = &t->f[t->n++];
		*f = (struct unwind_frame){ .ip = ip, .sp = sp };
		symbolize(c, f, is_return);
		lookup = ip - is_return;
		is_return = unw_is_signal_frame(&cur) <= 0; /* for the next frame */
		ret = unw_step(&cur);
		if (ret == 0)
			t->stop = why_ended(c, as, lookup);
		else if (ret < 0)
			t->stop = unw_strerror(ret);
		if (ret <= 0)
			return;
	}
}

int
unwind_all(const struct scan *s, struct unwind_set *out)
{
	unw_accessors_t acc = {
		.find_proc_info = acc_find_proc,
		.put_unwind_info = acc_put_info,
		.get_dyn_info_list_addr = acc_dyn_list,
		.access_mem = acc_mem,
		.access_reg = acc_reg,
		.access_fpreg = acc_fpreg,
		.resume = acc_resume,
		.get_proc_name = acc_proc_name,
	};
	struct uctx c = { .s = s };
	unw_addr_space_t as;
	double t0 = now_ms();

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE) {
		error_msg("libelf is older than heapscan was built for");
		return -1;
	}
	if (!(as = unw_create_addr_space(&acc, 0))) {
		error_msg("libunwind: cannot create an address space");
		return -1;
	}
	unw_set_caching_policy(as, UNW_CACHE_GLOBAL);
	out->t = xcalloc(s->nthreads ? s->nthreads : 1, sizeof(*out->t));
	out->n = s->nthreads;
	for (size_t i = 0; i < s->nthreads; i++) {
		struct unwind_thread *t = &out->t[i];
		const struct map_entry *st;

		t->tid = s->regs[i].tid;
		snprintf(t->comm, sizeof(t->comm), "%s", s->regs[i].comm);
		if (!s->regs[i].have_regs) {
			t->stop = "registers not read at the stop";
			continue;
		}
		if ((st = maps_find(&s->maps, s->regs[i].regs.rsp))) {
			t->stack_start = st->start;
			t->stack_end = st->end;
		}
		c.regs = &s->regs[i].regs;
		walk(&c, as, t);
	}
	unw_destroy_addr_space(as);
	for (size_t i = 0; i < c.nmods; i++)
		umod_free(&c.mods[i]);
	free(c.mods);
	out->unwind_ms = now_ms() - t0;
	return 0;
}

const struct unwind_frame *
unwind_frame_at(const struct unwind_set *u, size_t thread, uint64_t addr, int *index)
{
	const struct unwind_thread *t;
	size_t i;

	if (index)
		*index = -1;
	if (thread >= u->n)
		return NULL;
	t = &u->t[thread];
	if (!t->n || addr < t->f[0].sp || addr < t->stack_start || addr >= t->stack_end)
		return NULL;
	for (i = 0; i + 1 < t->n && t->f[i + 1].sp <= addr; i++)
		;
	if (index)
		*index = (int)i;
	return &t->f[i];
}

void
unwind_free(struct unwind_set *u)
{
	for (size_t i = 0; i < u->n; i++) {
		for (size_t k = 0; k < u->t[i].n; k++)
			free(u->t[i].f[k].func);
		free(u->t[i].f);
	}
	free(u->t);
	memset(u, 0, sizeof(*u));
}

/* ---- --threads output ---- */

void
unwind_print_text(FILE *f, const struct scan *s, const struct unwind_set *u)
{
	fprintf(f, "process %d: %zu thread%s, ", (int)s->pid, u->n, u->n == 1 ? "" : "s");
	if (s->origin) {
		fputs("read from ", f);
		fput_printable(f, s->origin);
	} else {
		fputs("stopped ", f);
		fput_num(f, s->pause_ms, 2);
		fputs(" ms", f);
	}
	fputs(", unwound after in ", f);
	fput_num(f, u->unwind_ms, 2);
	fputs(" ms\n", f);
	for (size_t i = 0; i < u->n; i++) {
		const struct unwind_thread *t = &u->t[i];

		fprintf(f, "\nthread %d (", (int)t->tid);
		fput_printable(f, t->comm[0] ? t->comm : "?"); /* a core names only the process */
		fprintf(f, "): %zu frame%s\n", t->n, t->n == 1 ? "" : "s");
		for (size_t k = 0; k < t->n; k++) {
			const struct unwind_frame *fr = &t->f[k];

			fprintf(f, "  #%-3zu 0x%016" PRIx64 "  ", k, fr->ip);
			fput_printable(f, fr->func ? fr->func : "??");
			if (fr->module) {
				fputs(" (", f);
				fput_printable(f, fr->module);
				if (!fr->func)
					fprintf(f, "+0x%" PRIx64, fr->modoff);
				fputc(')', f);
			}
			fputc('\n', f);
		}
		if (t->stop)
			fprintf(f, "  (stopped: %s)\n", t->stop);
	}
}

static void
json_str_or_null(FILE *f, const char *s)
{
	if (s)
		json_str(f, s);
	else
		fputs("null", f);
}

void
unwind_print_json(FILE *f, const struct scan *s, const struct unwind_set *u)
{
	fprintf(f, "{\"pid\":%d,\"pause_ms\":", (int)s->pid);
	json_num(f, s->pause_ms, 3);
	fprintf(f, ",\"unwind_ms\":");
	json_num(f, u->unwind_ms, 3);
	fprintf(f, ",\"threads\":[");
	for (size_t i = 0; i < u->n; i++) {
		const struct unwind_thread *t = &u->t[i];

		fprintf(f, "%s{\"tid\":%d,\"comm\":", i ? "," : "", (int)t->tid);
		json_str(f, t->comm);
		fputs(",\"stop\":", f);
		json_str_or_null(f, t->stop);
		fputs(",\"frames\":[", f);
		for (size_t k = 0; k < t->n; k++) {
			const struct unwind_frame *fr = &t->f[k];

			fputs(k ? ",{\"ip\":" : "{\"ip\":", f);
			json_addr(f, fr->ip);
			fputs(",\"sp\":", f);
			json_addr(f, fr->sp);
			fputs(",\"function\":", f);
			json_str_or_null(f, fr->func);
			fputs(",\"module\":", f);
			json_str_or_null(f, fr->module);
			fputs(",\"offset\":", f);
			if (fr->module)
				json_addr(f, fr->modoff);
			else
				fputs("null", f);
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
}
