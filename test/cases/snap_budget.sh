# snap_budget: no snapshot may cost more than what it honestly describes.
# snaptool hostile makes the crafted files of issue 17 from a real snapshot
# (stored uncompressed): zstd frames of hand-made RLE blocks, padded to a
# ratio of 12000 (what zstd reaches on repeated records, so no ratio bound
# that honest files pass can refuse them): a CHNK claiming 67M chunks over
# 512 MiB of zeros (47 KB), the same after one good record, 22M empty types
# (more than the chunks use), 22M empty classes, a RACH of 1 GiB, an unknown
# section and a CONT of 2 GiB each, a CHNK frame asking for a 1 GiB window,
# and META durations that are NaN, +-Inf, 1e308 or negative.  The reader
# before this test took 0.5 to 1.9 GB and up to 27 s on them.  And the dense
# ones, valid but for their density: 10M and 67M identical chunk records
# (7 and 49 KB; the reader of format 1 took 257 MiB and 1.6 GiB to read
# them), refused in format 2 (more than one chunk per 3 stored bytes) and in
# format 1 past 1Mi chunks, read at 1Mi in format 1; a PYTH of 4M empty
# classes (the reader before took 286 MiB) and one of 262000 in 133 KB;
# 3M empty classes beside a chunk of 1 GiB (129 KB; the reader before took
# 171 MiB).
# Each is read with the text report and --json under /usr/bin/time: a
# refusal is exit 1 with one "heapscan: " line matching the expected cause,
# an accepted file exit 0 with valid JSON; the peak RSS of every run stays
# under 128 MiB.  No time is asserted: the runner's timeout catches a hang.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
[ -x /usr/bin/time ] || skip "no /usr/bin/time (apt-get install time)"
take_snapshot classes base.snap
SNAPTOOL raw base.snap raw.snap
mkdir crafted
SNAPTOOL hostile raw.snap crafted >expect.txt
[ "$(wc -l <expect.txt)" -ge 18 ] || fail "snaptool hostile made too few files: $(cat expect.txt)"
MAX_KB=$((128 * 1024))

while read -r name expect; do
	file=crafted/$name
	[ "$(stat -c %s "$file")" -lt 250000 ] || fail "$name: the crafted file is not small"
	for mode in "" --json; do
		/usr/bin/time -f %M -o rss.txt "$HEAPSCAN" $mode "$file" >out.txt 2>err.txt </dev/null
		rc=$?
		kb=$(tail -n 1 rss.txt)
		[ "$kb" -le "$MAX_KB" ] || fail "$name ($mode): peak RSS $kb KiB, more than $MAX_KB"
		if [ "$expect" = ok ]; then
			[ "$rc" = 0 ] || fail "$name ($mode): exit $rc, expected 0: $(cat err.txt)"
			[ -s err.txt ] && fail "$name ($mode): stderr: $(cat err.txt)"
			[ "$mode" = --json ] && { "$PYTHON" -m json.tool out.txt >/dev/null ||
				fail "$name: --json output does not parse"; }
		else
			[ "$rc" = 1 ] || fail "$name ($mode): exit $rc, expected 1: $(head -c 500 err.txt)"
			[ -s out.txt ] && fail "$name ($mode): stdout not empty"
			[ "$(wc -l <err.txt)" = 1 ] || fail "$name ($mode): not one line on stderr: $(cat err.txt)"
			grep -Eq "^heapscan: .*$expect" err.txt || fail "$name ($mode): expected /$expect/, got: $(cat err.txt)"
		fi
	done
	echo "ok: $name ($(stat -c %s "$file") bytes): ${expect/ok/read} in $kb KiB peak: $(cat err.txt)"
done <expect.txt
