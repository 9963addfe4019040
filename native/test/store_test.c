// sources: native/store/*.c
// cflags: -O1
/*
 * store_test.c — unit tests of the item store (native/store) against memcached 1.6 semantics.
 * Behaviours marked "observed" were checked against Debian's memcached 1.6.18.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "remc_store.h"
#include "../store/store_int.h" /* the invariant checker walks the private structures */

static int failures, checks;
#define CHECK(c)                                                                \
  do {                                                                          \
    checks++;                                                                   \
    if (!(c)) {                                                                 \
      failures++;                                                               \
      fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n", __FILE__, __LINE__,     \
              __func__, #c);                                                    \
    }                                                                           \
  } while (0)
#define CHECK_EQ(a, b)                                                          \
  do {                                                                          \
    long long a_ = (long long)(a), b_ = (long long)(b);                         \
    checks++;                                                                   \
    if (a_ != b_) {                                                             \
      failures++;                                                               \
      fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n", __FILE__, \
              __LINE__, __func__, #a, a_, #b, b_);                              \
    }                                                                           \
  } while (0)

#define MiB (1024ull * 1024)
static const char *RC[] = {
#define X(id) #id,
    REMC_STORE_RESULTS(X)
#undef X
};

static remc_store_config cfg_default(void) {
  remc_store_config c = {.mem_limit = 64 * MiB, .item_size_max = 1024 * 1024,
                         .growth_factor = 1.25, .chunk_min = 48, .evictions = 1,
                         .cas_enabled = 1, .pkey = -1, .hashpower = 16};
  return c;
}

static remc_store *mk(remc_store_config c) {
  const char *err = NULL;
  remc_store *s = remc_store_create(&c, &err);
  if (!s) {
    fprintf(stderr, "remc_store_create: %s\n", err ? err : "?");
    exit(2);
  }
  return s;
}

static int st(remc_store *s, int mode, const char *k, const void *v, uint32_t vlen,
              uint32_t flags, int64_t exp, uint64_t cas, uint64_t *new_cas) {
  return remc_store_store(s, mode, (const uint8_t *)k, (uint32_t)strlen(k), (const uint8_t *)v,
                          vlen, flags, exp, cas, new_cas);
}
static int set(remc_store *s, const char *k, const char *v, uint32_t flags, int64_t exp) {
  return st(s, REMC_MODE_SET, k, v, (uint32_t)strlen(v), flags, exp, 0, NULL);
}

/* Fetch a value (NUL-terminated copy in a static buffer); NULL on miss. */
static char vbuf[2 * 1024 * 1024 + 1];
static const char *get2(remc_store *s, const char *k, int bump, remc_item_info *info) {
  remc_item_ref ref;
  remc_item_info tmp;
  if (!info) info = &tmp;
  if (!remc_store_get(s, (const uint8_t *)k, (uint32_t)strlen(k), bump, NULL, &ref, info))
    return NULL;
  remc_store_copy_value(s, &ref, (uint8_t *)vbuf);
  vbuf[info->nbytes] = 0;
  remc_store_release(s, &ref);
  return vbuf;
}
static const char *get(remc_store *s, const char *k) { return get2(s, k, 1, NULL); }
static int has(remc_store *s, const char *k) { return get2(s, k, 0, NULL) != NULL; }

static double stat(remc_store *s, int which) {
  double out[REMC_STAT_COUNT];
  remc_store_stats(s, out);
  return out[which];
}
#define STAT(s, name) stat(s, REMC_STAT_##name)

static long rss_kib(void);
static int check_invariants(remc_store *s);
static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* ------------------------------------------------------------------------------------------ */

static void test_item_size(void) {
  remc_store *s = mk(cfg_default());
  CHECK_EQ(remc_store_item_size(s, 2, 1048515, 0), 1048576);
  CHECK_EQ(remc_store_item_size(s, 250, 1048263, 7), 1048576);
  CHECK_EQ(remc_store_item_size(s, 1, 0, 0), 48 + 8 + 1 + 1 + 0 + 2);
  char *big = malloc(1048600);
  memset(big, 'v', 1048600);
  char k250[251];
  memset(k250, 'a', 250);
  k250[250] = 0;
  /* exact boundary, measured on 1.6.18 with -I 1m */
  CHECK_EQ(st(s, REMC_MODE_SET, "kk", big, 1048515, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK(get(s, "kk") && strlen(vbuf) == 1048515);
  CHECK_EQ(st(s, REMC_MODE_SET, "kk", big, 1048516, 0, 0, 0, NULL), REMC_STORE_TOO_LARGE);
  CHECK(!has(s, "kk")); /* a failed set drops the stale value (observed) */
  CHECK_EQ(st(s, REMC_MODE_SET, k250, big, 1048263, 1, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_SET, k250, big, 1048264, 1, 0, 0, NULL), REMC_STORE_TOO_LARGE);
  CHECK_EQ(STAT(s, store_too_large), 2);
  /* the other modes fail with TOO_LARGE but keep the old item (observed) */
  int modes[] = {REMC_MODE_ADD, REMC_MODE_REPLACE, REMC_MODE_APPEND, REMC_MODE_PREPEND,
                 REMC_MODE_CAS};
  for (unsigned i = 0; i < sizeof modes / sizeof *modes; i++) {
    CHECK_EQ(set(s, "t", "old", 0, 0), REMC_STORE_STORED);
    CHECK_EQ(st(s, modes[i], "t", big, 1048600, 0, 0, 1, NULL), REMC_STORE_TOO_LARGE);
    CHECK(streq(get(s, "t"), "old"));
  }
  /* append whose result would exceed -I: NOT_STORED, old kept (observed) */
  CHECK_EQ(st(s, REMC_MODE_SET, "a", big, 1048515 + 1, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_APPEND, "a", "zzzzz", 5, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK_EQ(st(s, REMC_MODE_PREPEND, "a", "zzzzz", 5, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK(get(s, "a") && strlen(vbuf) == 1048516);
  remc_store_destroy(s);

  /* -C: no 8-byte CAS in the item, so 8 more value bytes fit */
  remc_store_config c = cfg_default();
  c.cas_enabled = 0;
  s = mk(c);
  CHECK_EQ(remc_store_item_size(s, 2, 1048523, 0), 1048576);
  CHECK_EQ(st(s, REMC_MODE_SET, "kk", big, 1048523, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_SET, "kk", big, 1048524, 0, 0, 0, NULL), REMC_STORE_TOO_LARGE);
  remc_store_destroy(s);

  /* -I 2m: a larger page and a 2 MiB top class */
  c = cfg_default();
  c.item_size_max = 2 * 1024 * 1024;
  s = mk(c);
  char *big2 = malloc(2 * MiB);
  memset(big2, 'w', 2 * MiB);
  CHECK_EQ(st(s, REMC_MODE_SET, "kk", big2, 2 * MiB - 61, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_SET, "kk", big2, 2 * MiB - 60, 0, 0, 0, NULL), REMC_STORE_TOO_LARGE);
  remc_store_destroy(s);
  free(big2);
  free(big);
}

static void test_hostile_args(void) {
  remc_store *s = mk(cfg_default());
  char k251[252];
  memset(k251, 'k', 251);
  k251[251] = 0;
  CHECK_EQ(set(s, k251, "x", 0, 0), REMC_STORE_NOT_STORED);
  CHECK_EQ(remc_store_store(s, REMC_MODE_SET, (const uint8_t *)"", 0, (const uint8_t *)"x", 1, 0,
                            0, 0, NULL),
           REMC_STORE_NOT_STORED);
  CHECK_EQ(st(s, 99, "k", "x", 1, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK_EQ(st(s, -1, "k", "x", 1, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK(!has(s, k251));
  CHECK_EQ(remc_store_delete(s, (const uint8_t *)k251, 251, 0), REMC_STORE_NOT_FOUND);
  CHECK_EQ(st(s, REMC_MODE_SET, "k", "x", UINT32_MAX, 0, 0, 0, NULL), REMC_STORE_TOO_LARGE);
  /* keys are binary: embedded NUL, control bytes, high bytes */
  const uint8_t bk[] = {'a', 0, 'b', 0xff, '\r', '\n'};
  CHECK_EQ(remc_store_store(s, REMC_MODE_SET, bk, sizeof bk, (const uint8_t *)"v", 1, 0, 0, 0,
                            NULL),
           REMC_STORE_STORED);
  remc_item_ref r;
  remc_item_info in;
  CHECK(remc_store_get(s, bk, sizeof bk, 1, NULL, &r, &in));
  remc_store_release(s, &r);
  CHECK(!remc_store_get(s, bk, 2, 1, NULL, &r, &in)); /* prefix is a different key */
  remc_store_release(s, &r);                           /* releasing an empty ref is harmless */
  /* bad configs fail cleanly */
  const char *err = NULL;
  remc_store_config c = cfg_default();
  c.growth_factor = 1.0;
  CHECK(remc_store_create(&c, &err) == NULL && err);
  c = cfg_default();
  c.mem_limit = 0;
  CHECK(remc_store_create(&c, &err) == NULL && err);
  c = cfg_default();
  c.item_size_max = 10;
  CHECK(remc_store_create(&c, &err) == NULL && err);
  remc_store_destroy(s);
}

static void test_commands(void) {
  remc_store *s = mk(cfg_default());
  remc_item_info in;
  uint64_t c1 = 0, c2 = 0, c3 = 0;
  CHECK(get(s, "nope") == NULL);
  CHECK_EQ(st(s, REMC_MODE_SET, "k", "hello", 5, 42, 0, 0, &c1), REMC_STORE_STORED);
  CHECK(c1 > 0);
  CHECK(streq(get2(s, "k", 1, &in), "hello"));
  CHECK_EQ(in.flags, 42);
  CHECK_EQ(in.nbytes, 5);
  CHECK_EQ(in.cas, c1);
  CHECK_EQ(in.exptime, 0);
  CHECK_EQ(in.fetched, 0);
  get2(s, "k", 1, &in);
  CHECK_EQ(in.fetched, 1);
  /* flags 0xffffffff and an empty value */
  CHECK_EQ(set(s, "e", "", 0xffffffffu, 0), REMC_STORE_STORED);
  CHECK(streq(get2(s, "e", 1, &in), ""));
  CHECK_EQ(in.flags, 0xffffffffu);
  /* add */
  CHECK_EQ(st(s, REMC_MODE_ADD, "k", "x", 1, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK(streq(get(s, "k"), "hello"));
  CHECK_EQ(st(s, REMC_MODE_ADD, "new", "x", 1, 0, 0, 0, NULL), REMC_STORE_STORED);
  /* replace */
  CHECK_EQ(st(s, REMC_MODE_REPLACE, "missing", "x", 1, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK(!has(s, "missing"));
  CHECK_EQ(st(s, REMC_MODE_REPLACE, "new", "yy", 2, 3, 0, 0, NULL), REMC_STORE_STORED);
  CHECK(streq(get2(s, "new", 1, &in), "yy"));
  CHECK_EQ(in.flags, 3);
  /* append / prepend keep flags and exptime; missing -> NOT_STORED */
  CHECK_EQ(st(s, REMC_MODE_SET, "ap", "mid", 3, 7, 100, 0, NULL), REMC_STORE_STORED);
  get2(s, "ap", 0, &in);
  int64_t exp0 = in.exptime;
  CHECK(exp0 == remc_store_time(s) + 100);
  CHECK_EQ(st(s, REMC_MODE_APPEND, "ap", "_end", 4, 99, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_PREPEND, "ap", "start_", 6, 98, 5000, 0, NULL), REMC_STORE_STORED);
  CHECK(streq(get2(s, "ap", 1, &in), "start_mid_end"));
  CHECK_EQ(in.flags, 7);
  CHECK_EQ(in.exptime, exp0);
  CHECK_EQ(st(s, REMC_MODE_APPEND, "nokey", "x", 1, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK_EQ(st(s, REMC_MODE_PREPEND, "nokey", "x", 1, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK(!has(s, "nokey"));
  /* append with a CAS (binary protocol) compares it */
  get2(s, "ap", 0, &in);
  CHECK_EQ(st(s, REMC_MODE_APPEND, "ap", "!", 1, 0, 0, in.cas + 1, NULL), REMC_STORE_EXISTS);
  CHECK_EQ(st(s, REMC_MODE_APPEND, "ap", "!", 1, 0, 0, in.cas, NULL), REMC_STORE_STORED);
  /* cas */
  CHECK_EQ(st(s, REMC_MODE_CAS, "nocas", "x", 1, 0, 0, 1, NULL), REMC_STORE_NOT_FOUND);
  CHECK_EQ(STAT(s, cas_misses), 1);
  get2(s, "k", 0, &in);
  CHECK_EQ(st(s, REMC_MODE_CAS, "k", "x", 1, 0, 0, in.cas + 1, NULL), REMC_STORE_EXISTS);
  CHECK_EQ(STAT(s, cas_badval), 1);
  CHECK_EQ(st(s, REMC_MODE_CAS, "k", "new", 3, 5, 0, in.cas, &c2), REMC_STORE_STORED);
  CHECK_EQ(STAT(s, cas_hits), 1);
  CHECK(c2 > in.cas);
  CHECK(streq(get(s, "k"), "new"));
  CHECK_EQ(st(s, REMC_MODE_CAS, "k", "again", 5, 0, 0, in.cas, NULL), REMC_STORE_EXISTS);
  /* every successful store takes a new, increasing CAS */
  CHECK_EQ(set(s, "k", "v1", 0, 0), REMC_STORE_STORED);
  get2(s, "k", 0, &in);
  c3 = in.cas;
  CHECK(c3 > c2);
  CHECK_EQ(set(s, "k", "v2", 0, 0), REMC_STORE_STORED);
  get2(s, "k", 0, &in);
  CHECK(in.cas > c3);
  /* delete */
  CHECK_EQ(remc_store_delete(s, (const uint8_t *)"k", 1, in.cas + 1), REMC_STORE_EXISTS);
  CHECK_EQ(remc_store_delete(s, (const uint8_t *)"k", 1, in.cas), REMC_STORE_DELETED);
  CHECK_EQ(remc_store_delete(s, (const uint8_t *)"k", 1, 0), REMC_STORE_NOT_FOUND);
  CHECK(!has(s, "k"));
  CHECK_EQ(STAT(s, delete_hits), 1);
  CHECK_EQ(STAT(s, delete_misses), 1);
  /* touch */
  CHECK_EQ(remc_store_touch(s, (const uint8_t *)"nope", 4, 10), REMC_STORE_NOT_FOUND);
  CHECK_EQ(remc_store_touch(s, (const uint8_t *)"new", 3, 10), REMC_STORE_TOUCHED);
  get2(s, "new", 0, &in);
  CHECK_EQ(in.exptime, remc_store_time(s) + 10);
  CHECK_EQ(STAT(s, touch_hits), 1);
  CHECK_EQ(STAT(s, touch_misses), 1);
  /* gat: counts as touch, not get (observed) */
  double misses = STAT(s, get_misses);
  remc_item_ref r;
  int64_t t = 0;
  CHECK(!remc_store_get(s, (const uint8_t *)"zz", 2, 1, &t, &r, &in));
  CHECK_EQ(STAT(s, get_misses), misses);
  CHECK_EQ(STAT(s, touch_misses), 2);
  t = 50;
  CHECK(remc_store_get(s, (const uint8_t *)"new", 3, 1, &t, &r, &in));
  CHECK_EQ(in.exptime, remc_store_time(s) + 50);
  remc_store_release(s, &r);
  t = 0; /* gat 0 removes the expiry */
  CHECK(remc_store_get(s, (const uint8_t *)"new", 3, 1, &t, &r, &in));
  CHECK_EQ(in.exptime, 0);
  remc_store_release(s, &r);
  CHECK_EQ(STAT(s, curr_items), 3); /* e, new, ap */
  /* a compare value of 0 never matches (observed) */
  CHECK_EQ(set(s, "z", "v", 0, 0), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_CAS, "z", "w", 1, 0, 0, 0, NULL), REMC_STORE_EXISTS);
  remc_store_destroy(s);

  /* -C: CAS is always 0, and a cas command never matches (observed: EXISTS, cas_badval) */
  remc_store_config c = cfg_default();
  c.cas_enabled = 0;
  s = mk(c);
  CHECK_EQ(st(s, REMC_MODE_SET, "k", "v", 1, 0, 0, 0, &c1), REMC_STORE_STORED);
  CHECK_EQ(c1, 0);
  get2(s, "k", 0, &in);
  CHECK_EQ(in.cas, 0);
  CHECK_EQ(st(s, REMC_MODE_CAS, "k", "w", 1, 0, 0, 5, NULL), REMC_STORE_EXISTS);
  CHECK_EQ(st(s, REMC_MODE_CAS, "k", "w", 1, 0, 0, 0, NULL), REMC_STORE_EXISTS);
  CHECK_EQ(STAT(s, cas_badval), 2);
  CHECK(streq(get(s, "k"), "v"));
  remc_store_destroy(s);
}

static void test_expiry(void) {
  remc_store *s = mk(cfg_default());
  int64_t t0 = remc_store_time(s);
  remc_item_info in;
  CHECK_EQ(set(s, "rel", "v", 0, 10), REMC_STORE_STORED);
  CHECK_EQ(set(s, "never", "v", 0, 0), REMC_STORE_STORED);
  CHECK_EQ(set(s, "neg", "v", 0, -1), REMC_STORE_STORED); /* observed: STORED, then a miss */
  CHECK_EQ(set(s, "abspast", "v", 0, 1000000000), REMC_STORE_STORED);
  CHECK_EQ(set(s, "absfut", "v", 0, t0 + 20), REMC_STORE_STORED);
  CHECK_EQ(set(s, "max", "v", 0, 2592000), REMC_STORE_STORED); /* 30 days is still relative */
  CHECK(!has(s, "neg"));
  CHECK(!has(s, "abspast"));
  CHECK(has(s, "rel") && has(s, "absfut") && has(s, "never") && has(s, "max"));
  get2(s, "max", 0, &in);
  CHECK_EQ(in.exptime, t0 + 2592000);
  CHECK_EQ(STAT(s, get_expired), 2);
  remc_store_set_time(s, t0 + 9);
  CHECK(has(s, "rel"));
  remc_store_set_time(s, t0 + 10);
  CHECK(!has(s, "rel")); /* expired at exptime <= now, like memcached */
  CHECK(has(s, "absfut"));
  remc_store_set_time(s, t0 + 20);
  CHECK(!has(s, "absfut"));
  CHECK(has(s, "never"));
  /* relative exptimes count from the moved clock */
  CHECK_EQ(set(s, "rel2", "v", 0, 5), REMC_STORE_STORED);
  get2(s, "rel2", 0, &in);
  CHECK_EQ(in.exptime, t0 + 25);
  /* touch moves expiry; touching an expired item misses */
  remc_store_set_time(s, t0 + 24);
  CHECK_EQ(remc_store_touch(s, (const uint8_t *)"rel2", 4, 100), REMC_STORE_TOUCHED);
  remc_store_set_time(s, t0 + 30);
  CHECK(has(s, "rel2"));
  CHECK_EQ(remc_store_touch(s, (const uint8_t *)"rel", 3, 100), REMC_STORE_NOT_FOUND);
  /* a store over an expired item sees no old item: add succeeds, replace fails */
  CHECK_EQ(set(s, "x", "v", 0, 1), REMC_STORE_STORED);
  remc_store_set_time(s, t0 + 31);
  CHECK_EQ(st(s, REMC_MODE_REPLACE, "x", "w", 1, 0, 0, 0, NULL), REMC_STORE_NOT_STORED);
  CHECK_EQ(set(s, "y", "v", 0, 1), REMC_STORE_STORED);
  remc_store_set_time(s, t0 + 32);
  CHECK_EQ(st(s, REMC_MODE_ADD, "y", "w", 1, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK(streq(get(s, "y"), "w"));
  CHECK_EQ(STAT(s, curr_items), 4); /* never, max, rel2, y */
  remc_store_destroy(s);
}

static void test_flush(void) {
  remc_store *s = mk(cfg_default());
  int64_t t0 = remc_store_time(s);
  set(s, "a", "1", 0, 0);
  set(s, "b", "2", 0, 0);
  remc_store_flush(s, 0);
  CHECK(!has(s, "a"));
  set(s, "c", "3", 0, 0); /* stored after the flush in the same second: valid (CAS rule) */
  CHECK(has(s, "c"));
  CHECK(!has(s, "b"));
  CHECK_EQ(STAT(s, get_flushed), 2);
  /* delayed flush: valid until the flush time, then everything older is gone */
  remc_store_set_time(s, t0 + 100);
  set(s, "d", "4", 0, 0);
  remc_store_flush(s, 10);
  CHECK(has(s, "c") && has(s, "d"));
  remc_store_set_time(s, t0 + 105);
  set(s, "e", "5", 0, 0); /* stored during the delay: flushed too */
  CHECK(has(s, "e"));
  /* memcached sets oldest_live = flush time - 1 (the CAS rule covers the current second), so
   * a delayed flush takes effect one second before the flush time */
  remc_store_set_time(s, t0 + 108);
  CHECK(has(s, "c") && has(s, "d") && has(s, "e"));
  remc_store_set_time(s, t0 + 109);
  CHECK(!has(s, "c") && !has(s, "d") && !has(s, "e"));
  set(s, "f", "6", 0, 0);
  CHECK(!has(s, "f")); /* stored in that second itself: time <= oldest_live */
  remc_store_set_time(s, t0 + 110);
  set(s, "g", "7", 0, 0);
  CHECK(has(s, "g"));
  /* an absolute flush time in the past is a no-op (observed) */
  remc_store_flush(s, 1000000000);
  CHECK(has(s, "g"));
  /* negative delay = now */
  remc_store_flush(s, -5);
  CHECK(!has(s, "g"));
  remc_store_destroy(s);

  /* -C: items set in the same second as the flush are flushed too (observed 1.6.18 -C) */
  remc_store_config c = cfg_default();
  c.cas_enabled = 0;
  s = mk(c);
  t0 = remc_store_time(s);
  set(s, "a", "1", 0, 0);
  remc_store_flush(s, 0);
  set(s, "b", "2", 0, 0);
  CHECK(!has(s, "a") && !has(s, "b"));
  remc_store_set_time(s, t0 + 1);
  set(s, "c", "3", 0, 0);
  CHECK(has(s, "c"));
  remc_store_destroy(s);
}

static int arith(remc_store *s, const char *k, int incr, uint64_t d, uint64_t *res) {
  return remc_store_arith(s, (const uint8_t *)k, (uint32_t)strlen(k), incr, d, res, NULL);
}

static void test_arith(void) {
  remc_store *s = mk(cfg_default());
  uint64_t v = 0, cas = 0;
  remc_item_info in;
  CHECK_EQ(arith(s, "none", 1, 1, &v), REMC_STORE_NOT_FOUND);
  CHECK_EQ(arith(s, "none", 0, 1, &v), REMC_STORE_NOT_FOUND);
  CHECK_EQ(STAT(s, incr_misses), 1);
  CHECK_EQ(STAT(s, decr_misses), 1);
  set(s, "n", "12", 5, 0);
  get2(s, "n", 0, &in);
  uint64_t c0 = in.cas;
  CHECK_EQ(remc_store_arith(s, (const uint8_t *)"n", 1, 1, 1, &v, &cas), REMC_STORE_STORED);
  CHECK_EQ(v, 13);
  CHECK(cas > c0);
  CHECK(streq(get2(s, "n", 0, &in), "13"));
  CHECK_EQ(in.cas, cas);
  CHECK_EQ(in.flags, 5);
  /* padding: "99"+1 = "100" (longer: new item), then -91 = "9  " in place (observed) */
  set(s, "p", "99", 0, 0);
  CHECK_EQ(arith(s, "p", 1, 1, &v), REMC_STORE_STORED);
  CHECK_EQ(v, 100);
  CHECK(streq(get(s, "p"), "100"));
  CHECK_EQ(arith(s, "p", 0, 91, &v), REMC_STORE_STORED);
  CHECK_EQ(v, 9);
  CHECK(streq(get(s, "p"), "9  "));
  CHECK_EQ(arith(s, "p", 1, 1, &v), REMC_STORE_STORED);
  CHECK(streq(get(s, "p"), "10 "));
  /* wrap and floor */
  set(s, "w", "18446744073709551615", 0, 0);
  CHECK_EQ(arith(s, "w", 1, 1, &v), REMC_STORE_STORED);
  CHECK_EQ(v, 0);
  CHECK(streq(get(s, "w"), "0                   "));
  set(s, "f", "5", 0, 0);
  CHECK_EQ(arith(s, "f", 0, 10, &v), REMC_STORE_STORED);
  CHECK_EQ(v, 0);
  CHECK_EQ(arith(s, "f", 1, UINT64_MAX, &v), REMC_STORE_STORED);
  CHECK(v == UINT64_MAX);
  CHECK(streq(get(s, "f"), "18446744073709551615"));
  CHECK_EQ(STAT(s, incr_hits), 5);
  CHECK_EQ(STAT(s, decr_hits), 2);
  /* what strtoull-based parsing accepts (observed on 1.6.18) */
  struct { const char *v; uint32_t len; int ok; uint64_t after_incr; } cases[] = {
      {" 12", 3, 1, 13}, {"12 ", 3, 1, 13}, {"12 abc", 6, 1, 13}, {"+5", 2, 1, 6},
      {"-0", 2, 1, 1}, {"\t7", 2, 1, 8}, {"7\t", 2, 1, 8}, {"1\0002", 3, 1, 2},
      {"000000000000000000001", 21, 1, 2}, {"0000000000000000000000001", 25, 1, 2},
      {"-18446744073709551615", 21, 1, 2}, {"abc", 3, 0, 0}, {"12abc", 5, 0, 0},
      {"-5", 2, 0, 0}, {"+", 1, 0, 0}, {" +", 2, 0, 0}, {"0x10", 4, 0, 0},
      {"100000000000000000000", 21, 0, 0}, {"\0001", 2, 0, 0}, {"", 0, 0, 0},
      {"  ", 2, 0, 0}, {"18446744073709551616", 20, 0, 0}};
  for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
    CHECK_EQ(st(s, REMC_MODE_SET, "c", cases[i].v, cases[i].len, 0, 0, 0, NULL),
             REMC_STORE_STORED);
    int rc = arith(s, "c", 1, 1, &v);
    if (cases[i].ok) {
      if (rc != REMC_STORE_STORED || v != cases[i].after_incr)
        fprintf(stderr, "case %u (%s): rc %s v %llu\n", i, cases[i].v, RC[rc],
                (unsigned long long)v);
      CHECK_EQ(rc, REMC_STORE_STORED);
      CHECK_EQ(v, cases[i].after_incr);
      get2(s, "c", 0, &in);
      CHECK_EQ(in.nbytes, cases[i].len); /* in place, padded to the old length */
    } else {
      if (rc != REMC_STORE_NON_NUMERIC) fprintf(stderr, "case %u (%s): rc %s\n", i, cases[i].v, RC[rc]);
      CHECK_EQ(rc, REMC_STORE_NON_NUMERIC);
      get2(s, "c", 0, &in);
      CHECK_EQ(in.nbytes, cases[i].len); /* untouched */
    }
  }
  /* a pinned item is not changed in place: the reader keeps its bytes */
  set(s, "pin", "50", 0, 0);
  remc_item_ref r;
  CHECK(remc_store_get(s, (const uint8_t *)"pin", 3, 1, NULL, &r, &in));
  CHECK_EQ(arith(s, "pin", 0, 1, &v), REMC_STORE_STORED);
  char b[8] = {0};
  remc_store_copy_value(s, &r, (uint8_t *)b);
  CHECK(streq(b, "50"));
  remc_store_release(s, &r);
  CHECK(streq(get(s, "pin"), "49"));
  /* items above memcached's slab_chunk_max (512 KiB) are chunked there: no arithmetic on them
   * (observed: a 524228-byte "1   ..." with a 1-byte key increments, 524229 bytes does not) */
  char *num = malloc(524230);
  memset(num, ' ', 524230);
  num[0] = '1';
  CHECK_EQ(st(s, REMC_MODE_SET, "n", num, 524228, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(arith(s, "n", 1, 1, &v), REMC_STORE_STORED);
  CHECK_EQ(v, 2);
  CHECK_EQ(st(s, REMC_MODE_SET, "n", num, 524229, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(arith(s, "n", 1, 1, &v), REMC_STORE_NON_NUMERIC);
  free(num);
  /* expiry is kept by incr */
  set(s, "ttl", "1", 0, 100);
  get2(s, "ttl", 0, &in);
  int64_t ex = in.exptime;
  arith(s, "ttl", 1, 1000, &v);
  get2(s, "ttl", 0, &in);
  CHECK_EQ(in.exptime, ex);
  remc_store_destroy(s);
}

static void test_eviction_lru(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 2 * MiB;
  remc_store *s = mk(c);
  char key[32], val[101];
  memset(val, 'v', 100);
  val[100] = 0;
  /* the "hot" keys are read between batches of writes; everything else is written once */
  enum { HOT = 100, N = 60000 };
  for (int i = 0; i < HOT; i++) {
    snprintf(key, sizeof key, "hot:%d", i);
    CHECK_EQ(set(s, key, val, 0, 0), REMC_STORE_STORED);
  }
  int hot_lost = 0;
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "cold:%d", i);
    if (set(s, key, val, 0, 0) != REMC_STORE_STORED) {
      CHECK(!"set failed under eviction");
      break;
    }
    if (i % 500 == 0)
      for (int h = 0; h < HOT; h++) {
        snprintf(key, sizeof key, "hot:%d", h);
        if (!get(s, key)) hot_lost++;
      }
  }
  CHECK_EQ(hot_lost, 0);
  CHECK(STAT(s, evictions) > 0);
  CHECK(STAT(s, total_malloced) <= 2 * MiB);
  CHECK(STAT(s, evicted_unfetched) > 0);
  /* the oldest cold keys went first; the newest are still there */
  CHECK(!has(s, "cold:0"));
  snprintf(key, sizeof key, "cold:%d", N - 1);
  CHECK(has(s, key));
  /* bookkeeping: curr_items equals what can be found */
  int found = 0;
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "cold:%d", i);
    found += has(s, key);
  }
  CHECK_EQ(found + HOT, STAT(s, curr_items));
  CHECK_EQ(STAT(s, total_items), N + HOT);
  /* one class, and its chunk accounting adds up */
  uint32_t used_classes = 0;
  for (uint32_t i = 1; i <= remc_store_class_count(s); i++) {
    double so[REMC_SSTAT_COUNT], io[REMC_ISTAT_COUNT];
    if (!remc_store_class_stats(s, i, so, io)) continue;
    used_classes++;
    CHECK_EQ(so[REMC_SSTAT_total_chunks],
             so[REMC_SSTAT_used_chunks] + so[REMC_SSTAT_free_chunks] +
                 so[REMC_SSTAT_free_chunks_end]);
    CHECK_EQ(io[REMC_ISTAT_number], STAT(s, curr_items));
    CHECK_EQ(io[REMC_ISTAT_evicted], STAT(s, evictions));
    CHECK(so[REMC_SSTAT_get_hits] > 0);
  }
  CHECK_EQ(used_classes, 1);
  /* segmented LRU: the hot keys were read twice, so they left HOT/COLD for WARM, where
   * evictions do not reach; the cold keys went HOT -> COLD -> evicted */
  double so[REMC_SSTAT_COUNT], io[REMC_ISTAT_COUNT];
  uint32_t cls = 0;
  for (uint32_t i = 1; i <= remc_store_class_count(s); i++)
    if (remc_store_class_stats(s, i, so, io)) cls = i;
  remc_store_class_stats(s, cls, so, io);
  CHECK(io[REMC_ISTAT_number_warm] >= HOT);
  CHECK(io[REMC_ISTAT_moves_to_warm] >= HOT);
  CHECK(io[REMC_ISTAT_moves_to_cold] > 0);
  CHECK(io[REMC_ISTAT_direct_reclaims] >= io[REMC_ISTAT_evicted]);
  CHECK_EQ(io[REMC_ISTAT_number_hot] + io[REMC_ISTAT_number_warm] + io[REMC_ISTAT_number_cold],
           io[REMC_ISTAT_number]);
  CHECK_EQ(io[REMC_ISTAT_hits_to_hot] + io[REMC_ISTAT_hits_to_warm] + io[REMC_ISTAT_hits_to_cold],
           so[REMC_SSTAT_get_hits]);
  CHECK(io[REMC_ISTAT_hits_to_warm] > 0);
  CHECK_EQ(check_invariants(s), 0);
  remc_store_destroy(s);
}

/* Scan resistance (memcached's segmented LRU): a key read twice survives a flood of new keys
 * that evicts everything else, even with no maintainer pass in between; and once the maintainer
 * has run, WARM is held to its share and HOT to its age. */
static void test_segmented_lru(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 2 * MiB;
  remc_store *s = mk(c);
  char key[32], val[101];
  memset(val, 'v', 100);
  val[100] = 0;
  CHECK_EQ(set(s, "canary", val, 0, 0), REMC_STORE_STORED);
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof key, "filler:%d", i);
    CHECK_EQ(set(s, key, val, 0, 0), REMC_STORE_STORED);
  }
  double so[REMC_SSTAT_COUNT], io[REMC_ISTAT_COUNT];
  uint32_t cls = remc_store_class_for(s, 6, 100, 0);
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(io[REMC_ISTAT_number_hot], 21); /* new items enter HOT */
  CHECK(get(s, "canary")); /* one read: fetched, not active */
  remc_store_reclaim(s, 0); /* a maintainer pass: HOT is held to 20 % of the class's bytes */
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(STAT(s, lru_maintainer_juggles), 1);
  CHECK_EQ(io[REMC_ISTAT_hits_to_hot], 1);
  CHECK_EQ(io[REMC_ISTAT_number_hot], 4);
  CHECK_EQ(io[REMC_ISTAT_number_cold], 17);
  CHECK_EQ(io[REMC_ISTAT_moves_to_cold], 17);
  CHECK_EQ(io[REMC_ISTAT_number_hot] + io[REMC_ISTAT_number_warm] + io[REMC_ISTAT_number_cold],
           io[REMC_ISTAT_number]);
  /* the canary, oldest, went to COLD; the read that makes it active moves it to WARM at once */
  CHECK(get(s, "canary"));
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(io[REMC_ISTAT_hits_to_cold], 1);
  CHECK_EQ(io[REMC_ISTAT_number_warm], 1);
  CHECK_EQ(io[REMC_ISTAT_moves_to_warm], 1);
  CHECK(get(s, "canary")); /* active already: nothing moves */
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(io[REMC_ISTAT_hits_to_warm], 1);
  CHECK_EQ(io[REMC_ISTAT_moves_to_warm], 1);
  CHECK(get(s, "filler:19")); /* read twice while in HOT: active, goes to WARM when pulled */
  CHECK(get(s, "filler:19"));
  CHECK(get(s, "filler:0")); /* read once in COLD: stays there */
  /* the flood: far more than fits, no maintainer pass */
  for (int i = 0; i < 60000; i++) {
    snprintf(key, sizeof key, "flood:%d", i);
    if (set(s, key, val, 0, 0) != REMC_STORE_STORED) {
      CHECK(!"set failed in the flood");
      break;
    }
  }
  CHECK(STAT(s, evictions) > 0);
  CHECK(has(s, "canary"));
  CHECK(has(s, "filler:19"));
  CHECK(!has(s, "filler:0"));
  CHECK(!has(s, "flood:0"));
  CHECK_EQ(check_invariants(s), 0);
  /* maintainer passes: WARM stays under its share, the canary is still there */
  remc_store_set_time(s, remc_store_time(s) + 1);
  remc_store_reclaim(s, 0);
  remc_store_class_stats(s, cls, so, io);
  CHECK(io[REMC_ISTAT_number_hot] * 100 <= io[REMC_ISTAT_number] * 20 + 100);
  CHECK(has(s, "canary"));
  CHECK_EQ(check_invariants(s), 0);
  /* a set of an existing key makes a new item: back in HOT, not fetched */
  CHECK_EQ(set(s, "canary", val, 0, 0), REMC_STORE_STORED);
  remc_item_info in;
  CHECK(get2(s, "canary", 0, &in));
  CHECK_EQ(in.fetched, 0);
  CHECK_EQ(check_invariants(s), 0);
  remc_store_destroy(s);
}

/* The TEMP LRU: items with a TTL up to temp_ttl stay apart, never evicted, reclaimed when they
 * expire (memcached's temp_lru; t/lru-maintainer.t) */
static void test_temp_lru(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 2 * MiB;
  remc_store *s = mk(c);
  remc_lru_tune tune = {20, 40, 0.2, 2.0, 61};
  remc_store_set_lru(s, REMC_LRU_MAINTAINER, &tune);
  char key[32], val[101];
  memset(val, 'v', 100);
  val[100] = 0;
  CHECK_EQ(set(s, "temp", val, 0, 30), REMC_STORE_STORED);
  CHECK_EQ(set(s, "never", val, 0, 0), REMC_STORE_STORED); /* no TTL: HOT */
  double so[REMC_SSTAT_COUNT], io[REMC_ISTAT_COUNT];
  uint32_t cls = remc_store_class_for(s, 4, 100, 0);
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(io[REMC_ISTAT_number_temp], 1);
  CHECK_EQ(io[REMC_ISTAT_number_hot], 1);
  CHECK(get(s, "temp"));
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(io[REMC_ISTAT_hits_to_temp], 1);
  for (int i = 0; i < 60000; i++) {
    snprintf(key, sizeof key, "long:%d", i);
    if (set(s, key, val, 0, 3600) != REMC_STORE_STORED) {
      CHECK(!"set failed");
      break;
    }
  }
  remc_store_class_stats(s, cls, so, io);
  CHECK(io[REMC_ISTAT_evicted] > 0);
  CHECK_EQ(io[REMC_ISTAT_number_temp], 1);
  CHECK(has(s, "temp"));
  /* expired: the maintainer reclaims it from TEMP */
  remc_store_set_time(s, remc_store_time(s) + 31);
  double rec = STAT(s, reclaimed);
  remc_store_reclaim(s, 0);
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(io[REMC_ISTAT_number_temp], 0);
  CHECK(STAT(s, reclaimed) >= rec + 1);
  CHECK_EQ(check_invariants(s), 0);
  /* what `lru tune` lets through (memcached checks only > 0): huge and not-a-number factors,
   * a hot_pct that wrapped the sum check; the maintainer still runs (SAN=1: no undefined cast) */
  remc_lru_tune odd = {-1, 1, 1e300, NAN, 61};
  remc_store_set_lru(s, REMC_LRU_MAINTAINER, &odd);
  remc_store_set_time(s, remc_store_time(s) + 5);
  CHECK_EQ(set(s, "odd", val, 0, 0), REMC_STORE_STORED);
  remc_store_reclaim(s, 0);
  CHECK(has(s, "odd"));
  CHECK_EQ(check_invariants(s), 0);
  /* temp LRU off: short TTLs go to HOT */
  tune.temp_ttl = -1;
  remc_store_set_lru(s, REMC_LRU_MAINTAINER, &tune);
  CHECK_EQ(set(s, "short", val, 0, 30), REMC_STORE_STORED);
  remc_store_class_stats(s, cls, so, io);
  CHECK_EQ(io[REMC_ISTAT_number_temp], 0);
  remc_store_destroy(s);
}

static void test_no_evictions(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 2 * MiB;
  c.evictions = 0;
  remc_store *s = mk(c);
  char key[32], val[101];
  memset(val, 'v', 100);
  val[100] = 0;
  int i, rc = REMC_STORE_STORED;
  for (i = 0; i < 100000 && rc == REMC_STORE_STORED; i++) {
    snprintf(key, sizeof key, "k:%d", i);
    rc = set(s, key, val, 0, 0);
  }
  CHECK_EQ(rc, REMC_STORE_NO_MEMORY);
  CHECK(i > 5000);
  CHECK_EQ(STAT(s, evictions), 0);
  CHECK_EQ(STAT(s, store_no_memory), 1);
  CHECK(has(s, "k:0"));
  /* 299-byte values live in another class, which (like memcached) may take its first page
   * past the limit; fill that one too */
  char bigger[300];
  memset(bigger, 'b', 299);
  bigger[299] = 0;
  for (i = 0, rc = REMC_STORE_STORED; i < 100000 && rc == REMC_STORE_STORED; i++) {
    snprintf(key, sizeof key, "b:%d", i);
    rc = set(s, key, bigger, 0, 0);
  }
  CHECK_EQ(rc, REMC_STORE_NO_MEMORY);
  CHECK(STAT(s, total_malloced) <= 3 * MiB);
  /* a set that cannot get memory drops the old value (memcached: no stale data) */
  CHECK_EQ(set(s, "k:0", bigger, 0, 0), REMC_STORE_NO_MEMORY);
  CHECK(!has(s, "k:0"));
  /* ... but an overwrite within the same class reuses the chunk */
  CHECK_EQ(set(s, "k:1", "other", 0, 0), REMC_STORE_STORED);
  CHECK(streq(get(s, "k:1"), "other"));
  /* other modes keep the old item */
  CHECK_EQ(st(s, REMC_MODE_APPEND, "b:0", "+", 1, 0, 0, 0, NULL), REMC_STORE_NO_MEMORY);
  CHECK(get(s, "b:0") && strlen(vbuf) == 299);
  CHECK_EQ(st(s, REMC_MODE_REPLACE, "k:2", bigger, 299, 0, 0, 0, NULL), REMC_STORE_NO_MEMORY);
  CHECK(get(s, "k:2") && strlen(vbuf) == 100);
  /* expired items at the LRU tail are reclaimed even with -M */
  remc_store_destroy(s);
  s = mk(c);
  for (i = 0, rc = REMC_STORE_STORED; rc == REMC_STORE_STORED; i++) {
    snprintf(key, sizeof key, "k:%d", i);
    rc = set(s, key, val, 0, 5);
  }
  CHECK_EQ(rc, REMC_STORE_NO_MEMORY);
  remc_store_set_time(s, remc_store_time(s) + 10);
  for (int j = 0; j < 100; j++) {
    snprintf(key, sizeof key, "new:%d", j);
    CHECK_EQ(set(s, key, val, 0, 0), REMC_STORE_STORED);
  }
  CHECK_EQ(STAT(s, reclaimed), 100);
  CHECK_EQ(STAT(s, expired_unfetched), 100);
  remc_store_destroy(s);
}

static void test_reclaim(void) {
  remc_store *s = mk(cfg_default());
  char key[32];
  enum { N = 20000 };
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "x:%d", i);
    set(s, key, "short-lived", 0, i % 2 ? 10 : 0);
    snprintf(key, sizeof key, "big:%d", i);
    if (i < 500) set(s, key, "a value in another slab class......................................"
                           "..................................................................",
                     0, i % 2 ? 10 : 0);
  }
  snprintf(key, sizeof key, "x:%d", 1);
  CHECK(get(s, key)); /* fetched: does not count as expired_unfetched */
  CHECK_EQ(STAT(s, curr_items), N + 500);
  CHECK_EQ(remc_store_reclaim(s, 100000), 0); /* nothing expired yet */
  remc_store_set_time(s, remc_store_time(s) + 11);
  uint32_t total = 0, calls = 0, got;
  while ((got = remc_store_reclaim(s, 1000)) > 0 || calls < 50) {
    total += got;
    calls++;
    if (calls > 1000) break;
  }
  CHECK_EQ(total, N / 2 + 250);
  CHECK(calls > 10); /* bounded per call, resumed across calls */
  CHECK_EQ(STAT(s, curr_items), N / 2 + 250);
  double crawled = 0, creclaimed = 0, unf = 0;
  for (uint32_t i = 1; i <= remc_store_class_count(s); i++) {
    double io[REMC_ISTAT_COUNT];
    remc_store_class_stats(s, i, NULL, io);
    crawled += io[REMC_ISTAT_crawler_items_checked];
    creclaimed += io[REMC_ISTAT_crawler_reclaimed];
    unf += io[REMC_ISTAT_expired_unfetched];
  }
  /* the crawler, or the maintainer moving HOT down past expired items (memcached: both) */
  CHECK_EQ(creclaimed + STAT(s, reclaimed), N / 2 + 250);
  CHECK_EQ(unf, N / 2 + 250 - 1);
  CHECK(crawled >= N + 500);
  snprintf(key, sizeof key, "x:%d", 0);
  CHECK(has(s, key));
  /* flushed items are reclaimed too, and the store stays consistent while it runs */
  remc_store_flush(s, 0);
  set(s, "after", "v", 0, 0);
  total = 0;
  for (int i = 0; i < 200; i++) total += remc_store_reclaim(s, 500);
  CHECK_EQ(total, N / 2 + 250);
  CHECK_EQ(STAT(s, curr_items), 1);
  CHECK(has(s, "after"));
  remc_store_destroy(s);
}

/* memcached's maintainer frees expired items at an LRU tail (`reclaimed`, not a crawler
 * reclaim); without it nothing does; with a flat LRU (-o no_modern) the store itself frees them
 * first, before it looks up its own key (t/issue_163.t, t/issue_183.t). */
static void test_lru_modes(void) {
  remc_store *s = mk(cfg_default());
  double io[REMC_ISTAT_COUNT];
  set(s, "a", "v", 0, 1);
  remc_store_set_time(s, remc_store_time(s) + 3);
  CHECK_EQ(remc_store_reclaim(s, 0), 1); /* 0: the crawler does nothing, the maintainer does */
  CHECK_EQ(STAT(s, reclaimed), 1);
  remc_store_class_stats(s, 1, NULL, io);
  CHECK_EQ(io[REMC_ISTAT_crawler_reclaimed], 0);
  CHECK_EQ(io[REMC_ISTAT_reclaimed], 1);
  CHECK_EQ(STAT(s, curr_items), 0);

  /* -o no_modern: no maintainer, flat LRU (everything in COLD) */
  remc_store_set_lru(s, REMC_LRU_FLAT, NULL);
  set(s, "b", "v", 0, 1);
  remc_store_set_time(s, remc_store_time(s) + 3);
  CHECK_EQ(remc_store_reclaim(s, 0), 0); /* no maintainer: expired items stay until someone looks */
  CHECK_EQ(STAT(s, curr_items), 1);
  remc_store_class_stats(s, 1, NULL, io);
  CHECK_EQ(io[REMC_ISTAT_number_cold], 1);
  CHECK_EQ(io[REMC_ISTAT_number_hot], 0);

  set(s, "c", "v", 0, 0); /* the next store in the class frees it */
  CHECK_EQ(STAT(s, reclaimed), 2);
  CHECK_EQ(STAT(s, curr_items), 1);
  CHECK(!has(s, "b"));
  /* a flushed old value of the stored key itself: reclaimed, not a get_flushed lookup */
  remc_store_set_time(s, remc_store_time(s) + 2);
  remc_store_flush(s, 0);
  double flushed = STAT(s, get_flushed);
  set(s, "c", "w", 0, 0);
  CHECK_EQ(STAT(s, reclaimed), 3);
  CHECK_EQ(STAT(s, get_flushed), flushed);
  CHECK(has(s, "c"));
  /* a live tail item stops the walk: nothing above it is freed */
  set(s, "d", "v", 0, 1);
  remc_store_set_time(s, remc_store_time(s) + 3);
  set(s, "e", "v", 0, 0);
  CHECK_EQ(STAT(s, reclaimed), 3);
  CHECK_EQ(STAT(s, curr_items), 3);
  /* a growing incr allocates: it frees an expired tail item first too */
  set(s, "n", "9", 0, 0);
  set(s, "x", "v", 0, 1);
  remc_store_set_time(s, remc_store_time(s) + 3);
  uint64_t v;
  CHECK_EQ(remc_store_arith(s, (const uint8_t *)"n", 1, 1, 1, &v, NULL), REMC_STORE_STORED);
  CHECK_EQ(v, 10);
  remc_store_destroy(s);

  /* flat LRU: a read just after the store gives no second chance at the tail (t/lru.t) */
  remc_store_config c = cfg_default();
  c.mem_limit = 2 * MiB;
  s = mk(c);
  remc_store_set_lru(s, REMC_LRU_FLAT, NULL);
  char key[32];
  set(s, "first", "v", 0, 0);
  CHECK(has(s, "first"));
  for (int i = 0; i < 100000 && STAT(s, evictions) == 0; i++) {
    snprintf(key, sizeof key, "fill:%d", i);
    set(s, key, "value", 0, 0);
  }
  CHECK(!has(s, "first"));
  remc_store_destroy(s);
}

static void test_hash_growth(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 512 * MiB;
  c.hashpower = 12;
  remc_store *s = mk(c);
  char key[32];
  enum { N = 1000000 };
  int bad = 0, saw_expanding = 0;
  for (int i = 0; i < N; i++) {
    int n = snprintf(key, sizeof key, "key:%d", i);
    if (remc_store_store(s, REMC_MODE_SET, (uint8_t *)key, (uint32_t)n, (uint8_t *)key,
                         (uint32_t)n, 0, 0, 0, NULL) != REMC_STORE_STORED)
      bad++;
    if (STAT(s, hash_is_expanding) && !saw_expanding && i > 100000) {
      saw_expanding = 1;
      /* lookups during a migration find items in both tables */
      for (int j = 0; j <= i; j += 97) {
        snprintf(key, sizeof key, "key:%d", j);
        if (!has(s, key)) bad++;
      }
    }
  }
  CHECK_EQ(bad, 0);
  CHECK(saw_expanding);
  CHECK_EQ(STAT(s, curr_items), N);
  CHECK_EQ(STAT(s, evictions), 0);
  CHECK(STAT(s, hash_power_level) >= 20); /* 1M items > 1.5 x 2^19 */
  for (int i = 0; i < N; i++) {
    int n = snprintf(key, sizeof key, "key:%d", i);
    if (!streq(get(s, key), key) || (int)strlen(vbuf) != n) bad++;
  }
  CHECK_EQ(bad, 0);
  remc_store_destroy(s);
}

static void test_pinned(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 2 * MiB;
  remc_store *s = mk(c);
  char key[32], val[101];
  memset(val, 'v', 100);
  val[100] = 0;
  set(s, "pinned", "precious-value-of-a-similar-size-to-the-flood-items-so-that-it-shares-their-class----------", 0, 0);
  remc_item_ref r;
  remc_item_info in;
  CHECK(remc_store_get(s, (const uint8_t *)"pinned", 6, 0, NULL, &r, &in));
  for (int i = 0; i < 100000; i++) {
    snprintf(key, sizeof key, "flood:%d", i);
    CHECK_EQ(set(s, key, val, 0, 0), REMC_STORE_STORED);
  }
  CHECK(STAT(s, evictions) > 10000);
  CHECK(has(s, "pinned")); /* never read, oldest, but pinned: not evicted */
  double io[REMC_ISTAT_COUNT];
  remc_store_class_stats(s, (uint32_t)in.slab_class, NULL, io);
  CHECK(io[REMC_ISTAT_lrutail_reflocked] > 0);
  /* deleted while pinned: the bytes stay valid until the release */
  CHECK_EQ(remc_store_delete(s, (const uint8_t *)"pinned", 6, 0), REMC_STORE_DELETED);
  for (int i = 0; i < 20000; i++) {
    snprintf(key, sizeof key, "flood2:%d", i);
    set(s, key, val, 0, 0);
  }
  char b[200] = {0};
  remc_store_copy_value(s, &r, (uint8_t *)b);
  CHECK(strncmp(b, "precious-value", 14) == 0);
  remc_store_release(s, &r);
  /* a class whose only items are pinned cannot evict: NO_MEMORY, not corruption */
  remc_store_destroy(s);
  c.mem_limit = 1 * MiB;
  s = mk(c);
  /* chunked: two 512 KiB pieces, the whole of the first page of the largest class */
  enum { BIG = 1000 * 1024 };
  char *big = malloc(BIG);
  memset(big, 'B', BIG);
  CHECK_EQ(st(s, REMC_MODE_SET, "b1", big, BIG, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK(remc_store_get(s, (const uint8_t *)"b1", 2, 1, NULL, &r, &in));
  CHECK_EQ(st(s, REMC_MODE_SET, "b2", big, BIG, 0, 0, 0, NULL), REMC_STORE_NO_MEMORY);
  /* overwriting the pinned item itself needs a new chunk too */
  CHECK_EQ(st(s, REMC_MODE_SET, "b1", big, BIG - 1, 0, 0, 0, NULL), REMC_STORE_NO_MEMORY);
  remc_store_release(s, &r); /* b1 was dropped by the failed set: the release frees it */
  CHECK_EQ(st(s, REMC_MODE_SET, "b2", big, BIG, 0, 0, 0, NULL), REMC_STORE_STORED);
  /* without a pin, overwriting the only item of a full class works (the old one makes room) */
  CHECK_EQ(st(s, REMC_MODE_SET, "b2", big, BIG - 5, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK(get(s, "b2") && strlen(vbuf) == BIG - 5);
  free(big);
  remc_store_destroy(s);
}

/* Items above slab_chunk_max are chunked as memcached does (slabs-reassign-chunked.t's setup:
 * -o slab_chunk_max=4096, 11000-byte values): a header from a small class, pieces of 4096 bytes
 * and a tail piece from the class that fits; the page mover rescues pieces one by one. */
static void fill_value(char *v, uint32_t n, uint32_t seed) {
  for (uint32_t i = 0; i < n; i++) v[i] = (char)('C' + (i * 7 + seed) % 24);
}
/* Read nfoo0..nfoo<n-1> back: how many are there, and how many differ from fill_value's. */
static void read_back(remc_store *s, uint32_t n, uint32_t *hits, uint32_t *bad) {
  static char v[11000];
  char key[32];
  *hits = *bad = 0;
  for (uint32_t i = 0; i < n; i++) {
    snprintf(key, sizeof key, "nfoo%u", i);
    if (!get(s, key)) continue;
    ++*hits;
    fill_value(v, sizeof v, i);
    if (strlen(vbuf) != sizeof v || memcmp(vbuf, v, sizeof v) != 0) ++*bad;
  }
}

static void test_chunked(void) {
  remc_store_config c = cfg_default();
  c.slab_chunk_max = 4096;
  c.mem_limit = 8 * MiB;
  remc_store *s = mk(c);
  double so[REMC_SSTAT_COUNT], io[REMC_ISTAT_COUNT], stats[REMC_STAT_COUNT];
  uint32_t top = remc_store_class_count(s);
  remc_store_class_stats(s, top, so, io);
  CHECK_EQ(so[REMC_SSTAT_chunk_size], 4096);
  enum { N = 11000 };
  static char v[N + 1], w[3 * N];
  fill_value(v, N, 0);
  CHECK_EQ(st(s, REMC_MODE_SET, "nfoo1", v, N, 7, 0, 0, NULL), REMC_STORE_STORED);
  remc_item_info in;
  CHECK(get2(s, "nfoo1", 1, &in) && memcmp(vbuf, v, N) == 0 && strlen(vbuf) == N);
  CHECK_EQ(in.flags, 7);
  CHECK_EQ(in.slab_class, top); /* the item is in the largest class's LRU */
  /* memory: 4048 + 4048 + 2954 bytes of pieces (the last holds 2906 bytes and the CRLF),
   * all three from the top class (the class below holds 2904), the header from class 2 */
  remc_store_class_stats(s, top, so, io);
  CHECK_EQ(so[REMC_SSTAT_used_chunks], 3);
  CHECK_EQ(io[REMC_ISTAT_number], 1);
  CHECK_EQ(io[REMC_ISTAT_mem_requested], remc_store_item_size(s, 5, N, 7));
  uint32_t used = 0;
  for (uint32_t id = 1; id < top; id++) {
    remc_store_class_stats(s, id, so, io);
    used += (uint32_t)so[REMC_SSTAT_used_chunks];
  }
  CHECK_EQ(used, 1);
  /* no arithmetic on a chunked value, whatever it holds */
  uint64_t r;
  memset(w, ' ', N);
  w[0] = '5';
  CHECK_EQ(st(s, REMC_MODE_SET, "num", w, N, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(remc_store_arith(s, (const uint8_t *)"num", 3, 1, 1, &r, NULL), REMC_STORE_NON_NUMERIC);
  /* append and prepend across the boundary, both ways */
  CHECK_EQ(st(s, REMC_MODE_SET, "cat", "head-", 5, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_APPEND, "cat", v, N, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_PREPEND, "cat", v, 4000, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_APPEND, "cat", "-tail", 5, 0, 0, 0, NULL), REMC_STORE_STORED);
  memcpy(w, v, 4000);
  memcpy(w + 4000, "head-", 5);
  memcpy(w + 4005, v, N);
  memcpy(w + 4005 + N, "-tail", 5);
  CHECK(get(s, "cat") && strlen(vbuf) == 4010 + N && memcmp(vbuf, w, 4010 + N) == 0);
  /* overwritten, deleted, replaced by a small value: the pieces go back to their classes */
  CHECK_EQ(set(s, "cat", "small", 0, 0), REMC_STORE_STORED);
  CHECK(get(s, "cat") && streq(vbuf, "small"));
  CHECK_EQ(remc_store_delete(s, (const uint8_t *)"num", 3, 0), REMC_STORE_DELETED);
  /* a value exactly at the boundary is not chunked: arithmetic works on it */
  uint32_t fit = 4096 - (uint32_t)remc_store_item_size(s, 3, 0, 0);
  memset(w, ' ', fit);
  w[0] = '5';
  CHECK_EQ(st(s, REMC_MODE_SET, "num", w, fit, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(remc_store_arith(s, (const uint8_t *)"num", 3, 1, 1, &r, NULL), REMC_STORE_STORED);
  CHECK_EQ(st(s, REMC_MODE_SET, "num", w, fit + 1, 0, 0, 0, NULL), REMC_STORE_STORED);
  CHECK_EQ(remc_store_arith(s, (const uint8_t *)"num", 3, 1, 1, &r, NULL), REMC_STORE_NON_NUMERIC);
  remc_store_destroy(s);

  /* over the memory limit: whole items are evicted, and what is left reads back intact */
  c.mem_limit = 4 * MiB;
  s = mk(c);
  char key[32];
  for (uint32_t i = 0; i < 2000; i++) {
    snprintf(key, sizeof key, "nfoo%u", i);
    fill_value(v, N, i);
    CHECK_EQ(st(s, REMC_MODE_SET, key, v, N, 0, 0, 0, NULL), REMC_STORE_STORED);
  }
  remc_store_stats(s, stats);
  CHECK(stats[REMC_STAT_evictions] > 0);
  CHECK(stats[REMC_STAT_curr_items] > 200);
  uint32_t hits = 0, bad = 0;
  read_back(s, 2000, &hits, &bad);
  CHECK_EQ(hits, stats[REMC_STAT_curr_items]);
  CHECK_EQ(bad, 0);
  uint64_t sum = remc_store_checksum(s);

  /* a page of the top class goes to the pool: its pieces move to free chunks of the class
   * (chunk rescues); without free chunks, their items are evicted (evictions_nomem) */
  for (uint32_t i = 0; i < 2000; i += 2) { /* free more top-class chunks than a page holds */
    snprintf(key, sizeof key, "nfoo%u", i);
    remc_store_delete(s, (const uint8_t *)key, (uint32_t)strlen(key), 0);
  }
  remc_store_stats(s, stats);
  double items_before = stats[REMC_STAT_curr_items];
  uint64_t sum_before = remc_store_checksum(s);
  CHECK(sum_before != sum);
  CHECK_EQ(remc_store_slabs_reassign(s, (int32_t)top, 0), REMC_REASSIGN_OK);
  remc_store_stats(s, stats);
  CHECK(stats[REMC_STAT_slab_reassign_chunk_rescues] > 0);
  CHECK_EQ(stats[REMC_STAT_curr_items], items_before); /* all rescued: nothing lost */
  CHECK(remc_store_checksum(s) == sum_before);
  CHECK_EQ(stats[REMC_STAT_slab_global_page_pool], 1);
  /* keep moving pages out until the free chunks run out: items go, the rest stays intact */
  for (int i = 0; i < 40; i++) remc_store_slabs_reassign(s, (int32_t)top, 0);
  remc_store_stats(s, stats);
  CHECK(stats[REMC_STAT_slab_reassign_evictions_nomem] > 0);
  CHECK(stats[REMC_STAT_curr_items] < items_before);
  read_back(s, 2000, &hits, &bad);
  CHECK_EQ(hits, stats[REMC_STAT_curr_items]);
  CHECK_EQ(bad, 0);
  /* the chunks in use match the items: three top-class pieces and a header each */
  uint64_t chunks = 0;
  for (uint32_t id = 1; id <= top; id++) {
    remc_store_class_stats(s, id, so, io);
    chunks += (uint64_t)so[REMC_SSTAT_used_chunks];
  }
  CHECK_EQ(chunks, 4 * (uint64_t)hits);

  /* a pinned item's pieces keep their page: no move takes it while the pin lasts */
  remc_store_destroy(s);
  c.mem_limit = 64 * MiB;
  s = mk(c);
  fill_value(v, N, 1);
  for (uint32_t i = 0; i < 400; i++) { /* about two top-class pages */
    snprintf(key, sizeof key, "p%u", i);
    st(s, REMC_MODE_SET, key, v, N, 0, 0, 0, NULL);
  }
  remc_item_ref ref;
  CHECK(remc_store_get(s, (const uint8_t *)"p0", 2, 1, NULL, &ref, &in)); /* on the first page */
  int moved = 0;
  for (int i = 0; i < 4; i++) moved += remc_store_slabs_reassign(s, (int32_t)top, 0) == REMC_REASSIGN_OK;
  static char pinned[N + 1];
  remc_store_copy_value(s, &ref, (uint8_t *)pinned);
  CHECK(memcmp(pinned, v, N) == 0);
  remc_store_release(s, &ref);
  CHECK(moved >= 1);
  CHECK(get(s, "p0") && memcmp(vbuf, v, N) == 0);
  remc_store_destroy(s);
}

static void test_checksum(void) {
  remc_store *a = mk(cfg_default()), *b = mk(cfg_default());
  char key[32], val[64];
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof key, "k%d", i);
    snprintf(val, sizeof val, "value %d", i * 7);
    set(a, key, val, (uint32_t)i, 0);
  }
  for (int i = 999; i >= 0; i--) {
    snprintf(key, sizeof key, "k%d", i);
    snprintf(val, sizeof val, "value %d", i * 7);
    set(b, key, val, (uint32_t)i, 0);
  }
  uint64_t ca = remc_store_checksum(a);
  CHECK(ca != 0);
  CHECK(ca == remc_store_checksum(b)); /* order-independent, seed-independent */
  set(b, "k5", "value 36", 5, 0);      /* different value */
  CHECK(ca != remc_store_checksum(b));
  set(b, "k5", "value 35", 6, 0); /* different flags */
  CHECK(ca != remc_store_checksum(b));
  set(b, "k5", "value 35", 5, 0);
  CHECK(ca == remc_store_checksum(b));
  set(b, "tmp", "x", 0, -1); /* expired items do not count */
  CHECK(ca == remc_store_checksum(b));
  /* the probe address points into store memory holding an item's value */
  char *p = remc_store_probe_address(a);
  CHECK(p != NULL && strncmp(p, "value ", 6) == 0);
  remc_store_destroy(a);
  remc_store_destroy(b);
}

static void test_class_table(void) {
  remc_store *s = mk(cfg_default());
  double so[REMC_SSTAT_COUNT], io[REMC_ISTAT_COUNT];
  /* memcached 1.6's first classes with -n 48 -f 1.25: 96 120 152 192 240 304 384 480 ... */
  uint32_t want[] = {96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184};
  for (uint32_t i = 0; i < sizeof want / sizeof *want; i++) {
    CHECK_EQ(remc_store_class_stats(s, i + 1, so, io), 0); /* unused yet */
    CHECK_EQ(so[REMC_SSTAT_chunk_size], want[i]);
    CHECK_EQ(so[REMC_SSTAT_chunks_per_page], 1048576 / want[i]);
  }
  uint32_t n = remc_store_class_count(s);
  CHECK(n > 30 && n <= 63);
  remc_store_class_stats(s, n, so, io); /* the largest: slab_chunk_max, half a page */
  CHECK_EQ(so[REMC_SSTAT_chunk_size], 524288);
  CHECK_EQ(so[REMC_SSTAT_chunks_per_page], 2);
  CHECK_EQ(remc_store_class_stats(s, 0, so, io), 0);
  CHECK_EQ(remc_store_class_stats(s, n + 1, so, io), 0);
  set(s, "k", "v", 0, 0);
  CHECK_EQ(remc_store_class_stats(s, 1, so, io), 1);
  CHECK_EQ(so[REMC_SSTAT_total_pages], 1);
  CHECK_EQ(so[REMC_SSTAT_used_chunks], 1);
  CHECK_EQ(so[REMC_SSTAT_free_chunks], 1048576 / 96 - 1);
  CHECK_EQ(so[REMC_SSTAT_free_chunks_end], 0); /* memcached 1.6 frees a new page's chunks at once */
  CHECK_EQ(so[REMC_SSTAT_cmd_set], 1);
  CHECK_EQ(io[REMC_ISTAT_number], 1);
  CHECK_EQ(io[REMC_ISTAT_mem_requested], remc_store_item_size(s, 1, 1, 0));
  remc_store_delete(s, (const uint8_t *)"k", 1, 0);
  remc_store_class_stats(s, 1, so, io);
  CHECK_EQ(so[REMC_SSTAT_free_chunks], 1048576 / 96);
  CHECK_EQ(so[REMC_SSTAT_used_chunks], 0);
  CHECK_EQ(STAT(s, total_malloced), 1048576);
  CHECK_EQ(STAT(s, limit_maxbytes), 64 * MiB);
  CHECK_EQ(STAT(s, bytes), 0);
  remc_store_destroy(s);
}

static uint32_t class_pages(remc_store *s, uint32_t cls) {
  double so[REMC_SSTAT_COUNT];
  remc_store_class_stats(s, cls, so, NULL);
  return (uint32_t)so[REMC_SSTAT_total_pages];
}

static void fill(remc_store *s, const char *prefix, int from, int n, uint32_t vlen) {
  static uint8_t v[4096];
  char key[40];
  memset(v, 'f', sizeof v);
  for (int i = from; i < from + n; i++) {
    int kl = snprintf(key, sizeof key, "%s%d", prefix, i);
    snprintf((char *)v, sizeof v, "%d", i); /* value starts with its index */
    v[strlen((char *)v)] = 'f';
    remc_store_store(s, REMC_MODE_SET, (uint8_t *)key, (uint32_t)kl, v, vlen, 0, 0, 0, NULL);
  }
}

static void test_slab_move(void) {
  /* the workload moves from 100-byte to 1000-byte values: pages follow it */
  remc_store_config c = cfg_default();
  c.mem_limit = 4 * MiB;
  remc_store *s = mk(c);
  int64_t t = remc_store_time(s);
  fill(s, "small:", 0, 40000, 100);
  remc_item_info in;
  CHECK(get2(s, "small:39999", 0, &in));
  uint32_t small = (uint32_t)in.slab_class;
  CHECK_EQ(class_pages(s, small), 4);
  for (int round = 0; round < 60; round++) {
    remc_store_set_time(s, ++t);
    fill(s, "big:", round * 1000, 1000, 1000);
    remc_store_reclaim(s, 1000);
    CHECK_EQ(check_invariants(s), 0);
  }
  CHECK(get2(s, "big:59999", 0, &in));
  uint32_t big = (uint32_t)in.slab_class;
  fprintf(stderr, "slab move: small class %u pages, big class %u pages, moved %.0f, evicted by "
          "moves %.0f\n", class_pages(s, small), class_pages(s, big), STAT(s, slabs_moved),
          STAT(s, slab_reassign_evictions_nomem));
  CHECK(STAT(s, slabs_moved) >= 2);
  {
    /* each move is logged as memcached's automover logs it: from the class with the oldest
     * items straight to the one evicting (`watch sysevents`: slab_move src=small dst=big) */
    int32_t mv[2 * REMC_MOVE_LOG];
    uint32_t nm = remc_store_take_slab_moves(s, mv, REMC_MOVE_LOG);
    CHECK_EQ(nm, (uint32_t)STAT(s, slabs_moved));
    for (uint32_t i = 0; i < nm; i++) CHECK(mv[2 * i] == (int32_t)small && mv[2 * i + 1] == (int32_t)big);
  }
  CHECK(class_pages(s, big) >= 3);
  CHECK(class_pages(s, small) >= 1);
  CHECK(STAT(s, total_malloced) <= 5 * MiB);
  CHECK(streq(get(s, "big:59999") ? "x" : NULL, "x") && strncmp(vbuf, "59999f", 6) == 0);
  remc_store_destroy(s);

  /* slabs automove 2 (memcached's aggressive mode): pages go to the evicting class in the
   * second of the evictions, from the other classes in turn, with no window to fill first;
   * nothing is logged (memcached logs only its automover's moves) */
  s = mk(c);
  t = remc_store_time(s);
  remc_store_set_automove(s, 2, 0.8, 30);
  fill(s, "small:", 0, 40000, 100);
  CHECK_EQ(class_pages(s, small), 4);
  remc_store_set_time(s, ++t);
  remc_store_reclaim(s, 1000); /* nothing evicted: nothing moves */
  CHECK_EQ(STAT(s, slabs_moved), 0);
  fill(s, "big:", 0, 1000, 1000);
  CHECK(STAT(s, evictions) > 0);
  uint32_t big_before = class_pages(s, big);
  remc_store_set_time(s, ++t);
  remc_store_reclaim(s, 1000);
  CHECK_EQ(STAT(s, slabs_moved), 3); /* all the small class could spare */
  CHECK_EQ(class_pages(s, small), 1);
  CHECK_EQ(class_pages(s, big), big_before + 3);
  CHECK_EQ(check_invariants(s), 0);
  {
    int32_t mv[2 * REMC_MOVE_LOG];
    CHECK_EQ(remc_store_take_slab_moves(s, mv, REMC_MOVE_LOG), 0);
  }
  remc_store_destroy(s);

  /* a class with more than two pages' worth of free chunks gives pages back to the pool */
  c.mem_limit = 16 * MiB;
  s = mk(c);
  t = remc_store_time(s);
  fill(s, "d:", 0, 50000, 100);
  char key[32];
  for (int i = 0; i < 50000; i++) {
    int kl = snprintf(key, sizeof key, "d:%d", i);
    remc_store_delete(s, (uint8_t *)key, (uint32_t)kl, 0);
  }
  uint32_t before = class_pages(s, small);
  /* as memcached's automover: only once the class's 30-second window holds no page growth */
  for (int i = 0; i < 40; i++) {
    remc_store_set_time(s, ++t);
    remc_store_reclaim(s, 100);
  }
  CHECK(class_pages(s, small) <= 2);
  CHECK_EQ(STAT(s, slab_global_page_pool), before - class_pages(s, small));
  CHECK_EQ(STAT(s, slab_reassign_evictions_nomem), 0);
  /* each of those moves is logged for `watch sysevents` (the newest REMC_MOVE_LOG of them) */
  int32_t moves[2 * REMC_MOVE_LOG];
  uint32_t nm = remc_store_take_slab_moves(s, moves, REMC_MOVE_LOG);
  uint32_t moved = before - class_pages(s, small);
  CHECK_EQ(nm, moved < REMC_MOVE_LOG ? moved : REMC_MOVE_LOG);
  for (uint32_t i = 0; i < nm; i++) CHECK(moves[2 * i] == (int32_t)small && moves[2 * i + 1] == 0);
  CHECK_EQ(remc_store_take_slab_moves(s, moves, REMC_MOVE_LOG), 0); /* drained */
  remc_store_slabs_reassign(s, (int32_t)small, 0); /* a `slabs reassign` is not the automover's */
  CHECK_EQ(remc_store_take_slab_moves(s, moves, REMC_MOVE_LOG), 0);
  /* the window decides when: with slab_automove_window=3 the pages go back within a few
   * seconds of the last page growth, with the default 30 not before 30 */
  for (uint32_t window = 3; window <= 30; window += 27) {
    remc_store_destroy(s);
    s = mk(c);
    remc_store_set_automove(s, 1, 0.8, window);
    t = remc_store_time(s);
    fill(s, "d:", 0, 50000, 100);
    for (int i = 0; i < 50000; i++) {
      int kl = snprintf(key, sizeof key, "d:%d", i);
      remc_store_delete(s, (uint8_t *)key, (uint32_t)kl, 0);
    }
    for (int i = 0; i < 25; i++) {
      remc_store_set_time(s, ++t);
      remc_store_reclaim(s, 100);
      if (i == 5) CHECK_EQ(STAT(s, slab_global_page_pool) > 0, window == 3);
    }
    CHECK_EQ(STAT(s, slab_global_page_pool) > 0, window == 3);
  }
  /* and live items on a page that goes are moved, not lost */
  remc_store_destroy(s);
  s = mk(c);
  t = remc_store_time(s);
  fill(s, "d:", 0, 50000, 100);
  for (int i = 0; i < 50000; i++) {
    if (i % 10 == 0) continue; /* keep every tenth */
    int kl = snprintf(key, sizeof key, "d:%d", i);
    remc_store_delete(s, (uint8_t *)key, (uint32_t)kl, 0);
  }
  for (int i = 0; i < 40; i++) {
    remc_store_set_time(s, ++t);
    remc_store_reclaim(s, 100);
  }
  CHECK(class_pages(s, small) <= 3);
  CHECK(STAT(s, slab_reassign_rescues) > 0);
  CHECK_EQ(STAT(s, slab_reassign_evictions_nomem), 0);
  CHECK_EQ(STAT(s, curr_items), 5000);
  for (int i = 0; i < 50000; i += 10) {
    snprintf(key, sizeof key, "d:%d", i);
    const char *v = get2(s, key, 0, NULL);
    char want[16];
    snprintf(want, sizeof want, "%df", i);
    if (!v || strncmp(v, want, strlen(want)) != 0) CHECK(!"rescued item lost or damaged");
  }
  double malloced = STAT(s, total_malloced);
  fill(s, "b:", 0, 5000, 1000); /* another class takes pool pages: no new memory */
  CHECK_EQ(STAT(s, total_malloced), malloced);
  CHECK_EQ(check_invariants(s), 0);
  remc_store_destroy(s);
}

struct dump_ctx {
  char out[4096];
  size_t len;
  int stop_after;
};
static int dump_line(void *ctx, const uint8_t *key, uint32_t klen, uint32_t nbytes, int64_t exp) {
  struct dump_ctx *d = ctx;
  d->len += (size_t)snprintf(d->out + d->len, sizeof d->out - d->len, "ITEM %.*s [%u b; %lld s]\n",
                             (int)klen, (const char *)key, nbytes, (long long)exp);
  return --d->stop_after == 0;
}

static void test_cachedump(void) {
  remc_store *s = mk(cfg_default());
  int64_t t0 = remc_store_time(s);
  set(s, "cd1", "hello", 0, 0);
  set(s, "cd2", "abc", 0, 100);
  set(s, "other-class", "a value long enough to land in another slab class than the two short "
                        "ones, so that it is not listed with them", 0, 0);
  remc_item_info in;
  get2(s, "cd1", 0, &in);
  struct dump_ctx d = {.len = 0, .stop_after = -1};
  CHECK_EQ(remc_store_cachedump(s, (uint32_t)in.slab_class, 0, dump_line, &d), 2);
  char want[200];
  snprintf(want, sizeof want, "ITEM cd2 [3 b; %lld s]\nITEM cd1 [5 b; 0 s]\n", (long long)(t0 + 100));
  CHECK(streq(d.out, want)); /* most recent first, like memcached (observed format) */
  d.len = 0;
  d.out[0] = 0;
  CHECK_EQ(remc_store_cachedump(s, (uint32_t)in.slab_class, 1, dump_line, &d), 1);
  d.len = 0;
  d.stop_after = 1; /* the callback stops the walk */
  CHECK_EQ(remc_store_cachedump(s, (uint32_t)in.slab_class, 0, dump_line, &d), 1);
  CHECK_EQ(remc_store_cachedump(s, 0, 0, dump_line, &d), 0);
  CHECK_EQ(remc_store_cachedump(s, 200, 0, dump_line, &d), 0);
  /* binary-key items (ms b) are not listed */
  remc_item_ref r;
  CHECK(remc_store_meta_get(s, (const uint8_t *)"cd1", 3, 0, &r, &in) == 1);
  remc_store_meta_update(s, &r, REMC_META_KEY_BINARY, 0, NULL, 0, NULL);
  remc_store_release(s, &r);
  d.len = 0;
  d.stop_after = -1;
  CHECK_EQ(remc_store_cachedump(s, (uint32_t)in.slab_class, 0, dump_line, &d), 1);
  remc_store_destroy(s);
}

struct meta_ctx {
  char out[4096];
  size_t len;
  int stop_after;
};
static int meta_line(void *ctx, const uint8_t *key, uint32_t klen, const remc_item_info *in,
                     uint64_t ntotal) {
  struct meta_ctx *d = ctx;
  d->len += (size_t)snprintf(d->out + d->len, sizeof d->out - d->len,
                             "%.*s exp=%lld la=%lld cas=%llu fetch=%d cls=%d size=%llu\n", (int)klen,
                             (const char *)key, (long long)in->exptime, (long long)in->last_access,
                             (unsigned long long)in->cas, in->fetched, in->slab_class,
                             (unsigned long long)ntotal);
  return --d->stop_after == 0;
}

/* lru_crawler metadump: live items only, oldest first per class, classes in order */
static void test_metadump(void) {
  remc_store *s = mk(cfg_default());
  int64_t t0 = remc_store_time(s);
  set(s, "m1", "hello", 0, 0);
  set(s, "m2", "abc", 0, 100);
  set(s, "gone", "x", 0, -1); /* expired at once: not listed */
  set(s, "big", "a value long enough to land in another slab class than the short ones, so "
                "that a per-class dump leaves it out", 0, 0);
  remc_item_info a, b, big;
  get2(s, "m1", 0, &a);
  get2(s, "m2", 0, &b);
  get2(s, "big", 0, &big);
  CHECK(a.slab_class == b.slab_class && big.slab_class > a.slab_class);
  struct meta_ctx d = {.len = 0, .stop_after = -1};
  CHECK_EQ(remc_store_metadump(s, (uint32_t)a.slab_class, meta_line, &d), 2);
  char want[512];
  snprintf(want, sizeof want,
           "m1 exp=0 la=%lld cas=%llu fetch=0 cls=%d size=%llu\n"
           "m2 exp=%lld la=%lld cas=%llu fetch=0 cls=%d size=%llu\n",
           (long long)a.last_access, (unsigned long long)a.cas, a.slab_class,
           (unsigned long long)remc_store_item_size(s, 2, 5, 0), (long long)(t0 + 100),
           (long long)b.last_access, (unsigned long long)b.cas, b.slab_class,
           (unsigned long long)remc_store_item_size(s, 2, 3, 0));
  CHECK(streq(d.out, want));
  /* every class: the small class first, then big's; fetched shows after a get */
  get(s, "big");
  d.len = 0;
  d.out[0] = 0;
  CHECK_EQ(remc_store_metadump(s, 0, meta_line, &d), 3);
  const char *bl = strstr(d.out, "big exp=0 ");
  CHECK(bl != NULL && strstr(bl, "fetch=1") != NULL && strstr(d.out, "fetch=1") == strstr(bl, "fetch=1"));
  CHECK(strstr(d.out, "m1 ") != NULL && strstr(d.out, "m1 ") < bl);
  CHECK(strstr(d.out, "gone") == NULL);
  /* the callback stops the walk; bad classes list nothing */
  d.len = 0;
  d.stop_after = 1;
  CHECK_EQ(remc_store_metadump(s, 0, meta_line, &d), 1);
  CHECK_EQ(remc_store_metadump(s, 200, meta_line, &d), 0);
  /* flushed items are not listed */
  remc_store_flush(s, 0);
  remc_store_set_time(s, t0 + 2);
  d.len = 0;
  d.stop_after = -1;
  CHECK_EQ(remc_store_metadump(s, 0, meta_line, &d), 0);
  remc_store_destroy(s);
}

static void test_slabs_reassign(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 8 * MiB;
  remc_store *s = mk(c);
  uint32_t n = remc_store_class_count(s);
  /* argument checks, as memcached answers them (observed) */
  CHECK_EQ(remc_store_slabs_reassign(s, 2, 2), REMC_REASSIGN_SAME);
  CHECK_EQ(remc_store_slabs_reassign(s, (int32_t)n + 1, 1), REMC_REASSIGN_BADCLASS);
  CHECK_EQ(remc_store_slabs_reassign(s, 1, -1), REMC_REASSIGN_BADCLASS);
  CHECK_EQ(remc_store_slabs_reassign(s, -2, 1), REMC_REASSIGN_BADCLASS);
  CHECK_EQ(remc_store_slabs_reassign(s, -1, 2), REMC_REASSIGN_BADCLASS); /* nobody has a spare */
  CHECK_EQ(remc_store_slabs_reassign(s, 0, 1), REMC_REASSIGN_NOSPARE);
  CHECK_EQ(remc_store_slabs_reassign(s, 1, 0), REMC_REASSIGN_NOSPARE);
  fill(s, "r:", 0, 20000, 100);
  remc_item_info in;
  CHECK(get2(s, "r:0", 0, &in));
  uint32_t cls = (uint32_t)in.slab_class, pages = class_pages(s, cls);
  CHECK(pages >= 3);
  /* a page moves to another class right away; its items are evicted (no free chunks) */
  double items = STAT(s, curr_items);
  CHECK_EQ(remc_store_slabs_reassign(s, (int32_t)cls, 10), REMC_REASSIGN_OK);
  CHECK_EQ(class_pages(s, cls), pages - 1);
  CHECK_EQ(class_pages(s, 10), 1);
  CHECK(STAT(s, curr_items) < items);
  CHECK_EQ(STAT(s, total_malloced), (pages + 0) * MiB); /* no new memory */
  /* -1 picks a class with a spare page; 0 as destination parks pages in the pool */
  CHECK_EQ(remc_store_slabs_reassign(s, -1, 0), REMC_REASSIGN_OK);
  CHECK_EQ(remc_store_slabs_reassign(s, (int32_t)cls, 0), REMC_REASSIGN_OK);
  CHECK_EQ(STAT(s, slab_global_page_pool), 2);
  CHECK_EQ(remc_store_slabs_reassign(s, 0, 11), REMC_REASSIGN_OK);
  CHECK_EQ(remc_store_slabs_reassign(s, 0, 11), REMC_REASSIGN_NOSPARE); /* keeps one */
  /* the class that got pages mid-carve keeps every chunk */
  fill(s, "x:", 0, 3000, 1000);
  CHECK_EQ(check_invariants(s), 0);
  /* -1 goes round the classes, as memcached's slabs_reassign_pick_any: a page from each in turn */
  remc_store_destroy(s);
  c.mem_limit = 16 * MiB;
  s = mk(c);
  fill(s, "a:", 0, 25000, 100);
  fill(s, "b:", 0, 3000, 1000);
  uint32_t ca, cb;
  CHECK(get2(s, "a:0", 0, &in));
  ca = (uint32_t)in.slab_class;
  CHECK(get2(s, "b:0", 0, &in));
  cb = (uint32_t)in.slab_class;
  uint32_t pa = class_pages(s, ca), pb = class_pages(s, cb);
  CHECK(pa > 2 && pb > 2);
  CHECK_EQ(remc_store_slabs_reassign(s, -1, 0), REMC_REASSIGN_OK);
  CHECK_EQ(remc_store_slabs_reassign(s, -1, 0), REMC_REASSIGN_OK);
  CHECK_EQ(class_pages(s, ca), pa - 1);
  CHECK_EQ(class_pages(s, cb), pb - 1);
  /* pinned items make every page of a class busy */
  remc_store_destroy(s);
  c.mem_limit = 2 * MiB;
  s = mk(c);
  fill(s, "p:", 0, 10900, 100); /* two pages of one class, no eviction yet */
  remc_item_ref pins[2];
  CHECK(remc_store_get(s, (const uint8_t *)"p:10", 4, 0, NULL, &pins[0], &in));
  CHECK(remc_store_get(s, (const uint8_t *)"p:10800", 7, 0, NULL, &pins[1], &in));
  cls = (uint32_t)in.slab_class;
  CHECK_EQ(class_pages(s, cls), 2);
  CHECK_EQ(remc_store_slabs_reassign(s, (int32_t)cls, 0), REMC_REASSIGN_BUSY);
  remc_store_release(s, &pins[1]);
  CHECK_EQ(remc_store_slabs_reassign(s, (int32_t)cls, 0), REMC_REASSIGN_OK);
  remc_store_release(s, &pins[0]);
  CHECK_EQ(check_invariants(s), 0);
  /* automove off: no automatic moves, but memory above a lowered -m still goes back */
  remc_store_destroy(s);
  c.mem_limit = 8 * MiB;
  s = mk(c);
  remc_store_set_automove(s, 0, 0.8, 30);
  int64_t t = remc_store_time(s);
  fill(s, "d:", 0, 40000, 100);
  char key[32];
  for (int i = 0; i < 40000; i++) {
    int kl = snprintf(key, sizeof key, "d:%d", i);
    remc_store_delete(s, (uint8_t *)key, (uint32_t)kl, 0);
  }
  for (int i = 0; i < 5; i++) {
    remc_store_set_time(s, ++t);
    remc_store_reclaim(s, 100);
  }
  CHECK_EQ(STAT(s, slabs_moved), 0);
  remc_store_set_mem_limit(s, 2 * MiB);
  for (int i = 0; i < 5; i++) {
    remc_store_set_time(s, ++t);
    remc_store_reclaim(s, 100);
  }
  CHECK(STAT(s, total_malloced) <= 2 * MiB);
  remc_store_destroy(s);
}

static void test_mem_limit_shrink(void) {
  remc_store_config c = cfg_default();
  c.mem_limit = 32 * MiB;
  remc_store *s = mk(c);
  int64_t t = remc_store_time(s);
  fill(s, "k:", 0, 200000, 100);
  CHECK_EQ(STAT(s, total_malloced), 32 * MiB);
  long rss0 = rss_kib();
  /* pinned items hold their pages */
  remc_item_ref pins[64];
  int npin = 0;
  char key[32];
  for (int i = 150000; i < 200000 && npin < 64; i += 800) {
    int kl = snprintf(key, sizeof key, "k:%d", i);
    if (remc_store_get(s, (uint8_t *)key, (uint32_t)kl, 0, NULL, &pins[npin], NULL)) npin++;
  }
  CHECK(npin > 50);
  CHECK_EQ(remc_store_set_mem_limit(s, 8 * MiB), 0);
  for (int i = 0; i < 10; i++) {
    remc_store_set_time(s, ++t);
    remc_store_reclaim(s, 100);
  }
  CHECK(STAT(s, slab_reassign_busy_items) > 0);
  CHECK(STAT(s, total_malloced) > 8 * MiB); /* the pinned pages could not go */
  for (int i = 0; i < npin; i++) {
    uint8_t b[128];
    remc_store_copy_value(s, &pins[i], b);
    CHECK(b[0] == '1'); /* "15xxxx".."19xxxx": intact */
    remc_store_release(s, &pins[i]);
  }
  for (int i = 0; i < 10; i++) {
    remc_store_set_time(s, ++t);
    remc_store_reclaim(s, 100);
  }
  CHECK_EQ(STAT(s, total_malloced), 8 * MiB);
  CHECK_EQ(check_invariants(s), 0);
  long rss1 = rss_kib();
  fprintf(stderr, "shrink 32 -> 8 MiB: rss %ld -> %ld KiB, %.0f items left\n", rss0, rss1,
          STAT(s, curr_items));
  CHECK(rss0 - rss1 > 20 * 1024);
  /* what is left is consistent and readable */
  int found = 0;
  for (int i = 0; i < 200000; i++) {
    int kl = snprintf(key, sizeof key, "k:%d", i);
    (void)kl;
    const char *v = get2(s, key, 0, NULL);
    if (v) {
      found++;
      char want[16];
      snprintf(want, sizeof want, "%df", i);
      if (strncmp(v, want, strlen(want)) != 0) CHECK(!"wrong value after a page move");
    }
  }
  CHECK_EQ(found, STAT(s, curr_items));
  /* growing again reuses the released pages */
  CHECK_EQ(remc_store_set_mem_limit(s, 32 * MiB), 0);
  fill(s, "k:", 200000, 200000, 100);
  CHECK_EQ(STAT(s, total_malloced), 32 * MiB);
  CHECK_EQ(check_invariants(s), 0);
  remc_store_destroy(s);
}

/* A class's first page may take memory past -m (as memcached grants it). That alone must never
 * make the page mover evict live items: only a lowered cache_memlimit shrinks, and with -M even
 * that moves only pages whose items can be rescued. (Seen in CI: `-M -m 2`, 20 x 100 KB stored,
 * one small item, and the next second a 100 KB item had gone.) */
static void test_over_limit_first_pages(void) {
  static char big[100001];
  memset(big, 'v', 100000);
  char key[32];
  for (int evictions = 0; evictions <= 1; evictions++) {
    remc_store_config c = cfg_default();
    c.mem_limit = 2 * MiB;
    c.evictions = evictions;
    remc_store *s = mk(c);
    int64_t t = remc_store_time(s);
    int stored = 0;
    for (int i = 0; i < 20; i++) {
      snprintf(key, sizeof key, "o%d", i);
      if (set(s, key, big, 0, 0) == REMC_STORE_STORED) stored++;
    }
    CHECK_EQ(set(s, "small", "x", 0, 0), REMC_STORE_STORED);
    CHECK(STAT(s, total_malloced) > 2 * MiB); /* the small class's first page */
    for (int i = 0; i < 5; i++) {
      remc_store_set_time(s, ++t);
      remc_store_reclaim(s, 100);
    }
    CHECK_EQ(STAT(s, slab_reassign_evictions_nomem), 0);
    CHECK_EQ(STAT(s, curr_items), stored + 1);
    for (int i = 0; i < stored; i++) {
      snprintf(key, sizeof key, "o%d", i);
      CHECK(has(s, key));
    }
    remc_store_destroy(s);
  }
  /* -M and cache_memlimit lowered under a full class: nothing live goes */
  remc_store_config c = cfg_default();
  c.mem_limit = 16 * MiB;
  c.evictions = 0;
  remc_store *s = mk(c);
  int64_t t = remc_store_time(s);
  fill(s, "k:", 0, 100000, 100);
  double items = STAT(s, curr_items);
  CHECK_EQ(remc_store_set_mem_limit(s, 8 * MiB), 0);
  for (int i = 0; i < 10; i++) {
    remc_store_set_time(s, ++t);
    remc_store_reclaim(s, 100);
  }
  CHECK_EQ(STAT(s, curr_items), items);
  CHECK_EQ(STAT(s, slab_reassign_evictions_nomem), 0);
  CHECK_EQ(check_invariants(s), 0);
  remc_store_destroy(s);
}

/* The meta-command entry points (added for protocol/meta.ts): their store-side contract. */
static void test_meta(void) {
  remc_store *s = mk(cfg_default());
  remc_item_ref r;
  remc_item_info in;
  uint64_t cas = 0;
  /* meta_get: no bump, no fetched mark; `count` picks the counters */
  CHECK_EQ(remc_store_meta_get(s, (const uint8_t *)"m", 1, 0, &r, &in), 0);
  CHECK_EQ(remc_store_meta_get(s, (const uint8_t *)"m", 1, 1, &r, &in), 0);
  CHECK_EQ(remc_store_meta_get(s, (const uint8_t *)"m", 1, 2, &r, &in), 0);
  CHECK_EQ(STAT(s, get_misses), 1);
  CHECK_EQ(STAT(s, touch_misses), 1);
  CHECK_EQ(set(s, "m", "hi", 3, 0), REMC_STORE_STORED);
  CHECK_EQ(remc_store_meta_get(s, (const uint8_t *)"m", 1, 1, &r, &in), 1);
  CHECK_EQ(in.fetched, 0);
  CHECK_EQ(in.meta, 0);
  CHECK_EQ(in.flags, 3);
  CHECK_EQ(STAT(s, get_hits), 1);
  /* meta_update on the pinned item: flags, TTL, bump */
  int64_t ttl = 30;
  remc_store_meta_update(s, &r, REMC_META_TOKEN_SENT, 0, &ttl, 1, &in);
  CHECK_EQ(in.meta, REMC_META_TOKEN_SENT);
  CHECK_EQ(in.exptime, remc_store_time(s) + 30);
  remc_store_release(s, &r);
  CHECK_EQ(remc_store_meta_get(s, (const uint8_t *)"m", 1, 0, &r, &in), 1);
  CHECK_EQ(in.fetched, 1); /* the bump marked it */
  remc_store_meta_update(s, &r, 0, REMC_META_TOKEN_SENT, NULL, 0, &in);
  CHECK_EQ(in.meta, 0);
  remc_store_release(s, &r);
  /* meta_delete: CAS compare (C0 never matches), invalidate keeps the item, stale + new CAS */
  get2(s, "m", 0, &in);
  CHECK_EQ(remc_store_meta_delete(s, (const uint8_t *)"m", 1, 1, in.cas + 1, 0, NULL, NULL),
           REMC_STORE_EXISTS);
  CHECK_EQ(remc_store_meta_delete(s, (const uint8_t *)"m", 1, 1, 0, 0, NULL, NULL),
           REMC_STORE_EXISTS);
  uint64_t before = in.cas;
  int64_t t30 = 30;
  CHECK_EQ(remc_store_meta_delete(s, (const uint8_t *)"m", 1, 0, 0, 1, &t30, &cas),
           REMC_STORE_DELETED);
  CHECK(cas > before);
  CHECK(streq(get2(s, "m", 0, &in), "hi"));
  CHECK_EQ(in.meta, REMC_META_STALE);
  CHECK_EQ(in.cas, cas);
  /* ms I + C with a lower CAS: stores, stays stale, keeps the TTL */
  uint64_t nc = 0;
  CHECK_EQ(st(s, REMC_MODE_CAS_STALE, "m", "old", 3, 0, 500, cas - 1, &nc), REMC_STORE_STORED);
  CHECK(streq(get2(s, "m", 0, &in), "old"));
  CHECK_EQ(in.meta, REMC_META_STALE);
  CHECK_EQ(in.exptime, remc_store_time(s) + 30);
  /* ... with the matching CAS: a normal store, meta state cleared */
  CHECK_EQ(st(s, REMC_MODE_CAS_STALE, "m", "new", 3, 0, 0, nc, &nc), REMC_STORE_STORED);
  get2(s, "m", 0, &in);
  CHECK_EQ(in.meta, 0);
  CHECK_EQ(in.exptime, 0);
  /* ... with a higher CAS: EXISTS */
  CHECK_EQ(st(s, REMC_MODE_CAS_STALE, "m", "x", 1, 0, 0, nc + 5, NULL), REMC_STORE_EXISTS);
  CHECK_EQ(remc_store_meta_delete(s, (const uint8_t *)"m", 1, 0, 0, 0, NULL, NULL),
           REMC_STORE_DELETED);
  CHECK(!has(s, "m"));
  CHECK_EQ(remc_store_meta_delete(s, (const uint8_t *)"m", 1, 0, 0, 0, NULL, NULL),
           REMC_STORE_NOT_FOUND);
  /* arith with a CAS */
  set(s, "n", "5", 0, 0);
  get2(s, "n", 0, &in);
  uint64_t v;
  CHECK_EQ(remc_store_arith_cas(s, (const uint8_t *)"n", 1, 1, 1, in.cas + 1, &v, NULL),
           REMC_STORE_EXISTS);
  CHECK_EQ(remc_store_arith_cas(s, (const uint8_t *)"n", 1, 1, 1, in.cas, &v, NULL),
           REMC_STORE_STORED);
  CHECK_EQ(v, 6);
  remc_store_destroy(s);
}

/* ---- structural invariants (walks store internals) ---------------------------------------- */

static int inv_bad;
#define INV(c, ...)                                             \
  do {                                                          \
    if (!(c)) {                                                 \
      if (inv_bad++ < 5) {                                      \
        fprintf(stderr, "invariant: " __VA_ARGS__);             \
        fputc('\n', stderr);                                    \
      }                                                         \
    }                                                           \
  } while (0)

static int check_invariants(remc_store *s) {
  inv_bad = 0;
  uint64_t items = 0, bytes = 0;
  for (uint32_t i = 1; i <= s->nclasses; i++) {
    sclass *c = &s->cls[i];
    uint64_t cnt = 0, req = 0, crawlers = 0;
    for (uint32_t q = 0; q < LRU_SEGS; q++) {
      item *prev = NULL;
      uint64_t qcnt = 0, qbytes = 0;
      for (item *it = c->head[q]; it; prev = it, it = it->next) {
        INV(it->prev == prev, "class %u: broken prev link", i);
        INV(it->lru == q, "class %u: item of list %u in list %u", i, it->lru, q);
        if (it->iflags & IT_CRAWLER) {
          INV(it == &c->crawler && c->crawling, "class %u: stray crawler", i);
          crawlers++;
          continue;
        }
        INV((it->iflags & IT_LINKED) && !(it->iflags & IT_SLABBED) && it->cls == i,
            "class %u: bad item flags %x cls %u in LRU", i, it->iflags, it->cls);
        cnt++;
        qcnt++;
        qbytes += item_ntotal(s, it);
        req += item_ntotal(s, it);
        if (cnt > 50000000) break;
      }
      INV(c->tail[q] == prev, "class %u: tail of list %u", i, q);
      INV(qcnt == c->nseg[q], "class %u: list %u holds %llu, nseg %u", i, q,
          (unsigned long long)qcnt, c->nseg[q]);
      INV(qbytes == c->seg_bytes[q], "class %u: list %u bytes", i, q);
      INV(q != LRU_TEMP || qcnt == 0 || s->tune.temp_ttl >= 0, "class %u: TEMP without temp_lru", i);
    }
    INV(crawlers == (uint64_t)(c->crawling ? 1 : 0), "class %u: crawler count", i);
    INV(cnt == c->nitems, "class %u: nitems %u, LRU holds %llu", i, c->nitems,
        (unsigned long long)cnt);
    INV(req == c->requested, "class %u: requested", i);
    uint64_t nfree = 0;
    for (item *it = c->freelist; it && nfree <= c->nfree; it = it->next, nfree++)
      INV(it->iflags == IT_SLABBED && it->cls == i, "class %u: bad free chunk", i);
    INV(nfree == c->nfree, "class %u: free list length", i);
    INV((uint64_t)c->pages * c->perslab >= c->nfree + c->end_free + c->nitems,
        "class %u: chunk accounting", i);
    items += cnt;
    bytes += req;
  }
  INV(items == s->curr_items && bytes == s->bytes, "totals");
  uint64_t hcount = 0;
  size_t n = (size_t)1 << s->hashpower, on = n >> 1;
  for (size_t b = 0; b < n; b++)
    for (item *it = s->buckets[b]; it; it = it->h_next, hcount++) {
      INV(it->iflags & IT_LINKED, "unlinked item in hash");
      INV((it->hv & (n - 1)) == b, "item in the wrong bucket");
      INV(!s->expanding || (it->hv & (on - 1)) < s->expand_bucket, "migrated too early");
    }
  if (s->expanding)
    for (size_t b = s->expand_bucket; b < on; b++)
      for (item *it = s->old_buckets[b]; it; it = it->h_next, hcount++)
        INV((it->hv & (on - 1)) == b, "item in the wrong old bucket");
  INV(hcount == s->curr_items, "hash holds %llu, curr_items %llu", (unsigned long long)hcount,
      (unsigned long long)s->curr_items);
  return inv_bad;
}

/* ---- randomized differential test against a plain model --------------------------------- */

#define MV 6000 /* largest generated value */
typedef struct {
  int present;
  uint8_t *val; /* mcap bytes */
  uint32_t len, flags, gen;
  int64_t exp; /* absolute store seconds, 0 = never */
  uint64_t cas;
} mentry;
static mentry *M;
static uint32_t MK, mcap;
static struct pin {
  int key;
  uint32_t gen, len;
  remc_item_ref ref;
  uint8_t snap[MV * 3];
} P[6];
static int npins;
static uint64_t mrng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n) {
  mrng ^= mrng << 13;
  mrng ^= mrng >> 7;
  mrng ^= mrng << 17;
  return (uint32_t)(mrng % n);
}

static int mvalid(remc_store *s, int k) {
  return M[k].present && (M[k].exp == 0 || M[k].exp > remc_store_time(s));
}
static int mpinned(int k) {
  for (int i = 0; i < npins; i++)
    if (P[i].key == k && P[i].gen == M[k].gen) return 1;
  return 0;
}
static int64_t mexp(remc_store *s, int64_t e) {
  return e == 0 ? 0 : e < 0 ? 1 : remc_store_time(s) + e;
}
/* the store's rule for numbers (memcached's strtoull use), restricted to what we generate */
static int mparse(const uint8_t *p, uint32_t n, uint64_t *out) {
  uint32_t i = 0;
  while (i < n && p[i] == ' ') i++;
  uint32_t st = i;
  uint64_t v = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') {
    if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10) return 0;
    v = v * 10 + (uint64_t)(p[i++] - '0');
  }
  if (i == st || (i < n && p[i] != ' ')) return 0;
  *out = v;
  return 1;
}

static void model_run(int exact, int ops, uint64_t mem, uint32_t nkeys, uint32_t cap) {
  remc_store_config c = cfg_default();
  c.mem_limit = mem;
  c.hashpower = 10;
  remc_store *s = mk(c);
  MK = nkeys;
  mcap = cap;
  M = calloc(MK, sizeof *M);
  for (uint32_t i = 0; i < MK; i++) M[i].val = malloc(mcap);
  npins = 0;
  uint32_t gen = 1;
  int errs = 0;
  uint8_t val[MV], got[MV * 3];
  char key[16];
#define MERR(...)                                                             \
  do {                                                                        \
    if (errs++ < 10) {                                                        \
      fprintf(stderr, "model op %d key %d: ", op, k);                        \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
    }                                                                         \
  } while (0)
/* the store says the key is absent: fine unless the model is exact about it */
#define ABSENT()                                                               \
  do {                                                                         \
    if (mvalid(s, k) && exact) MERR("store lost a live key");                 \
    M[k].present = 0;                                                          \
  } while (0)
  for (int op = 0; op < ops; op++) {
    int k = (int)rnd(MK);
    uint32_t klen = (uint32_t)snprintf(key, sizeof key, "key%d", k);
    const uint8_t *kb = (const uint8_t *)key;
    /* a value: digits, digits and spaces, or text, of assorted sizes */
    uint32_t vlen, kind = rnd(10);
    if (kind < 4) {
      vlen = 1 + rnd(6);
      for (uint32_t i = 0; i < vlen; i++) val[i] = (uint8_t)('0' + rnd(10));
    } else if (kind < 5) {
      vlen = 2 + rnd(8);
      for (uint32_t i = 0; i < vlen; i++) val[i] = i < 2 ? (uint8_t)('1' + rnd(9)) : ' ';
    } else {
      if (mcap >= 3 * MV) /* exact runs: sizes over many classes */
        vlen = rnd(10) == 0 ? rnd(MV) : rnd(300);
      else /* evicting runs: few classes, so that they fill and evict */
        vlen = 100 + rnd(40);
      for (uint32_t i = 0; i < vlen; i++) val[i] = (uint8_t)('a' + rnd(26));
    }
    uint32_t flags = rnd(3) == 0 ? rnd(1000) : 0;
    int64_t e = rnd(4) == 0 ? (int64_t)rnd(6) - 1 : 0;
    uint64_t nc = 0;
    uint32_t r = rnd(100);
    remc_item_info in;
    remc_item_ref ref;
    if (r < 25) { /* get */
      int hit = remc_store_get(s, kb, klen, (int)rnd(2), NULL, &ref, &in);
      if (hit) {
        remc_store_copy_value(s, &ref, got);
        remc_store_release(s, &ref);
        if (!mvalid(s, k)) MERR("hit on a key the model does not have");
        else if (in.nbytes != M[k].len || memcmp(got, M[k].val, in.nbytes) != 0)
          MERR("value differs (%u vs %u bytes)", in.nbytes, M[k].len);
        else if (in.flags != M[k].flags) MERR("flags differ");
        else if (in.cas != M[k].cas) MERR("cas differs");
        else if (in.exptime != (M[k].exp == 0 ? 0 : M[k].exp)) MERR("exptime differs");
      } else {
        ABSENT();
      }
    } else if (r < 62) { /* storage commands */
      static const int modes[] = {REMC_MODE_SET, REMC_MODE_SET, REMC_MODE_SET, REMC_MODE_ADD,
                                  REMC_MODE_REPLACE, REMC_MODE_APPEND, REMC_MODE_PREPEND,
                                  REMC_MODE_CAS};
      int mode = modes[rnd(8)];
      int live = mvalid(s, k);
      if ((mode == REMC_MODE_APPEND || mode == REMC_MODE_PREPEND) && M[k].len + vlen > mcap)
        mode = REMC_MODE_SET;
      uint64_t cas = mode == REMC_MODE_CAS ? (rnd(3) ? M[k].cas : M[k].cas + 1) : 0;
      int rc = remc_store_store(s, mode, kb, klen, val, vlen, flags, e, cas, &nc);
      if (rc == REMC_STORE_STORED) {
        if (mode != REMC_MODE_SET && mode != REMC_MODE_ADD && !live)
          MERR("mode %d stored on a key the model does not have", mode);
        if (mode == REMC_MODE_ADD && live && exact) MERR("add stored over a live key");
        if (mode == REMC_MODE_CAS && cas != M[k].cas) MERR("cas stored with a wrong cas");
        if (nc <= M[k].cas) MERR("new cas not increasing");
        if (mode == REMC_MODE_APPEND) {
          memcpy(M[k].val + M[k].len, val, vlen);
          M[k].len += vlen;
        } else if (mode == REMC_MODE_PREPEND) {
          memmove(M[k].val + vlen, M[k].val, M[k].len);
          memcpy(M[k].val, val, vlen);
          M[k].len += vlen;
        } else {
          memcpy(M[k].val, val, vlen);
          M[k].len = vlen;
          M[k].flags = flags;
          M[k].exp = mexp(s, e);
        }
        M[k].present = 1;
        M[k].cas = nc;
        M[k].gen = gen++;
      } else if (rc == REMC_STORE_NOT_STORED) {
        if (mode == REMC_MODE_ADD) {
          if (!live) MERR("add refused on a key the model does not have");
        } else if (mode == REMC_MODE_SET || mode == REMC_MODE_CAS) {
          MERR("NOT_STORED for mode %d", mode);
        } else {
          ABSENT();
        }
      } else if (rc == REMC_STORE_NOT_FOUND && mode == REMC_MODE_CAS) {
        ABSENT();
      } else if (rc == REMC_STORE_EXISTS && mode == REMC_MODE_CAS) {
        if (!live) MERR("EXISTS on a key the model does not have");
        if (cas == M[k].cas) MERR("EXISTS with the right cas");
      } else if (rc == REMC_STORE_NO_MEMORY && !exact) {
        if (mode == REMC_MODE_SET) M[k].present = 0;
      } else {
        MERR("unexpected %s for mode %d", RC[rc], mode);
      }
    } else if (r < 66) { /* delete */
      int rc = remc_store_delete(s, kb, klen, 0);
      if (rc == REMC_STORE_DELETED) {
        if (!mvalid(s, k)) MERR("deleted a key the model does not have");
      } else if (rc == REMC_STORE_NOT_FOUND) {
        ABSENT();
      } else {
        MERR("delete: %s", RC[rc]);
      }
      M[k].present = 0;
    } else if (r < 80) { /* incr / decr */
      int incr = (int)rnd(2);
      uint64_t delta = rnd(5) == 0 ? UINT64_MAX - rnd(3) : rnd(200), v = 0, mv = 0;
      int rc = remc_store_arith(s, kb, klen, incr, delta, &v, &nc);
      int live = mvalid(s, k);
      if (rc == REMC_STORE_NOT_FOUND) {
        ABSENT();
      } else if (!live) {
        MERR("arith %s on a key the model does not have", RC[rc]);
      } else if (!mparse(M[k].val, M[k].len, &mv)) {
        if (rc != REMC_STORE_NON_NUMERIC) MERR("arith on non-numeric: %s", RC[rc]);
      } else if (rc != REMC_STORE_STORED) {
        MERR("arith on numeric: %s", RC[rc]);
      } else {
        mv = incr ? mv + delta : (delta > mv ? 0 : mv - delta);
        if (v != mv) MERR("arith result %llu, model %llu", (unsigned long long)v, (unsigned long long)mv);
        char d[24];
        uint32_t dl = (uint32_t)snprintf(d, sizeof d, "%llu", (unsigned long long)mv);
        if (dl <= M[k].len && !mpinned(k)) {
          memcpy(M[k].val, d, dl);
          memset(M[k].val + dl, ' ', M[k].len - dl);
        } else {
          memcpy(M[k].val, d, dl);
          M[k].len = dl;
          M[k].gen = gen++;
        }
        M[k].cas = nc;
      }
    } else if (r < 85) { /* touch */
      int rc = remc_store_touch(s, kb, klen, e);
      if (rc == REMC_STORE_TOUCHED) {
        if (!mvalid(s, k)) MERR("touched a key the model does not have");
        M[k].exp = mexp(s, e);
      } else {
        ABSENT();
      }
    } else if (r < 86) {
      if (rnd(exact ? 100 : 5000)) continue;
      remc_store_flush(s, 0);
      for (uint32_t i = 0; i < MK; i++) M[i].present = 0;
    } else if (r < 90) {
      if (rnd(4)) continue;
      remc_store_set_time(s, remc_store_time(s) + 1 + rnd(3));
    } else if (r < 93) {
      remc_store_reclaim(s, 1 + rnd(200));
    } else { /* pin or unpin */
      if (npins > 0 && (npins == 6 || rnd(2))) {
        int i = (int)rnd((uint32_t)npins);
        remc_store_copy_value(s, &P[i].ref, got);
        if (memcmp(got, P[i].snap, P[i].len) != 0) MERR("pinned bytes changed");
        remc_store_release(s, &P[i].ref);
        P[i] = P[--npins];
      } else if (remc_store_get(s, kb, klen, 0, NULL, &P[npins].ref, &in)) {
        if (!mvalid(s, k)) MERR("pinned a key the model does not have");
        P[npins].key = k;
        P[npins].gen = M[k].gen;
        P[npins].len = in.nbytes;
        remc_store_copy_value(s, &P[npins].ref, P[npins].snap);
        npins++;
      } else {
        ABSENT();
      }
    }
    if (op % 2000 == 0 && check_invariants(s)) MERR("invariants broken");
    if (!exact && op % 20000 == 0) /* cache_memlimit up and down: the page mover at work */
      remc_store_set_mem_limit(s, (op / 20000) % 2 ? 2 * mem : mem);
  }
  while (npins) remc_store_release(s, &P[--npins].ref);
  CHECK_EQ(check_invariants(s), 0);
  CHECK_EQ(errs, 0);
  fprintf(stderr, "model (%s, %llu MiB): %d ops, %.0f evictions, %.0f items, %.0f pages moved, "
          "%.0f rescues\n", exact ? "exact" : "evicting", (unsigned long long)(mem >> 20), ops,
          STAT(s, evictions), STAT(s, curr_items), STAT(s, slabs_moved),
          STAT(s, slab_reassign_rescues));
  remc_store_destroy(s);
  for (uint32_t i = 0; i < MK; i++) free(M[i].val);
  free(M);
#undef MERR
#undef ABSENT
}

static void test_model(void) {
  model_run(1, 300000, 64 * MiB, 150, 3 * MV);
  model_run(0, 300000, 4 * MiB, 80000, 1200);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_memory_bound(void) {
  /* 4 x -m 64 MiB of 100-byte values: RSS grows by about -m plus the hash table */
  long idle = rss_kib();
  remc_store *s = mk(cfg_default());
  char key[32], val[101];
  memset(val, 'm', 100);
  val[100] = 0;
  uint64_t target = 4 * 64 * MiB, stored = 0;
  for (int i = 0; stored < target; i++) {
    int n = snprintf(key, sizeof key, "mem:%d", i);
    remc_store_store(s, REMC_MODE_SET, (uint8_t *)key, (uint32_t)n, (uint8_t *)val, 100, 0, 0, 0,
                     NULL);
    stored += 100;
  }
  long grown = rss_kib() - idle;
  fprintf(stderr, "memory bound: rss grew %ld KiB for -m 64 MiB (%0.f items, hash %0.f KiB)\n",
          grown, STAT(s, curr_items), STAT(s, hash_bytes) / 1024);
  CHECK(grown < (64 + 32) * 1024);
  CHECK(STAT(s, total_malloced) <= 64 * MiB);
  CHECK(STAT(s, evictions) > 0);
  remc_store_destroy(s);
  CHECK(rss_kib() - idle < 4 * 1024); /* destroy gives it all back */
}

/* ---- protection keys ---------------------------------------------------------------------- */

static int smaps_pkey(const void *addr) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return -2;
  char line[512];
  int in = 0, key = -1;
  uintptr_t a = (uintptr_t)addr;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') == line + strcspn(line, "-")) {
      if (in) break;
      in = a >= lo && a < hi;
      continue;
    }
    if (in && sscanf(line, "ProtectionKey: %d", &key) == 1) break;
  }
  fclose(f);
  return in ? key : -3;
}

static inline void wrpkru(uint32_t v) {
#if defined(__x86_64__)
  __asm__ volatile(".byte 0x0f,0x01,0xef" : : "a"(v), "c"(0), "d"(0) : "memory");
#else
  (void)v; /* no PKU: test_pkey skips before this is reached (pkey_alloc fails) */
  abort();
#endif
}

/* Fork; in the child deny all access to `pkey` through PKRU and touch `addr`. Returns the
 * child's termination signal (0 if it exited normally). */
static int child_touch_denied(int pkey, volatile const char *addr, int write) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(5);
    signal(SIGSEGV, SIG_DFL); /* die of the fault even under ASan's handler */
    wrpkru(1u << (2 * pkey)); /* AD bit for this key; every other key stays accessible */
    if (write)
      *(volatile char *)addr = 'X';
    else
      (void)*addr;
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void test_pkey(void) {
  int pkey = (int)syscall(SYS_pkey_alloc, 0, 0);
  if (pkey < 0) {
    fprintf(stderr, "test_pkey: SKIPPED (pkey_alloc: %s)\n", strerror(errno));
    return;
  }
  remc_store_config c = cfg_default();
  c.pkey = pkey;
  remc_store *s = mk(c);
  set(s, "secret", "the-cache-value", 0, 0);
  char *p = remc_store_probe_address(s);
  CHECK(p && strncmp(p, "the-cache-value", 15) == 0);
  /* every store mapping carries the key: items, store struct, hash table */
  CHECK_EQ(smaps_pkey(p), pkey);
  CHECK_EQ(smaps_pkey(s), pkey);
  remc_store *empty = mk(c);
  CHECK_EQ(smaps_pkey(remc_store_probe_address(empty)), pkey); /* the hash table */
  remc_store_destroy(empty);
  /* with PKRU denying the key, reads and writes fault; allowed, the read works */
  CHECK_EQ(child_touch_denied(pkey, p, 0), SIGSEGV);
  CHECK_EQ(child_touch_denied(pkey, p, 1), SIGSEGV);
  CHECK_EQ(child_touch_denied(pkey, (const char *)s, 0), SIGSEGV);
  CHECK_EQ(child_touch_denied(pkey == 15 ? 14 : pkey + 1, p, 0), 0);
  CHECK(streq(get(s, "secret"), "the-cache-value")); /* and the parent is unaffected */
  /* growth keeps tagging: new hash tables and arenas */
  char key[32];
  for (int i = 0; i < 200000; i++) {
    int n = snprintf(key, sizeof key, "g%d", i);
    remc_store_store(s, REMC_MODE_SET, (uint8_t *)key, (uint32_t)n, (uint8_t *)key, (uint32_t)n,
                     0, 0, 0, NULL);
  }
  CHECK(STAT(s, hash_power_level) > 16);
  CHECK_EQ(smaps_pkey(s->buckets), pkey); /* a grown table */
  remc_store_flush(s, 0);
  CHECK(remc_store_set_mem_limit(s, 256 * MiB) == 0);
  CHECK(s->narenas >= 2);
  for (uint32_t a = 0; a < s->narenas; a++) { /* every arena and its page-owner table */
    CHECK_EQ(smaps_pkey(s->arenas[a].base), pkey);
    CHECK_EQ(smaps_pkey(s->arenas[a].owner), pkey);
  }
  set(s, "secret", "the-cache-value", 0, 0);
  CHECK(smaps_pkey(remc_store_probe_address(s)) == pkey);
  remc_store_destroy(s);
  /* a key that is not allocated cannot tag: creation fails, it does not run untagged */
  int k2 = (int)syscall(SYS_pkey_alloc, 0, 0);
  if (k2 >= 0) {
    syscall(SYS_pkey_free, k2);
    c.pkey = k2;
    const char *err = NULL;
    CHECK(remc_store_create(&c, &err) == NULL);
    CHECK(err && strstr(err, "pkey"));
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep progress visible if a test crashes */
  struct { const char *name; void (*fn)(void); } tests[] = {
      {"item_size", test_item_size},     {"hostile_args", test_hostile_args},
      {"commands", test_commands},       {"expiry", test_expiry},
      {"flush", test_flush},             {"arith", test_arith},
      {"eviction_lru", test_eviction_lru}, {"segmented_lru", test_segmented_lru},
      {"temp_lru", test_temp_lru}, {"no_evictions", test_no_evictions},
      {"reclaim", test_reclaim},         {"lru_modes", test_lru_modes},
      {"hash_growth", test_hash_growth},
      {"pinned", test_pinned},           {"chunked", test_chunked},           {"checksum", test_checksum},
      {"class_table", test_class_table}, {"meta", test_meta},
      {"model", test_model}, {"slab_move", test_slab_move},
      {"mem_limit_shrink", test_mem_limit_shrink}, {"over_limit_first_pages", test_over_limit_first_pages}, {"slabs_reassign", test_slabs_reassign},
      {"cachedump", test_cachedump},     {"metadump", test_metadump},
      {"memory_bound", test_memory_bound},
      {"pkey", test_pkey},
  };
  for (unsigned i = 0; i < sizeof tests / sizeof *tests; i++) {
    if (argc > 1 && strcmp(argv[1], tests[i].name) != 0) continue;
    int before = failures;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    tests[i].fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%-14s %s (%.2fs)\n", tests[i].name, failures == before ? "ok" : "FAILED",
           (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  }
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
