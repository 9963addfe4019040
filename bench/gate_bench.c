/*
 * gate_bench.c — domain gate round trip and fault-to-recovered latency, in-process, no Node.
 * Built and run by bench/gate.sh. Not a test: it prints figures.
 *
 *   round trip: remc_domain_call of an empty domain function (best of 7 runs x 2M calls);
 *   fault: remc_domain_call of a function that faults (NULL read, PKU write to root), 20 000
 *          samples each: whole call (fault + kernel delivery + handler + rewind + heap scrub)
 *          median and p99, and the runtime's own rewind_ns (handler entry to recovered).
 */
#include "remc_domain.h"
#include "remc_abi.h"
#include "remc_fault_inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline, no_stack_protector)) static void empty(void *a, void *b) {
  (void)a; (void)b;
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline, no_stack_protector)) static void inject(void *a, void *b) {
  (void)b;
  remc_parse_io *io = a;
  remc_fault_inject(io, io->resume_end);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t root_word = 1;

static void bench_mode(int mode, size_t heap) {
  remc_domain_config c = {.isolation = mode, .window_cap = 64 << 10, .io_cap = 16 << 10,
                          .stack_size = 256 << 10, .heap_size = heap, .watchdog_ms = 100};
  remc_domain *d = remc_domain_create(&c);
  if (!d) { perror("remc_domain_create"); exit(1); }
  const char *name = mode == REMC_ISO_NONE ? "none" : mode == REMC_ISO_PKU ? "pku" : "pku-strict";
  remc_parse_io *io = remc_domain_io(d);
  uint8_t *w = remc_domain_window(d);
  remc_fault_info fi;
  double best = 1e9;
  const int n = 2000000;
  for (int run = 0; run < 7; run++) {
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) remc_domain_call(d, empty, io, w, &fi);
    double ns = (double)(now_ns() - t0) / n;
    if (ns < best) best = ns;
  }
  printf("%-10s heap %4zu KiB  gate round trip (empty call): %6.1f ns\n", name, heap >> 10, best);

  size_t hs;
  uint8_t *hp = remc_domain_heap(d, &hs);
  const int samples = 20000;
  uint64_t *tot = malloc(samples * sizeof *tot), *rw = malloc(samples * sizeof *rw);
  uint32_t kinds[2] = {REMC_FI_null_deref, REMC_FI_root_write};
  for (int k = 0; k < 2; k++) {
    if (mode == REMC_ISO_NONE && kinds[k] == REMC_FI_root_write) continue;
    io->resume_end = kinds[k];
    io->heap_base = (uint64_t)(uintptr_t)hp;
    io->heap_size = hs;
    io->fault_target[0] = (uint64_t)(uintptr_t)&root_word;
    for (int i = 0; i < 1000; i++) remc_domain_call(d, inject, io, w, &fi); /* warm */
    for (int i = 0; i < samples; i++) {
      uint64_t t0 = now_ns();
      int r = remc_domain_call(d, inject, io, w, &fi);
      tot[i] = now_ns() - t0;
      rw[i] = fi.rewind_ns;
      if (!r) { fprintf(stderr, "no fault?\n"); exit(1); }
    }
    qsort(tot, samples, sizeof *tot, cmp_u64);
    qsort(rw, samples, sizeof *rw, cmp_u64);
    printf("%-10s heap %4zu KiB  fault %-10s whole faulting call: median %5.2f us  p99 %5.2f us | "
           "handler-to-recovered: median %5.2f us  p99 %5.2f us\n",
           name, heap >> 10, kinds[k] == REMC_FI_null_deref ? "NULL read" : "root write",
           tot[samples / 2] / 1e3, tot[samples * 99 / 100] / 1e3, rw[samples / 2] / 1e3,
           rw[samples * 99 / 100] / 1e3);
  }
  free(tot);
  free(rw);
  remc_domain_destroy(d);
}

int main(void) {
  const char *why = "";
  int mode = remc_domain_process_init(REMC_ISO_PKU, &why);
  printf("remc gate bench: process mode %d %s\n", mode, why);
  size_t heaps[2] = {64 << 10, 1 << 20};
  for (int h = 0; h < 2; h++) {
    bench_mode(REMC_ISO_NONE, heaps[h]);
    if (mode != REMC_ISO_NONE) {
      bench_mode(REMC_ISO_PKU, heaps[h]);
      bench_mode(REMC_ISO_PKU_STRICT, heaps[h]);
    }
  }
  return 0;
}
