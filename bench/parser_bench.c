/*
 * parser_bench.c — ns per command of remc_parse (and of remc_validate) on typical pipelines,
 * compiled like the addon compiles them (gcc -O2, the parser's freestanding flags), without the
 * domain gate (its cost is measured by the runtime's own bench).
 *
 *   bench/parser_bench.sh            (builds with the addon's flags and runs, ~3 s)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remc_abi.h"

void remc_fault_inject(remc_parse_io *io, uint32_t kind) {
  (void)io;
  (void)kind;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define CAP 512

static void bench(const char *name, const uint8_t *w, uint32_t len, uint32_t units,
                  const char *unit) {
  remc_parse_io *io = calloc(1, sizeof(remc_parse_io) + (size_t)CAP * REMC_DESC_WORDS * 4);
  remc_parse_req req = {.len = len, .desc_cap = CAP, .heap_size = 0};
  double best_parse = 1e30, best_validate = 1e30;
  uint32_t ndesc = 0;
  for (int round = 0; round < 7; round++) {
    int iters = 2000;
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
      remc_parse_io_prepare(io, &req, 0);
      remc_parse(io, w);
      __asm__ volatile("" ::"r"(io) : "memory");
    }
    double t1 = now_ns();
    for (int i = 0; i < iters; i++) {
      int v = remc_validate(io, &req, len);
      __asm__ volatile("" ::"r"(v) : "memory");
    }
    double t2 = now_ns();
    if (io->status != REMC_PS_OK || io->consumed != len || remc_validate(io, &req, len)) {
      fprintf(stderr, "%s: unexpected parse result (status %u consumed %u/%u)\n", name,
              io->status, io->consumed, len);
      exit(1);
    }
    ndesc = io->ndesc;
    double p = (t1 - t0) / iters, v = (t2 - t1) / iters;
    if (p < best_parse) best_parse = p;
    if (v < best_validate) best_validate = v;
  }
  printf("%-34s %6.1f ns/%s parse  %5.1f ns/desc validate  (%u %ss, %u descriptors, %u bytes)\n",
         name, best_parse / units, unit, best_validate / ndesc, units, unit, ndesc, len);
  free(io);
}

int main(void) {
  static uint8_t buf[1 << 20];
  uint32_t n;
  const uint32_t N = 100;

  n = 0;
  for (uint32_t i = 0; i < N; i++) n += (uint32_t)sprintf((char *)buf + n, "get key:%06u\r\n", i);
  bench("get pipeline (100 x get key:NNNNNN)", buf, n, N, "cmd");

  n = 0;
  for (uint32_t i = 0; i < N; i++)
    n += (uint32_t)sprintf((char *)buf + n, "set key:%06u 0 0 32\r\n%032u\r\n", i, i);
  bench("set pipeline (100 x set, 32 B)", buf, n, N, "cmd");

  n = 0;
  for (uint32_t i = 0; i < N; i++)
    n += (uint32_t)sprintf((char *)buf + n, i % 10 == 9 ? "set key:%06u 0 0 32\r\n%032u\r\n"
                                                           : "get key:%06u\r\n",
                           i, i);
  bench("mixed 90% get / 10% set", buf, n, N, "cmd");

  n = (uint32_t)sprintf((char *)buf, "get");
  for (uint32_t i = 0; i < N; i++) n += (uint32_t)sprintf((char *)buf + n, " key:%06u", i);
  n += (uint32_t)sprintf((char *)buf + n, "\r\n");
  bench("multiget (get + 100 keys)", buf, n, N, "key");

  n = 0;
  for (uint32_t i = 0; i < N; i++) {
    n += (uint32_t)sprintf((char *)buf + n, "set key:%06u 0 0 4096\r\n", i);
    memset(buf + n, 'v', 4096);
    n += 4096;
    buf[n++] = '\r';
    buf[n++] = '\n';
  }
  bench("set pipeline (100 x set, 4 KiB)", buf, n, N, "cmd");
  return 0;
}
