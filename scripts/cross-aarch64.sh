#!/usr/bin/env bash
# The native code on a CPU that is not x86-64 (issue 10): build every native source for aarch64
# with Debian's cross compiler (the PKU gate compiles out; native/runtime/domain_portable.c is the
# runtime there, mode none, and the server's default is sfi), link the addon as a shared object,
# and run the parser's and the store's C unit tests under qemu-aarch64 (user-mode emulation).
#   bash scripts/cross-aarch64.sh
# Exit 0: built and the tests pass; 1: a failure; 77: the cross toolchain or qemu is missing.
set -u
cd "$(dirname "$0")/.." || exit 2
CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ QEMU=qemu-aarch64-static
for t in "$CC" "$CXX" "$QEMU"; do
  command -v "$t" >/dev/null || { echo "skipped: $t missing (apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static)"; exit 77; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
# the flags of binding.gyp for a non-x64 target (no -mstack-protector-guard=global)
COMMON=(-O2 -fstack-protector-strong -fvisibility=hidden -fPIC -Wall -Wextra -Inative/include
        -DNAPI_VERSION=9 -DNODE_ADDON_API_DISABLE_DEPRECATED -D_GNU_SOURCE)
PARSER=(-ffreestanding -fno-builtin -fno-jump-tables -fno-plt -fno-tree-loop-distribute-patterns
        -fno-asynchronous-unwind-tables)
objs=()
build() { # build OUT COMPILER FLAGS... SRC
  local out=$1; shift
  if "$@" -c -o "$out" 2>"$out.log"; then objs+=("$out"); else echo "FAIL build: ${*: -1}"; sed 's/^/    /' "$out.log" | head -20; fail=1; fi
}
for f in native/parser/*.c; do build "$T/p_$(basename "$f" .c).o" "$CC" -std=gnu11 "${COMMON[@]}" "${PARSER[@]}" "$f"; done
for f in native/runtime/*.c native/runtime/*.S native/store/*.c native/binding/*.c; do
  build "$T/r_$(basename "$f").o" "$CC" -std=gnu11 "${COMMON[@]}" "$f"
done
NAA=$(node -p "require('node-addon-api').include_dir" 2>/dev/null || echo node_modules/node-addon-api)
for f in native/binding/*.cc; do
  build "$T/b_$(basename "$f" .cc).o" "$CXX" -std=c++17 "${COMMON[@]}" -I/usr/include/node -I"$NAA" "$f"
done
if [ $fail = 0 ]; then
  # N-API symbols come from node at load time, as on x86-64
  if "$CXX" -shared -o "$T/remcached.node" "${objs[@]}" -Wl,-z,relro,-z,now -Wl,-z,noexecstack -lpthread 2>"$T/link.log"; then
    echo "ok   addon linked for aarch64: $(file -b "$T/remcached.node" | cut -d, -f1-2)"
    if aarch64-linux-gnu-objdump -d "$T/remcached.node" | grep -qiE 'wrpkru|rdpkru'; then echo "FAIL x86 PKU instructions in the aarch64 build"; fail=1; fi
  else
    echo "FAIL link"; head -20 "$T/link.log"; fail=1
  fi
fi
# the C unit tests that need no x86 runtime, statically linked, run under user-mode emulation
for t in parser store; do
  src=native/test/${t}_test.c
  srcs=$(sed -n '1s|^//[[:space:]]*sources:||p' "$src")
  cflags=$(sed -n '2s|^//[[:space:]]*cflags:||p' "$src" | sed 's/-mstack-protector-guard=global//')
  # shellcheck disable=SC2086 # globs and flags split as in native/test/run.sh
  if "$CC" -std=gnu11 -D_GNU_SOURCE -O1 -static -Inative/include $cflags -o "$T/$t" "$src" $srcs -lm -lpthread 2>"$T/$t.log"; then
    if timeout 300 "$QEMU" "$T/$t" >"$T/$t.out" 2>&1; then echo "ok   ${t}_test under $QEMU: $(tail -1 "$T/$t.out")"
    else echo "FAIL ${t}_test under $QEMU"; tail -15 "$T/$t.out" | sed 's/^/    /'; fail=1; fi
  else
    echo "FAIL build ${t}_test"; head -20 "$T/$t.log" | sed 's/^/    /'; fail=1
  fi
done
# the portable runtime itself: a good call, then faults rewound to the caller (mode none)
cat >"$T/portable.c" <<'C'
#include "remc_domain.h"
#include "remc_abi.h"
#include <stdio.h>
static void good(void *a, void *b) { (void)b; ((remc_parse_io *)a)->status = 42; }
static void null_read(void *a, void *b) { (void)a; (void)b; volatile int *p = 0; (void)*p; }
static void trap(void *a, void *b) { (void)a; (void)b; remc_domain_abort(); }
int main(void) {
  const char *why;
  if (remc_domain_process_init(REMC_ISO_AUTO, &why) != REMC_ISO_NONE) return 1;
  remc_domain_config c = {.isolation = REMC_ISO_NONE};
  remc_domain *d = remc_domain_create(&c);
  remc_parse_io *io = remc_domain_io(d);
  remc_fault_info fi;
  int bad = 0;
  for (int i = 0; i < 1000; i++) {
    bad += remc_domain_call(d, good, io, 0, &fi) != 0 || io->status != 42;
    bad += remc_domain_call(d, null_read, io, 0, &fi) != REMC_FAULT_segv;
    bad += remc_domain_call(d, trap, io, 0, &fi) != REMC_FAULT_abort;
  }
  printf("portable runtime: 3000 calls, 2000 faults rewound, %d wrong (%s)\n", bad, why);
  return bad != 0;
}
C
if "$CC" -std=gnu11 -D_GNU_SOURCE -O1 -static -Inative/include -o "$T/portable" "$T/portable.c" native/runtime/domain_portable.c 2>"$T/portable.log" &&
   timeout 120 "$QEMU" "$T/portable" >"$T/portable.out" 2>&1; then
  echo "ok   $(tail -1 "$T/portable.out")"
else
  echo "FAIL portable runtime under $QEMU"; cat "$T/portable.log" "$T/portable.out" 2>/dev/null | tail -15 | sed 's/^/    /'; fail=1
fi
exit $fail
