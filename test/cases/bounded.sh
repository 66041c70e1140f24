# bounded: --max-memory 64K (windows of one page, 16 in place at most) gives
# exactly what a whole copy gives, byte for byte once the timings are blanked:
# the text report, --json, --vtables, --types, --leaks, --retained (text and
# JSON), --why and --referrers, and a --snapshot read back.  Live (a fork,
# --cow implied and said so) on every fixture, and on the committed kernel
# cores of this machine's glibc (and on two threads, jemalloc's heap, a
# Python process); the test hook HEAPSCAN_TEST_PAGER_STATS
# shows the windows really were many and never more than the budget, and,
# with a budget the analyses' tables fit in, that windows were dropped to
# make room for them and the two together stayed within it.  A
# stopped target (no fork) is held stopped while its windows are read and
# stays stopped; the memory guard picks windows when a whole copy does not
# fit but they do.  Without userfaultfd (a test hook) one line says so before
# the target is touched.  Bad sizes, a snapshot or --diff are usage errors.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v zstd >/dev/null || skip "zstd not installed (the committed cores are compressed)"

BUDGET=65536
WINDOWS=64K # --max-memory of same()
# blank what differs from run to run: durations
norm() { sed -E 's/"([a-z_]+_ms)": ?[0-9.]+/"\1": T/g; s/[0-9]+(\.[0-9]+)? ms\b/T ms/g'; }

# pager_ok ERR: the windows were many and within the budget
pager_ok() {
	local line faults peak
	line=$(grep '^heapscan: pager: ' "$1") || fail "no pager line in $1: $(cat "$1")"
	faults=$(sed -E 's/.* faults ([0-9]+) .*/\1/' <<<"$line")
	peak=$(sed -E 's/.* peak ([0-9]+) .*/\1/' <<<"$line")
	[ "$faults" -gt 100 ] || fail "only $faults windows read: $line"
	[ "$peak" -le "$BUDGET" ] || fail "more than the budget in place: $line"
}

# same TARGET WHAT...: heapscan WHAT on TARGET whole (FULL_OPTS) and in
# windows: the same exit status and the same output
same() {
	local target=$1 rc1 rc2
	shift
	"$HEAPSCAN" $FULL_OPTS "$@" "$target" 2>full.err | norm >full.out
	rc1=${PIPESTATUS[0]}
	HEAPSCAN_TEST_PAGER_STATS=1 "$HEAPSCAN" --max-memory $WINDOWS "$@" "$target" 2>win.err | norm >win.out
	rc2=${PIPESTATUS[0]}
	[ "$rc1" = "$rc2" ] || fail "$* $target: exit $rc1 whole, $rc2 in windows: $(cat win.err)"
	[ -s full.out ] || [ "$rc1" != 0 ] || [ "$1" = --vtables ] || [ "$1" = --types ] || fail "$* $target: no output"
	cmp -s full.out win.out || { diff full.out win.out | head -20; fail "$* $target: windows differ from the whole copy"; }
	[ "$WINDOWS" != 64K ] || pager_ok win.err
	grep -v -e '^heapscan: pager: ' -e "^heapscan: --max-memory: reading a fork of process" win.err | diff full.err - >/dev/null ||
		fail "$* $target: stderr differs: $(cat win.err)"
	N=$((N + 1))
}

# every mode on one target; ADDR for --why / --referrers
all_modes() {
	local target=$1 addr=$2
	for mode in "" --json --vtables --types --leaks "--leaks --json" --retained "--retained --json"; do
		same "$target" $mode
	done
	same "$target" --why "$addr"
	same "$target" --referrers "$addr"
	"$HEAPSCAN" $FULL_OPTS --snapshot full.snap "$target" 2>/dev/null || fail "--snapshot $target failed"
	"$HEAPSCAN" --max-memory 64K --snapshot win.snap "$target" 2>/dev/null || fail "--max-memory --snapshot $target failed"
	# with --contents, byte for byte: only the time and what differs between
	# two whole scans (the timings, the checksum: 8 bytes about each byte
	# that differs) may differ
	"$HEAPSCAN" $FULL_OPTS --snapshot c1.snap --contents "$target" 2>/dev/null &&
		"$HEAPSCAN" $FULL_OPTS --snapshot c2.snap --contents "$target" 2>/dev/null &&
		"$HEAPSCAN" --max-memory 64K --snapshot cw.snap --contents "$target" 2>/dev/null ||
		fail "--snapshot --contents $target failed"
	"$PYTHON" - c1.snap c2.snap cw.snap "$("$HEAPSCAN" --version | awk '{ print $2 }')" <<'PY' ||
		fail "--contents snapshots of $target differ"
import sys
a, b, w = (open(f, "rb").read() for f in sys.argv[1:4])
if len(a) != len(b):
    sys.exit(0)  # two whole scans already differ in length: nothing to tell
if len(w) != len(a):
    sys.exit("lengths: %d whole, %d in windows" % (len(a), len(w)))
# a timing is a double: every byte of one that differs between the whole scans
noise = {j for i in range(len(a)) if a[i] != b[i] for j in range(i - 7, i + 8)}
# the time of the scan (a varint after the version string): the two whole
# scans may fall in one second and the windowed one in the next
v = sys.argv[4].encode()
at = a.find(bytes([len(v)]) + v)
if at < 0:
    sys.exit("no version string %r in the snapshot" % v)
at += 1 + len(v)
for j in range(at, at + 10):
    noise.add(j)
    if a[j] < 0x80:
        break
bad = [i for i in range(len(a)) if a[i] != w[i] and i not in noise]
if bad:
    sys.exit("%d bytes differ, first at %d" % (len(bad), bad[0]))
PY
	for mode in --json --leaks; do
		"$HEAPSCAN" $mode full.snap | norm >full.out
		"$HEAPSCAN" $mode win.snap | norm >win.out
		cmp -s full.out win.out || { diff full.out win.out | head; fail "$mode of the snapshots of $target differ"; }
	done
}

# an address in a chunk of the target: one --leaks or --retained names that
# --why finds in a chunk
first_chunk() {
	local a
	for a in $({ "$HEAPSCAN" $FULL_OPTS --leaks --json "$1"; "$HEAPSCAN" $FULL_OPTS --retained --json "$1"; } 2>/dev/null |
		grep -oE '0x[0-9a-f]{6,}' | sort -u | head -60); do
		"$HEAPSCAN" $FULL_OPTS --why "$a" "$1" >/dev/null 2>&1 && { echo "$a"; return; }
	done
	echo 0x10
}

N=0
FULL_OPTS=--cow
for fx in arenas classes leaks lists strings retain stacks pools; do
	[ -x "$FIXTURES/$fx" ] || continue
	start_fixture "$fx"
	pid=$FIXTURE_PID
	all_modes "$pid" "$(first_chunk "$pid")"
	grep -qx "heapscan: --max-memory: reading a fork of process $pid in windows (as with --cow), so that every window is of one instant" win.err ||
		fail "no notice that a fork is read: $(cat win.err)"
	assert_running "$pid"
	kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null | tr -d ' \n')
	[ -z "$kids" ] || fail "$fx has children after --max-memory: $kids"
	echo "ok: $fx live, $N comparisons so far"
done

# the analyses on two threads however small the heap (HEAPSCAN_TEST_SPLIT),
# jemalloc's heap, a CPython process's objects
export HEAPSCAN_TEST_SPLIT=1
start_fixture classes
for mode in "" --vtables --leaks --retained; do same "$FIXTURE_PID" $mode; done
unset HEAPSCAN_TEST_SPLIT
# one pager thread (one job) as two
same "$FIXTURE_PID" --jobs 1 --json
grep -q ' workers 1 ' win.err || fail "--jobs 1: not one pager thread: $(cat win.err)"
same "$FIXTURE_PID" --jobs 2 --json
grep -q ' workers 2 ' win.err || fail "--jobs 2: not two pager threads: $(cat win.err)"
# windows copied in (UFFDIO_COPY), as on a kernel without UFFDIO_MOVE (test
# hook), and moved in when it has it: the pager line says which
HEAPSCAN_TEST_PAGER_NO_MOVE=1 same "$FIXTURE_PID" --leaks
grep -q ' can_move 0 moved 0$' win.err || fail "windows moved in despite HEAPSCAN_TEST_PAGER_NO_MOVE: $(cat win.err)"
same "$FIXTURE_PID" --leaks
grep -q ' can_move 0 ' win.err || grep -qE ' moved [1-9][0-9]*$' win.err ||
	fail "UFFDIO_MOVE to be had but no window moved in: $(cat win.err)"
if [ -x "$FIXTURES/jemalloc_linked" ]; then
	start_fixture jemalloc_linked
	for mode in "" --json --vtables; do same "$FIXTURE_PID" $mode; done
fi
if [ -x /usr/bin/python3.11 ]; then
	start_py_fixture /usr/bin/python3.11 py_classes.py
	for mode in "" --json --types; do same "$FIXTURE_PID" $mode; done
fi
echo "ok: split, jemalloc and Python, $N comparisons so far"

# The budget is shared with the analyses' big tables (what grows with the
# heap beyond the chunk list: types' and clusters' tables, --leaks' marks):
# lists (160k chunks, 30 MiB read) with 6M, where tables of about 3 MiB fit
# beside the floor of 8 windows.  The same output as the whole copy; the
# tables were charged (at least the type index, 4 bytes a chunk, or the
# marks and their queue, 5), windows were dropped to make room for them, and
# windows + tables never passed the budget.
stat() { sed -E "s/.* $2 ([0-9]+)( .*|$)/\1/" <<<"$1"; }
WINDOWS=6M
start_fixture lists
for mode in "" --json --vtables "--leaks --json"; do
	same "$FIXTURE_PID" $mode --jobs 2 # parts of the tables: as many as jobs
	line=$(grep '^heapscan: pager: ' win.err) || fail "no pager line: $(cat win.err)"
	budget=$(stat "$line" budget) faults=$(stat "$line" faults) tables=$(stat "$line" tables)
	total=$(stat "$line" total) dropped=$(stat "$line" dropped) chunks=$(stat "$line" chunks)
	floor=$(stat "$line" floor)
	least=$((chunks * 4))
	[ "$mode" = "--leaks --json" ] && least=$((chunks * 5))
	[ "$mode" = --vtables ] && least=1
	[ "$budget" = $((6 << 20)) ] && [ "$faults" -gt 20 ] || fail "$mode: not read in windows of 6M: $line"
	[ "$chunks" -gt 100000 ] || fail "$mode: lists has $chunks chunks: $line"
	[ "$tables" -ge "$least" ] || fail "$mode: tables charged $tables, less than $least: $line"
	[ $((tables + floor)) -le "$budget" ] || fail "$mode: the tables do not fit beside the floor: $line"
	[ "$dropped" -gt 0 ] || fail "$mode: no window dropped for the tables: $line"
	[ "$total" -le "$budget" ] && [ "$total" -ge "$tables" ] || fail "$mode: windows + tables passed the budget: $line"
done
WINDOWS=64K
echo "ok: windows and tables within a shared budget, $N comparisons so far"

# the committed kernel cores of this machine's glibc
v=$(ldd --version 2>/dev/null | sed -nE '1s/.* ([0-9]+\.[0-9]+)$/\1/p')
cores=$TOP/fixtures/cores/$v
FULL_OPTS=
if [ -d "$cores" ]; then
	for z in "$cores"/*.core.zst; do
		c=$(basename "$z" .zst)
		zstd -qdf "$z" -o "$c" || fail "cannot unpack $z"
		all_modes "$PWD/$c" "$(first_chunk "$PWD/$c")"
		same "$PWD/$c" --threads
		rm -f "$c"
		echo "ok: core $c, $N comparisons so far"
	done
else
	echo "no committed cores for glibc $v: cores not compared"
fi

# a stopped target: no fork; held stopped through the scan, and after
start_fixture arenas
pid=$FIXTURE_PID
kill -STOP "$pid"
wait_state "$pid" T "$HANG" || fail "target did not stop"
"$HEAPSCAN" --json "$pid" 2>/dev/null | norm >full.out
HEAPSCAN_TEST_PAGER_STATS=1 "$HEAPSCAN" --max-memory 64K --json "$pid" 2>win.err >win.json
norm <win.json >win.out
cmp -s full.out win.out || fail "stopped target: windows differ from the whole copy"
check_truth "$READY" win.json
pager_ok win.err
grep -qx "heapscan: --max-memory: no fork of process $pid (the target is stopped (state T)); keeping it stopped while its memory is read in windows, until the report is written" win.err ||
	fail "no notice of the held stop: $(cat win.err)"
sleep 0.1
assert_stopped "$pid"
kill -CONT "$pid"
assert_running "$pid"
echo "ok: stopped target read in windows while held"

# in windows the walk is one part, even where a whole copy's is cut (its
# parts' own chunk arrays would be outside the budget; glibc.c)
HEAPSCAN_TEST_SPLIT=1 HEAPSCAN_TEST_WALK_STATS=1 "$HEAPSCAN" --jobs 2 --json "$pid" >/dev/null 2>split.err ||
	fail "--jobs 2 (whole): exit $?"
grep -q '^heapscan: test: walk in [2-9][0-9]* parts' split.err || fail "the whole copy's walk was not cut: $(cat split.err)"
HEAPSCAN_TEST_SPLIT=1 HEAPSCAN_TEST_WALK_STATS=1 "$HEAPSCAN" --jobs 2 --max-memory 64K --json "$pid" >split.json 2>split.err ||
	fail "--jobs 2 --max-memory 64K: exit $?"
grep -q '^heapscan: test: walk in 1 parts' split.err || fail "the walk in windows was cut in parts: $(cat split.err)"
check_truth "$READY" split.json

# the guard: a whole copy does not fit in 50 MiB, windows do
HEAPSCAN_TEST_PAGER_STATS=1 HEAPSCAN_TEST_MEMAVAILABLE=$((50 << 20)) "$HEAPSCAN" --json "$pid" >auto.json 2>err.txt ||
	fail "guard with 50 MiB: exit $? ($(cat err.txt))"
grep -qE "^heapscan: scanning process $pid whole needs about .* but 50.0 MiB is available \(MemAvailable\); reading it in windows of at most [0-9.]+ MiB instead \(--max-memory\)$" err.txt ||
	fail "guard: no line saying it reads in windows: $(cat err.txt)"
grep -q '^heapscan: pager: ' err.txt || fail "guard: not read in windows: $(cat err.txt)"
check_truth "$READY" auto.json
HEAPSCAN_TEST_MEMAVAILABLE=$((60 << 20)) "$HEAPSCAN" --max-memory 1G --json "$pid" >/dev/null 2>err.txt
[ $? = 8 ] || fail "--max-memory 1G with 60 MiB available: want exit 8"
grep -q "with --max-memory 1.0 GiB needs about" err.txt || fail "guard: $(cat err.txt)"
assert_running "$pid"
echo "ok: the guard reads in windows when a copy does not fit"

# no userfaultfd (test hook): one line before the target is touched, exit 1;
# the guard then refuses as it did before windows
nouffd="heapscan: --max-memory: reading in windows needs userfaultfd, which this system refuses (Function not implemented); it needs root, or Linux 5.11 and later"
HEAPSCAN_TEST_NO_USERFAULTFD=1 "$HEAPSCAN" --max-memory 1M "$pid" >out.txt 2>err.txt
[ $? = 1 ] || fail "no userfaultfd: want exit 1"
[ -s out.txt ] && fail "no userfaultfd: wrote to stdout"
[ "$(cat err.txt)" = "$nouffd" ] || fail "no userfaultfd: $(cat err.txt)"
kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null | tr -d ' \n')
[ -z "$kids" ] || fail "children left after the refusal: $kids"
assert_running "$pid"
HEAPSCAN_TEST_NO_USERFAULTFD=1 HEAPSCAN_TEST_MEMAVAILABLE=$((50 << 20)) "$HEAPSCAN" "$pid" >out.txt 2>err.txt
[ $? = 8 ] || fail "no userfaultfd, too little memory: want exit 8 ($(cat err.txt))"
grep -q "^heapscan: scanning process $pid needs about .* but 50.0 MiB is available (MemAvailable); free memory" err.txt ||
	fail "no userfaultfd, too little memory: $(cat err.txt)"
assert_running "$pid"
if [ -d "$cores" ]; then
	zstd -qdf "$cores/arenas.core.zst" -o arenas.core || fail "cannot unpack arenas.core.zst"
	HEAPSCAN_TEST_NO_USERFAULTFD=1 "$HEAPSCAN" --max-memory 1M arenas.core >out.txt 2>err.txt
	[ $? = 1 ] || fail "no userfaultfd, a core: want exit 1"
	[ "$(cat err.txt)" = "$nouffd" ] || fail "no userfaultfd, a core: $(cat err.txt)"
	rm -f arenas.core
fi
echo "ok: without userfaultfd, one line and the target untouched"

# options that mean nothing there
"$HEAPSCAN" --snapshot a.snap "$pid" 2>/dev/null || fail "--snapshot failed"
"$HEAPSCAN" --max-memory 1M a.snap >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "^heapscan: --max-memory reads a process or a core in windows; a snapshot file holds no memory to read; try 'heapscan --help'$" err.txt ||
	fail "--max-memory with a snapshot: $(cat err.txt)"
"$HEAPSCAN" --diff --max-memory 1M a.snap a.snap >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "^heapscan: --max-memory reads a process or a core in windows; --diff reads snapshot files; try 'heapscan --help'$" err.txt ||
	fail "--max-memory with --diff: $(cat err.txt)"

for bad in 10x abc 1K -5 "" 64KB 99999999999999999999; do
	"$HEAPSCAN" --max-memory "$bad" "$pid" >/dev/null 2>err.txt
	[ $? = 2 ] || fail "--max-memory '$bad': want usage error 2"
	grep -q "; try 'heapscan --help'$" err.txt || fail "--max-memory '$bad': $(cat err.txt)"
done
echo "ok: $N comparisons identical; bad sizes refused"
