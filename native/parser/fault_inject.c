/*
 * fault_inject.c — domain code: commits a real fault of the requested kind inside the domain
 * (debug_fault <id>, only with --enable-fault-injection; table in remc_fault_inject.h).
 * Each fault must be caught by the mechanism that would catch it in the wild, so nothing here
 * "reports" a fault: it does the bad thing. Compiled with the parser's freestanding flags:
 * no libc, no globals, no .rodata (pku-strict cannot read it). `volatile` keeps the compiler
 * from proving the accesses bad and replacing them with its own trap.
 */
#include "remc_fault_inject.h"
#include "remc_domain.h"
#include "budget.h"

#define NOINLINE __attribute__((noinline))

/* Overflows a 16-byte stack buffer by 32 bytes: over the canary and the saved registers. The
 * stack protector's check before `ret` calls __stack_chk_fail (kind canary). */
static NOINLINE void fi_stack_smash(uint32_t n) {
  volatile uint8_t buf[16];
  for (uint32_t i = 0; i < n; i++) buf[i] = 0x41;
  (void)buf[0];
}

/* Unbounded recursion (the addition after the call prevents a tail call) until the guard gap
 * below the domain stack (kind stack_overflow). */
static NOINLINE uint32_t fi_recurse(const volatile uint8_t *up, uint32_t depth, uint32_t stop) {
  volatile uint8_t frame[256];
  frame[0] = (uint8_t)depth;
  frame[255] = up[0];
  if (depth == stop) return frame[0];
  return fi_recurse(frame, depth + 1, stop) + frame[depth & 255];
}

void remc_fault_inject(remc_parse_io *io, uint32_t kind) {
  volatile uint64_t *root = (volatile uint64_t *)(uintptr_t)io->fault_target[0];
  volatile uint64_t *store = (volatile uint64_t *)(uintptr_t)io->fault_target[1];
  volatile uint64_t *peer = (volatile uint64_t *)(uintptr_t)io->fault_target[2];
  uint8_t *heap = (uint8_t *)(uintptr_t)io->heap_base;
  uint64_t heap_size = io->heap_size;
  volatile uint64_t sink; /* forces loads to happen; a leak would send it out with the reply */

  if (kind == REMC_FI_root_write) {
    *root = 0xbad0bad0bad0bad0ull;
  } else if (kind == REMC_FI_store_write) {
    *store = 0xbad0bad0bad0bad0ull;
  } else if (kind == REMC_FI_store_read) {
    sink = *store;
  } else if (kind == REMC_FI_peer_write) {
    *peer = 0xbad0bad0bad0bad0ull;
  } else if (kind == REMC_FI_peer_read) {
    sink = *peer;
  } else if (kind == REMC_FI_stack_smash) {
    volatile uint32_t n = 48;
    fi_stack_smash(n);
  } else if (kind == REMC_FI_stack_exhaust) {
    volatile uint8_t seed = 1;
    sink = fi_recurse(&seed, 0, 0xffffffffu - (io->len & 1));
  } else if (kind == REMC_FI_heap_overrun) {
    /* the last 64-byte block of the heap, written 128 bytes long: into the guard after it */
    volatile uint8_t *blk = heap + heap_size - 64;
    volatile uint32_t n = 128;
    for (uint32_t i = 0; i < n; i++) blk[i] = 0x42;
  } else if (kind == REMC_FI_null_deref) {
    uint32_t *volatile p = 0;
    sink = *p;
  } else if (kind == REMC_FI_wild_pointer) {
    uint64_t *volatile w = (uint64_t *)0xdead0000beef0000ull; /* non-canonical: #GP */
    *w = 0x4141414141414141ull;
  } else if (kind == REMC_FI_illegal_insn) {
    __builtin_trap();
  } else if (kind == REMC_FI_div_zero) {
    volatile uint32_t x = 1, z = 0;
    sink = x / z;
  } else if (kind == REMC_FI_abort) {
    remc_domain_abort();
  } else if (kind == REMC_FI_endless_loop) {
    for (;;) {
      REMC_LOOP_TICK(); /* wasm: the budget is the watchdog */
      __asm__ volatile("" ::: "memory");
    }
  } else if (kind == REMC_FI_heap_exhaust) {
    /* a bump allocator without its bounds check: 4 KiB blocks, each touched, forever */
    for (uint64_t cur = 0;; cur += 4096) {
      volatile uint8_t *b = heap + cur;
      for (uint32_t i = 0; i < 4096; i += 64) b[i] = 0x43;
    }
  }
  (void)sink;
}
