/*
 * core.h - an ELF core file as a source of memory: the peer of the live scan.
 *
 * scan_core fills the same struct scan that scan_live fills, so every
 * analysis and output works on it unchanged:
 *
 *   PT_LOAD segments      -> scan.img (writable) and scan.ro (read-only);
 *                            bytes the file does not hold (p_filesz <
 *                            p_memsz, gcore's skipped mappings, a truncated
 *                            file) are holes, never data
 *   NT_PRSTATUS (each)    -> scan.regs / scan.threads (tid, registers, fs_base)
 *   NT_PRPSINFO           -> pid, command line, the main thread's name
 *   NT_FILE               -> scan.maps: file mappings with paths and offsets
 *                            (perms from the PT_LOAD flags); anonymous
 *                            mappings from PT_LOADs no NT_FILE entry covers
 *   NT_AUXV               -> the executable (AT_ENTRY) and the vdso
 *
 * Module files (libc, the executable, libstdc++, ...) are opened at the path
 * the core records only when that file is there and its build-id equals the
 * one in the module's ELF header page in the core (gcore and the kernel
 * write that page by default); map_entry.file is set for those only.  Each
 * module that cannot be used is named on stderr with what is lost.
 *
 * The core is hostile input: it is mapped, not read; every offset, count and
 * size is checked against the file and bounded.
 */
#ifndef HEAPSCAN_CORE_H
#define HEAPSCAN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "scan.h"

/* Whether path is an ELF file of type ET_CORE (any class: scan_core says why
 * a 32-bit one is refused).  Reads 64 bytes; false when unreadable. */
bool core_is_core(const char *path);

/* EXIT_OK, or an exit code after printing a one-line cause. */
int scan_core(const char *path, const struct scan_opts *opts, struct scan *out);

/* ---- the note parsers, exposed for unit tests ---- */

struct core_thread {
	pid_t tid;
	struct user_regs_struct regs;
};

struct core_file {
	uint64_t start, end, offset; /* offset in bytes */
	char *path;
};

/* More file mappings than this in NT_FILE is refused: 16 times the
 * kernel's default vm.max_map_count, and more than any process maps files. */
#define CORE_MAX_FILES (1u << 20)

struct core_notes {
	bool have_psinfo;
	pid_t pid;
	char fname[17];  /* pr_fname: the process's name */
	char psargs[81]; /* pr_psargs: the command line, cut at 80 bytes */
	struct core_thread *t;
	size_t nt, capt;
	struct core_file *f;
	size_t nf;
	uint64_t at_entry, at_sysinfo_ehdr, at_base; /* 0 when absent */
};

/* Parse the notes of one PT_NOTE segment's bytes into out (appending
 * threads and files).  0, or -1 with a one-line cause in why. */
int core_parse_notes(const uint8_t *buf, size_t len, struct core_notes *out, char *why,
		     size_t whylen);
/* The single-note parsers: false when the note is malformed. */
bool core_parse_prstatus(const uint8_t *desc, size_t len, struct core_thread *out);
bool core_parse_prpsinfo(const uint8_t *desc, size_t len, struct core_notes *out);
/* NT_FILE: *out malloc'd.  false (and nothing allocated) when malformed. */
bool core_parse_nt_file(const uint8_t *desc, size_t len, struct core_file **out, size_t *n);
void core_notes_free(struct core_notes *n);

#endif
