#!/bin/sh
# test_install.sh -- what the README says about installing: configure with
# --prefix in a build directory of its own, make install, then build a
# program outside the tree with pkg-config (shared and --static), run it,
# and run the installed tool.  Also: DESTDIR staging, and a make install
# given another prefix writes an sma.pc that names it.  Prints TAP.
#
# Everything goes under one directory from mktemp -d, removed on exit with
# any System V object the programs made.
set -u
src=${SMA_SRCDIR:-.}
cc=${SMA_CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-install.XXXXXX") || {
	echo "1..0 # cannot make a temporary directory"
	exit 1
}
prefix=$tmp/prefix
build=$tmp/build
ids=$tmp/ids # shmids the programs made, to remove whatever happens
: >"$ids"
cleanup() {
	while read -r i; do
		ipcrm -m "$i" >/dev/null 2>&1
	done <"$ids"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The build is the user's: none of the flags of the build running the test
# (sanitizers, a make job server, a TESTS override) leaks into it.
unset CFLAGS CPPFLAGS LDFLAGS LIBS MAKEFLAGS MFLAGS MAKELEVEL DESTDIR \
	PKG_CONFIG_PATH LD_LIBRARY_PATH
make=${MAKE:-make}
jobs=-j2

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do
		echo "# $line"
	done
	[ -s "$tmp/err" ] && sed 's/^/#   /' "$tmp/err" | tail -n 15
}
skip_rest() {
	while [ "$n" -lt 7 ]; do
		n=$((n + 1))
		echo "ok $n - # SKIP $1"
	done
	exit 0
}

echo "1..7"
for t in pkg-config "$make"; do
	command -v "$t" >/dev/null 2>&1 || skip_rest "$t is not installed"
done

# ---- configure --prefix, make install ----

mkdir -p "$build"
if (cd "$build" && "$src/configure" -q --prefix="$prefix" \
	--disable-dependency-tracking CC="$cc" CFLAGS=-O1) >"$tmp/err" 2>&1 &&
	"$make" -C "$build" -s $jobs install-exec install-data >"$tmp/err" 2>&1 &&
	[ -f "$prefix/include/sma.h" ] && [ -x "$prefix/bin/sma" ] &&
	ls "$prefix"/lib*/libsma.so.0 >/dev/null 2>&1 &&
	ls "$prefix"/lib*/libsma.a >/dev/null 2>&1 &&
	ls "$prefix"/lib*/pkgconfig/sma.pc >/dev/null 2>&1 &&
	[ -f "$prefix/share/man/man3/sma.3" ] && [ -f "$prefix/share/man/man3/sma_alloc.3" ] &&
	[ -f "$prefix/share/bash-completion/completions/sma" ]; then
	ok "configure --prefix and make install put the header, the libraries, sma.pc, the tool, the man pages and the bash completion under the prefix"
else
	not_ok "configure --prefix and make install put the header, the libraries, sma.pc, the tool, the man pages and the bash completion under the prefix" \
		"$(cd "$prefix" 2>/dev/null && find . -type f | sort | tr '\n' ' ')"
	skip_rest "nothing was installed"
fi
libdir=$(dirname "$(ls "$prefix"/lib*/libsma.so.0 | head -n 1)")
PKG_CONFIG_PATH=$libdir/pkgconfig
export PKG_CONFIG_PATH

if [ "$(pkg-config --variable=prefix sma)" = "$prefix" ] &&
	[ "$(pkg-config --modversion sma)" = "$(sed -n 's/^#define SMA_VERSION "\(.*\)"$/\1/p' "$src/include/sma.h")" ] &&
	pkg-config --cflags sma | grep -q -- "-I$prefix/include" &&
	pkg-config --libs sma | grep -q -- "-L$libdir"; then
	ok "pkg-config finds sma with PKG_CONFIG_PATH, and names the prefix"
else
	not_ok "pkg-config finds sma with PKG_CONFIG_PATH, and names the prefix" \
		"cflags: $(pkg-config --cflags sma 2>&1)" "libs: $(pkg-config --libs sma 2>&1)"
fi

# ---- a program outside the tree ----

cat >"$tmp/prog.c" <<'EOF'
#include <sma.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	sma_t *a = sma_open_key(IPC_PRIVATE, SMA_CREATE, SMA_MIN_SIZE, 0600);
	sma_off_t off;
	int ok;

	if (!a) {
		perror("sma_open_key");
		return 1;
	}
	printf("%d\n", sma_shmid(a));
	fflush(stdout);
	off = sma_alloc(a, 100);
	ok = off != SMA_NULL && sma_check(a) == 0;
	if (ok)
		strcpy(sma_ptr(a, off), "hello");
	ok = ok && strcmp(sma_ptr(a, off), "hello") == 0 &&
	     sma_free(a, off) == 0 && strcmp(sma_version(), SMA_VERSION) == 0;
	if (sma_destroy(a) < 0 || !ok) {
		fprintf(stderr, "prog: the arena did not behave\n");
		return 1;
	}
	printf("sma %s\n", sma_version());
	return 0;
}
EOF
# run_prog BINARY [ENV...]: runs it, keeps its shmid for the cleanup.
run_prog() {
	bin=$1
	shift
	env "$@" "$bin" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	head -n 1 "$tmp/out" >>"$ids"
	[ "$rc" -eq 0 ] && grep -q '^sma [0-9]' "$tmp/out"
}

# shellcheck disable=SC2046
if "$cc" -o "$tmp/prog" "$tmp/prog.c" $(pkg-config --cflags --libs sma) 2>"$tmp/err" &&
	run_prog "$tmp/prog" LD_LIBRARY_PATH="$libdir" &&
	{ ! command -v ldd >/dev/null 2>&1 ||
		LD_LIBRARY_PATH="$libdir" ldd "$tmp/prog" | grep -q "$libdir/libsma.so.0"; }; then
	ok "a program built with pkg-config --cflags --libs sma runs on the installed shared library"
else
	not_ok "a program built with pkg-config --cflags --libs sma runs on the installed shared library"
fi

# shellcheck disable=SC2046
if "$cc" -o "$tmp/prog-rpath" "$tmp/prog.c" $(pkg-config --cflags --libs sma) \
	-Wl,-rpath,"$libdir" 2>"$tmp/err" && run_prog "$tmp/prog-rpath"; then
	ok "with -Wl,-rpath,LIBDIR the program runs without LD_LIBRARY_PATH"
else
	not_ok "with -Wl,-rpath,LIBDIR the program runs without LD_LIBRARY_PATH"
fi

# shellcheck disable=SC2046
if "$cc" -static -o "$tmp/prog-static" "$tmp/prog.c" \
	$(pkg-config --static --cflags --libs sma) 2>"$tmp/err"; then
	if run_prog "$tmp/prog-static" &&
		{ ! command -v ldd >/dev/null 2>&1 || ! ldd "$tmp/prog-static" 2>/dev/null | grep -q libsma; }; then
		ok "a program built with pkg-config --static and -static runs with no shared libsma"
	else
		not_ok "a program built with pkg-config --static and -static runs with no shared libsma"
	fi
elif ! echo 'int main(void){return 0;}' >"$tmp/nothing.c" ||
	! "$cc" -static -o "$tmp/nothing" "$tmp/nothing.c" 2>/dev/null; then
	ok "a program built with pkg-config --static runs # SKIP this compiler cannot link statically"
else
	not_ok "a program built with pkg-config --static and -static runs with no shared libsma"
fi

# ---- the installed tool ----

arena=$tmp/arena
"$prefix/bin/sma" --version >"$tmp/out" 2>"$tmp/err"
v_rc=$?
"$prefix/bin/sma" create "$arena" --size 1M >"$tmp/out" 2>>"$tmp/err"
c_rc=$?
sed -n 's/.*shmid \([0-9]*\),.*/\1/p' "$tmp/out" >>"$ids"
"$prefix/bin/sma" check "$arena" >"$tmp/out" 2>>"$tmp/err"
k_rc=$?
"$prefix/bin/sma" rm "$arena" >/dev/null 2>>"$tmp/err"
r_rc=$?
if [ "$v_rc" -eq 0 ] && [ "$c_rc" -eq 0 ] && [ "$k_rc" -eq 0 ] && [ "$r_rc" -eq 0 ]; then
	ok "the installed tool finds its library without LD_LIBRARY_PATH: create, check, rm"
else
	not_ok "the installed tool finds its library without LD_LIBRARY_PATH: create, check, rm" \
		"version=$v_rc create=$c_rc check=$k_rc rm=$r_rc"
fi

# ---- DESTDIR, and another prefix given to make install ----

other=$tmp/other
if "$make" -C "$build" -s install-exec install-data DESTDIR="$tmp/stage" >"$tmp/err" 2>&1 &&
	grep -qx "prefix=$prefix" "$tmp/stage$libdir/pkgconfig/sma.pc" &&
	"$make" -C "$build" -s install-data prefix="$other" >"$tmp/err" 2>&1 &&
	grep -qx "prefix=$other" "$other/lib/pkgconfig/sma.pc" &&
	grep -qx "includedir=$other/include" "$other/lib/pkgconfig/sma.pc" &&
	PKG_CONFIG_PATH="$other/lib/pkgconfig" pkg-config --cflags sma | grep -q -- "-I$other/include"; then
	ok "DESTDIR stages the configured prefix, and make install prefix=DIR writes an sma.pc naming DIR"
else
	not_ok "DESTDIR stages the configured prefix, and make install prefix=DIR writes an sma.pc naming DIR" \
		"$(cat "$tmp/stage$libdir/pkgconfig/sma.pc" "$other/lib/pkgconfig/sma.pc" 2>&1 | grep prefix)"
fi

[ "$failed" -eq 0 ]
