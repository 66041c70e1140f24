# core_hostile: cores written by test/gen_core.py with bad notes (sizes past
# their segment, huge counts, short or malformed NT_PRSTATUS/NT_FILE,
# overlapping mappings), bad program headers (a huge count, an offset past
# the end, overlapping, unaligned or wrapping segments) and a 32-bit core:
# each ends within 5 s with one line on stderr naming the core and a
# non-zero exit, never a crash.  One segment past the end of the file is a
# truncation (its line, then the next refusal); a valid synthetic core of a
# process without libc is refused for that (exit 5).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
"$PYTHON" "$TOP/test/gen_core.py" . || fail "gen_core.py failed"
n=0
for f in *.core; do
	name=${f%.core}
	timeout "$HANG" "$HEAPSCAN" --json "$f" >out.txt 2>err.txt
	rc=$?
	cat err.txt
	[ "$rc" = 124 ] && fail "$name: still running after $HANG s (a hang)"
	[ "$rc" -ge 128 ] && fail "$name: killed by signal $((rc - 128))"
	[ "$rc" = 0 ] && fail "$name: exit 0"
	[ -s out.txt ] && fail "$name: wrote to stdout"
	grep -q "^heapscan: .*$f" err.txt || fail "$name: the error does not name the core"
	case $name in
	load_offset_past_eof)
		grep -q 'is truncated: 4096 bytes .* missing' err.txt || fail "$name: no truncation line"
		[ "$(wc -l <err.txt)" = 2 ] || fail "$name: want the truncation line and one refusal" ;;
	valid | load_huge_hole | nt_file_many)
		[ "$rc" = 5 ] && grep -q 'no libc.so.6 mapped' err.txt || fail "$name: want exit 5, no libc" ;;
	class32)
		[ "$rc" = 5 ] && grep -q '32-bit' err.txt || fail "$name: want exit 5, 32-bit" ;;
	*)
		[ "$(wc -l <err.txt)" = 1 ] || fail "$name: more than one line on stderr" ;;
	esac
	n=$((n + 1))
done
[ "$n" -ge 22 ] || fail "only $n cores generated"
echo "ok: $n hostile cores refused cleanly"
