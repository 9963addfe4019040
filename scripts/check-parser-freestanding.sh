#!/usr/bin/env bash
# Checks that the code built to run inside the isolation domain (native/parser/*.c, target
# remc_parser) can run there: in pku-strict mode it may read nothing but domain memory, so its
# objects must not reference anything outside themselves (no libc, no GOT, no TLS canary) and
# must carry no data of their own (.rodata/.data/.bss, constant pools, string literals).
#
# Usage: scripts/check-parser-freestanding.sh [object-dir]
#   (default: the remc_parser objects of the last `node scripts/build-native.mjs`)
#
# Allowed undefined symbols (all defined hidden in the addon, so ld turns every reference into a
# direct call or RIP-relative load; nothing goes through the GOT at run time):
#   text.o           also remc_parse_binary (binary.o: the binary protocol)
#   every object     remc_fault_inject (the fault-injection hook, native/parser/fault_inject.c);
#                    __stack_chk_guard, __stack_chk_fail, remc_domain_abort (native/runtime: the
#                    canary of -mstack-protector-guard=global in a page the domain may read, and
#                    the trap handlers)
#   fault_inject.o   also _GLOBAL_OFFSET_TABLE_ (GOTPCRELX relocations that ld relaxes)
set -u
cd "$(dirname "$0")/.." || exit 2
dir=${1:-}
if [ -z "$dir" ]; then
  for d in build/Release/obj.target/remc_parser/native/parser build/Debug/obj.target/remc_parser/native/parser; do
    [ -d "$d" ] && { dir=$d; break; }
  done
fi
if [ -z "$dir" ] || ! ls "$dir"/*.o >/dev/null 2>&1; then
  echo "check-parser-freestanding: no parser objects found (run: node scripts/build-native.mjs)" >&2
  exit 2
fi

fail=0
for o in "$dir"/*.o; do
  name=$(basename "$o")
  before=$fail; fail=0
  allow='^(remc_fault_inject|__stack_chk_fail|__stack_chk_guard|remc_domain_abort)$'
  # text.o dispatches binary connections to binary.o's hidden remc_parse_binary (a direct call)
  [ "$name" = text.o ] && allow='^(remc_fault_inject|__stack_chk_fail|__stack_chk_guard|remc_domain_abort|remc_parse_binary)$'
  [ "$name" = fault_inject.o ] && allow='^(remc_fault_inject|__stack_chk_fail|__stack_chk_guard|remc_domain_abort|_GLOBAL_OFFSET_TABLE_)$'
  bad_syms=$(nm -u "$o" | awk '{print $NF}' | grep -Ev "$allow" || true)
  if [ -n "$bad_syms" ]; then
    echo "FAIL $name: undefined symbols: $(echo $bad_syms)"
    fail=1
  fi
  # Sections with content that a domain would have to read or write: any data, rodata (string
  # literals, jump tables, constant pools), bss, TLS, GOT/PLT-relative data.
  bad_secs=$(objdump -h "$o" | awk '$1 ~ /^[0-9]+$/ && $3 != "00000000" { print $2 }' |
             grep -E '^\.(rodata|data|bss|tdata|tbss|got|plt|init_array|fini_array|ctors|dtors)' || true)
  if [ -n "$bad_secs" ]; then
    echo "FAIL $name: data sections with content: $(echo $bad_secs)"
    fail=1
  fi
  # TLS accesses (%fs: the stack-protector canary, errno) in code meant for the domain.
  if [ "$name" != fault_inject.o ] && objdump -d "$o" | grep -q '%fs:'; then
    echo "FAIL $name: reads thread-local storage (%fs:), e.g. the stack-protector canary"
    fail=1
  fi
  [ $fail = 0 ] && echo "ok   $name"
  [ $before = 1 ] && fail=1
done
if [ $fail = 0 ]; then
  echo "check-parser-freestanding: $(ls "$dir"/*.o | wc -l) objects in $dir are freestanding"
fi
exit $fail
