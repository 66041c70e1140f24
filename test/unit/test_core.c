/*
 * test_core.c - maps parsing, image bounds checks, and finding malloc's
 * state in libc code (on this machine's libc.so.6 and on hand-made bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "elfmod.h"
#include "glibc.h"
#include "image.h"
#include "libc.h"
#include "maps.h"
#include "unit.h"

UNIT_TEST(maps_parse_lines)
{
	static const char text[] =
		"55d0c8a1e000-55d0c8a3f000 rw-p 00000000 00:00 0                          [heap]\n"
		"7f0000000000-7f0000001000 r-xp 00001000 fd:01 1234   /usr/lib/with space (deleted)\n"
		"7f0000002000-7f0000003000 rw-s 00000000 00:05 99 /dev/shm/x\n";
	struct maps m;
	size_t bad = 0;

	CHECK(maps_parse(text, sizeof(text) - 1, &m, &bad) == 0);
	CHECK_EQ_U64(m.n, 3);
	CHECK_EQ_U64(m.v[0].start, 0x55d0c8a1e000ULL);
	CHECK(!strcmp(m.v[0].path, "[heap]"));
	CHECK(m.v[0].perms == (MAP_PERM_R | MAP_PERM_W | MAP_PERM_P));
	CHECK(map_is_copied(&m.v[0]) && map_is_anon(&m.v[0]));
	CHECK(!strcmp(m.v[1].path, "/usr/lib/with space (deleted)"));
	CHECK_EQ_U64(m.v[1].offset, 0x1000);
	CHECK(!map_is_copied(&m.v[1]));
	CHECK(!map_is_copied(&m.v[2])); /* shared */
	CHECK(maps_find(&m, 0x7f0000000800ULL) == &m.v[1]);
	CHECK(maps_find(&m, 0x7f0000001800ULL) == NULL);
	maps_free(&m);
}

UNIT_TEST(maps_parse_rejects_garbage)
{
	static const char *const bad[] = {
		"zzzz-1000 rw-p 0 00:00 0\n",
		"2000-1000 rw-p 00000000 00:00 0\n",           /* end before start */
		"1000-2000 rwxq 00000000 00:00 0\n",
		"1000-2000 rw-p 00000000 00:00\n",              /* no inode */
		"1000-2000 rw-p 0 00:00 0\n0500-0800 rw-p 0 00:00 0\n", /* unsorted */
		"11111111111111111-2000 rw-p 0 00:00 0\n",       /* 17 hex digits */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct maps m;
		size_t line = 0;

		CHECK(maps_parse(bad[i], strlen(bad[i]), &m, &line) == -22);
		CHECK(line >= 1);
	}
}

UNIT_TEST(image_bounds)
{
	struct image img;
	unsigned char buf[64];
	uint64_t v;

	memset(buf, 0xab, sizeof(buf));
	image_init(&img);
	CHECK(image_add_copy(&img, 0x1000, buf, sizeof(buf), 3, "") == 0);
	CHECK(image_add_copy(&img, 0x1020, buf, 8, 3, "") == -1); /* overlaps */
	CHECK(image_add_copy(&img, UINT64_MAX - 4, buf, 8, 3, "") == -1); /* wraps */
	CHECK(image_add_copy(&img, 0x800, buf, 16, 3, "") == 0);
	CHECK(img.r[0].start == 0x800); /* kept sorted */
	CHECK(image_u64(&img, 0x1000, &v) && v == 0xababababababababULL);
	CHECK(image_u64(&img, 0x1038, &v));
	CHECK(!image_u64(&img, 0x1039, &v)); /* would cross the end */
	CHECK(!image_u64(&img, 0xfff, &v));
	CHECK(!image_ptr(&img, 0x1000, 65));
	CHECK(!image_ptr(&img, 0x1008, UINT64_MAX));
	CHECK(!image_u64(&img, UINT64_MAX - 3, &v));
	image_free(&img);
}

UNIT_TEST(image_holes)
{
	struct image img;
	unsigned char buf[0x3000] = { 0 };
	uint64_t v;

	image_init(&img);
	image_add_copy(&img, 0x10000, buf, sizeof(buf), 3, "");
	img.r[0].holes = calloc(1, sizeof(*img.r[0].holes));
	img.r[0].holes[0] = (struct image_hole){ 0x11000, 0x12000 };
	img.r[0].nholes = 1;
	CHECK(image_u64(&img, 0x10ff8, &v));
	CHECK(!image_u64(&img, 0x10ffc, &v)); /* straddles into the hole */
	CHECK(!image_u64(&img, 0x11800, &v));
	CHECK(image_u64(&img, 0x12000, &v));
	image_free(&img);
}

UNIT_TEST(libc_version_string)
{
	static const char ok[] = "GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.";
	int minor = 0;

	CHECK(libc_parse_version(ok, sizeof(ok) - 1, &minor) && minor == 36);
	CHECK(!libc_parse_version("release version 3.1", 19, &minor));
	CHECK(!libc_parse_version("release version 2.", 18, &minor));
	CHECK(!libc_parse_version("release version 2.1234", 22, &minor));
	CHECK(glibc_layout_for(36) != NULL);
	/* 2.12 to 2.42 in order: each row starts after the one before, or
	 * repeats its range (another build of the same versions: 2.12-2.14
	 * without PER_THREAD, never the one glibc_layout_for gives) */
	for (int v = 12; v <= 42; v++)
		CHECK(glibc_layout_for(v) != NULL);
	CHECK(glibc_layout_for(11) == NULL);
	CHECK(glibc_layout_for(43) == NULL);
	for (size_t i = 0; glibc_layout_at(i + 1); i++) {
		const struct glibc_layout *a = glibc_layout_at(i), *b = glibc_layout_at(i + 1);

		CHECK(a->minor_max + 1 == b->minor_min ||
		      (a->minor_min == b->minor_min && a->minor_max == b->minor_max &&
		       glibc_layout_for(b->minor_min) != b));
	}
	CHECK(glibc_layout_for(12)->mp_arena_test == 24); /* PER_THREAD first, as RHEL 6 */
	CHECK(glibc_layout_for(34) != glibc_layout_for(35)); /* heap_info, mp_ hp fields */
	CHECK(glibc_layout_for(41) != glibc_layout_for(42)); /* the tcache rework */
}

UNIT_TEST(libc_code_patterns_synthetic)
{
	/* at 0x1000: push rbx; lea rax,[rip+0x100]; ret */
	static const uint8_t lea[] = { 0x53, 0x48, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00, 0xc3 };
	/* mov r12,[rip+0x200]; mov rdx,fs:[r12]; test rdx,rdx; cmp rbp,[rip+0x300] */
	static const uint8_t tc[] = { 0x4c, 0x8b, 0x25, 0x00, 0x02, 0x00, 0x00,
				      0x64, 0x49, 0x8b, 0x14, 0x24,
				      0x48, 0x85, 0xd2,
				      0x48, 0x3b, 0x2d, 0x00, 0x03, 0x00, 0x00 };
	static const uint8_t ret_only[] = { 0xc3, 0x48, 0x8d, 0x05, 0, 0, 0, 0 };
	uint64_t t, slot, bins;

	CHECK(libc_find_first_lea(lea, sizeof(lea), 0x1000, &t));
	CHECK_EQ_U64(t, 0x1000 + 8 + 0x100);
	CHECK(!libc_find_first_lea(ret_only, sizeof(ret_only), 0x1000, &t));
	CHECK(libc_find_tcache_refs(tc, sizeof(tc), 0x2000, &slot, &bins));
	CHECK_EQ_U64(slot, 0x2000 + 7 + 0x200);
	CHECK_EQ_U64(bins, 0x2000 + 22 + 0x300);
	CHECK(!libc_find_tcache_refs(lea, sizeof(lea), 0x2000, &slot, &bins));
	/* the slot without the cmp after it: found, bins 0 */
	CHECK(libc_find_tcache_refs(tc, 15, 0x2000, &slot, &bins));
	CHECK_EQ_U64(bins, 0);
}

/* This machine's libc: the same answer as its debug info gives (see
 * shared/GLIBC-FACTS.md: main_arena at libc+0x1d3c60 on Debian 12's 2.36). */
UNIT_TEST(libc_code_patterns_real_libc)
{
	char err[128];
	struct elfmod *m = elfmod_open("/lib/x86_64-linux-gnu/libc.so.6", err, sizeof(err));
	uint64_t addr, size, t;
	uint8_t code[4096];

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(elfmod_symbol(m, "malloc_trim", &addr, &size));
	if (size > sizeof(code))
		size = sizeof(code);
	CHECK(elfmod_read_vaddr(m, addr, code, size));
	CHECK(libc_find_first_lea(code, size, addr, &t));
	CHECK(elfmod_symbol(m, "mallinfo2", &addr, &size));
	uint64_t t2 = 0;
	if (size > sizeof(code))
		size = sizeof(code);
	CHECK(elfmod_read_vaddr(m, addr, code, size) && libc_find_first_lea(code, size, addr, &t2));
	CHECK_EQ_U64(t, t2);
	if (t != 0x1d3c60)
		fprintf(stderr, "  note: main_arena at libc+0x%lx (not Debian 12's 2.36 build)\n",
			(unsigned long)t);
	elfmod_close(m);
}

static bool
no_word(void *ctx, uint64_t addr, uint64_t *out)
{
	(void)ctx;
	(void)addr;
	(void)out;
	return false;
}

/* This machine's libc: mp_ found by its initial bytes in .data is the one
 * malloc's "cmp reg, [rip + mp_.tcache_bins]" reads. */
UNIT_TEST(libc_mp_by_data_matches_code)
{
	static const char path[] = "/lib/x86_64-linux-gnu/libc.so.6";
	char err[128], why[256];
	struct elfmod *m = elfmod_open(path, err, sizeof(err));
	struct libc_info li;
	uint64_t addr, size, slot, bins;
	uint8_t code[4096];

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(libc_locate_file(path, path, 0, no_word, NULL, &li, why, sizeof(why)) == 0);
	CHECK(li.lay != NULL && li.mp != 0);
	CHECK(elfmod_symbol(m, "malloc", &addr, &size));
	if (size > sizeof(code))
		size = sizeof(code);
	CHECK(elfmod_read_vaddr(m, addr, code, size));
	CHECK(libc_find_tcache_refs(code, size, addr, &slot, &bins) && bins != 0);
	if (li.lay && li.minor <= 41)
		CHECK_EQ_U64(li.mp, bins - li.lay->mp_tcache_bins + li.bias);
	elfmod_close(m);
}
