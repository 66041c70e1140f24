#!/bin/bash
# badinput_perm_uid: heapscan run as nobody (uid 65534, no capabilities)
# against a root-owned process is refused with exit 4 (EXIT_PERM), naming
# both uids and the way out; the target is left running.
#
# heapscan is copied to a world-readable directory of its own: the case's
# directory (and its parents) need not be reachable by nobody.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

[ "$(id -u)" = 0 ] || skip "needs root to run heapscan as another uid"
command -v setpriv >/dev/null || skip "setpriv not installed (package util-linux)"
sleep_bin=$(readlink -f "$(command -v sleep)")

start sleep 300
target=$PID
wait_for 120 settled "$target" "$sleep_bin" || fail "sleep $target did not start"

bindir=$(mktemp -d /tmp/heapscan-perm.XXXXXX) || fail "mktemp failed"
extra_cleanup() { rm -rf "$bindir"; }
cp "$HEAPSCAN" "$bindir/heapscan" && chmod 755 "$bindir" "$bindir/heapscan" || fail "cannot copy heapscan to $bindir"
(cd / && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$bindir/heapscan" "$target") >stdout.txt 2>stderr.txt </dev/null
rc=$?
expect_exact 4 "process $target belongs to uid 0 and heapscan runs as uid 65534 without CAP_SYS_PTRACE; run as root or as uid 0"
assert_running "$target"
