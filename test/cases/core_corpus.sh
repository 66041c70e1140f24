# core_corpus: every committed core under fixtures/cores/2.NN/ (gcores of the
# arenas, classes and leaks fixtures run on that glibc; fixtures/cores/README.md)
# and 2.NN-SOURCE/ (the same fixtures' cores from another source: the file
# systemd-coredump stored)
# against the truth its fixture printed: per-size in-use counts and free
# counts per kind (arenas), leaks (leaks), classes (classes: only where the
# fixture's executable is still at the path the core records, since class
# names live in it).  Then the same cores with their libc file made
# unreadable (an empty file bound over it, in a private mount namespace):
# INFO's "libc_absent same" says the counts must not change (malloc's state
# is then found in memory, and the version may be reported as the range of
# glibcs whose layout fits).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v zstd >/dev/null || skip "zstd is not installed"
CORES=$TOP/fixtures/cores
ls "$CORES"/2.*/INFO >/dev/null 2>&1 || fail "no cores in $CORES"

info() { awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }' "$2"; }

# exe_here DIR NAME: the fixture's executable is where the core says, the
# same build (class names live in it: without it they are lost, not wrong).
exe_here() {
	local exe want
	exe=$(info fixtures "$1/INFO")/$2
	want=$(awk -v n="$2" '$1 == "exe_build_id" && $2 == n { print $3 }' "$1/INFO")
	[ -n "$want" ] && [ -f "$exe" ] && [ "$(readelf -n "$exe" 2>/dev/null | awk '/Build ID/ { print $3 }')" = "$want" ]
}

# unreadable_libc LIBC CMD...: CMD with an empty file over LIBC (root only).
# When LIBC is heapscan's own libc too, heapscan runs on a copy of it, by
# its loader's --library-path.
unreadable_libc() {
	local libc=$1 own ld
	shift
	: >empty
	own=$(ldd "$HEAPSCAN" | awk '$1 == "libc.so.6" { print $3 }')
	ld=$(ldd "$HEAPSCAN" | awk '$1 ~ /ld-linux/ { print $1 }')
	if [ "$(readlink -f "$own")" = "$(readlink -f "$libc")" ]; then
		mkdir -p ownlib
		cp "$own" ownlib/libc.so.6
		set -- "$ld" --library-path "$PWD/ownlib" "$@"
	fi
	unshare -m sh -c 'mount --bind "$1" "$2" || exit 99; shift 2; exec "$@"' sh \
		"$PWD/empty" "$libc" "$@"
}
can_hide=0
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null && can_hide=1

# check_core V NAME CORE TRUTH JSONOUT: one core against its truth.
check_one() {
	local v=$1 name=$2 core=$3 truth=$4 out=$5
	case $name in
	arenas)
		check_truth "$truth" "$out"
		g=$(json_field "$out" glibc)
		case $g in
		"$v") ;;
		2.*-2.*) # inferred from the layout: a range that holds v
			lo=${g%%-*} hi=${g##*-}
			[ "${lo#2.}" -le "${v#2.}" ] && [ "${hi#2.}" -ge "${v#2.}" ] ||
				fail "$v/$name: the report says glibc '$g'" ;;
		*) fail "$v/$name: the report says glibc '$g'" ;;
		esac
		[ "$(json_field "$out" problems)" = 0 ] || fail "$v/$name: heapscan reports problems"
		# mp_ found (2.12-2.14: in .bss), its count of mmapped chunks the walk's
		[ "$(json_field "$out" glibc_mmapped_chunks)" = "$(json_field "$out" mmapped_chunks)" ] ||
			fail "$v/$name: mp_ not found, or its mmapped count $(json_field "$out" glibc_mmapped_chunks) is not the walk's $(json_field "$out" mmapped_chunks)"
		;;
	leaks)
		if ! exe_here "$dir" leaks; then
			grep -v '^expect class_' "$truth" >leaks.truth
			truth=leaks.truth
		fi
		"$PYTHON" "$TOP/test/check_leaks.py" "$truth" leaks.addrs "$out" ||
			fail "$v/$name: leak counts differ from the truth"
		;;
	classes)
		check_truth "$truth" "$out"
		;;
	esac
}

checked=0 notes=()
for dir in "$CORES"/2.*/; do
	dir=${dir%/}
	v=${dir##*/}
	v=${v%%-*} # 2.NN-SOURCE: cores of 2.NN from another source (systemd-coredump)
	libc=$(info libc "$dir/INFO")
	[ "$(info glibc "$dir/INFO")" = "$v" ] || fail "$dir/INFO does not say glibc $v"
	for name in arenas classes leaks; do
		# every version has all three (2.12 and 2.17 too: test/glibc_live.sh's shim)
		[ -f "$dir/$name.core.zst" ] || fail "$dir/$name.core.zst is missing"
		zstd -q -d -f "$dir/$name.core.zst" -o core || fail "$dir/$name.core.zst does not decompress"
		if [ "$name" = leaks ]; then
			zstd -q -d -f "$dir/leaks.addrs.zst" -o leaks.addrs || fail "leaks.addrs"
			exe_here "$dir" leaks || notes+=("$v/leaks: the fixture's executable is not here: leaks by class not checked")
		fi
		opts=(--json)
		[ "$name" = leaks ] && opts=(--leaks --json)
		"$HEAPSCAN" "${opts[@]}" core >out.json 2>err.txt
		rc=$?
		[ "$rc" = 0 ] || fail "$v/$name: heapscan --json exited $rc: $(cat err.txt)"
		check_one "$v" "$name" core "$dir/$name.truth" out.json
		if [ "$name" = classes ]; then
			if ! exe_here "$dir" classes; then
				notes+=("$v/classes: the fixture's executable is not here: class names not checked")
			else
				"$HEAPSCAN" --vtables core >vtables.out 2>/dev/null || fail "$v/classes: --vtables exited $?"
				check_types vtables.out out.json "$dir/classes.truth"
			fi
		fi
		checked=$((checked + 1))
		if [ "$(info libc_absent "$dir/INFO")" != same ]; then
			fail "$dir/INFO: libc_absent is not 'same'"
		elif [ -e "$libc" ] && [ "$can_hide" = 1 ]; then
			unreadable_libc "$libc" "$HEAPSCAN" "${opts[@]}" core >out-nolibc.json 2>err-nolibc.txt
			rc=$?
			[ "$rc" = 0 ] || fail "$v/$name without libc: exit $rc: $(cat err-nolibc.txt)"
			grep -q "malloc's state found in memory" err-nolibc.txt ||
				fail "$v/$name without libc: no line says malloc's state was found in memory"
			check_one "$v" "$name" core "$dir/$name.truth" out-nolibc.json
		fi
		rm -f core
	done
	echo "ok: ${dir##*/}: $(cd "$dir" && ls *.core.zst | sed 's/.core.zst//' | tr '\n' ' ')cores"
done
for n in "${notes[@]}"; do echo "note: $n"; done
[ "$checked" -gt 0 ] || fail "no core was checked"
echo "ok: $checked cores exact"
