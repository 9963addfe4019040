/*
 * remc_domain.h — the domain runtime: memory the parser may touch, the gate that runs it there
 * with a PKRU that forbids everything else, and the rewind that discards it after a fault.
 * See ../shared/DESIGN.md (invariants) and ../shared/reference/pku-linux.md (the traps).
 *
 * Modes (same code path in all of them):
 *   NONE        no hardware protection; the parser runs on the domain stack without a PKRU change
 *   PKU         domain PKRU: own key RW, pkey 0 read-only, every other key no access (the
 *               store's, V8's, other threads' domains') except one read-only key for sealed
 *               pages holding the gate's check values and the domain code's stack canary.
 *               Each domain thread has a key of its own while keys last (16 per process, fewer
 *               free: about 11 threads), then the shared key (remc_domain_key_is_shared)
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
  X(ill)          /* illegal instruction, __builtin_trap, a failed gate PKRU check */ \
  X(fpe)          \
  X(trap)         \
  X(timeout)      /* the watchdog interrupted a runaway parse */ \
  X(heap)         /* scratch heap overrun / exhaustion detected */ \
  X(abort)        /* the parser called remc_domain_abort() (a trap at a known address) */ \
  X(canary)       /* the stack protector caught a smashed canary (hidden __stack_chk_fail) */ \
  X(stack_overflow) /* SIGSEGV inside the guard gap below the domain stack */

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
  uint64_t ip;        /* faulting instruction address (for logs; never the input bytes) */
} remc_fault_info;

typedef struct remc_domain_config {
  int isolation;            /* enum remc_isolation (REMC_ISO_AUTO allowed) */
  size_t window_cap;        /* input window bytes (>= largest command incl. data block) */
  size_t io_cap;            /* bytes for remc_parse_io + descriptors */
  size_t stack_size;        /* domain stack (plus a 64 KiB PROT_NONE guard gap below it) */
  size_t heap_size;         /* scratch heap (plus a 64 KiB guard gap after it); the fault path
                               scrubs 64 KiB inline and madvises the rest, so keep it small */
  uint32_t watchdog_ms;     /* bound on one call; 0 = off */
} remc_domain_config;

/* Process-wide, once (idempotent): allocate the shared domain key, the store key and a read-only key
 * (never freed), seal the gate page, install the fault handlers (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGTRAP and the watchdog's signal; SA_ONSTACK|SA_NODEFER, chaining to the previous
 * ones for faults that are not the domain's). Returns the mode for this request; when it is
 * weaker than requested, *why says why (e.g. "pkey_alloc: no free protection key"). A first
 * request for NONE allocates no keys and stays final for the process. */
int remc_domain_process_init(int requested, const char **why);
int remc_domain_mode(void);
/* After a failed self-test: the process runs mode NONE (the keys stay allocated, unused). */
void remc_domain_process_fall_back_to_none(void);
/* The key the store should tag its memory with, or -1 (mode NONE). */
int remc_domain_store_pkey(void);
/* The calling thread's domain key (the shared one before the thread made a domain), or -1
 * (mode NONE). For tests and logs (si_pkey comparisons). */
int remc_domain_pkey(void);
/* Threads that got the shared key because no key of their own was left (or because
 * REMCACHED_TEST_SHARED_PKEY=1, for tests that show what sharing costs). */
int remc_domain_key_fallbacks(void);
/* The calling thread's PKRU (RDPKRU), or 0 without PKU. Tests compare it before/after faults. */
uint32_t remc_domain_thread_pkru(void);

/* The watchdog interrupts a runaway call with this thread-directed signal (SIGRTMIN+4); the
 * server must not use it. */
#define REMC_DOMAIN_WATCHDOG_SIGNO_OFFSET 4

/*
 * Per domain thread, done once by remc_domain_create (no system call per event afterwards):
 *  - glibc's rseq area is unregistered (the kernel would write it under the domain PKRU and kill
 *    the process, pku-linux.md section 0.1); unless GLIBC_TUNABLES=glibc.pthread.rseq=0 already did;
 *  - a 64 KiB sigaltstack in root memory is installed, and every fault handler is SA_ONSTACK;
 *  - asynchronous signals are blocked on this thread for good, except SIGPROF (V8's profiler
 *    signal, thread-directed and SA_ONSTACK; patched to SA_ONSTACK if it is not) and the
 *    watchdog signal. Process-directed signals (SIGINT, SIGTERM, SIGCHLD, process.on(...)) are
 *    then delivered to another thread, where Node/libuv handle them as usual. Threads this
 *    thread creates later inherit the mask; child processes get a clean one (libuv resets it).
 *  - the thread gets its protection key (or the shared one) and two sealed pages with its PKRU
 *    values; the GS base points at one of them (the gate's entry check reads it there);
 *  - the calling thread's PKRU is given access to its key, the read-only and the store keys.
 */

typedef struct remc_domain remc_domain;

/* Proves, on the calling thread, that a fault inside domain d is caught and rewound: one write
 * to a root word from inside, first in a forked child (where a kernel that cannot deliver the
 * fault kills only the child), then here. 0 = it holds (always for mode NONE); -1 = it does
 * not, and why says why in one line. */
int remc_domain_self_test(remc_domain *d, char *why, size_t why_len);

/* Per thread: create, call and destroy a domain on the same thread. NULL on failure (errno:
 * EINVAL before remc_domain_process_init, ENOTSUP for a PKU mode without keys). */
remc_domain *remc_domain_create(const remc_domain_config *cfg);
void remc_domain_destroy(remc_domain *d);

uint8_t *remc_domain_window(remc_domain *d);       /* window_cap bytes, domain memory */
size_t remc_domain_window_cap(remc_domain *d);
void *remc_domain_io(remc_domain *d);              /* io_cap bytes, domain memory */
size_t remc_domain_io_cap(remc_domain *d);

typedef void (*remc_domain_fn)(void *arg1, void *arg2);

/* Domain code's abort(): a trap at a known address, reported as REMC_FAULT_abort. (Domain code
 * must not call libc's abort: it takes locks and writes root memory.) Outside the domain it is
 * fatal like abort(). __stack_chk_fail is replaced the same way for the whole addon (kind
 * canary); domain code compiled with -mstack-protector-guard=global reads the canary
 * __stack_chk_guard from a page the domain may read in every mode. */
__attribute__((noreturn)) void remc_domain_abort(void);

/* Run fn(arg1, arg2) inside the domain. Returns 0 after a normal return, else the fault kind
 * (info filled). After either, the scratch heap is reset and scrubbed and every permission is
 * as before the call; the thread's PKRU equals what it was on entry.
 * The io area is a remc_parse_io: before the call the window is zeroed from io->len up to the
 * longest input of earlier calls (one client's bytes are never visible to the next), after it
 * the heap is zeroed up to io->heap_used (everything after a fault). */
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

/* The mode this domain runs in (enum remc_isolation, never AUTO). */
int remc_domain_isolation(remc_domain *d);
/* Its memory's protection key (its thread's), -1 in mode NONE; whether that is the shared key,
 * which every other thread without a key of its own uses too (their domains are then not
 * isolated from each other, only from the rest of the process). */
int remc_domain_key(remc_domain *d);
int remc_domain_key_is_shared(remc_domain *d);
/* Change the watchdog bound of a live domain (0 = off). */
void remc_domain_set_watchdog_ms(remc_domain *d, uint32_t ms);

#ifdef __cplusplus
}
#endif
#endif
