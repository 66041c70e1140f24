# snaplib.sh - sourced by test/cases/snap_*.sh after test/lib.sh: take a real
# snapshot to damage, and hold heapscan to how a bad file must be refused.
#
#   SNAPTOOL ARGS...             test/fuzz/snaptool.py (see its header)
#   take_snapshot FIXTURE OUT [--contents]
#                                start FIXTURE and save a snapshot of it to OUT
#                                (fails the case unless heapscan exits 0 silently
#                                on stdout); sets FIXTURE_PID
#   limit_memory                 whether heapscan runs under `ulimit -v $SNAP_VMEM`
#                                (not an ASan build); sets SNAP_LIMIT for run_limited
#   run_limited ARGS...          heapscan ARGS under the memory limit (when it
#                                works) and `timeout $HANG`; stdout, stderr to
#                                out.txt, err.txt; sets rc
#   expect_refused WHAT REGEX FILE [MODES]
#                                `heapscan MODE FILE` for each mode (default: the
#                                text report, --json, --vtables): exit 1, nothing
#                                on stdout, exactly one stderr line "heapscan: "
#                                whose text after the prefix matches the
#                                extended REGEX (no bound on time but HANG)
#   expect_diff_refused WHAT REGEX A B
#                                the same for `heapscan --diff A B`
#   assert_one_line_refusal WHAT REGEX
#                                the checks above on the last run_limited

SNAP_VMEM=${SNAP_VMEM:-1000000}   # KiB: a huge allocation fails instead of succeeding lazily
SNAP_LIMIT=

SNAPTOOL() {
	"$PYTHON" "$TOP/test/fuzz/snaptool.py" "$@" || fail "snaptool $* failed"
}

take_snapshot() {
	local fixture=$1 out=$2
	shift 2
	start_fixture "$fixture"
	"$HEAPSCAN" --snapshot "$out" "$@" "$FIXTURE_PID" >snap.out 2>snap.err ||
		fail "heapscan --snapshot $out $* $FIXTURE_PID exited $?: $(cat snap.err)"
	[ -s snap.out ] && fail "heapscan --snapshot FILE wrote to stdout: $(head -c 200 snap.out | cat -v)"
	[ -s "$out" ] || fail "heapscan --snapshot $out left no file"
	return 0
}

limit_memory() {
	if (ulimit -v "$SNAP_VMEM" && "$HEAPSCAN" --version) >/dev/null 2>&1; then
		SNAP_LIMIT="ulimit -v $SNAP_VMEM"
		return 0
	fi
	SNAP_LIMIT=
	echo "note: heapscan does not run under ulimit -v $SNAP_VMEM (an ASan build?): no memory limit"
	return 1
}

run_limited() {
	(
		${SNAP_LIMIT:-:}
		exec timeout -k 2 "$HANG" "$HEAPSCAN" "$@"
	) >out.txt 2>err.txt </dev/null
	rc=$?
}

assert_one_line_refusal() {
	local what=$1 regex=$2 lines msg
	[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail "$what: heapscan did not finish within $HANG s (a hang)"
	[ "$rc" -ge 128 ] && fail "$what: heapscan died of signal $((rc - 128)); stderr: $(head -c 2000 err.txt)"
	[ "$rc" = 1 ] || fail "$what: expected exit status 1, got $rc; stderr: $(head -c 2000 err.txt)"
	[ -s out.txt ] && fail "$what: expected nothing on stdout, got: $(head -c 300 out.txt | cat -v)"
	lines=$(wc -l <err.txt)
	[ "$lines" = 1 ] || fail "$what: expected one line on stderr, got $lines: $(head -c 2000 err.txt | cat -v)"
	msg=$(cat err.txt)
	[[ "$msg" == "heapscan: "?* ]] || fail "$what: stderr does not start with 'heapscan: ': $(cat -v err.txt)"
	msg=${msg#heapscan: }
	[[ "$msg" =~ $regex ]] || fail "$what: the message does not match /$regex/: $msg"
	return 0
}

expect_refused() {
	local what=$1 regex=$2 file=$3 mode
	shift 3
	local -a modes=("$@")
	[ ${#modes[@]} -gt 0 ] || modes=("" --json --vtables)
	for mode in "${modes[@]}"; do
		run_limited ${mode:+"$mode"} "$file"
		assert_one_line_refusal "$what (heapscan ${mode:+$mode }FILE)" "$regex"
	done
	echo "ok: $what: exit 1, $(cat err.txt)"
}

expect_diff_refused() {
	local what=$1 regex=$2
	run_limited --diff "$3" "$4"
	assert_one_line_refusal "$what (heapscan --diff $3 $4)" "$regex"
	echo "ok: $what: --diff exit 1, $(cat err.txt)"
}
