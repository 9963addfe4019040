#!/usr/bin/env bash
# Builds the request parser (text, meta, binary, fault injection: the same sources as the native
# addon's remc_parser target) to WebAssembly for --isolation=sfi: native/wasm/parser.wasm.
# The module is committed, because `npm ci` machines have no clang; test/sfi/build.test.ts
# rebuilds it and checks the bytes are the same.
#
# Needs Debian's clang-14 and lld-14 (wasm-ld): apt-get install clang-14 lld-14
# Usage: scripts/build-wasm.sh [out.wasm]   (default: native/wasm/parser.wasm)
#
# Flags, and why:
#   -O2                     as the native parser (-O3 measured no faster; see native/wasm/README)
#   -DREMC_LOOP_BUDGET      the parser's loops tick a budget (native/parser/budget.h): wasm has
#                           no watchdog signal
#   -fstack-protector-strong  a smashed canary traps (kind canary), as natively
#   -fsanitize=null         address 0 is ordinary wasm memory: a NULL access is checked and
#                           traps (kind segv), as natively (native/wasm/support.c)
#   -fno-builtin            no memset/memcpy calls invented for loops (there is no libc)
#   --stack-first           the shadow stack (16 KiB: the parser keeps its locals in wasm
#                           locals; only fault injection uses it) sits at the bottom of
#                           memory: an overflow wraps below 0 and traps instead of running
#                           into data
#   --import-memory         the host sizes the memory (the window follows -I)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-native/wasm/parser.wasm}
CC=${CLANG:-clang-14}
command -v "$CC" >/dev/null || { echo "build-wasm: $CC not found (apt-get install clang-14 lld-14)" >&2; exit 2; }
command -v wasm-ld-14 >/dev/null || command -v wasm-ld >/dev/null ||
  [ -x /usr/lib/llvm-14/bin/wasm-ld ] || { echo "build-wasm: wasm-ld not found (apt-get install lld-14)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Relative paths and a fixed order: nothing of this machine ends up in the module.
"$CC" --target=wasm32 -std=gnu11 -O2 -Wall -Wextra -Werror \
  -mmutable-globals -msign-ext \
  -nostdlib -ffreestanding -fno-builtin -fstack-protector-strong \
  -fsanitize=null -fno-sanitize-recover=null \
  -DREMC_LOOP_BUDGET \
  -Inative/include -Inative/parser -Inative/wasm \
  -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=16384 -Wl,--import-memory \
  -Wl,--export=__heap_base -Wl,--export=__stack_pointer -Wl,--export=__stack_chk_guard \
  -o "$tmp/parser.wasm" \
  native/parser/text.c native/parser/binary.c native/parser/fault_inject.c \
  native/wasm/support.c native/wasm/budget.s
mkdir -p "$(dirname "$out")"
mv "$tmp/parser.wasm" "$out"
echo "build-wasm: $out ($(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16))"
