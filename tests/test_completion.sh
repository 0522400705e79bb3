#!/bin/sh
# test_completion.sh -- the bash completion of sma (tools/completion/sma):
# it offers every command of sma --help, every long option each command's
# --help names, files for the operands and --image, and the keys and ids of
# the arenas sma ls lists.  Runs bash on the script alone, without
# bash-completion.  Prints TAP.
set -u
src=${SMA_SRCDIR:-.}
build=${SMA_BUILDDIR:-.}
SMA="$build/tools/sma"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sma-completion.XXXXXX") || {
	echo "1..0 # cannot make a temporary directory"
	exit 1
}
cleanup() {
	[ -e "$tmp/arena" ] && "$SMA" rm --force "$tmp/arena" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

echo "1..5"
if ! command -v bash >/dev/null 2>&1; then
	for i in 1 2 3 4 5; do
		echo "ok $i # SKIP bash is not installed"
	done
	exit 0
fi

# complete WORD...: what the completion offers for the command line
# "sma WORD...", the last word the one being completed; one a line, sorted.
complete_words() {
	bash -c '
		. "$1"
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_sma
		printf "%s\n" "${COMPREPLY[@]}"
	' complete "$src/tools/completion/sma" "$SMA" "$@" 2>"$tmp/err" | sort -u
}

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

# ---- commands ----

"$SMA" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' | sort -u >"$tmp/commands"
complete_words "" | grep -v '^-' >"$tmp/offered"
missing=$(comm -23 "$tmp/commands" "$tmp/offered" | tr '\n' ' ')
if [ -s "$tmp/commands" ] && [ -z "$missing" ] &&
	[ "$(complete_words st)" = "stats" ] && complete_words - | grep -qx -- '--version'; then
	ok "every command of sma --help is offered, and a prefix completes to its command"
else
	not_ok "every command of sma --help is offered, and a prefix completes to its command" "missing: $missing"
fi

# ---- options ----

bad=""
for c in $(cat "$tmp/commands"); do
	# The long options the command's usage names, and --help.
	{
		"$SMA" "$c" --help | sed -n '/^usage:/,/^$/p' | grep -o -- '--[a-z][a-z]*'
		echo --help
	} | sort -u >"$tmp/want"
	complete_words "$c" "--" | sort -u >"$tmp/got"
	if ! cmp -s "$tmp/want" "$tmp/got"; then
		bad="$bad $c:$(comm -3 "$tmp/want" "$tmp/got" | tr -d '\t' | tr '\n' ',')"
	fi
done
if [ -z "$bad" ]; then
	ok "each command is offered exactly the long options its --help names"
else
	not_ok "each command is offered exactly the long options its --help names" "differ:$bad"
fi

# ---- files ----

mkdir "$tmp/files"
: >"$tmp/files/cache.img"
: >"$tmp/files/cache.arena"
if complete_words check --image "$tmp/files/cache.i" | grep -qx "$tmp/files/cache.img" &&
	complete_words info "$tmp/files/cache.a" | grep -qx "$tmp/files/cache.arena" &&
	complete_words save "$tmp/files/cache.arena" "$tmp/files/c" | grep -qx "$tmp/files/cache.img" &&
	[ -z "$(complete_words ls "$tmp/files/c")" ]; then
	ok "operands and --image complete to file names (ls takes none)"
else
	not_ok "operands and --image complete to file names (ls takes none)"
fi

# ---- arenas ----

out=$("$SMA" create "$tmp/arena" --size 1M 2>&1)
shmid=$(echo "$out" | sed -n 's/.*shmid \([0-9]*\),.*/\1/p')
key=$(echo "$out" | sed -n 's/.*key \(0x[0-9a-f]*\),.*/\1/p')
if [ -n "$key" ] && complete_words info --key "" | grep -qx "$key" &&
	complete_words info --id "" | grep -qx "$shmid" &&
	complete_words info --key = "" | grep -qx "$key"; then
	ok "--key and --id complete to the keys and ids of the arenas sma ls lists, also after ="
else
	not_ok "--key and --id complete to the keys and ids of the arenas sma ls lists, also after =" \
		"key=$key shmid=$shmid"
fi

# ---- with bash-completion ----

bc=""
for f in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
	[ -f "$f" ] && bc=$f && break
done
if [ -z "$bc" ]; then
	ok "the script loads under bash-completion # SKIP bash-completion is not installed"
elif bash -c '. "$1" >/dev/null 2>&1; . "$2" && complete -p sma' x "$bc" \
	"$src/tools/completion/sma" 2>"$tmp/err" | grep -q '_sma sma$'; then
	ok "the script loads under bash-completion and completes sma"
else
	not_ok "the script loads under bash-completion and completes sma" "$(cat "$tmp/err")"
fi

[ "$failed" -eq 0 ]
