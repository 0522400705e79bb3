#!/bin/sh
# test_tool.sh -- the sma command driven as a newcomer would: create, fill
# (with tests/tool_fixture), info, stats (once and by interval), dump, map,
# check, save and --image, ls, recover, rm, the JSON outputs read back and
# compared with what was made, the width and character set of the output,
# the command line (short and long options), and usage errors.  Prints TAP.
#
# Writes only under a directory of its own from mktemp -d, and removes on
# exit, whatever happens, that directory and every segment and semaphore
# set it made (sma rm --force, ipcrm).

set -u

builddir=${SMA_BUILDDIR:-.}
SMA="$builddir/tools/sma"
FIX="$builddir/tests/tool_fixture"

dir=$(mktemp -d "${TMPDIR:-/tmp}/sma-tool.XXXXXX") || {
	echo "1..0 # cannot make a temporary directory"
	exit 1
}
made="$dir/made"   # paths of the arenas made, one a line
sems="$dir/sems"   # ids of semaphore sets to remove
ids="$dir/ids"     # ids of private arenas to remove
: >"$made"
: >"$sems"
: >"$ids"

cleanup() {
	while read -r p; do
		"$SMA" rm --force "$p" >/dev/null 2>&1
	done <"$made"
	while read -r i; do
		"$SMA" rm --force --id "$i" >/dev/null 2>&1
	done <"$ids"
	while read -r s; do
		ipcrm -s "$s" >/dev/null 2>&1
	done <"$sems"
	[ -n "${holder:-}" ] && kill -9 "$holder" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

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
	[ -s "$dir/err" ] && sed 's/^/#   stderr: /' "$dir/err" | head -n 5
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# run ARGS...: runs sma with its output in $dir/out and $dir/err; sets rc.
run() {
	"$SMA" "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
}

# A top-level number of a JSON object as sma prints it ("  "key": N").
jnum() {
	sed -n "s/^  \"$2\": \(-\{0,1\}[0-9][0-9]*\),\{0,1\}\$/\1/p" "$1" |
		head -n 1
}

# The JSON file parses, when python3 is here to parse it.
json_valid() {
	command -v python3 >/dev/null 2>&1 || return 0
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
}

# A usage error: exit 2 and exactly one line "sma: ..." on stderr.
usage_error() {
	run "$@"
	[ "$rc" -eq 2 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] &&
		grep -q '^sma: ' "$dir/err" && [ ! -s "$dir/out" ]
}

# A JSON file and a Python expression on it (d): true, when python3 is here.
json_true() {
	command -v python3 >/dev/null 2>&1 || return 0
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}

# No line of FILE wider than 80 columns (bytes: the output is ASCII).
narrow() {
	! LC_ALL=C awk 'length > 80 { bad = 1 } END { exit !bad }' "$1"
}

# The UTF-8 locale of this machine, if it has one.
utf8=$(locale -a 2>/dev/null | grep -i -m 1 '^c\.utf-\{0,1\}8$')
[ -n "$utf8" ] || utf8=$(locale -a 2>/dev/null | grep -i -m 1 'utf-\{0,1\}8$')

echo "1..55"

arena="$dir/arena"
echo "$arena" >>"$made"

# ---- the command itself ----

run --help
if [ "$rc" -eq 0 ] && grep -q 'create' "$dir/out" &&
	grep -q 'recover' "$dir/out" && grep -q 'map' "$dir/out"; then
	ok "sma --help lists the commands and exits 0"
else
	not_ok "sma --help lists the commands and exits 0" "rc=$rc"
fi

run --version
if [ "$rc" -eq 0 ] && grep -q '^sma [0-9][0-9]*\.[0-9][0-9]*\.[0-9]' "$dir/out"; then
	ok "sma --version prints the version and exits 0"
else
	not_ok "sma --version prints the version and exits 0" "rc=$rc"
fi

bad=""
for c in create info stats dump map check recover ls rm; do
	run "$c" --help
	if [ "$rc" -ne 0 ] || ! grep -q "^usage: sma $c" "$dir/out"; then
		bad="$bad $c"
	fi
done
if [ -z "$bad" ]; then
	ok "every command answers --help with its usage and exit 0"
else
	not_ok "every command answers --help with its usage and exit 0" "bad:$bad"
fi

# ---- create ----

run create "$arena" --size 2M --mode 0600
if [ "$rc" -eq 0 ] && grep -q '^created arena' "$dir/out"; then
	ok "create makes an arena"
else
	not_ok "create makes an arena" "rc=$rc" "$(cat "$dir/out")"
fi

if usage_error create "$arena" --size 2M; then
	ok "create on an existing arena fails with exit 2 and one line"
else
	not_ok "create on an existing arena fails with exit 2 and one line" "rc=$rc"
fi

# Other tests running at the same time list every arena on the machine
# (`sma ls` attaches each for an instant), so a count of 1 is asked again.
for try in 1 2 3 4 5 6 7 8 9 10; do
	run info "$arena" --json
	cp "$dir/out" "$dir/info0.json"
	nattch=$(jnum "$dir/info0.json" nattch)
	[ "${nattch:-9}" -eq 0 ] && break
	sleep 0.2
done
size=$(jnum "$dir/info0.json" size)
shmid=$(jnum "$dir/info0.json" shmid)
key=$(jnum "$dir/info0.json" key)
live=$(jnum "$dir/info0.json" live)
if [ "$rc" -eq 0 ] && json_valid "$dir/info0.json" &&
	[ "${size:-0}" -eq 2097152 ] && [ "${nattch:-9}" -eq 0 ] &&
	[ "${live:-9}" -eq 0 ] && [ -n "$shmid" ] && [ -n "$key" ] &&
	ipcs -m | awk -v id="$shmid" '$2 == id { f = 1 } END { exit !f }'; then
	ok "info --json of a new arena shows its shmid, key and size, and no process attached"
else
	not_ok "info --json of a new arena shows its shmid, key and size, and no process attached" \
		"rc=$rc size=$size shmid=$shmid key=$key nattch=$nattch live=$live"
fi

# The lock's acquisitions and waits and the semaphore calls, in JSON and text.
lops=$(jnum "$dir/info0.json" lock_ops)
lwaits=$(jnum "$dir/info0.json" lock_waits)
sops=$(jnum "$dir/info0.json" sem_ops)
run info "$arena"
if [ -n "$lops" ] && [ -n "$lwaits" ] && [ -n "$sops" ] &&
	[ "$lwaits" -le "$lops" ] && [ "$sops" -ge 1 ] && [ "$rc" -eq 0 ] &&
	grep -Eq '^lock taken +[0-9]+ times?, [0-9]+ of them after a wait' "$dir/out" &&
	grep -Eq '^semaphore calls +[0-9]+ \(system calls on the set' "$dir/out"; then
	ok "info shows the lock's acquisitions, how many waited, and the semaphore system calls"
else
	not_ok "info shows the lock's acquisitions, how many waited, and the semaphore system calls" \
		"rc=$rc lock_ops=$lops lock_waits=$lwaits sem_ops=$sops"
	sed 's/^/#   /' "$dir/out"
fi

# The times and the last pid are read before the tool attaches: the pid
# of the info run itself is never the last pid it shows.
"$SMA" info "$arena" --json >"$dir/out" 2>"$dir/err" &
ipid=$!
wait "$ipid"
i_rc=$?
j_lpid=$(jnum "$dir/out" lpid)
j_atime=$(jnum "$dir/out" atime)
now=$(date +%s)
"$SMA" info "$arena" >"$dir/out" 2>"$dir/err" &
tpid=$!
wait "$tpid"
t_lpid=$(sed -n 's/^last pid  *\([0-9]*\) .*/\1/p' "$dir/out")
if [ "$i_rc" -eq 0 ] && [ -n "$j_lpid" ] && [ "$j_lpid" != "$ipid" ] &&
	[ -n "$t_lpid" ] && [ "$t_lpid" != "$tpid" ] && [ "${j_atime:-0}" -gt 0 ] &&
	[ "${j_atime:-0}" -le "$now" ]; then
	ok "info shows the last attach and pid of the arena's users, not of its own attachment"
else
	not_ok "info shows the last attach and pid of the arena's users, not of its own attachment" \
		"info pids $ipid, $tpid; last pids shown $j_lpid, $t_lpid"
fi

# ---- objects made by the fixture ----

if "$FIX" fill "$arena" >"$dir/made_objects" 2>"$dir/err"; then
	ok "the fixture fills the arena"
else
	not_ok "the fixture fills the arena"
fi
nmade=$(wc -l <"$dir/made_objects")
usedmade=$(awk '{ s += $2 } END { print s + 0 }' "$dir/made_objects")

run stats "$arena" --json
cp "$dir/out" "$dir/stats.json"
s_used=$(jnum "$dir/stats.json" used)
s_free=$(jnum "$dir/stats.json" free)
s_live=$(jnum "$dir/stats.json" live)
s_allocs=$(jnum "$dir/stats.json" allocs)
s_frees=$(jnum "$dir/stats.json" frees)
if [ "$rc" -eq 0 ] && json_valid "$dir/stats.json" &&
	[ "${s_live:-0}" -eq "$nmade" ] && [ "${s_used:-0}" -eq "$usedmade" ] &&
	[ $((s_allocs - s_frees)) -eq "$s_live" ] &&
	grep -q '"classes"' "$dir/stats.json" &&
	grep -q '"free_extents"' "$dir/stats.json"; then
	ok "stats --json counts the objects made and their bytes"
else
	not_ok "stats --json counts the objects made and their bytes" \
		"rc=$rc live=$s_live made=$nmade used=$s_used made=$usedmade"
fi

run dump "$arena" --json
cp "$dir/out" "$dir/dump.json"
# One object a line: offset size name (name "-" when there is none).
sed -n 's/.*{"offset": \([0-9]*\), "size": \([0-9]*\), "state": "used"\(, "name": "\([^"]*\)"\)\{0,1\}}.*/\1 \2 \4/p' \
	"$dir/dump.json" | awk '{ print $1, $2, ($3 == "" ? "-" : $3) }' |
	sort >"$dir/dump_used"
sort "$dir/made_objects" >"$dir/made_sorted"
d_used=$(awk '{ s += $2 } END { print s + 0 }' "$dir/dump_used")
d_free=$(sed -n 's/.*"size": \([0-9]*\), "state": "free".*/\1/p' "$dir/dump.json" |
	awk '{ s += $1 } END { print s + 0 }')
if [ "$rc" -eq 0 ] && json_valid "$dir/dump.json" &&
	cmp -s "$dir/dump_used" "$dir/made_sorted" &&
	[ "$d_used" -eq "$s_used" ] && [ "$d_free" -eq "$s_free" ] &&
	[ "$(jnum "$dir/dump.json" used)" = "$s_used" ]; then
	ok "dump --json lists exactly the objects made, used sizes adding up to used and free ones to free"
else
	not_ok "dump --json lists exactly the objects made, used sizes adding up to used and free ones to free" \
		"rc=$rc used=$d_used/$s_used free=$d_free/$s_free" \
		"$(diff "$dir/made_sorted" "$dir/dump_used" | head -n 5)"
fi

if command -v python3 >/dev/null 2>&1; then
	# The same, read by a JSON parser: offsets in order, no overlap.
	if python3 - "$dir/dump.json" "$dir/made_sorted" 2>"$dir/err" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
objs = d["objects"]
made = sorted(tuple(l.split()) for l in open(sys.argv[2]))
used = sorted((str(o["offset"]), str(o["size"]), o.get("name", "-"))
              for o in objs if o["state"] == "used")
assert used == made, (used, made)
end = 0
for o in objs:
    assert o["state"] in ("used", "free")
    assert o["offset"] >= end, o
    end = o["offset"] + o["size"]
assert end <= d["size"]
EOF
	then
		ok "dump --json read by a JSON parser: the objects made, in offset order, none overlapping"
	else
		not_ok "dump --json read by a JSON parser: the objects made, in offset order, none overlapping"
	fi
else
	ok "dump --json read by a JSON parser # SKIP python3 is not installed"
fi

run dump "$arena"
if [ "$rc" -eq 0 ] && grep -q ' used  alpha$' "$dir/out" &&
	grep -q ' used  gamma$' "$dir/out" && grep -q ' free' "$dir/out" &&
	grep -q "^  $nmade objects in use" "$dir/out"; then
	ok "dump shows the objects and their names in columns, and a total"
else
	not_ok "dump shows the objects and their names in columns, and a total" "rc=$rc"
fi

run stats "$arena"
if [ "$rc" -eq 0 ] && grep -q '^size classes' "$dir/out" &&
	grep -q 'CLASS.*SIZE.*SLABS.*REQUESTS.*FAILURES' "$dir/out" &&
	grep -q '^free extents by size' "$dir/out" &&
	grep -q '^largest free' "$dir/out"; then
	ok "stats shows the figures, the size classes and the free extents by size"
else
	not_ok "stats shows the figures, the size classes and the free extents by size" "rc=$rc"
fi

# ---- naming the arena by key and by id ----

hexkey=$(printf '0x%08x' "$(( key & 0xffffffff ))")
ukey=$(( key & 0xffffffff ))
good=1
for t in "--key $hexkey" "--key $key" "--key $ukey" "--id $shmid"; do
	# shellcheck disable=SC2086
	run info $t --json
	if [ "$rc" -ne 0 ] || [ -z "$shmid" ] ||
		[ "$(jnum "$dir/out" shmid)" != "$shmid" ]; then
		good=0
		echo "# info $t: rc=$rc"
	fi
done
if [ "$good" -eq 1 ]; then
	ok "--key in hex, signed and unsigned decimal, and --id name the same arena"
else
	not_ok "--key in hex, signed and unsigned decimal, and --id name the same arena"
fi

# ---- map ----

run map "$arena"
rows=$(grep -c '^0x[0-9a-f]* ' "$dir/out")
if [ "$rc" -eq 0 ] && [ "$rows" -ge 16 ] && [ "$rows" -le 32 ] &&
	grep -q 'one cell = ' "$dir/out" && grep -q 'the library' "$dir/out"; then
	ok "map draws 16 to 32 rows of cells with a legend"
else
	not_ok "map draws 16 to 32 rows of cells with a legend" "rc=$rc rows=$rows"
fi

run map "$arena" --ascii
if [ "$rc" -eq 0 ] && ! LC_ALL=C grep -q '[^ -~]' "$dir/out" &&
	[ "$(grep '^0x' "$dir/out" | head -n 1 | awk -F'|' '{ print length($2) }')" = 64 ]; then
	ok "map --ascii draws rows of 64 cells in ASCII only"
else
	not_ok "map --ascii draws rows of 64 cells in ASCII only" "rc=$rc"
fi

run map "$arena" --svg "$dir/map.svg"
if [ "$rc" -eq 0 ] && [ -s "$dir/map.svg" ] && tail -n 1 "$dir/map.svg" | grep -q '^</svg>$' &&
	[ "$(grep -c '<rect x=' "$dir/map.svg")" -ge 1024 ] &&
	{ ! command -v xmllint >/dev/null 2>&1 || xmllint --noout "$dir/map.svg"; }; then
	ok "map --svg writes a well-formed SVG picture"
else
	not_ok "map --svg writes a well-formed SVG picture" "rc=$rc"
fi

# ---- check ----

run check "$arena"
if [ "$rc" -eq 0 ] && grep -q '^ok: ' "$dir/out"; then
	ok "check says ok and exits 0 on a sound arena"
else
	not_ok "check says ok and exits 0 on a sound arena" "rc=$rc"
fi

# ---- check --json ----

run check "$arena" --json
cp "$dir/out" "$dir/check.json"
if [ "$rc" -eq 0 ] && json_valid "$dir/check.json" &&
	grep -q '^  "ok": true,$' "$dir/check.json" &&
	grep -q '^  "problems": \[\]$' "$dir/check.json" &&
	json_true "$dir/check.json" 'd["ok"] is True and d["problems"] == []'; then
	ok "check --json prints ok true and no problems on a sound arena, exit 0"
else
	not_ok "check --json prints ok true and no problems on a sound arena, exit 0" "rc=$rc"
fi

# ---- the command line ----

run info "$arena" -j
j_shmid=$(jnum "$dir/out" shmid)
run -V
v_out=$(cat "$dir/out")
v_rc=$rc
run --version
if [ "$j_shmid" = "$shmid" ] && [ "$v_rc" -eq 0 ] && [ "$rc" -eq 0 ] &&
	[ "$v_out" = "$(cat "$dir/out")" ]; then
	ok "-j is --json and -V is --version"
else
	not_ok "-j is --json and -V is --version" "shmid $j_shmid/$shmid, -V rc=$v_rc"
fi

good=1
run -h
{ grep -q '^usage: sma COMMAND' "$dir/out" && [ "$rc" -eq 0 ]; } || { good=0; echo "# sma -h"; }
run dump -h
{ grep -q '^usage: sma dump' "$dir/out" && [ "$rc" -eq 0 ]; } || { good=0; echo "# dump -h"; }
run help stats
{ grep -q '^usage: sma stats' "$dir/out" && [ "$rc" -eq 0 ]; } || { good=0; echo "# help stats"; }
run stats "$arena" -jh
{ grep -q '^usage: sma stats' "$dir/out" && [ "$rc" -eq 0 ]; } || { good=0; echo "# stats -jh"; }
if [ "$good" -eq 1 ]; then
	ok "-h is --help, for sma and for every command, also among other short options"
else
	not_ok "-h is --help, for sma and for every command, also among other short options"
fi

# Every long option still works, before or after the operand, with its
# value after = or as the next word, and -- ends the options.
good=1
for t in "--json $arena" "$arena --json" "--key=$hexkey --json" "--key $hexkey --json" \
	"--id=$shmid -j" "-j --id $shmid" "--js $arena"; do
	# shellcheck disable=SC2086
	run info $t
	{ [ "$rc" -eq 0 ] && [ "$(jnum "$dir/out" shmid)" = "$shmid" ]; } || { good=0; echo "# info $t: rc=$rc"; }
done
run info --json -- "$arena"
{ [ "$rc" -eq 0 ] && [ "$(jnum "$dir/out" shmid)" = "$shmid" ]; } || { good=0; echo "# info --json -- PATH: rc=$rc"; }
run stats "$arena" --all --json
{ [ "$rc" -eq 0 ] && [ "$(grep -c '"class": ' "$dir/out")" -gt 10 ]; } || { good=0; echo "# stats --all: rc=$rc"; }
run map "$arena" --ascii --svg="$dir/eq.svg"
{ [ "$rc" -eq 0 ] && [ -s "$dir/eq.svg" ]; } || { good=0; echo "# map --svg=FILE: rc=$rc"; }
if [ "$good" -eq 1 ]; then
	ok "long options work before or after the operand, as --opt=VALUE or --opt VALUE, abbreviated, and -- ends them"
else
	not_ok "long options work before or after the operand, as --opt=VALUE or --opt VALUE, abbreviated, and -- ends them"
fi

# ---- the width of the output ----

: >"$dir/wide"
for t in "info $arena" "stats $arena" "stats $arena --all" "dump $arena" "map $arena" \
	"map $arena --ascii" "check $arena" "ls"; do
	# shellcheck disable=SC2086
	env -u COLUMNS LC_ALL=C "$SMA" $t >"$dir/out" 2>"$dir/err"
	narrow "$dir/out" || echo "$t" >>"$dir/wide"
done
if [ -n "$utf8" ]; then
	env -u COLUMNS LC_ALL="$utf8" "$SMA" map "$arena" >"$dir/out" 2>"$dir/err"
	[ "$(LC_ALL="$utf8" wc -L <"$dir/out")" -le 80 ] || echo "map ($utf8)" >>"$dir/wide"
fi
if [ ! -s "$dir/wide" ]; then
	ok "info, stats, dump, map (and its legend), check and ls keep within 80 columns when not on a wide terminal"
else
	not_ok "info, stats, dump, map (and its legend), check and ls keep within 80 columns when not on a wide terminal" \
		"too wide: $(tr '\n' ',' <"$dir/wide")"
fi

env COLUMNS=200 LC_ALL=C "$SMA" ls >"$dir/ls_wide" 2>"$dir/err"
env -u COLUMNS LC_ALL=C "$SMA" ls >"$dir/ls_narrow" 2>"$dir/err"
env COLUMNS=200 LC_ALL=C "$SMA" stats "$arena" >"$dir/stats_wide" 2>"$dir/err"
bar_wide=$(grep -o '#*$' "$dir/stats_wide" | awk '{ if (length > m) m = length } END { print m + 0 }')
env -u COLUMNS LC_ALL=C "$SMA" stats "$arena" >"$dir/stats_narrow" 2>"$dir/err"
bar_narrow=$(grep -o '#*$' "$dir/stats_narrow" | awk '{ if (length > m) m = length } END { print m + 0 }')
if head -n 1 "$dir/ls_wide" | grep -q 'MODE.*CPID' && ! head -n 1 "$dir/ls_narrow" | grep -q 'CPID' &&
	grep -q "^$hexkey " "$dir/ls_narrow" && [ "$bar_wide" -gt "$bar_narrow" ] &&
	! narrow "$dir/stats_wide"; then
	ok "on a wider terminal (COLUMNS) ls shows every column and the histogram of stats grows"
else
	not_ok "on a wider terminal (COLUMNS) ls shows every column and the histogram of stats grows" \
		"bars $bar_narrow, $bar_wide"
fi

# ---- the character set of map ----

env LC_ALL=C "$SMA" map "$arena" >"$dir/map_c" 2>"$dir/err"
c_rc=$?
box=$(printf '\342\224\214') # U+250C, the top left corner
if [ -n "$utf8" ]; then
	env LC_ALL="$utf8" "$SMA" map "$arena" >"$dir/map_u" 2>"$dir/err"
	u_rc=$?
	env LC_ALL="$utf8" "$SMA" map "$arena" --ascii >"$dir/map_ua" 2>"$dir/err"
	a_rc=$?
else
	u_rc=0
	a_rc=0
	echo "$box" >"$dir/map_u"
	cp "$dir/map_c" "$dir/map_ua"
fi
if [ "$c_rc" -eq 0 ] && [ "$u_rc" -eq 0 ] && [ "$a_rc" -eq 0 ] &&
	! LC_ALL=C grep -q '[^ -~]' "$dir/map_c" && ! LC_ALL=C grep -q '[^ -~]' "$dir/map_ua" &&
	grep -q "$box" "$dir/map_u"; then
	ok "map draws box characters only in a UTF-8 locale${utf8:+ ($utf8)}, ASCII in the C locale and with --ascii"
else
	not_ok "map draws box characters only in a UTF-8 locale, ASCII in the C locale and with --ascii" \
		"rc $c_rc $u_rc $a_rc"
fi

# ---- stats --interval ----

"$FIX" churn "$arena" 2 >/dev/null 2>&1 &
churner=$!
run stats "$arena" --interval 0.4 --count 4
wait "$churner"
width=$(awk '{ print length }' "$dir/out" | sort -u | wc -l)
moving=$(awk 'NR > 2 && $5 + 0 > 0 { n++ } END { print n + 0 }' "$dir/out")
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$dir/out")" -eq 5 ] &&
	head -n 1 "$dir/out" | grep -q 'USED *FREE *LARGEST *LIVE *ALLOCS/S *FREES/S *LOCKOPS/S *REPAIRS' &&
	[ "$width" -eq 1 ] && [ "$moving" -ge 1 ] && narrow "$dir/out"; then
	ok "stats --interval --count 4 prints a header and 4 aligned lines, the rates moving with the arena"
else
	not_ok "stats --interval --count 4 prints a header and 4 aligned lines, the rates moving with the arena" \
		"rc=$rc widths=$width moving=$moving"
	sed 's/^/#   /' "$dir/out"
fi

run stats "$arena" --interval 0.2 --count 2 --json
good=1
{ [ "$rc" -eq 0 ] && [ "$(wc -l <"$dir/out")" -eq 2 ]; } || good=0
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import json, sys
for l in open(sys.argv[1]).read().splitlines():
    d = json.loads(l)
    for k in ("used", "free", "largest_free", "live", "allocs_per_s",
              "frees_per_s", "lock_ops_per_s", "lock_waits_per_s",
              "sem_ops_per_s", "lock_waits", "sem_ops", "repairs", "time",
              "interval"):
        assert k in d, k
' "$dir/out" 2>"$dir/err" || good=0
fi
if [ "$good" -eq 1 ]; then
	ok "stats --interval --json prints one JSON object a line"
else
	not_ok "stats --interval --json prints one JSON object a line" "rc=$rc"
fi

# ---- save, and --image ----

run save "$arena" "$dir/arena.img"
s_rc=$rc
cp "$dir/out" "$dir/save_out"
"$SMA" dump "$arena" --json >"$dir/dump_arena.json" 2>"$dir/err"
good=1
for t in info stats dump map check; do
	run "$t" --image "$dir/arena.img"
	[ "$rc" -eq 0 ] || { good=0; echo "# $t --image: rc=$rc"; }
done
run dump --image "$dir/arena.img" --json
sed -n '/"objects"/,/^  \]/p' "$dir/out" >"$dir/objs_image"
sed -n '/"objects"/,/^  \]/p' "$dir/dump_arena.json" >"$dir/objs_arena"
run check --image "$dir/arena.img" --json
if [ "$s_rc" -eq 0 ] && grep -q '^saved .*consistent' "$dir/save_out" &&
	[ "$(wc -c <"$dir/arena.img")" -eq "$size" ] && [ "$good" -eq 1 ] &&
	[ -s "$dir/objs_image" ] && cmp -s "$dir/objs_image" "$dir/objs_arena" &&
	json_true "$dir/out" 'd["ok"] is True'; then
	ok "save writes an image of the segment; info, stats, dump, map and check read it with --image"
else
	not_ok "save writes an image of the segment; info, stats, dump, map and check read it with --image" \
		"save rc=$s_rc size $(wc -c <"$dir/arena.img" 2>/dev/null)/$size"
fi

"$FIX" churn "$arena" 2 >/dev/null 2>&1 &
churner=$!
good=1
for i in 1 2 3; do
	run save "$arena" "$dir/busy.img"
	[ "$rc" -eq 0 ] || { good=0; echo "# save $i while busy: rc=$rc"; }
	run check --image "$dir/busy.img"
	[ "$rc" -eq 0 ] || { good=0; echo "# check --image of busy save $i: rc=$rc"; }
done
wait "$churner"
if [ "$good" -eq 1 ]; then
	ok "save of an arena in use writes an image that checks clean"
else
	not_ok "save of an arena in use writes an image that checks clean"
fi

bad=""
: >"$dir/notimage"
usage_error info --image "$dir/notimage" || bad="$bad empty-file"
usage_error check --image "$dir/no-such-image" || bad="$bad no-file"
usage_error check --image "$dir" || bad="$bad directory"
usage_error stats --image "$dir/arena.img" --interval 1 || bad="$bad interval"
usage_error info --image "$dir/arena.img" "$arena" || bad="$bad image-and-path"
usage_error recover --image "$dir/arena.img" || bad="$bad recover-image"
usage_error save "$arena" || bad="$bad no-file-operand"
if [ -z "$bad" ]; then
	ok "--image and save refuse what they cannot do with exit 2 and one line"
else
	not_ok "--image and save refuse what they cannot do with exit 2 and one line" "bad:$bad"
fi

# ---- ls ----

run ls --json
cp "$dir/out" "$dir/ls.json"
line=$(grep "\"shmid\": $shmid," "$dir/ls.json")
if [ "$rc" -eq 0 ] && json_valid "$dir/ls.json" &&
	echo "$line" | grep -q "\"key\": $key," &&
	echo "$line" | grep -q '"size": 2097152,' &&
	echo "$line" | grep -q '"nattch": 0,'; then
	ok "ls --json lists the arena with its key, shmid, size and nattch"
else
	not_ok "ls --json lists the arena with its key, shmid, size and nattch" "rc=$rc" "$line"
fi

run ls
if [ "$rc" -eq 0 ] && grep -q "^$hexkey  *$shmid " "$dir/out"; then
	ok "ls lists the arena in columns"
else
	not_ok "ls lists the arena in columns" "rc=$rc"
fi

# ---- a process attached, then killed ----

"$FIX" hold "$arena" "$dir/holder.pid" 2>"$dir/err" &
holder=$!
i=0
while [ ! -s "$dir/holder.pid" ] && [ "$i" -lt 200 ]; do
	sleep 0.05 2>/dev/null || sleep 1
	i=$((i + 1))
done
run info "$arena" --json
info_rc=$rc
info_nattch=$(jnum "$dir/out" nattch)
grep -q "\"pid\": $holder, " "$dir/out" && info_pid=1 || info_pid=0
run ls --json
ls_nattch=$(grep "\"shmid\": $shmid," "$dir/out" | sed -n 's/.*"nattch": \([0-9]*\),.*/\1/p')
if [ "$info_rc" -eq 0 ] && [ "$info_nattch" = 1 ] && [ "$info_pid" -eq 1 ] &&
	[ "$rc" -eq 0 ] && [ "$ls_nattch" = 1 ]; then
	ok "info and ls show a process attached: nattch 1, its slot and its pid"
else
	not_ok "info and ls show a process attached: nattch 1, its slot and its pid" \
		"info rc=$info_rc nattch=$info_nattch pid found=$info_pid; ls rc=$rc nattch=$ls_nattch"
fi

kill -9 "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=""
run recover "$arena"
if [ "$rc" -eq 0 ] && grep -q '^recovered' "$dir/out" &&
	grep -q 'check  *ok' "$dir/out"; then
	ok "recover after a process was killed returns what it held and the arena checks clean"
else
	not_ok "recover after a process was killed returns what it held and the arena checks clean" "rc=$rc"
fi

# ---- a corrupted arena ----

broken="$dir/broken"
echo "$broken" >>"$made"
run create "$broken" --size 1M
"$FIX" corrupt "$broken" 2>"$dir/err"
run check "$broken"
k_rc=$rc
run check "$broken" --json
cp "$dir/out" "$dir/broken.json"
kj_rc=$rc
run recover "$broken"
if [ "$k_rc" -eq 1 ] && [ "$kj_rc" -eq 1 ] && json_valid "$dir/broken.json" &&
	grep -q '^  "ok": false,$' "$dir/broken.json" &&
	json_true "$dir/broken.json" 'd["ok"] is False and len(d["problems"]) >= 1 and all(isinstance(p, str) for p in d["problems"])' &&
	[ "$rc" -eq 1 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] &&
	grep -q '^sma: recover: .*inconsistent' "$dir/err" && ! grep -qi 'bad message' "$dir/err"; then
	ok "on a corrupted arena check exits 1 (--json: ok false, the problems), and recover exits 1 with one clear line"
else
	not_ok "on a corrupted arena check exits 1 (--json: ok false, the problems), and recover exits 1 with one clear line" \
		"check=$k_rc check --json=$kj_rc recover=$rc"
fi

run save "$broken" "$dir/broken.img"
sv_rc=$rc
run check --image "$dir/broken.img"
if [ "$sv_rc" -eq 1 ] && [ -s "$dir/broken.img" ] && [ "$rc" -eq 1 ]; then
	ok "save of a corrupted arena writes its image as it is and exits 1; check --image finds the problem"
else
	not_ok "save of a corrupted arena writes its image as it is and exits 1; check --image finds the problem" \
		"save=$sv_rc check --image=$rc"
fi
"$SMA" rm --force "$broken" >/dev/null 2>&1

# ---- one object: the singular ----

single="$dir/single"
echo "$single" >>"$made"
run create "$single" --size 1M
"$FIX" alloc "$single" 1 2>"$dir/err"
: >"$dir/plural"
for t in info stats check; do
	run "$t" "$single"
	grep -q '1 live objects' "$dir/out" && echo "$t" >>"$dir/plural"
	grep -q '1 live object\b' "$dir/out" || echo "$t (no count)" >>"$dir/plural"
done
if [ ! -s "$dir/plural" ]; then
	ok "one live object is \"1 live object\" in info, stats and check"
else
	not_ok "one live object is \"1 live object\" in info, stats and check" "$(tr '\n' ',' <"$dir/plural")"
fi
"$SMA" rm "$single" >/dev/null 2>&1

# ---- things that are not arenas ----

foreign="$dir/foreign"
: >"$foreign"
echo "$foreign" >>"$made"
"$FIX" foreign "$foreign" >"$dir/foreign.id" 2>"$dir/err"
if usage_error info "$foreign" && "$SMA" rm --force "$foreign" >"$dir/out" 2>"$dir/err" &&
	! ipcs -m | awk -v id="$(cat "$dir/foreign.id")" '$2 == id { f = 1 } END { exit !f }'; then
	ok "a segment that is not an arena is refused with exit 2, and rm --force removes it"
else
	not_ok "a segment that is not an arena is refused with exit 2, and rm --force removes it" "rc=$rc"
fi

orph="$dir/orphan"
echo "$orph" >>"$made"
run create "$orph" --size 1M
semid=$("$FIX" orphan "$orph" 2>"$dir/err")
[ -n "$semid" ] && echo "$semid" >>"$sems"
sleep 3 # a set counts as an orphan once nobody has touched it for 2 s
run ls --json
if [ -n "$semid" ] && grep "\"semid\": $semid," "$dir/out" | grep -q '"orphan": true'; then
	ok "an orphaned semaphore set shows in ls --json"
else
	not_ok "an orphaned semaphore set shows in ls --json" "semid=$semid"
fi
run rm --orphans
if [ "$rc" -eq 0 ] && grep -q '^removed [1-9][0-9]* orphaned' "$dir/out" &&
	! ipcs -s | awk -v id="$semid" '$2 == id { f = 1 } END { exit !f }'; then
	ok "rm --orphans removes the orphaned semaphore set"
else
	not_ok "rm --orphans removes the orphaned semaphore set" "rc=$rc"
fi

# ---- usage errors ----

bad=""
usage_error || bad="$bad no-command"
usage_error frobnicate || bad="$bad unknown-command"
usage_error info || bad="$bad no-arena"
usage_error info "$arena" --id "$shmid" || bad="$bad two-arenas"
usage_error info "$arena" --frob || bad="$bad unknown-option"
usage_error recover "$arena" --json || bad="$bad json-on-recover"
usage_error info "$arena" -x || bad="$bad unknown-short-option"
usage_error info "$arena" --json=yes || bad="$bad value-to-flag"
usage_error info "$arena" --key || bad="$bad missing-value"
usage_error stats "$arena" --count 2 || bad="$bad count-without-interval"
usage_error stats "$arena" --interval 0 || bad="$bad zero-interval"
usage_error stats "$arena" --interval 1 --count 0 || bad="$bad zero-count"
usage_error info --key 0xZZ || bad="$bad bad-key"
usage_error info --key 0x100000000 || bad="$bad key-too-big"
usage_error info --id -3 || bad="$bad bad-id"
usage_error create "$dir/new" || bad="$bad no-size"
usage_error create "$dir/new" --size 12X || bad="$bad bad-size"
usage_error create "$dir/new" --size 1K || bad="$bad small-size"
usage_error create "$dir/new" --size 1M --mode 999 || bad="$bad bad-mode"
usage_error info "$dir/no-such-file" || bad="$bad no-file"
usage_error info "$foreign" || bad="$bad no-arena-for-path"
usage_error ls "$arena" || bad="$bad operand-to-ls"
usage_error rm --orphans "$arena" || bad="$bad orphans-with-arena"
usage_error map "$arena" --svg "$dir/no/such/dir/x.svg" || bad="$bad svg-unwritable"
if [ -z "$bad" ]; then
	ok "usage errors and failures exit 2 with one line on standard error"
else
	not_ok "usage errors and failures exit 2 with one line on standard error" "bad:$bad"
fi
[ -e "$dir/new" ] && echo "$dir/new" >>"$made"

# Messages start in lower case, strerror's too ("no such file or
# directory"), and a directory is said to be one.
: >"$dir/caps"
for t in "info $dir/no-such-file" "check --image $dir/no-such-file" \
	"map $arena --svg $dir/no/such/dir/x.svg" "create $dir/no/such/dir/a --size 1M" \
	"save $arena $dir/no/such/dir/img" "info $dir" "create $dir --size 1M"; do
	# shellcheck disable=SC2086
	run $t
	grep -q '^sma: [a-z]*: .*: [A-Z][a-z]' "$dir/err" && echo "$t: $(cat "$dir/err")" >>"$dir/caps"
	[ "$rc" -eq 2 ] || echo "$t: exit $rc" >>"$dir/caps"
done
run info "$dir"
i_msg=$(cat "$dir/err")
run create "$dir" --size 1M
c_msg=$(cat "$dir/err")
if [ ! -s "$dir/caps" ] && echo "$i_msg" | grep -q 'directory' &&
	! echo "$i_msg" | grep -q ': no arena with that key$' && echo "$c_msg" | grep -q 'directory'; then
	ok "error messages begin in lower case, and a directory given as the path is said to be one"
else
	not_ok "error messages begin in lower case, and a directory given as the path is said to be one" \
		"$(cat "$dir/caps")" "info: $i_msg" "create: $c_msg"
fi

# ---- rm ----

run rm "$arena"
rm_rc=$rc
run info "$arena"
if [ "$rm_rc" -eq 0 ] && [ "$rc" -eq 2 ] &&
	! ipcs -m | awk -v id="$shmid" '$2 == id { f = 1 } END { exit !f }'; then
	ok "rm destroys the arena: it is gone and info fails with exit 2"
else
	not_ok "rm destroys the arena: it is gone and info fails with exit 2" "rm=$rm_rc info=$rc"
fi

# ---- private arenas, by id ----

run create --key 0 --size 1M
pid_shmid=$(sed -n 's/.*shmid \([0-9]*\),.*/\1/p' "$dir/out")
[ -n "$pid_shmid" ] && echo "$pid_shmid" >>"$ids"
run check --id "${pid_shmid:-0}"
c_rc=$rc
run rm --id "${pid_shmid:-0}"
if [ -n "$pid_shmid" ] && [ "$c_rc" -eq 0 ] && [ "$rc" -eq 0 ] &&
	! ipcs -m | awk -v id="$pid_shmid" '$2 == id { f = 1 } END { exit !f }'; then
	ok "create --key 0 makes a private arena that check and rm reach by --id"
else
	not_ok "create --key 0 makes a private arena that check and rm reach by --id" "shmid=$pid_shmid check=$c_rc rm=$rc"
fi

# ---- a semaphore set removed from outside ----

sarena="$dir/sem-arena"
echo "$sarena" >>"$made"
run create "$sarena" --size 1M
run info "$sarena" --json
semid=$(jnum "$dir/out" semid)
ipcrm -s "${semid:-0}" 2>/dev/null
run info "$sarena"
i_rc=$rc
cp "$dir/out" "$dir/sem_info"
run check "$sarena"
if [ "$i_rc" -eq 0 ] && grep -q "removed from outside" "$dir/sem_info" &&
	[ "$rc" -eq 0 ] && grep -q "^ok:" "$dir/out" && grep -q "semaphore set ${semid:-x} was removed" "$dir/out"; then
	ok "after ipcrm -s, info and check say the set is gone, and check finds the arena consistent"
else
	not_ok "after ipcrm -s, info and check say the set is gone, and check finds the arena consistent" "info=$i_rc check=$rc semid=$semid"
fi
run recover "$sarena"
r_rc=$rc
cp "$dir/out" "$dir/sem_recover"
run info "$sarena" --json
nsemid=$(jnum "$dir/out" semid)
replaced=$(jnum "$dir/out" sets_replaced)
if [ "$r_rc" -eq 0 ] && grep -q "semaphore set" "$dir/sem_recover" &&
	[ -n "$nsemid" ] && [ "$nsemid" != "$semid" ] && [ "${replaced:-0}" -eq 1 ] &&
	ipcs -s | awk -v id="$nsemid" '$2 == id { f = 1 } END { exit !f }'; then
	ok "recover makes a new set in place of the removed one and says so"
else
	not_ok "recover makes a new set in place of the removed one and says so" "recover=$r_rc semid $semid -> $nsemid replaced=$replaced"
fi
ipcrm -s "${nsemid:-0}" 2>/dev/null
run rm --force "$sarena"
if [ "$rc" -eq 0 ] && grep -q "was gone already" "$dir/out" && ! grep -q "removed semaphore set" "$dir/out"; then
	ok "rm --force does not claim to remove a set that was gone"
else
	not_ok "rm --force does not claim to remove a set that was gone" "rc=$rc $(tr '\n' ' ' <"$dir/out")"
fi

# ---- an arena that grows ----

garena="$dir/grow-arena"
echo "$garena" >>"$made"
run create "$garena" --size 1M --limit 32M
c_rc=$rc
run limit "$garena"
if [ "$c_rc" -eq 0 ] && [ "$rc" -eq 0 ] && grep -q "limit 32 MiB" "$dir/out"; then
	ok "create --limit makes an arena that may grow, and limit prints the limit"
else
	not_ok "create --limit makes an arena that may grow, and limit prints the limit" "create=$c_rc limit=$rc $(tr '\n' ' ' <"$dir/out")"
fi
run limit "$garena" 48M
s_rc=$rc
run limit "$garena"
if [ "$s_rc" -eq 0 ] && grep -q "limit 48 MiB" "$dir/out" && usage_error limit "$garena" 12Q; then
	ok "limit PATH SIZE sets the limit; a bad size is a usage error"
else
	not_ok "limit PATH SIZE sets the limit; a bad size is a usage error" "set=$s_rc"
fi
"$FIX" big "$garena" 3145728 >/dev/null 2>&1
run info "$garena" --json
cp "$dir/out" "$dir/ginfo.json"
glimit=$(jnum "$dir/ginfo.json" limit)
gsize=$(jnum "$dir/ginfo.json" size)
gids=$(sed -n 's/.*"shmid": \([0-9]*\).*/\1/p' "$dir/ginfo.json" | sort -u)
nseg=$(grep -c '"shmid": [0-9]*, "size"' "$dir/ginfo.json")
if [ "$rc" -eq 0 ] && json_valid "$dir/ginfo.json" && [ "${glimit:-0}" -eq 50331648 ] &&
	[ "${nseg:-0}" -ge 2 ] && [ "${gsize:-0}" -gt 1048576 ]; then
	ok "info --json of a grown arena has its limit and every segment, and size counts them all"
else
	not_ok "info --json of a grown arena has its limit and every segment, and size counts them all" "limit=$glimit size=$gsize segments=$nseg"
fi
run info "$garena"
if [ "$rc" -eq 0 ] && grep -q "^added segment" "$dir/out" && grep -q "^growth limit" "$dir/out"; then
	ok "info lists the segments and the growth limit"
else
	not_ok "info lists the segments and the growth limit"
fi
run map "$garena" --ascii
if [ "$rc" -eq 0 ] && grep -q "^segment 1 (added)" "$dir/out"; then
	ok "map draws each segment"
else
	not_ok "map draws each segment" "rc=$rc"
fi
run rm "$garena"
left=0
for id in $gids; do
	ipcs -m | awk -v id="$id" '$2 == id { f = 1 } END { exit !f }' && left=$((left + 1))
done
if [ "$rc" -eq 0 ] && [ -n "$gids" ] && [ "$left" -eq 0 ]; then
	ok "rm removes every segment of a grown arena"
else
	not_ok "rm removes every segment of a grown arena" "rc=$rc left=$left ids=$(echo $gids)"
fi

# ---- nothing left behind ----

# (The EXIT trap removes whatever an earlier failure left.)
left=""
for p in $(cat "$made"); do
	[ -e "$p" ] || continue
	"$SMA" rm --force "$p" >/dev/null 2>&1 && left="$left $p"
done
if [ -z "$left" ]; then
	ok "the test leaves no segment behind"
else
	not_ok "the test leaves no segment behind" "left:$left"
fi

[ "$n" -eq 55 ] || echo "# ran $n tests, planned 55"
[ "$failed" -eq 0 ]
