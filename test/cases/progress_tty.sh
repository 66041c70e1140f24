# progress_tty: the progress line is on stderr only when stderr is a terminal
# (a pty here, python3's pty module), names the phases as they come - preparing,
# copying, walking, typing for the report, marking for --leaks - each as
# "heapscan: PHASE N%", and is erased ("\r" ESC "[K") before the report, whose
# bytes are the same as without a terminal.  --quiet, a pipe, or work that ends
# before the mark (HEAPSCAN_TEST_PROGRESS_AFTER_MS, a test hook: 0 draws at
# once, a large value never) show nothing.  No clock is asserted.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v "$PYTHON" >/dev/null || skip "no $PYTHON for a pty"
start_fixture classes
pid=$FIXTURE_PID

# on_pty OUT ARGS...: heapscan ARGS with stdout to OUT.stdout and stderr on a
# pty whose bytes go to OUT.tty; fails unless it exits 0 (PTY_RC=N: unless N)
on_pty() {
	local out=$1 rc
	shift
	"$PYTHON" - "$out" "$HEAPSCAN" "$@" <<'PY'
import os, pty, sys
out, argv = sys.argv[1], sys.argv[2:]
master, slave = pty.openpty()
pid = os.fork()
if pid == 0:
    os.close(master)
    fd = os.open(out + ".stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(slave, 2)
    os.execv(argv[0], argv)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the child closed the pty
        break
    if not chunk:
        break
    data += chunk
_, status = os.waitpid(pid, 0)
open(out + ".tty", "wb").write(data)
sys.exit(os.waitstatus_to_exitcode(status))
PY
	rc=$?
	[ "$rc" = "${PTY_RC:-0}" ] || fail "heapscan $* on a pty exited $rc: $(cat -v "$out.tty")"
}

"$HEAPSCAN" "$pid" >plain.txt 2>plain.err || fail "heapscan $pid exited $?"

HEAPSCAN_TEST_PROGRESS_AFTER_MS=0 on_pty report "$pid"
"$PYTHON" - report.tty <<'PY' || fail "the progress line on a pty is wrong: $(cat -v report.tty)"
import re, sys
t = open(sys.argv[1], "rb").read().decode()
draws = re.findall(r"\rheapscan: ([a-z]+) (\d+)%\x1b\[K", t)
phases = []
for p, pct in draws:
    assert 0 <= int(pct) <= 100, pct
    if not phases or phases[-1] != p:
        phases.append(p)
print("phases:", phases)
assert phases == ["preparing", "copying", "walking", "typing"], phases
assert t.endswith("\r\x1b[K"), "the line is not erased at the end: %r" % t[-40:]
rest = re.sub(r"\rheapscan: [a-z]+ \d+%\x1b\[K|\r\x1b\[K", "", t)
assert rest == "", "more than the progress line on stderr: %r" % rest
PY
"$PYTHON" - plain.txt report.stdout <<'PY' || fail "the report differs with a progress line"
import re, sys
strip = lambda s: re.sub(r"stopped [0-9.]+ ms", "stopped", s)
a, b = (strip(open(f).read()) for f in sys.argv[1:])
assert a == b
PY

HEAPSCAN_TEST_PROGRESS_AFTER_MS=0 on_pty leaks --leaks "$pid"
grep -q $'\rheapscan: marking [0-9]*%' leaks.tty || fail "--leaks: no marking phase: $(cat -v leaks.tty)"

for quiet in "--quiet" "-q"; do
	HEAPSCAN_TEST_PROGRESS_AFTER_MS=0 on_pty q "$quiet" "$pid"
	[ -s q.tty ] && fail "$quiet: stderr on the pty: $(cat -v q.tty)"
done
HEAPSCAN_TEST_PROGRESS_AFTER_MS=600000 on_pty late "$pid"
[ -s late.tty ] && fail "work that ends before the mark drew a line: $(cat -v late.tty)"
HEAPSCAN_TEST_PROGRESS_AFTER_MS=0 "$HEAPSCAN" "$pid" >/dev/null 2>pipe.err || fail "exit $?"
[ -s pipe.err ] && fail "stderr not a terminal, yet: $(cat -v pipe.err)"

# an error message starts on a clean line
PTY_RC=7 HEAPSCAN_TEST_PROGRESS_AFTER_MS=0 on_pty why --why 0x10 "$pid"
grep -q $'\r\033\[Kheapscan: 0x10 is not in any malloc chunk' why.tty ||
	fail "the error does not erase the progress line first: $(cat -v why.tty)"
echo "ok: progress on a pty only, erased before output; quiet, late and piped runs silent"
