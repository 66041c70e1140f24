"""py_big.py - a CPython process holding about N_MB megabytes of objects
(default 1000): instances of a small class, their attribute strings, lists
and dicts.  Prints its pid and "ready" when built, then sleeps.

    python3 bench/py_big.py [N_MB] &  ...  heapscan --types PID
"""
import sys
import time


class Record:
    def __init__(self, i):
        self.name = "record-%d" % i
        self.tags = [i, i + 1]
        self.meta = {"k": i}


def main():
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    # about 430 bytes per Record with its str, list (+ items) and dict
    keep = [Record(i) for i in range(mb * 1024 * 1024 // 430)]
    print(len(keep), "records; pid", __import__("os").getpid(), "ready", flush=True)
    time.sleep(1e9)


main()
