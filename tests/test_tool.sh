#!/bin/sh
# test_tool.sh -- the sma command driven as a newcomer would: create, fill
# (with tests/tool_fixture), info, stats, dump, map, check, ls, recover, rm,
# the JSON outputs read back and compared with what was made, and usage
# errors.  Prints TAP.
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

echo "1..31"

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
usage_error check "$arena" --json || bad="$bad json-on-check"
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

[ "$n" -eq 31 ] || echo "# ran $n tests, planned 31"
[ "$failed" -eq 0 ]
