#!/usr/bin/env python3
"""check_truth.py - compare a fixture's truth file with heapscan --json output.

    python3 test/check_truth.py TRUTHFILE JSONFILE

Truth records (one per line, space separated; unknown keys are ignored):
    pid N | threads N | arenas N
    inuse SIZE N      sizes[] entry with that "size" has "count" N
    mmapped SIZE N    that entry's "mmapped" is N
    tcache|fastbin|smallbin|largebin|unsorted SIZE N
                      free_sizes[] entry with that "kind" and "size" has "count" N
A count of 0 is met by an absent entry; any other count needs the entry.

Exit 0 when everything matches; 1 with one line per mismatch
("inuse 0x3f0: truth 12, heapscan 11"); 2 when either file is unusable.
"""
import json
import sys

FREE_KINDS = ("tcache", "fastbin", "smallbin", "largebin", "unsorted")
SUMMARY_KEYS = ("pid", "threads", "arenas")


def die(msg):
    print("check_truth: " + msg, file=sys.stderr)
    sys.exit(2)


def parse_int(text, where):
    try:
        return int(text, 0)
    except ValueError:
        die("%s: not a number: %r" % (where, text))


def read_truth(path):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        die("cannot read truth %s: %s" % (path, e.strerror))
    records = []
    for no, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        key, where = fields[0], "%s:%d" % (path, no)
        if key in SUMMARY_KEYS:
            if len(fields) != 2:
                die("%s: expected '%s N'" % (where, key))
            records.append((key, None, parse_int(fields[1], where)))
        elif key == "inuse" or key == "mmapped" or key in FREE_KINDS:
            if len(fields) != 3:
                die("%s: expected '%s SIZE COUNT'" % (where, key))
            records.append((key, parse_int(fields[1], where), parse_int(fields[2], where)))
    if not records:
        die("%s: no truth records" % path)
    return records


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def read_json(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        die("cannot read %s: %s" % (path, e.strerror))
    except ValueError as e:
        die("%s does not parse as JSON: %s" % (path, e))
    if not isinstance(doc, dict):
        die("%s: top level is not an object" % path)
    for k, t in (("summary", dict), ("sizes", list), ("free_sizes", list)):
        if not isinstance(doc.get(k), t):
            die("%s: missing or malformed \"%s\"" % (path, k))
    return doc


def index(doc, path):
    """sizes by size, free_sizes by (kind, size); duplicates are errors too."""
    problems = []
    sizes, free = {}, {}
    for e in doc["sizes"]:
        if not isinstance(e, dict) or not is_int(e.get("size")) or not is_int(e.get("count")):
            die("%s: malformed sizes entry %r" % (path, e))
        if e["size"] in sizes:
            problems.append("sizes: size %#x listed twice" % e["size"])
        sizes[e["size"]] = e
    for e in doc["free_sizes"]:
        if (not isinstance(e, dict) or not is_int(e.get("size")) or
                not is_int(e.get("count")) or not isinstance(e.get("kind"), str)):
            die("%s: malformed free_sizes entry %r" % (path, e))
        key = (e["kind"], e["size"])
        if key in free:
            problems.append("free_sizes: %s %#x listed twice" % key)
        free[key] = e
    return sizes, free, problems


def got_text(v):
    return "absent" if v is None else str(v)


def compare(records, doc, path):
    sizes, free, problems = index(doc, path)
    summary = doc["summary"]
    for key, size, want in records:
        if size is None:
            got = summary.get(key)
            if not is_int(got) or got != want:
                problems.append("%s: truth %d, heapscan %s" % (key, want, got_text(got)))
            continue
        if key == "inuse":
            e = sizes.get(size)
            got = e["count"] if e else None
        elif key == "mmapped":
            e = sizes.get(size)
            got = e.get("mmapped") if e else None
        else:
            e = free.get((key, size))
            got = e["count"] if e else None
        if got is None and want == 0:
            continue
        if got != want:
            problems.append("%s %#x: truth %d, heapscan %s" % (key, size, want, got_text(got)))
    return problems


def main(argv):
    if len(argv) != 3:
        die("usage: check_truth.py TRUTHFILE JSONFILE")
    records = read_truth(argv[1])
    doc = read_json(argv[2])
    problems = compare(records, doc, argv[2])
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
