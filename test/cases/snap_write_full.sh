# snap_write_full: a snapshot that does not fit leaves nothing behind.  In a
# 256 KiB tmpfs, a --contents snapshot of the lists fixture (about 2 MB) runs
# out of space: exit 1, one "heapscan: " line, nothing on stdout, and the
# directory holds neither the snapshot nor a temporary file; a file of that
# name that was there before is still there, unchanged.  Then the same with
# the file system already full to the last byte.  The target keeps running.
# Needs root (mount); skips with the reason when the mount fails.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
mkdir full
mount -t tmpfs -o size=256k tmpfs full 2>mount.err || skip "cannot mount a tmpfs: $(cat mount.err)"
start_fixture lists
trap 'umount -l "$PWD/full" 2>/dev/null; _lib_cleanup' EXIT
pid=$FIXTURE_PID

run_limited --snapshot full/x.snap --contents "$pid"
assert_one_line_refusal "--snapshot into a full tmpfs" "No space|space|write"
echo "ok: $(cat err.txt)"
[ -z "$(ls -A full)" ] || fail "left in the full file system: $(ls -lA full)"
assert_running "$pid"

echo "old snapshot" >full/x.snap
run_limited --snapshot full/x.snap --contents "$pid"
assert_one_line_refusal "--snapshot over an existing file into a full tmpfs" "space|write"
[ "$(ls -A full)" = x.snap ] || fail "left in the full file system: $(ls -lA full)"
[ "$(cat full/x.snap)" = "old snapshot" ] || fail "the existing file was changed"
echo "ok: the existing file is untouched"

rm full/x.snap
dd if=/dev/zero of=full/filler bs=4k 2>/dev/null   # until ENOSPC
run_limited --snapshot full/y.snap "$pid"
assert_one_line_refusal "--snapshot into a tmpfs with no byte free" "space|write|temporary"
[ "$(ls -A full)" = filler ] || fail "left in the full file system: $(ls -lA full)"
echo "ok: no byte free: $(cat err.txt)"
assert_running "$pid"
