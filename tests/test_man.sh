#!/bin/sh
# test_man.sh -- the manual: every public function of include/sma.h has a
# page (a link to sma(3)) that make install puts in man3, is named in
# sma(3)'s NAME section (what apropos and whatis index) and described
# there; and sma(1) and sma(3) render without warnings within 80 columns
# at MANWIDTH=80, in the C locale and in a UTF-8 one.  Prints TAP.
set -u
src=${SMA_SRCDIR:-.}
build=${SMA_BUILDDIR:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-man.XXXXXX") || {
	echo "1..0 # cannot make a temporary directory"
	exit 1
}
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR MANPATH MANOPT
MANPAGER=cat
PAGER=cat
export MANPAGER PAGER

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
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

echo "1..6"

sed -n 's/^SMA_API [^(]*[ *]\(sma_[a-z_0-9]*\)(.*/\1/p' "$src/include/sma.h" |
	sort -u >"$tmp/functions"
[ -s "$tmp/functions" ] || not_ok "sma.h declares functions"

# ---- a page for every function ----

bad=""
for f in $(cat "$tmp/functions"); do
	[ "$(cat "$src/man/$f.3" 2>/dev/null)" = ".so man3/sma.3" ] || bad="$bad $f"
done
if [ -z "$bad" ]; then
	ok "every function of sma.h has a page man/FUNCTION.3 that links to sma(3)"
else
	not_ok "every function of sma.h has a page man/FUNCTION.3 that links to sma(3)" "missing:$bad"
fi

# NAME: the names before "\-" in the NAME section.
sed -n '/^\.SH NAME/,/^\.SH/p' "$src/man/sma.3" | sed '1d;$d' | tr '\n' ' ' |
	sed 's/ \\- .*//' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sort -u >"$tmp/named"
bad=$(comm -23 "$tmp/functions" "$tmp/named" | tr '\n' ' ')
if [ -z "$bad" ] && { ! command -v lexgrog >/dev/null 2>&1 ||
	[ "$(lexgrog "$src/man/sma.3" | grep -c ' - ')" -ge "$(wc -l <"$tmp/functions")" ]; }; then
	ok "sma(3)'s NAME section lists every function, so that apropos finds each"
else
	not_ok "sma(3)'s NAME section lists every function, so that apropos finds each" "not named: $bad"
fi

# Described: named in bold after the SYNOPSIS, as ".BR f ()" and the like.
bad=""
sed -n '/^\.SH DESCRIPTION/,$p' "$src/man/sma.3" >"$tmp/description"
for f in $(cat "$tmp/functions"); do
	grep -q "^\.BR* $f\( \|$\)" "$tmp/description" || bad="$bad $f"
done
if [ -z "$bad" ]; then
	ok "sma(3) describes every function after its synopsis"
else
	not_ok "sma(3) describes every function after its synopsis" "not described:$bad"
fi

# ---- installed, man FUNCTION works ----

if ! command -v man >/dev/null 2>&1; then
	skip "make install-man installs a page per function, and man 3 FUNCTION shows sma(3)" "man is not installed"
elif ! make -C "$build" -s install-man DESTDIR="$tmp/stage" >"$tmp/err" 2>&1; then
	not_ok "make install-man installs a page per function, and man 3 FUNCTION shows sma(3)" \
		"$(tail -n 5 "$tmp/err")"
else
	man3=$(find "$tmp/stage" -type d -name man3 | head -n 1)
	bad=""
	for f in $(cat "$tmp/functions"); do
		if [ ! -f "$man3/$f.3" ] ||
			! MANWIDTH=80 man -M "${man3%/man3}" 3 "$f" 2>/dev/null |
			grep -q "^SMA(3) "; then
			bad="$bad $f"
		fi
	done
	if [ -n "$man3" ] && [ -z "$bad" ]; then
		ok "make install-man installs a page per function, and man 3 FUNCTION shows sma(3)"
	else
		not_ok "make install-man installs a page per function, and man 3 FUNCTION shows sma(3)" \
			"man3=$man3" "not shown:$bad"
	fi
fi

# ---- rendering ----

if ! command -v groff >/dev/null 2>&1; then
	skip "sma(1) and sma(3) format without a warning" "groff is not installed"
else
	: >"$tmp/warnings"
	for p in sma.1 sma.3; do
		for dev in ascii utf8; do
			groff -man -ww -z -T"$dev" "$src/man/$p" 2>&1 |
				sed "s|^|$p -T$dev: |" >>"$tmp/warnings"
		done
	done
	if [ ! -s "$tmp/warnings" ]; then
		ok "sma(1) and sma(3) format without a warning"
	else
		not_ok "sma(1) and sma(3) format without a warning" "$(head -n 5 "$tmp/warnings")"
	fi
fi

utf8=$(locale -a 2>/dev/null | grep -i -m 1 '^c\.utf-\{0,1\}8$')
if ! command -v man >/dev/null 2>&1; then
	skip "sma(1) and sma(3) render within 80 columns at MANWIDTH=80" "man is not installed"
else
	wide=""
	for p in sma.1 sma.3; do
		for loc in C $utf8; do
			LC_ALL=$loc MANWIDTH=80 man -l "$src/man/$p" 2>/dev/null >"$tmp/page"
			# wc -L counts columns, a UTF-8 character as one.
			w=$(LC_ALL=$loc wc -L <"$tmp/page")
			if [ ! -s "$tmp/page" ] || [ "$w" -gt 80 ]; then
				wide="$wide $p($loc: $w columns)"
				LC_ALL=C awk -v p="$p" 'length > 80 { print p ": " $0 }' "$tmp/page" |
					head -n 5 >>"$tmp/wide"
			fi
		done
	done
	if [ -z "$wide" ]; then
		ok "sma(1) and sma(3) render within 80 columns at MANWIDTH=80"
	else
		not_ok "sma(1) and sma(3) render within 80 columns at MANWIDTH=80" "too wide:$wide" \
			"$(cat "$tmp/wide" 2>/dev/null)"
	fi
fi

[ "$failed" -eq 0 ]
