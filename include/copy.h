/*
 * copy.h - copy a stopped target's writable memory into an image.
 *
 * The destination is one anonymous block, faulted in before the target is
 * stopped (faulting costs ~0.5 s/GB, three times the copy itself), so the
 * stop window holds only the read.  Inside the window heapscan re-reads
 * /proc/PID/maps (the process may have mapped or unmapped memory since the
 * first look) and copies every private writable mapping with
 * process_vm_readv in large batches; /proc/PID/mem is the fallback.  Pages
 * that cannot be read (EFAULT/EIO) become holes in the image.  A copy of
 * 64 MiB or more is cut in par_jobs() parts at page boundaries, read at once
 * on threads of their own (memory bandwidth: one core does not fill it).
 */
#ifndef HEAPSCAN_COPY_H
#define HEAPSCAN_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"
#include "maps.h"

/* Bytes heapscan would copy from these mappings. */
uint64_t copy_plan_bytes(const struct maps *m);

/* Reserve and fault in a buffer for at least bytes (plus slack for growth
 * between the first look and the stop).  0 or -errno. */
int copy_prepare(struct image *img, uint64_t bytes);

/* Inside the stop window: lay the copied mappings of m out in img's buffer
 * (growing it if the process grew) and read them.  0, -ESRCH when the
 * process is gone, or another -errno. */
int copy_regions(pid_t pid, const struct maps *m, struct image *img);

/* --max-memory: lay the copied mappings of m out in img as windows read on
 * demand from /proc/PID/mem, never more than budget bytes of them at once
 * (pager.h).  Only for a process nothing runs in (the fork of --cow).  0,
 * or -1 with the cause in why. */
int copy_paged(pid_t pid, const struct maps *m, struct image *img, uint64_t budget, char *why,
	       size_t whylen);

/* After the stop: give back the pages of the buffer the copy did not use
 * (the slack copy_prepare faulted in for growth). */
void copy_trim(struct image *img);

/* After the stop: copy the private read-only file mappings (rodata, relro:
 * vtables, typeinfo, type names; constant once the program is loaded) into
 * ro, one region each.  Unreadable ones are left out.  0 or -ESRCH. */
int copy_readonly_modules(pid_t pid, const struct maps *m, struct image *ro);

#endif
