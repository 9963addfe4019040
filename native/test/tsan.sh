#!/usr/bin/env bash
# The store's multi-threaded stress test (native/test/store_mt_test.c) under ThreadSanitizer:
# any data race report fails it. Exit 77 (skipped, with the reason on the last line) when clang
# or its TSan runtime is missing (Debian: apt-get install clang libclang-rt-14-dev).
set -u
cd "$(dirname "$0")/../.." || exit 2
CC=${TSAN_CC:-$(command -v clang-14 || command -v clang || true)}
if [ -z "$CC" ]; then echo "skipped: clang not installed (apt-get install clang)"; exit 77; fi
OUT=${NATIVE_TEST_OUT:-${TMPDIR:-/tmp}/remcached-native-test}/tsan
mkdir -p "$OUT"
if ! echo 'int main(void){return 0;}' | "$CC" -x c -fsanitize=thread -o "$OUT/probe" - 2>/dev/null; then
  echo "skipped: $CC cannot link -fsanitize=thread (TSan runtime missing: apt-get install libclang-rt-14-dev)"; exit 77
fi
"$CC" -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=thread -fno-omit-frame-pointer -pthread \
  -I native/include -o "$OUT/store_mt_test" native/test/store_mt_test.c native/store/*.c || exit 1
# halt_on_error: the first race fails the run (exit 66) with its report
TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" timeout "${TEST_TIMEOUT:-600}" "$OUT/store_mt_test" 4
rc=$?
[ $rc -eq 0 ] && echo "store_mt_test under ThreadSanitizer: no report" || echo "store_mt_test under ThreadSanitizer: FAILED (exit $rc)"
exit $rc
