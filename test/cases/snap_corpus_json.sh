# snap_corpus_json: --json output is valid JSON for every file of the fuzz
# corpus the reader accepts: the seeds (test/fuzz/corpus) and inputs a
# fuzzing run found and the reader accepted (test/fuzz/accepted, resealed as
# the fuzz target reseals: section checks and the trailer sum recomputed).
# Each file is read as it is and, when snaptool can reseal it, resealed.
# Accepted (exit 0): the output parses as strict JSON (no NaN, no Infinity:
# Python's json would take them) and the text report says no "nan" or "inf".
# Refused: exit 1 and one "heapscan: " line.  At least 20 must be accepted,
# or the test tests nothing.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
accepted=0 refused=0
for f in "$TOP"/test/fuzz/corpus/* "$TOP"/test/fuzz/accepted/*; do
	[ -f "$f" ] || continue
	cp "$f" as-is
	files=(as-is)
	cp "$f" resealed
	"$PYTHON" "$TOP/test/fuzz/snaptool.py" reseal resealed 2>/dev/null && files+=(resealed)
	for g in "${files[@]}"; do
		"$HEAPSCAN" --json "$g" >out.json 2>err.txt </dev/null
		rc=$?
		if [ "$rc" = 0 ]; then
			"$PYTHON" -c '
import json, sys
def bad(c):
    raise ValueError("non-finite number " + c)
json.loads(open(sys.argv[1], encoding="utf-8").read(), parse_constant=bad)' out.json ||
				fail "$(basename "$f") ($g): --json output is not valid JSON"
			"$HEAPSCAN" "$g" >out.txt 2>/dev/null || fail "$(basename "$f") ($g): the text report failed"
			grep -Eqiw 'nan|inf|-inf' out.txt && fail "$(basename "$f") ($g): the text report prints nan or inf"
			accepted=$((accepted + 1))
		else
			[ "$rc" = 1 ] || fail "$(basename "$f") ($g): exit $rc: $(head -c 300 err.txt)"
			[ "$(wc -l <err.txt)" = 1 ] || fail "$(basename "$f") ($g): not one line: $(cat err.txt)"
			refused=$((refused + 1))
		fi
	done
done
echo "ok: $accepted accepted (valid JSON), $refused refused with one line"
[ "$accepted" -ge 20 ] || fail "only $accepted files accepted: the corpus tests too little"
