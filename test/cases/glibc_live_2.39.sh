# glibc_live_2.39: heapscan on live fixtures built against glibc 2.39 (see test/glibc_live.sh).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/glibc_live.sh" || exit 1
glibc_live 2.39
