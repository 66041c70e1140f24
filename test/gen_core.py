#!/usr/bin/env python3
# gen_core.py DIR [SEED...]: writes small ELF core files, one valid and the
# rest hostile, to DIR (see core_hostile.sh).  Each is built from scratch: an
# Elf64 header, program headers, one PT_NOTE (NT_PRPSINFO, NT_PRSTATUS,
# NT_FILE, NT_AUXV) and one writable PT_LOAD of a page.
#
# Each SEED (a heap seed of the heap fuzzer, test/fuzz/heap_seed.h: a real
# process's libc .data, heap and arenas) is also written as DIR/NAME.core, a
# core whose PT_LOADs are the seed's regions and whose NT_FILE names its
# module regions (libc, the executable), one NT_PRSTATUS per thread: cores
# that get as far as finding malloc's state in memory and walking it, the
# seeds of the core fuzzer (test/fuzz/fuzz_core.c).
#
# gen_core.py --trim CORE OUT: a real core made small (see trim()), another
# seed of the core fuzzer.
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

def core(notes=None, loads=None, phnum=None, phoff=64, cls=2, truncate=None, data=None):
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
            body += b"\x41" * filesz if data is None else data[va][:filesz].ljust(filesz, b"\0")
        ph += struct.pack("<IIQQQQQQ", PT_LOAD, flags, off, va, 0, filesz, memsz, 4096)
    ident = b"\x7fELF" + bytes([cls, 1, 1, 0]) + b"\0" * 8
    eh = ident + struct.pack("<HHIQQQIHHHHHH", ET_CORE, EM_X86_64, 1, 0, phoff, 0, 0, 64, 56,
                             n if phnum is None else phnum, 0, 0, 0)
    out = eh + ph + bytes(body)
    return out[:truncate] if truncate else out

SEED_NAMES = ["", "[heap]", "[stack]", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/fuzz/target"]


def from_seed(seed):
    """A core of a heap seed's regions (heap_seed.h): PT_LOADs page-aligned,
    module regions named in NT_FILE, T threads with fs_base 0."""
    nth = seed[17]
    off = 24 + 8 * nth
    loads, data, files = [], {}, []
    regs = []
    while off + 20 <= len(seed):
        start, length, stored = struct.unpack_from("<QII", seed, off)
        perms = seed[off + 16]
        n = 0 if perms & 0x80 else min(stored, length, len(seed) - off - 20)
        regs.append((start, length, seed[off + 20:off + 20 + n]))
        off += 20 + n

    def word(addr):
        for start, length, body in regs:
            if start <= addr and addr + 8 <= start + len(body):
                return struct.unpack_from("<Q", body, addr - start)[0]
        return None
    # the dump may end a heap before its top chunk does: each PT_LOAD
    # covers the top chunk in it, zeros after (2.26+: an arena's top at
    # +0x60, the ring through next at +0x870)
    tops = {}
    arena = ma = struct.unpack_from("<Q", seed, 0)[0]
    for _ in range(64):
        top = word(arena + 0x60)
        size = word(top + 8) if top else None
        if size and size < 1 << 26:
            tops[top] = top + (size & ~7)
        arena = word(arena + 0x870)
        if not arena or arena == ma:
            break
    off = 24 + 8 * nth
    while off + 20 <= len(seed):
        start, length, stored = struct.unpack_from("<QII", seed, off)
        perms, name = seed[off + 16], seed[off + 17] % len(SEED_NAMES)
        off += 20
        if perms & 0x80:  # listed, not copied: no PT_LOAD
            continue
        stored = min(stored, length, len(seed) - off)
        body = seed[off:off + stored]
        off += stored
        for top, top_end in tops.items():
            if start <= top < start + length < top_end:
                length = top_end - start
        lo, hi = start & ~4095, (start + length + 4095) & ~4095
        if not length or any(lo < e and s < hi for s, e in [(v, v + m) for v, m, *_ in loads]):
            continue
        body = b"\0" * (start - lo) + body
        flags = 4 | (2 if perms & 2 else 0) | (1 if perms & 4 else 0)
        loads.append((lo, hi - lo, hi - lo, flags, None))
        data[lo] = body
        if SEED_NAMES[name].startswith("/"):
            files.append((lo, hi, 0, SEED_NAMES[name]))
    loads.sort()
    files.sort()
    notes = note("CORE", NT_PRPSINFO, prpsinfo())
    notes += b"".join(note("CORE", NT_PRSTATUS, prstatus(tid=1234 + i)) for i in range(max(nth, 1)))
    if files:
        notes += note("CORE", NT_FILE, nt_file(files))
    return core(notes=notes, loads=loads, data=data)


def trim(b):
    """A real core made small for the fuzzer: each writable PT_LOAD cut
    after its last non-zero page, and emptied when it is mostly zeros over
    more than 1 MiB (a thread's stack, an arena heap's unused part); each
    read-only one cut to its first page (the ELF header with the build-id,
    by which the module's file stands in for the rest).  What is cut is a
    hole (p_filesz < p_memsz), as in a core that gcore truncated."""
    phoff, = struct.unpack_from("<Q", b, 32)
    phnum, = struct.unpack_from("<H", b, 56)
    keep = []
    for i in range(phnum):
        at = phoff + 56 * i
        t, fl, off, va, pa, fs, ms, al = struct.unpack_from("<IIQQQQQQ", b, at)
        if t == PT_NOTE:
            keep.append((at, off, fs))
            continue
        if t != PT_LOAD or not fs:
            continue
        seg = b[off:off + fs]
        if fl & 2:
            nz = len(seg.rstrip(b"\0"))
            fs = 0 if fs > 1 << 20 and fs - seg.count(0) < fs // 100 else (nz + 4095) & ~4095
        else:
            fs = min(fs, 4096)
        keep.append((at, off, fs))
    out = bytearray(b[:phoff + 56 * phnum])  # the ELF header and program headers
    # segments are rewritten at the end, in order, each at a page boundary
    body = bytearray()
    base = len(out)
    base += -base % 4096
    out += b"\0" * (base - len(out))
    for at, off, fs in keep:
        struct.pack_into("<Q", out, at + 8, base + len(body) if fs else 0)
        struct.pack_into("<Q", out, at + 32, fs)
        body += b[off:off + fs]
    return bytes(out + body)


def main():
    if sys.argv[1] == "--trim":
        with open(sys.argv[3], "wb") as f:
            f.write(trim(open(sys.argv[2], "rb").read()))
        return
    d = sys.argv[1]
    for path in sys.argv[2:]:
        name = os.path.basename(path).rsplit(".", 1)[0]
        with open(os.path.join(d, name + ".core"), "wb") as f:
            f.write(from_seed(open(path, "rb").read()))
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
