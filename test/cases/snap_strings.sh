# snap_strings: text a hostile snapshot carries cannot break heapscan's output.
#  - a section tag of control bytes ("\n\r\033\t") in a file whose checksums
#    all match except that section's: still exactly one stderr line, with no
#    raw control byte in it;
#  - a cmdline, a type name and a class name holding quotes, backslashes, a
#    newline, a tab, an escape, and byte sequences that are not UTF-8 (an
#    overlong '/', a UTF-16 surrogate, a code point past U+10FFFF, a stray
#    continuation byte): the read succeeds, --json is valid JSON in strict
#    UTF-8 and gives the cmdline back; --vtables stays "COUNT<TAB>CLASS" lines,
#    one per class of the JSON's classes (a name cannot add lines).
# The three checks are independent: each runs, and the case fails at the end
# if any failed.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory
take_snapshot classes base.snap
SNAPTOOL raw base.snap raw.snap
nbad=0

# A tag of control bytes, with its own check wrong and the file's right.
cp base.snap tag.snap
SNAPTOOL put tag.snap $(SNAPTOOL off base.snap sec:TYPE) u32 0x090d1b0a
SNAPTOOL flip tag.snap $(($(SNAPTOOL off base.snap sec:TYPE) + 24)) 0
SNAPTOOL resum tag.snap
(
	expect_refused "a section tag of control bytes" "corrupt" tag.snap
	LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' err.txt &&
		fail "the message carries raw control bytes from the file: $(cat -v err.txt)"
	exit 0
) || nbad=$((nbad + 1))

hex() { printf '%b' "$1" | od -An -tx1 | tr -d ' \n'; }
evil='evil "q" \\back\\ line\nnext\ttab \033[31mred\033[0m overlong \xe0\x80\xaf surrogate \xed\xa0\x80 big \xf4\x90\x80\x80 stray \x80 end'
cp raw.snap evil.snap
SNAPTOOL setstr evil.snap META svv "$(hex "$evil")"      # version, time, pid, then cmdline
SNAPTOOL setstr evil.snap TYPE vv "$(hex "T $evil")"     # count, kind, then the first name
SNAPTOOL setstr evil.snap CLSS v "$(hex "C $evil\n7\tInjected")" # count, then the first name

run_limited --json evil.snap
[ "$rc" = 0 ] || fail "--json of a snapshot with odd strings exited $rc: $(cat err.txt)"
cp out.txt evil.json
if "$PYTHON" - evil.json <<'PY'; then
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8")          # strict: no surrogates, no overlongs
except UnicodeDecodeError as e:
    print("not UTF-8: %s: %r" % (e, raw[max(0, e.start - 20):e.end + 20]))
    sys.exit(1)
j = json.loads(text)
if not j["summary"]["cmdline"].startswith('evil "q" \\back\\ line\nnext\ttab \x1b[31mred'):
    print("cmdline not given back: %r" % j["summary"]["cmdline"])
    sys.exit(1)
PY
	echo "ok: --json is valid UTF-8 JSON and gives the cmdline back"
else
	echo "FAIL: --json is not valid JSON in UTF-8 (see above)"
	nbad=$((nbad + 1))
fi

(
	run_limited --vtables evil.snap
	[ "$rc" = 0 ] || fail "--vtables exited $rc: $(cat err.txt)"
	n=$(wc -l <out.txt)
	# the classes in the snapshot, counted from the section itself
	want=$("$HEAPSCAN" --json base.snap | "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)["classes"]))')
	[ "$n" = "$want" ] ||
		fail "--vtables prints $n lines for $want classes: a class name added lines: $(grep -a -n -B1 Injected out.txt | cat -v)"
	assert_vtables_sortable out.txt
	echo "ok: --vtables: one line per class"
) || nbad=$((nbad + 1))

run_limited evil.snap
[ "$rc" = 0 ] || fail "the text report exited $rc: $(cat err.txt)"
echo "ok: text report written ($(wc -l <out.txt) lines)"
[ "$nbad" = 0 ] || fail "$nbad of the checks above failed"
