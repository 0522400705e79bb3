#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] -- builds fuzz/check_fuzz.c with clang's libFuzzer
# (and ASan+UBSan) against the library's sources, and runs it for SECONDS
# (default 60).  Prints libFuzzer's last status line; exits non-zero if it
# found a crash (the input is left in fuzz-crash-*).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
out=${SMA_FUZZ_DIR:-$top/_build/fuzz}
mkdir -p "$out/corpus"
command -v clang >/dev/null 2>&1 || { echo "fuzz: clang is not installed (apt-get install clang)"; exit 2; }
# config.h: any configured build has one; make a minimal one otherwise.
cfg=$out/cfg
mkdir -p "$cfg"
printf '#define _GNU_SOURCE 1\n#define SMA_DEBUG 0\n' >"$cfg/config.h"
clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I "$cfg" -I "$top/include" -DSMA_BUILDING \
	"$top"/src/*.c "$top/fuzz/check_fuzz.c" -lpthread -o "$out/check_fuzz" || exit 2
cd "$out" || exit 2
"$out/check_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$out/fuzz-" corpus >"$out/fuzz.log" 2>&1
rc=$?
grep -E '^#[0-9]+.*(DONE|pulse|NEW)' "$out/fuzz.log" | tail -n 1
grep -E 'Done [0-9]+ runs' "$out/fuzz.log"
if [ $rc -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|panic' "$out/fuzz.log" | head -n 5
	echo "fuzz: a crash was found: see $out/fuzz.log"
fi
# Nothing of the arena used to make the image is left: it is destroyed.
exit $rc
