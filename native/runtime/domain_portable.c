/*
 * domain_portable.c — the domain runtime on CPUs other than x86-64 (aarch64, …), where there is
 * no PKU and no assembly gate (domain.c, gate.S and traps.S build to nothing there).
 *
 * Only mode NONE exists: the parser runs on the calling thread, unprotected. The server's default
 * on such a CPU is sfi (the same parser in WebAssembly, native/sfi.ts), which does not use this
 * file's calls to parse. What is kept from the x86 runtime is what NONE promises there too: the
 * window, io area and scratch heap in one mapping with guard gaps, the window zeroed past each
 * event's length, the heap scrubbed after each call, and a fault of the call (a trap, a NULL
 * read, a guard page) rewound to the caller through sigsetjmp/siglongjmp with the kind reported,
 * so a crash costs one connection there as well. No watchdog (sfi has its loop budget).
 */
#if !defined(__x86_64__)
#include "remc_domain.h"
#include "remc_abi.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096u
#define GUARD (64u << 10)

struct remc_domain {
  uint8_t *map;
  size_t map_len;
  uint8_t *heap, *window, *io;
  size_t heap_size, window_cap, io_cap, window_hw;
  remc_domain_stats stats;
};

/* the call in progress on this thread: where a fault jumps back to */
static __thread sigjmp_buf *t_env;
static __thread volatile int t_in_call;
static __thread remc_fault_info t_fault;
static __thread volatile int t_aborting; /* remc_domain_abort's trap, told apart from any other */
static struct sigaction old_act[65];
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
static int proc_inited;

static void on_fault(int sig, siginfo_t *si, void *uc) {
  if (t_in_call && t_env) {
    t_fault.signo = sig;
    t_fault.code = si->si_code;
    t_fault.addr = (uint64_t)(uintptr_t)si->si_addr;
    t_fault.pkey = -1;
    t_fault.kind = t_aborting ? REMC_FAULT_abort : sig == SIGSEGV ? REMC_FAULT_segv : sig == SIGBUS ? REMC_FAULT_bus
                 : sig == SIGILL ? REMC_FAULT_ill : sig == SIGFPE ? REMC_FAULT_fpe : REMC_FAULT_trap;
    t_in_call = 0;
    t_aborting = 0;
    siglongjmp(*t_env, 1);
  }
  /* not ours: the handler that was there before (V8's wasm trap handler), else the default */
  struct sigaction *o = &old_act[sig];
  if ((o->sa_flags & SA_SIGINFO) && o->sa_sigaction) { o->sa_sigaction(sig, si, uc); return; }
  if (!(o->sa_flags & SA_SIGINFO) && o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) { o->sa_handler(sig); return; }
  signal(sig, SIG_DFL);
}

int remc_domain_process_init(int requested, const char **why) {
  static const char *dummy;
  if (!why) why = &dummy;
  *why = requested == REMC_ISO_NONE ? "" : "no PKU: this CPU is not x86-64";
  if (!proc_inited) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fault_signals / sizeof fault_signals[0]; i++)
      sigaction(fault_signals[i], &sa, &old_act[fault_signals[i]]);
    proc_inited = 1;
  }
  return REMC_ISO_NONE;
}
int remc_domain_mode(void) { return REMC_ISO_NONE; }
void remc_domain_process_fall_back_to_none(void) {}
int remc_domain_store_pkey(void) { return -1; }
int remc_domain_pkey(void) { return -1; }
int remc_domain_key_fallbacks(void) { return 0; }
uint32_t remc_domain_thread_pkru(void) { return 0; }
int remc_domain_self_test(remc_domain *d, char *why, size_t why_len) {
  (void)d; (void)why; (void)why_len;
  return 0; /* mode NONE claims nothing */
}

static size_t round_page(size_t n) { return (n + PAGE - 1) & ~(size_t)(PAGE - 1); }

remc_domain *remc_domain_create(const remc_domain_config *cfg) {
  if (!proc_inited) { errno = EINVAL; return NULL; }
  if (cfg->isolation != REMC_ISO_NONE && cfg->isolation != REMC_ISO_AUTO) { errno = ENOTSUP; return NULL; }
  struct remc_domain *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->heap_size = round_page(cfg->heap_size ? cfg->heap_size : 64u << 10);
  d->window_cap = round_page(cfg->window_cap ? cfg->window_cap : 64u << 10);
  d->io_cap = round_page(cfg->io_cap ? cfg->io_cap : sizeof(remc_parse_io) + 4096);
  /* [heap][guard][window][guard][io][guard] */
  d->map_len = d->heap_size + GUARD + d->window_cap + PAGE + d->io_cap + PAGE;
  d->map = mmap(NULL, d->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (d->map == MAP_FAILED) { free(d); return NULL; }
  d->heap = d->map;
  d->window = d->heap + d->heap_size + GUARD;
  d->io = d->window + d->window_cap + PAGE;
  if (mprotect(d->heap, d->heap_size, PROT_READ | PROT_WRITE) || mprotect(d->window, d->window_cap, PROT_READ | PROT_WRITE) ||
      mprotect(d->io, d->io_cap, PROT_READ | PROT_WRITE)) {
    munmap(d->map, d->map_len);
    free(d);
    return NULL;
  }
  return d;
}

void remc_domain_destroy(remc_domain *d) {
  if (!d) return;
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
int remc_domain_isolation(remc_domain *d) { (void)d; return REMC_ISO_NONE; }
int remc_domain_key(remc_domain *d) { (void)d; return -1; }
int remc_domain_key_is_shared(remc_domain *d) { (void)d; return 0; }
void remc_domain_get_stats(remc_domain *d, remc_domain_stats *out) { *out = d->stats; }
void remc_domain_set_watchdog_ms(remc_domain *d, uint32_t ms) { (void)d; (void)ms; }

__attribute__((noreturn)) void remc_domain_abort(void) {
  t_aborting = 1;
  __builtin_trap();
}

int remc_domain_call(remc_domain *d, remc_domain_fn fn, void *arg1, void *arg2, remc_fault_info *info) {
  size_t len = ((remc_parse_io *)d->io)->len;
  if (len > d->window_cap) len = d->window_cap;
  if (d->window_hw > len) memset(d->window + len, 0, d->window_hw - len);
  d->window_hw = len;
  sigjmp_buf env;
  struct timespec t0, t1;
  d->stats.calls++;
  if (sigsetjmp(env, 1) == 0) {
    t_env = &env;
    t_in_call = 1;
    fn(arg1, arg2);
    t_in_call = 0;
    t_env = NULL;
    uint32_t used = ((remc_parse_io *)d->io)->heap_used;
    if (used) memset(d->heap, 0, used < d->heap_size ? used : d->heap_size);
    return 0;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  t_env = NULL;
  memset(d->heap, 0, d->heap_size);
  int kind = (int)t_fault.kind;
  if ((unsigned)kind < REMC_FAULT_COUNT) d->stats.faults[kind]++;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  t_fault.rewind_ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
  if (info) *info = t_fault;
  return kind;
}
#endif
