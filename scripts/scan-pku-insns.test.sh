#!/usr/bin/env bash
# A test of the WRPKRU/XRSTOR scanner: it must pass a library whose only WRPKRU is in the
# allowed gate, and fail on each planted gadget: a WRPKRU in another function, an XRSTOR hidden
# in an immediate (never decoded as such by objdump), and WRPKRU bytes in .rodata that sits in an
# executable segment (-z noseparate-code). Then it scans the real addon if it is built.
set -u
cd "$(dirname "$0")/.."
SCAN="node scripts/scan-pku-insns.mjs"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
expect() { # expect <exit code> <description> <scanner args...>
  local want=$1 what=$2; shift 2
  local out; out=$($SCAN "$@" 2>&1); local rc=$?
  if [ "$rc" = "$want" ]; then echo "ok   $what (exit $rc)"; else echo "FAIL $what: exit $rc, want $want"; echo "$out"; fail=1; fi
}

cat > "$T/gate.c" <<'C'
void gate(void) { __asm__ volatile("xor %%ecx,%%ecx; xor %%edx,%%edx; xor %%eax,%%eax; wrpkru" ::: "eax","ecx","edx"); }
C
cat > "$T/evil_wrpkru.c" <<'C'
void evil(void) { __asm__ volatile(".byte 0x0f, 0x01, 0xef" ::: "memory"); }
C
cat > "$T/evil_imm.c" <<'C'
/* mov $0x0028ae0f, %eax: the immediate bytes 0f ae 28 decode as xrstor (%rax) from offset 1 */
unsigned evil_imm(void) { unsigned r; __asm__ volatile("mov $0x0028ae0f, %0" : "=r"(r)); return r; }
C
cat > "$T/evil_rodata.c" <<'C'
const unsigned char evil_table[8] = {1, 2, 0x0f, 0x01, 0xef, 3, 4, 5};
C
cc() { gcc -O2 -shared -fPIC -o "$@"; }
cc "$T/clean.so" "$T/gate.c" || exit 2
cc "$T/wrpkru.so" "$T/gate.c" "$T/evil_wrpkru.c" || exit 2
cc "$T/imm.so" "$T/gate.c" "$T/evil_imm.c" || exit 2
cc "$T/rodata.so" -Wl,-z,noseparate-code "$T/gate.c" "$T/evil_rodata.c" || exit 2

expect 0 "clean library, WRPKRU only in the allowed gate" "$T/clean.so" --allow gate --expect-min 1
expect 1 "same library, empty allow-list" "$T/clean.so" --allow ''
expect 1 "planted WRPKRU in a non-gate function" "$T/wrpkru.so" --allow gate
expect 1 "XRSTOR hidden in an immediate" "$T/imm.so" --allow gate
expect 1 "WRPKRU bytes in .rodata in an executable segment" "$T/rodata.so" --allow gate
expect 2 "missing file" "$T/nope.so"
$SCAN "$T/wrpkru.so" --allow gate | grep -q 'BAD WRPKRU .* evil+' || { echo "FAIL planted hit not attributed to evil"; fail=1; }

if [ -f build/Release/remcached.node ]; then
  expect 0 "the real addon: WRPKRU only in the gate symbols" build/Release/remcached.node --expect-min 1
  # each allowed symbol really holds a WRPKRU: leaving any one out of the list must fail
  for left_out in remc_gate_call remc_gate_call_strict remc_gate_rewind remc_sig_entry remc_sig_entry_chain; do
    allow=$(echo remc_gate_call,remc_gate_call_strict,remc_gate_rewind,remc_sig_entry,remc_sig_entry_chain | tr ',' '\n' | grep -vx "$left_out" | paste -sd,)
    expect 1 "the real addon with $left_out not allowed" build/Release/remcached.node --allow "$allow"
  done
else
  echo "skip build/Release/remcached.node not built"
fi
exit $fail
