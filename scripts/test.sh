#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it (and CI through .ci/run):
#   system tools it needs (memcached 1.6.18 to compare against, libmemcached's tools, clang for
#   the fuzzer) -> build -> native C tests -> build checks (freestanding parser, WRPKRU scan) ->
#   a bounded fuzz run -> the end-to-end suites (uvu) -> one line "N passed, N failed".
# FUZZ_SECONDS (default 30) bounds the fuzz run; TEST_FILTER narrows the uvu files (a regex).
set -u
cd "$(dirname "$0")/.." || exit 2

need_pkgs=()
command -v memcached >/dev/null || need_pkgs+=(memcached)
command -v memccapable >/dev/null || need_pkgs+=(libmemcached-tools)
command -v clang >/dev/null || need_pkgs+=(clang)
[ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || need_pkgs+=(libclang-rt-14-dev)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${need_pkgs[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}") >/dev/null 2>&1 \
      || { echo "could not install ${need_pkgs[*]}"; exit 1; }
  else
    echo "missing: ${need_pkgs[*]} (install them: apt-get install ${need_pkgs[*]})"; exit 1
  fi
fi

passed=0; failed=0; failures=()
step() { # step NAME CMD...: a pass/fail check of its own
  local name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("$name"); fi
}

[ -f build/Release/remcached.node ] || node scripts/build-native.mjs || { echo "native build failed"; echo "0 passed, 1 failed"; exit 1; }
npx --no-install tsc -p tsconfig.json || { echo "TypeScript build failed"; echo "0 passed, 1 failed"; exit 1; }

step "native unit tests" bash native/test/run.sh
step "parser is freestanding" bash scripts/check-parser-freestanding.sh
step "WRPKRU/XRSTOR only in the gate" node scripts/scan-pku-insns.mjs build/Release/remcached.node
step "the WRPKRU scan catches a planted WRPKRU" bash scripts/scan-pku-insns.test.sh
if [ -x native/fuzz/run.sh ] || [ -f native/fuzz/run.sh ]; then
  step "fuzz the parser (${FUZZ_SECONDS:-30} s)" bash native/fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi

echo "== end-to-end suites (uvu)"
log=$(mktemp)
node --import tsx node_modules/uvu/bin.js test "${TEST_FILTER:-\\.test\\.ts$}" -c false 2>&1 | tee "$log"
uvu_status=${PIPESTATUS[0]}
total=$(grep -E '^\s*Total:' "$log" | tail -1 | grep -oE '[0-9]+' | head -1)
upassed=$(grep -E '^\s*Passed:' "$log" | tail -1 | grep -oE '[0-9]+' | head -1)
rm -f "$log"
total=${total:-0}; upassed=${upassed:-0}
ufailed=$((total - upassed))
if [ "$uvu_status" != 0 ] && [ "$ufailed" = 0 ]; then ufailed=1; failures+=("uvu exited $uvu_status"); fi
passed=$((passed + upassed)); failed=$((failed + ufailed))

[ ${#failures[@]} -gt 0 ] && echo "failed steps: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
