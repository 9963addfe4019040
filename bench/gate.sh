#!/usr/bin/env bash
# Gate round trip and fault-to-recovered latency of the domain runtime, natively.
#   bash bench/gate.sh
# Compiles the runtime and the fault injector with the addon's flags (the injector with the
# parser's freestanding ones) into a temporary directory and runs bench/gate_bench.c.
set -eu
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
CF="-O2 -fstack-protector-strong -fvisibility=hidden -std=gnu11 -D_GNU_SOURCE -Inative/include"
PF="-ffreestanding -fno-builtin -fno-jump-tables -fno-plt -fno-tree-loop-distribute-patterns -mstack-protector-guard=global"
gcc $CF -c native/runtime/domain.c -o "$T/domain.o"
gcc -Inative/include -c native/runtime/gate.S -o "$T/gate.o"
gcc -c native/runtime/traps.S -o "$T/traps.o"
gcc $CF $PF -c native/parser/fault_inject.c -o "$T/fi.o"
gcc $CF -c bench/gate_bench.c -o "$T/bench.o"
gcc -o "$T/gate_bench" "$T"/*.o -lpthread
"$T/gate_bench"
