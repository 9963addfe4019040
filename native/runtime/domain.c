/*
 * domain.c — the domain runtime: keys, per-thread domain memory, fault handlers, rewind
 * bookkeeping, watchdog. The gate and the rewind themselves are in gate.S.
 * Facts this relies on: ../shared/reference/pku-linux.md (sections cited as §n).
 */
#include "remc_domain.h"
#include "remc_abi.h"
#include "domain_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
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
_Static_assert(offsetof(struct remc_gate_ro, pkru_pku) == RO_PKRU_PKU, "RO_PKRU_PKU");
_Static_assert(offsetof(struct remc_gate_ro, pkru_strict) == RO_PKRU_STRICT, "RO_PKRU_STRICT");
_Static_assert(offsetof(struct remc_gate_ro, pkru_transit) == RO_PKRU_TRANSIT, "RO_PKRU_TRANSIT");

#define PAGE 4096u
#define STACK_GUARD (64u << 10) /* gap below the stack: a big frame cannot jump over it */
#define ALTSTACK_SIZE (64u << 10)
#define FAULT_SCRUB_INLINE (64u << 10) /* after a fault: memset this much, madvise the rest */
#define WD_SIGNO (SIGRTMIN + REMC_DOMAIN_WATCHDOG_SIGNO_OFFSET)

__thread struct remc_gate *remc_tls_gate __attribute__((tls_model("initial-exec")));

/* Trap addresses defined in traps.S: the handler tells a canary failure or an abort from any
 * other illegal instruction by the faulting RIP. */
extern const char remc_trap_canary[], remc_trap_abort[], remc_trap_gate[];

struct remc_domain {
  struct remc_gate g; /* first: remc_tls_gate points here */
  int isolation;
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
  uint64_t wd_seq, wd_since;
  volatile uint64_t wd_fire_seq; /* the call the watchdog signalled; the handler checks it */
  struct remc_domain *wd_next;
};

/* Process state ------------------------------------------------------------------------- */

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int proc_inited;              /* handlers installed, RO page sealed */
static int proc_mode = -1;           /* mode decided by the first remc_domain_process_init */
static int have_ospke;               /* RDPKRU/WRPKRU usable */
static int have_avx2;                /* the fault path's heap scan */
static int key_dom = -1, key_store = -1, key_ro = -1;
static const char *keys_why = "";
static uint32_t xsave_pkru_off;      /* offset of PKRU in the XSAVE area (CPUID 0xD.9 EBX) */
static struct sigaction old_act[65]; /* previous handlers, for chaining */
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct remc_domain *wd_list;
static int wd_started;

/* Per thread */
static __thread int t_prepared __attribute__((tls_model("initial-exec")));

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

/* PKRU: key i has AD = bit 2i, WD = bit 2i+1. Start from "everything denied". */
static uint32_t pkru_for(int strict) {
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

HANDLER_FN static void on_signal(int sig, siginfo_t *si, void *ucv) {
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
    /* With SA_NODEFER and an empty sa_mask the handler runs with the interrupted mask; if that
     * is not the cached host mask (should not happen), remc_domain_call puts it back. Only the
     * kernel's 64 bits are compared: the rest of glibc's sigset_t in the frame is garbage. */
    d->mask_changed = memcmp(&uc->uc_sigmask, &d->host_mask, 8) != 0;
    remc_gate_rewind((int)kind);
  }
  if (sig == WD_SIGNO) return; /* late watchdog signal: the call is already over */
  if (sig == SIGILL && rip == (uint64_t)(uintptr_t)remc_trap_canary) {
    static const char m[] = "*** stack smashing detected ***: terminated (remcached host code)\n";
    (void)!write(2, m, sizeof m - 1);
  }
  int e = errno;
  forward(sig, si, ucv);
  errno = e;
}

static int install_handler(int sig, struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  /* ONSTACK: never run on the domain stack. NODEFER + empty mask: the direct-jump rewind leaves
   * the mask exactly as it was in the domain (§1.3). RESTART: a late watchdog signal must not
   * turn a host system call into EINTR. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
  sigemptyset(&sa.sa_mask);
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
  if (key_dom >= 0) return 0;
  if (!have_ospke) { keys_why = "CPU or kernel without PKU (CPUID OSPKE=0)"; return -1; }
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
  key_dom = k1;
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
  if (key_dom >= 0) {
    ro->pkru_pku = pkru_for(0);
    ro->pkru_strict = pkru_for(1);
    ro->pkru_transit = rdpkru(); /* this thread's host PKRU: pkey 0 and every key of ours RW */
  } else {
    /* no domain PKRU exists: make the entry check impossible to pass */
    ro->pkru_pku = ro->pkru_strict = ro->pkru_transit = 0;
  }
  size_t len = (size_t)((uintptr_t)remc_gate_ro_end - (uintptr_t)&remc_gate_ro);
  if (key_ro >= 0) return pkey_mprotect(ro, len, PROT_READ, key_ro);
  return mprotect(ro, len, PROT_READ);
}

int remc_domain_process_init(int requested, const char **why) {
  static const char *dummy;
  if (!why) why = &dummy;
  *why = "";
  pthread_mutex_lock(&init_lock);
  if (!proc_inited) {
    detect_cpu();
    /* Keys before sealing: the RO page holds PKRU values that depend on them. A later request
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
  if (mode == REMC_ISO_AUTO) mode = key_dom >= 0 ? REMC_ISO_PKU : REMC_ISO_NONE;
  if (mode != REMC_ISO_NONE && key_dom < 0) {
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
int remc_domain_store_pkey(void) { return proc_mode > REMC_ISO_NONE ? key_store : -1; }
int remc_domain_pkey(void) { return key_dom; }

/* Watchdog ----------------------------------------------------------------------------- */

static void *wd_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pid_t pid = getpid();
  for (;;) {
    uint64_t period = 25000000; /* ns; a quarter of the smallest bound, within [1, 25] ms */
    pthread_mutex_lock(&wd_lock);
    uint64_t t = now_ns();
    for (struct remc_domain *d = wd_list; d; d = d->wd_next) {
      if (!d->wd_bound_ns) continue;
      if (d->wd_bound_ns / 4 < period) period = d->wd_bound_ns / 4;
      uint64_t seq = d->g.seq;
      if (!d->g.in_domain || seq != d->wd_seq) {
        d->wd_seq = seq;
        d->wd_since = t;
      } else if (t - d->wd_since >= d->wd_bound_ns) {
        d->wd_fire_seq = seq;
        syscall(SYS_tgkill, pid, d->tid, WD_SIGNO);
        d->wd_since = t; /* if it lands elsewhere (a nested handler), try again one bound later */
      }
    }
    pthread_mutex_unlock(&wd_lock);
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

static pthread_key_t altstack_key;
static pthread_once_t altstack_once = PTHREAD_ONCE_INIT;
static void altstack_free(void *p) {
  stack_t ss = {.ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap((uint8_t *)p - PAGE, ALTSTACK_SIZE + PAGE);
}
static void altstack_key_init(void) { pthread_key_create(&altstack_key, altstack_free); }

static int prepare_thread(void) {
  if (t_prepared) return 0;
  if (rseq_off() != 0) return -1;
  /* alternate signal stack in root memory, guard page below */
  stack_t cur;
  if (sigaltstack(NULL, &cur) != 0) return -1;
  if ((cur.ss_flags & SS_DISABLE) || cur.ss_size < ALTSTACK_SIZE) {
    uint8_t *m = mmap(NULL, ALTSTACK_SIZE + PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return -1;
    mprotect(m, PAGE, PROT_NONE);
    stack_t ss = {.ss_sp = m + PAGE, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) { munmap(m, ALTSTACK_SIZE + PAGE); return -1; }
    /* freed (after SS_DISABLE) when the thread exits */
    pthread_once(&altstack_once, altstack_key_init);
    pthread_setspecific(altstack_key, m + PAGE);
  }
  /* §0.2: asynchronous signals never reach this thread (their handlers — libuv's, Node's —
   * have no SA_ONSTACK and would run on the domain stack). Kept: faults, SIGPROF, watchdog. */
  sigset_t block;
  sigfillset(&block);
  static const int keep[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGPROF,
                             SIGKILL, SIGSTOP};
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) sigdelset(&block, keep[i]);
  sigdelset(&block, WD_SIGNO);
  if (pthread_sigmask(SIG_BLOCK, &block, NULL) != 0) return -1;
  /* SIGPROF is thread-directed to us by V8's sampler: it must run on the altstack. */
  struct sigaction prof;
  if (sigaction(SIGPROF, NULL, &prof) == 0 && !(prof.sa_flags & SA_ONSTACK) &&
      (prof.sa_flags & SA_SIGINFO ? prof.sa_sigaction != NULL
                                  : (prof.sa_handler != SIG_DFL && prof.sa_handler != SIG_IGN))) {
    prof.sa_flags |= SA_ONSTACK;
    sigaction(SIGPROF, &prof, NULL);
  }
  /* This thread copies into domain memory and may run the store: give it our keys (threads
   * created before pkey_alloc start with them access-disabled, §5.3). */
  if (key_dom >= 0) {
    pkey_set(key_dom, 0);
    pkey_set(key_ro, 0);
    pkey_set(key_store, 0);
  }
  t_prepared = 1;
  return 0;
}

/* Domains -------------------------------------------------------------------------------- */

static size_t round_page(size_t n) { return (n + PAGE - 1) & ~(size_t)(PAGE - 1); }

static int tag(struct remc_domain *d, void *p, size_t len) {
  if (d->isolation == REMC_ISO_NONE) return mprotect(p, len, PROT_READ | PROT_WRITE);
  return pkey_mprotect(p, len, PROT_READ | PROT_WRITE, key_dom);
}

static int apply_protections(struct remc_domain *d) {
  /* Guards are PROT_NONE with the domain key: the kernel checks the key before the page
   * protection, so a pkey-0 guard would report SEGV_PKUERR instead of an access error. */
  if (d->isolation == REMC_ISO_NONE ? mprotect(d->map, d->map_len, PROT_NONE)
                                    : pkey_mprotect(d->map, d->map_len, PROT_NONE, key_dom))
    return -1;
  if (tag(d, d->stack_lo, d->stack_size) || tag(d, d->heap, d->heap_size) ||
      tag(d, d->window, d->window_cap) || tag(d, d->io, d->io_cap))
    return -1;
  return 0;
}

remc_domain *remc_domain_create(const remc_domain_config *cfg) {
  if (!proc_inited) { errno = EINVAL; return NULL; }
  int iso = cfg->isolation == REMC_ISO_AUTO ? remc_domain_mode() : cfg->isolation;
  if (iso < REMC_ISO_NONE || iso > REMC_ISO_PKU_STRICT || (iso != REMC_ISO_NONE && key_dom < 0)) {
    errno = ENOTSUP;
    return NULL;
  }
  if (prepare_thread() != 0) return NULL;
  struct remc_domain *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->isolation = iso;
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
  d->g.stack_top = (uint64_t)(uintptr_t)(d->stack_lo + d->stack_size);
  d->g.flags = (have_ospke ? GF_HW_PKU : 0) | (iso != REMC_ISO_NONE ? GF_SWITCH : 0);
  d->g.dom_pkru = iso == REMC_ISO_NONE ? 0 : pkru_for(iso == REMC_ISO_PKU_STRICT);
  pthread_sigmask(SIG_SETMASK, NULL, &d->host_mask);
  d->wd_bound_ns = (uint64_t)cfg->watchdog_ms * 1000000ull;
  if (wd_register(d) != 0) { munmap(d->map, d->map_len); free(d); return NULL; }
  return d;
}

void remc_domain_destroy(remc_domain *d) {
  if (!d) return;
  wd_unregister(d);
  if (remc_tls_gate == &d->g) remc_tls_gate = NULL;
  munmap(d->map, d->map_len);
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
   * - the signal mask: normally untouched (SA_NODEFER, empty sa_mask); put back if not;
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
