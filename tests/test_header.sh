#!/bin/sh
# test_header.sh -- include/sma.h compiles on its own, first and alone, under
# every strict C and C++ standard the compilers know, with every warning an
# error.  A standard the compiler lacks is skipped.  Prints TAP.
#
#   SMA_CC, SMA_CXX   the compilers (default: gcc and g++)
set -u
src=${SMA_SRCDIR:-.}
cc=${SMA_CC:-gcc}
cxx=${SMA_CXX:-g++}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-header.XXXXXX") || {
	echo "1..0 # cannot make a temporary directory"
	exit 1
}
trap 'rm -rf "$tmp"' EXIT

# Uses every type the header names, so that a missing one is an error.
cat >"$tmp/use.c" <<'EOF'
#include <sma.h>

static key_t k(const sma_t *a) { return sma_key(a); }

int sma_header_test(void);
int sma_header_test(void)
{
	struct sma_info in;
	struct sma_stats st;
	struct sma_ls_entry e;
	struct sma_slot_info s;
	struct sma_class_stats cs;
	sma_mutex_t m = { { 0, 0, 0, 0 } };
	sma_off_t off = SMA_NULL;
	mode_t mode = 0600;
	pid_t pid = 0;
	uid_t uid = 0;

	in.key = k(0);
	st.size = SMA_MIN_SIZE;
	e.mode = mode;
	s.pid = pid;
	e.uid = uid;
	cs.size = SMA_NAME_MAX;
	(void)in;
	(void)st;
	(void)e;
	(void)s;
	(void)cs;
	(void)m;
	return (int)off + SMA_CREATE + SMA_EXCL + SMA_RDONLY + SMA_PROJ_ID;
}
EOF
cp "$tmp/use.c" "$tmp/use.cc"
: >"$tmp/empty.c"
: >"$tmp/empty.cc"

n=0
failed=0
# try COMPILER LANGUAGE STD [EXTRA FLAGS...]
try() {
	comp=$1
	ext=$2
	std=$3
	shift 3
	n=$((n + 1))
	what="sma.h alone compiles with $comp -std=$std -pedantic -Wall -Wextra -Werror${*:+ $*}"
	if ! command -v "$comp" >/dev/null 2>&1; then
		echo "ok $n - $what # SKIP $comp is not installed"
		return
	fi
	if ! "$comp" -std="$std" -c "$tmp/empty.$ext" -o "$tmp/empty.o" 2>/dev/null; then
		echo "ok $n - $what # SKIP $comp does not know -std=$std"
		return
	fi
	if "$comp" -std="$std" -pedantic -Wall -Wextra -Werror "$@" \
		-I "$src/include" -c "$tmp/use.$ext" -o "$tmp/use.o" 2>"$tmp/err"; then
		echo "ok $n - $what"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what"
		sed 's/^/# /' "$tmp/err" | head -n 10
	fi
}

echo "1..12"
try "$cc" c c99
try "$cc" c c11
try "$cc" c c17
try "$cc" c c11 -D_POSIX_C_SOURCE=200809L
try "$cc" c c11 -D_XOPEN_SOURCE=700
try "$cc" c c11 -D_GNU_SOURCE
try "$cc" c c99 -Wstrict-prototypes -Wmissing-prototypes
try "$cxx" cc c++98
try "$cxx" cc c++11
try "$cxx" cc c++14
try "$cxx" cc c++17
try "$cxx" cc c++20
[ "$failed" -eq 0 ]
