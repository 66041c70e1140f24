# retained_pprof: --pprof writes a gzipped profile.proto a real reader takes:
# `go tool pprof -top` (Debian's golang-go) totals equal heapscan's own
# reachable bytes and chunks, and -diff_base of a fixture with 300 Orders
# against one with 3000 puts Order at the top.  Skips when go is absent.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v go >/dev/null 2>&1 || skip "go (Debian's golang-go) is not installed: no pprof reader"
export HOME=$PWD GOCACHE=$PWD/gocache PPROF_TMPDIR=$PWD GOFLAGS= GOTOOLCHAIN=local
go tool pprof -h >/dev/null 2>&1 || skip "go tool pprof does not run: $(go tool pprof -h 2>&1 | head -n 1)"

# total VALUE-TYPE FILE [pprof options]: the "of N total" of pprof -top
total() {
	local t=$1 f=$2
	shift 2
	go tool pprof -top -sample_index="$t" "$@" "$f" 2>pprof.err >pprof.out ||
		fail "go tool pprof on $f: $(cat pprof.err)"
	sed -n 's/^Showing nodes accounting for .* of \([0-9.]*\)B\{0,1\} total$/\1/p' pprof.out
}

start_fixture retain 300
A=$FIXTURE_PID
"$HEAPSCAN" --pprof a.pb.gz "$A" 2>pprof.err || fail "--pprof: exit $?: $(cat pprof.err)"
gzip -t a.pb.gz || fail "a.pb.gz is not gzip"
"$HEAPSCAN" --retained --json "$A" >a.json 2>/dev/null || fail "--retained --json: exit $?"
read -r bytes chunks < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["reachable_bytes"], d["reachable_chunks"])' a.json)
got=$(total inuse_space a.pb.gz -unit=B)
cat pprof.out
[ "$got" = "$bytes" ] || fail "pprof -top inuse_space total '$got', heapscan's reachable bytes $bytes"
got=$(total inuse_objects a.pb.gz)
[ "$got" = "$chunks" ] || fail "pprof -top inuse_objects total '$got', heapscan's reachable chunks $chunks"

start_fixture retain 3000
"$HEAPSCAN" --pprof b.pb.gz "$FIXTURE_PID" 2>pprof.err || fail "--pprof (b): exit $?: $(cat pprof.err)"
go tool pprof -top -diff_base=a.pb.gz b.pb.gz >diff.out 2>pprof.err || fail "pprof -diff_base: $(cat pprof.err)"
cat diff.out
first=$(awk '/ flat%/ { getline; print; exit }' diff.out)
[[ "$first" =~ [[:space:]]Order$ ]] || fail "pprof -diff_base's top row is not Order: '$first'"

"$HEAPSCAN" --pprof /nonexistent/dir/x.pb.gz "$A" 2>bad.err && fail "--pprof into a missing directory succeeded"
grep -qE 'cannot (write the profile|create a temporary file next to .*: No such file)' bad.err ||
	fail "--pprof's failure gives no cause: $(cat bad.err)"
assert_running "$A"
echo "ok: pprof reads the profile; totals and the diff as heapscan says"
