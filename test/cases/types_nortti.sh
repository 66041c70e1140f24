# types_nortti: classes compiled with -fno-rtti have no typeinfo in their
# vtables; heapscan names them from the module's _ZTV symbols instead, with the
# same counts.  A stripped copy has neither, and must then list no class
# rather than guess.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v g++ >/dev/null || skip "g++ is not installed"

cat > nortti.cc <<'CC'
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
namespace shop { struct Order { virtual ~Order() {} long id = 1; }; }
struct Plain { virtual void f() {} int x = 0; };
int main(int argc, char **argv)
{
	for (int i = 0; i < 321; i++)
		new shop::Order;
	Plain *p[77];
	for (int i = 0; i < 77; i++)
		p[i] = new Plain;
	for (int i = 0; i < 7; i++)
		delete p[i];
	FILE *f = fopen("ready.tmp", "w");
	fprintf(f, "pid %d\n", (int)getpid());
	fclose(f);
	rename("ready.tmp", argv[1]);
	pause();
	return 0;
}
CC
g++ -O1 -fno-rtti -o nortti nortti.cc || fail "cannot compile the -fno-rtti program"

run_one() { # BINARY: start it, scan --vtables into vtables.out
	rm -f ready
	"./$1" ready </dev/null & pid=$!
	for _ in $(seq $((HANG * 100))); do [ -e ready ] && break; sleep 0.01; done
	[ -e ready ] || fail "$1 did not start"
	"$HEAPSCAN" --vtables "$pid" >vtables.out 2>vtables.err || fail "heapscan exit $?: $(cat vtables.err)"
	kill "$pid"; wait "$pid" 2>/dev/null
}

run_one nortti
grep -qxP '321\tshop::Order' vtables.out || fail "expected 321 shop::Order from _ZTV symbols, got: $(cat vtables.out)"
grep -qxP '70\tPlain' vtables.out || fail "expected 70 Plain (77 made, 7 deleted), got: $(cat vtables.out)"
[ "$(wc -l <vtables.out)" = 2 ] || fail "expected exactly 2 classes, got: $(cat vtables.out)"

strip --strip-all -o nortti.stripped nortti
run_one nortti.stripped
[ -s vtables.out ] && fail "no RTTI and no symbols, yet classes were named: $(cat vtables.out)"
echo "ok: classes named from _ZTV symbols without RTTI; nothing guessed when stripped"
