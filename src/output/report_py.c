/*
 * report_py.c - Python objects by type in the outputs: the text report's
 * section, the JSON classes with "runtime": "python", and `--types`, which
 * lists every runtime's classes as COUNT<TAB>BYTES<TAB>TYPE.
 */
#include <inttypes.h>
#include <string.h>

#include "json.h"
#include "pyobj.h"
#include "report_py.h"

void
report_py_text(FILE *f, const struct type_table *t, int top)
{
	const struct py_summary *py = t ? t->py : NULL;
	char b1[32], b2[32], b3[32];

	if (!py)
		return;
	if (py->pools)
		fprintf(f, "\n  python 3.%d: %" PRIu64 " pymalloc pools of %u bytes, %" PRIu64
			" blocks in use (%s), %s free in pools\n", py->minor, py->pools,
			py->pool_size, py->live_blocks, human_bytes(py->live_bytes, b1, sizeof(b1)),
			human_bytes(py->free_bytes, b2, sizeof(b2)));
	else /* PYTHONMALLOC=malloc, or a build without pymalloc */
		fprintf(f, "\n  python 3.%d: no pymalloc pools (objects are glibc chunks)\n",
			py->minor);
	fprintf(f, "  %" PRIu64 " objects typed (%s; %" PRIu64 " of them in glibc chunks), %" PRIu64
		" blocks or chunks owned by them (%s: list items, dict keys and values), %" PRIu64
		" blocks in use hold neither\n", py->objects,
		human_bytes(py->object_bytes, b3, sizeof(b3)), py->in_chunks, py->owned_blocks,
		human_bytes(py->owned_bytes, b2, sizeof(b2)), py->untyped_blocks);
	if (py->bad_lists || py->count_mismatch)
		fprintf(f, "  note: %" PRIu64 " pool(s) with a broken free list, %" PRIu64
			" whose count disagrees with it\n", py->bad_lists, py->count_mismatch);
	fprintf(f, "\n  top python types by count:\n  %10s %11s  %-18s %s\n", "objects", "bytes",
		"sample", "type");
	for (size_t i = 0; i < py->nclasses && (int)i < top; i++) {
		const struct py_class *c = &py->classes[i];

		fprintf(f, "  %10" PRIu64 " %11s  0x%-16" PRIx64 " ", c->count,
			human_bytes(c->bytes, b1, sizeof(b1)), c->sample);
		fput_printable(f, c->name);
		fputc('\n', f);
	}
}

void
report_py_json_classes(FILE *f, const struct type_table *t, bool first)
{
	const struct py_summary *py = t ? t->py : NULL;

	for (size_t i = 0; py && i < py->nclasses; i++) {
		const struct py_class *c = &py->classes[i];

		fprintf(f, "%s\n  {\"name\": ", first && !i ? "" : ",");
		json_str(f, c->name);
		fprintf(f, ", \"runtime\": \"python\", \"instances\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"sample\": ", c->count, c->bytes);
		json_addr(f, c->sample);
		fputc('}', f);
	}
}

void
report_py_json_summary(FILE *f, const struct type_table *t)
{
	const struct py_summary *py = t ? t->py : NULL;

	if (!py)
		return;
	fprintf(f, ",\n\"python\": {\"version\": \"3.%d\", \"pool_size\": %u, \"pools\": %" PRIu64
		", \"live_blocks\": %" PRIu64 ", \"live_bytes\": %" PRIu64 ", \"free_blocks\": %" PRIu64
		", \"free_bytes\": %" PRIu64 ", \"objects\": %" PRIu64 ", \"object_bytes\": %" PRIu64
		", \"objects_in_glibc_chunks\": %" PRIu64 ", \"owned_blocks\": %" PRIu64
		", \"owned_bytes\": %" PRIu64 ", \"untyped_blocks\": %" PRIu64
		", \"bad_free_lists\": %" PRIu64 ", \"count_mismatches\": %" PRIu64 "}",
		py->minor, py->pool_size, py->pools, py->live_blocks, py->live_bytes, py->free_blocks,
		py->free_bytes, py->objects, py->object_bytes, py->in_chunks, py->owned_blocks,
		py->owned_bytes, py->untyped_blocks,
		py->bad_lists, py->count_mismatch);
}

/* C++ classes: instances anywhere in live chunks, bytes of the chunks that
 * start with one (their TK_CLASS type); Python: objects and their blocks. */
void
report_types_all(FILE *f, const struct type_table *t)
{
	for (size_t i = 0; i < t->nclasses; i++) {
		uint64_t bytes = 0;

		for (size_t k = 0; k < t->ntypes; k++)
			if (t->types[k].kind == TK_CLASS && !strcmp(t->types[k].name, t->classes[i].name))
				bytes = t->types[k].bytes;
		fprintf(f, "%" PRIu64 "\t%" PRIu64 "\t", t->classes[i].instances, bytes);
		fput_printable(f, t->classes[i].name);
		fputc('\n', f);
	}
	for (size_t i = 0; t->py && i < t->py->nclasses; i++) {
		fprintf(f, "%" PRIu64 "\t%" PRIu64 "\t", t->py->classes[i].count, t->py->classes[i].bytes);
		fput_printable(f, t->py->classes[i].name);
		fputc('\n', f);
	}
}
