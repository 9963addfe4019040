#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it (and CI through .ci/run):
#   the system tools the tests use (installed with apt when root; otherwise named, and what needs
#   them is skipped) -> build -> native C tests -> build checks (freestanding parser, WRPKRU
#   scan) -> a bounded fuzz run, with the PKU VM step (test/vm/run.sh, if present) running
#   beside them from the build on -> the uvu
#   files, each in its own process (test/compare three times: the default isolation, the other
#   of sfi/none, and --cross-check; watch, verbose and lru once) -> one last line "N passed, N
#   failed, N skipped".
# Counting: each native C test, each build check, the fuzz run and the VM step count as one;
# each uvu test counts as one. A step that exits 77 is skipped (its last output line says why).
# Exit status: non-zero if anything failed.
# Every step is time-limited, and so is the whole run:
#   FUZZ_SECONDS   (30)   the fuzz run's length
#   TEST_FILTER    regex on the uvu file paths under test/ (default: every *.test.ts)
#   FILE_TIMEOUT   (300)  seconds for one uvu file (each of its tests has 60 s: TEST_TIMEOUT_MS)
#   STEP_TIMEOUT   (900)  seconds for any other step
#   SUITE_TIMEOUT  (2400) seconds for everything; steps not run by then count as failed
set -u
cd "$(dirname "$0")/.." || exit 2
t0=$(date +%s)
SUITE_TIMEOUT=${SUITE_TIMEOUT:-2400}
FILE_TIMEOUT=${FILE_TIMEOUT:-300}
STEP_TIMEOUT=${STEP_TIMEOUT:-900}
deadline=$((t0 + SUITE_TIMEOUT))
export NO_COLOR=1 # plain uvu output, parsed below

# ---- tools: command -> Debian package ----------------------------------------------------------
# Build tools (gcc, make, python3 for node-gyp) are needed before `npm ci` can even run; .ci/run
# installs them. These are what the tests use:
declare -A pkg_of=(
  [memcached]=memcached                 # test/compare, e2e comparisons: the reference server
  [memccapable]=libmemcached-tools      # test/clients: memccapable, memccp, memccat, ...
  [saslpasswd2]=sasl2-bin               # memcached's SASL user db (compare -S, memjs vs memcached)
  [clang]=clang                         # native/fuzz
  [bc]=bc                               # native/test/run.sh (timings)
  [nm]=binutils                         # scripts/check-parser-freestanding.sh
  [objdump]=binutils                    # scripts/scan-pku-insns.mjs
  [taskset]=util-linux                  # test/isolation/signals.test.ts (CPU hog)
  [clang-14]=clang-14                   # test/sfi/build.test.ts: the wasm parser rebuilds to the same bytes
  [wasm-ld-14]=lld-14
  [chromium]=chromium                   # test/demo: the report opened in a headless browser
  [aarch64-linux-gnu-gcc]=gcc-aarch64-linux-gnu   # scripts/cross-aarch64.sh: the native code on another CPU
  [aarch64-linux-gnu-g++]=g++-aarch64-linux-gnu
  [qemu-aarch64-static]=qemu-user-static
  [openssl]=openssl                     # test/compare/tls.test.ts: test certificates
  [nutcracker]=nutcracker               # test/clients/nutcracker.test.ts: twemproxy in front
)
if [ -f test/vm/run.sh ]; then
  pkg_of[qemu-system-x86_64]=qemu-system-x86  # the PKU VM step
  pkg_of[busybox]=busybox-static
fi
fuzzer_lib() { ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; }
# a Python module has no command to look for: Debian's python3-* modules are for /usr/bin/python3
py_module() { /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }
missing_pkgs() {
  local c out=()
  for c in "${!pkg_of[@]}"; do command -v "$c" >/dev/null || out+=("${pkg_of[$c]}"); done
  fuzzer_lib || out+=(libclang-rt-14-dev)
  py_module pymemcache || out+=(python3-pymemcache)              # test/clients/pymemcache.test.ts
  py_module prometheus_client || out+=(python3-prometheus-client) # test/e2e/metrics.test.ts
  [ ${#out[@]} -gt 0 ] && printf '%s\n' "${out[@]}" | sort -u | paste -sd' '
}
need=$(missing_pkgs)
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing: $need"
    # shellcheck disable=SC2086
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need) >/dev/null 2>&1 \
      || echo "apt-get could not install all of: $need"
    need=$(missing_pkgs)
  fi
  [ -n "$need" ] && echo "== missing: $need (apt-get install $need); the tests that need them are skipped"
fi

# ---- counting ----------------------------------------------------------------------------------
passed=0; failed=0; skipped=0; failures=(); skips=()
left() { echo $((deadline - $(date +%s))); }
limit() { local l; l=$(left); [ "$1" -lt "$l" ] && echo "$1" || echo "$l"; }
took() { echo "$(( $(date +%s) - $1 )) s"; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT

# step NAME CMD...: one check; exit 0 passes, 77 is skipped, anything else (or its time limit) fails
step() {
  local name=$1; shift
  echo "== $name"
  if [ "$(left)" -le 0 ]; then failed=$((failed+1)); failures+=("$name (not run: the suite's ${SUITE_TIMEOUT} s were up)"); return; fi
  local s; s=$(date +%s)
  timeout -k 10 "$(limit "$STEP_TIMEOUT")" "$@" 2>&1 | tee "$out/step"
  local rc=${PIPESTATUS[0]}
  echo "-- $name: $(took "$s")"
  count_step "$name" "$rc" "$out/step"
}
# count_step NAME RC OUTPUT_FILE
count_step() {
  case $2 in
    0) passed=$((passed+1)) ;;
    77) skipped=$((skipped+1)); skips+=("$1: $(grep -v '^\s*$' "$3" | tail -1)") ;;
    124|137) failed=$((failed+1)); failures+=("$1 (timed out)") ;;
    *) failed=$((failed+1)); failures+=("$1 (exit $2)") ;;
  esac
}
# beside NAME CMD...: a step run in the background while the next steps run (the PKU VM: QEMU
# emulates one CPU on one core, the build checks mostly use the other); beside_wait prints its
# output and counts it. One at a time.
beside() {
  beside_name=$1; shift
  beside_t0=$(date +%s)
  echo "== $beside_name: started, runs beside the next steps"
  ( timeout -k 10 "$(limit "$STEP_TIMEOUT")" "$@" >"$out/beside" 2>&1; echo $? >"$out/beside.rc" ) &
  beside_pid=$!
}
beside_wait() {
  [ -n "${beside_pid:-}" ] || return 0
  wait "$beside_pid"
  echo "== $beside_name"
  cat "$out/beside"
  echo "-- $beside_name: $(took "$beside_t0") (beside the steps above)"
  count_step "$beside_name" "$(cat "$out/beside.rc" 2>/dev/null || echo 1)" "$out/beside"
  beside_pid=
}

# ---- build -------------------------------------------------------------------------------------
[ -f build/Release/remcached.node ] || node scripts/build-native.mjs \
  || { echo "native build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
npm run --silent build \
  || { echo "TypeScript build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

# ---- the PKU VM, beside the native tests and build checks (collected before the uvu files) ------
if [ -f test/vm/run.sh ]; then
  beside "PKU under QEMU TCG: kernels 6.1 and 6.12" bash test/vm/run.sh
fi

# ---- native C tests: each test counts; one that exits 77 is skipped ----------------------------
echo "== native unit tests"
s=$(date +%s)
# its binaries in this run's own directory: the default /tmp one is shared with any other checkout
NATIVE_TEST_OUT="$out/native-bin" timeout -k 10 "$(limit "$STEP_TIMEOUT")" bash native/test/run.sh 2>&1 | tee "$out/native"
rc=${PIPESTATUS[0]}
echo "-- native unit tests: $(took "$s")"
n=0
while IFS= read -r line; do
  name=$(awk '{print $2}' <<<"$line"); n=$((n+1))
  case $line in
    PASS*) passed=$((passed+1)) ;;
    "FAIL $name (exit 77,"*)
      # the reason is the test's last output line, which run.sh prints indented after this line
      why=$(awk -v l="$line" 'f && /^    / {r=$0} $0==l {f=1; next} f && !/^    / {exit} END {print r}' "$out/native" | sed 's/^ *//')
      skipped=$((skipped+1)); skips+=("native $name: ${why:-exit 77}") ;;
    *) failed=$((failed+1)); failures+=("native $name") ;;
  esac
done < <(grep -E '^(PASS|FAIL) ' "$out/native")
if [ "$n" = 0 ] || { [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$out/native"; }; then
  failed=$((failed+1)); failures+=("native unit tests (exit $rc)")
fi

# ---- build checks, fuzzing, the VM ---------------------------------------------------------------
step "parser is freestanding" bash scripts/check-parser-freestanding.sh
step "the store under ThreadSanitizer" bash native/test/tsan.sh
step "aarch64: cross-built addon, parser/store tests and the portable runtime under qemu" bash scripts/cross-aarch64.sh
step "WRPKRU/XRSTOR only in the gate" node scripts/scan-pku-insns.mjs build/Release/remcached.node
step "the WRPKRU scan catches a planted WRPKRU" bash scripts/scan-pku-insns.test.sh
if command -v clang >/dev/null && fuzzer_lib; then
  step "fuzz the parser (${FUZZ_SECONDS:-30} s)" bash native/fuzz/run.sh "${FUZZ_SECONDS:-30}"
else
  echo "== fuzz the parser: skipped (needs clang and libclang-rt-14-dev)"
  skipped=$((skipped+1)); skips+=("fuzz the parser: clang or libFuzzer not installed (apt-get install clang libclang-rt-14-dev)")
fi
# the native and the WebAssembly build of the parser on the same inputs: any difference is a finding
step "native vs wasm parser, differential (${DIFF_SECONDS:-20} s)" node --import tsx native/fuzz/diff_wasm.ts "${DIFF_SECONDS:-20}"
# one step, however many checks it runs inside (it prints its own "N passed, N failed"); the
# uvu files below measure time and memory, so they start once it has ended
beside_wait

# ---- uvu files, each in its own process (a crash or hang costs that file only) ------------------
num() { grep -E "^\s*$1:" "$2" | tail -1 | grep -oE '[0-9]+' | head -1; } # uvu's "Total:  N" etc.
filter=${TEST_FILTER:-\\.test\\.ts$}
mapfile -t files < <(cd test && find . -name '*.test.ts' -not -path './node_modules/*' | sed 's|^\./||' | sort | grep -E -- "$filter")
# uvu_run ID FILE [LABEL [VAR=VALUE...]]: one file in its own process, output to $out/uvu.ID
# (ID "one": also to the terminal as it comes); uvu_count ID prints that output (unless it was
# shown) and counts its tests. uvu_file does both.
uvu_run() {
  local id=$1 f=$2 label=${3:-}; shift 2; shift || true
  local o="$out/uvu.$id"
  echo "test/$f${label:+ [$label]}" >"$o.name"
  if [ "$(left)" -le 0 ]; then echo notrun >"$o.rc"; : >"$o"; return; fi
  local s; s=$(date +%s)
  if [ "$id" = one ]; then # alone: its output as it comes
    echo "== test/$f${label:+ [$label]}"
    env "$@" timeout -k 10 "$(limit "$FILE_TIMEOUT")" node --import tsx test/helpers/run-file.ts "test/$f" 2>&1 | tee "$o"
    echo "${PIPESTATUS[0]}" >"$o.rc"
  else
    env "$@" timeout -k 10 "$(limit "$FILE_TIMEOUT")" node --import tsx test/helpers/run-file.ts "test/$f" >"$o" 2>&1
    echo $? >"$o.rc"
  fi
  echo "$(took "$s")" >"$o.took"
}
uvu_count() {
  local o="$out/uvu.$1" name rc
  name=$(cat "$o.name"); rc=$(cat "$o.rc")
  [ "$1" = one ] && [ "$rc" != notrun ] || { echo "== $name"; cat "$o"; }
  if [ "$rc" = notrun ]; then failed=$((failed+1)); failures+=("$name (not run: the suite's ${SUITE_TIMEOUT} s were up)"); return; fi
  echo "-- $name: $(cat "$o.took")"
  local total upassed uskipped
  total=$(num Total "$o"); upassed=$(num Passed "$o"); uskipped=$(num Skipped "$o")
  total=${total:-0}; upassed=${upassed:-0}; uskipped=${uskipped:-0}
  passed=$((passed + upassed)); skipped=$((skipped + uskipped)); failed=$((failed + total - upassed))
  [ "$total" != "$upassed" ] && failures+=("$name: $((total - upassed)) of $total")
  # the reasons, as the file printed them ("  skipped N: <reason> | <tests>")
  while IFS= read -r line; do skips+=("$name: ${line#  skipped }"); done < <(grep -E '^  skipped ' "$o")
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    failed=$((failed+1)); failures+=("$name (timed out after $(limit "$FILE_TIMEOUT") s)")
  elif [ "$rc" != 0 ] && [ "$total" = "$upassed" ]; then
    failed=$((failed+1)); failures+=("$name (exit $rc)")
  fi
}
uvu_file() { uvu_run one "$@"; uvu_count one; }
for f in "${files[@]}"; do uvu_file "$f"; done
# The byte-for-byte comparison again in the mode the default did not take (sfi where the default
# is pku, none where it is sfi), and with both parsers cross-checking each other: every mode
# answers exactly as memcached (test/compare/harness.ts). The two runs of a file go side by side
# (one per core): these files compare bytes, not times, and each run has its own servers.
if grep -qw pku /proc/cpuinfo && grep -qw ospke /proc/cpuinfo; then other=sfi; else other=none; fi
# Not again: the files whose time goes to memcached's own timers (its logger wakes once a second,
# its LRU maintainer and crawler run on their schedules), not to parsing; the sequences of the
# other compare files cover the parser in every mode. (~5 of the suite's minutes.)
for f in "${files[@]}"; do
  case $f in compare/watch.test.ts|compare/verbose.test.ts|compare/lru.test.ts) continue ;; esac
  case $f in compare/*)
    uvu_run mode "$f" "$other" REMC_TEST_ISOLATION=$other & p1=$!
    uvu_run cross "$f" cross-check REMC_TEST_CROSS_CHECK=1 & p2=$!
    wait "$p1" "$p2"
    uvu_count mode
    uvu_count cross ;;
  esac
done

# ---- summary -------------------------------------------------------------------------------------
echo
if [ ${#skips[@]} -gt 0 ]; then echo "skipped:"; printf '  %s\n' "${skips[@]}" | cut -c1-300; fi
if [ ${#failures[@]} -gt 0 ]; then echo "failed:"; printf '  %s\n' "${failures[@]}"; fi
echo "wall time: $(took "$t0") (limit ${SUITE_TIMEOUT} s)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
