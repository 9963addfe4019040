/*
 * domain.c — the domain runtime: keys, per-thread domain memory, fault handlers, rewind
 * bookkeeping, watchdog. The gate and the rewind themselves are in gate.S.
 * Facts this relies on: ../shared/reference/pku-linux.md (sections cited as §n).
 */
/* x86-64 only: elsewhere native/runtime/domain_portable.c provides the runtime (mode none). */
#if defined(__x86_64__)

#include "remc_domain.h"
#include "remc_abi.h"
#include "domain_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <cpuid.h>

_Static_assert(offsetof(struct remc_gate, rsp) == G_RSP, "G_RSP");
_Static_assert(offsetof(struct remc_gate, r15) == G_R15, "G_R15");
_Static_assert(offsetof(struct remc_gate, stack_top) == G_STACK_TOP, "G_STACK_TOP");
_Static_assert(offsetof(struct remc_gate, host_pkru) == G_HOST_PKRU, "G_HOST_PKRU");
_Static_assert(offsetof(struct remc_gate, dom_pkru) == G_DOM_PKRU, "G_DOM_PKRU");
_Static_assert(offsetof(struct remc_gate, flags) == G_FLAGS, "G_FLAGS");
_Static_assert(offsetof(struct remc_gate, in_domain) == G_IN_DOMAIN, "G_IN_DOMAIN");
_Static_assert(offsetof(struct remc_gate, seq) == G_SEQ, "G_SEQ");
_Static_assert(offsetof(struct remc_gate, mxcsr) == G_MXCSR, "G_MXCSR");
_Static_assert(offsetof(struct remc_gate, fcw) == G_FCW, "G_FCW");
_Static_assert(offsetof(struct remc_seal_gate, pkru_pku) == SEAL_PKRU_PKU, "SEAL_PKRU_PKU");
_Static_assert(offsetof(struct remc_seal_gate, pkru_strict) == SEAL_PKRU_STRICT, "SEAL_PKRU_STRICT");
_Static_assert(offsetof(struct remc_seal_gate, pkru_transit) == SEAL_PKRU_TRANSIT, "SEAL_PKRU_TRANSIT");
_Static_assert(offsetof(struct remc_seal_sig, sig_pkru) == SEAL_SIG_PKRU, "SEAL_SIG_PKRU");
_Static_assert(offsetof(struct remc_seal_sig, key) == SEAL_KEY, "SEAL_KEY");

#define PAGE 4096u
#define STACK_GUARD (64u << 10) /* gap below the stack: a big frame cannot jump over it */
#define ALTSTACK_SIZE (64u << 10)
#define FAULT_SCRUB_INLINE (64u << 10) /* after a fault: memset this much, madvise the rest */
#define WD_SIGNO (SIGRTMIN + REMC_DOMAIN_WATCHDOG_SIGNO_OFFSET)

__thread struct remc_gate *remc_tls_gate __attribute__((tls_model("initial-exec")));
__thread const struct remc_seal_sig *remc_tls_seal __attribute__((tls_model("initial-exec")));

/* Trap addresses defined in traps.S: the handler tells a canary failure or an abort from any
 * other illegal instruction by the faulting RIP. */
extern const char remc_trap_canary[], remc_trap_abort[], remc_trap_gate[];

struct remc_domain {
  struct remc_gate g; /* first: remc_tls_gate points here */
  int isolation;
  int key;            /* its memory's protection key (its thread's), -1 in mode NONE */
  pid_t tid;
  /* one mapping: [stack guard][stack][heap][guard][window][guard][io][guard] */
  uint8_t *map;
  size_t map_len;
  uint8_t *stack_lo, *heap, *heap_guard, *window, *io;
  size_t stack_size, heap_size, heap_guard_size, window_cap, io_cap;
  sigset_t host_mask; /* the thread's mask, cached at create: restored after a fault if changed */
  remc_domain_stats stats;
  /* written by the fault handler (root memory, pkey 0: writable under the handler's PKRU) */
  remc_fault_info fault;
  struct timespec fault_t0;
  int mask_changed;
  size_t window_hw; /* highest input length root has put in the window since the last scrub */
  /* watchdog (its thread reads g.seq/g.in_domain; wd_* below are its own, under wd_lock) */
  uint64_t wd_bound_ns;
  uint64_t wd_seq, wd_since;   /* the call last seen in the domain, and its thread's CPU time then */
  clockid_t cpu_clock;         /* the domain thread's CPU-time clock (the watchdog's measure) */
  volatile uint64_t wd_fire_seq; /* the call the watchdog signalled; the handler checks it */
  struct remc_domain *wd_next;
};

/* Process state ------------------------------------------------------------------------- */

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int proc_inited;              /* handlers installed, RO page sealed */
static int proc_mode = -1;           /* mode decided by the first remc_domain_process_init */
static int have_ospke;               /* RDPKRU/WRPKRU usable */
static int have_avx2;                /* the fault path's heap scan */
/* key_shared: the domain key of every thread once no key of its own is left (16 keys in all;
 * Node's V8 holds one, these three, pkey 0: 11 threads get their own). */
static int key_shared = -1, key_store = -1, key_ro = -1;
static int test_shared_key;          /* REMCACHED_TEST_SHARED_PKEY=1: every thread takes key_shared */
/* Thread keys: users per key (the thread, its domains); one no longer used by anything goes back
 * to a free list of this process, never to pkey_free (§5.2: pages may still carry it). */
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static int key_users[16], key_free[16], n_key_free, key_fallbacks;
static const char *keys_why = "";
static int test_altstack_pkey0;      /* REMCACHED_TEST_ALTSTACK_PKEY0=1: see remc_domain_process_init */
static uint32_t xsave_pkru_off;      /* offset of PKRU in the XSAVE area (CPUID 0xD.9 EBX) */
static struct sigaction old_act[65]; /* previous handlers, for chaining */
static struct sigaction chain_act[65]; /* someone else's handler that remc_sig_entry_chain runs */
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct remc_domain *wd_list;
static int wd_started;

/* Per thread */
static __thread int t_prepared __attribute__((tls_model("initial-exec")));
/* this thread's alternate signal stack (with PKU it carries the thread's key) */
static __thread uint8_t *t_altstack __attribute__((tls_model("initial-exec")));
/* this thread's domain key (-1: none yet, or no keys in this process) */
static __thread int t_key __attribute__((tls_model("initial-exec"))) = -1;

static inline uint32_t rdpkru(void) {
  uint32_t eax, edx;
  __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
  return eax;
}

uint32_t remc_domain_thread_pkru(void) { return have_ospke ? rdpkru() : 0; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* PKRU: key i has AD = bit 2i, WD = bit 2i+1. Start from "everything denied": every other
 * thread's key too. */
static uint32_t pkru_for(int strict, int key_dom) {
  uint32_t v = 0xffffffffu;
  v &= ~(3u << (2 * 0));
  v |= strict ? (3u << 0) : (2u << 0);        /* pkey 0: write-disabled, or no access */
  v &= ~(3u << (2 * key_dom));                 /* own key: read/write */
  v &= ~(3u << (2 * key_ro));
  v |= 2u << (2 * key_ro);                      /* gate constants and canary: read-only */
  return v;                                     /* store key and all others: no access */
}

/* Fault handling ----------------------------------------------------------------------- */

static int in_range(uint64_t a, const void *lo, size_t len) {
  return a >= (uint64_t)(uintptr_t)lo && a < (uint64_t)(uintptr_t)lo + len;
}

/* The handler path runs with the kernel's init PKRU (only pkey 0 accessible): it must not read
 * a canary that lives elsewhere (domain code's __stack_chk_guard, if this file were built with
 * -mstack-protector-guard=global as in the native test), so no stack protector on it. */
#define HANDLER_FN __attribute__((no_stack_protector))

/* PKRU of the interrupted context, from the XSAVE area of the signal frame; -1 if absent. */
HANDLER_FN static int64_t frame_pkru(const ucontext_t *uc) {
  const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
  if (!fp || !xsave_pkru_off) return -1;
  const struct _fpx_sw_bytes *sw = (const struct _fpx_sw_bytes *)(fp + 464);
  if (sw->magic1 != FP_XSTATE_MAGIC1 || sw->xstate_size < xsave_pkru_off + 4) return -1;
  uint64_t xstate_bv;
  memcpy(&xstate_bv, fp + 512, 8);
  if (!(xstate_bv & (1ull << 9))) return 0; /* PKRU in its init state */
  uint32_t v;
  memcpy(&v, fp + xsave_pkru_off, 4);
  return v;
}

/* Was the interrupted instruction domain code? in_domain alone is not enough: a signal handler
 * (e.g. V8's SIGPROF sampler) may fault on the alternate stack while in_domain is set. */
HANDLER_FN static int interrupted_domain(struct remc_domain *d, const ucontext_t *uc) {
  uint64_t rsp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
  if (in_range(rsp, d->stack_lo - STACK_GUARD, STACK_GUARD + d->stack_size + 1)) return 1;
  if (d->g.flags & GF_SWITCH) {
    int64_t p = frame_pkru(uc);
    if (p >= 0 && (uint32_t)p == d->g.dom_pkru) return 1;
  }
  return 0;
}

HANDLER_FN static void forward(int sig, siginfo_t *si, void *uc) {
  struct sigaction *o = &old_act[sig];
  if (o->sa_flags & SA_SIGINFO) {
    if (o->sa_sigaction) { o->sa_sigaction(sig, si, uc); return; }
  } else if (o->sa_handler == SIG_IGN) {
    return;
  } else if (o->sa_handler != SIG_DFL) {
    o->sa_handler(sig);
    return;
  }
  /* Default action: restore it and let the fault happen again (or re-raise a sent signal). */
  signal(sig, SIG_DFL);
  if (si->si_code <= 0) raise(sig);
}

/* Make the interrupted context resume with PKRU `v` (sigreturn loads it from the frame). */
HANDLER_FN static int frame_set_pkru(ucontext_t *uc, uint32_t v) {
  uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
  if (!fp || !xsave_pkru_off) return 0;
  const struct _fpx_sw_bytes *sw = (const struct _fpx_sw_bytes *)(fp + 464);
  if (sw->magic1 != FP_XSTATE_MAGIC1 || sw->xstate_size < xsave_pkru_off + 4) return 0;
  uint64_t xstate_bv;
  memcpy(&xstate_bv, fp + 512, 8);
  xstate_bv |= 1ull << 9; /* PKRU present: else XRSTOR would load its init value */
  memcpy(fp + 512, &xstate_bv, 8);
  memcpy(fp + xsave_pkru_off, &v, 4);
  return 1;
}

/* Every handler of ours is entered through remc_sig_entry (gate.S), which has already switched
 * to the thread's sealed signal PKRU. */
__attribute__((visibility("hidden"))) HANDLER_FN void remc_on_signal(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = (ucontext_t *)ucv;
  struct remc_domain *d = (struct remc_domain *)remc_tls_gate;
  uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
  /* A failed gate check is the domain's fault wherever its stack and PKRU were. */
  if (d && d->g.in_domain && (interrupted_domain(d, uc) || (sig == SIGILL && rip == (uint64_t)(uintptr_t)remc_trap_gate))) {
    uint32_t kind;
    uint64_t addr = (uint64_t)(uintptr_t)si->si_addr, ip = rip;
    int pkey = -1;
    if (sig == WD_SIGNO) {
      /* only the watchdog's signal for this very call */
      if (si->si_code != SI_TKILL || si->si_pid != getpid() || d->wd_fire_seq != d->g.seq) return;
      kind = REMC_FAULT_timeout;
      addr = 0;
    } else if (sig == SIGSEGV) {
      /* guards first: they carry the domain key, but a PKU check may still be what fires */
      if (in_range(addr, d->stack_lo - STACK_GUARD, STACK_GUARD)) {
        kind = REMC_FAULT_stack_overflow;
      } else if (in_range(addr, d->heap_guard, d->heap_guard_size)) {
        kind = REMC_FAULT_heap;
      } else if (si->si_code == SEGV_PKUERR) {
        kind = REMC_FAULT_pku;
        pkey = (int)si->si_pkey;
      } else {
        kind = REMC_FAULT_segv;
      }
    } else if (sig == SIGILL) {
      kind = ip == (uint64_t)(uintptr_t)remc_trap_canary  ? REMC_FAULT_canary
           : ip == (uint64_t)(uintptr_t)remc_trap_abort   ? REMC_FAULT_abort
                                                          : REMC_FAULT_ill;
    } else if (sig == SIGBUS) {
      kind = REMC_FAULT_bus;
    } else if (sig == SIGFPE) {
      kind = REMC_FAULT_fpe;
    } else {
      kind = REMC_FAULT_trap;
    }
    clock_gettime(CLOCK_MONOTONIC, &d->fault_t0);
    d->fault.kind = kind;
    d->fault.signo = sig;
    d->fault.code = si->si_code;
    d->fault.pkey = pkey;
    d->fault.addr = addr;
    d->fault.ip = ip;
    /* The handler runs with the interrupted mask plus ASYNC_IN_HANDLER (see install_handler),
     * and the direct-jump rewind keeps it: remc_domain_call puts the cached host mask back when
     * they differ. Only the kernel's 64 bits are compared: the rest of glibc's sigset_t in the
     * frame is garbage. */
    sigset_t m = uc->uc_sigmask;
    sigaddset(&m, SIGPROF);
    sigaddset(&m, WD_SIGNO);
    d->mask_changed = memcmp(&m, &d->host_mask, 8) != 0;
    remc_gate_rewind((int)kind);
  }
  if (sig == WD_SIGNO) return; /* late watchdog signal: the call is already over */
  /* A handler of someone else's, installed SA_ONSTACK after we wrapped the ones we knew of, ran
   * on our alternate stack under the kernel's init PKRU and could not touch it (the domain key is
   * access-disabled there). Let it resume with that key enabled. (Before Linux 6.12 the kernel
   * cannot even write this fault's frame, so such handlers are wrapped instead: see
   * wrap_onstack_handlers.) */
  int tkey = remc_tls_seal ? remc_tls_seal->key : -1;
  if (sig == SIGSEGV && si->si_code == SEGV_PKUERR && tkey >= 0 && (int)si->si_pkey == tkey &&
      t_altstack && in_range((uint64_t)(uintptr_t)si->si_addr, t_altstack, ALTSTACK_SIZE)) {
    int64_t p = frame_pkru(uc);
    if (p >= 0 && frame_set_pkru(uc, (uint32_t)p & ~(3u << (2 * tkey)))) return;
  }
  if (sig == SIGILL && rip == (uint64_t)(uintptr_t)remc_trap_canary) {
    static const char m[] = "*** stack smashing detected ***: terminated (remcached host code)\n";
    (void)!write(2, m, sizeof m - 1);
  }
  int e = errno;
  forward(sig, si, ucv);
  errno = e;
}

/* Someone else's handler (V8's SIGPROF sampler), run from remc_sig_entry_chain with the PKRU
 * that lets it use our alternate stack. */
__attribute__((visibility("hidden"))) HANDLER_FN void remc_on_chained_signal(int sig, siginfo_t *si, void *uc) {
  const struct sigaction *o = &chain_act[sig];
  if (o->sa_flags & SA_SIGINFO) {
    if (o->sa_sigaction) o->sa_sigaction(sig, si, uc);
  } else if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) {
    o->sa_handler(sig);
  }
}

static int install_handler(int sig, struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = remc_sig_entry;
  /* ONSTACK: never run on the domain stack. NODEFER: a fault signal is never blocked (a blocked
   * one is fatal). The asynchronous signals that can reach a domain thread (SIGPROF, the
   * watchdog's) are blocked while a handler runs: one arriving in the first instructions of
   * remc_sig_entry, before its WRPKRU, would need a frame on the alternate stack while the
   * kernel's init PKRU denies its key, and a kernel before 6.12 kills the process for that.
   * RESTART: a late watchdog signal must not
   * turn a host system call into EINTR. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGPROF);
  sigaddset(&sa.sa_mask, WD_SIGNO);
  return sigaction(sig, &sa, old);
}

/* Keys and process init ------------------------------------------------------------------ */

static void detect_cpu(void) {
  unsigned a, b, c, d;
  __builtin_cpu_init();
  have_avx2 = __builtin_cpu_supports("avx2");
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 4))) have_ospke = 1; /* OSPKE */
  if (__get_cpuid_count(0xd, 9, &a, &b, &c, &d) && a >= 4) xsave_pkru_off = b;
}

static int alloc_keys(void) {
  if (key_shared >= 0) return 0;
  if (!have_ospke) { keys_why = "no PKU: the CPU lacks memory protection keys or the kernel does not enable them (CPUID OSPKE=0)"; return -1; }
  /* Never freed (a freed key is handed out again while pages still carry it, §5.2). */
  int k1 = pkey_alloc(0, 0);
  int k2 = k1 >= 0 ? pkey_alloc(0, 0) : -1;
  int k3 = k2 >= 0 ? pkey_alloc(0, 0) : -1;
  if (k3 < 0) {
    keys_why = errno == ENOSPC ? "pkey_alloc: no free protection key"
             : errno == ENOSYS ? "pkey_alloc: ENOSYS (kernel without pkeys)"
             : errno == EINVAL ? "pkey_alloc: EINVAL (PKU disabled)"
                               : "pkey_alloc failed";
    /* keys already taken stay allocated but unused: still never freed */
    return -1;
  }
  key_shared = k1;
  key_users[k1] = 1; /* never on the free list */
  key_store = k2;
  key_ro = k3;
  return 0;
}

/* The canary of code built with -mstack-protector-guard=global must be set before any such
 * function runs (a frame live across the change would fail its check), so at load time; it is
 * sealed with the rest of the page by remc_domain_process_init. */
__attribute__((constructor, no_stack_protector)) static void init_canary(void) {
  uint64_t canary = 0;
  if (getrandom(&canary, sizeof canary, GRND_NONBLOCK) != sizeof canary)
    canary = now_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&canary;
  canary &= ~0xffull; /* a zero low byte stops string overflows, like glibc's canary */
  remc_gate_ro.canary = canary;
}

static int seal_ro_page(void) {
  struct remc_gate_ro *ro = &remc_gate_ro;
  size_t len = (size_t)((uintptr_t)remc_gate_ro_end - (uintptr_t)&remc_gate_ro);
  return key_ro >= 0 ? pkey_mprotect(ro, len, PROT_READ, key_ro) : mprotect(ro, len, PROT_READ);
}

int remc_domain_process_init(int requested, const char **why) {
  static const char *dummy;
  if (!why) why = &dummy;
  *why = "";
  pthread_mutex_lock(&init_lock);
  if (!proc_inited) {
    detect_cpu();
    /* Tests only: leave the altstack in pkey 0, as before 6.12 support, to show that the
     * start-up self-test catches a kernel where a domain fault is fatal. */
    const char *t = getenv("REMCACHED_TEST_ALTSTACK_PKEY0");
    test_altstack_pkey0 = t && *t == '1';
    /* Tests only: every thread takes the shared key, as when keys have run out, to show that
     * the domains are then open to each other. */
    t = getenv("REMCACHED_TEST_SHARED_PKEY");
    test_shared_key = t && *t == '1';
    /* Keys before sealing: the RO page (the canary) carries the read-only key. A later request
     * for PKU after a NONE start cannot add them (the page is sealed): NONE is then final. */
    if (requested != REMC_ISO_NONE) alloc_keys();
    if (seal_ro_page() != 0) {
      *why = "cannot protect the gate page";
      pthread_mutex_unlock(&init_lock);
      return -1;
    }
    for (size_t i = 0; i < sizeof fault_signals / sizeof fault_signals[0]; i++)
      install_handler(fault_signals[i], &old_act[fault_signals[i]]);
    install_handler(WD_SIGNO, &old_act[WD_SIGNO]);
    proc_inited = 1;
  }
  int mode = requested;
  if (mode == REMC_ISO_AUTO) mode = key_shared >= 0 ? REMC_ISO_PKU : REMC_ISO_NONE;
  if (mode != REMC_ISO_NONE && key_shared < 0) {
    *why = *keys_why ? keys_why : "isolation none was chosen first in this process";
    mode = REMC_ISO_NONE;
  } else if (requested == REMC_ISO_AUTO && mode == REMC_ISO_NONE) {
    *why = keys_why;
  }
  if (proc_mode < 0) proc_mode = mode;
  pthread_mutex_unlock(&init_lock);
  return mode;
}

int remc_domain_mode(void) { return proc_mode < 0 ? REMC_ISO_NONE : proc_mode; }
void remc_domain_process_fall_back_to_none(void) {
  pthread_mutex_lock(&init_lock);
  proc_mode = REMC_ISO_NONE;
  pthread_mutex_unlock(&init_lock);
}
int remc_domain_store_pkey(void) { return proc_mode > REMC_ISO_NONE ? key_store : -1; }
int remc_domain_pkey(void) { return t_key >= 0 ? t_key : key_shared; }
int remc_domain_key(remc_domain *d) { return d->key; }
int remc_domain_key_is_shared(remc_domain *d) { return d->key >= 0 && d->key == key_shared; }
int remc_domain_key_fallbacks(void) {
  pthread_mutex_lock(&key_lock);
  int n = key_fallbacks;
  pthread_mutex_unlock(&key_lock);
  return n;
}

/* Watchdog ----------------------------------------------------------------------------- */

static void wrap_onstack_handlers(void);

/* The CPU time the domain's thread has used (what the watchdog bounds: a stopped or preempted
 * process must not make an innocent call look like a runaway one); wall time if the thread's
 * clock cannot be read. */
static uint64_t wd_clock_ns(struct remc_domain *d) {
  struct timespec ts;
  if (clock_gettime(d->cpu_clock, &ts) != 0) return now_ns();
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *wd_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pid_t pid = getpid();
  for (unsigned round = 0;; round++) {
    uint64_t period = 25000000; /* ns; a quarter of the smallest bound, within [1, 25] ms */
    pthread_mutex_lock(&wd_lock);
    for (struct remc_domain *d = wd_list; d; d = d->wd_next) {
      if (!d->wd_bound_ns) continue;
      if (d->wd_bound_ns / 4 < period) period = d->wd_bound_ns / 4;
      uint64_t seq = d->g.seq;
      /* The thread's clock is read only for a call seen in the domain at two samples in a row:
       * no system call while calls are short. The first sample starts the count, so a runaway
       * call is stopped after between one bound and one bound plus a period of CPU time. */
      if (!d->g.in_domain) {
        d->wd_seq = 0;
      } else if (seq != d->wd_seq) {
        d->wd_seq = seq;
        d->wd_since = wd_clock_ns(d);
      } else {
        uint64_t t = wd_clock_ns(d);
        if (t - d->wd_since >= d->wd_bound_ns) {
          d->wd_fire_seq = seq;
          syscall(SYS_tgkill, pid, d->tid, WD_SIGNO);
          d->wd_since = t; /* if it lands elsewhere (a nested handler), try again one bound later */
        }
      }
    }
    pthread_mutex_unlock(&wd_lock);
    if (key_shared >= 0 && round % 40 == 0) wrap_onstack_handlers(); /* about once a second */
    if (period < 1000000) period = 1000000;
    struct timespec ts = {(time_t)(period / 1000000000ull), (long)(period % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static int wd_register(struct remc_domain *d) {
  pthread_mutex_lock(&wd_lock);
  if (!wd_started) {
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 << 10);
    if (pthread_create(&th, &at, wd_main, NULL) != 0) {
      pthread_mutex_unlock(&wd_lock);
      return -1;
    }
    wd_started = 1;
  }
  d->wd_next = wd_list;
  wd_list = d;
  pthread_mutex_unlock(&wd_lock);
  return 0;
}

static void wd_unregister(struct remc_domain *d) {
  pthread_mutex_lock(&wd_lock);
  for (struct remc_domain **p = &wd_list; *p; p = &(*p)->wd_next)
    if (*p == d) { *p = d->wd_next; break; }
  pthread_mutex_unlock(&wd_lock);
}

void remc_domain_set_watchdog_ms(remc_domain *d, uint32_t ms) {
  pthread_mutex_lock(&wd_lock);
  d->wd_bound_ns = (uint64_t)ms * 1000000ull;
  pthread_mutex_unlock(&wd_lock);
}

/* Per-thread preparation (once) ----------------------------------------------------------- */

/* §0.1: the kernel writes the rseq area (pkey 0) with the thread's current PKRU. */
static int rseq_off(void) {
  if (__rseq_size == 0) return 0; /* GLIBC_TUNABLES=glibc.pthread.rseq=0, or not registered */
  char *tp;
  __asm__("mov %%fs:0, %0" : "=r"(tp));
  void *area = tp + __rseq_offset;
  if (syscall(SYS_rseq, area, 32, 1 /* RSEQ_FLAG_UNREGISTER */, RSEQ_SIG) == 0) return 0;
  if (errno == EINVAL && syscall(SYS_rseq, area, __rseq_size, 1, RSEQ_SIG) == 0) return 0;
  /* EINVAL also means "nothing registered here": glibc marks a failed registration with
   * cpu_id = -2 (RSEQ_CPU_ID_REGISTRATION_FAILED), an unregistered area has -1. */
  int32_t cpu_id;
  memcpy(&cpu_id, (char *)area + 4, sizeof cpu_id);
  return cpu_id < 0 ? 0 : -1;
}

/* Thread keys ----------------------------------------------------------------------------- */

/* A key of its own for the calling thread while there are keys (a free one of this process, or
 * pkey_alloc), else the shared key: then this thread's domains and every other thread on the
 * shared key can reach each other's memory (counted: `stats isolation`, logged once). */
static int key_acquire(void) {
  pthread_mutex_lock(&key_lock);
  int k = -1;
  if (!test_shared_key) k = n_key_free ? key_free[--n_key_free] : pkey_alloc(0, 0);
  if (k < 0 || k >= 16) {
    k = key_shared;
    key_fallbacks++;
  }
  key_users[k]++;
  pthread_mutex_unlock(&key_lock);
  return k;
}
static void key_hold(int k) {
  pthread_mutex_lock(&key_lock);
  key_users[k]++;
  pthread_mutex_unlock(&key_lock);
}
/* Back on the free list once neither its thread nor any of its domains exists: no page carries
 * it any more (domains and the altstack are unmapped first), so the next thread starts clean. */
static void key_release(int k) {
  pthread_mutex_lock(&key_lock);
  if (--key_users[k] == 0 && k != key_shared) key_free[n_key_free++] = k;
  pthread_mutex_unlock(&key_lock);
}

/* The thread's sealed pages (domain_internal.h): [signal page, pkey 0][gate page, read-only
 * key], written once, then read-only for everyone; the gate page becomes the GS base. */
static uint8_t *seal_make(int k) {
  uint8_t *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  struct remc_seal_sig *sg = (struct remc_seal_sig *)(void *)m;
  struct remc_seal_gate *gt = (struct remc_seal_gate *)(void *)(m + PAGE);
  /* the kernel's init PKRU (only pkey 0 accessible) plus this thread's key, which the
   * alternate stack carries */
  sg->sig_pkru = 0x55555554u & ~(3u << (2 * k));
  sg->key = k;
  gt->pkru_pku = pkru_for(0, k);
  gt->pkru_strict = pkru_for(1, k);
  /* the strict exit's first PKRU: this thread's host PKRU now (pkey 0, its key and the gate
   * page accessible), so that the exit needs no second WRPKRU unless the host's has changed */
  gt->pkru_transit = rdpkru();
  if (mprotect(m, PAGE, PROT_READ) != 0 || pkey_mprotect(m + PAGE, PAGE, PROT_READ, key_ro) != 0 ||
      syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)(uintptr_t)(m + PAGE)) != 0) {
    munmap(m, 2 * PAGE);
    return NULL;
  }
  return m;
}

/* What a prepared thread leaves behind, undone when it exits. */
struct thread_res { uint8_t *altstack; uint8_t *seal; int key; };
static pthread_key_t res_key;
static pthread_once_t res_once = PTHREAD_ONCE_INIT;
static void thread_res_free(void *p) {
  struct thread_res *r = p;
  if (r->altstack) {
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    t_altstack = NULL;
    munmap(r->altstack - PAGE, ALTSTACK_SIZE + PAGE);
  }
  if (r->seal) {
    remc_tls_seal = NULL; /* signals from here on run as the kernel starts them */
    munmap(r->seal, 2 * PAGE);
  }
  if (r->key >= 0) key_release(r->key);
  t_key = -1;
  free(r);
}
static void res_key_init(void) { pthread_key_create(&res_key, thread_res_free); }

/* SIGPROF is thread-directed to a domain thread by V8's sampler, so its handler runs on our
 * alternate stack (it must not run on the domain stack). With PKU that stack carries the domain
 * key, which the handler cannot touch under the kernel's init PKRU: it is wrapped by
 * remc_sig_entry_chain, which enables the key first. Without PKU it only needs SA_ONSTACK.
 * Done per prepared thread and again by the watchdog thread when someone re-installs it (V8
 * does when a profiler starts); the fault handler covers the gap on kernels >= 6.12. */
static pthread_mutex_t wrap_lock = PTHREAD_MUTEX_INITIALIZER;
static void wrap_onstack_handlers(void) {
  static const int sigs[] = {SIGPROF};
  pthread_mutex_lock(&wrap_lock);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    int sig = sigs[i];
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) != 0) continue;
    int real = cur.sa_flags & SA_SIGINFO ? cur.sa_sigaction != NULL
                                         : (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN);
    if (!real || ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == remc_sig_entry_chain)) continue;
    if (key_shared < 0) {
      if (!(cur.sa_flags & SA_ONSTACK)) { cur.sa_flags |= SA_ONSTACK; sigaction(sig, &cur, NULL); }
      continue;
    }
    /* the saved action is complete before the wrapper can run */
    chain_act[sig] = cur;
    struct sigaction w = cur;
    w.sa_sigaction = remc_sig_entry_chain;
    w.sa_flags |= SA_SIGINFO | SA_ONSTACK;
    sigaddset(&w.sa_mask, SIGPROF); /* as install_handler: nothing asynchronous before the WRPKRU */
    sigaddset(&w.sa_mask, WD_SIGNO);
    sigaction(sig, &w, NULL);
  }
  pthread_mutex_unlock(&wrap_lock);
}

static int prepare_thread(void) {
  if (t_prepared) return 0;
  if (rseq_off() != 0) return -1;
  pthread_once(&res_once, res_key_init);
  struct thread_res *res = calloc(1, sizeof *res);
  if (!res) return -1;
  res->key = -1;
  /* The thread's key and sealed pages before its keyed altstack: a signal on that stack needs
   * the seal's PKRU. */
  if (key_shared >= 0) {
    res->key = key_acquire();
    /* This thread copies into its domains' memory and may run the store: give it its key and
     * ours (threads created before pkey_alloc start with them access-disabled, §5.3; a key from
     * the free list may be too). Other threads' keys stay as they are. Before the seal: its
     * transit value is this host PKRU. */
    pkey_set(res->key, 0);
    pkey_set(key_ro, 0);
    pkey_set(key_store, 0);
    res->seal = seal_make(res->key);
    if (!res->seal) { key_release(res->key); free(res); return -1; }
    t_key = res->key;
    remc_tls_seal = (const struct remc_seal_sig *)(void *)res->seal;
  }
  /* Before the keyed altstack exists: a SIGPROF between the two would run V8's handler on it
   * unwrapped, and a kernel before 6.12 kills the process for the fault that follows. */
  wrap_onstack_handlers();
  /* The alternate signal stack, guard page below. With PKU it carries the thread's key: a kernel
   * before 6.12 writes a signal frame under the interrupted PKRU, and the domain's PKRU lets it
   * write nothing but that key (pku-linux.md §1.2; remc_sig_entry in gate.S makes it usable by
   * the handler). Without keys, root memory; an altstack someone else installed is kept. */
  stack_t cur;
  if (sigaltstack(NULL, &cur) != 0) return -1;
  if (t_key >= 0 || (cur.ss_flags & SS_DISABLE) || cur.ss_size < ALTSTACK_SIZE) {
    uint8_t *m = mmap(NULL, ALTSTACK_SIZE + PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) { thread_res_free(res); return -1; }
    mprotect(m, PAGE, PROT_NONE);
    if (t_key >= 0 && !test_altstack_pkey0 &&
        pkey_mprotect(m + PAGE, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, t_key) != 0) {
      munmap(m, ALTSTACK_SIZE + PAGE);
      thread_res_free(res);
      return -1;
    }
    stack_t ss = {.ss_sp = m + PAGE, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) { munmap(m, ALTSTACK_SIZE + PAGE); thread_res_free(res); return -1; }
    res->altstack = t_altstack = m + PAGE;
  }
  /* freed (the altstack after SS_DISABLE, the key back to the free list) when the thread exits */
  pthread_setspecific(res_key, res);
  /* §0.2: asynchronous signals never reach this thread (their handlers — libuv's, Node's —
   * have no SA_ONSTACK and would run on the domain stack). Kept: faults, SIGPROF, watchdog. */
  sigset_t block;
  sigfillset(&block);
  static const int keep[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGPROF,
                             SIGKILL, SIGSTOP};
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) sigdelset(&block, keep[i]);
  sigdelset(&block, WD_SIGNO);
  if (pthread_sigmask(SIG_BLOCK, &block, NULL) != 0) return -1;
  t_prepared = 1;
  return 0;
}

/* Domains -------------------------------------------------------------------------------- */

static size_t round_page(size_t n) { return (n + PAGE - 1) & ~(size_t)(PAGE - 1); }

static int tag(struct remc_domain *d, void *p, size_t len) {
  if (d->isolation == REMC_ISO_NONE) return mprotect(p, len, PROT_READ | PROT_WRITE);
  return pkey_mprotect(p, len, PROT_READ | PROT_WRITE, d->key);
}

static int apply_protections(struct remc_domain *d) {
  /* Guards are PROT_NONE with the domain key: the kernel checks the key before the page
   * protection, so a pkey-0 guard would report SEGV_PKUERR instead of an access error. */
  if (d->isolation == REMC_ISO_NONE ? mprotect(d->map, d->map_len, PROT_NONE)
                                    : pkey_mprotect(d->map, d->map_len, PROT_NONE, d->key))
    return -1;
  if (tag(d, d->stack_lo, d->stack_size) || tag(d, d->heap, d->heap_size) ||
      tag(d, d->window, d->window_cap) || tag(d, d->io, d->io_cap))
    return -1;
  return 0;
}

remc_domain *remc_domain_create(const remc_domain_config *cfg) {
  if (!proc_inited) { errno = EINVAL; return NULL; }
  int iso = cfg->isolation == REMC_ISO_AUTO ? remc_domain_mode() : cfg->isolation;
  if (iso < REMC_ISO_NONE || iso > REMC_ISO_PKU_STRICT || (iso != REMC_ISO_NONE && key_shared < 0)) {
    errno = ENOTSUP;
    return NULL;
  }
  if (prepare_thread() != 0) return NULL;
  wrap_onstack_handlers(); /* again: a handler may have been installed since the thread was prepared */
  struct remc_domain *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->isolation = iso;
  /* the thread's key: one per thread, because the altstack, which a kernel before 6.12 writes
   * under the domain's PKRU, is one per thread */
  d->key = iso == REMC_ISO_NONE ? -1 : t_key;
  d->tid = (pid_t)syscall(SYS_gettid);
  d->stack_size = round_page(cfg->stack_size ? cfg->stack_size : 256u << 10);
  d->heap_size = round_page(cfg->heap_size ? cfg->heap_size : 64u << 10);
  d->window_cap = round_page(cfg->window_cap ? cfg->window_cap : 64u << 10);
  d->io_cap = round_page(cfg->io_cap ? cfg->io_cap : sizeof(remc_parse_io) + 4096);
  /* heap guard: at least 64 KiB so that an unchecked bump allocation of up to that size
   * still lands in it */
  d->heap_guard_size = 64u << 10;
  d->map_len = STACK_GUARD + d->stack_size + d->heap_size + d->heap_guard_size + d->window_cap +
               PAGE + d->io_cap + PAGE;
  d->map = mmap(NULL, d->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (d->map == MAP_FAILED) { free(d); return NULL; }
  d->stack_lo = d->map + STACK_GUARD;
  d->heap = d->stack_lo + d->stack_size;
  d->heap_guard = d->heap + d->heap_size;
  d->window = d->heap_guard + d->heap_guard_size;
  d->io = d->window + d->window_cap + PAGE;
  if (apply_protections(d) != 0) { munmap(d->map, d->map_len); free(d); return NULL; }
  if (d->key >= 0) key_hold(d->key);
  d->g.stack_top = (uint64_t)(uintptr_t)(d->stack_lo + d->stack_size);
  d->g.flags = (have_ospke ? GF_HW_PKU : 0) | (iso != REMC_ISO_NONE ? GF_SWITCH : 0);
  d->g.dom_pkru = iso == REMC_ISO_NONE ? 0 : pkru_for(iso == REMC_ISO_PKU_STRICT, d->key);
  pthread_sigmask(SIG_SETMASK, NULL, &d->host_mask);
  d->wd_bound_ns = (uint64_t)cfg->watchdog_ms * 1000000ull;
  if (pthread_getcpuclockid(pthread_self(), &d->cpu_clock) != 0) d->cpu_clock = (clockid_t)-1;
  if (wd_register(d) != 0) {
    if (d->key >= 0) key_release(d->key);
    munmap(d->map, d->map_len);
    free(d);
    return NULL;
  }
  return d;
}

void remc_domain_destroy(remc_domain *d) {
  if (!d) return;
  wd_unregister(d);
  if (remc_tls_gate == &d->g) remc_tls_gate = NULL;
  munmap(d->map, d->map_len);
  if (d->key >= 0) key_release(d->key);
  free(d);
}

uint8_t *remc_domain_window(remc_domain *d) { return d->window; }
size_t remc_domain_window_cap(remc_domain *d) { return d->window_cap; }
void *remc_domain_io(remc_domain *d) { return d->io; }
size_t remc_domain_io_cap(remc_domain *d) { return d->io_cap; }
uint8_t *remc_domain_heap(remc_domain *d, size_t *size) {
  if (size) *size = d->heap_size;
  return d->heap;
}
int remc_domain_isolation(remc_domain *d) { return d->isolation; }

void remc_domain_get_stats(remc_domain *d, remc_domain_stats *out) { *out = d->stats; }

/* Zero the 64-byte blocks of [p, p+n) that are not zero. The heap is all zero outside what the
 * last call used, so after a fault only what it wrote is dirty: reading is about twice as fast as
 * writing (n is a multiple of 64). AVX2 when the CPU has it: the scan of 64 KiB then costs about
 * 0.3 us instead of 0.9 us with 8-byte loads. */
typedef long long v32 __attribute__((vector_size(32), aligned(32)));
__attribute__((target("avx2"))) static void zero_dirty_avx2(uint8_t *p, size_t n) {
  v32 *b = (v32 *)(void *)p;
  const v32 z = {0};
  for (size_t i = 0; i < n / 32; i += 2) {
    v32 x = b[i] | b[i + 1];
    if (!__builtin_ia32_ptestz256(x, x)) { b[i] = z; b[i + 1] = z; }
  }
}
static void zero_dirty_scalar(uint8_t *p, size_t n) {
  uint64_t *q = (uint64_t *)(void *)p;
  for (size_t i = 0; i < n / 8; i += 8) {
    if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7])
      for (int j = 0; j < 8; j++) q[i + j] = 0;
  }
}
static void zero_dirty(uint8_t *p, size_t n) {
  if (have_avx2) zero_dirty_avx2(p, n);
  else zero_dirty_scalar(p, n);
}

static void after_fault(struct remc_domain *d) {
  /* Every pointer and permission back to its initial state (SDRaD forgot this):
   * - PKRU, stack and registers: restored by remc_gate_rewind;
   * - the heap: its allocator state is a local of the call; contents scrubbed entirely (the
   *   faulting call's high-water mark cannot be trusted);
   * - the signal mask: the handler's (SIGPROF and the watchdog's blocked) is replaced by the
   *   cached host mask (one system call per fault);
   * - mappings: the domain cannot change them without a system call; but if it faulted with a
   *   plain access error on its own memory, something did, so tag everything again. */
  size_t inl = d->heap_size < FAULT_SCRUB_INLINE ? d->heap_size : FAULT_SCRUB_INLINE;
  zero_dirty(d->heap, inl);
  if (d->heap_size > inl) madvise(d->heap + inl, d->heap_size - inl, MADV_DONTNEED);
  if (d->mask_changed) { pthread_sigmask(SIG_SETMASK, &d->host_mask, NULL); d->mask_changed = 0; }
  uint64_t a = d->fault.addr;
  if (d->fault.signo == SIGSEGV && d->fault.code == SEGV_ACCERR &&
      (in_range(a, d->stack_lo, d->stack_size) || in_range(a, d->heap, d->heap_size) ||
       in_range(a, d->window, d->window_cap) || in_range(a, d->io, d->io_cap)))
    apply_protections(d);
}

int remc_domain_call(remc_domain *d, remc_domain_fn fn, void *arg1, void *arg2,
                     remc_fault_info *info) {
  remc_tls_gate = &d->g;
  /* The window is shared by every connection of this thread: bytes of a longer earlier input
   * past this call's len are zeroed, so the parser sees only this event's bytes. (io->len is
   * root's value here; after the call it is the domain's and proves nothing.) */
  size_t len = ((remc_parse_io *)d->io)->len;
  if (len > d->window_cap) len = d->window_cap;
  if (d->window_hw > len) memset(d->window + len, 0, d->window_hw - len);
  d->window_hw = len;
  int r = d->isolation == REMC_ISO_PKU_STRICT ? remc_gate_call_strict(&d->g, fn, arg1, arg2)
                                              : remc_gate_call(&d->g, fn, arg1, arg2);
  d->stats.calls++;
  if (r == 0) {
    /* scrub what this call used of the heap, so the next client's parse cannot read it */
    uint32_t used = ((remc_parse_io *)d->io)->heap_used;
    if (used) memset(d->heap, 0, used < d->heap_size ? used : d->heap_size);
    return 0;
  }
  after_fault(d);
  if ((unsigned)r < REMC_FAULT_COUNT) d->stats.faults[r]++;
  d->fault.rewind_ns = 0;
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int64_t dn = (int64_t)(t1.tv_sec - d->fault_t0.tv_sec) * 1000000000 + (t1.tv_nsec - d->fault_t0.tv_nsec);
  d->fault.rewind_ns = dn > 0 ? (uint64_t)dn : 0;
  if (info) *info = d->fault;
  return r;
}

/* Start-up self-test -------------------------------------------------------------------- */

/* A root word the self-test's domain call tries to overwrite (pkey 0: write-denied in every
 * PKU mode). */
static volatile uint64_t selftest_word = 0x5e1f7e575e1f7e57ull;
static void selftest_write_root(void *word, void *unused) {
  (void)unused;
  *(volatile uint64_t *)word = 0xbad0bad0bad0bad0ull;
}

static int selftest_once(remc_domain *d) {
  remc_fault_info fi;
  ((remc_parse_io *)d->io)->len = 0;
  int r = remc_domain_call(d, selftest_write_root, (void *)&selftest_word, NULL, &fi);
  if (selftest_word != 0x5e1f7e575e1f7e57ull) return 2;     /* the write went through */
  return r == REMC_FAULT_pku && fi.pkey == 0 ? 0 : 3;         /* caught, but not as a PKU fault */
}

int remc_domain_self_test(remc_domain *d, char *why, size_t why_len) {
  if (d->isolation == REMC_ISO_NONE) return 0;
  struct utsname u;
  const char *rel = uname(&u) == 0 ? u.release : "?";
  /* First in a child: on a kernel where a fault inside the domain is fatal it is the child that
   * dies. The child is this thread alone and makes no call that takes a lock. */
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(why, why_len, "self-test: fork failed (errno %d)", errno);
    return -1;
  }
  if (pid == 0) _exit(selftest_once(d));
  int st = 0;
  pid_t w = 0;
  for (int i = 0; i < 3000 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (w == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    snprintf(why, why_len, "self-test: a fault inside the PKU domain hung the test process (Linux %s)", rel);
    return -1;
  }
  if (w < 0) {
    snprintf(why, why_len, "self-test: waitpid failed (errno %d)", errno);
    return -1;
  }
  if (WIFSIGNALED(st)) {
    snprintf(why, why_len, "self-test: a fault inside the PKU domain killed the test process with signal %d (Linux %s)",
             WTERMSIG(st), rel);
    return -1;
  }
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (code == 0) code = selftest_once(d); /* then here, on the thread that will run the domain */
  if (code == 0) return 0;
  snprintf(why, why_len, code == 2 ? "self-test: a write to root memory from inside the PKU domain was not denied (Linux %s)"
                                   : "self-test: a write to root memory from inside the PKU domain was not reported as a PKU fault (Linux %s)",
           rel);
  return -1;
}
#endif /* __x86_64__ */
