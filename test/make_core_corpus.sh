#!/bin/bash
# make_core_corpus.sh - (re)make fixtures/cores/2.NN/ from the glibcs in the
# test cache.  Run by hand, as root (gcore, coredump_filter), from the top of
# the tree after `make fixtures`; never by `make test`, which only reads the
# committed corpus (test/cases/core_corpus.sh).
#
#   bash test/make_core_corpus.sh [2.NN ...]     default: every cached glibc,
#                                                and this system's own
#   PREBUILT=DIR bash test/make_core_corpus.sh 2.NN   the fixtures in DIR,
#                                                already linked against 2.NN
#
# For each glibc: the arenas, classes and leaks fixtures, built against it
# (test/glibc_live.sh) into $CACHE/2.NN/fixtures, run until ready, stopped
# with SIGSTOP, their coredump_filter set to 0x13 (anonymous private and
# shared memory and ELF header pages; gdb also dumps the written pages of
# private file mappings, where main_arena lives), gcore'd, then ended.  Kept:
# NAME.core.zst (zstd -19), NAME.truth (the fixture's own truth file),
# NAME.addrs.zst (leaks), and INFO (see fixtures/cores/README.md).
set -u
TOP=$(pwd)
[ -f "$TOP/test/glibc_live.sh" ] || { echo "run me from the top of the tree" >&2; exit 2; }
. "$TOP/test/lib.sh" || exit 1
. "$TOP/test/glibc_live.sh" || exit 1
command -v gcore >/dev/null && command -v zstd >/dev/null || fail "needs gcore (gdb) and zstd"

WORK=$(mktemp -d /tmp/corpus.XXXXXX)
trap '_lib_cleanup; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

core_of() { # core_of NAME OUTDIR: FIXTURES/NAME -> OUTDIR/NAME.*
	local name=$1 out=$2
	start_fixture "$name"
	kill -STOP "$FIXTURE_PID"
	wait_state "$FIXTURE_PID" T 10 || fail "$name did not stop"
	echo 0x13 >"/proc/$FIXTURE_PID/coredump_filter" || fail "cannot set coredump_filter"
	gcore -o "$name.core" "$FIXTURE_PID" >gcore.log 2>&1 || fail "gcore: $(tail -3 gcore.log)"
	zstd -q -19 -T2 -f "$name.core.$FIXTURE_PID" -o "$out/$name.core.zst" || fail "zstd"
	rm -f "$name.core.$FIXTURE_PID"
	cp "$READY" "$out/$name.truth"
	[ -e "$READY.addrs" ] && zstd -q -19 -f "$READY.addrs" -o "$out/$name.addrs.zst"
	stop_fixture "$FIXTURE_PID"
}

libc_of() { # libc_of PID: the path of its libc mapping
	awk '$6 ~ /\/libc(-2\.[0-9]+(\.[0-9]+)?\.so|\.so\.6)$/ { print $6; exit }' "/proc/$1/maps"
}

corpus_for() { # corpus_for VERSION [DIR]: DIR empty = this system's glibc
	local v=$1 D=${2:-} out=$TOP/fixtures/cores/$1 libc
	rm -rf "$out"
	mkdir -p "$out"
	if [ -n "${PREBUILT:-}" ]; then
		FIXTURES=$PREBUILT # fixtures already built and linked against that glibc
	elif [ -n "$D" ]; then
		build_for "$v" "$D"
		mkdir -p "$D/fixtures"
		cp fx-"$v"/* "$D/fixtures/"
		FIXTURES=$D/fixtures
	else
		FIXTURES=$TOP/build/fixtures
	fi
	for name in arenas classes leaks; do
		[ -x "$FIXTURES/$name" ] || [ "$name" != arenas ] || fail "no arenas fixture in $FIXTURES"
		[ -x "$FIXTURES/$name" ] && core_of "$name" "$out"
	done
	start_fixture arenas
	libc=$(libc_of "$FIXTURE_PID")
	stop_fixture "$FIXTURE_PID"
	{
		echo "glibc $v"
		echo "libc $libc"
		echo "libc_build_id $(readelf -n "$libc" | awk '/Build ID/ { print $3 }')"
		echo "fixtures $FIXTURES"
		for name in arenas classes leaks; do
			[ -x "$FIXTURES/$name" ] || continue
			echo "exe_build_id $name $(readelf -n "$FIXTURES/$name" | awk '/Build ID/ { print $3 }')"
		done
		echo "made_by $(gdb --version | head -1) gcore, coredump_filter 0x13, fixture stopped (SIGSTOP)"
		echo "libc_absent same"
	} >"$out/INFO"
	echo "fixtures/cores/$v: $(du -sh "$out" | cut -f1)"
}

versions=("$@")
if [ ${#versions[@]} = 0 ]; then
	for d in "$CACHE"/2.*; do
		[ -e "$d/lib/libc.so.6" ] && versions+=("${d##*/}")
	done
	versions+=(system)
fi
for v in "${versions[@]}"; do
	if [ "$v" = system ]; then
		sv=$(getconf GNU_LIBC_VERSION | awk '{ print $2 }')
		corpus_for "$sv"
	else
		corpus_for "$v" "$CACHE/$v"
	fi
done
