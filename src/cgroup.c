/*
 * cgroup.c - which cgroup heapscan runs in (see cgroup.h).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cgroup.h"

bool
cgroup_own(const char *cg, bool v2, const char *controller, char *path, size_t len)
{
	char line[PATH_MAX + 64];
	FILE *f = fopen(cg, "re");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		bool ours = false;

		if (!c2)
			continue;
		*c2 = '\0';
		if (v2) {
			ours = c1 == line + 1 && line[0] == '0' && c1[1] == '\0';
		} else {
			char *save = NULL;

			for (char *t = strtok_r(c1 + 1, ",", &save); t && !ours;
			     t = strtok_r(NULL, ",", &save))
				ours = !strcmp(t, controller);
		}
		if (!ours)
			continue;
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		snprintf(path, len, "%s", c2 + 1);
		found = true;
	}
	fclose(f);
	return found;
}
