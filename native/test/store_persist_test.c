// sources: native/store/*.c
// cflags: -O1
/*
 * store_persist_test.c — `-e` dumps (native/store/store_persist.c): what is saved comes back
 * the same (value, flags, CAS, exptime, last access, fetched and meta state, LRU order, flush
 * cutoff, CAS counter), expired items do not, and any file that is not exactly a dump this
 * store wrote — empty, truncated, one flipped bit anywhere, bytes appended, another dump's id,
 * other settings, a huge length — is refused whole.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "remc_store.h"
#include "remc_store_persist.h"
#include "../store/store_int.h" /* to check the restored LRU order and item fields */

static int failures, checks;
#define CHECK(c)                                                                               \
  do {                                                                                         \
    checks++;                                                                                  \
    if (!(c)) {                                                                                \
      failures++;                                                                              \
      fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n", __FILE__, __LINE__, __func__, #c);     \
    }                                                                                          \
  } while (0)
#define CHECK_EQ(a, b)                                                                         \
  do {                                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                                        \
    checks++;                                                                                  \
    if (a_ != b_) {                                                                            \
      failures++;                                                                              \
      fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__,     \
              __func__, #a, a_, #b, b_);                                                       \
    }                                                                                          \
  } while (0)

#define MiB (1024ull * 1024)
static char path[256];

static remc_store_config cfg(void) {
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
  remc_store_set_time(s, (int64_t)time(NULL));
  return s;
}
static uint64_t set(remc_store *s, const char *k, const void *v, uint32_t vlen, uint32_t flags,
                    int64_t exp) {
  uint64_t cas = 0;
  int rc = remc_store_store(s, REMC_MODE_SET, (const uint8_t *)k, (uint32_t)strlen(k),
                            (const uint8_t *)v, vlen, flags, exp, 0, &cas);
  CHECK_EQ(rc, REMC_STORE_STORED);
  return cas;
}
/* 1 and info filled on a hit; the value must equal v */
static int get(remc_store *s, const char *k, const void *v, uint32_t vlen, remc_item_info *info) {
  remc_item_ref ref;
  if (remc_store_meta_get(s, (const uint8_t *)k, (uint32_t)strlen(k), 0, &ref, info) != 1)
    return 0;
  CHECK_EQ(info->nbytes, vlen);
  if (info->nbytes == vlen) {
    uint8_t *buf = malloc(vlen + 1);
    remc_store_copy_value(s, &ref, buf);
    CHECK(memcmp(buf, v, vlen) == 0);
    free(buf);
  }
  remc_store_release(s, &ref);
  return 1;
}

static int save(remc_store *s, remc_persist_state *st) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const char *err = NULL;
  int rc = remc_store_persist_save(s, fd, st, &err);
  close(fd);
  if (rc != 0) fprintf(stderr, "save: %s\n", err);
  return rc;
}
static int64_t load(remc_store *s, const remc_persist_state *st, const char **err) {
  int fd = open(path, O_RDONLY);
  int64_t n = remc_store_persist_load(s, fd, st, err);
  close(fd);
  return n;
}

/* a store with a few kinds of item, saved */
static remc_store *saved_store(remc_persist_state *st, uint64_t *cas_a) {
  remc_store *s = mk(cfg());
  *cas_a = set(s, "a", "alpha", 5, 42, 0);
  set(s, "b", "", 0, 0, 1000);
  static char big[900000]; /* chunked (above slab_chunk_max): saved from its pieces, in order */
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 % 251);
  set(s, "big", big, sizeof big, 7, 0);
  set(s, "expired", "e", 1, 0, 1);   /* relative 1 s: passed by the time of the load */
  set(s, "gone", "g", 1, 0, -1);     /* already expired: not even saved */
  for (int i = 0; i < 3000; i++) {
    char k[32];
    snprintf(k, sizeof k, "k%d", i);
    set(s, k, k, (uint32_t)strlen(k), (uint32_t)i, 0);
  }
  /* the maintainer moves most of them from HOT to COLD: the dump keeps each item's LRU */
  remc_lru_tune tune = {20, 40, 0.2, 2.0, -1};
  remc_store_set_lru(s, REMC_LRU_MAINTAINER, &tune);
  remc_store_reclaim(s, 0);
  st->id = 0x1234567890abcdefull;
  CHECK_EQ(save(s, st), 0);
  return s;
}

static void test_round_trip(void) {
  remc_persist_state st;
  uint64_t cas_a;
  remc_store *s = saved_store(&st, &cas_a);
  CHECK_EQ(st.items, 3004); /* "gone" was not saved; "expired" was (1 s left) */
  CHECK(st.cas_counter >= cas_a);
  /* the first class's LRU, tail to head, to compare after the load */
  uint64_t order[64], n = 0;
  uint32_t segs = 0;
  uint32_t cls = 0;
  {
    remc_item_ref ref;
    remc_item_info info;
    remc_store_meta_get(s, (const uint8_t *)"k1", 2, 0, &ref, &info);
    cls = (uint32_t)info.slab_class;
    remc_store_release(s, &ref);
    for (uint32_t q = 0; q < LRU_SEGS; q++) {
      uint64_t from = n;
      for (item *it = s->cls[cls].tail[q]; it && n < from + 16; it = it->prev)
        if (it->exptime == 0 || it->exptime > NOW(s) + 100) order[n++] = item_cas(s, it) * LRU_SEGS + q; /* the others expire */
      segs += n > from;
    }
    CHECK(segs >= 2); /* HOT and COLD at least */
  }
  remc_store_destroy(s);
  sleep(2); /* "expired" runs out while the server is down */

  remc_store *t = mk(cfg());
  const char *err = NULL;
  int64_t got = load(t, &st, &err);
  CHECK_EQ(got, 3003);
  if (got < 0) fprintf(stderr, "load: %s\n", err);
  remc_item_info info;
  CHECK(get(t, "a", "alpha", 5, &info));
  CHECK_EQ(info.flags, 42);
  CHECK_EQ(info.cas, cas_a);
  CHECK_EQ(info.exptime, 0);
  CHECK(get(t, "b", "", 0, &info));
  CHECK(info.exptime > (int64_t)time(NULL) + 990 && info.exptime <= (int64_t)time(NULL) + 1000);
  static char big[900000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 % 251);
  CHECK(get(t, "big", big, sizeof big, &info));
  CHECK_EQ(info.flags, 7);
  CHECK(!get(t, "expired", "e", 1, &info));
  CHECK(!get(t, "gone", "g", 1, &info));
  CHECK(get(t, "k2999", "k2999", 5, &info));
  CHECK_EQ(info.flags, 2999);
  /* the LRU in the same order, the CAS counter where it was */
  uint64_t m = 0;
  for (uint32_t q = 0; q < LRU_SEGS; q++) {
    uint64_t from = m;
    for (item *it = t->cls[cls].tail[q]; it && m < from + 16 && m < n; it = it->prev) CHECK_EQ(item_cas(t, it) * LRU_SEGS + q, order[m++]);
  }
  CHECK_EQ(m, n);
  uint64_t next = set(t, "new", "n", 1, 0, 0);
  CHECK_EQ(next, st.cas_counter + 1);
  double stats[REMC_STAT_COUNT];
  remc_store_stats(t, stats);
  CHECK_EQ(stats[REMC_STAT_curr_items], 3004);
  CHECK_EQ(stats[REMC_STAT_get_hits], 0);
  remc_store_destroy(t);
}

/* A flush_all's cutoff survives the restart: items stored before it stay invalid. */
static void test_flush_state(void) {
  remc_store *s = mk(cfg());
  set(s, "old", "o", 1, 0, 0);
  remc_store_flush(s, 0);
  remc_persist_state st = {.id = 99};
  CHECK_EQ(save(s, &st), 0);
  CHECK(st.oldest_live != 0);
  remc_store_destroy(s);
  remc_store *t = mk(cfg());
  const char *err = NULL;
  CHECK(load(t, &st, &err) >= 0);
  remc_item_info info;
  CHECK(!get(t, "old", "o", 1, &info));
  remc_store_destroy(t);
}

/* Rewrite the dump with f applied, then load it into a fresh store: must fail with a reason. */
static size_t file_len(void) {
  struct stat sb;
  stat(path, &sb);
  return (size_t)sb.st_size;
}
static uint8_t *slurp(size_t *n) {
  *n = file_len();
  uint8_t *b = malloc(*n + 64);
  int fd = open(path, O_RDONLY);
  CHECK_EQ(read(fd, b, *n), (long long)*n);
  close(fd);
  return b;
}
static void spit(const uint8_t *b, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK_EQ(write(fd, b, n), (long long)n);
  close(fd);
}
static void expect_refused(const remc_persist_state *st, remc_store_config c, const char *what) {
  remc_store *t = mk(c);
  const char *err = NULL;
  int64_t got = load(t, st, &err);
  checks++;
  if (got != -1 || !err) {
    failures++;
    fprintf(stderr, "%s: loaded (%lld) where it must be refused\n", what, (long long)got);
  }
  remc_store_destroy(t);
}

static void test_hostile(void) {
  remc_persist_state st;
  uint64_t cas_a;
  remc_store_destroy(saved_store(&st, &cas_a));
  size_t n;
  uint8_t *orig = slurp(&n);
  uint8_t *b = malloc(n + 64);

  spit(orig, 0);
  expect_refused(&st, cfg(), "empty file");
  spit((const uint8_t *)"garbage garbage garbage garbage garbage garbage garbage garbage garbage "
       "garbage garbage garbage",
       96);
  expect_refused(&st, cfg(), "foreign file");
  /* truncated at many points, header to trailer */
  for (size_t cut = 1; cut < n; cut += n / 97 + 1) {
    spit(orig, cut);
    expect_refused(&st, cfg(), "truncated");
  }
  spit(orig, n - 1);
  expect_refused(&st, cfg(), "truncated by one byte");
  /* one bit flipped, at many points */
  for (size_t at = 0; at < n; at += n / 211 + 1) {
    memcpy(b, orig, n);
    b[at] ^= 0x10;
    spit(b, n);
    expect_refused(&st, cfg(), "bit flip");
  }
  /* appended bytes */
  memcpy(b, orig, n);
  memset(b + n, 0, 16);
  spit(b, n + 16);
  expect_refused(&st, cfg(), "appended bytes");
  /* a huge length in the first record, checksum and all recomputed is impossible without the
   * id; with a wrong checksum it must still be refused before any huge read or allocation */
  memcpy(b, orig, n);
  b[72 + 8] = 0xff, b[72 + 9] = 0xff, b[72 + 10] = 0xff, b[72 + 11] = 0x7f;
  spit(b, n);
  expect_refused(&st, cfg(), "huge nbytes");
  /* the intact file under another id, or other settings */
  spit(orig, n);
  remc_persist_state other = st;
  other.id ^= 1;
  expect_refused(&other, cfg(), "another dump's id");
  remc_store_config c = cfg();
  c.item_size_max = 2 * 1024 * 1024;
  expect_refused(&st, c, "another -I");
  c = cfg();
  c.cas_enabled = 0;
  expect_refused(&st, c, "-C");
  other = st;
  other.cas_counter++;
  expect_refused(&other, cfg(), "metadata disagreeing with the file");
  /* and the intact file still loads */
  remc_store *t = mk(cfg());
  const char *err = NULL;
  CHECK(load(t, &st, &err) > 0);
  remc_store_destroy(t);
  free(orig);
  free(b);
}

/* Writing to something that cannot take it fails cleanly. */
static void test_save_error(void) {
  remc_store *s = mk(cfg());
  set(s, "a", "b", 1, 0, 0);
  remc_persist_state st = {.id = 1};
  int fd = open("/dev/full", O_WRONLY);
  if (fd >= 0) {
    const char *err = NULL;
    CHECK_EQ(remc_store_persist_save(s, fd, &st, &err), -1);
    CHECK(err != NULL);
    close(fd);
  }
  remc_store_destroy(s);
}

int main(void) {
  snprintf(path, sizeof path, "%s/remc_persist_test.%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (int)getpid());
  test_round_trip();
  test_flush_state();
  test_hostile();
  test_save_error();
  unlink(path);
  printf("store_persist_test: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
