/*
 * libc.c - finding malloc's static state in libc.so.6 (see libc.h).
 *
 * Everything here runs before the target is stopped: the ELF file is read
 * through /proc/PID/map_files, code is disassembled from the file, and the
 * one word that only exists at run time (the TLS offset of `tcache`, in a
 * GOT slot filled by the dynamic linker) is read from the target's memory;
 * it does not change after relocation.
 */
#include <capstone.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "error.h"
#include "elfmod.h"
#include "libc.h"
#include "xmalloc.h"

#define MAX_FUNC_BYTES 4096

static csh
cs_handle(void)
{
	static csh h;
	static bool ready;

	if (!ready) {
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
			error_msg_and_die(EXIT_FAIL, "capstone: cannot open an x86-64 disassembler");
		cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
		ready = true;
	}
	return h;
}

static bool
rip_mem_operand(const cs_insn *in, int opidx, uint64_t *target)
{
	const cs_x86 *x = &in->detail->x86;

	if (opidx >= x->op_count || x->operands[opidx].type != X86_OP_MEM ||
	    x->operands[opidx].mem.base != X86_REG_RIP || x->operands[opidx].mem.index != X86_REG_INVALID)
		return false;
	*target = in->address + in->size + (uint64_t)x->operands[opidx].mem.disp;
	return true;
}

bool
libc_find_first_lea(const uint8_t *code, size_t len, uint64_t addr, uint64_t *target)
{
	csh h = cs_handle();
	cs_insn *in;
	size_t n = cs_disasm(h, code, len, addr, 200, &in);
	bool found = false;

	for (size_t i = 0; i < n && !found; i++) {
		if (in[i].id == X86_INS_LEA && rip_mem_operand(&in[i], 1, target))
			found = true;
		if (in[i].id == X86_INS_RET)
			break;
	}
	cs_free(in, n);
	return found;
}

/* In malloc: "mov r, [rip+slot]" then, within a few instructions, a load
 * through fs:[r]; after it the first "cmp r, [rip+X]" reads mp_.tcache_bins
 * (up to 2.41).  True when the slot is found; *tcache_bins is 0 when no such
 * cmp follows. */
bool
libc_find_tcache_refs(const uint8_t *code, size_t len, uint64_t addr, uint64_t *got_slot,
		      uint64_t *tcache_bins)
{
	csh h = cs_handle();
	cs_insn *in;
	size_t n = cs_disasm(h, code, len, addr, 200, &in);
	bool have_slot = false, have_bins = false;
	size_t slot_at = 0;

	for (size_t i = 0; i < n && !have_slot; i++) {
		uint64_t slot;
		cs_x86 *x = &in[i].detail->x86;

		if (in[i].id != X86_INS_MOV || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
		    !rip_mem_operand(&in[i], 1, &slot))
			continue;
		for (size_t j = i + 1; j < n && j <= i + 3; j++) {
			cs_x86 *y = &in[j].detail->x86;

			for (int k = 0; k < y->op_count; k++)
				if (y->operands[k].type == X86_OP_MEM &&
				    y->operands[k].mem.segment == X86_REG_FS &&
				    y->operands[k].mem.base == x->operands[0].reg) {
					*got_slot = slot;
					have_slot = true;
					slot_at = j;
				}
		}
	}
	for (size_t i = slot_at + 1; have_slot && i < n && i < slot_at + 12; i++) {
		cs_x86 *x = &in[i].detail->x86;

		if (in[i].id == X86_INS_CMP && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
		    rip_mem_operand(&in[i], 1, tcache_bins)) {
			have_bins = true;
			break;
		}
	}
	cs_free(in, n);
	if (!have_bins)
		*tcache_bins = 0;
	return have_slot;
}

bool
libc_parse_version(const char *s, size_t len, int *minor)
{
	static const char key[] = "release version 2.";
	const char *p = memmem(s, len, key, sizeof(key) - 1);
	int v = 0, digits = 0;

	if (!p)
		return false;
	p += sizeof(key) - 1;
	while (p < s + len && *p >= '0' && *p <= '9' && digits < 3) {
		v = v * 10 + (*p - '0');
		p++;
		digits++;
	}
	if (!digits || (p < s + len && *p >= '0' && *p <= '9'))
		return false;
	*minor = v;
	return true;
}

static bool
read_version(struct elfmod *m, int *minor)
{
	static const char key[] = "release version 2.";
	uint64_t at;
	char buf[sizeof(key) + 8];

	if (!elfmod_find_bytes(m, key, sizeof(key) - 1, &at))
		return false;
	memset(buf, 0, sizeof(buf));
	if (!elfmod_read_vaddr(m, at, buf, sizeof(key) - 1 + 3) &&
	    !elfmod_read_vaddr(m, at, buf, sizeof(key) - 1 + 2))
		return false;
	return libc_parse_version(buf, sizeof(buf), minor);
}

/* Read a function's code from the file; returns its length (0 on failure). */
static size_t
func_code(struct elfmod *m, const char *name, uint8_t *buf, uint64_t *addr)
{
	uint64_t size;

	if (!elfmod_symbol(m, name, addr, &size) || size == 0)
		return 0;
	if (size > MAX_FUNC_BYTES)
		size = MAX_FUNC_BYTES;
	return elfmod_read_vaddr(m, *addr, buf, size) ? size : 0;
}

/* Majority vote of the first LEA in functions that start from main_arena. */
static bool
find_main_arena(struct elfmod *m, uint64_t *out)
{
	static const char *const funcs[] = { "malloc_trim", "mallinfo2", "malloc_stats", "mallinfo" };
	uint64_t cand[4];
	int ncand = 0, best = 0;
	uint8_t *code = xmalloc(MAX_FUNC_BYTES);

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		uint64_t addr, t;
		size_t len = func_code(m, funcs[i], code, &addr);

		if (len && libc_find_first_lea(code, len, addr, &t))
			cand[ncand++] = t;
	}
	free(code);
	for (int i = 0; i < ncand; i++) {
		int votes = 0;

		for (int j = 0; j < ncand; j++)
			votes += cand[j] == cand[i];
		if (votes > best) {
			best = votes;
			*out = cand[i];
		}
	}
	return best >= 2 || (best == 1 && ncand == 1);
}

/* mp_ by its initial bytes in libc's .data (statically initialised since
 * 2.15): trim_threshold and mmap_threshold 128 KiB, arena_test 8,
 * n_mmaps_max 65536, counters 0, and from 2.26 the tcache defaults (64 bins,
 * 7 chunks each, 1032 bytes).  Needs no disassembly, so it holds whatever
 * code the compiler made of malloc.  2.12-2.14 keep mp_ in .bss, zero until
 * malloc's first call: not here; glibc_find_mp finds it in memory. */
static bool
mp_matches(const uint8_t *b, const struct glibc_layout *lay)
{
	uint64_t q;
	uint32_t d;

#define Q(off, want) (memcpy(&q, b + (off), 8), q == (uint64_t)(want))
#define D(off, want) (memcpy(&d, b + (off), 4), d == (uint32_t)(want))
	if (!Q(0, 128 * 1024) || !Q(16, 128 * 1024) || !Q(lay->mp_arena_test, 8) ||
	    !Q(lay->mp_arena_test + 8, 0) || !D(lay->mp_n_mmaps, 0) ||
	    !D(lay->mp_n_mmaps + 4, 65536) || !Q(lay->mp_mmapped_mem, 0) ||
	    !Q(lay->mp_sbrk_base, 0))
		return false;
	if (lay->mp_tcache_bins &&
	    (!Q(lay->mp_tcache_bins, lay->tc_small_bins) || !Q(lay->mp_tcache_count, 7) ||
	     !Q(lay->mp_tcache_max_bytes, (lay->tc_small_bins - 1) * 16 + 24)))
		return false;
#undef Q
#undef D
	return true;
}

static bool
find_mp_data(struct elfmod *m, const struct glibc_layout *lay, uint64_t *out)
{
	static const uint64_t trim = 128 * 1024;
	uint8_t buf[256];
	uint64_t at = elfmod_writable_start(m);
	int found = 0;

	if (lay->mp_size > sizeof(buf) || at == UINT64_MAX)
		return false;
	while (elfmod_find_bytes_from(m, &trim, sizeof(trim), at, &at)) {
		if (!(at & 7) && elfmod_read_vaddr(m, at, buf, lay->mp_size) && mp_matches(buf, lay)) {
			*out = at;
			found++;
		}
		at++;
	}
	return found == 1; /* two matches: neither can be trusted */
}

static bool
read_target_word(void *ctx, uint64_t addr, uint64_t *out)
{
	pid_t pid = *(const pid_t *)ctx;
	struct iovec l = { out, 8 }, r = { (void *)(uintptr_t)addr, 8 };

	return process_vm_readv(pid, &l, 1, &r, 1, 0) == 8;
}

int
libc_locate(pid_t pid, const struct allocator_info *a, struct libc_info *out, char *why,
	    size_t whylen)
{
	return libc_locate_file(a->libc_file, a->libc->path, a->libc->start, read_target_word, &pid,
				out, why, whylen);
}

const char *
libc_found_by_name(enum libc_found_by f)
{
	switch (f) {
	case FOUND_CODE:
		return "libc code";
	case FOUND_MEMORY:
		return "memory";
	default:
		return NULL;
	}
}

int
libc_locate_file(const char *file, const char *shown, uint64_t map_start,
		 bool (*read_word)(void *ctx, uint64_t addr, uint64_t *out), void *ctx,
		 struct libc_info *out, char *why, size_t whylen)
{
	char err[256];
	struct elfmod *m;
	uint64_t addr, slot, bins;
	uint8_t *code;
	size_t len;

	memset(out, 0, sizeof(*out));
	m = elfmod_open(file, err, sizeof(err));
	if (!m) {
		snprintf(why, whylen, "cannot read %s: %s", shown, err);
		return EXIT_FAIL;
	}
	out->bias = elfmod_bias(m, map_start);
	if (!read_version(m, &out->minor)) {
		snprintf(why, whylen, "%s has no glibc version string; not a glibc libc.so.6", shown);
		elfmod_close(m);
		return EXIT_UNSUPPORTED;
	}
	snprintf(out->version, sizeof(out->version), "2.%d", out->minor);
	out->lay = glibc_layout_for(out->minor);
	if (!out->lay) {
		snprintf(why, whylen, "glibc %s (%s) is not supported: heapscan knows the malloc "
			 "layout of glibc 2.%d to 2.%d", out->version, shown,
			 glibc_layout_at(0)->minor_min, glibc_layout_last()->minor_max);
		elfmod_close(m);
		return EXIT_UNSUPPORTED;
	}
	if (!find_main_arena(m, &addr)) {
		snprintf(why, whylen, "cannot find main_arena in %s (glibc %s): the code of "
			 "malloc_trim/mallinfo2/malloc_stats does not match", shown, out->version);
		elfmod_close(m);
		return EXIT_UNSUPPORTED;
	}
	out->main_arena = addr + out->bias;

	if (!out->lay->tc_bins) {
		/* no tcache before 2.26: nothing thread-local to find */
		out->mp = find_mp_data(m, out->lay, &addr) ? addr + out->bias : 0;
		elfmod_close(m);
		out->found_by = FOUND_CODE;
		return EXIT_OK;
	}
	code = xmalloc(MAX_FUNC_BYTES);
	len = func_code(m, "malloc", code, &addr);
	if (len && libc_find_tcache_refs(code, len, addr, &slot, &bins)) {
		uint64_t v;

		/* up to 2.41 that cmp reads mp_.tcache_bins; 2.42 compares with
		 * tcache_max_bytes first: mp_'s initial bytes decide there */
		if (out->minor <= 41 && bins)
			out->mp = bins + out->bias - out->lay->mp_tcache_bins;
		if (read_word(ctx, slot + out->bias, &v)) {
			out->tcache_tpoff = (int64_t)v;
			out->have_tpoff = true;
		}
	}
	if (find_mp_data(m, out->lay, &addr))
		out->mp = addr + out->bias;
	free(code);
	elfmod_close(m);
	out->found_by = FOUND_CODE;
	return EXIT_OK;
}
