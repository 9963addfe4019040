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
gcc "${PARSER_FLAGS[@]}" -c native/parser/text.c -o "$out/text.o"
gcc -O2 -std=gnu11 -Inative/include -c native/binding/validate.c -o "$out/validate.o"
gcc -O2 -std=gnu11 -Inative/include bench/parser_bench.c "$out/text.o" "$out/validate.o" -o "$out/parser_bench"
"$out/parser_bench"
