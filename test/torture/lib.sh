# torture/lib.sh - sourced by test/torture/*.sh after test/lib.sh.
#
# A torture part runs many rounds and does not stop at the first bad one: it
# counts outcomes, keeps the first few failure messages, and at the end prints
# one figure line and exits 1 if anything failed (0 otherwise, 77 to skip).
#
#   RUNS                    rounds: $TORTURE_RUNS, else the part's default
#   outcome KEY             count one round's outcome under KEY
#   bad MSG                 count a failure and keep MSG (the first 20 shown)
#   figure PART WHAT...     print "torture PART: runs N, failures F, KEY N, ..."
#                           (and the kept failures); exit 1 if F > 0
#   target_clean PID        the target is not stopped (T/t) in any thread, has
#                           no tracer (TracerPid 0 in every thread) and no
#                           child: checked 5 times over ~50 ms (a tracer's
#                           death and the kernel's detach may race the first
#                           look); returns 1 with BAD_WHY set otherwise
#   cpu_ticks PID           utime + stime of the whole process, in ticks
#   assert_progress PID     its CPU time advances (HANG s bound) and its main thread
#                           answers a ping (assert_running): it is not stuck

: "${TOP:?}"
declare -A OUTCOME=()
declare -a OUTCOME_ORDER=()
FAILURES=0
declare -a FAIL_MSGS=()

outcome() {
	[ -n "${OUTCOME[$1]+x}" ] || OUTCOME_ORDER+=("$1")
	OUTCOME[$1]=$((${OUTCOME[$1]:-0} + 1))
}

bad() {
	FAILURES=$((FAILURES + 1))
	[ "${#FAIL_MSGS[@]}" -lt 20 ] && FAIL_MSGS+=("$*")
	echo "BAD: $*" >&2
}

figure() {
	local part=$1 runs=$2 line k
	line="torture $part: runs $runs, failures $FAILURES"
	for k in "${OUTCOME_ORDER[@]}"; do
		line+=", $k ${OUTCOME[$k]}"
	done
	echo "$line"
	for k in "${FAIL_MSGS[@]}"; do
		echo "  failure: $k"
	done
	[ "$FAILURES" = 0 ] || exit 1
	exit 0
}

KNOWN_CHILDREN=
_clean_once() {
	local pid=$1 t st tracer kids k
	for t in /proc/"$pid"/task/*; do
		[ -d "$t" ] || continue
		st=$(cat "$t/stat" 2>/dev/null) || continue
		st=${st##*) }
		st=${st%% *}
		case "$st" in
		T | t) BAD_WHY="thread ${t##*/} in state $st"; return 1 ;;
		esac
		tracer=$(awk '/^TracerPid:/ { print $2 }' "$t/status" 2>/dev/null)
		if [ -n "$tracer" ] && [ "$tracer" != 0 ]; then
			BAD_WHY="thread ${t##*/} traced by $tracer"
			return 1
		fi
		kids=
		for k in $(cat "$t/children" 2>/dev/null); do
			[[ " $KNOWN_CHILDREN " == *" $k "* ]] || kids+=" $k"
		done
		if [ -n "$kids" ]; then
			# each left-over child is one failure, not one per later round
			KNOWN_CHILDREN+="$kids"
			BAD_WHY="thread ${t##*/} has children:$kids ($(for k in $kids; do
				printf '%s ' "$k:$(proc_state "$k")"; done)- pid:state)"
			return 1
		fi
	done
	return 0
}

target_clean() {
	local pid=$1 i
	BAD_WHY=
	[ -d "/proc/$pid" ] || { BAD_WHY="target $pid is gone"; return 1; }
	for ((i = 0; i < 5; i++)); do
		if _clean_once "$pid"; then
			return 0
		fi
		sleep 0.01
	done
	return 1
}

cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	stat=${stat##*) }
	# after "comm)": state is field 1, utime 12, stime 13
	echo "$stat" | awk '{ print $12 + $13 }'
}

assert_progress() {
	local pid=$1 before now i
	before=$(cpu_ticks "$pid")
	for ((i = 0; i < ${HANG:-120} * 100; i++)); do
		now=$(cpu_ticks "$pid")
		[ "$now" -gt "$before" ] && break
		sleep 0.01
	done
	[ "$now" -gt "$before" ] || { BAD_WHY="CPU time stuck at $before ticks for ${HANG:-120} s"; return 1; }
	# assert_running exits the shell on failure: run it in a subshell
	(assert_running "$pid") 2>/dev/null || { BAD_WHY="no answer to a ping"; return 1; }
	return 0
}

# rand_ms LO HI: a random integer in [LO, HI]
rand_ms() {
	echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
}

# sleep_ms MS (fractional seconds for sleep(1))
sleep_ms() {
	sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"
}

# has_cow: heapscan --help lists --cow
has_cow() {
	"$HEAPSCAN" --help 2>&1 | grep -q -- '--cow'
}
