# demo: `make demo` (test/demo.sh) shows the leak and leaves the demo running
# for the user: the report, then --leaks with the leaked requests' row (the
# demo's 256-byte struct request, its "GET"/"POST" in the preview), then a
# --why on a leaked chunk that says it is leaked; it prints the pid, which is
# alive afterwards and answers as a scan target; `demo.sh --stop` (make
# demo-stop) ends it.  The leaked requests: the demo's own count, exactly,
# as the direct leaks of size 0x100 (--leaks --json).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
export DEMO_DIR=$PWD/demo
trap 'bash "$TOP/test/demo.sh" --stop >/dev/null 2>&1' EXIT
bash "$TOP/test/demo.sh" >demo.out 2>demo.err || fail "demo.sh exited $?: $(cat demo.err)"
cat demo.out
pid=$(cat "$DEMO_DIR/pid")
echo "$pid" >>.fixture_pids
[ -d "/proc/$pid" ] || fail "the demo is not left running"
grep -q "^\$ heapscan --top 5 $pid\$" demo.out || fail "no report"
grep -q "^process $pid: .*fixtures/demo" demo.out || fail "the report's first line is missing"
grep -q "^\$ heapscan --leaks --top 5 $pid\$" demo.out || fail "no --leaks"
grep -qE "^  leaked: [0-9]+ chunks directly" demo.out || fail "--leaks says nothing leaked"
grep -qE "^\\\$ heapscan --why 0x[0-9a-f]+ $pid\$" demo.out || fail "no --why"
grep -qE "is leaked \(nothing points to it\)" demo.out || fail "--why does not say the chunk leaked"
grep -q "make demo-stop" demo.out && grep -q "kill $pid" demo.out || fail "it does not say how to stop it"
# the leaked requests, exactly: struct request chunks (0x100) leaked directly
want=$(sed -n 's/^leaked_requests //p' "$DEMO_DIR/ready")
size=$(sed -n 's/^request_chunk_size //p' "$DEMO_DIR/ready")
"$HEAPSCAN" --leaks --json "$pid" >leaks.json || fail "--leaks --json exited $?"
"$PYTHON" - leaks.json "$want" "$size" <<'PY' || fail "the leaked requests are not what the demo counted"
import json, sys
d = json.load(open(sys.argv[1])); want = int(sys.argv[2]); size = int(sys.argv[3], 16)
# a request may get a chunk 16 bytes larger (demo.c): its size or one step up;
# a leaked request that stale bytes of another leaked chunk point at is
# leaked indirectly, still leaked
got = sum(t["direct"] + t["indirect"] for t in d["leaks"]
          if t["kind"] in ("shape", "size", "content") and t["bytes"]
          and t["bytes"] // max(t["direct"] + t["indirect"], 1) in (size, size + 16))
print("leaked requests: demo %d, heapscan %d" % (want, got))
sys.exit(got != want)
PY
"$HEAPSCAN" -q "$pid" >/dev/null || fail "the demo left running cannot be scanned"
bash "$TOP/test/demo.sh" --stop | grep -q "stopped pid $pid" || fail "--stop did not stop $pid"
wait_for "$HANG" test ! -d "/proc/$pid" || fail "the demo is still running after --stop"
echo "ok: make demo shows the leak and leaves the demo for the user"
