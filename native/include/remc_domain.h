/*
 * remc_domain.h — the domain runtime: memory the parser may touch, the gate that runs it there
 * with a PKRU that forbids everything else, and the rewind that discards it after a fault.
 * See ../shared/DESIGN.md (invariants) and ../shared/reference/pku-linux.md (the traps).
 *
 * Modes (same code path in all of them):
 *   NONE        no hardware protection; the parser runs on the domain stack without a PKRU change
 *   PKU         domain PKRU: own key RW, pkey 0 read-only, every other key no access
 *   PKU_STRICT  as PKU but pkey 0 no access either (the parser sees only domain memory)
 */
#ifndef REMC_DOMAIN_H
#define REMC_DOMAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum remc_isolation { REMC_ISO_NONE = 0, REMC_ISO_PKU = 1, REMC_ISO_PKU_STRICT = 2,
                      REMC_ISO_AUTO = 3 /* request only: PKU when available, else NONE */ };

/* Fault kinds reported after a rewind (also the stats counter names, `stats` field
 * `parser_faults_<name>`). */
#define REMC_FAULT_KINDS(X) \
  X(none)         \
  X(pku)          /* SIGSEGV SEGV_PKUERR: touched memory its PKRU denies */ \
  X(segv)         /* other SIGSEGV (unmapped, NULL, guard page) */ \
  X(bus)          \
  X(ill)          /* illegal instruction, __builtin_trap, stack protector */ \
  X(fpe)          \
  X(trap)         \
  X(timeout)      /* the watchdog interrupted a runaway parse */ \
  X(heap)         /* scratch heap overrun / exhaustion detected */ \
  X(abort)        /* the parser called abort() (trap via our own hidden abort) */

enum remc_fault_kind {
#define REMC_X_ENUM(id) REMC_FAULT_##id,
  REMC_FAULT_KINDS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_FAULT_COUNT
};

typedef struct remc_fault_info {
  uint32_t kind;      /* enum remc_fault_kind */
  int32_t signo;
  int32_t code;       /* si_code */
  int32_t pkey;       /* si_pkey for SEGV_PKUERR, else -1 */
  uint64_t addr;      /* si_addr */
  uint64_t rewind_ns; /* fault to recovered, measured in the runtime */
} remc_fault_info;

typedef struct remc_domain_config {
  int isolation;            /* enum remc_isolation (REMC_ISO_AUTO allowed) */
  size_t window_cap;        /* input window bytes (>= largest command incl. data block) */
  size_t io_cap;            /* bytes for remc_parse_io + descriptors */
  size_t stack_size;        /* domain stack (plus a guard page below it) */
  size_t heap_size;         /* scratch heap (bump allocator) */
  uint32_t watchdog_ms;     /* bound on one call; 0 = off */
} remc_domain_config;

/* Process-wide, once (idempotent): allocate the domain key (and the store key), install fault
 * handlers, chaining to the previous ones. Returns the mode in force; when it is weaker than
 * requested, *why says why (e.g. "pkey_alloc: ENOSYS"). */
int remc_domain_process_init(int requested, const char **why);
int remc_domain_mode(void);
/* The key the store should tag its memory with, or -1 (mode NONE). */
int remc_domain_store_pkey(void);

typedef struct remc_domain remc_domain;

/* Per thread. NULL on failure. */
remc_domain *remc_domain_create(const remc_domain_config *cfg);
void remc_domain_destroy(remc_domain *d);

uint8_t *remc_domain_window(remc_domain *d);       /* window_cap bytes, domain memory */
size_t remc_domain_window_cap(remc_domain *d);
void *remc_domain_io(remc_domain *d);              /* io_cap bytes, domain memory */
size_t remc_domain_io_cap(remc_domain *d);

typedef void (*remc_domain_fn)(void *arg1, void *arg2);

/* Run fn(arg1, arg2) inside the domain. Returns 0 after a normal return, else the fault kind
 * (info filled). After either, the scratch heap is reset and scrubbed and every permission is
 * as before the call; the thread's PKRU equals what it was on entry. */
int remc_domain_call(remc_domain *d, remc_domain_fn fn, void *arg1, void *arg2,
                     remc_fault_info *info);

/* The scratch heap (domain memory). Domain code bump-allocates from it through
 * remc_parse_io.heap_base/heap_size (its allocator state is a local of the call, so it resets by
 * itself); the runtime scrubs it up to io->heap_used after each call, and wholly after a fault. */
uint8_t *remc_domain_heap(remc_domain *d, size_t *size);

typedef struct remc_domain_stats {
  uint64_t calls;
  uint64_t faults[REMC_FAULT_COUNT];
} remc_domain_stats;
void remc_domain_get_stats(remc_domain *d, remc_domain_stats *out);

#ifdef __cplusplus
}
#endif
#endif
