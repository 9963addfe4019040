#!/usr/bin/env bash
# Build and run the native C unit tests: every native/test/*_test.c (or the ones named on the
# command line, e.g. `native/test/run.sh store`).
#
# Each test file says what it needs in its first line, relative to the repository root:
#   // sources: native/store/*.c native/runtime/foo.c
# and may add compiler or linker flags on its second line:
#   // cflags: -O2 -pthread
# Environment: CC (default gcc), SAN=1 builds with -fsanitize=address,undefined,
# TEST_TIMEOUT seconds per test (default 300). Exit status is non-zero if any test fails.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
CC=${CC:-gcc}
# outside build/: node-gyp rebuilds wipe that folder, possibly while tests run
OUT=${NATIVE_TEST_OUT:-${TMPDIR:-/tmp}/remcached-native-test}
mkdir -p "$OUT"
BASEFLAGS=(-std=gnu11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror=implicit-function-declaration
           -I"$ROOT/native/include")
if [ "${SAN:-0}" = 1 ]; then
  BASEFLAGS+=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  OUT=$OUT/san
  mkdir -p "$OUT"
fi

tests=()
if [ $# -gt 0 ]; then
  for n in "$@"; do tests+=("native/test/${n%_test.c}_test.c"); done
else
  for f in native/test/*_test.c; do [ -e "$f" ] && tests+=("$f"); done
fi
if [ ${#tests[@]} -eq 0 ]; then echo "no tests found"; exit 1; fi

pass=0; fail=0; failed=()
for t in "${tests[@]}"; do
  name=$(basename "$t" .c)
  if [ ! -f "$t" ]; then echo "FAIL $name (no such file: $t)"; fail=$((fail+1)); failed+=("$name"); continue; fi
  line1=$(sed -n 1p "$t")
  line2=$(sed -n 2p "$t")
  srcs=()
  if [[ $line1 =~ ^//[[:space:]]*sources:(.*)$ ]]; then
    # the globs are expanded here, relative to the repository root
    for pat in ${BASH_REMATCH[1]}; do
      for f in $pat; do
        if [ ! -e "$f" ]; then echo "FAIL $name (source not found: $pat)"; fail=$((fail+1)); failed+=("$name"); continue 3; fi
        srcs+=("$f")
      done
    done
  fi
  extra=()
  if [[ $line2 =~ ^//[[:space:]]*cflags:(.*)$ ]]; then read -r -a extra <<<"${BASH_REMATCH[1]}"; fi
  bin=$OUT/$name
  mkdir -p "$OUT"
  if ! "$CC" "${BASEFLAGS[@]}" "${extra[@]}" -o "$bin" "$t" "${srcs[@]}" -lm -lpthread 2>"$OUT/$name.build.log"; then
    echo "FAIL $name (build failed)"; sed 's/^/    /' "$OUT/$name.build.log" | head -40
    fail=$((fail+1)); failed+=("$name"); continue
  fi
  if [ -s "$OUT/$name.build.log" ]; then sed 's/^/    /' "$OUT/$name.build.log" | head -20; fi
  start=$(date +%s.%N)
  timeout "${TEST_TIMEOUT:-300}" "$bin" >"$OUT/$name.log" 2>&1
  rc=$?
  secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
  if [ $rc -eq 0 ]; then
    echo "PASS $name (${secs}s)"; pass=$((pass+1))
    [ "${VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$OUT/$name.log"
  else
    [ $rc -eq 124 ] && why="timeout" || why="exit $rc"
    echo "FAIL $name ($why, ${secs}s); last output:"; tail -30 "$OUT/$name.log" | sed 's/^/    /'
    fail=$((fail+1)); failed+=("$name")
  fi
done
echo "native tests: $pass passed, $fail failed${failed[*]:+ (${failed[*]})}"
[ $fail -eq 0 ]
