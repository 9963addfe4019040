#!/usr/bin/env bash
# Build the parser fuzz target (libFuzzer + ASan + UBSan, clang) and run it for a bounded time.
#   native/fuzz/run.sh [seconds]      default 30; exits non-zero if the fuzzer finds a crash
# The committed seeds in native/fuzz/corpus/ are read only; new inputs go to
# native/fuzz/out/corpus/ and crashes to native/fuzz/out/ (both ignored by git).
# Env: FUZZ_JOBS (default 1) parallel workers; CC (default clang-14, else clang).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-30}
out=native/fuzz/out
mkdir -p "$out/corpus"
CC=${CC:-$(command -v clang-14 || command -v clang)}
# every parser file but fault_inject.c (the harness stubs the hook), and the validators
srcs=$(ls native/parser/*.c native/binding/validate*.c | grep -v '/fault_inject\.c$')
"$CC" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -fno-omit-frame-pointer -Inative/include -Wall -Wextra \
  -o "$out/fuzz_parser" native/fuzz/fuzz_parser.c $srcs
jobs=${FUZZ_JOBS:-1}
args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384
      -dict=native/fuzz/dict.txt -artifact_prefix="$out/" -print_final_stats=1)
if [ "$jobs" -gt 1 ]; then args+=(-fork="$jobs"); fi
set +e
"$out/fuzz_parser" "${args[@]}" "$out/corpus" native/fuzz/corpus 2>"$out/fuzz.log"
rc=$?
set -e
grep -E '^(stat::|#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY)' "$out/fuzz.log" | tail -20 || true
if [ $rc -ne 0 ]; then
  echo "fuzz: FAILED (rc=$rc); see $out/fuzz.log and $out/crash-*"
  tail -40 "$out/fuzz.log"
fi
exit $rc
