#!/usr/bin/env python3
# gen_core.py DIR: writes small ELF core files, one valid and the rest
# hostile, to DIR (see core_hostile.sh).  Each is built from scratch: an
# Elf64 header, program headers, one PT_NOTE (NT_PRPSINFO, NT_PRSTATUS,
# NT_FILE, NT_AUXV) and one writable PT_LOAD of a page.
import os, struct, sys

ET_CORE, EM_X86_64, PT_LOAD, PT_NOTE = 4, 62, 1, 4
NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE = 1, 3, 6, 0x46494c45

def note(name, ntype, desc):
    n = name.encode() + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)

def prstatus(tid=1234, size=336):
    d = bytearray(size)
    if size >= 36:
        struct.pack_into("<i", d, 32, tid)
    return bytes(d)

def prpsinfo(pid=1234):
    d = bytearray(136)
    struct.pack_into("<i", d, 24, pid)
    d[40:45] = b"hostl"
    d[56:62] = b"hostl "
    return bytes(d)

def nt_file(entries, page=4096, count=None, nul=True):
    d = [struct.pack("<QQ", len(entries) if count is None else count, page)]
    d += [struct.pack("<QQQ", s, e, o) for s, e, o, _ in entries]
    d += [p.encode() + (b"\0" if nul else b"") for *_, p in entries]
    return b"".join(d)

def core(notes=None, loads=None, phnum=None, phoff=64, cls=2, truncate=None):
    if notes is None:
        notes = (note("CORE", NT_PRPSINFO, prpsinfo()) + note("CORE", NT_PRSTATUS, prstatus()) +
                 note("CORE", NT_FILE, nt_file([(0x400000, 0x401000, 0, "/nonexistent/prog")])) +
                 note("CORE", NT_AUXV, struct.pack("<QQQQ", 9, 0x400000, 0, 0)))
    if loads is None:
        loads = [(0x600000, 4096, 4096, 6, None)]  # vaddr, memsz, filesz, flags, offset
    n = len(loads) + 1
    data_off = 64 + 56 * n
    body = bytearray(notes)
    ph = struct.pack("<IIQQQQQQ", PT_NOTE, 4, data_off, 0, 0, len(notes), 0, 4)
    for va, memsz, filesz, flags, off in loads:
        if off is None:
            off = data_off + len(body)
            body += b"\x41" * filesz
        ph += struct.pack("<IIQQQQQQ", PT_LOAD, flags, off, va, 0, filesz, memsz, 4096)
    ident = b"\x7fELF" + bytes([cls, 1, 1, 0]) + b"\0" * 8
    eh = ident + struct.pack("<HHIQQQIHHHHHH", ET_CORE, EM_X86_64, 1, 0, phoff, 0, 0, 64, 56,
                             n if phnum is None else phnum, 0, 0, 0)
    out = eh + ph + bytes(body)
    return out[:truncate] if truncate else out

def main():
    d = sys.argv[1]
    big = 1 << 62
    cases = {
        "valid": core(),
        "note_desc_past_end": core(notes=struct.pack("<III", 5, 0x7fffffff, NT_PRSTATUS) + b"CORE\0\0\0\0"),
        "note_name_huge": core(notes=struct.pack("<III", 0xffffffff, 4, NT_PRSTATUS) + b"CORE"),
        "prstatus_short": core(notes=note("CORE", NT_PRSTATUS, prstatus(size=100))),
        "prstatus_bad_tid": core(notes=note("CORE", NT_PRSTATUS, prstatus(tid=-5))),
        "no_threads": core(notes=note("CORE", NT_PRPSINFO, prpsinfo())),
        "nt_file_huge_count": core(notes=note("CORE", NT_PRSTATUS, prstatus()) +
                                   note("CORE", NT_FILE, nt_file([(1, 2, 0, "/x")], count=1 << 60))),
        "nt_file_no_nul": core(notes=note("CORE", NT_PRSTATUS, prstatus()) +
                               note("CORE", NT_FILE, nt_file([(0x1000, 0x2000, 0, "/x")], nul=False))),
        "nt_file_page_zero": core(notes=note("CORE", NT_PRSTATUS, prstatus()) +
                                  note("CORE", NT_FILE, nt_file([(0x1000, 0x2000, 0, "/x")], page=0))),
        "nt_file_offset_overflow": core(notes=note("CORE", NT_PRSTATUS, prstatus()) +
                                        note("CORE", NT_FILE, nt_file([(0x1000, 0x2000, big, "/x")]))),
        "nt_file_overlap": core(notes=note("CORE", NT_PRSTATUS, prstatus()) +
                                note("CORE", NT_FILE, nt_file([(0x1000, 0x3000, 0, "/x"), (0x2000, 0x4000, 0, "/y")]))),
        "phnum_huge": core(phnum=0xfffe),
        "phoff_past_eof": core(phoff=big),
        "load_overlap": core(loads=[(0x600000, 8192, 4096, 6, None), (0x601000, 4096, 4096, 6, None)]),
        "load_unaligned": core(loads=[(0x600010, 4096, 4096, 6, None)]),
        "load_wraps": core(loads=[(0xfffffffffffff000, 8192, 0, 6, None)]),
        "load_filesz_gt_memsz": core(loads=[(0x600000, 4096, 8192, 6, None)]),
        "class32": core(cls=1),
        "load_span_huge": core(loads=[(1 << 44, 1 << 45, 0, 6, None),
                                      (1 << 46, (1 << 45) + 4096, 0, 6, None)]),
        "truncated_in_notes": core(truncate=64 + 56 * 2 + 20),
    }
    # The offset past EOF is not fatal (the missing bytes are holes): it
    # gets the "truncated" line, then heapscan goes on to its next refusal.
    cases["load_offset_past_eof"] = core(loads=[(0x600000, 4096, 4096, 6, big)])
    cases["load_huge_hole"] = core(loads=[(0x600000, 1 << 44, 0, 6, None)])
    # many mappings, each of its own (missing) file: bounded work, one line
    many = [(0x10000000 + i * 0x2000, 0x10001000 + i * 0x2000, 0, "/nonexistent/%d" % i)
            for i in range(200000)]
    cases["nt_file_many"] = core(notes=note("CORE", NT_PRPSINFO, prpsinfo()) +
                                 note("CORE", NT_PRSTATUS, prstatus()) +
                                 note("CORE", NT_FILE, nt_file(many)))
    for name, b in cases.items():
        with open(os.path.join(d, name + ".core"), "wb") as f:
            f.write(b)

main()
