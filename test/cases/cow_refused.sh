# cow_refused: when the target cannot fork, --cow says why on one line and
# copies while stopped, with the same exact account:
#  - fork refused: the target runs as a uid of its own under RLIMIT_NPROC =
#    its thread count (heapscan stays root), so its clone fails with EAGAIN;
#  - a stopped target (state T) is not made to fork, and stays stopped.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v setpriv >/dev/null && command -v prlimit >/dev/null || skip "setpriv/prlimit (util-linux) not installed"
[ "$(id -u)" = 0 ] || skip "needs root to run the target as another uid"
_lib_trap

# A directory the other uid can write its ready file in.
uid=$((50000 + RANDOM % 10000))
dir=$(mktemp -d /tmp/heapscan-cow.XXXXXX) || fail "mktemp failed"
trap '_lib_cleanup; rm -rf "$dir"' EXIT
chown "$uid:$uid" "$dir"
chmod 755 "$dir"
READY=$dir/arenas.ready
# arenas has 5 threads: a sixth task of this uid is refused
prlimit --nproc=5 setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	"$FIXTURES/arenas" "$READY" &
target=$!
_FIXTURE_PIDS+=("$target")
_FIXTURE_READY[$target]=$READY
echo "$target" >>"$PWD/.fixture_pids"
for ((i = 0; i < HANG * 100; i++)); do
	[ -e "$READY" ] && break
	kill -0 "$target" 2>/dev/null || fail "the arenas fixture exited before it was ready"
	sleep 0.01
done
[ -e "$READY" ] || fail "fixture not ready after 20 s"
[ "$(awk '/^Uid:/ { print $2 }' /proc/"$target"/status)" = "$uid" ] || fail "the target does not run as uid $uid"

"$HEAPSCAN" --cow --json "$target" >cow.json 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan --cow exited $rc"
grep -qx 'heapscan: --cow: fork refused (Resource temporarily unavailable); copying while stopped' err.txt ||
	fail "no fork-refused notice on stderr"
[ "$(wc -l <err.txt)" = 1 ] || fail "more than the notice on stderr"
check_truth "$READY" cow.json
kids=$(cat /proc/"$target"/task/*/children 2>/dev/null | tr -d ' \n')
[ -z "$kids" ] || fail "the target has children: $kids"
assert_running "$target"
echo "fork refused: notice, exact account, target running"

kill -STOP "$target"
wait_state "$target" T "$HANG" || fail "target did not stop"
"$HEAPSCAN" --cow --json "$target" >stopped.json 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan --cow on a stopped target exited $rc"
grep -qx 'heapscan: --cow: the target is stopped (state T); copying while stopped' err.txt ||
	fail "no stopped-target notice on stderr"
check_truth "$READY" stopped.json
sleep 0.1
assert_stopped "$target"
kill -CONT "$target"
assert_running "$target"
echo "ok: refused forks fall back to the copy while stopped, with a notice"
