/*
 * store_persist.c — `-e PATH`: dump the store's items at a graceful stop, load them at start
 * (remc_store_persist.h). memcached keeps its slab memory in the mmap'd file itself; here the
 * file is a stream of checksummed records, written once at the stop and read once at the start.
 *
 * Layout (little-endian, host order: the file is read back by the same build on the same host):
 *   header  72 bytes: "REMCDMP1", version, cas size, id, clock origin, clock, flush state, CAS
 *           counter, -I, hashpower, checksum of the 64 bytes before it
 *   records 'I', nkey, item flags, meta flags, client flags, nbytes, time, exptime, LRU (one
 *           byte of the 32-bit word; HOT..TEMP), cas (32 bytes), key, value, checksum (seeded with id + index: a record cannot be moved,
 *           repeated or taken from another dump without the checksums failing)
 *   trailer 'E', 7 zero bytes, record count, chained checksum of every record, checksum
 * Records go class by class, LRU by LRU (HOT, WARM, COLD, TEMP), each from its tail to its head,
 * so that loading them in file order (each item to the head of the LRU it was saved in) rebuilds
 * every LRU in its order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "remc_store_persist.h"
#include "store_int.h"

#define P_MAGIC "REMCDMP1"
#define P_VERSION 1u
#define P_HEADER 72
#define P_REC 32
#define P_TRAILER P_REC
#define P_IFLAGS (IT_FETCHED | IT_ACTIVE) /* the item flags a record keeps */
#define P_MFLAGS (REMC_META_STALE | REMC_META_TOKEN_SENT | REMC_META_KEY_BINARY)
#define P_BUF (1u << 20)

static uint64_t chain(uint64_t acc, uint64_t sum) { return h_mum(acc ^ sum, H_K1); }
static uint64_t rec_seed(uint64_t id, uint64_t index) { return id + index * H_K0; }

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- buffered output ---- */
typedef struct {
  int fd;
  uint8_t *buf;
  size_t len;
  int failed;
} wr;

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}
static void wr_flush(wr *w) {
  if (!w->failed && w->len && write_all(w->fd, w->buf, w->len) != 0) w->failed = 1;
  w->len = 0;
}
static void wr_put(wr *w, const void *p, size_t n) {
  if (w->failed) return;
  if (w->len + n > P_BUF) wr_flush(w);
  if (n >= P_BUF) { /* a large value goes straight out */
    if (write_all(w->fd, p, n) != 0) w->failed = 1;
    return;
  }
  memcpy(w->buf + w->len, p, n);
  w->len += n;
}

static void header_bytes(uint8_t h[P_HEADER], const remc_persist_state *st, uint32_t cas_sz,
                         uint32_t item_size_max) {
  memset(h, 0, P_HEADER);
  memcpy(h, P_MAGIC, 8);
  put32(h + 8, P_VERSION);
  put32(h + 12, cas_sz);
  put64(h + 16, st->id);
  put64(h + 24, (uint64_t)st->started);
  put32(h + 32, st->now);
  put32(h + 36, st->oldest_live);
  put64(h + 40, st->oldest_cas);
  put64(h + 48, st->cas_counter);
  put32(h + 56, item_size_max);
  put32(h + 60, st->hashpower);
  put64(h + 64, remc_hash64(h, 64, st->id));
}

int remc_store_persist_save(remc_store *s, int fd, remc_persist_state *st, const char **err) {
  const char *dummy;
  if (!err) err = &dummy;
  wr w = {fd, malloc(P_BUF), 0, 0};
  if (!w.buf) {
    *err = "out of memory";
    return -1;
  }
  /* every reader slot, as stats and flush_all: nothing else runs in the store meanwhile */
  for (uint32_t i = 0; i < READER_SLOTS; i++) pthread_mutex_lock(&s->readers[i]);
  st->started = s->started;
  st->now = NOW(s);
  st->oldest_live = s->oldest_live;
  st->oldest_cas = s->oldest_cas;
  /* memcached saves get_cas_id(), which takes a CAS value: the first after a restart is 2 on */
  st->cas_counter = __atomic_add_fetch(&s->cas_counter, 1, __ATOMIC_RELAXED);
  st->hashpower = s->hashpower;
  uint8_t h[P_HEADER];
  header_bytes(h, st, s->cas_sz, s->item_size_max);
  wr_put(&w, h, P_HEADER);
  uint64_t n = 0, acc = 0;
  uint8_t *gather = NULL; /* a chunked item's value in one piece */
  const uint32_t now = NOW(s);
  for (uint32_t id = 1; id <= s->nclasses; id++) {
    sclass *c = &s->cls[id];
    pthread_mutex_lock(&c->lru_lock);
    for (uint32_t q = 0; q < LRU_SEGS; q++)
    for (item *it = c->tail[q]; it; it = it->prev) {
      if (!(it->iflags & IT_LINKED) || (it->iflags & IT_CRAWLER)) continue;
      if (it->exptime != 0 && it->exptime <= now) continue; /* expired: gone at the start anyway */
      uint8_t r[P_REC] = {0};
      r[0] = 'I';
      r[1] = it->nkey;
      r[2] = it->iflags & P_IFLAGS;
      r[3] = it->mflags & P_MFLAGS;
      put32(r + 4, item_flags(s, it));
      put32(r + 8, it->nbytes);
      put32(r + 12, it->time);
      put32(r + 16, it->exptime);
      r[20] = it->lru;
      put64(r + 24, item_cas(s, it));
      const uint8_t *key = item_key(s, it), *val = item_data(s, it);
      if (is_chunked(it)) { /* gathered from its pieces (at most -I bytes) */
        uint8_t *whole = realloc(gather, it->nbytes ? it->nbytes : 1);
        if (!whole) continue; /* (not dumped; the load counts what the trailer says) */
        gather = whole;
        store_value_read(s, it, gather);
        val = gather;
      }
      uint64_t sum = remc_hash64(r, P_REC, rec_seed(st->id, n));
      sum = remc_hash64(key, it->nkey, sum);
      sum = remc_hash64(val, it->nbytes, sum);
      uint8_t sb[8];
      put64(sb, sum);
      wr_put(&w, r, P_REC);
      wr_put(&w, key, it->nkey);
      wr_put(&w, val, it->nbytes);
      wr_put(&w, sb, 8);
      acc = chain(acc, sum);
      n++;
    }
    pthread_mutex_unlock(&c->lru_lock);
  }
  for (uint32_t i = READER_SLOTS; i-- > 0;) pthread_mutex_unlock(&s->readers[i]);
  uint8_t t[P_TRAILER] = {0};
  t[0] = 'E';
  put64(t + 8, n);
  put64(t + 16, acc);
  put64(t + 24, remc_hash64(t, 24, st->id));
  wr_put(&w, t, P_TRAILER);
  wr_flush(&w);
  int saved_errno = errno;
  free(w.buf);
  free(gather);
  st->items = n;
  if (w.failed) {
    errno = saved_errno;
    *err = "write failed";
    return -1;
  }
  return 0;
}

/* ---- buffered input ---- */
typedef struct {
  int fd;
  uint8_t *buf;
  size_t pos, len;
  int eof, error;
} rd;

/* Copy exactly n bytes into dst; 0 at a short file or a read error. */
static int rd_get(rd *r, uint8_t *dst, size_t n) {
  while (n > 0) {
    if (r->pos == r->len) {
      if (r->eof) return 0;
      ssize_t got = read(r->fd, r->buf, P_BUF);
      if (got < 0) {
        if (errno == EINTR) continue;
        r->error = 1;
        return 0;
      }
      if (got == 0) {
        r->eof = 1;
        return 0;
      }
      r->pos = 0;
      r->len = (size_t)got;
    }
    size_t k = r->len - r->pos < n ? r->len - r->pos : n;
    memcpy(dst, r->buf + r->pos, k);
    r->pos += k;
    dst += k;
    n -= k;
  }
  return 1;
}

/* The item just stored: its fields as the dump had them (the store is not shared yet). */
static void restore_fields(remc_store *s, const uint8_t *key, uint32_t klen, const uint8_t *r) {
  remc_item_ref ref;
  remc_item_info info;
  if (remc_store_meta_get(s, key, klen, 0, &ref, &info) != 1) return;
  item *it = (item *)ref.it;
  item_set_cas(s, it, get64(r + 24));
  it->time = get32(r + 12);
  it->iflags = (uint8_t)((it->iflags & ~P_IFLAGS) | (r[2] & P_IFLAGS));
  it->mflags = r[3];
  store_lru_restore(s, it, r[20]);
  remc_store_release(s, &ref);
}

int64_t remc_store_persist_load(remc_store *s, int fd, const remc_persist_state *expect,
                                const char **err) {
  const char *dummy;
  if (!err) err = &dummy;
  rd r = {fd, malloc(P_BUF), 0, 0, 0, 0};
  uint8_t *scratch = malloc((size_t)s->item_size_max + KEY_MAX + 8);
  int64_t loaded = -1;
  if (!r.buf || !scratch) {
    *err = "out of memory";
    goto out;
  }
  uint8_t h[P_HEADER];
  if (!rd_get(&r, h, P_HEADER) || memcmp(h, P_MAGIC, 8) != 0) {
    *err = r.error ? "cannot read the memory file" : "the memory file is not a remcached dump";
    goto out;
  }
  remc_persist_state st = *expect;
  st.started = (int64_t)get64(h + 24);
  st.now = get32(h + 32);
  st.oldest_live = get32(h + 36);
  st.oldest_cas = get64(h + 40);
  st.cas_counter = get64(h + 48);
  st.hashpower = get32(h + 60);
  uint8_t want[P_HEADER];
  header_bytes(want, &st, s->cas_sz, s->item_size_max);
  if (memcmp(h, want, P_HEADER) != 0) {
    *err = get64(h + 64) != remc_hash64(h, 64, get64(h + 16)) ? "the memory file's header is corrupt"
           : get64(h + 16) != expect->id ? "the memory file is not the one the metadata file names"
                                        : "the memory file was written with other settings";
    goto out;
  }
  if (st.started != expect->started || st.oldest_live != expect->oldest_live ||
      st.oldest_cas != expect->oldest_cas || st.cas_counter != expect->cas_counter) {
    *err = "the memory file disagrees with the metadata file";
    goto out;
  }
  /* memcached restores process_started: relative times (last access, exptime, flush cutoff)
   * keep their meaning, and the store clock counts the time the server was down */
  s->started = st.started;
  remc_store_set_time(s, (int64_t)time(NULL));
  s->oldest_live = st.oldest_live;
  s->oldest_cas = st.oldest_cas;
  const uint32_t now = NOW(s);
  uint64_t n = 0, acc = 0, kept = 0;
  uint8_t rec[P_REC]; /* P_TRAILER == P_REC: the record that starts with 'E' is the trailer */
  for (;;) {
    if (!rd_get(&r, rec, P_REC)) {
      *err = r.error ? "cannot read the memory file" : "the memory file is truncated";
      goto out;
    }
    if (rec[0] == 'E') break;
    uint32_t nkey = rec[1], flags = get32(rec + 4), nbytes = get32(rec + 8);
    uint32_t exptime = get32(rec + 16);
    if (rec[0] != 'I' || nkey < 1 || nkey > KEY_MAX || (rec[2] & ~P_IFLAGS) ||
        (rec[3] & ~P_MFLAGS) || rec[20] >= LRU_SEGS || (get32(rec + 20) >> 8) != 0 ||
        size_of(s, nkey, nbytes, flags) > s->item_size_max) {
      *err = "the memory file has a malformed record";
      goto out;
    }
    uint8_t sb[8];
    if (!rd_get(&r, scratch, nkey) || !rd_get(&r, scratch + KEY_MAX, nbytes) ||
        !rd_get(&r, sb, 8)) {
      *err = r.error ? "cannot read the memory file" : "the memory file is truncated";
      goto out;
    }
    uint64_t sum = remc_hash64(rec, P_REC, rec_seed(expect->id, n));
    sum = remc_hash64(scratch, nkey, sum);
    sum = remc_hash64(scratch + KEY_MAX, nbytes, sum);
    if (sum != get64(sb)) {
      *err = "a record of the memory file fails its checksum";
      goto out;
    }
    acc = chain(acc, sum);
    n++;
    if (exptime != 0 && exptime <= now) continue; /* its TTL ran out while the server was down */
    int64_t abs_exp = exptime ? s->started + (int64_t)exptime : 0;
    if (remc_store_store(s, REMC_MODE_SET, scratch, nkey, scratch + KEY_MAX, nbytes, flags,
                         abs_exp, 0, NULL) != REMC_STORE_STORED)
      continue; /* -M and full: as an allocation failure would have it */
    restore_fields(s, scratch, nkey, rec);
    kept++;
  }
  if (get64(rec + 24) != remc_hash64(rec, 24, expect->id) || get64(rec) != 'E' ||
      get64(rec + 8) != n || get64(rec + 16) != acc) {
    *err = "the memory file's trailer does not match its records";
    goto out;
  }
  uint8_t extra;
  if (rd_get(&r, &extra, 1) || r.error) {
    *err = "the memory file has bytes after its trailer";
    goto out;
  }
  s->cas_counter = st.cas_counter;
  /* what loading counted is not traffic: counters start from zero, total_items from the items
   * restored (memcached's restart counts each relinked item) */
  remc_store_stats_reset(s);
  s->total_items = s->curr_items;
  loaded = (int64_t)kept;
out:
  free(r.buf);
  free(scratch);
  return loaded;
}
