/*
 * domain_internal.h — layout shared by domain.c and gate.S (not part of the public API).
 *
 * struct remc_gate is the part of a domain the gate and the rewind touch. It lives in root
 * memory (pkey 0): the domain may read it in mode PKU but never write it, and in PKU_STRICT it
 * cannot even read it. The G_* offsets are checked against the struct by _Static_assert in
 * domain.c, so the two stay in step.
 */
#ifndef REMC_DOMAIN_INTERNAL_H
#define REMC_DOMAIN_INTERNAL_H

#define G_RSP        0   /* host rsp at entry (points at the caller's return address) */
#define G_RBX        8
#define G_RBP       16
#define G_R12       24
#define G_R13       32
#define G_R14       40
#define G_R15       48
#define G_STACK_TOP 56   /* domain stack top, 16-byte aligned */
#define G_HOST_PKRU 64   /* u32: RDPKRU at entry, restored exactly at exit and by the rewind */
#define G_DOM_PKRU  68   /* u32: the PKRU the domain runs with */
#define G_FLAGS     72   /* u32: GF_* */
#define G_IN_DOMAIN 76   /* u32: 1 from the stack switch until the host PKRU is back */
#define G_SEQ       80   /* u64: calls entered (the watchdog compares it between samples) */
#define G_MXCSR     88   /* u32: host MXCSR (SysV: its control bits are callee-saved) */
#define G_FCW       92   /* u16: host x87 control word (likewise) */

#define GF_HW_PKU   1    /* RDPKRU/WRPKRU exist: save and restore the host PKRU */
#define GF_SWITCH   2    /* write the domain PKRU (PKU, PKU_STRICT); clear in NONE */

/* Offsets inside remc_gate_ro (one page, domain-read-only key; see gate.S). */
#define RO_CANARY        0  /* __stack_chk_guard for domain code (-mstack-protector-guard=global) */

/* Each domain thread has its own protection key, so its PKRU values are its own too. They are
 * sealed in two pages made for the thread (remc_seal in domain.c), read-only to everyone:
 *  - the gate page (read-only key): the two legitimate domain PKRU values the entry checks
 *    against, ERIM-style. Readable in both domain modes; found through the GS base, which
 *    remc_domain_create points at it once per thread (glibc and V8 leave GS alone on x86-64),
 *    because in PKU_STRICT no pkey-0 memory (TLS included) is readable after the switch;
 *  - the signal page (pkey 0): the PKRU the signal entries switch to (the kernel's init PKRU
 *    plus the thread's key), found through remc_tls_seal, because a handler starts under the
 *    init PKRU where only pkey 0 is readable. NULL on a thread without a key: no switch. */
#define SEAL_PKRU_PKU    0  /* gate page, %gs-relative */
#define SEAL_PKRU_STRICT 4
#define SEAL_PKRU_TRANSIT 8 /* strict exit: first PKRU, lets the exit read TLS and the gate struct
                               (the thread's host PKRU at its preparation: pkey 0 and the thread's
                               key RW; a signal frame may land on the thread's keyed altstack
                               meanwhile, written under it before Linux 6.12) */
#define SEAL_SIG_PKRU    0  /* signal page, through remc_tls_seal */
#define SEAL_KEY         4

#ifndef __ASSEMBLER__
#include <signal.h>
#include <stdint.h>

struct remc_gate {
  uint64_t rsp, rbx, rbp, r12, r13, r14, r15;
  uint64_t stack_top;
  uint32_t host_pkru;
  uint32_t dom_pkru;
  uint32_t flags;
  volatile uint32_t in_domain;
  volatile uint64_t seq;
  uint32_t mxcsr;
  uint16_t fcw;
  uint16_t pad;
};

struct remc_gate_ro {
  uint64_t canary;
};

struct remc_seal_gate { uint32_t pkru_pku, pkru_strict, pkru_transit; };
struct remc_seal_sig { uint32_t sig_pkru; int32_t key; };

/* gate.S */
extern struct remc_gate_ro remc_gate_ro;
extern char remc_gate_ro_end[];
/* The entries every signal handler of ours starts with: they switch to the thread's sealed
 * signal PKRU, then jump to remc_on_signal / remc_on_chained_signal. */
void remc_sig_entry(int sig, siginfo_t *si, void *uc);
void remc_sig_entry_chain(int sig, siginfo_t *si, void *uc);
/* Enter the domain: returns 0 after fn returned, or the code passed to remc_gate_rewind. */
int remc_gate_call(struct remc_gate *g, void (*fn)(void *, void *), void *a1, void *a2);
int remc_gate_call_strict(struct remc_gate *g, void (*fn)(void *, void *), void *a1, void *a2);
/* From the fault handler only: back to the entry's caller with the host PKRU, stack and
 * callee-saved registers; remc_gate_call returns `code`. Takes the gate from TLS, never from
 * a register. */
__attribute__((noreturn)) void remc_gate_rewind(int code);

/* The gate of the domain running on this thread (initial-exec: no allocation in the handler). */
extern __thread struct remc_gate *remc_tls_gate __attribute__((tls_model("initial-exec")));
/* This thread's sealed signal page, or NULL (no key). */
extern __thread const struct remc_seal_sig *remc_tls_seal __attribute__((tls_model("initial-exec")));
#endif

#endif
