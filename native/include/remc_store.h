/*
 * remc_store.h — the item store: hash table, slab-style memory accounting against -m, LRU
 * eviction, expiry, CAS. All of its memory (items, hash table, slab pages) comes from mappings
 * it owns, which it tags with a protection key when given one, so that the parser domain can
 * neither read nor write the cache.
 *
 * Threading: any number of threads may call it at once (the -t N workers share one store). Every
 * public function does its own locking (store_int.h: striped item locks, per-class LRU locks, a
 * slabs lock), and each command is atomic. Items leave the store only as copies (value bytes
 * into a caller buffer) or through a reference held by a remc_item_ref, released explicitly.
 *
 * Time: the store has its own clock in seconds (remc_store_set_time), set by the server once a
 * second (and by `debugtime` in tests); it starts at the wall time of remc_store_create and is
 * meant to move forward from there. exptime arguments are raw protocol values: 0 = never,
 * <= 30 days = relative seconds, larger = absolute Unix time, negative = already expired.
 */
#ifndef REMC_STORE_H
#define REMC_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct remc_store remc_store;

typedef struct remc_store_config {
  uint64_t mem_limit;      /* -m in bytes */
  uint32_t item_size_max;  /* -I in bytes (default 1 MiB) */
  double growth_factor;    /* -f (1.25) */
  uint32_t chunk_min;      /* -n (48) */
  const uint32_t *slab_sizes; /* -o slab_sizes: chunk sizes, 0-terminated; NULL: -f's table */
  uint32_t slab_chunk_max; /* -o slab_chunk_max: the largest class; larger items are chunked (0: 524288) */
  int evictions;           /* 0 with -M: out-of-memory errors instead of evicting */
  int cas_enabled;         /* 0 with -C */
  int pkey;                /* protection key to tag all store memory with, or -1 */
  uint32_t hashpower;      /* initial hash table size 2^hashpower (16) */
  uint64_t fake_malloced;  /* test hook (memcached's T_MEMD_INITIAL_MALLOC): total_malloced starts here */
} remc_store_config;

/* Result codes of store operations. TS maps them to replies (protocol/replies.ts). */
#define REMC_STORE_RESULTS(X) \
  X(STORED)        \
  X(NOT_STORED)    \
  X(EXISTS)        \
  X(NOT_FOUND)     \
  X(DELETED)       \
  X(TOUCHED)       \
  X(TOO_LARGE)     /* item would exceed item_size_max (a SET also unlinks the old item) */ \
  X(NO_MEMORY)     /* -M and no room, or nothing evictable (a SET also unlinks the old) */ \
  X(NON_NUMERIC)   /* incr/decr on a value that is not a decimal u64 */

enum remc_store_result {
#define REMC_X_ENUM(id) REMC_STORE_##id,
  REMC_STORE_RESULTS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_STORE_RESULT_COUNT
};

enum remc_store_mode { /* storage command semantics */
  REMC_MODE_SET = 0, REMC_MODE_ADD, REMC_MODE_REPLACE, REMC_MODE_APPEND, REMC_MODE_PREPEND,
  REMC_MODE_CAS,
  REMC_MODE_CAS_STALE, /* meta ms I + C: like CAS, but a lower CAS stores a stale value (keeps the
                         old TTL and win token, marks REMC_META_STALE) */
  REMC_MODE_ADD_VIVIFY /* mg N on a miss: ADD, and the new item's win token is its creator's
                          (REMC_META_TOKEN_SENT set as it is linked: a racing mg sees Z) */
};

/* Per-item state of the meta commands (remc_item_info.meta). */
#define REMC_META_STALE 1u      /* md I / ms I: invalidated; mg shows X (and hands out W once) */
#define REMC_META_TOKEN_SENT 2u /* a W (recache win) was handed out: later mg show Z */
#define REMC_META_KEY_BINARY 4u /* stored by ms with a base64 key (b): replies re-encode the key */

/* What a lookup tells about an item (filled by remc_store_get). */
typedef struct remc_item_info {
  uint32_t flags;          /* client flags */
  uint32_t nbytes;         /* value length */
  uint64_t cas;
  int64_t exptime;         /* absolute store-clock seconds, 0 = never */
  int64_t last_access;     /* store-clock seconds */
  int fetched;             /* had been fetched before this lookup */
  int slab_class;
  uint32_t meta;           /* REMC_META_* */
} remc_item_info;

/* A pinned item: valid until remc_store_release. `data`/`nbytes`: its value, noted when pinned
 * (a pinned value does not change), so that copying it takes no lock. */
typedef struct remc_item_ref {
  void *it;
  const uint8_t *data;
  uint32_t nbytes;
} remc_item_ref;

/* Returns NULL on failure (e.g. mem_limit too small); *err gets a short reason. */
remc_store *remc_store_create(const remc_store_config *cfg, const char **err);
void remc_store_destroy(remc_store *s);

void remc_store_set_time(remc_store *s, int64_t unix_now); /* the server clock, seconds */
int64_t remc_store_time(const remc_store *s);

/* Item size arithmetic exactly as memcached's: header + cas + key + 1 + value + 2 (+4 if flags). */
uint64_t remc_store_item_size(const remc_store *s, uint32_t klen, uint64_t vlen, uint32_t flags);
/* The slab class an item of that size goes to; 0 if it is larger than item_size_max. */
uint32_t remc_store_class_for(const remc_store *s, uint32_t klen, uint64_t vlen, uint32_t flags);

/* `watch evictions`: while on, each eviction is recorded (key, fetched, exptime, last access,
 * class, value length) in a ring of REMC_EVICT_LOG records that the server drains after store
 * calls; when nobody drains it the oldest records are overwritten. */
#define REMC_EVICT_LOG 64
typedef struct remc_evict_rec {
  int64_t exptime;     /* absolute store-clock seconds, 0 = never */
  int64_t last_access; /* store-clock seconds */
  uint32_t nbytes;     /* value length */
  uint8_t klen, fetched, cls;
  uint8_t key[250];
} remc_evict_rec;
void remc_store_log_evictions(remc_store *s, int on);
/* Why the last lookup found nothing, as memcached's watch prints it (item_get status=): not
 * found, or found but flushed / expired (and unlinked by that lookup). */
#define REMC_MISS_NOT_FOUND 0
#define REMC_MISS_FLUSHED 2
#define REMC_MISS_EXPIRED 3
int remc_store_last_miss(const remc_store *s);
/* Move up to max recorded evictions, oldest first, to out; returns how many. */
uint32_t remc_store_take_evictions(remc_store *s, remc_evict_rec *out, uint32_t max);

/* The automover's page moves since the last call, oldest first, as (source class, destination
 * class) pairs in out[2 * i], out[2 * i + 1]; destination 0 is the free page pool. At most
 * REMC_MOVE_LOG are kept between calls. Returns the number of pairs. */
#define REMC_MOVE_LOG 64
uint32_t remc_store_take_slab_moves(remc_store *s, int32_t *out, uint32_t max);

/* Lookup. Returns 1 on hit (ref pinned, info filled), 0 on miss (expired/flushed count as miss,
 * and so does an item already pinned ~65000 times, memcached's refcount guard).
 * bump=1 marks the item recently used and sets its last access (get); touch_exptime != NULL also
 * sets the exptime (gat), and then the lookup counts as touch_hits/touch_misses instead of
 * get_hits/get_misses, as in memcached. info->last_access and info->fetched are the values from
 * before this lookup (meta `l`, `h`); info->exptime is the one after a touch. */
int remc_store_get(remc_store *s, const uint8_t *key, uint32_t klen, int bump,
                   const int64_t *touch_exptime, remc_item_ref *ref, remc_item_info *info);
/* Copy the value of a pinned item (info.nbytes bytes) into dst. */
void remc_store_copy_value(remc_store *s, const remc_item_ref *ref, uint8_t *dst);
void remc_store_release(remc_store *s, remc_item_ref *ref);

/* set/add/replace/append/prepend/cas. `cas` is the compare value for REMC_MODE_CAS; for
 * APPEND/PREPEND a non-zero `cas` is compared too (binary protocol), EXISTS on mismatch. On STORED,
 * *new_cas (if not NULL) gets the item's new CAS. As memcached 1.6.18: append/prepend keep the old
 * flags and exptime and answer NOT_STORED (old kept) if the result would exceed item_size_max;
 * TOO_LARGE/NO_MEMORY unlink the old item only for SET. A key length outside 1..250 or an unknown
 * mode gives NOT_STORED. */
int remc_store_store(remc_store *s, int mode, const uint8_t *key, uint32_t klen,
                     const uint8_t *value, uint32_t vlen, uint32_t flags, int64_t exptime,
                     uint64_t cas, uint64_t *new_cas);

/* delete; cas != 0 must match (binary/meta). DELETED / NOT_FOUND / EXISTS. */
int remc_store_delete(remc_store *s, const uint8_t *key, uint32_t klen, uint64_t cas);

/* incr/decr: u64 wrap on incr, floor 0 on decr; in place (space padded) when the digits fit,
 * like memcached. On STORED, *result gets the new value, *new_cas the new CAS.
 * Returns STORED / NOT_FOUND / NON_NUMERIC / NO_MEMORY. */
int remc_store_arith(remc_store *s, const uint8_t *key, uint32_t klen, int incr, uint64_t delta,
                     uint64_t *result, uint64_t *new_cas);

/* arith with a CAS to compare (meta ma C; 0 = none): EXISTS on mismatch, else as remc_store_arith. */
int remc_store_arith_cas(remc_store *s, const uint8_t *key, uint32_t klen, int incr,
                         uint64_t delta, uint64_t cas, uint64_t *result, uint64_t *new_cas);

/* Meta commands ----------------------------------------------------------------------------
 * mg/me: a lookup that neither bumps nor marks fetched (memcached fetches them "locked" and
 * bumps later, after reading `h`/`l`): count 0 = no stats, 1 = get hit/miss, 2 = touch hit/miss,
 * 3 = touch hit / get miss (mg with T: memcached counts a touch only when it found the item).
 * Returns 1 (pinned, info filled), 0 (miss), -1 (item pinned REFCOUNT_MAX times: mg's
 * "refcount overflow" error). */
int remc_store_meta_get(remc_store *s, const uint8_t *key, uint32_t klen, int count,
                        remc_item_ref *ref, remc_item_info *info);
/* On a pinned item: take mg's win token. 1 if this call set REMC_META_TOKEN_SENT, 0 if it was
 * already set: with several threads, exactly one of the clients racing on a stale item wins. */
int remc_store_meta_claim(remc_store *s, const remc_item_ref *ref);
/* On a pinned item: meta |= set, &= ~clear; exptime (raw protocol value) if not NULL; bump = mark
 * fetched and recently used; refreshes info->exptime and info->meta if info is not NULL. */
void remc_store_meta_update(remc_store *s, const remc_item_ref *ref, uint32_t set, uint32_t clear,
                            const int64_t *exptime, int bump, remc_item_info *info);
/* md: DELETED / NOT_FOUND / EXISTS (has_cas and cas differs, also C0). invalidate (md I): instead
 * of deleting, mark stale, clear the win token, take a new CAS (*new_cas) and the exptime if
 * given. */
int remc_store_meta_delete(remc_store *s, const uint8_t *key, uint32_t klen, int has_cas,
                           uint64_t cas, int invalidate, const int64_t *exptime,
                           uint64_t *new_cas);

/* touch: TOUCHED / NOT_FOUND */
int remc_store_touch(remc_store *s, const uint8_t *key, uint32_t klen, int64_t exptime);

/* flush_all: items last stored/accessed at or before the flush time become invalid (lazily).
 * exptime uses the same rules as item exptimes; <= 0 means now. memcached's exact rule is kept:
 * with CAS the cutoff is flush time - 1 second (items stored earlier in the current second are
 * caught by their CAS instead), so a delayed flush takes effect one second early; with -C items
 * stored in the flush second itself are flushed too; an absolute time in the past does nothing. */
void remc_store_flush(remc_store *s, int64_t exptime);

/* Check up to `max_items` items (walking each class's LRU from the tail, resuming where the
 * last call stopped) and free the expired or flushed ones; also advances a hash table
 * migration and, at most once per store-clock second, runs the slab page mover (memcached's
 * slab_automove: memory over a lowered -m, surplus free pages, and pages moved from the class
 * with the oldest LRU tail to one evicting much younger items, decided as memcached's). The background reclaimer calls
 * this periodically. Returns how many expired/flushed items were freed. */
uint32_t remc_store_reclaim(remc_store *s, uint32_t max_items);

/* cache_memlimit: change -m at run time. 0 on success, -1 if bytes is 0 or address space for
 * the new limit cannot be mapped. Shrinking stops handing out pages at once; the pages over
 * the limit are taken back (their items evicted) and returned to the kernel by later
 * remc_store_reclaim calls, except one page per class that holds any. */
int remc_store_set_mem_limit(remc_store *s, uint64_t bytes);

/* slabs reassign <src> <dst>: move one page from class src (0 = the global page pool, -1 = any
 * class with a spare page) to class dst (0 = the pool), at once: the items on the page move to
 * free chunks of src or are evicted. Results are memcached's reply words. */
#define REMC_STORE_REASSIGN(X) X(OK) X(BUSY) X(BADCLASS) X(NOSPARE) X(SAME)
enum remc_store_reassign {
#define REMC_X_ENUM(id) REMC_REASSIGN_##id,
  REMC_STORE_REASSIGN(REMC_X_ENUM)
#undef REMC_X_ENUM
};
int remc_store_slabs_reassign(remc_store *s, int32_t src, int32_t dst);
/* slabs automove 0|1|2: 0 stops automatic page moves (giving memory back after cache_memlimit
 * lowered -m still happens); 1 runs memcached's automover (the default); 2 is its aggressive
 * mode, a page for each eviction from any class with a spare one, in turn. ratio and window are
 * memcached's slab_automove_ratio (0.8) and slab_automove_window (30 samples, one a second; at
 * most 120): a change of either starts the window again, as memcached does. */
void remc_store_set_automove(remc_store *s, int mode, double ratio, uint32_t window);

/* memcached's LRU maintainer and segmented LRU (`-o no_modern`, `no_lru_maintainer`, `lru mode`,
 * `lru tune`, `lru temp_ttl`). MAINTAINER: each remc_store_reclaim call juggles every class's
 * LRUs as memcached's maintainer thread does (lru_maintainer_juggle): expired or flushed items
 * at the tails are freed (`reclaimed`), HOT and WARM tails over their share of the class's bytes
 * (hot_pct, warm_pct) or older than the COLD tail's age times hot/warm_max_factor move to COLD,
 * active items in WARM are moved up, active ones in HOT go to WARM. Without FLAT (segmented, the
 * default) new items enter HOT, an item read a second time while in COLD moves to WARM, and an
 * allocation that finds no free chunk evicts from COLD's tail, moving HOT's tail down when COLD
 * has nothing to give. FLAT: everything is in COLD, a read relinks an item at most once a minute,
 * and each store first frees up to 5 expired or flushed items from its class's tail, stopping at
 * the first live one (memcached's do_item_alloc_pull without a segmented LRU; also `reclaimed`).
 * temp_ttl >= 0: items stored with a TTL of at most temp_ttl seconds go to the TEMP LRU, which
 * is never evicted, only reclaimed when they expire (memcached's temp_lru). tune NULL: keep the
 * current one (memcached's defaults 20, 40, 0.2, 2.0, temp LRU off). Default flags: MAINTAINER. */
#define REMC_LRU_MAINTAINER 1
#define REMC_LRU_FLAT 2
typedef struct remc_lru_tune {
  int32_t hot_pct, warm_pct; /* ints as memcached's (`lru tune` can wrap one negative) */
  double hot_max_factor, warm_max_factor;
  int64_t temp_ttl; /* < 0: no TEMP LRU */
} remc_lru_tune;
void remc_store_set_lru(remc_store *s, int flags, const remc_lru_tune *tune);

/* stats cachedump <cls> <limit>: the items of class cls, most recently stored first, at most
 * `limit` (0 = all). fn gets each key, value length and exptime (Unix seconds, 0 = never) and
 * returns nonzero to stop (memcached stops at 2 MiB of output). Items stored with a binary
 * (base64) key are skipped, as memcached does. Returns how many items fn was given. */
typedef int (*remc_store_dump_fn)(void *ctx, const uint8_t *key, uint32_t klen, uint32_t nbytes,
                                  int64_t exptime);
uint32_t remc_store_cachedump(remc_store *s, uint32_t cls, uint32_t limit, remc_store_dump_fn fn,
                              void *ctx);

/* lru_crawler metadump: the live items (neither expired nor flushed) of class cls (0 = every
 * class, in class order), each class from its LRU tail (oldest first: the crawler's order), with
 * what memcached's metadump prints (info as remc_store_get fills it, ntotal = the item's size).
 * Binary-key items are skipped as in cachedump. fn returns nonzero to stop. Returns how many
 * items fn was given. */
typedef int (*remc_store_meta_fn)(void *ctx, const uint8_t *key, uint32_t klen,
                                  const remc_item_info *info, uint64_t ntotal);
uint32_t remc_store_metadump(remc_store *s, uint32_t cls, remc_store_meta_fn fn, void *ctx);

/* Statistics ------------------------------------------------------------------------------ */

/* Global store statistics, in this order; names are memcached's `stats` field names. */
#define REMC_STORE_STATS(X) \
  X(get_hits) X(get_misses) X(get_expired) X(get_flushed) \
  X(delete_misses) X(delete_hits) X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits) \
  X(cas_misses) X(cas_hits) X(cas_badval) X(touch_hits) X(touch_misses) \
  X(store_too_large) X(store_no_memory) \
  X(bytes) X(curr_items) X(total_items) X(evictions) X(reclaimed) X(expired_unfetched) \
  X(evicted_unfetched) X(evicted_active) X(limit_maxbytes) X(total_malloced) \
  X(hash_power_level) X(hash_bytes) X(hash_is_expanding) X(slab_global_page_pool) \
  X(slabs_moved) X(slab_reassign_rescues) X(slab_reassign_chunk_rescues) X(slab_reassign_evictions_nomem) \
  X(slab_reassign_busy_items) X(crawler_reclaimed) X(crawler_items_checked) X(lrutail_reflocked) \
  X(lru_maintainer_juggles) X(moves_to_cold) X(moves_to_warm) X(moves_within_lru) X(direct_reclaims)

enum remc_store_stat {
#define REMC_X_ENUM(id) REMC_STAT_##id,
  REMC_STORE_STATS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_STAT_COUNT
};
void remc_store_stats(remc_store *s, double out[REMC_STAT_COUNT]);
/* `stats reset`: zero every counter (not curr_items, bytes or memory figures). */
void remc_store_stats_reset(remc_store *s);

/* Per slab class: `stats slabs` fields, then `stats items` fields, memcached's names and order. */
#define REMC_SLAB_STATS(X) \
  X(chunk_size) X(chunks_per_page) X(total_pages) X(total_chunks) X(used_chunks) \
  X(free_chunks) X(free_chunks_end) X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) \
  X(decr_hits) X(cas_hits) X(cas_badval) X(touch_hits)
#define REMC_ITEM_STATS(X) \
  X(number) X(number_hot) X(number_warm) X(number_cold) X(number_temp) X(age_hot) X(age_warm) X(age) \
  X(mem_requested) X(evicted) X(evicted_nonzero) X(evicted_time) X(outofmemory) \
  X(tailrepairs) X(reclaimed) X(expired_unfetched) X(evicted_unfetched) X(evicted_active) \
  X(crawler_reclaimed) X(crawler_items_checked) X(lrutail_reflocked) X(moves_to_cold) \
  X(moves_to_warm) X(moves_within_lru) X(direct_reclaims) X(hits_to_hot) X(hits_to_warm) \
  X(hits_to_cold) X(hits_to_temp)

enum remc_slab_stat {
#define REMC_X_ENUM(id) REMC_SSTAT_##id,
  REMC_SLAB_STATS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_SSTAT_COUNT
};
enum remc_item_stat {
#define REMC_X_ENUM(id) REMC_ISTAT_##id,
  REMC_ITEM_STATS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_ISTAT_COUNT
};

/* Number of slab classes (ids 1..n; memcached numbers classes from 1). */
uint32_t remc_store_class_count(const remc_store *s);
/* Fill one class's stats (either array may be NULL). Returns 1 if the class owns pages, 0 if it
 * has never been used or cls is out of range (memcached skips those in `stats slabs`; `stats
 * items` also skips classes whose `number` is 0). */
int remc_store_class_stats(remc_store *s, uint32_t cls, double slab_out[REMC_SSTAT_COUNT],
                           double item_out[REMC_ISTAT_COUNT]);

/* Fault-injection support: the address of a word inside store memory (the first item's value
 * if any, else the hash table) and a checksum of all live items (key, flags, value), for
 * tests that prove the store is untouched. */
void *remc_store_probe_address(remc_store *s);
uint64_t remc_store_checksum(remc_store *s);

#ifdef __cplusplus
}
#endif
#endif
