#!/usr/bin/env python3
"""check_leaks.py [--no-classes] TRUTH ADDRS LEAKS_JSON - heapscan --leaks --json against the
leaks fixture's own account (fixtures/leaks.cc).

TRUTH has "expect direct N", "expect indirect N", "expect class_direct NAME N",
"expect class_leaked NAME 0"; ADDRS has "ROLE 0xPTR" (malloc's pointer) per chunk the fixture
knows.  Checked: the totals of direct and indirect leaks, each named class's
direct count (or its absence), and that every sample address heapscan gives is
a chunk the fixture leaked - never one it keeps.  Prints what differs; exit 1
if anything does.

--allocator-leak CLASS N: the allocator itself leaks N objects of class CLASS
in every process (tcmalloc: one MallocExtension, see fixtures/tcmalloc.c); they
count in the direct total and must be exactly N, their samples are not the
fixture's."""
import json
import sys


def main():
    # --no-classes: the classes' names are not knowable (the executable that
    # holds them is not on this machine); the totals and samples still count
    no_classes = "--no-classes" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--no-classes"]
    extra = None
    if "--allocator-leak" in args:
        i = args.index("--allocator-leak")
        extra = (args[i + 1], int(args[i + 2]))
        del args[i:i + 3]
    truth_path, addrs_path, json_path = args[:3]
    expect = {}
    with open(truth_path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 3 and w[0] == "expect":
                expect[tuple(w[1:-1])] = int(w[-1])
    leaked, kept = set(), set()
    with open(addrs_path) as f:
        for line in f:
            role, addr = line.split()
            (leaked if role in ("direct", "indirect") else kept).add(int(addr, 16))
    with open(json_path) as f:
        rep = json.load(f)

    bad = []

    def same(what, want, got):
        if want != got:
            bad.append(f"{what}: want {want}, heapscan says {got}")

    if extra:
        expect[("direct",)] += extra[1]
        expect[("class_direct", extra[0])] = extra[1]
    same("leaked directly", expect[("direct",)], rep["leaked_chunks"])
    same("leaked indirectly", expect[("indirect",)], rep["indirect_chunks"])
    groups = {}
    for g in rep["leaks"]:
        groups.setdefault(g["name"], []).append(g)
        for a in g["samples"] if not extra or g["name"] != extra[0] else []:
            a = int(a, 16)
            if a in kept:
                bad.append(f"sample 0x{a:x} of {g['name']} is a chunk the fixture keeps")
            elif a not in leaked:
                bad.append(f"sample 0x{a:x} of {g['name']} is no chunk the fixture leaked")
    for key, n in expect.items():
        if no_classes:
            break
        if key[0] == "class_direct":
            got = sum(g["direct"] for g in groups.get(key[1], []))
            same(f"class {key[1]} leaked directly", n, got)
        elif key[0] == "class_leaked":
            got = sum(g["direct"] + g["indirect"] for g in groups.get(key[1], []))
            same(f"class {key[1]} leaked", n, got)
    if sum(g["direct"] for g in rep["leaks"]) != rep["leaked_chunks"] or \
            sum(g["indirect"] for g in rep["leaks"]) != rep["indirect_chunks"]:
        bad.append("the groups do not add up to the totals")
    for b in bad:
        print("check_leaks:", b)
    if not bad:
        print(f"check_leaks: {rep['leaked_chunks']} direct and {rep['indirect_chunks']} "
              f"indirect leaks, as the fixture says")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
