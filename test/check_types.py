#!/usr/bin/env python3
"""check_types.py - compare a fixture's truth with heapscan --vtables and --json.

    python3 test/check_types.py [--at-least] VTABLES_TXT JSONFILE|- TRUTHFILE

VTABLES_TXT is the stdout of `heapscan --vtables PID`: nothing but lines
"COUNT<TAB>CLASS", one per class, COUNT > 0.  JSONFILE is `heapscan --json PID`
of the same, unchanged, target ("-": none).

Truth records (one per line; unknown keys are ignored, like check_truth.py):
    pid N | threads N             summary.pid, summary.threads
    class NAME N                  --vtables and JSON "classes": NAME has N
                                  instances (N = 0: NAME is not listed)
    typeclass NAME N              JSON "types": kind "class", NAME, count N
    typearray NAME N              kind "array" (NAME ends in "[]"), count N
    content NAME N                kind "content", NAME (a preview such as
                                  "test_memory" with its quotes), count N
    shape SIZE N NAME             kind "shape", size SIZE, NAME, count N
NAME is the rest of the line but the count (or, for shape, after the count):
it may hold spaces ("(anonymous namespace)::Hidden", "int, heap ptr, heap ptr").

Besides the truth, always:
  - every --vtables line parses, no class is listed twice, and no class that
    is not in the truth is listed, except from the C++ runtime (std::,
    __gnu_cxx::, __cxxabiv1::), which are noted, not failed;
  - JSON "classes" lists the same classes with the same counts as --vtables;
  - every JSON type has kind/name/size/count/bytes/sample of the documented
    form; size is 0 for class and array kinds and for a string's content
    (its chunks may differ in size), and a chunk size otherwise; a
    "size" type is named "0xSIZE bytes"; a class or array type names a class
    that has instances; no class, array or size type is listed twice (content
    and shape names are previews: two types may share one);
  - every in-use chunk has exactly one type: the types' counts add up to
    summary.in_use_chunks + summary.mmapped_chunks, and their bytes to
    in_use_bytes + mmapped_bytes.

--at-least (for allocators whose free memory heapscan cannot tell apart): a
truth class must have at least its count, classes with count 0 may appear,
and JSONFILE must be "-".

Exit 0 when everything matches; 1 with one line per mismatch; 2 when a file
is unusable.
"""
import json
import re
import sys

RUNTIME_PREFIXES = ("std::", "__gnu_cxx::", "__cxxabiv1::")
KINDS = ("class", "array", "content", "shape", "size")
LINE_RE = re.compile(r"^(\d+)\t(.+)$")
HEX_RE = re.compile(r"^0x[0-9a-f]+$")


def die(msg):
    print("check_types: " + msg, file=sys.stderr)
    sys.exit(2)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


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
    t = {"summary": {}, "class": {}, "typeclass": {}, "typearray": {},
         "content": {}, "shape": {}}
    for no, line in enumerate(lines, 1):
        where = "%s:%d" % (path, no)
        key, _, rest = line.partition(" ")
        if key in ("pid", "threads"):
            t["summary"][key] = parse_int(rest, where)
        elif key in ("class", "typeclass", "typearray", "content"):
            name, _, n = rest.rpartition(" ")
            if not name:
                die("%s: expected '%s NAME COUNT'" % (where, key))
            t[key][name] = parse_int(n, where)
        elif key == "shape":
            f = rest.split(" ", 2)
            if len(f) != 3:
                die("%s: expected 'shape SIZE COUNT NAME'" % where)
            t["shape"][(parse_int(f[0], where), f[2])] = parse_int(f[1], where)
    if not any(t[k] for k in t):
        die("%s: no truth records" % path)
    return t


def read_vtables(path, problems):
    """{class: count} from --vtables output; malformed lines are problems."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        die("cannot read %s: %s" % (path, e.strerror))
    if text and not text.endswith("\n"):
        problems.append("--vtables: output does not end with a newline")
    counts = {}
    for no, line in enumerate(text.splitlines(), 1):
        m = LINE_RE.match(line)
        if not m:
            problems.append("--vtables line %d is not 'COUNT<TAB>CLASS': %r" % (no, line))
            continue
        n, name = int(m.group(1)), m.group(2)
        if n == 0:
            problems.append("--vtables line %d: %s listed with count 0" % (no, name))
        if name in counts:
            problems.append("--vtables: %s listed twice" % name)
        counts[name] = n
    return counts


def check_classes(counts, truth, at_least, problems, notes, what):
    for name, want in sorted(truth["class"].items()):
        got = counts.get(name)
        if want == 0:
            if got is not None and not at_least:
                problems.append("%s: %s has no live heap instance but is listed with %d"
                                % (what, name, got))
        elif got is None:
            problems.append("%s: %s: truth %d, not listed" % (what, name, want))
        elif (got < want) if at_least else (got != want):
            problems.append("%s: %s: truth %s%d, heapscan %d"
                            % (what, name, ">= " if at_least else "", want, got))
    for name in sorted(set(counts) - set(truth["class"])):
        if name.startswith(RUNTIME_PREFIXES):
            notes.append("%s: runtime class %s: %d" % (what, name, counts[name]))
        else:
            problems.append("%s: %s (%d) is not a class of the fixture"
                            % (what, name, counts[name]))


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
    for k, t in (("summary", dict), ("types", list), ("classes", list)):
        if not isinstance(doc.get(k), t):
            die("%s: missing or malformed \"%s\"" % (path, k))
    return doc


def json_classes(doc, problems):
    out = {}
    for e in doc["classes"]:
        if (not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"]
                or not is_int(e.get("instances")) or e["instances"] < 1
                or not isinstance(e.get("sample"), str) or not HEX_RE.match(e["sample"])):
            problems.append("json classes: malformed entry %r" % (e,))
            continue
        if e["name"] in out:
            problems.append("json classes: %s listed twice" % e["name"])
        out[e["name"]] = e["instances"]
    return out


def type_problem(e, classes):
    """What is wrong with one "types" entry, or None."""
    if not isinstance(e, dict):
        return "not an object"
    if e.get("kind") not in KINDS:
        return "kind %r" % (e.get("kind"),)
    if not isinstance(e.get("name"), str) or not e["name"]:
        return "name"
    for k in ("size", "count", "bytes"):
        if not is_int(e.get(k)) or e[k] < 0:
            return k
    if e["count"] < 1:
        return "count 0"
    if not isinstance(e.get("sample"), str) or not HEX_RE.match(e["sample"]):
        return "sample %r" % (e.get("sample"),)
    kind, name, size = e["kind"], e["name"], e["size"]
    if kind in ("class", "array"):
        if size != 0:
            return "size %d for a %s type (should be 0)" % (size, kind)
        base = name
        if kind == "array":
            if not name.endswith("[]"):
                return "array type not named CLASS[]"
            base = name[:-2]
        if base not in classes:
            return "%s is not in \"classes\"" % base
        if kind == "class" and e["count"] > classes[base]:
            return "more chunks (%d) than instances (%d)" % (e["count"], classes[base])
    elif kind == "content" and size == 0:
        # a string: its chunks may be of several sizes
        if not (name.startswith('"') and name.endswith('"')):
            return "size 0 for a content type that is not a string"
    else:
        if size < 32 or size % 16:
            return "size %#x is not a chunk size" % size
        if kind == "size" and name != "%#x bytes" % size:
            return "a size type should be named %r" % ("%#x bytes" % size)
    return None


def check_types(doc, classes, truth, problems):
    s = doc["summary"]
    by_key = {}
    total_count = total_bytes = 0
    for e in doc["types"]:
        p = type_problem(e, classes)
        if p:
            problems.append("json types: %s: %r" % (p, e))
            continue
        key = (e["kind"], e["name"], e["size"])
        if key in by_key:
            # A preview is not an identity: contents that differ past it,
            # or shapes past SHAPE_WORDS, are different types of one name.
            if e["kind"] not in ("content", "shape"):
                problems.append("json types: %s %r size %#x listed twice" % key)
            key += (len(by_key),)
        by_key[key] = e
        total_count += e["count"]
        total_bytes += e["bytes"]

    for what, a, b in (("count", "in_use_chunks", "mmapped_chunks"),
                       ("bytes", "in_use_bytes", "mmapped_bytes")):
        if not is_int(s.get(a)) or not is_int(s.get(b)):
            problems.append("summary lacks %s or %s" % (a, b))
            continue
        got = total_count if what == "count" else total_bytes
        if got != s[a] + s[b]:
            problems.append("json types: %s adds up to %d, summary %s + %s = %d"
                            % (what, got, a, b, s[a] + s[b]))

    def named(kind, name):
        return [e for k, e in by_key.items() if k[0] == kind and k[1] == name]

    for tkey, kind in (("typeclass", "class"), ("typearray", "array"), ("content", "content")):
        for name, want in sorted(truth[tkey].items()):
            found = named(kind, name)
            if len(found) > 1:
                problems.append("json types: %s %s at %d sizes: %s" % (
                    kind, name, len(found), ", ".join("%#x" % e["size"] for e in found)))
            got = found[0]["count"] if len(found) == 1 else None
            if got is None and want == 0:
                continue
            if got != want:
                problems.append("json types: %s %s: truth %d, heapscan %s" % (
                    kind, name, want, "absent" if got is None else got))
                if got is None:
                    problems.append("  (%s)" % near(by_key, kind, name))
    for (size, name), want in sorted(truth["shape"].items()):
        found = [e for e in named("shape", name) if e["size"] == size]
        if len(found) > 1:
            problems.append("json types: shape %#x %r listed %d times" % (size, name, len(found)))
        got = found[0]["count"] if len(found) == 1 else None
        if got != want:
            problems.append("json types: shape %#x %r: truth %d, heapscan %s" % (
                size, name, want, "absent" if got is None else got))
            problems.append("  (%s)" % near(by_key, None, None, size))


def near(by_key, kind, name, size=None):
    """What heapscan has instead, to make a mismatch readable."""
    if size is not None:
        v = [e for e in by_key.values() if e["size"] == size]
        label = "types of size %#x" % size
    else:
        v = [e for e in by_key.values() if e["kind"] == kind]
        label = "%s types" % kind
    v.sort(key=lambda e: -e["count"])
    return "%s: %s" % (label, "; ".join("%s %r x%d" % (e["kind"], e["name"], e["count"])
                                        for e in v[:6]) or "none")


def check_summary(doc, truth, problems):
    for k, want in sorted(truth["summary"].items()):
        got = doc["summary"].get(k)
        if not is_int(got) or got != want:
            problems.append("summary %s: truth %d, heapscan %s" % (k, want, got))


def main(argv):
    args = argv[1:]
    at_least = bool(args) and args[0] == "--at-least"
    if at_least:
        args = args[1:]
    if len(args) != 3 or (at_least and args[1] != "-"):
        die("usage: check_types.py [--at-least] VTABLES_TXT JSONFILE|- TRUTHFILE"
            " (--at-least takes no JSON)")
    vt_path, json_path, truth_path = args
    truth = read_truth(truth_path)
    problems, notes = [], []
    counts = read_vtables(vt_path, problems)
    check_classes(counts, truth, at_least, problems, notes, "--vtables")
    if json_path != "-":
        doc = read_json(json_path)
        classes = json_classes(doc, problems)
        if classes != counts:
            for name in sorted(set(classes) | set(counts)):
                if classes.get(name) != counts.get(name):
                    problems.append("json classes %s: %s, --vtables: %s" % (
                        name, classes.get(name, "absent"), counts.get(name, "absent")))
        check_summary(doc, truth, problems)
        check_types(doc, classes, truth, problems)
    for n in notes:
        print("note: " + n)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
