#!/usr/bin/env python3
"""check_diff.py - hold `heapscan --diff --json` to a fixture's truths.

    python3 test/check_diff.py [--first NAME] DIFF_JSON TRUTH_1 TRUTH_2 [TRUTH_3 ...]

DIFF_JSON is the output of `heapscan --diff --json S_1 S_2 ...`; TRUTH_i is the
fixture's truth file as it was when snapshot S_i was taken (fixtures/grow.cc
writes it).  Truth records used (others are ignored):

    pid N                        every snapshot's pid
    typeclass NAME N             chunks of class NAME
    content PREVIEW N            chunks of that content cluster
    allocated KIND NAME N        allocated since the fixture started
    freed KIND NAME N            freed since the fixture started
    (KIND: typeclass or content)

Checked, for every type the truths name (first truth -> last truth):
  - count_a, count_b and delta_count as the truths say; for three snapshots
    or more, "counts" at every snapshot;
  - new = allocated(last) - allocated(first), freed = freed(last) - freed(first);
  - sample_new is a hex address exactly when new > 0.
And always:
  - the form of every field (README), one row per (kind, name, size);
  - per row: count_b - count_a = new - freed, the same for bytes, and the
    deltas equal b - a; for 3+ snapshots counts/bytes have one entry per
    snapshot and begin and end with the _a and _b figures;
  - totals: new and freed are the sums over the rows; count_a/count_b (and
    bytes) summed over the rows are the in-use chunks of the first and last
    snapshot (every in-use chunk has exactly one type);
  - rows are ranked: growth never increases down the list (for two
    snapshots, delta_bytes never increases).
--first NAME: the first row is the type NAME.

Exit 0 when everything holds; 1 with one line per mismatch; 2 when a file is
unusable.
"""
import json
import re
import sys

HEX_RE = re.compile(r"^0x[0-9a-f]+$")
KINDS = {"typeclass": "class", "content": "content"}


def die(msg):
    print("check_diff: " + msg, file=sys.stderr)
    sys.exit(2)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def read_truth(path):
    t = {"pid": None, "count": {}, "allocated": {}, "freed": {}, "leaked": {}}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        die("cannot read truth %s: %s" % (path, e.strerror))
    for no, line in enumerate(lines, 1):
        parts = line.split(" ")
        key = parts[0]
        try:
            if key == "pid":
                t["pid"] = int(parts[1])
            elif key in KINDS and len(parts) >= 3:
                t["count"][(KINDS[key], " ".join(parts[1:-1]))] = int(parts[-1])
            elif key in ("allocated", "freed", "leaked") and len(parts) >= 4 and parts[1] in KINDS:
                t[key][(KINDS[parts[1]], " ".join(parts[2:-1]))] = int(parts[-1])
        except ValueError:
            die("%s:%d: not a number in %r" % (path, no, line))
    return t


class Checker:
    def __init__(self):
        self.errors = []

    def eq(self, what, got, want):
        if got != want:
            self.errors.append("%s: heapscan %r, truth %r" % (what, got, want))

    def fail(self, msg):
        self.errors.append(msg)


ROW_INTS = ("size", "count_a", "count_b", "bytes_a", "bytes_b", "delta_count",
            "delta_bytes", "new", "freed", "new_bytes", "freed_bytes")


def check_row_form(c, r, n):
    what = "type %r" % (r.get("name"),)
    if not isinstance(r.get("name"), str) or r.get("kind") not in (
            "class", "array", "content", "shape", "size"):
        c.fail("%s: bad name or kind: %r" % (what, r))
        return False
    for k in ROW_INTS:
        if not is_int(r.get(k)):
            c.fail("%s: %s is not an integer: %r" % (what, k, r.get(k)))
            return False
    s = r.get("sample_new")
    if r["new"] > 0:
        if not (isinstance(s, str) and HEX_RE.match(s)):
            c.fail("%s: %d new chunks but sample_new is %r" % (what, r["new"], s))
    elif s is not None:
        c.fail("%s: no new chunks but sample_new is %r" % (what, s))
    c.eq(what + " delta_count", r["delta_count"], r["count_b"] - r["count_a"])
    c.eq(what + " delta_bytes", r["delta_bytes"], r["bytes_b"] - r["bytes_a"])
    c.eq(what + " count_b - count_a", r["count_b"] - r["count_a"], r["new"] - r["freed"])
    c.eq(what + " bytes_b - bytes_a", r["bytes_b"] - r["bytes_a"],
         r["new_bytes"] - r["freed_bytes"])
    if n > 2:
        for k, first, last in (("counts", "count_a", "count_b"), ("bytes", "bytes_a", "bytes_b")):
            v = r.get(k)
            if not (isinstance(v, list) and len(v) == n and all(is_int(x) for x in v)):
                c.fail("%s: %s is not %d integers: %r" % (what, k, n, v))
                return False
            c.eq(what + " %s[0]" % k, v[0], r[first])
            c.eq(what + " %s[-1]" % k, v[-1], r[last])
        if not isinstance(r.get("growth"), (int, float)) or isinstance(r.get("growth"), bool):
            c.fail("%s: growth is not a number: %r" % (what, r.get("growth")))
            return False
    elif "counts" in r or "growth" in r:
        c.fail("%s: counts/growth given for two snapshots" % what)
    return True


def check_form(c, d, truths):
    n = len(truths)
    snaps = d.get("snapshots")
    if not isinstance(snaps, list) or len(snaps) != n:
        die("snapshots: want a list of %d, got %r" % (n, snaps))
    for i, (s, t) in enumerate(zip(snaps, truths)):
        for k, typ in (("path", str), ("cmdline", str), ("pid", int), ("time", int)):
            if not isinstance(s.get(k), typ):
                c.fail("snapshot %d: %s is %r" % (i + 1, k, s.get(k)))
        if t["pid"] is not None:
            c.eq("snapshot %d pid" % (i + 1), s.get("pid"), t["pid"])
    rows = d.get("types")
    if not isinstance(rows, list):
        die("types is not a list")
    seen = set()
    good = []
    for r in rows:
        if not isinstance(r, dict):
            die("a type is not an object: %r" % (r,))
        if check_row_form(c, r, n):
            key = (r["kind"], r["name"], r["size"])
            if key in seen:
                c.fail("type %r listed twice" % (key,))
            seen.add(key)
            good.append(r)
    return good


def check_totals(c, d, rows, n):
    t = d.get("totals")
    if not isinstance(t, dict):
        die("totals is not an object")
    snaps = d["snapshots"]
    for k in ("chunks_a", "chunks_b", "bytes_a", "bytes_b", "new", "freed"):
        if not is_int(t.get(k)):
            c.fail("totals.%s is %r" % (k, t.get(k)))
            return
    c.eq("totals.new", t["new"], sum(r["new"] for r in rows))
    c.eq("totals.freed", t["freed"], sum(r["freed"] for r in rows))
    c.eq("totals.chunks_a", t["chunks_a"], snaps[0].get("in_use_chunks"))
    c.eq("totals.chunks_b", t["chunks_b"], snaps[-1].get("in_use_chunks"))
    c.eq("totals.delta_chunks", t.get("delta_chunks"), t["chunks_b"] - t["chunks_a"])
    c.eq("totals.delta_bytes", t.get("delta_bytes"), t["bytes_b"] - t["bytes_a"])
    c.eq("sum of count_a", sum(r["count_a"] for r in rows), t["chunks_a"])
    c.eq("sum of count_b", sum(r["count_b"] for r in rows), t["chunks_b"])
    c.eq("sum of bytes_a", sum(r["bytes_a"] for r in rows), t["bytes_a"])
    c.eq("sum of bytes_b", sum(r["bytes_b"] for r in rows), t["bytes_b"])
    if n > 2:
        for i in range(n):
            c.eq("sum of counts[%d]" % i, sum(r["counts"][i] for r in rows),
                 snaps[i].get("in_use_chunks"))


def check_rank(c, rows, n, first):
    key = "growth" if n > 2 else "delta_bytes"
    for a, b in zip(rows, rows[1:]):
        if b[key] > a[key]:
            c.fail("not ranked by %s: %r (%r) before %r (%r)" %
                   (key, a["name"], a[key], b["name"], b[key]))
            break
    if first is not None:
        c.eq("first row", rows[0]["name"] if rows else None, first)


def check_truths(c, rows, truths):
    n = len(truths)
    by_key = {}
    for r in rows:
        by_key.setdefault((r["kind"], r["name"]), []).append(r)
    keys = set()
    for t in truths:
        keys.update(t["count"])
    for key in sorted(keys):
        what = "%s %s" % key
        want = [t["count"].get(key) for t in truths]
        if None in want:
            c.fail("%s: not in every truth" % what)
            continue
        found = by_key.get(key, [])
        if not found:
            if any(want):
                c.fail("%s: not in the diff (truth counts %r)" % (what, want))
            continue
        if len(found) > 1:
            c.fail("%s: %d rows" % (what, len(found)))
            continue
        r = found[0]
        c.eq(what + " count_a", r["count_a"], want[0])
        c.eq(what + " count_b", r["count_b"], want[-1])
        if n > 2:
            c.eq(what + " counts", r["counts"], want)
        a0 = truths[0]["allocated"].get(key)
        a1 = truths[-1]["allocated"].get(key)
        f0 = truths[0]["freed"].get(key)
        f1 = truths[-1]["freed"].get(key)
        if None not in (a0, a1):
            c.eq(what + " new", r["new"], a1 - a0)
        if None not in (f0, f1):
            c.eq(what + " freed", r["freed"], f1 - f0)
        leaked = [t["leaked"].get(key) for t in truths]
        if None not in leaked:
            c.eq(what + " leaked", r.get("leaked"), leaked)


def main(argv):
    first = None
    if len(argv) >= 2 and argv[0] == "--first":
        first, argv = argv[1], argv[2:]
    if len(argv) < 3:
        die("usage: check_diff.py [--first NAME] DIFF_JSON TRUTH_1 TRUTH_2 [TRUTH ...]")
    try:
        with open(argv[0]) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        die("cannot read %s: %s" % (argv[0], e))
    if not isinstance(d, dict):
        die("%s: not a JSON object" % argv[0])
    truths = [read_truth(p) for p in argv[1:]]
    c = Checker()
    rows = check_form(c, d, truths)
    check_totals(c, d, rows, len(truths))
    check_rank(c, rows, len(truths), first)
    check_truths(c, rows, truths)
    for e in c.errors:
        print(e)
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
