# torture/secrets.sh - a target holding secrets in its heap
# (fixtures/torture_secret: a 4 KiB random token and a password line, three
# copies each, so they form content clusters, which are named by a preview of
# their bytes): no PREVIEW_MAX+1 consecutive bytes of either secret - as text
# or as hex - may appear in what heapscan prints by default: the text report,
# --json, --vtables, stderr, or a snapshot written without --contents (and its
# --json read back).
#
#   TORTURE_RUNS=N (default 5), TORTURE_PREVIEW_MAX=N (default 32)
. "${TOP:?run through test/torture/run.sh or test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/torture/lib.sh" || exit 1
need_heapscan
RUNS=${TORTURE_RUNS:-5}
PREVIEW_MAX=${TORTURE_PREVIEW_MAX:-32}

secret_check() {   # secret_check FILE...: no PREVIEW_MAX+1-byte run of a secret in any
	"$PYTHON" - "$SECRET_READY" "$PREVIEW_MAX" "$@" <<'PY'
import sys
sec = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 2 and f[0].startswith("secret_"):
        sec[f[0]] = f[1].encode()
sec["secret_password"] = b"password=" + sec["secret_password"] + b"\n"
bad = 0
n = int(sys.argv[2]) + 1
for path in sys.argv[3:]:
    data = open(path, "rb").read()
    low = data.lower()
    for name, s in sec.items():
        for i in range(0, len(s) - n + 1):
            w = s[i:i + n]
            if w in data or w.hex(" ").encode() in low or w.hex().encode() in low:
                print("%s: %d bytes of %s from its offset %d: %r" % (path, n, name, i, w))
                bad += 1
                break
sys.exit(1 if bad else 0)
PY
}

start_fixture torture_secret
SECRET_READY=$READY
secret_pid=$FIXTURE_PID
for ((r = 1; r <= RUNS; r++)); do
	# the outputs a user sees by default, and a snapshot without --contents
	"$HEAPSCAN" "$secret_pid" >sec.txt 2>sec.err || bad "round $r: text report of the secret holder exited $?"
	"$HEAPSCAN" --json "$secret_pid" >sec.json 2>>sec.err || bad "round $r: --json exited $?"
	"$HEAPSCAN" --vtables "$secret_pid" >sec.vt 2>>sec.err || bad "round $r: --vtables exited $?"
	rm -f sec.snap
	"$HEAPSCAN" --snapshot sec.snap "$secret_pid" 2>>sec.err || bad "round $r: --snapshot exited $?"
	"$HEAPSCAN" --json sec.snap >sec.snap.json 2>>sec.err || bad "round $r: reading the snapshot back exited $?"
	if secret_check sec.txt sec.json sec.vt sec.err sec.snap sec.snap.json; then
		outcome no-secret-in-output
	else
		bad "round $r: a secret is in heapscan's output (above)"
	fi
	grep -q 'password=' sec.txt && echo "round $r: the report previews the password line: $(grep -o '"password=[^"]*' sec.txt | head -1)"
done
assert_running "$secret_pid"
figure secrets "$RUNS"
