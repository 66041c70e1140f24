# snap_write_safety: how --snapshot treats the file system.
#  - the snapshot is mode 0600 under umask 000, with and without --contents,
#    also when it replaces an existing 0644 file;
#  - a path that is a symlink is refused (exit 1, one line, nothing on
#    stdout), and neither its target nor the link changes; a dangling
#    symlink's target is not created;
#  - a directory that does not exist, and a path that is a directory: exit 1,
#    one line, and no temporary file left beside it;
#  - `--snapshot -` writes the snapshot to stdout and nothing else: the bytes
#    start with the magic, every checksum holds, it reads back as the same
#    report as a file snapshot, and stderr is empty;
#  - the target, running before, runs after every one of these.
# (A full file system is snap_write_full, which needs a tmpfs mount.)
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
start_fixture classes
pid=$FIXTURE_PID

mode_of() { stat -c %a "$1"; }

(umask 000 && "$HEAPSCAN" --snapshot plain.snap "$pid") 2>err.txt || fail "--snapshot exited $?: $(cat err.txt)"
[ "$(mode_of plain.snap)" = 600 ] || fail "snapshot under umask 000 has mode $(mode_of plain.snap), not 600"
(umask 000 && "$HEAPSCAN" --snapshot contents.snap --contents "$pid") 2>err.txt ||
	fail "--snapshot --contents exited $?: $(cat err.txt)"
[ "$(mode_of contents.snap)" = 600 ] || fail "--contents snapshot has mode $(mode_of contents.snap), not 600"
echo "precious" >existing.snap
chmod 644 existing.snap
(umask 000 && "$HEAPSCAN" --snapshot existing.snap "$pid") 2>err.txt || fail "--snapshot over a file exited $?"
[ "$(mode_of existing.snap)" = 600 ] || fail "snapshot over a 0644 file has mode $(mode_of existing.snap)"
"$HEAPSCAN" --json existing.snap >/dev/null || fail "the snapshot that replaced a file does not read back"
echo "ok: mode 600 under umask 000 (plain, --contents, over a 0644 file)"
assert_running "$pid"

# refused WHAT: the last run_limited was exit 1, one line, nothing on stdout
refused() {
	assert_one_line_refusal "$1" "."
	echo "ok: $1: $(cat err.txt)"
}
no_temp_in() {   # no_temp_in DIR: nothing but what was there before
	local left
	left=$(find "$1" -maxdepth 1 \( -name '.*.snap.*' -o -name '*.tmp*' \) | head -5)
	[ -z "$left" ] || fail "temporary file(s) left in $1: $left"
}

echo "precious" >target.txt
touch -d '2001-01-01' target.txt
before=$(stat -c '%s %Y %a' target.txt)
ln -s target.txt link.snap
run_limited --snapshot link.snap "$pid"
refused "--snapshot through a symlink"
[ -L link.snap ] || fail "the symlink was replaced"
[ "$(readlink link.snap)" = target.txt ] || fail "the symlink now points to $(readlink link.snap)"
[ "$(cat target.txt)" = precious ] || fail "the symlink's target was written: $(head -c 100 target.txt | cat -v)"
[ "$(stat -c '%s %Y %a' target.txt)" = "$before" ] || fail "the symlink's target changed: $before -> $(stat -c '%s %Y %a' target.txt)"
ln -s nowhere.txt dangling.snap
run_limited --snapshot dangling.snap "$pid"
refused "--snapshot through a dangling symlink"
[ -e nowhere.txt ] && fail "the dangling symlink's target was created"
no_temp_in .
assert_running "$pid"

run_limited --snapshot no/such/dir/x.snap "$pid"
refused "--snapshot into a missing directory"
mkdir adir.snap
run_limited --snapshot adir.snap "$pid"
refused "--snapshot to a path that is a directory"
[ -d adir.snap ] && [ -z "$(ls -A adir.snap)" ] || fail "the directory was changed"
no_temp_in .
assert_running "$pid"

"$HEAPSCAN" --snapshot - "$pid" >stdout.snap 2>err.txt || fail "--snapshot - exited $?: $(cat err.txt)"
[ -s err.txt ] && fail "--snapshot - printed on stderr: $(cat err.txt)"
head -c 8 stdout.snap | cmp -s - <(printf 'HEAPSCN\n') || fail "--snapshot - does not start with the magic: $(head -c 16 stdout.snap | od -c | head -2)"
SNAPTOOL check stdout.snap
"$HEAPSCAN" --json stdout.snap >stdout.json 2>err.txt || fail "the stdout snapshot does not read back: $(cat err.txt)"
"$HEAPSCAN" --json plain.snap >plain.json || fail "plain.snap does not read back"
"$PYTHON" - stdout.json plain.json <<'PY' || fail "the stdout snapshot and the file snapshot differ (above)"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
live = {"pause_ms", "pause_total_ms", "prepare_ms", "walk_ms", "analyze_ms"}
for j in (a, b):
    for k in live:
        j["summary"].pop(k, None)
if a != b:
    for k in a:
        if a[k] != b.get(k):
            print("differs: %s" % k)
    sys.exit(1)
PY
echo "ok: --snapshot - writes a whole snapshot, and only that, to stdout"
assert_running "$pid"
