// sources: native/store/*.c
// cflags: -O2
/*
 * store_bench.c — micro-benchmark of the item store's hot path (not run by run.sh: its name
 * does not end in _test.c). Build and run:
 *   gcc -std=gnu11 -D_GNU_SOURCE -O2 -Inative/include native/test/store_bench.c \
 *       native/store/store*.c -o /tmp/store_bench && /tmp/store_bench [nkeys] [value_bytes]
 * Keys are visited in a shuffled order so that every operation pays the cache misses a server
 * would (bucket, item header, value).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remc_store.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

int main(int argc, char **argv) {
  uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000000;
  uint32_t vlen = argc > 2 ? (uint32_t)atoi(argv[2]) : 100;
  remc_store_config cfg = {.mem_limit = 1ull << 30, .item_size_max = 1 << 20,
                           .growth_factor = 1.25, .chunk_min = 48, .evictions = 1,
                           .cas_enabled = 1, .pkey = -1, .hashpower = 16};
  const char *err;
  remc_store *s = remc_store_create(&cfg, &err);
  if (!s) {
    fprintf(stderr, "create: %s\n", err);
    return 1;
  }
  char (*keys)[24] = malloc((size_t)n * 24);
  uint8_t *klens = malloc(n);
  uint32_t *order = malloc((size_t)n * 4);
  uint8_t *val = malloc(vlen), *out = malloc(vlen + 1);
  memset(val, 'v', vlen);
  for (uint32_t i = 0; i < n; i++) {
    klens[i] = (uint8_t)snprintf(keys[i], 24, "key:%u", i * 2654435761u);
    order[i] = i;
  }
  for (uint32_t i = n - 1; i > 0; i--) {
    uint32_t j = (uint32_t)(xorshift() % (i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  double t0 = now_ns();
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k = order[i];
    remc_store_store(s, REMC_MODE_SET, (uint8_t *)keys[k], klens[k], val, vlen, 0, 0, 0, NULL);
  }
  double t1 = now_ns();
  printf("set (insert, hash growing from 2^16)  %7.1f ns/op\n", (t1 - t0) / n);

  for (int round = 0; round < 2; round++) {
    for (uint32_t i = n - 1; i > 0; i--) {
      uint32_t j = (uint32_t)(xorshift() % (i + 1)), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    uint64_t sum = 0, hits = 0;
    t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
      uint32_t k = order[i];
      remc_item_ref ref;
      remc_item_info info;
      if (remc_store_get(s, (uint8_t *)keys[k], klens[k], 1, NULL, &ref, &info)) {
        remc_store_copy_value(s, &ref, out);
        remc_store_release(s, &ref);
        sum += out[info.nbytes - 1];
        hits++;
      }
    }
    t1 = now_ns();
    printf("get hit + copy + release              %7.1f ns/op (hits %llu, %llu)\n", (t1 - t0) / n,
           (unsigned long long)hits, (unsigned long long)sum);
    t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
      uint32_t k = order[i];
      remc_store_store(s, REMC_MODE_SET, (uint8_t *)keys[k], klens[k], val, vlen, 0, 0, 0, NULL);
    }
    t1 = now_ns();
    printf("set (overwrite)                        %7.1f ns/op\n", (t1 - t0) / n);
  }
  t0 = now_ns();
  uint64_t misses = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k = order[i];
    remc_item_ref ref;
    remc_item_info info;
    keys[k][0] = 'X';
    misses += !remc_store_get(s, (uint8_t *)keys[k], klens[k], 1, NULL, &ref, &info);
    keys[k][0] = 'k';
  }
  t1 = now_ns();
  printf("get miss                               %7.1f ns/op (%llu)\n", (t1 - t0) / n,
         (unsigned long long)misses);
  /* the background reclaimer: cost per item checked (nothing expires here) */
  t0 = now_ns();
  for (int i = 0; i < 100; i++) remc_store_reclaim(s, 10000);
  t1 = now_ns();
  printf("reclaim (crawler) per item checked     %7.1f ns (10000 per call: %.2f ms)\n",
         (t1 - t0) / 1e6, (t1 - t0) / 100 / 1e6);
  double st[REMC_STAT_COUNT];
  remc_store_stats(s, st);
  printf("items %.0f, bytes %.0f, slab pages %.0f MiB, hash 2^%.0f (%.0f MiB): %.1f bytes/item "
         "beyond the item itself\n",
         st[REMC_STAT_curr_items], st[REMC_STAT_bytes], st[REMC_STAT_total_malloced] / 1048576,
         st[REMC_STAT_hash_power_level], st[REMC_STAT_hash_bytes] / 1048576,
         (st[REMC_STAT_total_malloced] + st[REMC_STAT_hash_bytes] - st[REMC_STAT_bytes]) /
             st[REMC_STAT_curr_items]);
  remc_store_destroy(s);

  /* eviction-bound: -m 64 with 4x that volume written */
  cfg.mem_limit = 64ull << 20;
  s = remc_store_create(&cfg, &err);
  t0 = now_ns();
  uint32_t m = n * 2;
  for (uint32_t i = 0; i < m; i++) {
    uint32_t k = order[i % n];
    keys[k][0] = i < n ? 'k' : 'K';
    remc_store_store(s, REMC_MODE_SET, (uint8_t *)keys[k], klens[k], val, vlen, 0, 0, 0, NULL);
  }
  t1 = now_ns();
  remc_store_stats(s, st);
  printf("set with eviction (-m 64)              %7.1f ns/op (evictions %.0f)\n", (t1 - t0) / m,
         st[REMC_STAT_evictions]);
  remc_store_destroy(s);
  return 0;
}
