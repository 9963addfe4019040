/*
 * remc_fault_inject.h — the faults `debug_fault <id>` makes the parser commit inside the domain
 * (only when remc_parse_io.opts has REMC_IN_FAULT_INJECTION, i.e. --enable-fault-injection).
 *
 * X(name, id, kind_pku, kind_none, kind_sfi):
 *   id         the number on the wire; stable, never reused
 *   kind_pku   the remc_fault_kind the runtime must report in PKU and PKU_STRICT (the mechanism
 *              that catches it in the wild: PKU fault, canary, guard page, trap, watchdog)
 *   kind_none  the same with --isolation=none: root/store accesses then succeed (`none`: the call
 *              returns normally and the target really is corrupted/read — that is the point)
 *   kind_sfi   the same with --isolation=sfi (the WebAssembly build, native/wasm/; traps are
 *              classified by native/sfi.ts). The root and store words have no address inside the
 *              module's memory: root hands the parser an address outside it, so kinds 1-3 are an
 *              out-of-bounds trap (segv) and cannot reach their target. Address 0 is ordinary
 *              wasm memory, so NULL accesses are checked (-fsanitize=null: segv); the shadow
 *              stack wraps below 0 (stack_overflow); the heap ends the memory (heap); the loop
 *              budget stands in for the watchdog (timeout).
 * Tests iterate this table; the binding exports it to TypeScript.
 */
#ifndef REMC_FAULT_INJECT_H
#define REMC_FAULT_INJECT_H

#include <stdint.h>
#include "remc_abi.h"

#define REMC_FAULT_INJECTIONS(X)                                                              \
  X(root_write,    1, pku,            none,    segv)    /* store to fault_target[0] (a root word)  */ \
  X(store_write,   2, pku,            none,    segv)    /* store to fault_target[1] (a store word) */ \
  X(store_read,    3, pku,            none,    segv)    /* load from fault_target[1]               */ \
  X(stack_smash,   4, canary,         canary,  canary)  /* overflow a stack buffer past its canary */ \
  X(stack_exhaust, 5, stack_overflow, stack_overflow, stack_overflow) /* unbounded recursion    */ \
  X(heap_overrun,  6, heap,           heap,    heap)    /* write past the last scratch-heap block  */ \
  X(null_deref,    7, segv,           segv,    segv)    /* load through a NULL pointer             */ \
  X(wild_pointer,  8, segv,           segv,    segv)    /* store through a non-canonical pointer   */ \
  X(illegal_insn,  9, ill,            ill,     ill)     /* ud2                                     */ \
  X(div_zero,     10, fpe,            fpe,     fpe)     /* integer division by zero                */ \
  X(abort,        11, abort,          abort,   abort)   /* remc_domain_abort()                     */ \
  X(endless_loop, 12, timeout,        timeout, timeout) /* spin until the watchdog interrupts it   */ \
  X(heap_exhaust, 13, heap,           heap,    heap)    /* unchecked bump allocation until the guard */

/* Faults on another worker thread's domain (-t N): they need a peer, so they are apart from
 * the table above, which every mode and -t 1 test iterates. fault_target[2] is a word in the
 * domain memory of another worker (the next one in worker order; 0 without one, a NULL access).
 * P(name, id, kind_own_key, kind_shared_key):
 *   kind_own_key     each worker thread has its own key: the peer's memory is denied (pku)
 *   kind_shared_key  the workers share one key (keys ran out): the access succeeds, the peer's
 *                    word really is overwritten/read (none: the call returns normally) */
#define REMC_PEER_FAULT_INJECTIONS(P)                                                         \
  P(peer_write, 14, pku, none) /* store to fault_target[2] (a word of another worker's domain) */ \
  P(peer_read,  15, pku, none) /* load from fault_target[2]                                   */

enum remc_fault_injection {
#define REMC_X_ENUM(name, id, kp, kn, ks) REMC_FI_##name = id,
  REMC_FAULT_INJECTIONS(REMC_X_ENUM)
#undef REMC_X_ENUM
#define REMC_P_ENUM(name, id, ko, ks) REMC_FI_##name = id,
  REMC_PEER_FAULT_INJECTIONS(REMC_P_ENUM)
#undef REMC_P_ENUM
  REMC_FI_MAX = 15
};

/* Domain code (native/parser/fault_inject.c). Commits fault `kind`; returns only when the
 * fault did not stop it (isolation none, or an unknown kind). */
void remc_fault_inject(remc_parse_io *io, uint32_t kind);

#endif
