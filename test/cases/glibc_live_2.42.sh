# glibc_live_2.42: heapscan on live fixtures built against glibc 2.42 (see test/glibc_live.sh).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/glibc_live.sh" || exit 1
glibc_live 2.42
