"""check_py.py TRUTH TYPES_TXT [JSON] - heapscan --types (and --json) of
fixtures/py_classes.py against the truth it printed.

  class NAME N     exactly N objects of NAME
  gc NAME N        list, function, type: exactly N (every object of these
                   types is a container gc tracks); dict, tuple: at least N
                   (untracked ones exist as well)
  builtin NAME N   at least N, at most N + MARGIN[NAME]: what the
                   interpreter itself holds (README, "Python processes")
"""
import json
import sys

MARGIN = {"bytearray": 16, "str": 16000, "list": 1000, "dict": 16000}
EXACT_GC = {"list", "function", "type"}


def main():
    truth, types = sys.argv[1], sys.argv[2]
    got = {}
    for line in open(types):
        count, nbytes, name = line.rstrip("\n").split("\t", 2)
        if name in got:
            sys.exit("%s: %s listed twice" % (types, name))
        got[name] = (int(count), int(nbytes))
    bad = []
    for line in open(truth):
        f = line.split()
        if f[0] not in ("class", "gc", "builtin"):
            continue
        name, n = f[1], int(f[2])
        have = got.get(name, (0, 0))[0]
        if f[0] == "class" or (f[0] == "gc" and name in EXACT_GC):
            ok = have == n
            want = "%d" % n
        elif f[0] == "gc":
            ok = have >= n
            want = ">= %d" % n
        else:
            ok = n <= have <= n + MARGIN[name]
            want = "%d..%d" % (n, n + MARGIN[name])
        if not ok:
            bad.append("%s %s: heapscan %d, want %s" % (f[0], name, have, want))
    if len(sys.argv) > 3:
        d = json.load(open(sys.argv[3]))
        py = {c["name"]: c for c in d["classes"] if c.get("runtime") == "python"}
        for name, (count, nbytes) in got.items():
            c = py.get(name)
            if c is None and any(k["name"] == name and k.get("runtime") == "c++" for k in d["classes"]):
                continue
            if c is None or c["instances"] != count or c["bytes"] != nbytes:
                bad.append("--json classes disagree with --types on %s" % name)
        if not all(c.get("runtime") in ("c++", "python") for c in d["classes"]):
            bad.append("a JSON class without a runtime")
        if "python" not in d or d["python"]["bad_free_lists"] or d["python"]["count_mismatches"]:
            bad.append("JSON python summary missing or reports broken pools: %s" % d.get("python"))
    for b in bad:
        print(b, file=sys.stderr)
    sys.exit(1 if bad else 0)


main()
