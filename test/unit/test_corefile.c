/*
 * test_corefile.c - the core file's note parsers on byte buffers: notes
 * walked with their padding, NT_PRSTATUS, NT_PRPSINFO and NT_FILE decoded,
 * and every malformed note refused without reading outside the buffer.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "elfmod.h"
#include "unit.h"

static size_t
put_note(uint8_t *b, const char *name, uint32_t type, const void *desc, uint32_t dlen)
{
	uint32_t h[3] = { (uint32_t)strlen(name) + 1, dlen, type };
	size_t o = 12, nl = (h[0] + 3) & ~3u;

	memcpy(b, h, 12);
	memset(b + o, 0, nl);
	memcpy(b + o, name, h[0]);
	o += nl;
	memcpy(b + o, desc, dlen);
	o += dlen;
	while (o % 4)
		b[o++] = 0;
	return o;
}

UNIT_TEST(core_notes_threads_psinfo_file)
{
	static uint8_t buf[4096], st[336], ps[136], fl[256];
	struct core_notes n = { 0 };
	uint64_t w[5] = { 1, 4096, 0x400000, 0x402000, 2 };
	char why[128];
	size_t len = 0;
	int32_t tid = 77;
	uint64_t rip = 0x401234;

	memcpy(st + 32, &tid, 4);
	memcpy(st + 112 + offsetof(struct user_regs_struct, rip), &rip, 8);
	tid = 76;
	memcpy(ps + 24, &tid, 4);
	memcpy(ps + 40, "prog", 4);
	memcpy(ps + 56, "prog -x  ", 9);
	memcpy(fl, w, sizeof(w));
	memcpy(fl + sizeof(w), "/bin/prog", 10);
	len += put_note(buf + len, "CORE", NT_PRPSINFO, ps, sizeof(ps));
	len += put_note(buf + len, "LINUX", 0x202, "xx", 2);
	len += put_note(buf + len, "CORE", NT_PRSTATUS, st, sizeof(st));
	len += put_note(buf + len, "CORE", NT_FILE, fl, sizeof(w) + 10);
	CHECK(core_parse_notes(buf, len, &n, why, sizeof(why)) == 0);
	CHECK(n.have_psinfo && n.pid == 76);
	CHECK(!strcmp(n.fname, "prog"));
	CHECK(!strcmp(n.psargs, "prog -x"));
	CHECK_EQ_U64(n.nt, 1);
	CHECK(n.nt == 1 && n.t[0].tid == 77 && n.t[0].regs.rip == rip);
	CHECK_EQ_U64(n.nf, 1);
	CHECK(n.nf == 1 && n.f[0].start == 0x400000 && n.f[0].end == 0x402000 &&
	      n.f[0].offset == 2 * 4096 && !strcmp(n.f[0].path, "/bin/prog"));
	core_notes_free(&n);

	/* the same notes cut anywhere inside: refused, never read past len */
	for (size_t cut = 1; cut < len; cut++) {
		uint8_t *c = malloc(cut);

		memcpy(c, buf, cut);
		/* only at a note's end (its padding may be left off) */
		if (core_parse_notes(c, cut, &n, why, sizeof(why)) == 0)
			CHECK(cut >= 12 + 8 + sizeof(ps) && n.nt <= 1 && n.nf <= 1);
		core_notes_free(&n);
		free(c);
	}
}

UNIT_TEST(core_notes_malformed)
{
	uint8_t st[100] = { 0 }, fl[64] = { 0 };
	struct core_thread t;
	struct core_file *f;
	size_t nf;
	uint64_t w[2];

	CHECK(!core_parse_prstatus(st, sizeof(st), &t)); /* too short */
	w[0] = 1ULL << 60, w[1] = 4096;                  /* count past the note */
	memcpy(fl, w, 16);
	CHECK(!core_parse_nt_file(fl, sizeof(fl), &f, &nf));
	w[0] = 1, w[1] = 3; /* page size not a power of two */
	memcpy(fl, w, 16);
	CHECK(!core_parse_nt_file(fl, sizeof(fl), &f, &nf));
	w[0] = 1, w[1] = 4096; /* start >= end */
	memcpy(fl, w, 16);
	memset(fl + 16, 0, 24);
	CHECK(!core_parse_nt_file(fl, sizeof(fl), &f, &nf));
	uint64_t e[3] = { 0x1000, 0x2000, 0 };
	memcpy(fl + 16, e, 24);
	memset(fl + 40, 'a', sizeof(fl) - 40); /* path without its NUL */
	CHECK(!core_parse_nt_file(fl, sizeof(fl), &f, &nf));
	fl[sizeof(fl) - 1] = 0;
	CHECK(core_parse_nt_file(fl, sizeof(fl), &f, &nf) && nf == 1);
	if (nf == 1) {
		free(f[0].path);
		free(f);
	}
}

UNIT_TEST(elf_note_bounds)
{
	uint8_t b[24] = { 0 };
	uint32_t h[3] = { 5, 0xfffffff0u, 1 };
	struct elf_note n;
	size_t pos = 0;

	memcpy(b, h, 12);
	memcpy(b + 12, "CORE", 5);
	CHECK(!elf_note_next(b, sizeof(b), 4, &pos, &n)); /* desc past the end */
	h[0] = 0xffffffffu;
	h[1] = 0;
	memcpy(b, h, 12);
	pos = 0;
	CHECK(!elf_note_next(b, sizeof(b), 4, &pos, &n)); /* name past the end */
	h[0] = 4;
	h[1] = 8;
	memcpy(b, h, 12);
	memcpy(b + 12, "GNU", 4);
	pos = 0;
	CHECK(elf_note_next(b, sizeof(b), 4, &pos, &n) && pos == 24 && elf_note_is(&n, "GNU") &&
	      n.descsz == 8);
}
