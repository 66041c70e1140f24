/*
 * unwind.h - every thread's backtrace, unwound from the copy.
 *
 * After scan_live() has let the target go, each thread is unwound by
 * libunwind from what the stop window saved: its registers (scan.regs), its
 * stack (scan.img) and the modules' read-only mappings (scan.ro, where
 * .eh_frame and .eh_frame_hdr usually live).  Nothing is read from the
 * running target except code bytes (constant) and the vdso, so the stop
 * window does not grow and the frames are those of the moment of the copy.
 *
 * Frames are named from the module files' .symtab (static functions too)
 * and .dynsym, C++ names demangled.  The target and its files are hostile:
 * names may hold any byte (escape them when printing), and every walk is
 * bounded (UNWIND_MAX_FRAMES, and the stack pointer must grow).
 */
#ifndef HEAPSCAN_UNWIND_H
#define HEAPSCAN_UNWIND_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "scan.h"

#define UNWIND_MAX_FRAMES 256

struct unwind_frame {
	uint64_t ip;         /* frame 0: the thread's rip; others: the return address */
	uint64_t sp;         /* the stack pointer in this frame (rsp at frame 0) */
	char *func;          /* "name+0x1f", demangled; NULL when no symbol covers ip */
	const char *module;  /* path of the mapping holding ip, as in scan.maps (valid
			      * until scan_free); NULL for anonymous memory */
	uint64_t modoff;     /* ip as a link-time address of module (for addr2line);
			      * if the file could not be read, ip - its first mapping */
};

struct unwind_thread {
	pid_t tid;
	char comm[32];          /* the source's scan_thread.comm; "" when unknown */
	uint64_t stack_start;   /* the mapping holding frame 0's sp; 0, 0 if none */
	uint64_t stack_end;
	struct unwind_frame *f; /* innermost first */
	size_t n;
	const char *stop;       /* why the walk stopped early; NULL: it reached the end */
};

struct unwind_set {
	struct unwind_thread *t; /* in scan.regs order */
	size_t n;
	double unwind_ms;        /* unwind_all's time, after the stop */
};

/* Unwind every thread of s (after scan_live returned EXIT_OK; the target may
 * be running).  0, or -1 after printing a one-line cause.  A thread whose
 * walk fails is not an error: its frames so far and a stop reason are kept. */
int unwind_all(const struct scan *s, struct unwind_set *out);

/* The frame of thread whose area holds stack address addr: frame i with
 * sp_i <= addr < sp_(i+1) (the outermost frame: up to stack_end).  *index
 * (may be NULL) gets i; or -1 with NULL returned when addr is below frame 0's
 * sp or outside the thread's stack mapping.  Addresses above the outermost
 * frame's sp (thread start, TLS at the top of a thread stack) give the
 * outermost frame. */
const struct unwind_frame *unwind_frame_at(const struct unwind_set *u, size_t thread,
					   uint64_t addr, int *index);

void unwind_free(struct unwind_set *u);

/* --threads output: text, or one JSON object {"pid", "threads": [...]}. */
void unwind_print_text(FILE *f, const struct scan *s, const struct unwind_set *u);
void unwind_print_json(FILE *f, const struct scan *s, const struct unwind_set *u);

#endif
