#!/bin/sh
# test_dist.sh -- the distribution holds what its own scripts run (.ci/run
# runs run.sh, fuzz/run.sh, which builds fuzz/check_fuzz.c, and the
# ThreadSanitizer suppressions) and, in a git checkout, every file git
# tracks.  Builds the distribution tree with make distdir into a directory
# of its own.  Prints TAP.
set -u
src=${SMA_SRCDIR:-.}
build=${SMA_BUILDDIR:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-dist.XXXXXX") || {
	echo "1..0 # cannot make a temporary directory"
	exit 1
}
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR

echo "1..3"
failed=0
d=$tmp/sma
if make -C "$build" -s distdir distdir="$d" top_distdir="$d" >"$tmp/out" 2>&1 &&
	[ -f "$d/configure" ]; then
	echo "ok 1 - make distdir makes the distribution tree"
else
	echo "not ok 1 - make distdir makes the distribution tree"
	tail -n 5 "$tmp/out" | sed 's/^/# /'
	exit 1
fi

missing=""
for f in run.sh autogen.sh .ci/run fuzz/run.sh fuzz/check_fuzz.c tests/tsan.supp; do
	[ -f "$d/$f" ] || missing="$missing $f"
done
# Whatever .ci/run and fuzz/run.sh name under fuzz/ and tests/.
for f in $(sed -n 's|.*[ "/]\(\(fuzz\|tests\)/[a-z_]*\.\(sh\|c\|supp\)\).*|\1|p' \
	"$src/.ci/run" "$src/fuzz/run.sh" | sort -u); do
	[ -f "$d/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
	echo "ok 2 - the distribution holds the files .ci/run and fuzz/run.sh run"
else
	echo "not ok 2 - the distribution holds the files .ci/run and fuzz/run.sh run"
	echo "# missing:$missing"
	failed=1
fi

if ! command -v git >/dev/null 2>&1 || ! git -C "$src" ls-files >"$tmp/tracked" 2>/dev/null ||
	[ ! -s "$tmp/tracked" ]; then
	echo "ok 3 - the distribution holds every file git tracks # SKIP not a git checkout"
	exit "$failed"
fi
(cd "$d" && find . -type f | sed 's|^\./||') | sort >"$tmp/shipped"
# Only git's own files stay out.
grep -v -e '^\.gitignore$' -e '/\.gitkeep$' "$tmp/tracked" | sort |
	comm -23 - "$tmp/shipped" >"$tmp/missing"
if [ ! -s "$tmp/missing" ]; then
	echo "ok 3 - the distribution holds every file git tracks"
else
	echo "not ok 3 - the distribution holds every file git tracks"
	sed 's/^/# missing: /' "$tmp/missing" | head -n 20
	failed=1
fi
exit "$failed"
