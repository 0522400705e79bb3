#!/bin/sh
# demo.sh -- runs the demo as a test: it must exit 0, and leave no arena
# and no file behind.  Prints TAP; the demo's own output becomes comments.
#
# make check sets SMA_BUILDDIR and SMA_SRCDIR; run by hand, both default to
# the current directory.

builddir=${SMA_BUILDDIR:-.}
srcdir=${SMA_SRCDIR:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-demo-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

echo "1..2"
TMPDIR=$tmp "$builddir/examples/demo" "$srcdir/examples/genesis.txt" \
	"$builddir/tools/sma" >"$tmp/out" 2>&1
rc=$?
sed 's/^/# /' "$tmp/out"
if [ $rc -eq 0 ]; then
	echo "ok 1 - the demo counts the words and finds the arena clean"
else
	echo "not ok 1 - the demo exited with status $rc"
fi

# The demo made its arena in a directory under $tmp, and removes both.
shmid=$(sed -n 's/.*shmid \([0-9][0-9]*\).*/\1/p' "$tmp/out" | head -n 1)
left=$(find "$tmp" -mindepth 1 ! -name out)
if [ -z "$left" ] && { [ -z "$shmid" ] ||
	! grep -q "^ *[0-9-]* *$shmid " /proc/sysvipc/shm; }; then
	echo "ok 2 - the demo removed its arena and its files"
else
	echo "not ok 2 - the demo left behind: shmid ${shmid:-?} ${left}"
fi
[ $rc -eq 0 ]
