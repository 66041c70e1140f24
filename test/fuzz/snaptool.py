#!/usr/bin/env python3
"""snaptool.py - take heapscan snapshot files apart and damage them on purpose.

Used by test/cases/snap_*.sh (hostile files) and to make the fuzzer's seed
corpus.  Knows only the layout documented in include/snapshot.h:

    "HEAPSCN\\n" | u32 version | u32 nsec | nsec x section | trailer
    section:  tag[4] | u32 flags | u64 stored | u64 raw | u64 check | payload
    trailer:  "HSEND\\0\\0\\0" | u64 XXH64 of every byte before the trailer

XXH64 is implemented here (no python3-xxhash on Debian by default).  Edits
that keep the structure can re-seal the file (recompute the checksums), so
that a test reaches the checks behind the checksum instead of the checksum.

    snaptool.py info FILE                 one line per section: tag flags stored raw hdr-offset
    snaptool.py off FILE WHAT             byte offset of WHAT: version, nsec, sec:TAG,
                                          payload:TAG, trailer, sum, end
    snaptool.py flip FILE OFF [BIT]       flip one bit in place (default bit 0)
    snaptool.py put FILE OFF u32|u64 N    overwrite a little-endian integer in place
    snaptool.py reseal FILE               recompute every section check and the trailer
                                          sum (sections must still parse)
    snaptool.py resum FILE                recompute only the trailer sum
    snaptool.py replace FILE TAG PAYLOAD FLAGS RAW
                                          new payload bytes (a file) for section TAG,
                                          with FLAGS and RAW; stored and checks follow
    snaptool.py raw IN OUT                every compressed section stored uncompressed
                                          (needs the zstd command); resealed
    snaptool.py setstr FILE TAG SKIP HEX  in uncompressed section TAG, skip fields SKIP
                                          (s string, v varint, d u64, u u32; "" none)
                                          and replace the string there by the bytes HEX
    snaptool.py setvar FILE TAG SKIP N    the same for a varint
    snaptool.py repeat FILE N [bare]      N more copies of the commonest chunk record in
                                          CHNK, recompressed as heapscan writes it (zstd);
                                          in a format-2 file every record's hash field is
                                          masked again for its new address, unless "bare"
                                          (then the copies are identical bytes: a file
                                          denser than heapscan writes)
    snaptool.py v1 FILE                   a format-2 file made format 1: hash fields unmasked
                                          (recompressed as heapscan writes), version 1
    snaptool.py mutants FILE PREFIX N SEED LO HI
                                          PREFIX.0 .. PREFIX.N-1: FILE with one random bit
                                          in [LO, HI) flipped, resealed; prints
                                          "NAME OFFSET BIT" per file
    snaptool.py zframe OUT CLAIM LEN      a zstd frame header claiming CLAIM content
                                          bytes, one RLE block, padded to LEN bytes
    snaptool.py check FILE                exit 0 iff the file parses and every checksum holds
    snaptool.py hostile RAWFILE DIR       crafted files that cost little to write and, read
                                          naively, gigabytes (zstd frames made by hand:
                                          RLE blocks inflate 32768x); RAWFILE is a snapshot
                                          stored uncompressed (`raw`).  Prints per file
                                          "NAME EXPECT" (EXPECT: ok or a regex of the refusal)
"""
import os
import random
import struct
import subprocess
import sys

MAGIC = b"HEAPSCN\n"
TRAILER = b"HSEND\0\0\0"
SEC_HDR = 32
M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, lane):
    acc = (acc + lane * P2) & M64
    return (_rotl(acc, 31) * P1) & M64


def _merge(acc, val):
    acc ^= _round(0, val)
    return (acc * P1 + P4) & M64


def xxh64(data, seed=0):
    n = len(data)
    i = 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        lanes = n // 32 * 4
        words = struct.unpack_from("<%dQ" % lanes, data, 0)
        for k in range(0, lanes, 4):
            v = [_round(v[j], words[k + j]) for j in range(4)]
        i = lanes * 8
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for j in range(4):
            h = _merge(h, v[j])
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, i)[0])
        h = (_rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from("<I", data, i)[0] * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


class SnapError(Exception):
    pass


def parse(buf):
    """[(tag, flags, stored, raw, check, hdr_off)] of a well-formed file."""
    if len(buf) < 32 or buf[:8] != MAGIC or buf[-16:-8] != TRAILER:
        raise SnapError("no magic or no trailer")
    nsec = struct.unpack_from("<I", buf, 12)[0]
    off, end, secs = 16, len(buf) - 16, []
    for _ in range(nsec):
        if off + SEC_HDR > end:
            raise SnapError("section header past the end")
        tag = buf[off:off + 4].decode("latin-1")
        flags, stored, raw, check = struct.unpack_from("<IQQQ", buf, off + 4)
        if off + SEC_HDR + stored > end:
            raise SnapError("section %s past the end" % tag)
        secs.append((tag, flags, stored, raw, check, off))
        off += SEC_HDR + stored
    if off != end:
        raise SnapError("stray bytes after the sections")
    return secs


def section(buf, tag):
    for s in parse(buf):
        if s[0] == tag:
            return s
    raise SnapError("no section %s" % tag)


def resum(buf):
    buf[-8:] = struct.pack("<Q", xxh64(bytes(buf[:-16])))


def reseal(buf):
    for tag, flags, stored, raw, check, off in parse(buf):
        p = off + SEC_HDR
        struct.pack_into("<Q", buf, off + 24, xxh64(bytes(buf[p:p + stored])))
    resum(buf)


def replace(buf, tag, payload, flags, raw):
    _, _, stored, _, _, off = section(buf, tag)
    hdr = tag.encode("latin-1") + struct.pack("<IQQQ", flags, len(payload), raw, xxh64(payload))
    buf[off:off + SEC_HDR + stored] = hdr + payload
    resum(buf)


def uncompress_all(buf):
    for tag in [s[0] for s in parse(buf) if s[1] & 1]:
        # look the section up again: offsets move as earlier sections grow
        _, flags, stored, raw, check, off = section(buf, tag)
        p = off + SEC_HDR
        out = subprocess.run(["zstd", "-q", "-d", "-c"], input=bytes(buf[p:p + stored]),
                             stdout=subprocess.PIPE, check=True).stdout
        if len(out) != raw:
            raise SnapError("section %s: zstd gave %d bytes, header says %d" % (tag, len(out), raw))
        replace(buf, tag, out, flags & ~1, raw)


def varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7f) | (0x80 if v > 0x7f else 0))
        v >>= 7
        if not v:
            return bytes(out)


def field_at(payload, skip):
    """Offset in payload after skipping fields: s string, v varint, d u64, u u32."""
    pos = 0

    def var():
        nonlocal pos
        v, shift = 0, 0
        while True:
            b = payload[pos]
            pos += 1
            v |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                return v
    for k in skip:
        if k == "s":
            n = var()  # not `pos += var()`: that adds to pos as it was before var()
            pos += n
        elif k == "v":
            var()
        elif k == "d":
            pos += 8
        elif k == "u":
            pos += 4
    return pos


def set_field(buf, tag, skip, kind, value):
    """Replace the string or varint after the fields SKIP in section TAG (stored raw)."""
    _, flags, stored, raw, check, off = section(buf, tag)
    if flags & 1:
        raise SnapError("section %s is compressed: run `raw` first" % tag)
    payload = bytes(buf[off + SEC_HDR:off + SEC_HDR + stored])
    pos = field_at(payload, skip)
    end = field_at(payload[pos:], kind) + pos
    new = varint(len(value)) + value if kind == "s" else varint(value)
    payload = payload[:pos] + new + payload[end:]
    replace(buf, tag, payload, 0, len(payload))


def read_var(b, pos):
    v, shift = 0, 0
    while True:
        x = b[pos]
        pos += 1
        v |= (x & 0x7f) << shift
        shift += 7
        if not x & 0x80:
            return v, pos


def version(buf):
    return struct.unpack_from("<I", buf, 8)[0]


def chunk_mask(addr):
    """The mask of a format-2 chunk record's hash field (snapshot.c chunk_mask)."""
    z = (addr + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return (z ^ (z >> 31)) & 0xFFFFFFFF


def regions(buf):
    """Whether META says the chunks are jemalloc regions (flag 32)."""
    meta = payload_of(buf, "META") if not section(buf, "META")[1] & 1 else None
    if meta is None:
        return False
    pos = field_at(meta, "svvssvdddddvvv")
    nbusy, pos = read_var(meta, pos)
    for _ in range(nbusy):
        _, pos = read_var(meta, pos)
    flags, _ = read_var(meta, pos)
    return bool(flags & 32)


def repeat_masked(buf, n, to_v1=False):
    """repeat_chunk for a format-2 file: every record decoded to its address,
    the copies inserted, every hash field masked again for its address (or,
    TO_V1, stored bare and the file made format 1, as heapscan 1 wrote it)."""
    _, flags, stored, raw, check, off = section(buf, "CHNK")
    p = bytes(buf[off + SEC_HDR:off + SEC_HDR + stored])
    if flags & 1:
        p = subprocess.run(["zstd", "-q", "-d", "-c"], input=p, stdout=subprocess.PIPE,
                           check=True).stdout
    back, unit = (16, 8) if regions(buf) else (0, 16)
    count, pos = read_var(p, 0)
    recs, end = [], 0
    for i in range(count):
        gap, pos = read_var(p, pos)
        size, pos = read_var(p, pos)
        ka, pos = read_var(p, pos)
        typ, pos = read_var(p, pos)
        h = struct.unpack_from("<I", p, pos)[0]
        pos += 4
        addr = end + gap * unit - back
        recs.append((gap, size, ka, typ, h ^ chunk_mask(addr)))
        end = addr + size * unit
    tally = {}
    for i, r in enumerate(recs):
        tally.setdefault(r, [0, i])[0] += 1
    k = max(tally, key=lambda r: tally[r][0])
    at = tally[k][1]
    rec = (0 if back == 0 else 2,) + k[1:]  # side by side: no gap (regions overlap by 16)
    recs[at + 1:at + 1] = [rec] * n
    out, end = bytearray(varint(count + n)), 0
    for gap, size, ka, typ, h in recs:
        addr = end + gap * unit - back
        out += varint(gap) + varint(size) + varint(ka) + varint(typ)
        out += struct.pack("<I", h if to_v1 else h ^ chunk_mask(addr))
        end = addr + size * unit
    replace(buf, "CHNK", zstd3(bytes(out)), 1, len(out))
    if any(sec[0] == "RACH" for sec in parse(buf)):
        repeat_state(buf, at, n)
    if to_v1:
        struct.pack_into("<I", buf, 8, 1)
        resum(buf)


def repeat_chunk(buf, n, bare=False):
    """Insert N more copies of the commonest chunk record of CHNK after its
    first occurrence: the table heapscan would write for a heap with N more
    such chunks side by side.  CHNK is recompressed as the writer does (zstd
    level 3, content size in the frame, no checksum).  Format 2 masks each
    record's hash by its address: the copies are masked too unless BARE."""
    if version(buf) >= 2 and not bare:
        return repeat_masked(buf, n)
    _, flags, stored, raw, check, off = section(buf, "CHNK")
    p = bytes(buf[off + SEC_HDR:off + SEC_HDR + stored])
    if flags & 1:
        p = subprocess.run(["zstd", "-q", "-d", "-c"], input=p, stdout=subprocess.PIPE,
                           check=True).stdout
    count, pos = read_var(p, 0)
    recs, first, index = {}, {}, {}
    for i in range(count):
        start = pos
        for _ in range(4):
            _, pos = read_var(p, pos)
        pos += 4
        rec = p[start:pos]
        recs[rec] = recs.get(rec, 0) + 1
        first.setdefault(rec, pos)
        index.setdefault(rec, i)
    rec = max(recs, key=recs.get)
    at = first[rec]
    p = varint(count + n) + p[len(varint(count)):at] + rec * n + p[at:]
    replace(buf, "CHNK", zstd3(p), 1, len(p))
    if any(sec[0] == "RACH" for sec in parse(buf)):
        repeat_state(buf, index[rec], n)


def zstd3(p):
    """p compressed as heapscan's writer does (level 3, content size, no checksum)."""
    tmp = "/tmp/snaptool.%d.sec" % os.getpid()
    try:
        open(tmp, "wb").write(p)  # a file, not a pipe: zstd then records the size
        return subprocess.run(["zstd", "-q", "-3", "--no-check", "-c", tmp],
                              stdout=subprocess.PIPE, check=True).stdout
    finally:
        os.unlink(tmp)


def repeat_state(buf, k, n):
    """RACH to match: N more copies of chunk K's reachability after it."""
    _, flags, stored, raw, check, off = section(buf, "RACH")
    p = bytes(buf[off + SEC_HDR:off + SEC_HDR + stored])
    if flags & 1:
        p = subprocess.run(["zstd", "-q", "-d", "-c"], input=p, stdout=subprocess.PIPE,
                           check=True).stdout
    count, pos = read_var(p, 0)
    _, pos = read_var(p, pos)
    _, pos = read_var(p, pos)
    head = varint(count + n) + p[len(varint(count)):pos]
    states = p[pos:]
    p = head + states[:k + 1] + states[k:k + 1] * n + states[k + 1:]
    replace(buf, "RACH", zstd3(p), 1, len(p))


def make_mutants(buf, prefix, n, seed, lo, hi):
    """PREFIX.K for K < N: one random bit in [LO, HI) flipped, then resealed
    (or, when the flip broke the section layout, the trailer sum alone)."""
    rng = random.Random(seed)
    for k in range(n):
        m = bytearray(buf)
        off, bit = rng.randrange(lo, hi), rng.randrange(8)
        m[off] ^= 1 << bit
        try:
            reseal(m)
        except SnapError:
            resum(m)
        open("%s.%d" % (prefix, k), "wb").write(m)
        print("%s.%d %d %d" % (prefix, k, off, bit))


def zframe(claim, length):
    # Frame_Header_Descriptor 0xE0: 8-byte Frame_Content_Size, Single_Segment,
    # no checksum, no dictionary.  Then one last RLE block of 16 bytes 'A'.
    frame = struct.pack("<IBQ", 0xFD2FB528, 0xE0, claim)
    frame += struct.pack("<I", 1 | (1 << 1) | (16 << 3))[:3] + b"A"
    if length < len(frame):
        raise SnapError("a zstd frame needs at least %d bytes" % len(frame))
    return frame + b"\0" * (length - len(frame))


def zbomb(prefix, fill, count, wlog=17, ratio=12000, rawfill=0):
    """A zstd frame of PREFIX (a raw block) and then COUNT bytes FILL (RLE
    blocks of 128 KiB): a few bytes per 128 KiB, with its content size.  Not
    single-segment (that would make the window the whole content, which a
    streaming reader refuses): a window of 128 KiB.  RLE inflates 32768x, more
    than zstd reaches on anything but one repeated byte; a skippable frame
    after it pads the whole to RATIO (12000: what zstd -19 makes of repeated
    8-byte records), so a reader that bounds the ratio by what real content
    reaches still takes it.  RAWFILL: the first RAWFILL bytes of the fill in
    raw blocks instead (a frame as long as wanted with nothing after it)."""
    total = len(prefix) + count
    frame = struct.pack("<IBBQ", 0xFD2FB528, 0xC0, (wlog - 10) << 3, total)
    blocks = []
    if prefix or not count:
        blocks.append((0, len(prefix), prefix))
    while count:
        n = min(count, 128 << 10, rawfill) if rawfill else min(count, 128 << 10)
        blocks.append((0, n, bytes([fill]) * n) if rawfill else (1, n, bytes([fill])))
        rawfill -= n if rawfill else 0
        count -= n
    for i, (kind, size, body) in enumerate(blocks):
        last = 1 if i == len(blocks) - 1 else 0
        frame += struct.pack("<I", last | kind << 1 | size << 3)[:3] + body
    pad = (total + ratio - 1) // ratio - len(frame) - 8 if ratio else 0
    if pad > 0:
        frame += struct.pack("<II", 0x184D2A50, pad) + b"\0" * pad
    return frame


def add_section(buf, tag, payload, flags, raw):
    """Section TAG appended after the others; nsec and the sums follow."""
    end = len(buf) - 16
    hdr = tag.encode("latin-1") + struct.pack("<IQQQ", flags, len(payload), raw, xxh64(payload))
    buf[end:end] = hdr + payload
    struct.pack_into("<I", buf, 12, struct.unpack_from("<I", buf, 12)[0] + 1)
    resum(buf)


def payload_of(buf, tag):
    _, flags, stored, raw, check, off = section(buf, tag)
    if flags & 1:
        raise SnapError("section %s is compressed: run `raw` first" % tag)
    return bytes(buf[off + SEC_HDR:off + SEC_HDR + stored])


def hostile(buf, outdir):
    """The crafted files of issue 17 and their kin.  Each costs a few KB on
    disk; what it claims is in its name."""
    out = []
    chunks, _ = read_var(payload_of(buf, "CHNK"), 0)
    big = 1 << 26  # 67M records

    def emit(name, expect, b):
        open(os.path.join(outdir, name), "wb").write(b)
        out.append("%s %s" % (name, expect))

    # CHNK: a count of 67M, then 512 MiB of zeros (chunk 0 has size 0)
    p = varint(big)
    b = bytearray(buf)
    replace(b, "CHNK", zbomb(p, 0, big * 8), 1, len(p) + big * 8)
    emit("chnk-zeros", "section CHNK says 67108864 chunks in", b)
    # CHNK: 67M claimed, one good record, then zeros
    p = varint(big) + bytes([0x10, 2, 0, 1, 0, 0, 0, 0])
    b = bytearray(buf)
    replace(b, "CHNK", zbomb(p, 0, big * 8), 1, len(p) + big * 8)
    emit("chnk-one-then-zeros", "section CHNK says 67108864 chunks in", b)
    # TYPE: 22M empty types, all zeros (kind 0, name "", size 0)
    n = 22 << 20
    p = varint(n)
    b = bytearray(buf)
    replace(b, "TYPE", zbomb(p, 0, n * 3), 1, len(p) + n * 3)
    emit("type-22m-empty", "section TYPE claims", b)
    # CLSS: 22M empty classes
    b = bytearray(buf)
    replace(b, "CLSS", zbomb(p, 0, n * 3), 1, len(p) + n * 3)
    emit("clss-22m-empty", "section CLSS claims", b)
    # RACH: the right count, then 1 GiB of states
    p = varint(chunks) + b"\0\0"
    b = bytearray(buf)
    if any(sec[0] == "RACH" for sec in parse(b)):
        replace(b, "RACH", zbomb(p, 1, 1 << 30), 1, len(p) + (1 << 30))
    else:
        add_section(b, "RACH", zbomb(p, 1, 1 << 30), 1, len(p) + (1 << 30))
    emit("rach-1g", "RACH does not match", b)
    # an unknown section of 2 GiB (zeros): skipped, never decompressed
    b = bytearray(buf)
    add_section(b, "ZZZZ", zbomb(b"", 0, 2 << 30), 1, 2 << 30)
    emit("unknown-2g", "ok", b)
    # a CONT section of 2 GiB: kept compressed, never decompressed
    b = bytearray(buf)
    add_section(b, "CONT", zbomb(b"", 0, 2 << 30), 1, 2 << 30)
    emit("cont-2g", "ok", b)
    # CHNK: the base's records, then 1 GiB of zeros, in a frame asking for a
    # 1 GiB window (a streaming decoder would allocate it)
    p = payload_of(buf, "CHNK")
    b = bytearray(buf)
    replace(b, "CHNK", zbomb(p, 0, 1 << 30, 30), 1, len(p) + (1 << 30))
    emit("chnk-window-1g", "section CHNK does not decode", b)
    # Dense chunk tables: identical records of an in-use chunk of type 0
    # (0x20 bytes, side by side), and RACH to match, compressed as heapscan
    # writes.  Format 2 masks each record's hash field by its address, so
    # a file denser than 3 bytes a chunk is not heapscan's: refused before
    # anything is allocated.  Format 1 did not mask: read up to 1Mi chunks.
    rec = bytes([0, 2, 0, 1]) + struct.pack("<I", 0x1234)

    def dense(n, v1):
        b = bytearray(buf)
        if v1:
            struct.pack_into("<I", b, 8, 1)
        p = varint(n) + bytes([0x10]) + rec[1:] + rec * (n - 1)
        replace(b, "CHNK", zstd3(p), 1, len(p))
        p = varint(n) + b"\0\0" + b"\1" * n
        if any(sec[0] == "RACH" for sec in parse(b)):
            replace(b, "RACH", zstd3(p), 1, len(p))
        return b
    emit("chnk-dense-10m", "section CHNK says 10000000 chunks in", dense(10000000, False))
    emit("chnk-dense-67m", "section CHNK says 67108864 chunks in", dense(1 << 26, False))
    emit("v1-dense-10m", "version 1 .* with 10000000 chunks in .*take the snapshot again",
         dense(10000000, True))
    emit("v1-dense-1m", "ok", dense(1 << 20, True))
    # CLSS: 3M empty classes (9 MiB, 135 KB stored: within 64 times) beside
    # one in-use chunk of 1 GiB (so one class per 16 bytes in use allows
    # them): more than 65536 + one per stored byte
    b = bytearray(buf)
    p = varint(1) + varint(0x1000) + varint(1 << 26) + varint(0) + varint(1) + b"\0" * 4
    replace(b, "CHNK", p, 0, len(p))
    if any(sec[0] == "RACH" for sec in parse(b)):
        p = varint(1) + b"\0\0\1"
        replace(b, "RACH", p, 0, len(p))
    n = 3000000
    p = varint(n)
    rawfill = (len(p) + n * 3 - (1 << 20)) // 64 + 4096
    replace(b, "CLSS", zbomb(p, 0, n * 3, ratio=0, rawfill=rawfill), 1, len(p) + n * 3)
    emit("clss-3m-empty", "section CLSS lists 3000000 classes in", b)
    # PYTH: a CPython summary (pyobj.c: minor, 15 totals, classes) of 4M
    # empty classes (16 MiB of zeros: more than 64 times its bytes), and of
    # 262000 in 1 MiB, 20 KB of it stored raw (within 64 times, but more
    # classes than 65536 + one per stored byte)
    head = varint(11) + varint(0) * 15
    for name, n, rawfill, expect in (("pyth-4m-empty", (4 << 20) - 16, 0, "section PYTH claims"),
                                     ("pyth-262k-empty", 262000, 20000,
                                      "section PYTH does not decode")):
        p = head + varint(n)
        b = bytearray(buf)
        add_section(b, "PYTH", zbomb(p, 0, n * 4, ratio=0, rawfill=rawfill), 1, len(p) + n * 4)
        emit(name, expect, b)
    # durations that are not finite or absurd: pause_ms is META's first u64
    meta = payload_of(buf, "META")
    at = field_at(meta, "svvssv")
    for name, v in (("nan", float("nan")), ("inf", float("inf")), ("neginf", float("-inf")),
                    ("1e308", 1e308), ("negative", -1.0)):
        b = bytearray(buf)
        replace(b, "META", meta[:at] + struct.pack("<d", v) + meta[at + 8:], 0, len(meta))
        emit("meta-pause-" + name, "section META does not decode", b)
    return out


def offset(buf, what):
    if what == "version":
        return 8
    if what == "nsec":
        return 12
    if what == "trailer":
        return len(buf) - 16
    if what == "sum":
        return len(buf) - 8
    if what == "end":
        return len(buf)
    kind, _, tag = what.partition(":")
    s = section(buf, tag)
    if kind == "sec":
        return s[5]
    if kind == "payload":
        return s[5] + SEC_HDR
    raise SnapError("unknown offset name %s" % what)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, path = argv[1], argv[2]
    if cmd == "zframe":
        open(path, "wb").write(zframe(int(argv[3], 0), int(argv[4], 0)))
        return 0
    buf = bytearray(open(path, "rb").read())
    if cmd == "info":
        for tag, flags, stored, raw, check, off in parse(buf):
            print(tag, flags, stored, raw, off)
        return 0
    if cmd == "check":
        try:
            for tag, flags, stored, raw, check, off in parse(buf):
                p = off + SEC_HDR
                if xxh64(bytes(buf[p:p + stored])) != check:
                    return 1
            return 0 if struct.unpack_from("<Q", buf, len(buf) - 8)[0] == xxh64(bytes(buf[:-16])) else 1
        except SnapError:
            return 1
    if cmd == "off":
        print(offset(buf, argv[3]))
        return 0
    if cmd == "flip":
        off = int(argv[3], 0)
        buf[off] ^= 1 << (int(argv[4]) if len(argv) > 4 else 0)
    elif cmd == "put":
        off, fmt, val = int(argv[3], 0), {"u32": "<I", "u64": "<Q"}[argv[4]], int(argv[5], 0)
        struct.pack_into(fmt, buf, off, val)
    elif cmd == "reseal":
        reseal(buf)
    elif cmd == "resum":
        resum(buf)
    elif cmd == "replace":
        replace(buf, argv[3], open(argv[4], "rb").read(), int(argv[5], 0), int(argv[6], 0))
    elif cmd == "setstr":
        set_field(buf, argv[3], argv[4], "s", bytes.fromhex(argv[5]))
    elif cmd == "setvar":
        set_field(buf, argv[3], argv[4], "v", int(argv[5], 0))
    elif cmd == "mutants":
        make_mutants(buf, argv[3], int(argv[4]), int(argv[5]), int(argv[6], 0), int(argv[7], 0))
        return 0
    elif cmd == "v1":
        if version(buf) != 2:
            raise SnapError("not a format-2 file")
        repeat_masked(buf, 0, True)
    elif cmd == "repeat":
        repeat_chunk(buf, int(argv[3], 0), len(argv) > 4 and argv[4] == "bare")
    elif cmd == "hostile":
        print("\n".join(hostile(buf, argv[3])))
        return 0
    elif cmd == "raw":
        uncompress_all(buf)
        path = argv[3]
    else:
        sys.stderr.write("snaptool: unknown command %s\n" % cmd)
        return 2
    open(path, "wb").write(buf)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (SnapError, OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("snaptool: %s\n" % e)
        sys.exit(1)
