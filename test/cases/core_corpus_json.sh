# core_corpus_json: --json output is valid JSON for every core of the core
# fuzzer's seeds that heapscan accepts, and for the inputs fuzzing runs found
# and kept (test/fuzz/core_accepted/*.core.zst: mutated cores heapscan
# accepted).  The seeds are made here as test/fuzz/make_core_corpus.sh makes
# them: test/gen_core.py's small cores, the heap fuzzer's seeds as cores, and
# five committed fixture cores (2.36, 2.27, 2.42) trimmed (gen_core.py --trim).  Each is read
# with --json and with --json --locate memory.  Accepted (exit 0): stdout
# parses as strict JSON (no NaN, no Infinity); every stderr line (notes
# about modules, heap problems) starts with "heapscan: ".  Refused: exit
# 1 or 5, nothing on stdout, every stderr line "heapscan: ".  At least 8
# reads must be accepted, or the test tests little.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v zstd >/dev/null || skip "zstd is not installed"
mkdir cores
"$PYTHON" "$TOP/test/gen_core.py" cores "$TOP"/test/fuzz/heap_corpus/*.seed || fail "gen_core.py failed"
rm -f cores/nt_file_many.core # 200000 mappings: core_hostile reads it
for c in 2.36/arenas 2.36/classes 2.36/leaks 2.27/leaks 2.42/classes; do
	zstd -q -d "$TOP/fixtures/cores/$c.core.zst" -o big.core || fail "zstd -d $c failed"
	"$PYTHON" "$TOP/test/gen_core.py" --trim big.core "cores/${c/\//-}.core" || fail "--trim $c failed"
	rm -f big.core
done
for f in "$TOP"/test/fuzz/core_accepted/*.core.zst; do
	[ -f "$f" ] || continue
	zstd -q -d "$f" -o "cores/accepted-$(basename "$f" .zst)" || fail "zstd -d $f failed"
done
accepted=0 refused=0
for f in cores/*.core; do
	for locate in auto memory; do
		timeout "$HANG" "$HEAPSCAN" --json --locate "$locate" "$f" >out.json 2>err.txt </dev/null
		rc=$?
		what="$(basename "$f") (--locate $locate)"
		[ "$rc" -ge 124 ] && fail "$what: exit $rc (a hang or a signal): $(head -c 300 err.txt)"
		grep -qv '^heapscan: ' err.txt && fail "$what: a stderr line without 'heapscan: ': $(head -c 600 err.txt | cat -v)"
		if [ "$rc" = 0 ]; then
			"$PYTHON" -c '
import json, sys
def bad(c):
    raise ValueError("non-finite number " + c)
json.loads(open(sys.argv[1], encoding="utf-8").read(), parse_constant=bad)' out.json ||
				fail "$what: --json output is not valid JSON"
			accepted=$((accepted + 1))
		else
			[ "$rc" = 1 ] || [ "$rc" = 5 ] || fail "$what: exit $rc: $(head -c 300 err.txt)"
			[ -s out.json ] && fail "$what: refused (exit $rc) but wrote to stdout"
			[ -s err.txt ] || fail "$what: refused (exit $rc) with nothing on stderr"
			refused=$((refused + 1))
		fi
	done
done
echo "ok: $accepted reads accepted (valid JSON), $refused refused"
[ "$accepted" -ge 8 ] || fail "only $accepted reads accepted: the corpus tests too little"
