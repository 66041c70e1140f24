# cli_docs: the man page and the bash completion work, and the exit codes
# are documented once, in the same words, in --help, doc/heapscan.1 and the
# README.
#  - `man -l doc/heapscan.1` renders (groff warns of nothing) and shows every
#    option --help lists;
#  - the exit status lines of --help, the man page and the README's table
#    agree code by code, and each code heapscan's error.h defines is there;
#  - the completion, sourced in bash, completes options, a fixture's pid
#    (bare when it is the only match, "PID -- classes" among others),
#    snapshot files for the positional argument and after --diff, files
#    after --snapshot;
#  - `make install DESTDIR=...` installs the binary, the man page and the
#    completion, and `make help` names every target the GNUmakefile has.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v man >/dev/null || skip "no man (apt-get install man-db)"
command -v groff >/dev/null || skip "no groff (apt-get install groff-base)"

MAN=$TOP/doc/heapscan.1
MANWIDTH=200 man -l "$MAN" >man.txt 2>man.err || fail "man -l $MAN exited $?: $(cat man.err)"
[ -s man.err ] && fail "man -l printed on stderr: $(cat man.err)"
groff -man -Tutf8 -ww -z "$MAN" 2>groff.err
[ -s groff.err ] && fail "groff warns: $(cat groff.err)"
grep -q '^NAME' man.txt && grep -q '^EXIT STATUS' man.txt || fail "the man page lacks NAME or EXIT STATUS"
"$HEAPSCAN" --help >help.txt || fail "--help exited $?"
for opt in $(grep -oE -- '--[a-z][a-z-]+' help.txt | sort -u); do
	grep -qF -- "$opt" man.txt || fail "the man page does not describe $opt (--help does)"
done
echo "ok: man -l renders and describes every option --help lists"

# exit codes: "N  text" in --help, ".TP/.B N/text" in the man page, "| N | text |" in the README
"$PYTHON" - "$TOP" help.txt <<'PY' || fail "the exit codes differ between --help, the man page, the README or error.h"
import re, sys
top, helpf = sys.argv[1:3]
norm = lambda s: re.sub(r"\s+", " ", s.replace("\\-", "-")).strip()
help = open(helpf).read().split("Exit status:\n", 1)[1].split("\n\n", 1)[0]
h = {}
for line in help.splitlines():
    m = re.match(r"  (\d)  (.*)", line)
    if m:
        code = int(m.group(1)); h[code] = m.group(2)
    else:
        h[code] += " " + line.strip()
man = open(top + "/doc/heapscan.1").read().split(".SH EXIT STATUS", 1)[1].split(".PP", 1)[0]
m = {int(c): t for c, t in re.findall(r"\.TP\n\.B (\d)\n(.*)\n", man)}
readme = open(top + "/README.md").read()
r = {int(c): t for c, t in re.findall(r"^\| (\d) \| (.*) \|$", readme, re.M)}
enum = open(top + "/include/error.h").read()
codes = sorted(int(v) for v in re.findall(r"EXIT_[A-Z]+ = (\d+)", enum))
bad = 0
for c in codes:
    a, b, d = (norm(x.get(c, "<absent>")) for x in (h, m, r))
    if not (a == b == d):
        print("exit %d: --help %r, man %r, README %r" % (c, a, b, d)); bad = 1
if sorted(h) != codes:
    print("--help lists %s, error.h defines %s" % (sorted(h), codes)); bad = 1
print("exit codes agree:", codes)
sys.exit(bad)
PY

# completion
start_fixture classes
pid=$FIXTURE_PID
"$HEAPSCAN" --snapshot saved.snap "$pid" 2>/dev/null || fail "--snapshot exited $?"
mkdir dir && touch dir/other.snap notes.txt
complete_line() { # complete_line WORD...: COMPREPLY for the last word, one per line
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _heapscan; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$TOP/doc/heapscan.bash-completion" heapscan "$@"
}
expect_completion() { # expect_completion WANT WORD...: the list, exactly
	local want=$1 got
	shift
	got=$(complete_line "$@" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "completing 'heapscan $*': got '$got', want '$want'"
	echo "ok: heapscan $* -> $got"
}
expect_completion "--leaks " --le
expect_completion "--no-memory-check " --no
expect_completion "$pid " -p "$pid"
expect_completion "$pid " --pid "$pid"
expect_completion "$pid " "$pid"
expect_completion "saved.snap " sa
expect_completion "dir/ " di
expect_completion "dir/other.snap " dir/
expect_completion "saved.snap " --diff sa
expect_completion "notes.txt " --snapshot no
# among several: "PID -- comm"; our fixture's line is there
complete_line -p "" | grep -qx "$pid -- classes" || fail "'heapscan -p <TAB>' does not list '$pid -- classes'"
complete_line "" | grep -qx "saved.snap" || fail "'heapscan <TAB>' does not offer saved.snap"
echo "ok: the completion completes"

# make install and make help
make -s -C "$TOP" install DESTDIR="$PWD/root" PREFIX=/usr >install.log 2>&1 || fail "make install failed: $(cat install.log)"
for f in usr/bin/heapscan usr/share/man/man1/heapscan.1 usr/share/bash-completion/completions/heapscan; do
	[ -f "root/$f" ] || fail "make install did not install /$f: $(find root -type f)"
done
MANWIDTH=200 man -l root/usr/share/man/man1/heapscan.1 | grep -q 'heapscan - what is this running' || fail "the installed man page does not render"
make -s -C "$TOP" uninstall DESTDIR="$PWD/root" PREFIX=/usr >/dev/null 2>&1
[ -z "$(find root -type f)" ] || fail "make uninstall left: $(find root -type f)"
make -s -C "$TOP" help >help.make || fail "make help failed"
for t in $(sed -n 's/^\([a-z][a-z-]*\):.*/\1/p' "$TOP/GNUmakefile" | sort -u); do
	grep -qE "make $t\b|^ *$t\b" help.make || fail "make help does not name the target '$t'"
done
echo "ok: make install/uninstall with DESTDIR, make help names every target"
