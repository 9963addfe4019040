#!/usr/bin/env bash
# Parser speed: builds bench/parser_bench.c with the flags binding.gyp gives the parser (gcc -O2,
# freestanding, stack protector) and runs it (~3 s).
set -eu
cd "$(dirname "$0")/.."
out=build/parser-bench
mkdir -p "$out"
PARSER_FLAGS=(-O2 -fPIC -std=gnu11 -fstack-protector-strong -fvisibility=hidden -ffreestanding
              -fno-builtin -fno-jump-tables -fno-plt -fno-tree-loop-distribute-patterns
              -fno-asynchronous-unwind-tables -Inative/include)
# every parser file but fault_inject.c (the bench stubs the hook), and the validators
objs=()
for f in $(ls native/parser/*.c | grep -v '/fault_inject\.c$'); do
  gcc "${PARSER_FLAGS[@]}" -c "$f" -o "$out/$(basename "$f" .c).o"; objs+=("$out/$(basename "$f" .c).o")
done
for f in native/binding/validate*.c; do
  gcc -O2 -std=gnu11 -Inative/include -c "$f" -o "$out/$(basename "$f" .c).o"; objs+=("$out/$(basename "$f" .c).o")
done
gcc -O2 -std=gnu11 -Inative/include bench/parser_bench.c "${objs[@]}" -o "$out/parser_bench"
"$out/parser_bench"
