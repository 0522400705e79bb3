#!/bin/sh
# test_memcheck.sh -- Valgrind's memcheck reports a user's use after free
# and overflow of an sma object, in the user's process, with the stacks
# of the allocation and of the free; and it reports nothing, no leak
# either, for a program that uses objects right: one that closes a handle
# on live objects, and two processes that hand objects to each other
# (tests/memcheck_prog.c).  Prints TAP.
#
#   SMA_BUILDDIR, SMA_SRCDIR   the build (tests/memcheck_prog, a real
#                  binary) and the sources
#   SMA_HAVE_VALGRIND, SMA_CFLAGS, SMA_LDFLAGS   what configure found, and
#                  the build's flags (a sanitizer's build cannot run under
#                  Valgrind)
set -u
build=${SMA_BUILDDIR:-.}
src=${SMA_SRCDIR:-.}
prog=$build/tests/memcheck_prog

skip() {
	echo "1..0 # SKIP skipped: $*"
	exit 0
}
command -v valgrind >/dev/null 2>&1 || skip "valgrind not found"
[ "${SMA_HAVE_VALGRIND:-yes}" = yes ] || skip "sma was configured without valgrind (valgrind/memcheck.h)"
case "${SMA_CFLAGS:-} ${SMA_LDFLAGS:-}" in
*-fsanitize=*) skip "the build uses a sanitizer, which valgrind cannot run" ;;
esac
[ -x "$prog" ] || {
	echo "1..0 # $prog is not built"
	exit 1
}

runs_name=memcheck
. "$src/tests/tool_runs.sh"

# run MODE: the program under memcheck; $tmp/MODE.out, .err, .rc
run() {
	TMPDIR=$tmp valgrind --error-exitcode=99 --leak-check=full --trace-children=no \
		--num-callers=30 "$prog" "$1" >"$tmp/$1.out" 2>"$tmp/$1.err"
	echo $? >"$tmp/$1.rc"
}

has() { grep -q -e "$2" "$tmp/$1.err"; }
# The lines of the report between two patterns mention a third.
section_has() {
	awk -v from="$2" -v to="$3" -v want="$4" '
		index($0, from) { on = 1; next }
		on && to != "" && index($0, to) { on = 0 }
		on && /^==[0-9]+== *$/ { on = 0 }
		on && index($0, want) { found = 1 }
		END { exit !found }' "$tmp/$1.err"
}
clean_report() { # every process: 0 errors, and no leak
	[ "$(grep -c 'ERROR SUMMARY: 0 errors' "$tmp/$1.err")" -ge "$2" ] &&
		! grep -q 'ERROR SUMMARY: [1-9]' "$tmp/$1.err" &&
		! grep -Eq '(definitely|indirectly|possibly) lost: [1-9]' "$tmp/$1.err"
}

echo "1..12"
run uaf
check uaf "memcheck fails the run (exit 99)" rc_is uaf 99
check uaf "reported as an invalid read of a block free'd" \
	sh -c "grep -q 'Invalid read' '$tmp/uaf.err' && grep -q \"inside a block of size 48 free'd\" '$tmp/uaf.err'"
check uaf "the freeing stack names sma_free" section_has uaf "free'd" "Block was alloc'd" sma_free
check uaf "the allocating stack names sma_alloc" section_has uaf "Block was alloc'd" "" sma_alloc

run overflow
check overflow "memcheck fails the run (exit 99)" rc_is overflow 99
check overflow "one byte past the object is reported as an invalid write" has overflow "Invalid write of size 1"

run clean
check clean "exit 0, and the program's own checks pass" done_ok clean
check clean "no error and no leak (objects live at a close are the arena's)" clean_report clean 1
check clean "nothing about the pool (an unknown free is no error)" sh -c "! grep -Eqi 'mempool|Invalid free' '$tmp/clean.err'"

run cross
check cross "exit 0, and both processes' checks pass" done_ok cross
check cross "no error and no leak in either process" clean_report cross 2
check cross "nothing about the pool in either process" sh -c "! grep -Eqi 'mempool|Invalid free' '$tmp/cross.err'"
[ "$failed" -eq 0 ]
