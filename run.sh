#!/usr/bin/env bash
# run.sh -- the two commands of the README.
#
#   ./run.sh demo    installs what is missing, builds, and runs the demo
#   ./run.sh test    installs what is missing, builds, and runs every test
#   ./run.sh bench   builds and runs the benchmark (BENCH_FLAGS=--quick)
#   ./run.sh soak [KILLS]  builds and runs the kill-fuzz with KILLS SIGKILLs
#                    (default 10000) and prints its summary
#
# The build goes to _build/ (an out-of-tree build); the sources stay clean.
set -u
cd "$(dirname "$0")" || exit 2
top=$(pwd)
build=${SMA_BUILD:-$top/_build}

say() { printf '%s\n' "$*"; }

# Debian packages that provide each tool or library the build needs.
need_packages() {
	local missing=()
	command -v autoreconf >/dev/null 2>&1 || missing+=(autoconf)
	command -v aclocal >/dev/null 2>&1 || missing+=(automake)
	command -v libtoolize >/dev/null 2>&1 || missing+=(libtool)
	command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
	command -v make >/dev/null 2>&1 || missing+=(make)
	command -v cc >/dev/null 2>&1 || missing+=(gcc)
	pkg-config --exists cmocka 2>/dev/null || missing+=(libcmocka-dev)
	pkg-config --exists jemalloc 2>/dev/null || missing+=(libjemalloc-dev)
	# memcheck's client requests (valgrind/memcheck.h), and valgrind to
	# run tests/test_memcheck.sh
	{ [ -f /usr/include/valgrind/memcheck.h ] && command -v valgrind >/dev/null 2>&1; } ||
		missing+=(valgrind)
	printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' '
}

install_missing() {
	local pkgs
	pkgs=$(need_packages)
	[ -z "${pkgs// /}" ] && return 0
	if [ "$(id -u)" = 0 ]; then
		say "Installing: $pkgs"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null && apt-get install -y -qq $pkgs >/dev/null || {
			say "run.sh: apt-get could not install: $pkgs" >&2
			exit 2
		}
	else
		say "run.sh: these packages are missing: $pkgs" >&2
		say "Install them with:  sudo apt-get install -y $pkgs" >&2
		exit 2
	fi
}

build_all() {
	[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1) || {
		say "run.sh: autoreconf failed" >&2
		exit 2
	}
	mkdir -p "$build"
	if [ ! -f "$build/Makefile" ]; then
		(cd "$build" && "$top/configure" -q ${SMA_CONFIGURE_FLAGS:-}) || {
			say "run.sh: configure failed (see $build/config.log)" >&2
			exit 2
		}
	fi
	make -C "$build" -j"$(nproc 2>/dev/null || echo 2)" -s >/dev/null || {
		say "run.sh: the build failed" >&2
		exit 2
	}
}

# Counts the cases of every test (TAP: one result per case) of the last
# `make check` in $1 and prints "N passed, N failed".
count_cases() {
	local dir=$1 pass=0 fail=0 skip=0 r
	while read -r r; do
		case "$r" in
		PASS | XFAIL) pass=$((pass + 1)) ;;
		SKIP) skip=$((skip + 1)) ;;
		*) fail=$((fail + 1)) ;;
		esac
	done < <(find "$dir" -name '*.trs' -exec sed -n 's/^:test-result: //p' {} +)
	if [ "$skip" -gt 0 ]; then
		say "$pass passed, $fail failed, $skip skipped"
	else
		say "$pass passed, $fail failed"
	fi
}

cmd=${1:-}
case "$cmd" in
demo)
	install_missing
	build_all
	make -C "$build" -s demo
	;;
test)
	install_missing
	build_all
	find "$build" -name '*.trs' -delete 2>/dev/null
	make -C "$build" -j"${SMA_TEST_JOBS:-2}" check >"$build/check.out" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP|# )' "$build/check.out" | grep -v '^# ' || true
	if [ $rc -ne 0 ]; then
		grep -E '^(FAIL|ERROR|XPASS)' "$build/check.out" >&2
		say "run.sh: some tests failed: see $build/test-suite.log and $build/tests/*.log" >&2
	fi
	count_cases "$build"
	exit $rc
	;;
bench)
	install_missing
	build_all
	make -C "$build" -s bench BENCH_FLAGS="${BENCH_FLAGS:-}"
	;;
soak)
	kills=${2:-10000}
	case "$kills" in
	'' | *[!0-9]*)
		say "usage: ./run.sh soak [KILLS]" >&2
		exit 2
		;;
	esac
	install_missing
	build_all
	make -C "$build" -s tests/test_kill >/dev/null || {
		say "run.sh: the build of tests/test_kill failed" >&2
		exit 2
	}
	# A failing round ends its arena and the run goes on (up to 20 of
	# them), so that the figures cover the whole soak.
	SMA_KILLS=$kills SMA_KILL_KEEP_GOING=${SMA_KILL_KEEP_GOING:-1} \
		"$build/tests/test_kill" >"$build/soak.out" 2>&1
	rc=$?
	grep -E '^(FAILURE|worker|ERROR)' "$build/soak.out" | head -n 40 >&2
	grep -E '^# (seed|kill-fuzz)' "$build/soak.out"
	if [ $rc -ne 0 ]; then
		say "run.sh: the soak failed (exit $rc): see $build/soak.out" >&2
	fi
	exit $rc
	;;
*)
	say "usage: ./run.sh demo | test | bench | soak [KILLS]" >&2
	exit 2
	;;
esac
