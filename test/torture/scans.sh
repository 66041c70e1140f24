# torture/scans.sh - sourced by churn.sh and malloc.sh: RUNS scans of one
# fixture, each result kept (rc.i, out.i.json, err.i.txt), then sorted into
# outcomes by classify.py in one python run (python starts slowly on a
# machine this busy).
#
#   many_scans PART MODE FIXTURE [ARGS]
many_scans() {
	local part=$1 mode=$2 fixture=$3 i rc line
	shift 3
	start_fixture "$fixture" "$@"
	local pid=$FIXTURE_PID maxthreads=0 n
	mkdir -p scans
	for ((i = 1; i <= RUNS; i++)); do
		n=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		[ -n "$n" ] && [ "$n" -gt "$maxthreads" ] && maxthreads=$n
		"$HEAPSCAN" --json "$pid" >"scans/out.$i.json" 2>"scans/err.$i.txt"
		echo $? >"scans/rc.$i"
		if [ ! -d "/proc/$pid" ] || [ "$(proc_state "$pid")" = Z ]; then
			bad "the target died during scan $i"
			break
		fi
		[ $((i % 100)) = 0 ] && echo "scan $i done"
	done
	target_clean "$pid" || bad "after the scans: $BAD_WHY"
	assert_progress "$pid" || bad "after the scans: target not progressing: $BAD_WHY"
	stop_fixture "$pid"
	[ "$maxthreads" -gt 0 ] && echo "threads in the target when a scan started: up to $maxthreads"
	"$PYTHON" "$TOP/test/torture/classify.py" "$mode" "$READY" scans "$((i > RUNS ? RUNS : i))" >classify.txt
	rc=$?
	cat classify.txt
	while read -r k v; do
		case "$k" in
		failure:) ;;
		failures) ;;
		scan) ;;
		*) [ -n "$v" ] && OUTCOME[$k]=$v && OUTCOME_ORDER+=("$k") ;;
		esac
	done <classify.txt
	if [ "$rc" != 0 ]; then
		while IFS= read -r line; do
			[[ "$line" == failure:* ]] && bad "${line#failure: }"
		done <classify.txt
		[ "$rc" = 1 ] || bad "classify.py exited $rc"
	fi
}
