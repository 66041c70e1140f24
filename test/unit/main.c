/*
 * main.c - runs every registered unit test; prints PASS/FAIL per test and
 * "N passed, N failed" at the end.  Exit 1 when any failed.
 * With an argument, runs only the tests whose name contains it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

struct unit { const char *name; void (*fn)(void); };
static struct unit units[512];
static int nunits;
int unit_failed_checks;

void
unit_register(const char *name, void (*fn)(void))
{
	if (nunits == (int)(sizeof(units) / sizeof(units[0]))) {
		fprintf(stderr, "unit: too many tests\n");
		exit(2);
	}
	units[nunits].name = name;
	units[nunits].fn = fn;
	nunits++;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct unit *)a)->name, ((const struct unit *)b)->name);
}

int
main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	qsort(units, nunits, sizeof(units[0]), by_name);
	for (int i = 0; i < nunits; i++) {
		if (argc > 1 && !strstr(units[i].name, argv[1]))
			continue;
		int before = unit_failed_checks;
		units[i].fn();
		if (unit_failed_checks == before) {
			printf("PASS unit/%s\n", units[i].name);
			passed++;
		} else {
			printf("FAIL unit/%s\n", units[i].name);
			failed++;
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
