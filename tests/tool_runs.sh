# tool_runs.sh -- what tests/test_memcheck.sh and tests/test_asan.sh
# share, sourced by them with runs_name set: a temporary directory whose arenas are removed
# on exit, and one TAP line per check of a run of tests/memcheck_prog.
#
# A run of MODE leaves $tmp/MODE.out (its first line names the arena's
# shmid and semid), $tmp/MODE.err and $tmp/MODE.rc.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-$runs_name.XXXXXX") || {
	echo "1..0 # cannot make a temporary directory"
	exit 1
}
cleanup() {
	# the arenas of runs that did not get to destroy theirs
	for f in "$tmp"/*.out; do
		[ -f "$f" ] || continue
		set -- $(sed -n '1s/^shmid \([0-9-]*\) semid \([0-9-]*\)$/\1 \2/p' "$f")
		[ $# -eq 2 ] || continue
		ipcrm -m "$1" >/dev/null 2>&1
		ipcrm -s "$2" >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

n=0
failed=0
# check MODE WHAT COMMAND...: one TAP line, with the run's report on failure
check() {
	mode=$1
	what=$2
	shift 2
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $mode: $what"
	else
		failed=$((failed + 1))
		echo "not ok $n - $mode: $what"
		sed 's/^/# /' "$tmp/$mode.err" | head -n 40
	fi
}
rc_is() { [ "$(cat "$tmp/$1.rc")" = "$2" ]; }
done_ok() { rc_is "$1" 0 && grep -q "^$1 done$" "$tmp/$1.out"; }
