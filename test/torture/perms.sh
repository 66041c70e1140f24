# torture/perms.sh - permissions: own process, other users, snapshot files.
#
#  1. As nobody (uid 65534, no capabilities), heapscan scans nobody's own
#     process exactly (unless Yama ptrace_scope forbids it: then a skip, with
#     the reason), and is refused with exit 4, naming both uids, on a process
#     of uid 65533.
#  2. A snapshot nobody writes under umask 000 is mode 0600 and uid 65533
#     cannot read it; nobody's --snapshot through a symlink (to a file nobody
#     owns) is refused and the file is untouched.
#  3. The existing cases that cover the rest: snap_write_safety (root: 0600
#     under umask 000, symlinks, missing directories), badinput_perm_uid,
#     badinput_perm_dumpable.
# Rounds: TORTURE_RUNS (default 5) repetitions of 1 and 2.  Secrets: secrets.sh.
. "${TOP:?run through test/torture/run.sh or test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/torture/lib.sh" || exit 1
need_heapscan
RUNS=${TORTURE_RUNS:-5}
[ "$(id -u)" = 0 ] || skip "needs root to run as other uids"
command -v setpriv >/dev/null || skip "setpriv not installed (package util-linux)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
OTHER=(setpriv --reuid=65533 --regid=65533 --clear-groups --inh-caps=-all)
yama=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo none)

bindir=$(mktemp -d /tmp/heapscan-torture.XXXXXX) || fail "mktemp failed"
trap '_lib_cleanup; rm -rf "$bindir"' EXIT
_LIB_TRAPPED=1
cp "$HEAPSCAN" "$bindir/heapscan" && cp "$FIXTURES/arenas" "$bindir/arenas" || fail "cannot copy to $bindir"
chmod 755 "$bindir" "$bindir/heapscan" "$bindir/arenas"
mkdir "$bindir/nobody" "$bindir/other"
chown 65534:65534 "$bindir/nobody"
chown 65533:65533 "$bindir/other"

# start_as WHO DIR: the arenas fixture as WHO (setpriv execs: same pid); sets PID
start_as() {
	local who=$1 dir=$2 i
	shift 2
	rm -f "$dir/ready"
	case $who in
	nobody) "${NOBODY[@]}" "$bindir/arenas" "$dir/ready" & ;;
	other) "${OTHER[@]}" "$bindir/arenas" "$dir/ready" & ;;
	esac
	PID=$!
	_FIXTURE_PIDS+=("$PID")
	_FIXTURE_READY[$PID]=$dir/ready
	for ((i = 0; i < ${HANG:-120} * 100; i++)); do
		[ -e "$dir/ready" ] && return 0
		sleep 0.01
	done
	fail "arenas as $who not ready"
}

start_as nobody "$bindir/nobody"
mine=$PID
start_as other "$bindir/other"
theirs=$PID

for ((r = 1; r <= RUNS; r++)); do
	# 1. own process / another user's
	if [ "$yama" != none ] && [ "$yama" != 0 ]; then
		outcome skipped-own-yama$yama
	else
		(cd / && exec "${NOBODY[@]}" "$bindir/heapscan" --json "$mine") >own.json 2>own.err
		rc=$?
		if [ "$rc" = 0 ] && "$PYTHON" "$TOP/test/check_truth.py" "$bindir/nobody/ready" own.json >own.chk; then
			outcome own-process-exact
		else
			bad "round $r: nobody scanning its own process: exit $rc, $(head -c 200 own.err) $(cat own.chk 2>/dev/null)"
		fi
	fi
	(cd / && exec "${NOBODY[@]}" "$bindir/heapscan" "$theirs") >their.out 2>their.err
	rc=$?
	if [ "$rc" = 4 ] && [ ! -s their.out ] && grep -q "belongs to uid 65533" their.err &&
		grep -q "uid 65534" their.err; then
		outcome other-user-refused
	else
		bad "round $r: nobody on uid 65533's process: exit $rc (want 4), stderr: $(head -c 300 their.err)"
	fi

	# 2. snapshot mode, another user, symlinks
	snap=$bindir/nobody/s.$r.snap
	(cd / && umask 000 && exec "${NOBODY[@]}" "$bindir/heapscan" --snapshot "$snap" --contents "$mine") 2>snap.err
	rc=$?
	mode=$(stat -c %a "$snap" 2>/dev/null)
	if [ "$rc" = 0 ] && [ "$mode" = 600 ] && [ "$(stat -c %u "$snap")" = 65534 ]; then
		outcome snapshot-0600
	else
		bad "round $r: nobody's snapshot under umask 000: exit $rc, mode '$mode': $(head -c 200 snap.err)"
	fi
	if [ ! -e "$snap" ]; then
		bad "round $r: no snapshot to try reading as uid 65533"
	elif "${OTHER[@]}" cat "$snap" >/dev/null 2>&1; then
		bad "round $r: uid 65533 can read nobody's snapshot"
	else
		outcome snapshot-unreadable-by-other
	fi
	echo precious >"$bindir/nobody/target.txt"
	chown 65534:65534 "$bindir/nobody/target.txt"
	before=$(stat -c '%s %Y %a %i' "$bindir/nobody/target.txt")
	ln -sfn target.txt "$bindir/nobody/link.snap"
	(cd / && exec "${NOBODY[@]}" "$bindir/heapscan" --snapshot "$bindir/nobody/link.snap" "$mine") 2>link.err
	rc=$?
	if [ "$rc" != 0 ] && [ "$(cat "$bindir/nobody/target.txt")" = precious ] &&
		[ "$(stat -c '%s %Y %a %i' "$bindir/nobody/target.txt")" = "$before" ] &&
		[ -L "$bindir/nobody/link.snap" ]; then
		outcome symlink-refused
	else
		bad "round $r: --snapshot through a symlink: exit $rc, target now $(stat -c '%s %Y %a %i' "$bindir/nobody/target.txt") (was $before)"
	fi

done
assert_running "$mine"
assert_running "$theirs"

# 3. the existing cases, each in a fresh directory as test/run.sh runs them
for c in snap_write_safety badinput_perm_uid badinput_perm_dumpable; do
	d=$(mktemp -d "$PWD/$c.XXXXXX")
	(cd "$d" && exec timeout -k 5 180 bash "$TOP/test/cases/$c.sh") >"$d/log" 2>&1 </dev/null
	rc=$?
	case $rc in
	0) outcome "case-$c-pass" ;;
	77) outcome "case-$c-skip" ;;
	*) bad "test/cases/$c.sh exited $rc: $(tail -n 5 "$d/log" | tr '\n' ' ')" ;;
	esac
done
figure perms "$RUNS"
