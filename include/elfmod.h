/*
 * elfmod.h - symbols and bytes of one ELF file (a loaded module), via libelf.
 *
 * Used before the target is stopped: to find libc's exported malloc functions
 * and disassemble them, to read its version string, and to tell which module
 * provides malloc.  The file is untrusted input: every section and symbol
 * range is checked against the file size.
 *
 * Addresses here are link-time virtual addresses (st_value, p_vaddr); add the
 * module's load bias (see elfmod_bias) to get target addresses.
 */
#ifndef HEAPSCAN_ELFMOD_H
#define HEAPSCAN_ELFMOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfmod;

/* NULL with a one-line cause in err when the file cannot be read as ELF. */
struct elfmod *elfmod_open(const char *path, char *err, size_t errlen);
void elfmod_close(struct elfmod *m);

int elfmod_class(const struct elfmod *m);   /* 32 or 64 */
bool elfmod_has_interp(const struct elfmod *m); /* PT_INTERP: dynamically linked */
bool elfmod_is_dyn(const struct elfmod *m);  /* ET_DYN (PIE or shared object) */

/* A defined symbol (st_shndx != SHN_UNDEF) by name, from .dynsym, then
 * .symtab when present.  Versioned duplicates: the default version wins. */
bool elfmod_symbol(const struct elfmod *m, const char *name, uint64_t *value, uint64_t *size);

/* Whether .dynsym alone exports a definition of name: what the dynamic
 * linker can bind other modules' references to (interposition). */
/* Name of the function or object symbol (.symtab, else .dynsym) that holds
 * link-time address vaddr, and vaddr's offset into it (mangled as stored). */
bool elfmod_symbol_near(const struct elfmod *m, uint64_t vaddr, char *buf, size_t len, uint64_t *off);

/* The same symbol's start (link-time) and size (at least 1). */
bool elfmod_symbol_span(const struct elfmod *m, uint64_t vaddr, uint64_t *start, uint64_t *size);

bool elfmod_dynsym_defines(const struct elfmod *m, const char *name);
/* The whole file, as mapped (for a search of its bytes: version strings). */
const unsigned char *elfmod_file(const struct elfmod *m, size_t *size);

/* The name of a defined symbol at link-time address vaddr that starts with
 * prefix ("_ZTV"), from .dynsym then .symtab; linear (use it rarely). */
bool elfmod_symbol_at(const struct elfmod *m, uint64_t vaddr, const char *prefix, char *buf,
		      size_t len);

/* Copy len bytes of the file image at link-time address vaddr (must lie in
 * the file-backed part of one PT_LOAD segment). */
bool elfmod_read_vaddr(const struct elfmod *m, uint64_t vaddr, void *buf, size_t len);

/* First occurrence of needle in any PT_LOAD segment's file bytes; its vaddr. */
bool elfmod_find_bytes(const struct elfmod *m, const void *needle, size_t nlen, uint64_t *vaddr);
/* The lowest occurrence at or above link-time address from. */
bool elfmod_find_bytes_from(const struct elfmod *m, const void *needle, size_t nlen, uint64_t from,
			    uint64_t *vaddr);

/* Link-time address where the first writable PT_LOAD begins (.data and
 * its neighbours), UINT64_MAX when there is none. */
uint64_t elfmod_writable_start(const struct elfmod *m);

/* One ELF note (Elf64_Nhdr: namesz, descsz, type; name and desc padded to
 * the segment's alignment, 4 or 8).  name is namesz bytes, NUL included. */
struct elf_note {
	uint32_t type;
	const char *name;
	uint32_t namesz;
	const uint8_t *desc;
	uint32_t descsz;
};

/* The note at *pos in buf[0, len), *pos advanced past it.  false at the end
 * (*pos == len) or on a note that does not fit (*pos < len then).  Every
 * length is checked against len; nothing is read outside buf. */
bool elf_note_next(const uint8_t *buf, size_t len, size_t align, size_t *pos, struct elf_note *n);

/* Whether the note is named name ("CORE", "GNU"). */
bool elf_note_is(const struct elf_note *n, const char *name);

#define ELFMOD_BUILD_ID_MAX 64

/* The NT_GNU_BUILD_ID of the file (from its PT_NOTE segments), at most
 * ELFMOD_BUILD_ID_MAX bytes, its length in *len; false when it has none. */
bool elfmod_build_id(const struct elfmod *m, uint8_t *id, size_t *len);

/* The PF_* flags of the PT_LOAD whose file bytes hold file offset off:
 * how a mapping of that part of the file is protected.  false when none. */
bool elfmod_load_flags(const struct elfmod *m, uint64_t off, unsigned *flags);

/* Load bias: target address of link-time address 0, given where the mapping
 * with file offset 0 starts in the target (map_start). */
uint64_t elfmod_bias(const struct elfmod *m, uint64_t map_start);

#endif
