/*
 * cgroup.h - which cgroup heapscan runs in, for the limits it must respect
 * (par.c: the CPU quota; memguard.c: the memory limit).
 */
#ifndef HEAPSCAN_CGROUP_H
#define HEAPSCAN_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

/* Our cgroup's path ("/x") from the cgroup file CG (/proc/self/cgroup, or a
 * test's): v2's line "0::/x", or for v1 the line whose controllers include
 * CONTROLLER ("N:cpu,cpuacct:/x").  false when there is none. */
bool cgroup_own(const char *cg, bool v2, const char *controller, char *path, size_t len);

#endif
