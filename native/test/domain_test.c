// sources: native/runtime/domain.c native/runtime/gate.S native/runtime/traps.S native/parser/fault_inject.c
// cflags: -O2 -fstack-protector-strong -mstack-protector-guard=global -fno-jump-tables
/*
 * domain_test.c — the domain runtime, natively (no Node): isolation per mode, every injected
 * fault kind caught by its real mechanism with the targets unchanged (and really corrupted in
 * mode none), 10 000 faults in a row with PKRU and memory unchanged, the watchdog, the ERIM
 * entry check, one protection key per domain thread (and what a shared key lets through),
 * chaining to a previous SIGSEGV handler, heap scrubbing, and the two traps of
 * pku-linux.md §0: rseq under a CPU hog on the same core, and asynchronous-signal storms
 * (libuv-like handlers without SA_ONSTACK, thread-directed SIGPROF) while the domain runs.
 * Every loop is bounded in time. Exit status 0 = all passed.
 */
#include "remc_domain.h"
#include "remc_abi.h"
#include "remc_fault_inject.h"
#define GF_HW_PKU_TEST 3 /* flags of a forged gate: PKRU hardware + switch (domain_internal.h) */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static int failures, checks;
#define CHECK(c, ...)                                                         \
  do {                                                                        \
    checks++;                                                                 \
    if (!(c)) {                                                               \
      failures++;                                                             \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c);            \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
    }                                                                         \
  } while (0)

static const char *const kind_names[] = {
#define X(n) #n,
    REMC_FAULT_KINDS(X)
#undef X
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ProtectionKey of the mapping holding addr (/proc/self/smaps), -2 if not found. A kernel
 * without PKU support on this CPU prints no ProtectionKey line: every page is then pkey 0. */
static int smaps_pkey(const void *addr) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return -2;
  char line[512];
  int in = 0, found = 0, key = -2;
  uintptr_t a = (uintptr_t)addr;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's header line */
      if (in) break; /* the mapping ended without a ProtectionKey line */
      in = a >= lo && a < hi;
      found |= in;
    } else if (in && sscanf(line, "ProtectionKey: %d", &key) == 1) {
      break;
    }
  }
  if (found && key == -2 && remc_domain_thread_pkru() == 0) key = 0;
  fclose(f);
  return key;
}

/* ---- domain code used by the tests: no libc, no canary (it must run in pku-strict too) --- */
/* no canary (TLS, pkey 0), no jump tables (.rodata, pkey 0): strict mode reads neither */
#define DOMAIN_FN __attribute__((noinline, no_stack_protector, optimize("no-jump-tables")))

enum { OP_GOOD = 1, OP_READ_T0, OP_WRITE_HEAP, OP_CHECK_HEAP_ZERO, OP_SPIN_NS, OP_JUMP_T2, OP_WINDOW_TAIL, OP_MESS_FPU, OP_MESS_FPU_FAULT, OP_WRITE_WINDOW };

/* io->resume_end selects the operation; results go to io->status / io->consumed. */
DOMAIN_FN static void dom_op(void *a1, void *a2) {
  remc_parse_io *io = a1;
  const uint8_t *w = a2;
  uint32_t op = io->resume_end;
  if (op == OP_GOOD) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < io->len; i++) sum += w[i];
    io->status = sum;
    io->consumed = io->len;
  } else if (op == OP_READ_T0) {
    io->consumed = (uint32_t) * (volatile uint64_t *)(uintptr_t)io->fault_target[0];
  } else if (op == OP_WRITE_HEAP) {
    volatile uint8_t *h = (uint8_t *)(uintptr_t)io->heap_base;
    for (uint32_t i = 0; i < io->len; i++) h[i] = 0x77;
    io->heap_used = io->len;
  } else if (op == OP_CHECK_HEAP_ZERO) {
    const volatile uint64_t *h = (const uint64_t *)(uintptr_t)io->heap_base;
    uint32_t nz = 0;
    for (uint64_t i = 0; i < io->heap_size / 8; i++) nz += h[i] != 0;
    io->status = nz;
  } else if (op == OP_SPIN_NS) {
    /* spin about fault_target[3] iterations (no clock: vDSO data is pkey 0) */
    for (volatile uint64_t i = 0; i < io->fault_target[3]; i++) {
    }
  } else if (op == OP_WINDOW_TAIL) {
    /* nonzero bytes past len, up to fault_target[3] (the window size) */
    uint32_t nz = 0;
    for (uint64_t i = io->len; i < io->fault_target[3]; i++) nz += w[i] != 0;
    io->status = nz;
  } else if (op == OP_MESS_FPU || op == OP_MESS_FPU_FAULT) {
    /* leave state the ABI says a callee preserves changed: MXCSR rounding toward zero, x87
     * single precision, direction flag set */
    uint32_t mx = 0x7f80;
    uint16_t cw = 0x007f;
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1\n\tstd" : : "m"(mx), "m"(cw) : "memory");
    if (op == OP_MESS_FPU_FAULT) *(volatile uint32_t *)(uintptr_t)io->fault_target[2] = 1;
    __asm__ volatile("" ::: "memory");
  } else if (op == OP_WRITE_WINDOW) {
    ((volatile uint8_t *)a2)[0] = 0x55;
    io->status = 0x55;
  } else if (op == OP_JUMP_T2) {
    /* play an attacker: reach a gate WRPKRU with eax = 0 (all keys open) and rdi pointing at
     * a forged gate (fault_target[3]) whose saved rsp leads to attacker_won() */
    __asm__ volatile("mov %1, %%rdi\n\txor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\tjmp *%0"
                     : : "r"(io->fault_target[2]), "r"(io->fault_target[3]) : "rax", "rcx", "rdx", "rdi", "memory");
  }
}

DOMAIN_FN static void dom_inject(void *a1, void *a2) {
  (void)a2;
  remc_parse_io *io = a1;
  remc_fault_inject(io, io->resume_end);
}

/* ---- fixtures -------------------------------------------------------------------------- */

static volatile uint64_t root_word = 0x5afe5afe5afe5afeull; /* pkey 0 */
static uint64_t *store_page;                                 /* tagged with the store key */

static remc_domain *mk(int iso, uint32_t wd_ms) {
  remc_domain_config c = {.isolation = iso, .window_cap = 64 << 10, .io_cap = 16 << 10,
                          .stack_size = 128 << 10, .heap_size = 64 << 10, .watchdog_ms = wd_ms};
  remc_domain *d = remc_domain_create(&c);
  if (!d) { perror("remc_domain_create"); exit(2); }
  return d;
}

static int call(remc_domain *d, remc_domain_fn fn, uint32_t op, remc_fault_info *fi) {
  remc_parse_io *io = remc_domain_io(d);
  size_t hs;
  uint8_t *heap = remc_domain_heap(d, &hs);
  io->resume_end = op;
  io->heap_base = (uint64_t)(uintptr_t)heap;
  io->heap_size = hs;
  io->heap_used = 0;
  io->fault_target[0] = (uint64_t)(uintptr_t)&root_word;
  io->fault_target[1] = (uint64_t)(uintptr_t)store_page;
  io->opts = REMC_IN_FAULT_INJECTION;
  memset(fi, 0, sizeof *fi);
  return remc_domain_call(d, fn, io, remc_domain_window(d), fi);
}

static const char *mode_name(int m) {
  return m == REMC_ISO_NONE ? "none" : m == REMC_ISO_PKU ? "pku" : "pku-strict";
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_good_calls(int mode) {
  remc_domain *d = mk(mode, 0);
  remc_parse_io *io = remc_domain_io(d);
  uint8_t *w = remc_domain_window(d);
  uint32_t pk0 = remc_domain_thread_pkru();
  remc_fault_info fi;
  for (int rep = 0; rep < 3; rep++) {
    uint32_t sum = 0;
    io->len = 1000;
    for (uint32_t i = 0; i < io->len; i++) { w[i] = (uint8_t)(i * 7 + rep); sum += w[i]; }
    int r = call(d, dom_op, OP_GOOD, &fi);
    CHECK(r == 0 && io->status == sum && io->consumed == 1000, "%s good call r=%d", mode_name(mode), r);
  }
  CHECK(remc_domain_thread_pkru() == pk0, "%s PKRU changed %x -> %x", mode_name(mode), pk0,
        remc_domain_thread_pkru());
  /* the domain can read root memory in pku and none, not in pku-strict */
  int r = call(d, dom_op, OP_READ_T0, &fi);
  if (mode == REMC_ISO_PKU_STRICT)
    CHECK(r == REMC_FAULT_pku && fi.pkey == 0, "strict root read r=%d pkey=%d", r, fi.pkey);
  else
    CHECK(r == 0 && io->consumed == (uint32_t)root_word, "%s root read r=%d", mode_name(mode), r);
  /* window: a shorter input never shows the tail of a longer earlier one */
  memset(w, 'A', 3000);
  io->len = 3000;
  r = call(d, dom_op, OP_GOOD, &fi);
  memcpy(w, "get k\r\n", 7);
  io->len = 7;
  io->fault_target[3] = remc_domain_window_cap(d);
  io->resume_end = OP_WINDOW_TAIL;
  r = remc_domain_call(d, dom_op, io, w, &fi);
  CHECK(r == 0 && io->status == 0, "%s: %u stale window bytes visible past len", mode_name(mode), io->status);
  /* heap: used part scrubbed after a good call */
  io->len = 4000;
  r = call(d, dom_op, OP_WRITE_HEAP, &fi);
  CHECK(r == 0, "heap write r=%d", r);
  r = call(d, dom_op, OP_CHECK_HEAP_ZERO, &fi);
  CHECK(r == 0 && io->status == 0, "%s heap not scrubbed after a good call: %u words", mode_name(mode), io->status);
  CHECK(remc_domain_thread_pkru() == pk0, "%s PKRU changed", mode_name(mode));
  remc_domain_destroy(d);
}

/* Every fault-injection kind in this mode: the kind expected from the table, targets intact
 * (or corrupted in none), PKRU unchanged, the heap scrubbed, the next good call fine. */
static void test_injections(int mode) {
  remc_domain *d = mk(mode, 50);
  remc_parse_io *io = remc_domain_io(d);
  uint32_t pk0 = remc_domain_thread_pkru();
  struct { const char *name; uint32_t id; int kp, kn; } t[] = {
#define X(n, id, kp, kn, ks) {#n, id, REMC_FAULT_##kp, REMC_FAULT_##kn},
      REMC_FAULT_INJECTIONS(X)
#undef X
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    root_word = 0x5afe5afe5afe5afeull;
    store_page[0] = 0x5707e5707e5707eull;
    io->len = 0;
    remc_fault_info fi;
    uint64_t t0 = now_ns();
    int r = call(d, dom_inject, t[i].id, &fi);
    uint64_t dt = now_ns() - t0;
    int want = mode == REMC_ISO_NONE ? t[i].kn : t[i].kp;
    CHECK(r == want, "%s %s: got kind %s (sig %d code %d pkey %d addr %#llx), want %s", mode_name(mode),
          t[i].name, r < REMC_FAULT_COUNT ? kind_names[r] : "?", fi.signo, fi.code, fi.pkey,
          (unsigned long long)fi.addr, kind_names[want]);
    if (r == REMC_FAULT_pku) {
      int want_key = t[i].id == REMC_FI_root_write ? 0 : remc_domain_store_pkey();
      CHECK(fi.pkey == want_key, "%s %s: pkey %d want %d", mode_name(mode), t[i].name, fi.pkey, want_key);
    }
    if (mode == REMC_ISO_NONE && t[i].id == REMC_FI_root_write)
      CHECK(root_word == 0xbad0bad0bad0bad0ull, "none: root write did not corrupt (%llx)", (unsigned long long)root_word);
    else if (mode == REMC_ISO_NONE && t[i].id == REMC_FI_store_write)
      CHECK(store_page[0] == 0xbad0bad0bad0bad0ull, "none: store write did not corrupt");
    else {
      CHECK(root_word == 0x5afe5afe5afe5afeull, "%s %s: root word changed", mode_name(mode), t[i].name);
      CHECK(store_page[0] == 0x5707e5707e5707eull, "%s %s: store word changed", mode_name(mode), t[i].name);
    }
    if (t[i].id == REMC_FI_endless_loop)
      CHECK(dt >= 50000000ull && dt < 400000000ull, "watchdog took %llu ms", (unsigned long long)(dt / 1000000));
    CHECK(remc_domain_thread_pkru() == pk0, "%s %s: PKRU %x != %x", mode_name(mode), t[i].name,
          remc_domain_thread_pkru(), pk0);
    remc_fault_info fz;
    int z = call(d, dom_op, OP_CHECK_HEAP_ZERO, &fz);
    CHECK(z == 0 && io->status == 0, "%s %s: heap not scrubbed (%d, %u)", mode_name(mode), t[i].name, z, io->status);
    printf("  %-10s %-14s -> %-14s sig=%-2d code=%-3d pkey=%-2d %8.1f us\n", mode_name(mode), t[i].name,
           r < REMC_FAULT_COUNT ? kind_names[r] : "?", fi.signo, fi.code, fi.pkey, dt / 1000.0);
  }
  remc_domain_stats st;
  remc_domain_get_stats(d, &st);
  CHECK(st.faults[REMC_FAULT_timeout] == 1, "timeout count %llu", (unsigned long long)st.faults[REMC_FAULT_timeout]);
  remc_domain_destroy(d);
}

/* 10 000 faults in a row on one thread, interleaved with good calls. */
static void test_many_faults(int mode) {
  remc_domain *d = mk(mode, 0);
  remc_parse_io *io = remc_domain_io(d);
  uint8_t *w = remc_domain_window(d);
  static const uint32_t kinds[] = {REMC_FI_root_write, REMC_FI_store_read, REMC_FI_stack_smash,
                                   REMC_FI_null_deref, REMC_FI_wild_pointer, REMC_FI_illegal_insn,
                                   REMC_FI_div_zero, REMC_FI_abort, REMC_FI_heap_overrun,
                                   REMC_FI_stack_exhaust};
  uint32_t pk0 = remc_domain_thread_pkru();
  remc_fault_info fi;
  /* warm up (first-touch of stacks and altstack), then measure RSS */
  for (int i = 0; i < 200; i++) call(d, dom_inject, kinds[i % 10], &fi);
  long rss0 = rss_kib();
  int bad = 0, faults = 0;
  remc_domain_stats st0;
  remc_domain_get_stats(d, &st0);
  for (int i = 0; i < 10000; i++) {
    uint32_t k = kinds[i % 10];
    if (mode == REMC_ISO_NONE && (k == REMC_FI_root_write || k == REMC_FI_store_read)) k = REMC_FI_null_deref;
    int r = call(d, dom_inject, k, &fi);
    faults += r != 0;
    io->len = 16;
    memcpy(w, "get some_key\r\n\0\0", 16);
    int g = call(d, dom_op, OP_GOOD, &fi);
    if (g != 0 || io->consumed != 16) bad++;
  }
  long rss1 = rss_kib();
  /* every mapping still carries the key it had: domain memory the domain key, root memory 0 */
  size_t hs;
  int want = mode == REMC_ISO_NONE ? 0 : remc_domain_pkey();
  CHECK(smaps_pkey(w) == want && smaps_pkey(io) == want && smaps_pkey(remc_domain_heap(d, &hs)) == want,
        "%s: domain mappings' keys %d %d %d, want %d", mode_name(mode), smaps_pkey(w), smaps_pkey(io),
        smaps_pkey(remc_domain_heap(d, &hs)), want);
  CHECK(smaps_pkey((const void *)&root_word) == 0, "root page key %d", smaps_pkey((const void *)&root_word));
  CHECK(mode == REMC_ISO_NONE || smaps_pkey(store_page) == remc_domain_store_pkey(), "store page key");
  CHECK(faults == 10000 && bad == 0, "%s: %d/10000 faults rewound, %d good calls failed", mode_name(mode), faults, bad);
  CHECK(remc_domain_thread_pkru() == pk0, "%s: PKRU %x != %x after 10000 faults", mode_name(mode),
        remc_domain_thread_pkru(), pk0);
  CHECK(rss1 - rss0 < 256, "%s: RSS grew %ld KiB over 10000 faults", mode_name(mode), rss1 - rss0);
  remc_domain_stats st;
  remc_domain_get_stats(d, &st);
  uint64_t total = 0;
  for (int k = 1; k < REMC_FAULT_COUNT; k++) total += st.faults[k] - st0.faults[k];
  CHECK(total == 10000, "%s: stats count %llu faults", mode_name(mode), (unsigned long long)total);
  printf("  %-10s 10000 faults + 10000 good calls: PKRU %#x before and after, RSS %ld -> %ld KiB\n",
         mode_name(mode), pk0, rss0, rss1);
  remc_domain_destroy(d);
}

/* Permissions are re-applied after a fault that shows they changed: a window page made
 * read-only behind the runtime's back faults once (SEGV_ACCERR on domain memory), and is
 * read-write with the domain key again for the next call. */
static void test_reapply(int mode) {
  remc_domain *d = mk(mode, 0);
  remc_parse_io *io = remc_domain_io(d);
  uint8_t *w = remc_domain_window(d);
  remc_fault_info fi;
  if (mode == REMC_ISO_NONE) mprotect(w, 4096, PROT_READ);
  else pkey_mprotect(w, 4096, PROT_READ, remc_domain_pkey());
  io->len = 0;
  io->resume_end = OP_WRITE_WINDOW;
  int r = remc_domain_call(d, dom_op, io, w, &fi);
  CHECK(r == REMC_FAULT_segv && fi.code == SEGV_ACCERR, "%s: write to a read-only window: r=%d code=%d", mode_name(mode), r, fi.code);
  io->status = 0;
  r = remc_domain_call(d, dom_op, io, w, &fi);
  CHECK(r == 0 && io->status == 0x55 && w[0] == 0x55, "%s: window not writable again after the rewind (r=%d)", mode_name(mode), r);
  CHECK(smaps_pkey(w) == (mode == REMC_ISO_NONE ? 0 : remc_domain_pkey()), "%s: window key", mode_name(mode));
  remc_domain_destroy(d);
}

/* The domain cannot leave MXCSR, the x87 control word or DF changed for the host. */
static void fpu_state(uint32_t *mx, uint16_t *cw, uint64_t *fl) {
  __asm__ volatile("stmxcsr %0\n\tfnstcw %1\n\tpushfq\n\tpopq %2" : "=m"(*mx), "=m"(*cw), "=r"(*fl));
}
static void test_abi_state(int mode) {
  remc_domain *d = mk(mode, 0);
  remc_parse_io *io = remc_domain_io(d);
  uint32_t mx0, mx1;
  uint16_t cw0, cw1;
  uint64_t fl0, fl1;
  for (int op = OP_MESS_FPU; op <= OP_MESS_FPU_FAULT; op++) {
    remc_fault_info fi;
    fpu_state(&mx0, &cw0, &fl0);
    io->resume_end = (uint32_t)op;
    io->fault_target[2] = 8; /* unmapped: the faulting variant rewinds */
    int r = remc_domain_call(d, dom_op, io, remc_domain_window(d), &fi);
    fpu_state(&mx1, &cw1, &fl1);
    CHECK(r == (op == OP_MESS_FPU ? 0 : REMC_FAULT_segv), "%s: op %d r=%d", mode_name(mode), op, r);
    CHECK(mx1 == mx0 && cw1 == cw0 && !(fl1 & 0x400), "%s %s: MXCSR %#x->%#x CW %#x->%#x DF %d", mode_name(mode),
          op == OP_MESS_FPU ? "return" : "rewind", mx0, mx1, cw0, cw1, !!(fl1 & 0x400));
  }
  io->fault_target[2] = 0;
  remc_domain_destroy(d);
}

/* Gate gadgets: domain code that jumps straight to any WRPKRU of the gate (entry, exits,
 * rewind) with eax = 0 and a forged gate in rdi must neither keep PKRU 0 nor reach the forged
 * return address: every site is followed by a check that traps, and the trap rewinds. */
static volatile int attacker_won;
static void attacker_target(void) {
  attacker_won = 1;
  _exit(3); /* control reached code of the attacker's choosing with the host's rights */
}
static void test_erim_check(int mode) {
  extern char remc_gate_call[], remc_gate_rewind[];
  uint8_t *p = (uint8_t *)remc_gate_call, *end = (uint8_t *)remc_gate_rewind + 0x60;
  uint8_t *sites[16];
  int n = 0;
  for (; p + 2 < end && n < 16; p++)
    if (p[0] == 0x0f && p[1] == 0x01 && p[2] == 0xef) sites[n++] = p;
  CHECK(n == 6, "expected 6 WRPKRU sites in the gate, found %d", n);
  /* and the signal entries' (remc_sig_entry, remc_sig_entry_chain: one each) */
  extern char remc_sig_entry[], remc_sig_entry_chain[];
  int n_gate = n;
  for (p = (uint8_t *)remc_sig_entry, end = (uint8_t *)remc_sig_entry_chain + 0x40; p + 2 < end && n < 16; p++)
    if (p[0] == 0x0f && p[1] == 0x01 && p[2] == 0xef) sites[n++] = p;
  CHECK(n - n_gate == 2, "expected 2 WRPKRU sites in the signal entries, found %d", n - n_gate);
  remc_domain *d = mk(mode, 0);
  remc_parse_io *io = remc_domain_io(d);
  size_t hs;
  uint64_t *forged = (uint64_t *)(void *)remc_domain_heap(d, &hs); /* domain memory */
  uint32_t pk0 = remc_domain_thread_pkru();
  for (int i = 0; i < n; i++) {
    /* the forged gate: rsp -> a stack in the heap holding attacker_target; host_pkru 0 */
    memset(forged, 0, 256);
    forged[0] = (uint64_t)(uintptr_t)(forged + 16);                  /* G_RSP */
    forged[16] = (uint64_t)(uintptr_t)attacker_target;              /* its "return address" */
    forged[8] = 0;                                                   /* G_HOST_PKRU, G_DOM_PKRU */
    forged[9] = GF_HW_PKU_TEST | ((uint64_t)0 << 32);                /* G_FLAGS */
    remc_fault_info fi;
    io->resume_end = OP_JUMP_T2;
    io->fault_target[2] = (uint64_t)(uintptr_t)sites[i];
    io->fault_target[3] = (uint64_t)(uintptr_t)forged;
    int r = remc_domain_call(d, dom_op, io, remc_domain_window(d), &fi);
    CHECK(r != 0, "%s: jump to WRPKRU site %d (gate+%#lx) returned normally", mode_name(mode), i,
          (long)(sites[i] - (uint8_t *)remc_gate_call));
    CHECK(remc_domain_thread_pkru() == pk0, "%s: site %d: PKRU %x != %x", mode_name(mode), i, remc_domain_thread_pkru(), pk0);
    CHECK(!attacker_won, "%s: site %d: attacker reached its target", mode_name(mode), i);
    printf("  %-10s gadget: WRPKRU site %d (gate+%#lx) with eax=0, forged rdi -> %s\n", mode_name(mode), i,
           (long)(sites[i] - (uint8_t *)remc_gate_call), r < REMC_FAULT_COUNT ? kind_names[r] : "?");
  }
  io->fault_target[2] = io->fault_target[3] = 0;
  remc_domain_destroy(d);
}

/* A fault outside the domain goes to the handler that was there before (V8's wasm trap handler
 * in Node); installed before remc_domain_process_init, like Node's. */
static volatile int prev_handler_hits;
static uint8_t *noaccess_page;
static void prev_segv(int sig, siginfo_t *si, void *ucv) {
  (void)sig;
  ucontext_t *uc = ucv;
  if ((uint8_t *)si->si_addr == noaccess_page) {
    prev_handler_hits++;
    mprotect(noaccess_page, 4096, PROT_READ); /* like a trap handler: fix and resume */
    (void)uc;
    return;
  }
  signal(SIGSEGV, SIG_DFL);
}
static void test_chaining(void) {
  volatile uint8_t v = noaccess_page[0];
  (void)v;
  CHECK(prev_handler_hits == 1, "host fault not forwarded to the previous handler (%d)", prev_handler_hits);
}

/* rseq (§0.1): long domain calls while a CPU hog shares the core; the kernel preempts us inside
 * the domain again and again. With glibc's rseq area registered this kills the process. */
static atomic_int hog_stop;
static void *hog(void *a) {
  (void)a;
  while (!atomic_load(&hog_stop)) {
  }
  return NULL;
}
static void test_rseq_under_hog(int mode, double seconds) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  cpu_set_t old;
  sched_getaffinity(0, sizeof old, &old);
  sched_setaffinity(0, sizeof one, &one);
  pthread_t th;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setaffinity_np(&at, sizeof one, &one);
  atomic_store(&hog_stop, 0);
  pthread_create(&th, &at, hog, NULL);
  remc_domain *d = mk(mode, 1000);
  remc_parse_io *io = remc_domain_io(d);
  uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
  int calls = 0, bad = 0;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_THREAD, &ru0);
  while (now_ns() < end) {
    remc_fault_info fi;
    io->fault_target[3] = 2000000; /* a few ms per call */
    io->resume_end = OP_SPIN_NS;
    int r = remc_domain_call(d, dom_op, io, remc_domain_window(d), &fi);
    bad += r != 0;
    r = call(d, dom_inject, REMC_FI_null_deref, &fi); /* and faults, under preemption */
    bad += r != REMC_FAULT_segv;
    calls++;
  }
  getrusage(RUSAGE_THREAD, &ru1);
  atomic_store(&hog_stop, 1);
  pthread_join(th, NULL);
  sched_setaffinity(0, sizeof old, &old);
  long nivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
  CHECK(bad == 0, "%s: %d bad calls under the hog", mode_name(mode), bad);
  CHECK(nivcsw > 10, "%s: the hog did not preempt us (%ld involuntary switches)", mode_name(mode), nivcsw);
  printf("  %-10s rseq: %d long calls + faults beside a CPU hog on CPU 0, %ld preemptions, alive\n",
         mode_name(mode), calls, nivcsw);
  remc_domain_destroy(d);
}

/* Asynchronous signals (§0.2). Handlers installed like libuv's and Node's: no SA_ONSTACK,
 * sa_mask = everything. A storm of process-directed SIGUSR2/SIGHUP/SIGCHLD plus thread-directed
 * SIGPROF (SA_ONSTACK, like V8's sampler) at the domain thread while it spins in the domain. */
static atomic_int hits_usr2, hits_hup, hits_chld, hits_prof, hits_on_domain_thread;
static pid_t domain_tid;
static void libuv_like(int sig) {
  if ((pid_t)syscall(SYS_gettid) == domain_tid) atomic_fetch_add(&hits_on_domain_thread, 1);
  if (sig == SIGUSR2) atomic_fetch_add(&hits_usr2, 1);
  if (sig == SIGHUP) atomic_fetch_add(&hits_hup, 1);
  if (sig == SIGCHLD) atomic_fetch_add(&hits_chld, 1);
}
static void prof_like(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)si; (void)uc;
  atomic_fetch_add(&hits_prof, 1);
}
static atomic_int storm_stop;
static pthread_t domain_thread;
static void *stormer(void *a) {
  (void)a;
  int i = 0;
  while (!atomic_load(&storm_stop)) {
    kill(getpid(), (i % 2) ? SIGUSR2 : SIGHUP);
    pthread_kill(domain_thread, SIGPROF);
    if (i % 50 == 0) {
      pid_t c = fork();
      if (c == 0) _exit(0);
    }
    i++;
    usleep(100);
  }
  return NULL;
}
static atomic_int reaping; /* only during the storm: other tests wait for their own children */
static void *sink(void *a) {
  (void)a;
  while (!atomic_load(&storm_stop)) {
    while (atomic_load(&reaping) && waitpid(-1, NULL, WNOHANG) > 0) {
    }
    usleep(1000);
  }
  return NULL;
}
static void test_signal_storm(int mode, double seconds, pthread_t *sink_th) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = libuv_like;
  sigfillset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGCHLD, &sa, NULL);
  struct sigaction sp;
  memset(&sp, 0, sizeof sp);
  sp.sa_sigaction = prof_like;
  sp.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigaction(SIGPROF, &sp, NULL);
  remc_domain *d = mk(mode, 1000); /* blocks async signals on this thread (not on the sink) */
  remc_parse_io *io = remc_domain_io(d);
  domain_tid = (pid_t)syscall(SYS_gettid);
  domain_thread = pthread_self();
  atomic_store(&storm_stop, 0);
  atomic_store(&hits_on_domain_thread, 0);
  pthread_t st;
  atomic_store(&reaping, 1);
  pthread_create(&st, NULL, stormer, NULL);
  uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
  /* the check below wants 100 SIGPROF samples: on a loaded host (an emulator sharing its cores)
   * they take longer to come, so the storm goes on for them, up to a bound */
  uint64_t hard_end = end + 20000000000ull;
  int calls = 0, bad = 0;
  uint64_t in_ns = 0;
  while (now_ns() < end || (atomic_load(&hits_prof) <= 100 && now_ns() < hard_end)) {
    remc_fault_info fi;
    io->fault_target[3] = 200000;
    io->resume_end = OP_SPIN_NS;
    uint64_t t0 = now_ns();
    int r = remc_domain_call(d, dom_op, io, remc_domain_window(d), &fi);
    in_ns += now_ns() - t0;
    bad += r != 0;
    r = call(d, dom_inject, REMC_FI_root_write + (calls & 1) * (REMC_FI_illegal_insn - REMC_FI_root_write), &fi);
    bad += r == 0 && mode != REMC_ISO_NONE;
    calls++;
  }
  atomic_store(&storm_stop, 1);
  pthread_join(st, NULL);
  usleep(20000);
  atomic_store(&reaping, 0);
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  CHECK(bad == 0, "%s: %d bad calls in the storm", mode_name(mode), bad);
  CHECK(atomic_load(&hits_usr2) > 0 && atomic_load(&hits_hup) > 0 && atomic_load(&hits_chld) > 0,
        "storm handlers did not run: usr2 %d hup %d chld %d", hits_usr2, hits_hup, hits_chld);
  CHECK(atomic_load(&hits_on_domain_thread) == 0, "a libuv-like handler ran on the domain thread");
  CHECK(atomic_load(&hits_prof) > 100, "SIGPROF handler ran %d times", hits_prof);
  printf("  %-10s storm: %d calls (%.0f%% of the time in the domain), USR2 %d HUP %d CHLD %d handled "
         "elsewhere, SIGPROF %d on the domain thread, alive\n",
         mode_name(mode), calls, 100.0 * in_ns / (seconds * 1e9), hits_usr2, hits_hup, hits_chld, hits_prof);
  (void)sink_th;
  remc_domain_destroy(d);
}

/* Negative controls: the two traps are real. In a child, undo one mitigation and run the same
 * load: the child must be killed by SIGSEGV (otherwise the positive tests prove nothing). */
static void *usr2_at(void *a) {
  pthread_t t = *(pthread_t *)a;
  for (int i = 0; i < 20000; i++) { pthread_kill(t, SIGUSR2); usleep(50); }
  return NULL;
}
static void test_traps_are_real(int mode) {
  remc_domain *d = mk(mode, 0); /* before fork: the child must not need the watchdog's lock */
  remc_parse_io *io = remc_domain_io(d);
  for (int which = 0; which < 2; which++) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
      if (which == 0) { /* rseq registered again, CPU hog on the same core */
        char *tp;
        __asm__("mov %%fs:0, %0" : "=r"(tp));
        if (syscall(SYS_rseq, tp + __rseq_offset, 32, 0, RSEQ_SIG) != 0) _exit(77);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        sched_setaffinity(0, sizeof one, &one);
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setaffinity_np(&at, sizeof one, &one);
        pthread_create(&th, &at, hog, NULL);
      } else { /* SIGUSR2 not blocked on the domain thread; handler like libuv's */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = libuv_like;
        sigfillset(&sa.sa_mask);
        sigaction(SIGUSR2, &sa, NULL);
        sigset_t u;
        sigemptyset(&u);
        sigaddset(&u, SIGUSR2);
        pthread_sigmask(SIG_UNBLOCK, &u, NULL);
        static pthread_t self;
        self = pthread_self();
        pthread_t th;
        pthread_create(&th, NULL, usr2_at, &self);
      }
      uint64_t end = now_ns() + 3000000000ull;
      while (now_ns() < end) {
        remc_fault_info fi;
        io->fault_target[3] = 2000000;
        io->resume_end = OP_SPIN_NS;
        remc_domain_call(d, dom_op, io, remc_domain_window(d), &fi);
      }
      _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    const char *what = which == 0 ? "rseq re-registered + CPU hog" : "SIGUSR2 unblocked + storm";
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
      printf("  %-10s control %s: skipped (cannot re-register rseq)\n", mode_name(mode), what);
      continue;
    }
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s control %s: child status %#x, expected death by SIGSEGV",
          mode_name(mode), what, st);
    printf("  %-10s control %s: child killed by signal %d (as expected without the mitigation)\n",
           mode_name(mode), what, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  }
  remc_domain_destroy(d);
}

/* The alternate stack carries the domain key because a kernel before 6.12 writes the signal
 * frame under the domain's PKRU (pku-linux.md §1.2). Control: in a child, put a pkey-0
 * altstack back and fault once inside the domain. Before 6.12 the child must die (else the
 * keyed altstack proves nothing); from 6.12 on the kernel copes and the fault is rewound. */
static int kernel_at_least(int maj, int min) {
  struct utsname u;
  int a = 0, b = 0;
  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &a, &b) != 2) return 1;
  return a > maj || (a == maj && b >= min);
}
static void test_altstack_control(int mode) {
  remc_domain *d = mk(mode, 0);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    uint8_t *m = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = {.ss_sp = m, .ss_size = 64 << 10, .ss_flags = 0};
    if (m == MAP_FAILED || sigaltstack(&ss, NULL) != 0) _exit(77);
    remc_fault_info fi;
    int r = call(d, dom_inject, REMC_FI_root_write, &fi);
    _exit(r == REMC_FAULT_pku ? 0 : 1);
  }
  int st = 0;
  waitpid(c, &st, 0);
  int new_kernel = kernel_at_least(6, 12);
  if (new_kernel)
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s control pkey-0 altstack on Linux >= 6.12: status %#x", mode_name(mode), st);
  else
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s control pkey-0 altstack on Linux < 6.12: status %#x, expected death by SIGSEGV",
          mode_name(mode), st);
  printf("  %-10s control pkey-0 altstack: %s\n", mode_name(mode),
         WIFSIGNALED(st) ? "child killed by SIGSEGV at the first fault (kernel < 6.12: the keyed altstack is needed)"
                         : "fault rewound (kernel >= 6.12 writes the frame under PKRU 0)");
  remc_domain_destroy(d);
}

/* Domains on two threads at once, faulting. */
static void io_good(remc_domain *d) {
  remc_parse_io *io = remc_domain_io(d);
  remc_fault_info fi;
  io->len = 0;
  io->resume_end = OP_GOOD;
  remc_domain_call(d, dom_op, io, remc_domain_window(d), &fi);
}
static void *second_thread(void *a) {
  int mode = *(int *)a;
  remc_domain *d = mk(mode, 0);
  remc_fault_info fi;
  int bad = 0;
  /* a host PKRU unlike the init thread's: the strict exit must take its second WRPKRU */
  if (mode != REMC_ISO_NONE) pkey_set(remc_domain_store_pkey(), PKEY_DISABLE_WRITE);
  uint32_t pk0 = remc_domain_thread_pkru();
  for (int i = 0; i < 2000; i++) {
    int r = call(d, dom_inject, i & 1 ? REMC_FI_stack_smash : REMC_FI_null_deref, &fi);
    bad += r != (i & 1 ? REMC_FAULT_canary : REMC_FAULT_segv);
    io_good(d);
    bad += remc_domain_thread_pkru() != pk0;
  }
  if (mode != REMC_ISO_NONE) pkey_set(remc_domain_store_pkey(), 0);
  remc_domain_destroy(d);
  return (void *)(intptr_t)bad;
}
static void test_two_threads(int mode) {
  pthread_t th;
  pthread_create(&th, NULL, second_thread, &mode);
  remc_domain *d = mk(mode, 0);
  remc_fault_info fi;
  int bad = 0;
  for (int i = 0; i < 2000; i++) bad += call(d, dom_inject, REMC_FI_div_zero, &fi) != REMC_FAULT_fpe;
  void *rb;
  pthread_join(th, &rb);
  CHECK(bad == 0 && rb == NULL, "%s: two threads: %d / %ld wrong", mode_name(mode), bad, (long)(intptr_t)rb);
  remc_domain_destroy(d);
}

/* ---- one protection key per domain thread ----------------------------------------------
 * Holder threads each make a domain, publish its key and a word of its window (its own domain
 * memory, which no other thread's host code may touch either), then do what main asks: a
 * domain call aiming a peer fault at another holder's word, and at exit read their own word. */
struct holder {
  pthread_t th;
  int mode;
  remc_domain *d;
  int key, shared;
  uint64_t *word;            /* in this holder's window: only its own thread reads it */
  uint64_t target;           /* cmd 1: the peer word the domain call aims at */
  uint32_t inject;
  int result, fault_pkey;
  uint64_t word_at_exit;
  atomic_int cmd;            /* 0 wait, 1 run the call, 2 exit; the holder sets 3 after a call */
  atomic_int ready;
};
#define PEER_INTACT 0x5afe5afe5afe5afeull
static int wait_flag(atomic_int *f, int v, double seconds) {
  for (uint64_t t0 = now_ns(); atomic_load(f) != v;) {
    if (now_ns() - t0 > (uint64_t)(seconds * 1e9)) return 0;
    usleep(500);
  }
  return 1;
}
static void *holder_main(void *a) {
  struct holder *h = a;
  h->d = mk(h->mode, 0);
  h->key = remc_domain_key(h->d);
  h->shared = remc_domain_key_is_shared(h->d);
  h->word = (uint64_t *)(void *)(remc_domain_window(h->d) + 4096);
  *h->word = PEER_INTACT;
  atomic_store(&h->ready, 1);
  for (uint64_t t0 = now_ns(); now_ns() - t0 < 60ull * 1000000000ull;) {
    int c = atomic_load(&h->cmd);
    if (c == 2) break;
    if (c == 1) {
      remc_fault_info fi;
      remc_parse_io *io = remc_domain_io(h->d);
      io->fault_target[2] = h->target;
      h->result = call(h->d, dom_inject, h->inject, &fi);
      h->fault_pkey = fi.pkey;
      io->fault_target[2] = 0;
      atomic_store(&h->cmd, 3);
    }
    usleep(500);
  }
  h->word_at_exit = *h->word;
  remc_domain_destroy(h->d);
  return NULL;
}
static int holder_start(struct holder *h, int mode) {
  memset(h, 0, sizeof *h);
  h->mode = mode;
  pthread_create(&h->th, NULL, holder_main, h);
  return wait_flag(&h->ready, 1, 20);
}
static int holder_run(struct holder *h, uint32_t inject, uint64_t target) {
  h->inject = inject;
  h->target = target;
  atomic_store(&h->cmd, 1);
  return wait_flag(&h->cmd, 3, 20) ? h->result : -1;
}
static void holder_stop(struct holder *h) {
  atomic_store(&h->cmd, 2);
  pthread_join(h->th, NULL);
}

/* Two domain threads, two keys: either domain faulting on the other's memory is a PKU fault on
 * the other's key, rewound; the other's word is unchanged. */
static void test_two_keys(int mode) {
  struct holder a, b;
  if (!holder_start(&a, mode) || !holder_start(&b, mode)) { CHECK(0, "%s: holder threads did not start", mode_name(mode)); exit(1); }
  CHECK(a.key > 0 && b.key > 0 && a.key != b.key && !a.shared && !b.shared,
        "%s: two threads, keys %d and %d (shared %d %d)", mode_name(mode), a.key, b.key, a.shared, b.shared);
  CHECK(smaps_pkey(a.word) == a.key && smaps_pkey(b.word) == b.key, "%s: windows carry keys %d %d, want %d %d",
        mode_name(mode), smaps_pkey(a.word), smaps_pkey(b.word), a.key, b.key);
  static const uint32_t inj[] = {REMC_FI_peer_write, REMC_FI_peer_read};
  for (int i = 0; i < 2; i++) {
    int r = holder_run(&a, inj[i], (uint64_t)(uintptr_t)b.word);
    CHECK(r == REMC_FAULT_pku && a.fault_pkey == b.key, "%s: A %s on B: %s, pkey %d (want pku, %d)", mode_name(mode),
          i ? "peer_read" : "peer_write", r >= 0 && r < REMC_FAULT_COUNT ? kind_names[r] : "?", a.fault_pkey, b.key);
    atomic_store(&a.cmd, 0);
    r = holder_run(&b, inj[i], (uint64_t)(uintptr_t)a.word);
    CHECK(r == REMC_FAULT_pku && b.fault_pkey == a.key, "%s: B %s on A: %s, pkey %d (want pku, %d)", mode_name(mode),
          i ? "peer_read" : "peer_write", r >= 0 && r < REMC_FAULT_COUNT ? kind_names[r] : "?", b.fault_pkey, a.key);
    atomic_store(&b.cmd, 0);
  }
  /* and each one's own domain still works after the rewinds */
  int r = holder_run(&a, REMC_FI_root_write, 0);
  CHECK(r == REMC_FAULT_pku && a.fault_pkey == 0, "%s: A root write after peer faults: %d pkey %d", mode_name(mode), r, a.fault_pkey);
  holder_stop(&a);
  holder_stop(&b);
  CHECK(a.word_at_exit == PEER_INTACT && b.word_at_exit == PEER_INTACT, "%s: words after peer faults %#llx %#llx",
        mode_name(mode), (unsigned long long)a.word_at_exit, (unsigned long long)b.word_at_exit);
  printf("  %-10s two threads, keys %d and %d: peer_write/peer_read on each other -> pku on the other's key, words intact\n",
         mode_name(mode), a.key, b.key);
}

/* Keys run out: threads beyond the last free key share one key. Their domains are then open to
 * each other (the write goes through: the unprotected counterpart of test_two_keys), still
 * closed to the rest of the process; and keys of finished threads are handed out again. */
static void test_keys_run_out(int mode) {
  enum { MAXH = 17 };
  static struct holder h[MAXH];
  int n = 0, s1 = -1, s2 = -1, fb0 = remc_domain_key_fallbacks();
  while (n < MAXH && s2 < 0) {
    if (!holder_start(&h[n], mode)) { CHECK(0, "%s: holder %d did not start", mode_name(mode), n); break; }
    if (h[n].shared) { if (s1 < 0) s1 = n; else s2 = n; }
    n++;
  }
  int own = 0, distinct = 1;
  for (int i = 0; i < n; i++) {
    if (h[i].shared) continue;
    own++;
    for (int j = 0; j < i; j++) distinct &= h[j].shared || h[j].key != h[i].key;
  }
  CHECK(s2 >= 0 && distinct && remc_domain_key_fallbacks() - fb0 == 2,
        "%s: %d threads: %d own keys (distinct %d), then shared (fallbacks %d)", mode_name(mode), n, own, distinct,
        remc_domain_key_fallbacks() - fb0);
  if (s2 >= 0) {
    int r = holder_run(&h[s1], REMC_FI_peer_write, (uint64_t)(uintptr_t)h[s2].word);
    CHECK(r == 0, "%s: shared key: peer_write returned %d (want 0: nothing stops it)", mode_name(mode), r);
    atomic_store(&h[s1].cmd, 0);
    r = holder_run(&h[s1], REMC_FI_root_write, 0);
    CHECK(r == REMC_FAULT_pku && h[s1].fault_pkey == 0, "%s: shared key: root write %d pkey %d", mode_name(mode), r, h[s1].fault_pkey);
    atomic_store(&h[s1].cmd, 0);
    /* an own-key thread is still closed to the shared ones */
    r = holder_run(&h[0], REMC_FI_peer_write, (uint64_t)(uintptr_t)h[s1].word);
    CHECK(h[0].shared || (r == REMC_FAULT_pku && h[0].fault_pkey == h[s1].key), "%s: own key on shared: %d", mode_name(mode), r);
  }
  for (int i = 0; i < n; i++) holder_stop(&h[i]);
  if (s2 >= 0) {
    CHECK(h[s2].word_at_exit == 0xbad0bad0bad0bad0ull, "%s: shared key: peer word %#llx (want it overwritten)", mode_name(mode),
          (unsigned long long)h[s2].word_at_exit);
    CHECK(h[s1].word_at_exit == PEER_INTACT, "%s: shared key: own-key write reached it (%#llx)", mode_name(mode),
          (unsigned long long)h[s1].word_at_exit);
  }
  printf("  %-10s %d threads: %d own keys, then the shared key %d: peer_write goes through (word %#llx), root write still pku\n",
         mode_name(mode), n, own, s1 >= 0 ? h[s1].key : -1, s2 >= 0 ? (unsigned long long)h[s2].word_at_exit : 0ull);
  /* the finished threads' keys are free again */
  struct holder again;
  if (holder_start(&again, mode)) {
    CHECK(!again.shared && again.key > 0, "%s: a new thread after the others ended got key %d shared %d", mode_name(mode), again.key, again.shared);
    holder_stop(&again);
  }
}

/* The canary page is sealed: even root cannot change it (fork: the write must kill the child). */
static void test_canary_sealed(void) {
  extern uint64_t __stack_chk_guard;
  pid_t c = fork();
  if (c == 0) {
    signal(SIGSEGV, SIG_DFL);
    *(volatile uint64_t *)&__stack_chk_guard = 1;
    _exit(0);
  }
  int st = 0;
  waitpid(c, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "canary page writable (status %#x)", st);
  CHECK(__stack_chk_guard != 0, "canary not randomised");
}

int main(int argc, char **argv) {
#if defined(__SANITIZE_ADDRESS__)
  /* ASan's shadow memory is pkey 0: instrumented domain code cannot write it (pku-linux.md §6.2) */
  puts("domain_test: skipped under AddressSanitizer (domain code cannot write the shadow)");
  return 0;
#endif
  double storm_s = argc > 1 ? atof(argv[1]) : 1.5;
  /* a "previous" SIGSEGV handler, like Node's, before the runtime takes over */
  noaccess_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct sigaction pa;
  memset(&pa, 0, sizeof pa);
  pa.sa_sigaction = prev_segv;
  pa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &pa, NULL);
  /* the sink thread exists before any domain blocks signals, like V8's platform workers */
  pthread_t sink_th;
  pthread_create(&sink_th, NULL, sink, NULL);

  const char *why = NULL;
  int mode = remc_domain_process_init(REMC_ISO_PKU, &why);
  int pku = mode == REMC_ISO_PKU;
  printf("process mode %s%s%s; domain key %d, store key %d; PKRU %#x\n", mode_name(mode),
         why && *why ? ": " : "", why ? why : "", remc_domain_pkey(), remc_domain_store_pkey(),
         remc_domain_thread_pkru());
  store_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pku) pkey_mprotect(store_page, 4096, PROT_READ | PROT_WRITE, remc_domain_store_pkey());

  int modes[3] = {REMC_ISO_NONE, REMC_ISO_PKU, REMC_ISO_PKU_STRICT};
  int nmodes = pku ? 3 : 1;
  test_chaining();
  test_canary_sealed();
  for (int i = 0; i < nmodes; i++) test_good_calls(modes[i]);
  printf("fault injection (kind -> caught as):\n");
  for (int i = 0; i < nmodes; i++) test_injections(modes[i]);
  for (int i = 0; i < nmodes; i++) test_many_faults(modes[i]);
  if (pku) { test_erim_check(REMC_ISO_PKU); test_erim_check(REMC_ISO_PKU_STRICT); }
  for (int i = 0; i < nmodes; i++) test_abi_state(modes[i]);
  for (int i = 0; i < nmodes; i++) test_reapply(modes[i]);
  for (int i = 0; i < nmodes; i++) test_two_threads(modes[i]);
  if (pku) { test_two_keys(REMC_ISO_PKU); test_two_keys(REMC_ISO_PKU_STRICT); }
  if (pku) { test_keys_run_out(REMC_ISO_PKU); test_keys_run_out(REMC_ISO_PKU_STRICT); }
  test_rseq_under_hog(pku ? REMC_ISO_PKU : REMC_ISO_NONE, storm_s);
  if (pku) test_rseq_under_hog(REMC_ISO_PKU_STRICT, storm_s / 2);
  test_signal_storm(pku ? REMC_ISO_PKU : REMC_ISO_NONE, storm_s, &sink_th);
  if (pku) test_signal_storm(REMC_ISO_PKU_STRICT, storm_s / 2, &sink_th);
  if (pku) test_traps_are_real(REMC_ISO_PKU);
  if (pku) { test_altstack_control(REMC_ISO_PKU); test_altstack_control(REMC_ISO_PKU_STRICT); }
  if (!pku) printf("skipped: the pku and pku-strict checks (%s); test/vm/run.sh runs them under QEMU\n", why);
  atomic_store(&storm_stop, 1);
  pthread_join(sink_th, NULL);
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
