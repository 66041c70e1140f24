# snap_foreign: files that are not snapshots, given where a snapshot goes:
# an empty file, a copy of /bin/true (ELF), a text file, a cut inside the
# magic ("HEAP"), a flipped bit in the magic, the magic followed by text.
# README: "A truncated, damaged or foreign file gets one line on stderr and
# exit 1" - so each is exit 1 (not 2, a usage error), nothing on stdout, one
# "heapscan: " line with a cause, for the text report, --json and --vtables.
# A directory and a FIFO are existing paths that are not snapshots: exit 1
# and one line too, at once (a FIFO with no writer must not block the read).
# A path that does not exist is neither a pid nor a file: a usage error
# (exit 2), one line.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory

: >empty.snap
cp /bin/true elf.snap
printf 'process 1: init\n  glibc 2.36, 1 thread\n' >text.snap
printf 'HEAP' >magic-cut.snap
printf 'HEAPSCN\n' >magic-only.snap
printf 'HEAPSCN\nnot really a snapshot, just text that starts like one\n' >magic-text.snap
printf 'HEAPSCn\n\001\0\0\0\0\0\0\0HSEND\0\0\0\0\0\0\0\0\0\0\0' >magic-flip.snap

expect_refused "empty file" "empty|not a heapscan snapshot|truncated" empty.snap
expect_refused "ELF file (/bin/true)" "not a heapscan snapshot" elf.snap
expect_refused "text file" "not a heapscan snapshot" text.snap
expect_refused "cut inside the magic" "not a heapscan snapshot|truncated" magic-cut.snap
expect_refused "magic with a flipped bit" "not a heapscan snapshot" magic-flip.snap
expect_refused "magic only" "truncated" magic-only.snap
expect_refused "magic, then text" "truncated|corrupt|version" magic-text.snap

mkdir dir.snap
mkfifo fifo.snap
expect_refused "a directory" "regular file|directory" dir.snap
expect_refused "a FIFO with no writer" "regular file|FIFO|fifo" fifo.snap

run_limited nonexistent.snap
[ "$rc" = 2 ] || fail "a missing file: expected exit status 2, got $rc: $(cat err.txt)"
[ -s out.txt ] && fail "a missing file: expected nothing on stdout"
[ "$(wc -l <err.txt)" = 1 ] || fail "a missing file: expected one line on stderr: $(cat err.txt)"
echo "ok: a missing file: exit 2, $(cat err.txt)"
