# redis_jemalloc: Debian's redis-server (linked with libjemalloc2) is walked
# as jemalloc.  A fresh server on a unix socket, scanned; 500 keys whose
# values are 3000 bytes added with redis-cli (each value an sds string of
# 3000 + 6 bytes: jemalloc class 3072, shown as 0xc00, the class); scanned
# again: exactly 500 more live regions of that class, no heap problem.  The
# server runs on.  Skips without redis-server and redis-cli.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v redis-server >/dev/null || skip "redis-server not installed (apt-get install redis-server)"
command -v redis-cli >/dev/null || skip "redis-cli not installed (apt-get install redis-tools)"
ldd "$(command -v redis-server)" | grep -q libjemalloc || skip "this redis-server is not linked with libjemalloc"
N=500

_lib_trap
sock=$PWD/redis.sock
redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --daemonize no >redis.log 2>&1 &
RPID=$!
_FIXTURE_PIDS+=("$RPID")
echo "$RPID" >>"$PWD/.fixture_pids"
redis_up() {
	kill -0 "$RPID" 2>/dev/null || fail "redis-server exited: $(cat redis.log)"
	[ "$(redis-cli -s "$sock" ping 2>/dev/null)" = PONG ]
}
wait_for "$HANG" redis_up || fail "redis-server not answering after $HANG s"

count() { # count JSON: live regions of class 3072
	"$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert not d["problems"], d["problems"]
print(sum(s["count"] for s in d["sizes"] if s["size"] == 3072))' "$1"
}
"$HEAPSCAN" --json "$RPID" >before.json 2>err.txt || fail "heapscan --json exited $?: $(cat err.txt)"
"$HEAPSCAN" "$RPID" >before.txt 2>err.txt || fail "heapscan exited $?: $(cat err.txt)"
grep -qE '^  jemalloc 5\.3\.[0-9]+,' before.txt || fail "the report does not name jemalloc 5.3: $(head -3 before.txt)"
b=$(count before.json) || fail "before: heap problems"
v=$(printf 'v%.0s' $(seq 3000))
for ((i = 0; i < N; i++)); do echo "SET key:$i $v"; done | redis-cli -s "$sock" >/dev/null ||
	fail "redis-cli SET failed"
[ "$(redis-cli -s "$sock" dbsize)" = "$N" ] || fail "redis holds $(redis-cli -s "$sock" dbsize) keys, not $N"
"$HEAPSCAN" --json "$RPID" >after.json 2>err.txt || fail "heapscan --json exited $?: $(cat err.txt)"
a=$(count after.json) || fail "after: heap problems"
echo "class 3072: $b before, $a after $N keys"
[ $((a - b)) = "$N" ] || fail "class 3072 grew by $((a - b)), want $N"
kill -0 "$RPID" || fail "redis-server is gone"
[ "$(redis-cli -s "$sock" ping)" = PONG ] || fail "redis-server does not answer after the scans"
echo "ok: $N redis values counted exactly"
