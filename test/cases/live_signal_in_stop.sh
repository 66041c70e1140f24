# live_signal_in_stop: SIGINT, SIGTERM, SIGHUP to heapscan inside the stop
# window: it detaches, exits non-zero (long before its 600 s delay),
# and the target runs on.  Three rounds against one target.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas

for sig in INT TERM HUP; do
	# A background job starts with SIGINT ignored; a user's Ctrl-C is not.
	HEAPSCAN_TEST_STOP_DELAY_MS=600000 env --default-signal=INT,TERM,HUP \
		"$HEAPSCAN" --json "$FIXTURE_PID" >"out.$sig.json" 2>"err.$sig.txt" &
	hs=$!
	if ! wait_state "$FIXTURE_PID" t "$HANG"; then
		cat "err.$sig.txt"
		fail "SIG$sig round: target never reached tracing stop (state $(proc_state "$FIXTURE_PID"))"
	fi
	[ "$(proc_state "$hs")" != Z ] && [ -d "/proc/$hs" ] || fail "SIG$sig round: heapscan left the stop window early"
	kill -"$sig" "$hs"
	wait_pid_for "$hs" "$HANG" || { kill -KILL "$hs"; fail "SIG$sig round: heapscan still running $HANG s after SIG$sig"; }
	echo "SIG$sig round: heapscan exit status $WAIT_RC; stderr:"
	cat "err.$sig.txt"
	[ "$WAIT_RC" != 0 ] || fail "SIG$sig round: heapscan exited 0 after SIG$sig"
	assert_running "$FIXTURE_PID"
done
echo "ok: INT, TERM, HUP each left the target running"
