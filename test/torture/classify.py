#!/usr/bin/env python3
"""classify.py - sort many heapscan --json scans of one fixture into outcomes.

    python3 test/torture/classify.py MODE TRUTH DIR N

DIR holds, for i in 1..N, rc.i (heapscan's exit status), out.i.json and
err.i.txt.  MODE says what counts as right:

  malloc  exit 0 with busy_arenas 0 and the truth exact: "exact"; exit 0 with
          busy arenas reported: "busy-reported" (counts not checked: a list
          may be caught mid-update); any other exit below 128: "other";
          exit 0, no busy arena and a count off, or exit >= 128, or a
          sanitizer report on stderr: a failure.
  churn   exit 0 and the truth exact: "exact"; exit 6 with a message that
          says the target changed and to retry: "changed-retry"; anything
          else is a failure.

Prints "OUTCOME COUNT" lines, then "failure: ..." lines; exit 1 on a failure.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import check_truth  # noqa: E402

SANITIZER = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def exact(records, path):
    doc = check_truth.read_json(path)
    return check_truth.compare(records, doc, path), doc


def main(argv):
    mode, truth, d, n = argv[1], argv[2], argv[3], int(argv[4])
    records = check_truth.read_truth(truth)
    counts, failures = {}, []

    def count(k):
        counts[k] = counts.get(k, 0) + 1

    for i in range(1, n + 1):
        rc = int(read(os.path.join(d, "rc.%d" % i)).strip() or "-1")
        err = read(os.path.join(d, "err.%d.txt" % i))
        out = os.path.join(d, "out.%d.json" % i)
        if rc >= 128 or rc < 0:
            failures.append("scan %d: exit %d (signal %d): %s" % (i, rc, rc - 128, err[:300]))
            continue
        if any(s in err for s in SANITIZER):
            failures.append("scan %d: sanitizer report: %s" % (i, err[:600]))
            continue
        if mode == "churn":
            if rc == 6:
                if "changed" in err and "retry" in err:
                    count("changed-retry")
                else:
                    failures.append("scan %d: exit 6 without a clear message: %r" % (i, err[:300]))
            elif rc == 0:
                problems, _ = exact(records, out)
                if problems:
                    failures.append("scan %d: exit 0 but %s" % (i, "; ".join(problems)))
                else:
                    count("exact")
            else:
                failures.append("scan %d: exit %d: %s" % (i, rc, err[:300]))
        else:
            if rc != 0:
                count("other")
                print("scan %d: exit %d: %s" % (i, rc, err.strip()[:200]))
                continue
            problems, doc = exact(records, out)
            if doc["summary"].get("busy_arenas"):
                count("busy-reported")
            elif problems:
                failures.append("scan %d: no busy arena but %s" % (i, "; ".join(problems)))
            else:
                count("exact")
    for k in sorted(counts):
        print(k, counts[k])
    for f in failures[:20]:
        print("failure: " + f)
    print("failures", len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
