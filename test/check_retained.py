#!/usr/bin/env python3
"""check_retained.py TRUTH JSON FOLDED: heapscan --retained --json (and
--folded) on fixtures/retain.cc against the truth the fixture printed.

Each global's retainer, the thread's stack frame, the shared chunk: retained
bytes and chunks exactly; the Orders among g_orders' top types; retained
bytes of all Orders together; the folded stacks add up to the reachable
bytes and give each global what it retains."""
import json
import sys

truth_path, json_path, folded_path = sys.argv[1:4]
d = json.load(open(json_path))
ret = d["retainers"]
errors = []


def check(what, got, want):
    if got != want:
        errors.append(f"{what}: heapscan says {got}, the fixture {want}")


def find(pred, what):
    hits = [r for r in ret if pred(r)]
    if len(hits) != 1:
        errors.append(f"{what}: {len(hits)} retainers match, want 1: "
                      + ", ".join(r["root"] for r in hits))
        return None
    return hits[0]


if d["retainers_total"] != len(ret):
    errors.append(f"only {len(ret)} of {d['retainers_total']} retainers listed: raise --top")
for line in open(truth_path):
    f = line.split()
    if not f:
        continue
    if f[0] == "retainer":
        r = find(lambda r: r["kind"] == "global" and r["root"].startswith(f"global {f[1]} ("),
                 f[1])
        if r:
            check(f"{f[1]} retained bytes", r["retained_bytes"], int(f[2]))
            check(f"{f[1]} retained chunks", r["retained_chunks"], int(f[3]))
            check(f"{f[1]} type", r["type"], None)
    elif f[0] == "shared":
        r = find(lambda r: r["kind"] == "shared" and r["address"] == f[1], "shared chunk " + f[1])
        if r:
            check("shared root", r["root"], "shared")
            check("shared retained bytes", r["retained_bytes"], int(f[2]))
            check("shared retained chunks", r["retained_chunks"], int(f[3]))
    elif f[0] == "stack":
        r = find(lambda r: r["kind"] == "stack" and r["root"].startswith(f"stack of thread {f[1]} ")
                 and f"frame #0 {f[2]}(" in r["root"], f"thread {f[1]}'s {f[2]} frame")
        if r:
            check("stack retained bytes", r["retained_bytes"], int(f[3]))
            check("stack retained chunks", r["retained_chunks"], int(f[4]))
    elif f[0] == "toptype":
        r = find(lambda r: r["root"].startswith(f"global {f[1]} ("), f[1])
        if r:
            t = [t for t in r["top_types"] if t["name"] == f[2]]
            if len(t) != 1:
                errors.append(f"{f[1]}: top types {r['top_types']} do not name {f[2]} once")
            else:
                check(f"{f[1]}'s {f[2]} bytes", t[0]["bytes"], int(f[3]))
                check(f"{f[1]}'s {f[2]} chunks", t[0]["chunks"], int(f[4]))
    elif f[0] == "type":
        t = [t for t in d["retained_by_type"] if t["name"] == f[1]]
        if len(t) != 1:
            errors.append(f"retained_by_type names {f[1]} {len(t)} times")
        else:
            check(f"all {f[1]} retain bytes", t[0]["bytes"], int(f[2]))
            check(f"all {f[1]} retain chunks", t[0]["chunks"], int(f[3]))
            check(f"{f[1]} kind", t[0]["kind"], "class")

# retainers partition the reachable chunks
check("sum of retainers' bytes", sum(r["retained_bytes"] for r in ret), d["reachable_bytes"])
check("sum of retainers' chunks", sum(r["retained_chunks"] for r in ret), d["reachable_chunks"])

# folded: "frame;frame BYTES", the first frame the retainer
total, per_root = 0, {}
for line in open(folded_path):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    total += int(n)
    root = stack.split(";")[0]
    per_root[root] = per_root.get(root, 0) + int(n)
check("folded total", total, d["reachable_bytes"])
for r in ret:
    if r["kind"] != "shared":
        check(f"folded bytes under {r['root']}", per_root.get(r["root"], 0), r["retained_bytes"])
check("folded bytes under shared", per_root.get("shared", 0),
      sum(r["retained_bytes"] for r in ret if r["kind"] == "shared"))

for e in errors:
    print("check_retained:", e)
sys.exit(1 if errors else 0)
