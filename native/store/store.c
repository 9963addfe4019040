/*
 * store.c — the item store: hash table, LRU, expiry, flush, CAS and the storage commands, with
 * memcached 1.6's semantics (see remc_store.h; observed behaviours of 1.6.18 are noted inline).
 *
 * LRU policy: memcached's segmented LRU, four lists per slab class (store_int.h, remc_store.h
 * remc_store_set_lru). A read does not relink an item (that would dirty two more cache lines per
 * get) unless it is the read that makes a COLD item active: that one moves it to WARM at once
 * (memcached queues it for its maintainer thread, which does the same within a millisecond).
 * So an item read twice survives a flood of new items, which pass through HOT and COLD only.
 */
#include <sys/random.h>
#include <time.h>

#include "store_int.h"

#define TAIL_TRIES 5      /* tail items examined per pull (memcached's lru_pull_tail) */
#define ALLOC_PULLS 10    /* LRU pulls an allocation tries before it fails (do_item_alloc_pull) */
/* Pull rounds per class and maintainer pass at most: memcached's maintainer does 500 a wake and
 * wakes up to 1000 times a second; this one runs once a second. A move costs 0.1-0.5 us (cache
 * misses: store_bench), so a pass takes a few ms per class at most. A lag only leaves HOT fuller:
 * allocations feed COLD themselves. */
#define JUGGLES 10000
#define EXPAND_STEP 64    /* old buckets migrated per write while the hash table grows */
#define ITEM_UPDATE_INTERVAL 60 /* memcached: a read relinks an item at most this often (s) */
#define CRAWL_SLICE 64    /* items one class's crawler checks before the next class's turn */

/* ------------------------------------------------------------------------------------------ */
/* time                                                                                        */

static uint32_t clamp_rel(int64_t v) {
  if (v < 2) return 2;
  if (v > (int64_t)UINT32_MAX - 1) return UINT32_MAX - 1;
  return (uint32_t)v;
}

/* Protocol exptime -> relative store time (memcached's realtime()). 1 = already expired. */
static uint32_t realtime(const remc_store *s, int64_t exptime) {
  if (exptime == 0) return 0;
  if (exptime < 0) return 1;
  if (exptime > REALTIME_MAXDELTA) {
    if (exptime <= s->started) return 1;
    int64_t r = exptime - s->started;
    return r > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)r;
  }
  int64_t r = exptime + (int64_t)NOW(s);
  return r > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

static inline int is_flushed(const remc_store *s, const item *it) {
  if (REMC_LIKELY(s->oldest_live == 0 || s->oldest_live > NOW(s))) return 0;
  if (it->time <= s->oldest_live) return 1;
  if (s->oldest_cas != 0) {
    uint64_t c = item_cas(s, it);
    if (c != 0 && c < s->oldest_cas) return 1;
  }
  return 0;
}

static inline int is_expired(const remc_store *s, const item *it) {
  return it->exptime != 0 && it->exptime <= NOW(s);
}

/* ------------------------------------------------------------------------------------------ */
/* hash table                                                                                  */

static inline size_t hsize(uint32_t power) { return (size_t)1 << power; }

/* ------------------------------------------------------------------------------------------ */
/* locks (store_int.h)                                                                         */

/* This thread's reader slot (store_int.h): threads take slots in turn as they first call. */
static __thread int32_t my_slot = -1;
static inline pthread_mutex_t *reader(remc_store *s) {
  if (REMC_UNLIKELY(my_slot < 0))
    my_slot = (int32_t)(__atomic_fetch_add(&s->next_slot, 1, __ATOMIC_RELAXED) % READER_SLOTS);
  return &s->readers[my_slot];
}
static inline void enter(remc_store *s) { pthread_mutex_lock(reader(s)); }
static inline void leave(remc_store *s) { pthread_mutex_unlock(reader(s)); }

static inline uint32_t stripe_of(uint32_t hv) { return hv & (ITEM_LOCKS - 1); }
/* A command: its reader slot, then its key's stripe. */
static inline void item_lock(remc_store *s, uint32_t hv) {
  enter(s);
  pthread_mutex_lock(&s->item_locks[stripe_of(hv)]);
}
static inline void item_unlock(remc_store *s, uint32_t hv) {
  pthread_mutex_unlock(&s->item_locks[stripe_of(hv)]);
  leave(s);
}
static inline void lru_lock(remc_store *s, uint32_t id) { pthread_mutex_lock(&s->cls[id].lru_lock); }
static inline void lru_unlock(remc_store *s, uint32_t id) {
  pthread_mutex_unlock(&s->cls[id].lru_lock);
}
static inline void slabs_lock(remc_store *s) { pthread_mutex_lock(&s->slabs_lock); }
static inline void slabs_unlock(remc_store *s) { pthread_mutex_unlock(&s->slabs_lock); }

/* Every reader slot, in order: no command and no crawler slice runs, the store holds still. */
static void lock_all(remc_store *s) {
  for (uint32_t i = 0; i < READER_SLOTS; i++) pthread_mutex_lock(&s->readers[i]);
}
static void unlock_all(remc_store *s) {
  for (uint32_t i = READER_SLOTS; i-- > 0;) pthread_mutex_unlock(&s->readers[i]);
}

static inline item **bucket_of(const remc_store *s, uint32_t hv) {
  if (REMC_UNLIKELY(s->expanding)) {
    uint64_t ob = hv & (hsize(s->hashpower - 1) - 1);
    if (ob >= __atomic_load_n(&s->expand_bucket, __ATOMIC_RELAXED)) return &s->old_buckets[ob];
  }
  return &s->buckets[hv & (hsize(s->hashpower) - 1)];
}

static inline item *hash_find(const remc_store *s, const uint8_t *key, uint32_t klen,
                              uint32_t hv) {
  for (item *it = *bucket_of(s, hv); it; it = it->h_next) {
    if (it->hv == hv && it->nkey == klen && memcmp(item_key(s, it), key, klen) == 0) return it;
  }
  return NULL;
}

static void hash_remove(remc_store *s, item *it) {
  item **pp = bucket_of(s, it->hv);
  while (*pp && *pp != it) pp = &(*pp)->h_next;
  if (*pp) *pp = it->h_next;
  it->h_next = NULL;
}

/* Move old bucket b's chain into the new table (its items keep their stripe). */
static void migrate_bucket(remc_store *s, uint64_t b) {
  size_t mask = hsize(s->hashpower) - 1;
  item *it = s->old_buckets[b];
  while (it) {
    item *nx = it->h_next;
    item **nb = &s->buckets[it->hv & mask];
    it->h_next = *nb;
    *nb = it;
    it = nx;
  }
  s->old_buckets[b] = NULL;
  __atomic_store_n(&s->expand_bucket, b + 1, __ATOMIC_RELAXED);
}

/* A writer's share of a migration: up to nbuckets old buckets, each under its own stripe (the
 * caller holds stripe `own`; others are only tried). The cursor can only pass bucket b under
 * b's stripe, so a lookup holding that stripe sees b in one table or the other, never between. */
static void expand_step_striped(remc_store *s, uint32_t own, uint32_t nbuckets) {
  size_t oldn = hsize(s->hashpower - 1);
  while (nbuckets--) {
    uint64_t b = __atomic_load_n(&s->expand_bucket, __ATOMIC_RELAXED);
    if (b >= oldn) {
      __atomic_store_n(&s->expand_wanted, 1, __ATOMIC_RELAXED); /* lock_all frees the old table */
      return;
    }
    uint32_t st = stripe_of((uint32_t)b);
    if (st != own && pthread_mutex_trylock(&s->item_locks[st]) != 0) return;
    if (__atomic_load_n(&s->expand_bucket, __ATOMIC_RELAXED) == b) migrate_bucket(s, b);
    if (st != own) pthread_mutex_unlock(&s->item_locks[st]);
  }
}

/* Under lock_all: migrate up to nbuckets, and free the old table once all have moved. */
static void expand_step(remc_store *s, uint32_t nbuckets) {
  if (!s->expanding) return;
  size_t oldn = hsize(s->hashpower - 1);
  while (nbuckets-- && s->expand_bucket < oldn) migrate_bucket(s, s->expand_bucket);
  if (s->expand_bucket >= oldn) {
    mem_unmap_region(s->old_buckets, oldn * sizeof(item *));
    s->old_buckets = NULL;
    s->expanding = 0;
  }
}

/* Called by a writer holding stripe `own`: migrate a little, or ask for the table to grow
 * (which needs every lock: expand_run, once the writer has let go of its stripe). */
static void maybe_expand(remc_store *s, uint32_t own) {
  if (s->expanding) {
    expand_step_striped(s, own, EXPAND_STEP);
    return;
  }
  if (__atomic_load_n(&s->curr_items, __ATOMIC_RELAXED) > hsize(s->hashpower) * 3 / 2 &&
      s->hashpower < 31)
    __atomic_store_n(&s->expand_wanted, 1, __ATOMIC_RELAXED);
}

/* Start growing the table, or free the old one after a migration; the caller holds no lock. */
static void expand_run(remc_store *s) {
  if (REMC_LIKELY(!__atomic_load_n(&s->expand_wanted, __ATOMIC_RELAXED))) return;
  lock_all(s);
  __atomic_store_n(&s->expand_wanted, 0, __ATOMIC_RELAXED);
  if (s->expanding) {
    expand_step(s, 0); /* frees the old table if every bucket has moved */
  } else if (s->curr_items > hsize(s->hashpower) * 3 / 2 && s->hashpower < 31) {
    item **nb = mem_map_region(s->pkey, hsize(s->hashpower + 1) * sizeof(item *), NULL);
    if (nb) { /* else keep serving with longer chains; retried on a later insert */
      s->old_buckets = s->buckets;
      s->buckets = nb;
      s->hashpower++;
      s->expand_bucket = 0;
      s->expanding = 1;
      expand_step(s, EXPAND_STEP);
    }
  }
  unlock_all(s);
}

/* ------------------------------------------------------------------------------------------ */
/* LRU                                                                                         */

/* List primitives: the list is the one it->lru names; no accounting (the crawler marker uses
 * them too). The caller holds the class's LRU lock. */
static inline void lru_link_head(sclass *c, item *it) {
  uint32_t q = it->lru;
  it->prev = NULL;
  it->next = c->head[q];
  if (c->head[q]) c->head[q]->prev = it;
  c->head[q] = it;
  if (!c->tail[q]) c->tail[q] = it;
}

static inline void lru_link_tail(sclass *c, item *it) {
  uint32_t q = it->lru;
  it->next = NULL;
  it->prev = c->tail[q];
  if (c->tail[q]) c->tail[q]->next = it;
  c->tail[q] = it;
  if (!c->head[q]) c->head[q] = it;
}

static inline void lru_unlink(sclass *c, item *it) {
  uint32_t q = it->lru;
  if (c->head[q] == it) c->head[q] = it->next;
  if (c->tail[q] == it) c->tail[q] = it->prev;
  if (it->next) it->next->prev = it->prev;
  if (it->prev) it->prev->next = it->next;
  it->next = it->prev = NULL;
}

/* Insert `it` just above (toward the head of) `below`, in below's list. */
static inline void lru_link_above(sclass *c, item *it, item *below) {
  it->lru = below->lru;
  it->next = below;
  it->prev = below->prev;
  if (below->prev)
    below->prev->next = it;
  else
    c->head[below->lru] = it;
  below->prev = it;
}

/* An item into / out of list it->lru with its count and bytes (size n: the caller's, as an
 * overwrite in place changes the item's size before relinking it). Under the LRU lock. */
static inline void lru_add(sclass *c, item *it, uint64_t n) {
  lru_link_head(c, it);
  c->nseg[it->lru]++;
  c->seg_bytes[it->lru] += n;
}
static inline void lru_del(sclass *c, item *it, uint64_t n) {
  lru_unlink(c, it);
  c->nseg[it->lru]--;
  c->seg_bytes[it->lru] -= n;
}
/* To the head of list q (the same list: a bump). */
static inline void lru_move(remc_store *s, sclass *c, item *it, uint32_t q) {
  uint64_t n = item_ntotal(s, it);
  lru_del(c, it, n);
  it->lru = (uint8_t)q;
  lru_add(c, it, n);
}

/* -e load (store_persist.c): put a restored item back at the head of the list it was saved in. */
void store_lru_restore(remc_store *s, item *it, uint32_t q) {
  if (q >= LRU_SEGS) return;
  sclass *c = &s->cls[it->cls];
  pthread_mutex_lock(&c->lru_lock);
  if (it->iflags & IT_LINKED) lru_move(s, c, it, q);
  pthread_mutex_unlock(&c->lru_lock);
}

/* The oldest item of list q, past the crawler marker (known by its address: an item's flags
 * are written under its stripe, which the LRU walkers do not hold here). */
static inline const item *lru_tail_item(const sclass *c, uint32_t q) {
  const item *t = c->tail[q];
  if (t == &c->crawler) t = t->prev;
  return t;
}

/* An item's last access is written under its stripe and read for the LRU ages under the LRU
 * lock alone (as memcached reads it): relaxed atomics, so that neither side tears and
 * ThreadSanitizer sees no race. */
static inline void time_set(item *it, uint32_t t) { __atomic_store_n(&it->time, t, __ATOMIC_RELAXED); }
static inline uint32_t time_of(const item *it) { return __atomic_load_n(&it->time, __ATOMIC_RELAXED); }

/* The list a new item goes to (memcached's do_item_alloc): TEMP when its TTL is short, else
 * HOT (COLD when flat). exptime is relative; 0 (never) and a time already past are not short. */
static inline uint8_t new_item_lru(const remc_store *s, uint32_t exptime) {
  if (s->tune.temp_ttl >= 0 && exptime != 0 && exptime >= NOW(s) &&
      (int64_t)(exptime - NOW(s)) <= s->tune.temp_ttl)
    return LRU_TEMP;
  return (s->lru_flags & REMC_LRU_FLAT) ? LRU_COLD : LRU_HOT;
}

/* ------------------------------------------------------------------------------------------ */
/* link / unlink                                                                               */

/* The caller holds the item's stripe. */
static void item_link(remc_store *s, item *it) {
  sclass *c = &s->cls[it->cls];
  uint64_t n = item_ntotal(s, it);
  it->iflags |= IT_LINKED;
  it->time = NOW(s);
  item_set_cas(s, it, s->cas_sz ? __atomic_add_fetch(&s->cas_counter, 1, __ATOMIC_RELAXED) : 0);
  item **b = bucket_of(s, it->hv);
  it->h_next = *b;
  *b = it;
  it->lru = new_item_lru(s, it->exptime);
  lru_lock(s, it->cls);
  lru_add(c, it, n);
  lru_unlock(s, it->cls);
  CNT_INC(c->nitems);
  CNT_ADD(c->requested, n);
  CNT_INC(s->curr_items);
  CNT_INC(s->total_items);
  CNT_ADD(s->bytes, n);
  maybe_expand(s, stripe_of(it->hv));
}

/* Remove from the hash table and LRU; the chunk stays allocated (caller reuses or frees). The
 * caller holds the item's stripe, and the class's LRU lock when lru_held. */
static void item_unlink_keep(remc_store *s, item *it, int lru_held) {
  sclass *c = &s->cls[it->cls];
  uint64_t n = item_ntotal(s, it);
  hash_remove(s, it);
  if (!lru_held) lru_lock(s, it->cls);
  lru_del(c, it, n);
  if (!lru_held) lru_unlock(s, it->cls);
  it->iflags &= (uint8_t)~IT_LINKED;
  CNT_SUB(c->nitems, 1);
  CNT_SUB(c->requested, n);
  CNT_SUB(s->curr_items, 1);
  CNT_SUB(s->bytes, n);
}

/* Give an item's memory back, a chunked item's pieces too. The caller holds the slabs lock. */
static void item_free(remc_store *s, item *it) {
  if (is_chunked(it)) {
    for (chunk *ch = first_piece(s, it), *next; ch; ch = next) {
      next = ch->next;
      mem_chunk_free(s, (item *)ch);
    }
    it->cls = it->hcls; /* the header goes back to the class of its own memory */
    it->hcls = 0;
  }
  mem_chunk_free(s, it);
}

/* Unlink and free the chunk unless a pin still holds it (then remc_store_release frees it). */
static void item_unlink_l(remc_store *s, item *it, int lru_held) {
  item_unlink_keep(s, it, lru_held);
  if (it->refcount == 0) {
    slabs_lock(s);
    item_free(s, it);
    slabs_unlock(s);
  }
}
static void item_unlink(remc_store *s, item *it) { item_unlink_l(s, it, 0); }

/* Why this thread's last lookup missed (remc_store_last_miss, for `watch`'s item_get status):
 * per thread, as each worker asks about its own command. */
static _Thread_local int last_miss;

/* Lookup with lazy expiry, as memcached's do_item_get: an expired or flushed item found here is
 * unlinked and counted (get_expired / get_flushed), whichever command looked. The caller holds
 * the key's stripe. */
static item *item_get(remc_store *s, const uint8_t *key, uint32_t klen, uint32_t hv) {
  item *it = hash_find(s, key, klen, hv);
  last_miss = REMC_MISS_NOT_FOUND;
  if (!it) return NULL;
  if (REMC_UNLIKELY(is_flushed(s, it))) {
    CNT_INC(s->get_flushed);
    last_miss = REMC_MISS_FLUSHED;
    item_unlink(s, it);
    return NULL;
  }
  if (REMC_UNLIKELY(is_expired(s, it))) {
    CNT_INC(s->get_expired);
    last_miss = REMC_MISS_EXPIRED;
    item_unlink(s, it);
    return NULL;
  }
  return it;
}

/* A write or an `add` that found the item (memcached's do_item_update). Segmented: its time
 * moves on, and an active item in COLD goes to WARM. Flat: relinked at the head, at most once a
 * minute. The caller holds its stripe. */
static void item_update(remc_store *s, item *it) {
  sclass *c = &s->cls[it->cls];
  if (!(s->lru_flags & REMC_LRU_FLAT)) {
    time_set(it, NOW(s));
    if (it->lru == LRU_COLD && (it->iflags & IT_ACTIVE)) {
      lru_lock(s, it->cls);
      lru_move(s, c, it, LRU_WARM);
      lru_unlock(s, it->cls);
      it->iflags &= (uint8_t)~IT_ACTIVE;
      CNT_INC(c->moves_to_warm);
    }
  } else if (it->time + ITEM_UPDATE_INTERVAL < NOW(s)) {
    time_set(it, NOW(s));
    lru_lock(s, it->cls);
    lru_move(s, c, it, it->lru);
    lru_unlock(s, it->cls);
  }
}

/* A read (memcached's do_item_bump). Segmented: the first read marks the item fetched, the
 * second active; becoming active moves it to WARM when in COLD, else only its time; reads of an
 * active item change nothing. Flat: fetched, and do_item_update. The caller holds its stripe. */
static inline void item_bump_read(remc_store *s, item *it) {
  if (REMC_UNLIKELY(s->lru_flags & REMC_LRU_FLAT)) {
    it->iflags |= IT_FETCHED;
    item_update(s, it);
    return;
  }
  if (it->iflags & IT_ACTIVE) return;
  if (!(it->iflags & IT_FETCHED)) {
    it->iflags |= IT_FETCHED;
    return;
  }
  it->iflags |= IT_ACTIVE;
  item_update(s, it);
}

/* ------------------------------------------------------------------------------------------ */
/* allocation with eviction                                                                    */

/* Called with the item's stripe and its class's LRU lock held; the ring has its own lock, as
 * pullers of different classes record into it at once. */
static void log_eviction(remc_store *s, item *it) {
  pthread_mutex_lock(&s->evict_lock);
  remc_evict_rec *r = &s->evict_log[(s->evict_head + s->evict_count) % REMC_EVICT_LOG];
  if (s->evict_count < REMC_EVICT_LOG) s->evict_count++;
  else s->evict_head = (s->evict_head + 1) % REMC_EVICT_LOG;
  r->exptime = it->exptime ? s->started + (int64_t)it->exptime : 0;
  r->last_access = s->started + (int64_t)it->time;
  r->nbytes = it->nbytes;
  r->klen = it->nkey;
  r->fetched = (it->iflags & IT_FETCHED) ? 1 : 0;
  r->cls = it->cls;
  memcpy(r->key, item_key(s, it), it->nkey);
  pthread_mutex_unlock(&s->evict_lock);
}

#define PULL_EVICT 1 /* COLD: evict the tail item (an allocation that found no free chunk) */
#define PULL_FEED 2  /* HOT/WARM: walk past active items (rescuing up to TAIL_RESCUES of them)
                      * until one moves to COLD; returns only what moved to COLD or was freed */
#define TAIL_RESCUES 256

/* memcached's lru_pull_tail on list q of class id: look at up to TAIL_TRIES items from the tail
 * (a busy or pinned one is passed over), freeing expired or flushed ones on the way, and act on
 * the first live one: HOT/WARM: an active item is rescued (HOT: to WARM; WARM: to its head, and
 * the walk goes on); an inactive one moves to COLD when the list is over its share of
 * total_bytes or older than max_age, else nothing. COLD: with PULL_EVICT it is evicted (when
 * evictions are on), else an active one moves to WARM. TEMP: only expired items go. `own`: the
 * stripe the caller holds (NO_STRIPE: none). `ret`: where an allocation takes the chunk freed
 * (evicted, or the first expired one), instead of the free list. Returns how many items it
 * freed or moved (PULL_FEED: freed or moved to COLD). */
#define NO_STRIPE UINT32_MAX
static int lru_pull(remc_store *s, uint32_t id, uint32_t q, int flags, uint64_t total_bytes,
                    uint32_t max_age, uint32_t own, item **ret) {
  sclass *c = &s->cls[id];
  int removed = 0, tries = TAIL_TRIES, stop = 0, rescues = TAIL_RESCUES;
  const int feed = flags & PULL_FEED;
  lru_lock(s, id);
  item *it = c->tail[q];
  for (; it && tries > 0 && !stop; tries--) {
    item *up = it->prev;
    if (it == &c->crawler) {
      it = up;
      tries++;
      continue;
    }
    /* the item's stripe: held already (own), or tried; a busy one is skipped as memcached does */
    uint32_t st = stripe_of(it->hv);
    if (st != own && pthread_mutex_trylock(&s->item_locks[st]) != 0) {
      it = up;
      continue;
    }
    if (it->refcount) { /* pinned: never freed or moved here */
      CNT_INC(c->lrutail_reflocked);
    } else if (is_flushed(s, it) || is_expired(s, it)) {
      CNT_INC(c->reclaimed);
      if (!(it->iflags & IT_FETCHED)) CNT_INC(c->expired_unfetched); /* flushed too (memcached) */
      removed++;
      if (ret && !*ret && !is_chunked(it)) {
        item_unlink_keep(s, it, 1);
        *ret = it;
        stop = 1; /* an allocation needs one chunk */
      } else { /* (a chunked item's memory is in other classes: freed, the caller allocates again) */
        item_unlink_l(s, it, 1);
      }
    } else if (q == LRU_HOT || q == LRU_WARM) {
      /* memcached's uint64 arithmetic, a negative share included */
      uint64_t limit = total_bytes * (uint64_t)(int64_t)(q == LRU_HOT ? s->tune.hot_pct : s->tune.warm_pct) / 100;
      if ((it->iflags & IT_ACTIVE) && !(feed && rescues == 0)) {
        it->iflags &= (uint8_t)~IT_ACTIVE;
        lru_move(s, c, it, LRU_WARM);
        if (q == LRU_WARM) {
          CNT_INC(c->moves_within_lru);
        } else {
          CNT_INC(c->moves_to_warm);
          stop = !feed;
        }
        if (feed) { /* not counted as a try: each rescue was paid for by reads */
          rescues--;
          tries++;
        } else {
          removed++;
        }
      } else {
        if (feed || c->seg_bytes[q] > limit || NOW(s) - it->time > max_age) {
          it->iflags &= (uint8_t)~IT_ACTIVE; /* an active one when the rescues ran out */
          lru_move(s, c, it, LRU_COLD);
          CNT_INC(c->moves_to_cold);
          removed++;
        }
        stop = 1;
      }
    } else if (q == LRU_COLD) {
      stop = 1;
      if (flags & PULL_EVICT) {
        if (s->evictions) {
          CNT_INC(c->evicted);
          if (it->exptime != 0) CNT_INC(c->evicted_nonzero);
          if (!(it->iflags & IT_FETCHED)) CNT_INC(c->evicted_unfetched);
          if (it->iflags & IT_ACTIVE) CNT_INC(c->evicted_active);
          c->evicted_time = NOW(s) - it->time;
          if (REMC_UNLIKELY(__atomic_load_n(&s->log_evictions, __ATOMIC_RELAXED))) log_eviction(s, it);
          removed++;
          if (ret && !*ret && !is_chunked(it)) {
            item_unlink_keep(s, it, 1);
            *ret = it;
          } else {
            item_unlink_l(s, it, 1);
          }
        }
      } else if ((it->iflags & IT_ACTIVE) && !(s->lru_flags & REMC_LRU_FLAT)) {
        it->iflags &= (uint8_t)~IT_ACTIVE;
        lru_move(s, c, it, LRU_WARM);
        CNT_INC(c->moves_to_warm);
        removed++;
      }
    } else {
      stop = 1; /* TEMP: only reclaims */
    }
    if (st != own) pthread_mutex_unlock(&s->item_locks[st]);
    it = up;
  }
  lru_unlock(s, id);
  return removed;
}

/* Free the expired or flushed items at class `id`'s LRU tail, up to `tries` examined, stopping
 * at the first live one (memcached's lru_pull_tail without LRU_PULL_EVICT). `own`: the stripe
 * the caller holds (NO_STRIPE: none); a busy or pinned item is passed over. */
static uint32_t lru_reclaim_tail(remc_store *s, uint32_t id, uint32_t own, uint32_t tries) {
  sclass *c = &s->cls[id];
  uint32_t freed = 0;
  lru_lock(s, id);
  item *it = c->tail[LRU_COLD];
  while (it && tries) {
    item *up = it->prev;
    if (it == &c->crawler) {
      it = up;
      continue;
    }
    tries--;
    uint32_t st = stripe_of(it->hv);
    if (st != own && pthread_mutex_trylock(&s->item_locks[st]) != 0) {
      it = up;
      continue;
    }
    int live = 0;
    if (it->refcount) {
      CNT_INC(c->lrutail_reflocked);
    } else {
      int flushed = is_flushed(s, it);
      if (flushed || is_expired(s, it)) {
        CNT_INC(c->reclaimed);
        if (!(it->iflags & IT_FETCHED)) CNT_INC(c->expired_unfetched); /* flushed too (memcached) */
        item_unlink_l(s, it, 1);
        freed++;
      } else {
        live = 1;
      }
    }
    if (st != own) pthread_mutex_unlock(&s->item_locks[st]);
    if (live) break;
    it = up;
  }
  lru_unlock(s, id);
  return freed;
}

/* memcached's do_item_alloc_pull. The caller holds stripe `own`. No free chunk: evict from
 * COLD's tail (the chunk is used at once, not put on the free list); when COLD has nothing to
 * give, move HOT's tail down (or WARM's), ALLOC_PULLS times at most. Each round counts in
 * direct_reclaims. */
static item *item_alloc(remc_store *s, uint32_t id, uint32_t own) {
  sclass *c = &s->cls[id];
  item *it = NULL;
  uint32_t pulls = 0;
  for (uint32_t i = 0; i < ALLOC_PULLS && !it; i++) {
    slabs_lock(s);
    it = mem_chunk_alloc(s, id);
    slabs_unlock(s);
    if (it) break;
    pulls++;
    if (lru_pull(s, id, LRU_COLD, PULL_EVICT, 0, 0, own, &it) > 0) continue;
    /* COLD had nothing to give: feed it from HOT, else WARM. (memcached's maintainer thread
     * keeps COLD fed within a millisecond and its allocations only move HOT's tail; this
     * maintainer runs once a second, so an allocation does what it would have done.) */
    if (lru_pull(s, id, LRU_HOT, PULL_FEED, 0, 0, own, NULL) > 0) continue;
    if (lru_pull(s, id, LRU_WARM, PULL_FEED, 0, 0, own, NULL) > 0) continue;
    break; /* nothing left to evict (everything pinned, busy or TEMP) */
  }
  if (pulls) CNT_ADD(c->direct_reclaims, pulls);
  if (REMC_UNLIKELY(!it)) {
    CNT_INC(c->outofmemory);
    return NULL;
  }
  it->cls = (uint8_t)id;
  it->refcount = 0;
  it->iflags = 0;
  it->hcls = 0;
  return it;
}

/* An item for a key of klen bytes and flags, ntotal bytes in all, in class id: one chunk, or
 * above slab_chunk_max a header and pieces (memcached's do_item_alloc). The value is written in
 * segments of segs[0..nsegs) bytes (the CRLF included); the pieces are sized as memcached sizes
 * them while it writes: each is allocated once the last is full, for what is left of the
 * segment, min(that + its header, slab_chunk_max) bytes from the class that fits, or
 * slab_chunk_max's when that class has no memory (do_item_alloc_chunk). A set reads its value
 * in one segment; append and prepend copy two (`copying`), and memcached's copy allocates
 * the next piece as soon as one is full, so a segment that ends at a piece's end leaves an
 * empty piece behind (_store_item_copy_chunks). NULL: out of memory. The caller holds stripe
 * `own`, and writes the key (item_init) and the value (value_write). */
static item *item_alloc_for(remc_store *s, uint32_t id, uint64_t ntotal, uint32_t klen,
                            uint32_t flags, const uint64_t *segs, int nsegs, int copying,
                            uint32_t own) {
  if (REMC_LIKELY(ntotal <= s->chunk_max)) return item_alloc(s, id, own);
  uint32_t hid = mem_class_for(s, header_size(s, klen, flags));
  item *it = item_alloc(s, hid, own);
  if (!it) return NULL;
  it->nkey = (uint8_t)klen; /* where the first piece's address goes */
  it->iflags = flags ? IT_HASFLAGS : 0;
  it->cls = (uint8_t)s->chunk_cls;
  it->hcls = (uint8_t)hid;
  set_first_piece(s, it, NULL);
  chunk *last = NULL;
  uint64_t room = 0;
  for (int g = 0; g < nsegs; g++) {
    for (uint64_t left = segs[g]; left > 0;) {
      uint64_t n = room < left ? room : left;
      room -= n;
      left -= n;
      if (room > 0 || (left == 0 && !copying)) continue;
      uint64_t want = left + sizeof(chunk);
      if (want > s->chunk_max) want = s->chunk_max;
      chunk *ch = (chunk *)item_alloc(s, mem_class_for(s, want), own);
      if (!ch && want < s->chunk_max) {
        want = s->chunk_max;
        ch = (chunk *)item_alloc(s, s->chunk_cls, own);
      }
      if (!ch) {
        slabs_lock(s);
        item_free(s, it);
        slabs_unlock(s);
        return NULL;
      }
      ch->iflags = IT_CHUNK;
      ch->head = it;
      ch->size = (uint32_t)(want - sizeof(chunk));
      ch->next = NULL;
      ch->prev = last;
      if (last)
        last->next = ch;
      else
        set_first_piece(s, it, ch);
      last = ch;
      room = ch->size;
    }
  }
  return it;
}

/* Write len bytes at offset off of an item's value (the CRLF after it included). */
static void value_write(const remc_store *s, item *it, uint64_t off, const uint8_t *src,
                        uint64_t len) {
  if (REMC_LIKELY(!is_chunked(it))) {
    memcpy(item_data(s, it) + off, src, len);
    return;
  }
  for (chunk *ch = first_piece(s, it); ch && len; ch = ch->next) {
    if (off >= ch->size) {
      off -= ch->size;
      continue;
    }
    uint64_t n = ch->size - off < len ? ch->size - off : len;
    memcpy(piece_data(ch) + off, src, n);
    src += n;
    len -= n;
    off = 0;
  }
}

void store_value_read(const remc_store *s, const item *it, uint8_t *dst) {
  if (REMC_LIKELY(!is_chunked(it))) {
    memcpy(dst, item_data(s, it), it->nbytes);
    return;
  }
  uint64_t len = it->nbytes;
  for (chunk *ch = first_piece(s, it); ch && len; ch = ch->next) {
    uint64_t n = ch->size < len ? ch->size : len;
    memcpy(dst, piece_data(ch), n);
    dst += n;
    len -= n;
  }
}

/* Copy src's value into the value of `it`, at offset off. */
static void value_copy(const remc_store *s, item *it, uint64_t off, const item *src) {
  if (!is_chunked(src)) {
    value_write(s, it, off, item_data(s, src), src->nbytes);
    return;
  }
  uint64_t len = src->nbytes;
  for (chunk *ch = first_piece(s, src); ch && len; ch = ch->next) {
    uint64_t n = ch->size < len ? ch->size : len;
    value_write(s, it, off, piece_data(ch), n);
    off += n;
    len -= n;
  }
}

/* Write header fields and key of a fresh item, and the CRLF after its value. */
static void item_init(remc_store *s, item *it, const uint8_t *key, uint32_t klen, uint32_t hv,
                      uint32_t flags, uint32_t exptime, uint32_t nbytes) {
  it->next = it->prev = it->h_next = NULL;
  it->hv = hv;
  it->nkey = (uint8_t)klen;
  it->exptime = exptime;
  it->nbytes = nbytes;
  it->iflags = flags ? IT_HASFLAGS : 0;
  it->mflags = 0;
  uint8_t *k = item_key(s, it);
  memcpy(k, key, klen);
  k[klen] = 0;
  if (flags) memcpy(k + klen + 1, &flags, 4);
  value_write(s, it, nbytes, (const uint8_t *)"\r\n", 2);
}

/* ------------------------------------------------------------------------------------------ */
/* lifecycle                                                                                   */

remc_store *remc_store_create(const remc_store_config *cfg, const char **err) {
  const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!cfg) {
    *err = "no config";
    return NULL;
  }
  size_t self = (sizeof(remc_store) + 4095) & ~(size_t)4095;
  remc_store *s = mem_map_region(cfg->pkey, self, err);
  if (!s) return NULL;
  s->self_size = self;
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  /* short critical sections: spin a little before sleeping */
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
  for (uint32_t i = 0; i < ITEM_LOCKS; i++) pthread_mutex_init(&s->item_locks[i], &ma);
  for (uint32_t i = 0; i < READER_SLOTS; i++) pthread_mutex_init(&s->readers[i], &ma);
  for (uint32_t i = 0; i <= MAX_CLASSES; i++) pthread_mutex_init(&s->cls[i].lru_lock, &ma);
  pthread_mutex_init(&s->slabs_lock, &ma);
  pthread_mutex_init(&s->bg_lock, NULL);
  pthread_mutex_init(&s->evict_lock, &ma);
  pthread_mutexattr_destroy(&ma);
  s->pkey = cfg->pkey;
  s->evictions = cfg->evictions;
  s->cas_sz = cfg->cas_enabled ? 8 : 0;
  s->item_size_max = cfg->item_size_max;
  if (getrandom(&s->seed, sizeof s->seed, GRND_NONBLOCK) != sizeof s->seed)
    s->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s ^ H_K2;
  /* memcached starts its clock a little in the past so that relative times are never 0. */
  s->started = (int64_t)time(NULL) - 2;
  s->now = 2;
  uint32_t hp = cfg->hashpower ? cfg->hashpower : 16;
  if (hp < 10) hp = 10; /* at least ITEM_LOCKS buckets: one stripe per bucket */
  if (hp > 30) hp = 30;
  s->hashpower = hp;
  if (mem_init(s, cfg, err) != 0) {
    remc_store_destroy(s);
    return NULL;
  }
  s->buckets = mem_map_region(s->pkey, hsize(hp) * sizeof(item *), err);
  if (!s->buckets) {
    remc_store_destroy(s);
    return NULL;
  }
  s->crawl_cls = 1;
  s->automove = 1; /* memcached 1.6's defaults (slab_automove=1, ratio 0.8, window 30) */
  s->am_ratio = 0.8;
  s->am_window = 30;
  s->lru_flags = REMC_LRU_MAINTAINER;
  s->tune = (remc_lru_tune){.hot_pct = 20, .warm_pct = 40, .hot_max_factor = 0.2,
                            .warm_max_factor = 2.0, .temp_ttl = -1}; /* memcached's defaults */
  for (uint32_t i = 1; i <= s->nclasses; i++) s->cls[i].crawler.iflags = IT_CRAWLER;
  return s;
}

void remc_store_destroy(remc_store *s) {
  if (!s) return;
  mem_destroy(s);
  for (uint32_t i = 0; i < ITEM_LOCKS; i++) pthread_mutex_destroy(&s->item_locks[i]);
  for (uint32_t i = 0; i < READER_SLOTS; i++) pthread_mutex_destroy(&s->readers[i]);
  for (uint32_t i = 0; i <= MAX_CLASSES; i++) pthread_mutex_destroy(&s->cls[i].lru_lock);
  pthread_mutex_destroy(&s->slabs_lock);
  pthread_mutex_destroy(&s->bg_lock);
  pthread_mutex_destroy(&s->evict_lock);
  if (s->buckets) mem_unmap_region(s->buckets, hsize(s->hashpower) * sizeof(item *));
  if (s->old_buckets) mem_unmap_region(s->old_buckets, hsize(s->hashpower - 1) * sizeof(item *));
  mem_unmap_region(s, s->self_size);
}

void remc_store_set_time(remc_store *s, int64_t unix_now) {
  __atomic_store_n(&s->now, clamp_rel(unix_now - s->started), __ATOMIC_RELAXED);
}

int64_t remc_store_time(const remc_store *s) { return s->started + (int64_t)NOW(s); }

uint64_t remc_store_item_size(const remc_store *s, uint32_t klen, uint64_t vlen, uint32_t flags) {
  return size_of(s, klen, vlen, flags);
}

uint32_t remc_store_class_for(const remc_store *s, uint32_t klen, uint64_t vlen, uint32_t flags) {
  uint64_t n = size_of(s, klen, vlen, flags);
  return n > s->item_size_max ? 0 : mem_class_for(s, n);
}

int remc_store_last_miss(const remc_store *s) { (void)s; return last_miss; }

void remc_store_log_evictions(remc_store *s, int on) {
  pthread_mutex_lock(&s->evict_lock);
  __atomic_store_n(&s->log_evictions, on, __ATOMIC_RELAXED);
  s->evict_head = s->evict_count = 0;
  pthread_mutex_unlock(&s->evict_lock);
}

uint32_t remc_store_take_evictions(remc_store *s, remc_evict_rec *out, uint32_t max) {
  pthread_mutex_lock(&s->evict_lock);
  uint32_t n = 0;
  while (n < max && s->evict_count > 0) {
    out[n++] = s->evict_log[s->evict_head];
    s->evict_head = (s->evict_head + 1) % REMC_EVICT_LOG;
    s->evict_count--;
  }
  pthread_mutex_unlock(&s->evict_lock);
  return n;
}

static inline int key_ok(uint32_t klen) { return klen >= 1 && klen <= KEY_MAX; }

/* ------------------------------------------------------------------------------------------ */
/* retrieval                                                                                   */

int remc_store_get(remc_store *s, const uint8_t *key, uint32_t klen, int bump,
                   const int64_t *touch_exptime, remc_item_ref *ref, remc_item_info *info) {
  ref->it = NULL;
  item *it = NULL;
  uint32_t hv = 0;
  if (REMC_LIKELY(key_ok(klen))) hv = (uint32_t)remc_hash64(key, klen, s->seed);
  item_lock(s, hv);
  if (REMC_LIKELY(key_ok(klen))) it = item_get(s, key, klen, hv);
  /* A pin count at its cap reports a miss, like memcached's refcount guard (CVE-2018-1000127). */
  if (!it || REMC_UNLIKELY(it->refcount >= REFCOUNT_MAX)) {
    if (touch_exptime)
      CNT_INC(s->touch_misses); /* gat/gats count as touches, not gets (memcached) */
    else
      CNT_INC(s->get_misses);
    item_unlock(s, hv);
    return 0;
  }
  sclass *c = &s->cls[it->cls];
  if (info) {
    info->flags = item_flags(s, it);
    info->nbytes = it->nbytes;
    info->cas = item_cas(s, it);
    info->last_access = s->started + (int64_t)it->time;
    info->fetched = (it->iflags & IT_FETCHED) ? 1 : 0;
    info->slab_class = it->cls;
    info->meta = it->mflags;
  }
  if (touch_exptime) {
    it->exptime = realtime(s, *touch_exptime);
    CNT_INC(c->touch_hits);
  } else {
    CNT_INC(c->get_hits);
    CNT_INC(c->lru_hits[it->lru]); /* before the bump moves it, as memcached counts */
  }
  if (info) info->exptime = it->exptime ? s->started + (int64_t)it->exptime : 0;
  if (bump) item_bump_read(s, it);
  it->refcount++;
  ref->it = it;
  ref->data = is_chunked(it) ? NULL : item_data(s, it);
  ref->nbytes = it->nbytes;
  item_unlock(s, hv);
  return 1;
}

/* No lock: a pinned item's value and length do not change (writers replace pinned items, the
 * page mover skips pages holding them), and the pin was taken under the stripe. */
void remc_store_copy_value(remc_store *s, const remc_item_ref *ref, uint8_t *dst) {
  if (ref->data)
    memcpy(dst, ref->data, ref->nbytes);
  else if (ref->it)
    store_value_read(s, (const item *)ref->it, dst);
}

void remc_store_release(remc_store *s, remc_item_ref *ref) {
  item *it = (item *)ref->it;
  ref->it = NULL;
  if (!it) return;
  uint32_t hv = it->hv; /* fixed while pinned */
  item_lock(s, hv);
  if (it->refcount > 0) {
    it->refcount--;
    if (it->refcount == 0 && !(it->iflags & IT_LINKED)) {
      slabs_lock(s);
      item_free(s, it);
      slabs_unlock(s);
    }
  }
  item_unlock(s, hv);
}

/* ------------------------------------------------------------------------------------------ */
/* storage                                                                                     */

int remc_store_store(remc_store *s, int mode, const uint8_t *key, uint32_t klen,
                     const uint8_t *value, uint32_t vlen, uint32_t flags, int64_t exptime,
                     uint64_t cas, uint64_t *new_cas) {
  int rc;
  if (REMC_UNLIKELY(!key_ok(klen) || mode < REMC_MODE_SET || mode > REMC_MODE_ADD_VIVIFY))
    return REMC_STORE_NOT_STORED;
  uint32_t hv = (uint32_t)remc_hash64(key, klen, s->seed);
  const uint32_t own = stripe_of(hv);
  item_lock(s, hv);
  uint64_t ntotal = size_of(s, klen, vlen, flags);
  if (REMC_UNLIKELY(ntotal > s->item_size_max)) {
    /* memcached fails the allocation of the incoming item; only a set also drops the old
     * value so that stale data does not survive a failed overwrite (observed 1.6.18). */
    CNT_INC(s->store_too_large);
    if (mode == REMC_MODE_SET) {
      item *old = item_get(s, key, klen, hv);
      if (old) item_unlink(s, old);
    }
    rc = REMC_STORE_TOO_LARGE;
    goto out;
  }
  uint32_t id = mem_class_for(s, ntotal);
  const uint32_t piece_id = id; /* memcached counts cmd_set in the incoming item's class */
  /* flat LRU: memcached's allocation frees expired tail items first, and allocates before it
   * looks the key up, so an expired or flushed old value at the tail is `reclaimed` here */
  if (REMC_UNLIKELY(s->lru_flags & REMC_LRU_FLAT)) lru_reclaim_tail(s, id, own, TAIL_TRIES);
  item *old = item_get(s, key, klen, hv);
  uint64_t old_cas = old ? item_cas(s, old) : 0;
  uint8_t mflags = 0; /* a stored item starts with no meta state (memcached: a new item) */
  int stale = 0;
  if (mode == REMC_MODE_CAS_STALE) {
    /* meta ms with I and C: a CAS lower than the item's is accepted and stores a stale value
     * that keeps the old TTL and win token (memcached's CAS_STALE) */
    stale = old && cas != 0 && s->cas_sz && cas < old_cas;
    mode = REMC_MODE_CAS;
  }

  if (mode == REMC_MODE_ADD_VIVIFY) {
    mode = REMC_MODE_ADD;
    mflags = REMC_META_TOKEN_SENT;
  }
  switch (mode) {
  case REMC_MODE_ADD:
    if (old) { /* add on an existing item updates it in the LRU and fails (memcached) */
      item_update(s, old);
      CNT_INC(s->cls[piece_id].cmd_set);
      rc = REMC_STORE_NOT_STORED;
      goto out;
    }
    break;
  case REMC_MODE_REPLACE:
  case REMC_MODE_APPEND:
  case REMC_MODE_PREPEND:
    if (!old) {
      CNT_INC(s->cls[piece_id].cmd_set);
      rc = REMC_STORE_NOT_STORED;
      goto out;
    }
    /* binary append/prepend may carry a CAS to compare */
    if (mode != REMC_MODE_REPLACE && cas != 0 && cas != old_cas) {
      CNT_INC(s->cls[piece_id].cmd_set);
      rc = REMC_STORE_EXISTS;
      goto out;
    }
    break;
  case REMC_MODE_CAS:
    CNT_INC(s->cls[piece_id].cmd_set);
    if (!old) {
      CNT_INC(s->cas_misses);
      rc = REMC_STORE_NOT_FOUND;
      goto out;
    }
    /* A zero compare value never matches, and with -C nothing does (memcached's CAS_NONE;
     * observed on 1.6.18: `cas k 0 0 1 0` -> EXISTS, with and without -C). */
    if (!stale && (cas == 0 || !s->cas_sz || old_cas != cas)) {
      CNT_INC(s->cls[old->cls].cas_badval);
      rc = REMC_STORE_EXISTS;
      goto out;
    }
    CNT_INC(s->cls[old->cls].cas_hits);
    break;
  default:
    break;
  }
  if (mode != REMC_MODE_CAS) CNT_INC(s->cls[piece_id].cmd_set);

  uint32_t ex;
  uint64_t nbytes = vlen;
  int concat = mode == REMC_MODE_APPEND || mode == REMC_MODE_PREPEND;
  if (concat) {
    /* append/prepend keep the old item's flags and exptime; the combined item must fit under
     * -I, else NOT_STORED and the old item stays (observed 1.6.18). */
    flags = item_flags(s, old);
    ex = old->exptime;
    nbytes = (uint64_t)old->nbytes + vlen;
    ntotal = size_of(s, klen, nbytes, flags);
    if (ntotal > s->item_size_max) {
      rc = REMC_STORE_NOT_STORED;
      goto out;
    }
    id = mem_class_for(s, ntotal);
  } else {
    ex = realtime(s, exptime);
    if (stale) {
      ex = old->exptime;
      mflags = (uint8_t)(REMC_META_STALE | (old->mflags & REMC_META_TOKEN_SENT));
    }
  }

  item *it;
  if (old && !concat && old->cls == id && old->refcount == 0 && !is_chunked(old) &&
      ntotal <= s->chunk_max) {
    /* Overwrite in the same class with nobody reading the old value: rewrite the chunk where
     * it is and relink it where a new item goes. Same key, so the hash chain stays valid. Also
     * never fails for want of memory. (Nobody else looks at it meanwhile: whoever walks an LRU
     * skips the items whose stripe is busy.) */
    sclass *c = &s->cls[id];
    uint64_t oldn = item_ntotal(s, old);
    it = old;
    it->exptime = ex;
    it->nbytes = (uint32_t)nbytes;
    it->iflags = IT_LINKED | (flags ? IT_HASFLAGS : 0); /* a new item: neither fetched nor active */
    it->mflags = mflags;
    if (flags) memcpy(item_key(s, it) + klen + 1, &flags, 4);
    uint8_t *d = item_data(s, it);
    memcpy(d, value, vlen);
    d[vlen] = '\r';
    d[vlen + 1] = '\n';
    time_set(it, NOW(s));
    item_set_cas(s, it, s->cas_sz ? __atomic_add_fetch(&s->cas_counter, 1, __ATOMIC_RELAXED) : 0);
    uint64_t newn = item_ntotal(s, it);
    lru_lock(s, id);
    lru_del(c, it, oldn);
    it->lru = new_item_lru(s, ex);
    lru_add(c, it, newn);
    lru_unlock(s, id);
    CNT_ADD(c->requested, newn - oldn); /* modular arithmetic: fine when the item shrinks */
    CNT_ADD(s->bytes, newn - oldn);
    CNT_INC(s->total_items);
    if (new_cas) *new_cas = item_cas(s, it);
    rc = REMC_STORE_STORED;
    goto out;
  }
  /* Keep the old item from being evicted while we allocate, except for a set of a chunked
   * item: memcached allocates before it looks the key up, so the old value may make room for
   * the new one (the only way when it is all a full class holds), as here. */
  const int pin_old = old && !(mode == REMC_MODE_SET && ntotal > s->chunk_max);
  if (pin_old) old->refcount++;
  uint64_t segs[2] = {vlen + 2, 0};
  if (mode == REMC_MODE_APPEND) segs[0] = old->nbytes, segs[1] = vlen + 2;
  if (mode == REMC_MODE_PREPEND) segs[0] = vlen, segs[1] = (uint64_t)old->nbytes + 2;
  it = item_alloc_for(s, id, ntotal, klen, flags, segs, concat ? 2 : 1, concat, own);
  if (pin_old) old->refcount--;
  else if (old) old = hash_find(s, key, klen, hv); /* still there unless evicted just now */
  if (!it) {
    CNT_INC(s->store_no_memory);
    CNT_SUB(s->cls[piece_id].cmd_set, 1); /* memcached counts set_cmds only for allocated items */
    if (mode == REMC_MODE_SET && old) item_unlink(s, old);
    rc = REMC_STORE_NO_MEMORY;
    goto out;
  }
  item_init(s, it, key, klen, hv, flags, ex, (uint32_t)nbytes);
  if (mode == REMC_MODE_APPEND) {
    value_copy(s, it, 0, old);
    value_write(s, it, old->nbytes, value, vlen);
  } else if (mode == REMC_MODE_PREPEND) {
    value_write(s, it, 0, value, vlen);
    value_copy(s, it, vlen, old);
  } else {
    value_write(s, it, 0, value, vlen);
  }
  it->mflags = mflags;
  if (old) item_unlink(s, old);
  item_link(s, it);
  if (new_cas) *new_cas = item_cas(s, it);
  rc = REMC_STORE_STORED;
out:
  item_unlock(s, hv);
  expand_run(s);
  return rc;
}

int remc_store_delete(remc_store *s, const uint8_t *key, uint32_t klen, uint64_t cas) {
  int rc;
  item *it = NULL;
  uint32_t hv = key_ok(klen) ? (uint32_t)remc_hash64(key, klen, s->seed) : 0;
  item_lock(s, hv);
  if (key_ok(klen)) it = item_get(s, key, klen, hv);
  if (!it) {
    CNT_INC(s->delete_misses);
    rc = REMC_STORE_NOT_FOUND;
  } else if (cas != 0 && cas != item_cas(s, it)) {
    rc = REMC_STORE_EXISTS;
  } else {
    CNT_INC(s->cls[it->cls].delete_hits);
    item_unlink(s, it);
    rc = REMC_STORE_DELETED;
  }
  item_unlock(s, hv);
  return rc;
}

int remc_store_touch(remc_store *s, const uint8_t *key, uint32_t klen, int64_t exptime) {
  int rc;
  item *it = NULL;
  uint32_t hv = key_ok(klen) ? (uint32_t)remc_hash64(key, klen, s->seed) : 0;
  item_lock(s, hv);
  if (key_ok(klen)) it = item_get(s, key, klen, hv);
  if (!it) {
    CNT_INC(s->touch_misses);
    rc = REMC_STORE_NOT_FOUND;
  } else {
    it->exptime = realtime(s, exptime);
    item_bump_read(s, it); /* memcached's touch fetches with update */
    CNT_INC(s->cls[it->cls].touch_hits);
    rc = REMC_STORE_TOUCHED;
  }
  item_unlock(s, hv);
  return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* incr / decr                                                                                 */

static inline int is_space(uint8_t ch) {
  return ch == ' ' || (ch >= '\t' && ch <= '\r'); /* C isspace: space \t \n \v \f \r */
}

/* memcached parses the stored value with strtoull: leading whitespace, an optional sign, then
 * digits, ended by whitespace or NUL (the stored value is followed by "\r\n", so the end of the
 * value counts as whitespace); overflow fails; a '-' is accepted only when the negated result
 * stays below 2^63 (its check for negative input). Observed on 1.6.18: " 12", "12 ", "12 abc",
 * "+5", "-0", "1\0x2", "0000000000000000000000001" are numbers; "abc", "12abc", "-5", "+",
 * "100000000000000000000" are not. An all-blank value is not a number here (memcached reads
 * past the value into stale chunk bytes in that case). */
static int parse_u64(const uint8_t *p, uint32_t n, uint64_t *out) {
  uint32_t i = 0;
  while (i < n && is_space(p[i])) i++;
  int neg = 0;
  if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
  uint32_t start = i;
  uint64_t v = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') {
    uint64_t d = (uint64_t)(p[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return 0; /* ERANGE */
    v = v * 10 + d;
    i++;
  }
  if (i == start) return 0;
  if (i < n && !is_space(p[i]) && p[i] != 0) return 0;
  if (neg) {
    v = (uint64_t)0 - v;
    if ((int64_t)v < 0) return 0;
  }
  *out = v;
  return 1;
}

static uint32_t u64_to_dec(uint64_t v, char *buf /* >= 20 */) {
  char tmp[20];
  uint32_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (uint32_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  return n;
}

int remc_store_arith(remc_store *s, const uint8_t *key, uint32_t klen, int incr, uint64_t delta,
                     uint64_t *result, uint64_t *new_cas) {
  return remc_store_arith_cas(s, key, klen, incr, delta, 0, result, new_cas);
}

int remc_store_arith_cas(remc_store *s, const uint8_t *key, uint32_t klen, int incr,
                         uint64_t delta, uint64_t cas, uint64_t *result, uint64_t *new_cas) {
  int rc;
  uint32_t hv = 0;
  item *it = NULL;
  if (key_ok(klen)) hv = (uint32_t)remc_hash64(key, klen, s->seed);
  item_lock(s, hv);
  if (key_ok(klen)) it = item_get(s, key, klen, hv);
  if (!it) {
    if (incr)
      CNT_INC(s->incr_misses);
    else
      CNT_INC(s->decr_misses);
    rc = REMC_STORE_NOT_FOUND;
    goto out;
  }
  uint64_t v;
  /* memcached stores items above slab_chunk_max in chunks and refuses arithmetic on those; an
   * empty or chunked value is refused before the CAS (meta ma C) is compared, a non-number after */
  if (it->nbytes == 0 || is_chunked(it)) {
    rc = REMC_STORE_NON_NUMERIC;
    goto out;
  }
  if (cas != 0 && cas != item_cas(s, it)) { /* memcached's DELTA_ITEM_CAS_MISMATCH */
    rc = REMC_STORE_EXISTS;
    goto out;
  }
  if (!parse_u64(item_data(s, it), it->nbytes, &v)) {
    rc = REMC_STORE_NON_NUMERIC;
    goto out;
  }
  if (incr)
    v += delta; /* wraps at 2^64 */
  else
    v = delta > v ? 0 : v - delta;
  if (incr)
    CNT_INC(s->cls[it->cls].incr_hits);
  else
    CNT_INC(s->cls[it->cls].decr_hits);
  char buf[20];
  uint32_t len = u64_to_dec(v, buf);
  if (len <= it->nbytes && it->refcount == 0) {
    /* in place, right-padded with spaces to the old length (observed: "100" - 91 = "9  ") */
    uint8_t *d = item_data(s, it);
    memcpy(d, buf, len);
    memset(d + len, ' ', it->nbytes - len);
    item_set_cas(s, it, s->cas_sz ? __atomic_add_fetch(&s->cas_counter, 1, __ATOMIC_RELAXED) : 0);
    time_set(it, NOW(s));
  } else {
    uint32_t flags = item_flags(s, it);
    uint32_t id = mem_class_for(s, size_of(s, klen, len, flags));
    it->refcount++;
    if (REMC_UNLIKELY(s->lru_flags & REMC_LRU_FLAT)) lru_reclaim_tail(s, id, stripe_of(hv), TAIL_TRIES);
    item *nit = item_alloc(s, id, stripe_of(hv));
    it->refcount--;
    if (!nit) {
      rc = REMC_STORE_NO_MEMORY;
      goto out;
    }
    item_init(s, nit, key, klen, hv, flags, it->exptime, len);
    value_write(s, nit, 0, (const uint8_t *)buf, len);
    item_unlink(s, it);
    item_link(s, nit);
    it = nit;
  }
  if (result) *result = v;
  if (new_cas) *new_cas = item_cas(s, it);
  rc = REMC_STORE_STORED;
out:
  item_unlock(s, hv);
  expand_run(s);
  return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* slab page mover (memcached's slab_reassign + slab_automove, simplified)                     */

#define MOVE_CANDIDATES 8 /* pages of a class examined for pins per move attempt */
#define MIN_PAGES_FOR_SOURCE 2 /* memcached's: the automover takes from a class with more */
#define RELEASE_PER_CALL 16 /* pages given back to the kernel per reclaim call at most */
#define AGGRESSIVE_MOVES 16 /* slabs automove 2: pages moved to an evicting class a second at most */

/* Copy an unpinned linked item (a chunked item's header) to another chunk of the same class
 * and repoint its LRU neighbours (the crawler marker included), its hash chain predecessor and
 * its pieces at the copy. */
static void item_relocate(remc_store *s, item *from, item *to) {
  sclass *c = &s->cls[from->cls]; /* its LRU's class */
  memcpy(to, from, item_memsize(s, from));
  if (to->prev)
    to->prev->next = to;
  else
    c->head[to->lru] = to;
  if (to->next)
    to->next->prev = to;
  else
    c->tail[to->lru] = to;
  item **pp = bucket_of(s, from->hv);
  while (*pp && *pp != from) pp = &(*pp)->h_next;
  if (*pp) *pp = to;
  if (is_chunked(to))
    for (chunk *ch = first_piece(s, to); ch; ch = ch->next) ch->head = to;
}

/* Copy a piece to another chunk of its class and relink its neighbours to the copy. */
static void piece_relocate(remc_store *s, chunk *from, chunk *to) {
  memcpy(to, from, sizeof(chunk) + from->size);
  if (to->prev)
    to->prev->next = to;
  else
    set_first_piece(s, to->head, to);
  if (to->next) to->next->prev = to;
}

/* Under lock_all, during a page move: evict the item whose header or piece is on the page
 * [page, page + span). Its chunks elsewhere go back to their free lists; those on the page are
 * marked moving, as the page leaves its class. */
static void evict_from_page(remc_store *s, item *it, uint8_t *page, size_t span) {
  if (it->iflags & IT_LINKED) item_unlink_keep(s, it, 1);
  int on_page;
  if (is_chunked(it)) {
    for (chunk *ch = first_piece(s, it), *next; ch; ch = next) {
      next = ch->next;
      on_page = (uint8_t *)ch >= page && (uint8_t *)ch < page + span;
      if (on_page)
        ch->iflags = IT_MOVING;
      else
        mem_chunk_free(s, (item *)ch);
    }
    it->cls = it->hcls;
    it->hcls = 0;
  }
  on_page = (uint8_t *)it >= page && (uint8_t *)it < page + span;
  if (on_page)
    it->iflags = IT_MOVING;
  else
    mem_chunk_free(s, it);
}

/* The item a chunk of a page belongs to: itself, or a piece's header; NULL when free. */
static item *owner_of(uint8_t *p) {
  item *it = (item *)p;
  if (it->iflags & IT_CHUNK) return ((chunk *)p)->head;
  return (it->iflags & IT_LINKED) || it->refcount ? it : NULL;
}

/* Under lock_all. Take one page from class `id` into the pool: the items and pieces on it move
 * to free chunks elsewhere in the class (rescues) or, when there are none and may_evict, their
 * items are evicted; its free chunks leave the free list. A page holding (a piece of) a pinned
 * item, or (without may_evict) more than the rest of the class has free chunks for, is left
 * alone. Returns 1 if moved. */
static int slab_move_page(remc_store *s, uint32_t id, int may_evict) {
  sclass *c = &s->cls[id];
  if (c->pages <= 1) return 0; /* a class keeps one page, so every size stays storable */
  size_t span = (size_t)c->perslab * c->size;
  for (uint32_t cand = 0; cand < MOVE_CANDIDATES; cand++) {
    uint8_t *page = mem_find_page(s, id, cand);
    if (!page) return 0;
    int current = c->end_free && c->end_ptr >= page && c->end_ptr < page + span;
    uint8_t *end = current ? c->end_ptr : page + span; /* chunks past end were never carved */
    int busy = 0;
    for (uint8_t *p = page; p < end && !busy; p += c->size) {
      item *owner = owner_of(p);
      busy = owner && owner->refcount;
    }
    if (busy) {
      s->slab_reassign_busy_items++;
      continue;
    }
    if (!may_evict) {
      uint32_t used = 0, free_here = 0;
      for (uint8_t *p = page; p < end; p += c->size) {
        if (((item *)p)->iflags & (IT_LINKED | IT_CHUNK)) used++;
        else if (((item *)p)->iflags & IT_SLABBED) free_here++;
      }
      if (c->nfree - free_here < used) continue;
    }
    /* drop this page's chunks from the free list, so that rescues go elsewhere */
    for (uint8_t *p = page; p < end; p += c->size)
      if (((item *)p)->iflags & IT_SLABBED) ((item *)p)->iflags = IT_MOVING;
    item **pp = &c->freelist;
    while (*pp) {
      if ((*pp)->iflags == IT_MOVING) {
        *pp = (*pp)->next;
        c->nfree--;
      } else {
        pp = &(*pp)->next;
      }
    }
    /* items and pieces move to free chunks of the class while there are any, else their items
     * are evicted (memcached's slab_rebalance_move: chunk rescues, evictions_nomem) */
    for (uint8_t *p = page; p < end; p += c->size) {
      item *it = (item *)p;
      if (it->iflags & (IT_LINKED | IT_CHUNK)) {
        item *to = c->freelist;
        if (to) {
          c->freelist = to->next;
          c->nfree--;
          if (it->iflags & IT_CHUNK) {
            piece_relocate(s, (chunk *)p, (chunk *)to);
            s->slab_reassign_chunk_rescues++;
          } else {
            item_relocate(s, it, to);
            s->slab_reassign_rescues++;
          }
        } else {
          s->slab_reassign_evictions_nomem++;
          evict_from_page(s, owner_of(p), page, span);
        }
      }
      it->iflags = IT_MOVING;
    }
    if (current) {
      c->end_ptr = NULL;
      c->end_free = 0;
    }
    c->pages--;
    mem_page_to_pool(s, page);
    s->slabs_moved++;
    return 1;
  }
  return 0;
}

/* Under lock_all: the pool's first page becomes class dst's (a page just moved there). */
static void pool_page_to(remc_store *s, uint32_t dst) {
  uint8_t *page = s->pool;
  memcpy(&s->pool, page, sizeof(void *));
  s->pool_pages--;
  mem_give_page(s, &s->cls[dst], page);
}

/* Under bg_lock: the automover moved a page of class src to dst (0: the pool). */
static void log_move(remc_store *s, uint32_t src, uint32_t dst) {
  uint32_t at = (s->move_head + s->move_count) % REMC_MOVE_LOG;
  s->move_log[at][0] = (int32_t)src;
  s->move_log[at][1] = (int32_t)dst;
  if (s->move_count < REMC_MOVE_LOG)
    s->move_count++;
  else
    s->move_head = (s->move_head + 1) % REMC_MOVE_LOG;
}

uint32_t remc_store_take_slab_moves(remc_store *s, int32_t *out, uint32_t max) {
  pthread_mutex_lock(&s->bg_lock);
  uint32_t n = 0;
  for (; n < max && s->move_count > 0; n++, s->move_count--) {
    out[2 * n] = s->move_log[s->move_head][0];
    out[2 * n + 1] = s->move_log[s->move_head][1];
    s->move_head = (s->move_head + 1) % REMC_MOVE_LOG;
  }
  pthread_mutex_unlock(&s->bg_lock);
  return n;
}

/* The age of the class's oldest items: COLD's tail, else WARM's, else HOT's. */
static uint32_t tail_age(const remc_store *s, const sclass *c) {
  const item *t = lru_tail_item(c, LRU_COLD);
  if (!t) t = lru_tail_item(c, LRU_WARM);
  if (!t) t = lru_tail_item(c, LRU_HOT);
  return t ? NOW(s) - time_of(t) : 0;
}

/* memcached's slab_automove_run (slab_automove.c, automove=1), once per sample: each class's
 * evictions, out-of-memory errors, page growth and oldest-item age go into its window. Sets
 * src and dst to a move to make, or -1: dst 0 (to the pool) for the first class with more than
 * 2.5 pages of free chunks and a quiet window; otherwise, once the window is full, from the
 * class with the oldest items (more than two pages) to the youngest one that keeps evicting,
 * when that one is evicting now and its items are younger than `ratio` of the oldest's. */
static void automove_run(remc_store *s, int32_t *src, int32_t *dst) {
  *src = *dst = -1;
  const uint32_t W = s->am_window;
  uint64_t evicted[MAX_CLASSES + 1], oom[MAX_CLASSES + 1], evicted_total = 0;
  for (uint32_t i = 1; i <= s->nclasses; i++) {
    evicted[i] = s->cls[i].evicted;
    oom[i] = s->cls[i].outofmemory;
    evicted_total += evicted[i] - s->am_evicted[i];
  }
  s->am_cur++;
  int32_t oldest = -1, youngest = -1;
  uint64_t oldest_age = 0, youngest_age = UINT64_MAX;
  int youngest_evicting = 0;
  for (uint32_t i = 1; i <= s->nclasses; i++) {
    sclass *c = &s->cls[i];
    am_sample *wd = &s->am_win[i][s->am_cur % W];
    memset(wd, 0, sizeof *wd);
    uint64_t ev = evicted[i] - s->am_evicted[i];
    if (ev > 0) {
      wd->evicted_ratio = (float)ev / (float)evicted_total;
      wd->evicted_seen = wd->dirty = 1;
    }
    if (oom[i] > s->am_oom[i] || c->pages > s->am_pages[i]) wd->dirty = 1;
    wd->age = tail_age(s, c);
    uint64_t age_sum = 0, dirty = 0, seen = 0;
    double ratio_sum = 0;
    for (uint32_t x = 0; x < W; x++) {
      const am_sample *d = &s->am_win[i][x];
      age_sum += d->age;
      dirty += d->dirty;
      seen += d->evicted_seen;
      ratio_sum += d->evicted_ratio;
    }
    uint64_t age = age_sum / W;
    /* memcached's free_chunks: it carves a new page into free chunks at once */
    if ((uint64_t)(c->nfree + c->end_free) * 2 > (uint64_t)c->perslab * 5 && dirty == 0) {
      *src = (int32_t)i;
      *dst = 0;
      oldest = youngest = -1;
      break;
    }
    if (age > oldest_age && c->pages > MIN_PAGES_FOR_SOURCE) oldest = (int32_t)i, oldest_age = age;
    if (age < youngest_age && (seen > W / 2 || ratio_sum / W > 0.25)) {
      youngest = (int32_t)i;
      youngest_age = age;
      youngest_evicting = wd->evicted_seen;
    }
  }
  for (uint32_t i = 1; i <= s->nclasses; i++) {
    s->am_evicted[i] = evicted[i];
    s->am_oom[i] = oom[i];
    s->am_pages[i] = s->cls[i].pages;
  }
  if (youngest != -1 && oldest != -1 && s->am_cur > W && youngest_evicting &&
      (double)youngest_age < (double)oldest_age * s->am_ratio) {
    *src = oldest;
    *dst = youngest;
  }
}

/* memcached's slabs_reassign_pick_any: the next class after the one picked last that has a
 * spare page, other than dst; -1 if none. Under lock_all. */
static int32_t pick_any(remc_store *s, int32_t dst) {
  for (uint32_t tries = s->nclasses; tries > 0; tries--) {
    s->pick_cur = s->pick_cur % s->nclasses + 1;
    if ((int32_t)s->pick_cur != dst && s->cls[s->pick_cur].pages > 1) return (int32_t)s->pick_cur;
  }
  return -1;
}

/* Once per store second: give back memory above -m, then memcached's automover. A move to the
 * pool is followed by another sample at once, as memcached re-runs its automover within a
 * millisecond after one (so surplus pages go back page after page); a move between classes
 * waits for the next second. */
static void slab_automove(remc_store *s) {
  if (s->last_automove == NOW(s)) return;
  s->last_automove = NOW(s);
  mem_release_over_limit(s, RELEASE_PER_CALL);
  /* Only a lowered cache_memlimit shrinks what is mapped. Going over -m by itself is normal:
   * a class's first page is granted past the limit (as memcached does), and moving pages out
   * for that would evict live items every second. With -M nothing live is evicted. */
  if (s->mem_malloced <= s->mem_limit) s->shrinking = 0;
  for (uint32_t n = 0; n < RELEASE_PER_CALL && s->shrinking && s->mem_malloced > s->mem_limit; n++) {
    if (!s->pool) { /* shrink: take from the class with the oldest tail (or no items) */
      uint32_t best = 0, best_age = 0;
      for (uint32_t i = 1; i <= s->nclasses; i++) {
        const sclass *c = &s->cls[i];
        uint32_t age = c->nitems ? tail_age(s, c) : UINT32_MAX;
        if (c->pages > 1 && (!best || age > best_age)) best = i, best_age = age;
      }
      if (!best || !slab_move_page(s, best, s->evictions)) break;
    }
    mem_release_over_limit(s, 1);
  }
  if (s->automove == 2) {
    /* memcached's aggressive mode: every eviction asks for a page from any class (round robin)
     * for the evicting class, moved by its rebalancer thread one at a time, at once; here the
     * evictions of the last second, up to AGGRESSIVE_MOVES a class */
    for (uint32_t i = 1; i <= s->nclasses; i++) {
      uint64_t evicted = s->cls[i].evicted;
      uint64_t want = evicted - s->am_evicted[i];
      s->am_evicted[i] = evicted;
      for (uint64_t n = 0; n < want && n < AGGRESSIVE_MOVES; n++) {
        int32_t src = pick_any(s, (int32_t)i);
        if (src < 0 || !slab_move_page(s, (uint32_t)src, 1)) break;
        pool_page_to(s, i);
      }
    }
    return;
  }
  if (!s->automove) return;
  for (uint32_t n = 0; n < RELEASE_PER_CALL * 4; n++) {
    int32_t src, dst;
    automove_run(s, &src, &dst);
    if (src < 0 || dst < 0) break;
    if (dst > 0 && !s->evictions) break; /* -M: nothing live may be evicted to make room */
    if (!slab_move_page(s, (uint32_t)src, 1)) break;
    if (dst > 0) pool_page_to(s, (uint32_t)dst);
    log_move(s, (uint32_t)src, (uint32_t)dst);
    if (dst > 0) break;
  }
}

int remc_store_slabs_reassign(remc_store *s, int32_t src, int32_t dst) {
  lock_all(s);
  int rc = REMC_REASSIGN_OK;
  if (src == dst) {
    rc = REMC_REASSIGN_SAME;
  } else if (src < -1 || src > (int32_t)s->nclasses || dst < 0 || dst > (int32_t)s->nclasses) {
    rc = REMC_REASSIGN_BADCLASS;
  } else {
    if (src == -1) src = pick_any(s, dst); /* none is BADCLASS (observed) */
    if (src < 0) {
      rc = REMC_REASSIGN_BADCLASS;
    } else if (src == 0) { /* from the global pool, which (like a class) must keep a page */
      if (s->pool_pages < 2) rc = REMC_REASSIGN_NOSPARE;
    } else if (s->cls[src].pages < 2) {
      rc = REMC_REASSIGN_NOSPARE;
    } else if (!slab_move_page(s, (uint32_t)src, 1)) {
      rc = REMC_REASSIGN_BUSY; /* every page of the class holds a pinned item */
    }
    if (rc == REMC_REASSIGN_OK && dst > 0) pool_page_to(s, (uint32_t)dst); /* the page goes to dst now */
  }
  unlock_all(s);
  return rc;
}

void remc_store_set_lru(remc_store *s, int flags, const remc_lru_tune *tune) {
  lock_all(s);
  s->lru_flags = flags;
  if (tune) s->tune = *tune;
  unlock_all(s);
}

void remc_store_set_automove(remc_store *s, int mode, double ratio, uint32_t window) {
  lock_all(s);
  s->automove = mode;
  if (window < 1) window = 1;
  if (window > AUTOMOVE_WINDOW_MAX) window = AUTOMOVE_WINDOW_MAX;
  if (ratio != s->am_ratio || window != s->am_window) {
    /* memcached starts its automover afresh when the ratio changes: an empty window */
    s->am_ratio = ratio;
    s->am_window = window;
    s->am_cur = 0;
    memset(s->am_win, 0, sizeof s->am_win);
  }
  unlock_all(s);
}

/* ------------------------------------------------------------------------------------------ */
/* flush, reclaim, memory limit                                                                */

void remc_store_flush(remc_store *s, int64_t exptime) {
  lock_all(s);
  /* memcached's process_flush_all: with CAS, everything stored before this point is caught by
   * its CAS (oldest_cas) and the time rule is shifted one second back; without CAS, items
   * stored later in the same second are flushed too (observed 1.6.18 with -C). An absolute
   * time in the past yields oldest_live 0, i.e. no flush at all (also observed). */
  uint32_t new_oldest = exptime > 0 ? realtime(s, exptime) : NOW(s);
  if (s->cas_sz) {
    s->oldest_live = new_oldest - 1;
    if (s->oldest_live <= NOW(s)) s->oldest_cas = __atomic_add_fetch(&s->cas_counter, 1, __ATOMIC_RELAXED);
  } else {
    s->oldest_live = new_oldest;
  }
  unlock_all(s);
}

/* age * factor in whole seconds; a factor `lru tune` accepted (huge, not a number) clamps. */
static uint32_t age_times(uint32_t age, double factor) {
  double a = (double)age * factor;
  if (!(a >= 0)) return 0;
  return a >= 4294967295.0 ? UINT32_MAX : (uint32_t)a;
}

/* memcached's lru_maintainer_juggle for class id: TEMP's expired tail items, then HOT, WARM
 * and COLD pulled in turn until none does anything (JUGGLES rounds at most). HOT and WARM are
 * held to their share of the class's bytes and to an age of COLD's tail age times their factor;
 * flat, both drain into COLD. The caller holds a reader slot. Returns the items it freed. */
static uint32_t lru_juggle(remc_store *s, uint32_t id) {
  sclass *c = &s->cls[id];
  const int flat = s->lru_flags & REMC_LRU_FLAT;
  uint64_t before = __atomic_load_n(&c->reclaimed, __ATOMIC_RELAXED);
  if (s->tune.temp_ttl >= 0)
    for (uint32_t i = 0; i < JUGGLES; i++)
      if (lru_pull(s, id, LRU_TEMP, 0, 0, 0, NO_STRIPE, NULL) <= 0) break;
  uint64_t total = 0;
  uint32_t hot_age = 0, warm_age = 0;
  if (!flat) {
    lru_lock(s, id);
    const item *t = lru_tail_item(c, LRU_COLD);
    uint32_t cold_age = t ? NOW(s) - time_of(t) : 0;
    total = c->seg_bytes[LRU_HOT] + c->seg_bytes[LRU_WARM] + c->seg_bytes[LRU_COLD];
    lru_unlock(s, id);
    hot_age = age_times(cold_age, s->tune.hot_max_factor);
    warm_age = age_times(cold_age, s->tune.warm_max_factor);
  }
  for (uint32_t i = 0; i < JUGGLES; i++) {
    int more = lru_pull(s, id, LRU_HOT, 0, total, hot_age, NO_STRIPE, NULL) > 0 ||
               lru_pull(s, id, LRU_WARM, 0, total, warm_age, NO_STRIPE, NULL) > 0;
    if (!flat) more += lru_pull(s, id, LRU_COLD, 0, total, 0, NO_STRIPE, NULL) > 0;
    else more += lru_reclaim_tail(s, id, NO_STRIPE, TAIL_TRIES) > 0; /* flat: COLD's expired */
    if (!more) break;
  }
  return (uint32_t)(__atomic_load_n(&c->reclaimed, __ATOMIC_RELAXED) - before);
}

/* The maintainer's pass over every class (with REMC_LRU_MAINTAINER). */
static uint32_t lru_maintain(remc_store *s) {
  uint32_t freed = 0;
  for (uint32_t i = 1; i <= s->nclasses; i++) {
    enter(s); /* lru_flags and the tune are written with the store stopped */
    if (!(s->lru_flags & REMC_LRU_MAINTAINER)) {
      leave(s);
      return 0;
    }
    freed += lru_juggle(s, i);
    leave(s);
  }
  return freed;
}

uint32_t remc_store_reclaim(remc_store *s, uint32_t max_items) {
  /* Background work, run from a timer, one caller at a time (bg_lock): the housekeeping under
   * every lock (the table migration, page moves: at most a few ms a second), then the crawler
   * one slice at a time under one class's LRU lock, trying each item's stripe (a busy item is
   * passed over, as memcached's crawler does), so a worker waits for one slice at most. */
  pthread_mutex_lock(&s->bg_lock);
  uint32_t freed = 0, checked = 0, idle_classes = 0;
  lock_all(s);
  expand_step(s, EXPAND_STEP * 16);
  __atomic_store_n(&s->expand_wanted, 0, __ATOMIC_RELAXED);
  slab_automove(s);
  if (s->lru_flags & REMC_LRU_MAINTAINER) s->lru_maintainer_juggles++;
  unlock_all(s);
  freed += lru_maintain(s);
  while (checked < max_items && idle_classes <= s->nclasses) {
    uint32_t id = s->crawl_cls;
    sclass *c = &s->cls[id];
    item *cr = &c->crawler;
    enter(s);
    lru_lock(s, id);
    if (!c->crawling) {
      uint32_t q = 0;
      while (q < LRU_SEGS && !c->tail[q]) q++;
      if (q == LRU_SEGS) { /* nothing to crawl in this class */
        idle_classes++;
        s->crawl_cls = s->crawl_cls % s->nclasses + 1;
        lru_unlock(s, id);
        leave(s);
        continue;
      }
      cr->lru = (uint8_t)q; /* start a pass: the marker goes below the first list's tail */
      lru_link_tail(c, cr);
      c->crawling = 1;
    }
    idle_classes = 0;
    uint32_t slice = CRAWL_SLICE;
    while (slice && checked < max_items) {
      item *it = cr->prev;
      if (!it) { /* reached the head: on to the next list's tail, or the pass is done */
        uint32_t q = cr->lru + 1u;
        lru_unlink(c, cr);
        while (q < LRU_SEGS && !c->tail[q]) q++;
        if (q < LRU_SEGS) {
          cr->lru = (uint8_t)q;
          lru_link_tail(c, cr);
          continue;
        }
        c->crawling = 0;
        break;
      }
      /* step the marker above `it`, then judge `it` */
      lru_unlink(c, cr);
      lru_link_above(c, cr, it);
      checked++;
      slice--;
      CNT_INC(c->crawler_items_checked);
      uint32_t st = stripe_of(it->hv);
      if (pthread_mutex_trylock(&s->item_locks[st]) != 0) continue;
      if (!it->refcount) {
        int flushed = is_flushed(s, it);
        if (flushed || is_expired(s, it)) {
          CNT_INC(c->crawler_reclaimed);
          if (!(it->iflags & IT_FETCHED) && !flushed) CNT_INC(c->expired_unfetched);
          item_unlink_l(s, it, 1);
          freed++;
        }
      }
      pthread_mutex_unlock(&s->item_locks[st]);
    }
    if (!c->crawling || slice == 0) s->crawl_cls = s->crawl_cls % s->nclasses + 1;
    if (!c->crawling) idle_classes++;
    lru_unlock(s, id);
    leave(s);
  }
  pthread_mutex_unlock(&s->bg_lock);
  return freed;
}

int remc_store_set_mem_limit(remc_store *s, uint64_t bytes) {
  lock_all(s);
  int rc = -1;
  if (bytes > 0 && mem_grow_reserve(s, bytes) == 0) {
    s->mem_limit = bytes; /* shrinking: remc_store_reclaim hands pages back over time */
    s->shrinking = bytes < s->mem_malloced;
    rc = 0;
  }
  unlock_all(s);
  return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* statistics                                                                                  */

void remc_store_stats_reset(remc_store *s) {
  lock_all(s);
  /* what memcached's `stats reset` zeroes: every counter, not the gauges (curr_items, bytes,
   * pages) */
  s->get_misses = s->get_expired = s->get_flushed = s->delete_misses = s->incr_misses = 0;
  s->decr_misses = s->cas_misses = s->touch_misses = s->store_too_large = 0;
  s->store_no_memory = s->total_items = 0;
  s->lru_maintainer_juggles = 0;
  for (uint32_t i = 1; i <= s->nclasses; i++) {
    sclass *c = &s->cls[i];
    c->get_hits = c->cmd_set = c->delete_hits = c->incr_hits = c->decr_hits = c->cas_hits = 0;
    c->cas_badval = c->touch_hits = 0;
    c->evicted = c->evicted_nonzero = c->outofmemory = c->reclaimed = c->expired_unfetched = 0;
    c->evicted_unfetched = c->evicted_active = c->crawler_reclaimed = 0;
    c->crawler_items_checked = c->lrutail_reflocked = c->moves_within_lru = 0;
    c->moves_to_cold = c->moves_to_warm = c->direct_reclaims = 0;
    memset(c->lru_hits, 0, sizeof c->lru_hits);
    c->evicted_time = 0;
    s->am_evicted[i] = s->am_oom[i] = 0; /* the automover's deltas start again from 0 */
  }
  unlock_all(s);
}

void remc_store_stats(remc_store *s, double out[REMC_STAT_COUNT]) {
  lock_all(s);
  uint64_t hits = 0, evictions = 0, reclaimed = 0, exp_unf = 0, ev_unf = 0, ev_act = 0;
  uint64_t delete_hits = 0, incr_hits = 0, decr_hits = 0, cas_hits = 0, cas_badval = 0,
           touch_hits = 0, cr_reclaimed = 0, cr_checked = 0, reflocked = 0, to_cold = 0,
           to_warm = 0, within = 0, direct = 0;
  for (uint32_t i = 1; i <= s->nclasses; i++) {
    const sclass *c = &s->cls[i];
    hits += c->get_hits;
    delete_hits += c->delete_hits;
    incr_hits += c->incr_hits;
    decr_hits += c->decr_hits;
    cas_hits += c->cas_hits;
    cas_badval += c->cas_badval;
    touch_hits += c->touch_hits;
    evictions += c->evicted;
    reclaimed += c->reclaimed;
    exp_unf += c->expired_unfetched;
    ev_unf += c->evicted_unfetched;
    ev_act += c->evicted_active;
    cr_reclaimed += c->crawler_reclaimed;
    cr_checked += c->crawler_items_checked;
    reflocked += c->lrutail_reflocked;
    to_cold += c->moves_to_cold;
    to_warm += c->moves_to_warm;
    within += c->moves_within_lru;
    direct += c->direct_reclaims;
  }
  out[REMC_STAT_get_hits] = (double)hits;
  out[REMC_STAT_get_misses] = (double)s->get_misses;
  out[REMC_STAT_get_expired] = (double)s->get_expired;
  out[REMC_STAT_get_flushed] = (double)s->get_flushed;
  out[REMC_STAT_delete_misses] = (double)s->delete_misses;
  out[REMC_STAT_delete_hits] = (double)delete_hits;
  out[REMC_STAT_incr_misses] = (double)s->incr_misses;
  out[REMC_STAT_incr_hits] = (double)incr_hits;
  out[REMC_STAT_decr_misses] = (double)s->decr_misses;
  out[REMC_STAT_decr_hits] = (double)decr_hits;
  out[REMC_STAT_cas_misses] = (double)s->cas_misses;
  out[REMC_STAT_cas_hits] = (double)cas_hits;
  out[REMC_STAT_cas_badval] = (double)cas_badval;
  out[REMC_STAT_touch_hits] = (double)touch_hits;
  out[REMC_STAT_touch_misses] = (double)s->touch_misses;
  out[REMC_STAT_store_too_large] = (double)s->store_too_large;
  out[REMC_STAT_store_no_memory] = (double)s->store_no_memory;
  out[REMC_STAT_bytes] = (double)s->bytes;
  out[REMC_STAT_curr_items] = (double)s->curr_items;
  out[REMC_STAT_total_items] = (double)s->total_items;
  out[REMC_STAT_evictions] = (double)evictions;
  out[REMC_STAT_reclaimed] = (double)reclaimed;
  out[REMC_STAT_expired_unfetched] = (double)exp_unf;
  out[REMC_STAT_evicted_unfetched] = (double)ev_unf;
  out[REMC_STAT_evicted_active] = (double)ev_act;
  out[REMC_STAT_crawler_reclaimed] = (double)cr_reclaimed;
  out[REMC_STAT_crawler_items_checked] = (double)cr_checked;
  out[REMC_STAT_lrutail_reflocked] = (double)reflocked;
  out[REMC_STAT_lru_maintainer_juggles] = (double)s->lru_maintainer_juggles;
  out[REMC_STAT_moves_to_cold] = (double)to_cold;
  out[REMC_STAT_moves_to_warm] = (double)to_warm;
  out[REMC_STAT_moves_within_lru] = (double)within;
  out[REMC_STAT_direct_reclaims] = (double)direct;
  out[REMC_STAT_limit_maxbytes] = (double)s->mem_limit;
  out[REMC_STAT_total_malloced] = (double)s->mem_malloced;
  out[REMC_STAT_hash_power_level] = (double)s->hashpower;
  out[REMC_STAT_hash_bytes] = (double)(hsize(s->hashpower) * sizeof(item *));
  out[REMC_STAT_hash_is_expanding] = (double)s->expanding;
  out[REMC_STAT_slab_global_page_pool] = s->pool_pages;
  out[REMC_STAT_slabs_moved] = (double)s->slabs_moved;
  out[REMC_STAT_slab_reassign_evictions_nomem] = (double)s->slab_reassign_evictions_nomem;
  out[REMC_STAT_slab_reassign_busy_items] = (double)s->slab_reassign_busy_items;
  out[REMC_STAT_slab_reassign_rescues] = (double)s->slab_reassign_rescues;
  out[REMC_STAT_slab_reassign_chunk_rescues] = (double)s->slab_reassign_chunk_rescues;
  unlock_all(s);
}

uint32_t remc_store_class_count(const remc_store *s) { return s->nclasses; }

int remc_store_class_stats(remc_store *s, uint32_t cls, double so[REMC_SSTAT_COUNT],
                           double io[REMC_ISTAT_COUNT]) {
  if (cls < 1 || cls > s->nclasses) return 0;
  lock_all(s);
  const sclass *c = &s->cls[cls];
  uint64_t total = (uint64_t)c->pages * c->perslab;
  if (so) {
    memset(so, 0, sizeof(double) * REMC_SSTAT_COUNT);
    so[REMC_SSTAT_chunk_size] = c->size;
    so[REMC_SSTAT_chunks_per_page] = c->perslab;
    so[REMC_SSTAT_total_pages] = c->pages;
    so[REMC_SSTAT_total_chunks] = (double)total;
    so[REMC_SSTAT_used_chunks] = (double)(total - c->nfree - c->end_free);
    /* memcached 1.6 puts a new page's chunks on the free list at once: free_chunks_end is 0 */
    so[REMC_SSTAT_free_chunks] = c->nfree + c->end_free;
    so[REMC_SSTAT_free_chunks_end] = 0;
    so[REMC_SSTAT_get_hits] = (double)c->get_hits;
    so[REMC_SSTAT_cmd_set] = (double)c->cmd_set;
    so[REMC_SSTAT_delete_hits] = (double)c->delete_hits;
    so[REMC_SSTAT_incr_hits] = (double)c->incr_hits;
    so[REMC_SSTAT_decr_hits] = (double)c->decr_hits;
    so[REMC_SSTAT_cas_hits] = (double)c->cas_hits;
    so[REMC_SSTAT_cas_badval] = (double)c->cas_badval;
    so[REMC_SSTAT_touch_hits] = (double)c->touch_hits;
  }
  if (io) {
    memset(io, 0, sizeof(double) * REMC_ISTAT_COUNT);
    const item *hot = lru_tail_item(c, LRU_HOT), *warm = lru_tail_item(c, LRU_WARM),
               *cold = lru_tail_item(c, LRU_COLD);
    io[REMC_ISTAT_number] = c->nitems;
    io[REMC_ISTAT_number_hot] = c->nseg[LRU_HOT];
    io[REMC_ISTAT_number_warm] = c->nseg[LRU_WARM];
    io[REMC_ISTAT_number_cold] = c->nseg[LRU_COLD];
    io[REMC_ISTAT_number_temp] = c->nseg[LRU_TEMP];
    io[REMC_ISTAT_age_hot] = hot ? (double)(NOW(s) - hot->time) : 0;
    io[REMC_ISTAT_age_warm] = warm ? (double)(NOW(s) - warm->time) : 0;
    io[REMC_ISTAT_age] = cold ? (double)(NOW(s) - cold->time) : 0;
    io[REMC_ISTAT_mem_requested] = (double)c->requested;
    io[REMC_ISTAT_evicted] = (double)c->evicted;
    io[REMC_ISTAT_evicted_nonzero] = (double)c->evicted_nonzero;
    io[REMC_ISTAT_evicted_time] = c->evicted_time;
    io[REMC_ISTAT_outofmemory] = (double)c->outofmemory;
    io[REMC_ISTAT_reclaimed] = (double)c->reclaimed;
    io[REMC_ISTAT_expired_unfetched] = (double)c->expired_unfetched;
    io[REMC_ISTAT_evicted_unfetched] = (double)c->evicted_unfetched;
    io[REMC_ISTAT_evicted_active] = (double)c->evicted_active;
    io[REMC_ISTAT_crawler_reclaimed] = (double)c->crawler_reclaimed;
    io[REMC_ISTAT_crawler_items_checked] = (double)c->crawler_items_checked;
    io[REMC_ISTAT_lrutail_reflocked] = (double)c->lrutail_reflocked;
    io[REMC_ISTAT_moves_to_cold] = (double)c->moves_to_cold;
    io[REMC_ISTAT_moves_to_warm] = (double)c->moves_to_warm;
    io[REMC_ISTAT_moves_within_lru] = (double)c->moves_within_lru;
    io[REMC_ISTAT_direct_reclaims] = (double)c->direct_reclaims;
    io[REMC_ISTAT_hits_to_hot] = (double)c->lru_hits[LRU_HOT];
    io[REMC_ISTAT_hits_to_warm] = (double)c->lru_hits[LRU_WARM];
    io[REMC_ISTAT_hits_to_cold] = (double)c->lru_hits[LRU_COLD];
    io[REMC_ISTAT_hits_to_temp] = (double)c->lru_hits[LRU_TEMP];
  }
  int used = c->pages > 0;
  unlock_all(s);
  return used;
}

uint32_t remc_store_cachedump(remc_store *s, uint32_t cls, uint32_t limit, remc_store_dump_fn fn,
                              void *ctx) {
  if (cls < 1 || cls > s->nclasses || !fn) return 0;
  lock_all(s);
  uint32_t shown = 0;
  /* every list, HOT first: memcached dumps COLD only, where its maintainer has moved nearly
   * everything a few ms after it was stored (this maintainer runs once a second) */
  for (uint32_t q = 0; q < LRU_SEGS; q++) {
    for (item *it = s->cls[cls].head[q]; it && (limit == 0 || shown < limit); it = it->next) {
      if ((it->iflags & IT_CRAWLER) || (it->mflags & REMC_META_KEY_BINARY)) continue;
      shown++;
      if (fn(ctx, item_key(s, it), it->nkey, it->nbytes,
             it->exptime ? s->started + (int64_t)it->exptime : 0))
        goto done;
    }
  }
done:
  unlock_all(s);
  return shown;
}

uint32_t remc_store_metadump(remc_store *s, uint32_t cls, remc_store_meta_fn fn, void *ctx) {
  if (cls > s->nclasses || !fn) return 0;
  lock_all(s);
  uint32_t shown = 0;
  for (uint32_t c = cls ? cls : 1; c <= (cls ? cls : s->nclasses); c++) {
    for (uint32_t q = 0; q < LRU_SEGS; q++)
    for (item *it = s->cls[c].tail[q]; it; it = it->prev) {
      if ((it->iflags & IT_CRAWLER) || (it->mflags & REMC_META_KEY_BINARY) || is_expired(s, it) ||
          is_flushed(s, it))
        continue;
      remc_item_info in = {
          .flags = item_flags(s, it),
          .nbytes = it->nbytes,
          .cas = item_cas(s, it),
          .exptime = it->exptime ? s->started + (int64_t)it->exptime : 0,
          .last_access = s->started + (int64_t)it->time,
          .fetched = (it->iflags & IT_FETCHED) ? 1 : 0,
          .slab_class = it->cls,
          .meta = it->mflags,
      };
      shown++;
      if (fn(ctx, item_key(s, it), it->nkey, &in, item_ntotal(s, it))) goto done;
    }
  }
done:
  unlock_all(s);
  return shown;
}

/* ------------------------------------------------------------------------------------------ */
/* fault-injection support                                                                     */

void *remc_store_probe_address(remc_store *s) {
  lock_all(s);
  void *p = s->buckets;
  for (uint32_t i = 1; i <= s->nclasses * LRU_SEGS; i++) {
    item *it = s->cls[(i - 1) / LRU_SEGS + 1].head[(i - 1) % LRU_SEGS];
    while (it && (it->iflags & IT_CRAWLER)) it = it->next;
    if (it) {
      p = it->nbytes ? (void *)item_data(s, it) : (void *)item_key(s, it);
      break;
    }
  }
  unlock_all(s);
  return p;
}

static uint64_t checksum_bucket(remc_store *s, item *it) {
  uint64_t sum = 0;
  for (; it; it = it->h_next) {
    if (is_flushed(s, it) || is_expired(s, it)) continue;
    uint32_t f = item_flags(s, it);
    uint64_t h = remc_hash64(item_key(s, it), it->nkey, 1);
    h = h_mum(h ^ H_K0, remc_hash64(&f, 4, h));
    if (is_chunked(it)) { /* piece by piece */
      uint64_t left = it->nbytes;
      for (chunk *ch = first_piece(s, it); ch && left; ch = ch->next) {
        uint64_t n = ch->size < left ? ch->size : left;
        h = h_mum(h ^ H_K1, remc_hash64(piece_data(ch), n, h));
        left -= n;
      }
    } else {
      h = h_mum(h ^ H_K1, remc_hash64(item_data(s, it), it->nbytes, h));
    }
    sum += h; /* a sum of per-item hashes does not depend on table order */
  }
  return sum;
}

uint64_t remc_store_checksum(remc_store *s) {
  lock_all(s);
  uint64_t sum = 0;
  for (size_t b = 0; b < hsize(s->hashpower); b++) sum += checksum_bucket(s, s->buckets[b]);
  if (s->expanding)
    for (size_t b = s->expand_bucket; b < hsize(s->hashpower - 1); b++)
      sum += checksum_bucket(s, s->old_buckets[b]);
  unlock_all(s);
  return sum;
}

/* ------------------------------------------------------------------------------------------ */
/* meta commands (mg md ma me; protocol/meta.ts)                                               */

int remc_store_meta_get(remc_store *s, const uint8_t *key, uint32_t klen, int count,
                        remc_item_ref *ref, remc_item_info *info) {
  ref->it = NULL;
  item *it = NULL;
  uint32_t hv = key_ok(klen) ? (uint32_t)remc_hash64(key, klen, s->seed) : 0;
  item_lock(s, hv);
  if (REMC_LIKELY(key_ok(klen))) it = item_get(s, key, klen, hv);
  int rc = 1;
  if (it && REMC_UNLIKELY(it->refcount >= REFCOUNT_MAX)) {
    rc = -1; /* mg: "SERVER_ERROR refcount overflow during fetch", counted as nothing */
  } else if (!it) {
    if (count == 1 || count == 3) CNT_INC(s->get_misses);
    else if (count == 2) CNT_INC(s->touch_misses);
    rc = 0;
  } else {
    if (count == 1) {
      CNT_INC(s->cls[it->cls].get_hits);
      CNT_INC(s->cls[it->cls].lru_hits[it->lru]);
    }
    else if (count >= 2) CNT_INC(s->cls[it->cls].touch_hits);
    info->flags = item_flags(s, it);
    info->nbytes = it->nbytes;
    info->cas = item_cas(s, it);
    info->exptime = it->exptime ? s->started + (int64_t)it->exptime : 0;
    info->last_access = s->started + (int64_t)it->time;
    info->fetched = (it->iflags & IT_FETCHED) ? 1 : 0;
    info->slab_class = it->cls;
    info->meta = it->mflags;
    it->refcount++;
    ref->it = it;
    ref->data = is_chunked(it) ? NULL : item_data(s, it);
    ref->nbytes = it->nbytes;
  }
  item_unlock(s, hv);
  return rc;
}

int remc_store_meta_claim(remc_store *s, const remc_item_ref *ref) {
  item *it = (item *)ref->it;
  if (!it) return 0;
  item_lock(s, it->hv); /* fixed while pinned */
  int won = !(it->mflags & REMC_META_TOKEN_SENT);
  it->mflags |= REMC_META_TOKEN_SENT;
  item_unlock(s, it->hv);
  return won;
}

void remc_store_meta_update(remc_store *s, const remc_item_ref *ref, uint32_t set, uint32_t clear,
                            const int64_t *exptime, int bump, remc_item_info *info) {
  item *it = (item *)ref->it;
  if (it) {
    item_lock(s, it->hv); /* fixed while pinned */
    it->mflags = (uint8_t)((it->mflags | set) & ~clear);
    if (exptime) it->exptime = realtime(s, *exptime);
    if (bump) item_bump_read(s, it);
    if (info) {
      info->exptime = it->exptime ? s->started + (int64_t)it->exptime : 0;
      info->meta = it->mflags;
    }
    item_unlock(s, it->hv);
  }
}

int remc_store_meta_delete(remc_store *s, const uint8_t *key, uint32_t klen, int has_cas,
                           uint64_t cas, int invalidate, const int64_t *exptime,
                           uint64_t *new_cas) {
  int rc;
  item *it = NULL;
  uint32_t hv = key_ok(klen) ? (uint32_t)remc_hash64(key, klen, s->seed) : 0;
  item_lock(s, hv);
  if (key_ok(klen)) it = item_get(s, key, klen, hv);
  if (!it) {
    CNT_INC(s->delete_misses);
    rc = REMC_STORE_NOT_FOUND;
  } else if (has_cas && cas != item_cas(s, it)) {
    CNT_INC(s->delete_misses); /* memcached counts a CAS mismatch as a delete miss */
    rc = REMC_STORE_EXISTS;
  } else if (invalidate) {
    /* mark stale, let the next fetch win again, bump the CAS; TTL only when given */
    if (exptime) it->exptime = realtime(s, *exptime);
    it->mflags = (uint8_t)((it->mflags | REMC_META_STALE) & ~REMC_META_TOKEN_SENT);
    item_set_cas(s, it, s->cas_sz ? __atomic_add_fetch(&s->cas_counter, 1, __ATOMIC_RELAXED) : 0);
    if (new_cas) *new_cas = item_cas(s, it);
    rc = REMC_STORE_DELETED;
  } else {
    CNT_INC(s->cls[it->cls].delete_hits);
    item_unlink(s, it);
    rc = REMC_STORE_DELETED;
  }
  item_unlock(s, hv);
  return rc;
}
