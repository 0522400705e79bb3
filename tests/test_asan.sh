#!/bin/sh
# test_asan.sh -- AddressSanitizer reports a user's use after free and
# overflow of an sma object when the user's program is built with
# -fsanitize=address, against libsma as the build made it (instrumented
# or not: the library poisons through ASan's interface, declared weak);
# and reports nothing for a program that uses objects right, two
# processes handing objects to each other included (tests/memcheck_prog.c).
# Prints TAP.
#
#   SMA_BUILDDIR, SMA_SRCDIR   the build and the sources
#   SMA_CC, SMA_CFLAGS, SMA_LDFLAGS   the build's compiler and flags
set -u
build=${SMA_BUILDDIR:-.}
src=${SMA_SRCDIR:-.}
cc=${SMA_CC:-cc}
cflags=${SMA_CFLAGS:-}
ldflags=${SMA_LDFLAGS:-}

runs_name=asan
. "$src/tests/tool_runs.sh"

san="-fsanitize=address -fno-omit-frame-pointer"
echo 'int main(void) { return 0; }' >"$tmp/probe.c"
# shellcheck disable=SC2086
if ! $cc $cflags $san "$tmp/probe.c" $ldflags $san -o "$tmp/probe" >/dev/null 2>&1 ||
	! "$tmp/probe" >/dev/null 2>&1; then
	echo "1..0 # SKIP skipped: $cc cannot build and run a program with -fsanitize=address"
	exit 0
fi

# The library as the build made it: shared when there is one.
if [ -f "$build/.libs/libsma.so" ]; then
	lib="-L$build/.libs -lsma -Wl,-rpath,$build/.libs"
elif [ -f "$build/.libs/libsma.a" ]; then
	lib="$build/.libs/libsma.a -lpthread"
else
	echo "1..0 # libsma is not built in $build"
	exit 1
fi
prog=$tmp/memcheck_prog
# shellcheck disable=SC2086
if ! $cc $cflags -g $san -I "$src/include" "$src/tests/memcheck_prog.c" $lib $ldflags $san \
	-o "$prog" 2>"$tmp/cc.err"; then
	echo "1..1"
	echo "not ok 1 - tests/memcheck_prog.c builds with $san"
	sed 's/^/# /' "$tmp/cc.err" | head -n 20
	exit 1
fi

# run MODE: $tmp/MODE.out, .err, .rc
run() {
	TMPDIR=$tmp ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1 \
		"$prog" "$1" >"$tmp/$1.out" 2>"$tmp/$1.err"
	echo $? >"$tmp/$1.rc"
}

failed_run() { ! rc_is "$1" 0; }
# The first report of the run is use-after-poison, in the mode's function.
reported() {
	grep -q 'ERROR: AddressSanitizer: use-after-poison' "$tmp/$1.err" &&
		grep -q "SUMMARY: AddressSanitizer: use-after-poison .*memcheck_prog.c:[0-9]* in $1" "$tmp/$1.err"
}
quiet() { done_ok "$1" && ! grep -q 'Sanitizer' "$tmp/$1.err"; }

echo "1..6"
run uaf
check uaf "ASan stops the program" failed_run uaf
check uaf "a read after sma_free is reported as use-after-poison" reported uaf
run overflow
check overflow "ASan stops the program" failed_run overflow
check overflow "a write one byte past the object is reported as use-after-poison" reported overflow
run clean
check clean "exit 0 and no report, leaks included" quiet clean
run cross
check cross "exit 0 and no report, in either process" quiet cross
[ "$failed" -eq 0 ]
