# snap_stale_temp: a --snapshot killed between creating its temporary file
# (.NAME.hs-NS-PID-START.XXXXXX) and renaming it leaves that file behind; the
# next --snapshot of NAME in that directory removes it, with one note on
# stderr, only when it is provably a stale one of ours: our pid namespace, a
# writer that no longer runs, ours, mode 0600, starting with the magic.  Kept:
# the same name for a writer that still runs (this shell, with its real start
# time), one whose content is not a snapshot, one of mode 0644, one for
# another pid namespace, one for another NAME.  (The files are made by hand:
# a real writer lives for milliseconds after it creates one.)
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture strings
ns=$(stat -L -c %i /proc/self/ns/pid)
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat"; }
true & dead=$!
wait "$dead"
[ -d "/proc/$dead" ] && skip "pid $dead was reused at once"
me_start=$(start_of $$)

mk() {   # mk NAME MODE CONTENT
	printf '%s' "$3" >"$1"
	chmod "$2" "$1"
}
mk ".a.snap.hs-$ns-$dead-12345.AAAAAA" 600 'HEAPSCN
rest'
mk ".a.snap.hs-$ns-$dead-12346.BBBBBB" 600 ''
mk ".a.snap.hs-$ns-$$-$me_start.CCCCCC" 600 'HEAPSCN
'
mk ".a.snap.hs-$ns-$dead-12347.DDDDDD" 600 'not a snapshot'
mk ".a.snap.hs-$ns-$dead-12348.EEEEEE" 644 'HEAPSCN
'
mk ".a.snap.hs-$((ns + 1))-$dead-12349.FFFFFF" 600 'HEAPSCN
'
mk ".b.snap.hs-$ns-$dead-12350.GGGGGG" 600 'HEAPSCN
'
"$HEAPSCAN" --snapshot a.snap "$FIXTURE_PID" >out.txt 2>err.txt || fail "--snapshot: exit $?: $(cat err.txt)"
for gone in AAAAAA BBBBBB; do
	ls -a | grep -q "$gone" && fail "the stale temporary file .$gone was not removed"
	grep -q "removed .*$gone, left by a --snapshot that was killed" err.txt ||
		fail "no note for .$gone: $(cat err.txt)"
done
[ "$(grep -c "^heapscan: removed " err.txt)" = 2 ] || fail "expected two notes on stderr: $(cat err.txt)"
for kept in CCCCCC DDDDDD EEEEEE FFFFFF GGGGGG; do
	ls -a | grep -q "$kept" || fail "the temporary file .$kept was removed but is not provably stale"
done
echo "ok: two stale files removed, five others kept"

