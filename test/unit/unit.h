/*
 * unit.h - a very small unit test runner.
 *
 *   UNIT_TEST(maps_parse_basic) { CHECK(x == 1); CHECK_EQ_U64(a, b); }
 *
 * Tests register themselves (constructor attribute), so adding a file to
 * test/unit/ is all it takes.  A failed CHECK marks the test failed and the
 * test goes on; test/unit/main.c prints one line per test and the totals.
 */
#ifndef HEAPSCAN_UNIT_H
#define HEAPSCAN_UNIT_H

#include <inttypes.h>
#include <stdio.h>

void unit_register(const char *name, void (*fn)(void));
extern int unit_failed_checks;

#define UNIT_TEST(name)                                                  \
	static void unit_##name(void);                                   \
	__attribute__((constructor)) static void unit_reg_##name(void)   \
	{                                                                \
		unit_register(#name, unit_##name);                       \
	}                                                                \
	static void unit_##name(void)

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                            \
			unit_failed_checks++;                                \
		}                                                            \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                       \
	do {                                                                     \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                 \
		if (a_ != b_) {                                                  \
			fprintf(stderr, "  %s:%d: %s == %s failed: 0x%" PRIx64  \
				" != 0x%" PRIx64 "\n", __FILE__, __LINE__, #a, #b, \
				a_, b_);                                         \
			unit_failed_checks++;                                    \
		}                                                                \
	} while (0)

#endif
