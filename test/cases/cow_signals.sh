# cow_signals: the thread --cow makes fork (the main one) is in turn asleep
# in nanosleep, blocked in read() on a pipe, and in sigwaitinfo(); after
# five --cow scans each time the target got no SIGCHLD, no sleep ended early,
# the pipe read still gets the byte written later, sigwaitinfo was
# interrupted no more often than by the plain scan (once per stop), no
# signal is left pending and the target has no child.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

status() { # status READY KEY
	awk -v k="$2" '$1 == k { print $2 }' "$1.status"
}

for role in sleep read wait; do
	start_fixture cow_signals "$role"
	pid=$FIXTURE_PID
	for i in 1 2 3 4 5; do
		"$HEAPSCAN" --cow --json "$pid" >"cow.$role.$i.json" 2>err.txt
		rc=$?
		cat err.txt
		[ "$rc" = 0 ] || fail "$role: heapscan --cow exited $rc"
		grep -q -- '--cow' err.txt && fail "$role: --cow fell back: $(cat err.txt)"
		check_truth "$READY" "cow.$role.$i.json"
	done
	# the ping waits for the sleeper to finish a sleep (one spanning a stop too)
	assert_running "$pid"
	cat "$READY.status"
	[ "$(status "$READY" sigchld)" = 0 ] || fail "$role: the target got SIGCHLD"
	[ "$(status "$READY" bad_sleeps)" = 0 ] || fail "$role: a nanosleep returned early or failed"
	[ "$(status "$READY" sleeps)" -gt 0 ] || fail "$role: the sleeper never finished a sleep"
	[ "$(status "$READY" bad_reads)" = 0 ] || fail "$role: a read on the pipe failed"
	[ "$(status "$READY" reads)" = 1 ] || fail "$role: the pipe read did not get the ping's byte"
	[ "$(status "$READY" bad_waits)" = 0 ] || fail "$role: sigwaitinfo failed other than EINTR"
	eintr=$(status "$READY" wait_eintr)
	[ "$eintr" -le 5 ] || fail "$role: sigwaitinfo interrupted $eintr times by 5 scans"
	grep -E '^(SigPnd|ShdPnd):\s*0+$' /proc/"$pid"/status | wc -l | grep -qx 2 ||
		fail "$role: signals pending: $(grep -E 'SigPnd|ShdPnd' /proc/"$pid"/status)"
	kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null | tr -d ' \n')
	[ -z "$kids" ] || fail "$role: the target has children: $kids"
	stop_fixture "$pid"
done
echo "ok: no SIGCHLD, sleeps and reads undisturbed, nothing pending, no child"
