# diff_mismatch: snapshots of two different processes are refused with exit 1
# and one line naming both files, pids and command lines and --force; nothing
# goes to stdout.  With --force they are compared (exit 0, text and JSON).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

start_fixture grow
P1=$FIXTURE_PID
"$HEAPSCAN" --snapshot one.snap "$P1" 2>/dev/null || fail "cannot snapshot pid $P1"
start_fixture strings
P2=$FIXTURE_PID
"$HEAPSCAN" --snapshot two.snap "$P2" 2>/dev/null || fail "cannot snapshot pid $P2"

"$HEAPSCAN" --diff one.snap two.snap >out 2>err
rc=$?
cat err
[ "$rc" = 1 ] || fail "--diff of two processes exited $rc, not 1"
[ -s out ] && fail "--diff of two processes wrote to stdout: $(head -3 out)"
[ "$(wc -l <err)" = 1 ] || fail "want one line on stderr, got $(wc -l <err)"
grep -qE "^heapscan: one\.snap is of process $P1 \([^)]*/grow [^)]*\), two\.snap of process $P2 \([^)]*/strings [^)]*\): use --force to compare anyway$" err ||
	fail "the refusal does not name both snapshots, processes and --force"

# the third of three being the odd one out is refused too
"$HEAPSCAN" --diff one.snap one.snap two.snap >out 2>err
[ $? = 1 ] || fail "--diff one one two was not refused"
grep -q "two\.snap of process $P2" err || fail "the refusal does not name two.snap"

"$HEAPSCAN" --diff --force one.snap two.snap >forced.txt 2>err
rc=$?
cat err forced.txt
[ "$rc" = 0 ] || fail "--diff --force exited $rc"
grep -q 'different processes' forced.txt || fail "the forced diff does not say the processes differ"
grep -q "process $P2" forced.txt || fail "the forced diff does not name process $P2"
"$HEAPSCAN" --diff --force --json one.snap two.snap >forced.json || fail "--diff --force --json failed"
"$PYTHON" - forced.json "$P1" "$P2" <<'EOF' || fail "the forced JSON diff is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
pids = [s["pid"] for s in d["snapshots"]]
if pids != [int(sys.argv[2]), int(sys.argv[3])]:
    sys.exit("pids %r" % pids)
names = {t["name"] for t in d["types"]}
if "grow::Victim" not in names or '"test_memory"' not in names:
    sys.exit("types of both processes are not there")
EOF
echo "ok: different processes refused, and compared with --force"
