#!/bin/sh
# The shared library exports exactly the functions include/sma.h declares.
src=${SMA_SRCDIR:-.}
build=${SMA_BUILDDIR:-.}
so=$build/.libs/libsma.so
echo "1..2"
if [ ! -f "$so" ] || ! command -v nm >/dev/null 2>&1; then
	echo "ok 1 - exported symbols match sma.h # SKIP no shared library in this build"
	echo "ok 2 - every export starts with sma_ # SKIP no shared library in this build"
	exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# (names carry their version node, sma_alloc@@SMA_0.1: the name is before @)
nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported"
sed -n 's/^SMA_API [^(]*[ *]\(sma_[a-z_0-9]*\)(.*/\1/p' "$src/include/sma.h" | sort -u >"$tmp/declared"
if cmp -s "$tmp/exported" "$tmp/declared"; then
	echo "ok 1 - exported symbols match sma.h"
else
	echo "not ok 1 - exported symbols match sma.h"
	diff "$tmp/declared" "$tmp/exported" | sed 's/^/# /'
fi
if grep -qv '^sma_' "$tmp/exported"; then
	echo "not ok 2 - every export starts with sma_"
	grep -v '^sma_' "$tmp/exported" | sed 's/^/# /'
else
	echo "ok 2 - every export starts with sma_"
fi
