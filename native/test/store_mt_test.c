// sources: native/store/*.c
// cflags: -O1 -pthread
/*
 * store_mt_test.c — several threads on one store, as the -t N workers share it.
 *  1. Exact results: 4 threads each do 10 000 incr of one key, 2 000 appends of their own tag
 *     to another, and 2 000 successful CAS increments (get, then cas, retried on EXISTS) of a
 *     third, while a fifth thread runs the background work (reclaim, clock, stats). No update
 *     may be lost.
 *  2. Churn under eviction: a small store, threads setting, getting, appending, deleting and
 *     touching random keys while the background thread reclaims and moves pages; only the
 *     store's own invariants are checked (and, under ThreadSanitizer, that there is no race).
 *  3. Spread over the item lock stripes while the table grows: 4 threads each incr 512 shared
 *     keys (on most stripes) per round and insert new keys that make the hash table double
 *     several times under them (the migration moves bucket by bucket under the stripes), with
 *     gat, meta ms in CAS_STALE mode and mg/md beside; a sixth thread takes the whole store
 *     again and again (stats, stats reset, dumps, flush_all in the future, checksum). Every
 *     increment must land: each shared key ends at 4 x rounds, every inserted key is found.
 *  4. mg's win token: 4 threads claim it on one stale item, round after round (see claim()).
 * native/test/tsan.sh builds this file with clang -fsanitize=thread; run.sh builds it plainly.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remc_store.h"

#define THREADS 4
/* per thread; divided by the first argument (tsan.sh passes 4: ThreadSanitizer runs ~10x slower) */
static int INCRS = 10000, APPENDS = 2000, CASES = 2000, CHURN_OPS = 40000, SPREAD_ROUNDS = 40;
#define SPREAD_KEYS 512
#define FILL_PER_ROUND 400

static atomic_int failures;
#define CHECK(c)                                                                           \
  do {                                                                                     \
    if (!(c)) {                                                                            \
      failures++;                                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                \
    }                                                                                      \
  } while (0)

static remc_store *S;
static atomic_int stop_bg;

/* The threads that take the whole store (stats, page moves, flush) pause between rounds, as the
 * server's background work does: in a tight loop they could starve the workers of the locks
 * for minutes on two cores under ThreadSanitizer (one CI run: 129 s instead of ~2). */
static void breathe(void) {
  struct timespec ts = {0, 50 * 1000};
  nanosleep(&ts, NULL);
}

static remc_store *make_chunked(uint64_t mb, uint32_t chunk_max) {
  remc_store_config c = {.mem_limit = mb << 20, .item_size_max = 1 << 20, .growth_factor = 1.25,
                         .chunk_min = 48, .evictions = 1, .cas_enabled = 1, .pkey = -1,
                         .hashpower = 10 /* small: the table grows under the threads */,
                         .slab_chunk_max = chunk_max};
  const char *err = NULL;
  remc_store *s = remc_store_create(&c, &err);
  if (!s) { fprintf(stderr, "store: %s\n", err ? err : "?"); exit(1); }
  remc_store_set_time(s, (int64_t)time(NULL));
  return s;
}
static remc_store *make(uint64_t mb) { return make_chunked(mb, 0); }

static const uint8_t *K(const char *k) { return (const uint8_t *)k; }

/* the value of key as a number (0 if missing) and its CAS */
static uint64_t read_u64(remc_store *s, const char *key, uint64_t *cas) {
  remc_item_ref ref;
  remc_item_info info;
  if (!remc_store_get(s, K(key), (uint32_t)strlen(key), 1, NULL, &ref, &info)) return 0;
  char buf[32] = {0};
  remc_store_copy_value(s, &ref, (uint8_t *)buf);
  remc_store_release(s, &ref);
  if (cas) *cas = info.cas;
  return strtoull(buf, NULL, 10);
}

static void *exact_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  uint8_t tag = (uint8_t)('a' + id);
  int incrs = 0, appends = 0, cases = 0;
  while (incrs < INCRS || appends < APPENDS || cases < CASES) {
    if (incrs < INCRS) {
      uint64_t r, nc;
      CHECK(remc_store_arith(S, K("counter"), 7, 1, 1, &r, &nc) == REMC_STORE_STORED);
      incrs++;
    }
    if (appends < APPENDS) {
      CHECK(remc_store_store(S, REMC_MODE_APPEND, K("tags"), 4, &tag, 1, 0, 0, 0, NULL) == REMC_STORE_STORED);
      appends++;
    }
    if (cases < CASES) {
      uint64_t cas = 0, v = read_u64(S, "casd", &cas);
      char buf[24];
      int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)(v + 1));
      int r = remc_store_store(S, REMC_MODE_CAS, K("casd"), 4, (const uint8_t *)buf, (uint32_t)n, 0, 0, cas, NULL);
      CHECK(r == REMC_STORE_STORED || r == REMC_STORE_EXISTS);
      if (r == REMC_STORE_STORED) cases++;
    }
    /* reads beside the writes: gat, gets, touch of the same keys */
    int64_t exp = 0;
    remc_item_ref ref;
    remc_item_info info;
    if (remc_store_get(S, K("tags"), 4, 1, &exp, &ref, &info)) remc_store_release(S, &ref);
    remc_store_touch(S, K("counter"), 7, 0);
    int32_t moves[2 * REMC_MOVE_LOG]; /* `watch sysevents` drains these while reclaim logs them */
    (void)remc_store_take_slab_moves(S, moves, REMC_MOVE_LOG);
  }
  return NULL;
}

static void *background(void *arg) {
  (void)arg;
  double st[REMC_STAT_COUNT], so[REMC_SSTAT_COUNT], io[REMC_ISTAT_COUNT];
  while (!atomic_load(&stop_bg)) {
    remc_store_set_time(S, (int64_t)time(NULL));
    remc_store_reclaim(S, 500);
    remc_store_stats(S, st);
    for (uint32_t c = 1; c <= remc_store_class_count(S); c++) remc_store_class_stats(S, c, so, io);
    (void)remc_store_time(S);
    breathe();
  }
  return NULL;
}

static void exact(void) {
  S = make(64);
  const uint8_t zero = '0';
  CHECK(remc_store_store(S, REMC_MODE_SET, K("counter"), 7, &zero, 1, 0, 0, 0, NULL) == REMC_STORE_STORED);
  CHECK(remc_store_store(S, REMC_MODE_SET, K("tags"), 4, K(""), 0, 0, 0, 0, NULL) == REMC_STORE_STORED);
  CHECK(remc_store_store(S, REMC_MODE_SET, K("casd"), 4, &zero, 1, 0, 0, 0, NULL) == REMC_STORE_STORED);
  pthread_t th[THREADS], bg;
  atomic_store(&stop_bg, 0);
  pthread_create(&bg, NULL, background, NULL);
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, exact_worker, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  atomic_store(&stop_bg, 1);
  pthread_join(bg, NULL);

  CHECK(read_u64(S, "counter", NULL) == (uint64_t)THREADS * INCRS);
  CHECK(read_u64(S, "casd", NULL) == (uint64_t)THREADS * CASES);
  remc_item_ref ref;
  remc_item_info info;
  CHECK(remc_store_get(S, K("tags"), 4, 0, NULL, &ref, &info) == 1);
  CHECK(info.nbytes == (uint32_t)(THREADS * APPENDS));
  uint8_t *buf = calloc(1, info.nbytes + 1);
  remc_store_copy_value(S, &ref, buf);
  remc_store_release(S, &ref);
  int count[THREADS] = {0};
  for (uint32_t i = 0; i < info.nbytes; i++) {
    CHECK(buf[i] >= 'a' && buf[i] < 'a' + THREADS);
    if (buf[i] >= 'a' && buf[i] < 'a' + THREADS) count[buf[i] - 'a']++;
  }
  for (int i = 0; i < THREADS; i++) CHECK(count[i] == APPENDS);
  free(buf);
  printf("exact: counter %llu, casd %llu, tags %u bytes\n", (unsigned long long)read_u64(S, "counter", NULL),
         (unsigned long long)read_u64(S, "casd", NULL), info.nbytes);
  remc_store_destroy(S);
}

static void *churn_worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
  static uint8_t val[4096];
  char key[32];
  for (int i = 0; i < CHURN_OPS; i++) {
    int k = rand_r(&seed) % 3000;
    int n = snprintf(key, sizeof key, "churn:%d", k);
    uint32_t vlen = (uint32_t)(rand_r(&seed) % 3000);
    remc_item_ref ref;
    remc_item_info info;
    switch (rand_r(&seed) % 8) {
      case 0: case 1: case 2:
        remc_store_store(S, REMC_MODE_SET, K(key), (uint32_t)n, val, vlen, 0, rand_r(&seed) % 3, 0, NULL);
        break;
      case 3:
        remc_store_store(S, REMC_MODE_APPEND, K(key), (uint32_t)n, val, vlen % 200, 0, 0, 0, NULL);
        break;
      case 4: case 5:
        if (remc_store_get(S, K(key), (uint32_t)n, 1, NULL, &ref, &info)) {
          uint8_t *dst = malloc(info.nbytes + 1);
          remc_store_copy_value(S, &ref, dst);
          remc_store_release(S, &ref);
          free(dst);
        }
        break;
      case 6:
        remc_store_delete(S, K(key), (uint32_t)n, 0);
        break;
      default: {
        uint64_t r, nc;
        remc_store_arith(S, K(key), (uint32_t)n, 1, 3, &r, &nc);
        if (remc_store_meta_get(S, K(key), (uint32_t)n, 1, &ref, &info) == 1) {
          remc_store_meta_update(S, &ref, REMC_META_TOKEN_SENT, 0, NULL, 1, &info);
          remc_store_release(S, &ref);
        }
      }
    }
  }
  return NULL;
}

static void *mover(void *arg) {
  (void)arg;
  unsigned seed = 5;
  while (!atomic_load(&stop_bg)) {
    remc_store_slabs_reassign(S, -1, (int32_t)(rand_r(&seed) % 20) + 1);
    remc_store_checksum(S);
    breathe();
  }
  return NULL;
}

static void churn(void) {
  S = make_chunked(8, 1024); /* most values (up to 3000 bytes) are chunked */
  pthread_t th[THREADS], bg, mv;
  atomic_store(&stop_bg, 0);
  pthread_create(&bg, NULL, background, NULL);
  pthread_create(&mv, NULL, mover, NULL);
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, churn_worker, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  atomic_store(&stop_bg, 1);
  pthread_join(bg, NULL);
  pthread_join(mv, NULL);
  double st[REMC_STAT_COUNT];
  remc_store_stats(S, st);
  CHECK(st[REMC_STAT_bytes] <= 8.0 * (1 << 20));
  printf("churn: %.0f items, %.0f evictions, %.0f pages moved\n", st[REMC_STAT_curr_items], st[REMC_STAT_evictions],
         st[REMC_STAT_slabs_moved]);
  remc_store_destroy(S);
}

static void *spread_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  char key[48];
  for (int r = 0; r < SPREAD_ROUNDS; r++) {
    for (int k = 0; k < SPREAD_KEYS; k++) {
      int n = snprintf(key, sizeof key, "n:%d", (k + id * 97) % SPREAD_KEYS);
      uint64_t v, nc;
      CHECK(remc_store_arith(S, K(key), (uint32_t)n, 1, 1, &v, &nc) == REMC_STORE_STORED);
    }
    for (int f = 0; f < FILL_PER_ROUND; f++) {
      int n = snprintf(key, sizeof key, "fill:%d:%d:%d", id, r, f);
      CHECK(remc_store_store(S, REMC_MODE_SET, K(key), (uint32_t)n, K(key), (uint32_t)n, 7, 0, 0, NULL) ==
            REMC_STORE_STORED);
    }
    /* gat, then ms with a stale CAS (stored as stale), mg + update, md invalidate: own keys */
    int n = snprintf(key, sizeof key, "own:%d", id);
    uint64_t cas = 0;
    remc_store_store(S, REMC_MODE_SET, K(key), (uint32_t)n, K("x"), 1, 0, 0, 0, &cas);
    remc_item_ref ref;
    remc_item_info info;
    int64_t exp = 3600;
    if (remc_store_get(S, K(key), (uint32_t)n, 1, &exp, &ref, &info)) remc_store_release(S, &ref);
    CHECK(remc_store_store(S, REMC_MODE_CAS_STALE, K(key), (uint32_t)n, K("y"), 1, 0, 0, cas > 1 ? cas - 1 : 1, NULL) ==
          REMC_STORE_STORED);
    if (remc_store_meta_get(S, K(key), (uint32_t)n, 1, &ref, &info) == 1) {
      remc_store_meta_update(S, &ref, REMC_META_TOKEN_SENT, 0, &exp, 1, &info);
      remc_store_release(S, &ref);
    }
    uint64_t nc;
    remc_store_meta_delete(S, K(key), (uint32_t)n, 0, 0, 1, NULL, &nc);
  }
  return NULL;
}

static int count_dump(void *ctx, const uint8_t *key, uint32_t klen, uint32_t nbytes, int64_t exptime) {
  (void)key, (void)klen, (void)nbytes, (void)exptime;
  ++*(uint32_t *)ctx;
  return 0;
}
static int count_meta(void *ctx, const uint8_t *key, uint32_t klen, const remc_item_info *info, uint64_t ntotal) {
  (void)key, (void)klen, (void)info, (void)ntotal;
  ++*(uint32_t *)ctx;
  return 0;
}

/* the whole store, again and again: everything that stops the other threads */
static void *world(void *arg) {
  (void)arg;
  double st[REMC_STAT_COUNT];
  while (!atomic_load(&stop_bg)) {
    uint32_t seen = 0;
    remc_store_stats(S, st);
    remc_store_cachedump(S, 1, 100, count_dump, &seen);
    remc_store_metadump(S, 1, count_meta, &seen);
    remc_store_flush(S, (int64_t)time(NULL) + 3600); /* in the future: flushes nothing now */
    remc_store_stats_reset(S);
    (void)remc_store_checksum(S);
    breathe();
  }
  return NULL;
}

static void spread(void) {
  S = make(64); /* hashpower 10: grows to 2^15 under the threads */
  char key[48];
  for (int k = 0; k < SPREAD_KEYS; k++) {
    int n = snprintf(key, sizeof key, "n:%d", k);
    CHECK(remc_store_store(S, REMC_MODE_SET, K(key), (uint32_t)n, K("0"), 1, 0, 0, 0, NULL) == REMC_STORE_STORED);
  }
  pthread_t th[THREADS], bg, wd;
  atomic_store(&stop_bg, 0);
  pthread_create(&bg, NULL, background, NULL);
  pthread_create(&wd, NULL, world, NULL);
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, spread_worker, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  atomic_store(&stop_bg, 1);
  pthread_join(bg, NULL);
  pthread_join(wd, NULL);
  int wrong = 0, missing = 0;
  for (int k = 0; k < SPREAD_KEYS; k++) {
    snprintf(key, sizeof key, "n:%d", k);
    if (read_u64(S, key, NULL) != (uint64_t)THREADS * SPREAD_ROUNDS) wrong++;
  }
  for (int i = 0; i < THREADS; i++)
    for (int r = 0; r < SPREAD_ROUNDS; r++)
      for (int f = 0; f < FILL_PER_ROUND; f++) {
        int n = snprintf(key, sizeof key, "fill:%d:%d:%d", i, r, f);
        remc_item_ref ref;
        remc_item_info info;
        if (!remc_store_get(S, K(key), (uint32_t)n, 0, NULL, &ref, &info)) { missing++; continue; }
        remc_store_release(S, &ref);
      }
  CHECK(wrong == 0);
  CHECK(missing == 0);
  double st[REMC_STAT_COUNT];
  remc_store_stats(S, st);
  CHECK(st[REMC_STAT_hash_power_level] > 10);
  CHECK(st[REMC_STAT_evictions] == 0);
  printf("spread: %d keys x %d, %d wrong, %d of %d inserted missing, hash power 10 -> %.0f\n", SPREAD_KEYS,
         THREADS * SPREAD_ROUNDS, wrong, missing, THREADS * SPREAD_ROUNDS * FILL_PER_ROUND, st[REMC_STAT_hash_power_level]);
  remc_store_destroy(S);
}

/* 4. mg's win token: threads racing on one stale item, round after round; exactly one takes it
 *    each round (remc_store_meta_claim under the item's stripe). */
#define CLAIM_ROUNDS 2000
static pthread_barrier_t claim_start, claim_done;
static atomic_int claim_wins;

static void *claimer(void *arg) {
  (void)arg;
  for (int r = 0; r < CLAIM_ROUNDS; r++) {
    pthread_barrier_wait(&claim_start);
    remc_item_ref ref;
    remc_item_info info;
    if (remc_store_meta_get(S, K("swr"), 3, 1, &ref, &info) == 1) {
      if ((info.meta & REMC_META_STALE) && !(info.meta & REMC_META_TOKEN_SENT) && remc_store_meta_claim(S, &ref))
        claim_wins++;
      remc_store_release(S, &ref);
    }
    pthread_barrier_wait(&claim_done);
  }
  return NULL;
}

static void claim(void) {
  S = make(8);
  pthread_t th[THREADS];
  pthread_barrier_init(&claim_start, NULL, THREADS + 1);
  pthread_barrier_init(&claim_done, NULL, THREADS + 1);
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, claimer, NULL);
  int wrong = 0;
  for (int r = 0; r < CLAIM_ROUNDS; r++) {
    /* a fresh stale item: stored, then invalidated (md I) */
    CHECK(remc_store_store(S, REMC_MODE_SET, K("swr"), 3, K("old"), 3, 0, 100, 0, NULL) == REMC_STORE_STORED);
    int64_t ttl = 30;
    CHECK(remc_store_meta_delete(S, K("swr"), 3, 0, 0, 1, &ttl, NULL) == REMC_STORE_DELETED);
    atomic_store(&claim_wins, 0);
    pthread_barrier_wait(&claim_start);
    pthread_barrier_wait(&claim_done);
    if (atomic_load(&claim_wins) != 1) wrong++;
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&claim_start);
  pthread_barrier_destroy(&claim_done);
  CHECK(wrong == 0);
  printf("claim: %d rounds of %d threads on one stale item, %d without exactly one winner\n", CLAIM_ROUNDS, THREADS, wrong);
  remc_store_destroy(S);
}

int main(int argc, char **argv) {
  int scale = argc > 1 ? atoi(argv[1]) : 1;
  if (scale > 1) { INCRS /= scale; APPENDS /= scale; CASES /= scale; CHURN_OPS /= scale; SPREAD_ROUNDS /= scale; }
  exact();
  churn();
  spread();
  claim();
  if (failures) { fprintf(stderr, "%d check(s) failed\n", failures); return 1; }
  printf("store_mt_test: ok\n");
  return 0;
}
