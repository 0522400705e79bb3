#!/bin/sh
# test_abi.sh -- the library's ABI against the record in tests/abi.expected:
# the -version-info, the layout of every exported struct (tests/abi_layout)
# and the symbols libsma.so exports with their version nodes (libsma.map).
# Prints TAP.  Any difference fails, and says how -version-info must move
# for it by libtool's rules (README, Releasing):
#
#   an interface removed or changed   current+1, revision 0, age 0
#   only interfaces added             current+1, revision 0, age+1
#   no interface changed              revision+1
#
# Once configure.ac has the new -version-info, `make abi-update` (which
# runs this script with --update) writes the new record; it refuses while
# the version has not moved as the change needs.  The symbol part needs a
# shared library: it is skipped when only a static one was built.
set -u
src=${SMA_SRCDIR:-.}
build=${SMA_BUILDDIR:-.}
version=${SMA_LT_VERSION:-}
expected=$src/tests/abi.expected
so=$build/.libs/libsma.so
update=0
[ "${1:-}" = --update ] && update=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-abi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

if [ -z "$version" ]; then
	version=$(sed -n 's/^AC_SUBST(\[SMA_LT_VERSION\], \[\([0-9:]*\)\]).*/\1/p' "$src/configure.ac")
fi
have_so=0
[ -f "$so" ] && command -v nm >/dev/null 2>&1 && have_so=1

# The record of this build: version, layout, symbols (name and node).
{
	echo "version-info $version"
	"$build/tests/abi_layout" || echo "layout: tests/abi_layout failed"
	if [ $have_so = 1 ]; then
		nm -D --defined-only "$so" | awk '$2 == "T" {
			n = split($3, p, "@+"); print "symbol " p[1] " " (n > 1 ? p[n] : "(none)") }' | sort
	fi
} >"$tmp/actual"
if [ -f "$expected" ]; then
	grep -v '^#' "$expected" >"$tmp/expected"
else
	: >"$tmp/expected"
fi

# What changed: lines only in the record (gone) and only in this build
# (new), per kind.  A reserved field shrinking as fields take its place
# is no removal.
grep -E '^(size|field) ' "$tmp/expected" | sort >"$tmp/el"
grep -E '^(size|field) ' "$tmp/actual" | sort >"$tmp/al"
grep '^symbol ' "$tmp/expected" | sort >"$tmp/es"
grep '^symbol ' "$tmp/actual" | sort >"$tmp/as"
comm -23 "$tmp/el" "$tmp/al" | grep -v '^field [a-z_]*\.reserved ' >"$tmp/layout_gone"
comm -13 "$tmp/el" "$tmp/al" >"$tmp/layout_new"
comm -23 "$tmp/es" "$tmp/as" >"$tmp/sym_gone"
comm -13 "$tmp/es" "$tmp/as" >"$tmp/sym_new"
if [ $have_so = 0 ]; then
	: >"$tmp/sym_gone"
	: >"$tmp/sym_new"
fi

old=$(sed -n 's/^version-info //p' "$tmp/expected")
old=${old:-0:0:0}
oc=${old%%:*}
ora=${old#*:}
or=${ora%%:*}
oa=${ora#*:}
if [ ! -s "$tmp/expected" ]; then
	change="nothing was recorded yet"
	want=$version
elif [ -s "$tmp/layout_gone" ] || [ -s "$tmp/sym_gone" ]; then
	change="an interface was removed or changed"
	want="$((oc + 1)):0:0"
elif [ -s "$tmp/layout_new" ] || [ -s "$tmp/sym_new" ]; then
	change="interfaces were only added"
	want="$((oc + 1)):0:$((oa + 1))"
else
	change="no interface changed"
	want="$oc:$((or + 1)):$oa"
fi
# Did the version move as the change needs?  (With no interface change,
# any revision will do as long as current and age stay.)
moved_ok=0
case "$change" in
no*) [ "${version%%:*}" = "$oc" ] && [ "${version##*:}" = "$oa" ] && moved_ok=1 ;;
*) [ "$version" = "$want" ] && moved_ok=1 ;;
esac

if [ $update = 1 ]; then
	if [ $have_so = 0 ]; then
		echo "test_abi: --update needs a build with the shared library" >&2
		exit 2
	fi
	if [ -s "$tmp/expected" ] && [ $moved_ok = 0 ]; then
		echo "test_abi: $change: -version-info must be $want (configure.ac says $version)" >&2
		exit 2
	fi
	{
		echo "# The ABI of libsma: written by \`make abi-update' (tests/test_abi.sh"
		echo "# --update) after -version-info moved by libtool's rules; tests/test_abi.sh"
		echo "# compares every build with it."
		cat "$tmp/actual"
	} >"$expected"
	echo "test_abi: $expected written for -version-info $version ($change)"
	exit 0
fi

advice() { # what to do about a difference
	if [ "$version" = "$old" ]; then
		echo "# $change, but -version-info is still $version: make it $want in"
		echo "# configure.ac (README, Releasing), then run make abi-update"
	elif [ $moved_ok = 1 ]; then
		echo "# -version-info moved to $version as the change needs: record it"
		echo "# with make abi-update"
	else
		echo "# $change: -version-info must be $want, not $version"
	fi
}

n=1
echo "1..5"
if [ ! -s "$tmp/expected" ]; then
	echo "not ok $n - the ABI is recorded in tests/abi.expected"
	echo "# no record: run make abi-update"
	n=$((n + 1))
else
	echo "ok $n - the ABI is recorded in tests/abi.expected"
	n=$((n + 1))
fi

if cmp -s "$tmp/el" "$tmp/al"; then
	echo "ok $n - every exported struct keeps its size and its fields' offsets"
else
	echo "not ok $n - every exported struct keeps its size and its fields' offsets"
	sed 's/^/# gone: /' "$tmp/layout_gone"
	comm -23 "$tmp/el" "$tmp/al" | grep '^field [a-z_]*\.reserved ' | sed 's/^/# was: /'
	sed 's/^/# now:  /' "$tmp/layout_new"
	advice
fi
n=$((n + 1))

if [ $have_so = 0 ]; then
	echo "ok $n - the exported symbols and their nodes are the recorded ones # SKIP no shared library in this build"
elif cmp -s "$tmp/es" "$tmp/as"; then
	echo "ok $n - the exported symbols and their nodes are the recorded ones"
else
	echo "not ok $n - the exported symbols and their nodes are the recorded ones"
	sed 's/^/# gone: /' "$tmp/sym_gone"
	sed 's/^/# new:  /' "$tmp/sym_new"
	advice
fi
n=$((n + 1))

if [ "$version" = "$old" ] || [ ! -s "$tmp/expected" ]; then
	echo "ok $n - -version-info $version is the recorded one"
else
	echo "not ok $n - -version-info $version is the recorded one"
	echo "# tests/abi.expected records $old"
	advice
fi
n=$((n + 1))

# The map names exactly what the header declares (every build: the map
# is the list the shared library is linked with).
sed -n 's/^SMA_API [^(]*[ *]\(sma_[a-z_0-9]*\)(.*/\1/p' "$src/include/sma.h" | sort -u >"$tmp/declared"
sed -n 's/^[[:space:]]*\(sma_[a-z_0-9]*\);.*/\1/p' "$src/libsma.map" | sort >"$tmp/mapped"
if cmp -s "$tmp/declared" "$tmp/mapped"; then
	echo "ok $n - libsma.map lists every function sma.h declares, once"
else
	echo "not ok $n - libsma.map lists every function sma.h declares, once"
	diff "$tmp/declared" "$tmp/mapped" | sed 's/^/# /'
fi
