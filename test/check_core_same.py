#!/usr/bin/env python3
# check_core_same.py LIVE.json CORE.json: heapscan --json of a live process
# and of a core of it taken while it did not run give the same account:
# every summary count (not times, attempts, bytes copied or holes), every
# arena, size, free size, type and class.
import json, sys

SKIP = {"pause_ms", "pause_total_ms", "prepare_ms", "walk_ms", "analyze_ms", "attempts",
        "was_stopped", "copied_bytes", "holes"}
live = json.load(open(sys.argv[1]))
core = json.load(open(sys.argv[2]))
bad = 0
for key in live:
    if key == "summary":
        for f, v in live[key].items():
            if f not in SKIP and core[key].get(f) != v:
                print("summary.%s: live %r, core %r" % (f, v, core[key].get(f)))
                bad += 1
    elif live[key] != core.get(key):
        print("%s: live and core differ" % key)
        bad += 1
for key in core:
    if key not in live:
        print("%s: only in the core's report" % key)
        bad += 1
sys.exit(1 if bad else 0)
