# core_gcore: gdb's gcore of four stopped fixtures (arenas: every bin kind,
# five arenas, mmapped chunks; classes: C++ classes; leaks; lists: shapes)
# read by heapscan gives exactly each fixture's truth and the same report as
# the live scan (--json, --vtables, --leaks), with nothing said on stderr; a
# --snapshot of a core reads back with the same truth.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

run() { # run NAME ARGS...: heapscan ARGS > NAME.out, must exit 0
	local name=$1
	shift
	"$HEAPSCAN" "$@" >"$name.out" 2>"$name.err" || fail "heapscan $* exited $?: $(cat "$name.err")"
	[ "$name" != snap ] && [ -s "$name.err" ] && fail "heapscan $* said on stderr: $(cat "$name.err")"
	return 0
}

for fx in arenas classes leaks lists; do
	start_fixture "$fx"
	kill -STOP "$FIXTURE_PID"
	wait_state "$FIXTURE_PID" T 5 || fail "$fx did not stop"
	run "$fx.live" --json "$FIXTURE_PID"
	run "$fx.livevt" --vtables "$FIXTURE_PID"
	take_gcore "$FIXTURE_PID" "$fx.core"
	run "$fx.core" --json "$fx.core"
	run "$fx.corevt" --vtables "$fx.core"
	check_truth "$READY" "$fx.core.out"
	# the process is still there under the core's pid: a core's reading
	# must not look at it (strace: every path heapscan names)
	if command -v strace >/dev/null; then
		strace -f -qq -e trace=%file -o "$fx.trace" "$HEAPSCAN" --leaks "$fx.core" >/dev/null 2>&1
		grep -q "/proc/$FIXTURE_PID/" "$fx.trace" &&
			fail "$fx: reading the core touched /proc/$FIXTURE_PID: $(grep "/proc/$FIXTURE_PID/" "$fx.trace" | head -3)"
	fi
	check_core_same "$fx.live.out" "$fx.core.out"
	cmp -s "$fx.livevt.out" "$fx.corevt.out" || fail "$fx: --vtables of the core differs from the live one"
	case $fx in
	arenas) # a snapshot of the core reads back as the core's report
		run snap --snapshot arenas.snap "$fx.core"
		run snapjson --json arenas.snap
		check_truth "$READY" snapjson.out ;;
	classes | lists) check_types "$fx.corevt.out" "$fx.core.out" "$READY" ;;
	leaks)
		run leaks.live --leaks --json "$FIXTURE_PID"
		run leaks.core --leaks --json "$fx.core"
		"$PYTHON" "$TOP/test/check_leaks.py" "$READY" "$READY.addrs" leaks.core.out ||
			fail "the core's leak counts differ from the truth"
		"$PYTHON" - leaks.live.out leaks.core.out <<'PY' || fail "--leaks: core and live differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for d in (a, b):
    d.pop("reach_ms", None)
[print(k, a[k], b.get(k)) for k in a if a[k] != b.get(k) and k != "leaks"]
sys.exit(a != b)
PY
		;;
	esac
	stop_fixture "$FIXTURE_PID"
done
echo "ok: four fixtures' cores give their truth and the live report"
