#!/bin/bash
# badinput_32bit: a 32-bit (i386) process is refused with exit 5
# (EXIT_UNSUPPORTED) before anything is stopped.  The target is built here
# from assembly with binutils alone (as --32, ld -m elf_i386; no multilib):
# it loops on the pause system call through int 0x80.  Skips when the kernel
# cannot run 32-bit programs (no IA32 emulation).
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

command -v as >/dev/null && command -v ld >/dev/null || skip "binutils (as, ld) not installed"
cat >pause32.S <<'ASM'
	.text
	.globl _start
_start:
	movl $29, %eax		/* __NR_pause on i386 */
	int $0x80
	jmp _start
ASM
as --32 -o pause32.o pause32.S && ld -m elf_i386 -o pause32 pause32.o ||
	skip "binutils cannot build an i386 program here"

start "$PWD/pause32"
target=$PID
settled32() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$PWD/pause32" ] && [ "$(state "$1")" = S ]; }
if ! wait_for 120 settled32 "$target"; then
	case "$(state "$target")" in
	"" | Z) skip "the kernel cannot run 32-bit programs (no IA32 emulation)" ;;
	*) fail "pause32 ($target) did not settle: state $(state "$target")" ;;
	esac
fi

run_heapscan "$target"
expect_exact 5 "process $target (pause32) is a 32-bit program; heapscan reads 64-bit x86-64 processes only"
assert_running "$target"
