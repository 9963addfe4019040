/*
 * store_int.h — private layout of the item store (included by the native/store sources only).
 *
 * Everything declared here lives in memory the store mmaps itself and tags with its protection
 * key: the remc_store struct, the hash table(s) and the slab arenas. Nothing is malloc'd.
 */
#ifndef REMC_STORE_INT_H
#define REMC_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "remc_store.h"

/* Locking, memcached's discipline (thread.c item_lock, items.c lru_locks, slabs_lock):
 *  - item locks: ITEM_LOCKS mutexes striped by key hash. A command holds its key's stripe from
 *    lookup to reply, so each is atomic (incr, cas, append, ms modes, gat: no lost update). A
 *    hash bucket's items all have one stripe (the table has at least ITEM_LOCKS buckets), so the
 *    stripe also guards the bucket's chain, and the item's fields (flags, exptime, refcount,
 *    value, time).
 *  - per-class LRU locks: the LRU links of the class, its crawler marker.
 *  - the slabs lock: free lists, pages, the pool, the arenas.
 *  - the background lock: the reclaimer's own state (one reclaimer at a time).
 *  - reader slots: a command (and a crawler slice) holds its thread's slot, a mutex no other
 *    thread uses while there are at most READER_SLOTS threads, so it costs no shared cache
 *    line. What must see everything at once (flush_all, stats, slab page moves, the start and
 *    end of a table expansion, dumps) takes every slot (lock_all): the store holds still, as
 *    memcached's pause_threads. Beyond READER_SLOTS threads, two share a slot and serialise.
 * Order: background -> reader slot (or all) -> item stripe -> LRU -> slabs. Who walks an LRU
 * (the tail puller, the crawler) holds the LRU lock and only trylocks an item's stripe,
 * skipping the item when busy (memcached's do_item_lru_pull_tail). Counters are atomic adds;
 * the clock is an atomic word. */
#define ITEM_LOCKS 1024 /* <= 2^10, the smallest table (remc_store_create clamps hashpower) */
#define READER_SLOTS 32
#define CNT_ADD(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define CNT_SUB(x, n) __atomic_fetch_sub(&(x), (n), __ATOMIC_RELAXED)
#define CNT_INC(x) CNT_ADD(x, 1)
#define NOW(s) __atomic_load_n(&(s)->now, __ATOMIC_RELAXED)

#define REMC_LIKELY(x) __builtin_expect(!!(x), 1)
#define REMC_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define KEY_MAX 250
#define REALTIME_MAXDELTA 2592000   /* 30 days: larger exptimes are absolute Unix times */
#define ITEM_HEADER 48              /* memcached's sizeof(item) on 64-bit: part of the size rule */
#define MAX_CLASSES 63              /* memcached: MAX_NUMBER_OF_SLAB_CLASSES - 1, ids 1..63 */
#define MAX_ARENAS 32
#define REFCOUNT_MAX 0xFFF0         /* pins beyond this report a miss (memcached: ~60000) */

/* it_flags */
#define IT_LINKED 0x01   /* in the hash table and an LRU */
#define IT_FETCHED 0x02  /* read at least once since stored */
#define IT_ACTIVE 0x04   /* read since it last passed the LRU tail: gets a second chance */
#define IT_HASFLAGS 0x08 /* client flags != 0: 4 bytes stored after the key */
#define IT_SLABBED 0x10  /* chunk is on a class free list */
#define IT_CRAWLER 0x20  /* the reclaimer's position marker in an LRU, not an item */
#define IT_MOVING 0x40   /* transient: chunk of a page being taken from its class */
#define IT_CHUNK 0x80    /* a piece of a chunked item's value (struct chunk), not an item */

/* The LRUs of a class, memcached's segmented LRU (items.c): new items enter HOT (TEMP when
 * their TTL is under temporary_ttl); the maintainer moves HOT and WARM tails to COLD by size
 * and age; an item read twice while in COLD goes to WARM; evictions take COLD's tail. The flat
 * LRU (-o no_modern, `lru mode flat`) keeps everything in COLD. item.lru says which list. */
enum { LRU_HOT = 0, LRU_WARM = 1, LRU_COLD = 2, LRU_TEMP = 3, LRU_SEGS = 4 };

/* 48-byte header, exactly memcached's size so that the item size arithmetic (and therefore
 * which values fit under -I) is the same. Layout after it:
 *   [cas u64 if cas_enabled] key[nkey] '\0' [flags u32 if IT_HASFLAGS] value[nbytes] "\r\n" */
typedef struct item {
  struct item *next;   /* LRU: toward the tail (older); free list link when slabbed */
  struct item *prev;   /* LRU: toward the head (newer) */
  struct item *h_next; /* hash chain */
  uint32_t time;       /* last access, relative store seconds */
  uint32_t exptime;    /* relative store seconds, 0 = never */
  uint32_t nbytes;     /* value length, without the CRLF */
  uint32_t hv;         /* low 32 bits of the key hash (bucket selection, cheap compare) */
  uint16_t refcount;   /* pins held through remc_item_ref (the link itself is not counted) */
  uint8_t iflags;
  uint8_t cls;
  uint8_t nkey;
  uint8_t mflags;      /* REMC_META_* (meta commands: stale, win token sent, binary key) */
  uint8_t lru;         /* LRU_HOT..LRU_TEMP: the list it is linked in (under its LRU lock) */
  uint8_t hcls;        /* chunked item: the class its header's memory is from (0: not chunked) */
} item;

_Static_assert(sizeof(item) == ITEM_HEADER, "item header must be memcached's 48 bytes");

/* Items larger than slab_chunk_max are chunked, as memcached does: a header item (key, flags,
 * no value) from a small class, and the value (with its CRLF) in pieces of at most
 * slab_chunk_max bytes each, the last one from the class its remainder fits. The header's `cls`
 * is the largest class, whose LRU it is in (memcached's slabs_clsid), and `hcls` the class of
 * its own memory. Where its value would be, the header keeps the first piece's address; the
 * pieces link to each other and back to the header. A piece has memcached's item_chunk size
 * and keeps refcount, iflags and cls where an item has them, so a walk over a page's chunks
 * tells pieces from items. Pins are taken on the header. */
typedef struct chunk {
  struct chunk *next;  /* the next piece (NULL: the last) */
  struct chunk *prev;  /* the previous piece (NULL: the first, which the header points at) */
  struct item *head;   /* the header of the item it belongs to */
  uint32_t size;       /* bytes of value it holds (its allocation minus this header) */
  uint32_t pad0_[3];
  uint16_t refcount;   /* 0: pins are on the header */
  uint8_t iflags;      /* IT_CHUNK (IT_SLABBED once freed) */
  uint8_t cls;         /* the class of its memory */
  uint8_t pad1_[4];
} chunk;

_Static_assert(sizeof(chunk) == ITEM_HEADER, "a piece's header is memcached's item_chunk, 48 bytes");
_Static_assert(offsetof(chunk, refcount) == offsetof(item, refcount) &&
                   offsetof(chunk, iflags) == offsetof(item, iflags) &&
                   offsetof(chunk, cls) == offsetof(item, cls),
               "a piece keeps refcount, iflags and cls where an item does");

typedef struct sclass {
  uint32_t size;        /* chunk size */
  uint32_t perslab;     /* chunks per page */
  item *freelist;
  uint32_t nfree;
  uint32_t end_free;    /* chunks not yet carved from the newest page */
  uint8_t *end_ptr;
  uint32_t pages;
  uint32_t nitems;      /* linked items in this class's LRUs */
  item *head[LRU_SEGS], *tail[LRU_SEGS]; /* per LRU: head = most recent */
  uint32_t nseg[LRU_SEGS];    /* items per LRU (the crawler marker is not counted) */
  uint64_t seg_bytes[LRU_SEGS]; /* item sizes per LRU: the HOT/WARM limits (memcached's sizes_bytes) */
  uint64_t requested;   /* sum of item sizes of linked items (mem_requested) */
  item crawler;         /* reclaimer marker, in one of the LRUs (its .lru) while a pass is under way */
  int crawling;
  /* per-class counters (stats slabs / stats items) */
  uint64_t get_hits, cmd_set, delete_hits, incr_hits, decr_hits, cas_hits, cas_badval,
      touch_hits;
  uint64_t evicted, evicted_nonzero, outofmemory, reclaimed, expired_unfetched,
      evicted_unfetched, evicted_active, crawler_reclaimed, crawler_items_checked,
      lrutail_reflocked, moves_within_lru, moves_to_cold, moves_to_warm, direct_reclaims;
  uint64_t lru_hits[LRU_SEGS]; /* get hits by the LRU the item was in (hits_to_hot ...) */
  uint32_t evicted_time;
  pthread_mutex_t lru_lock;
} sclass;

/* One class's figures for one second of the automover's window (memcached's window_data). */
#define AUTOMOVE_WINDOW_MAX 120
typedef struct am_sample {
  uint32_t age;          /* the age of the class's oldest item */
  uint8_t dirty;         /* it evicted, ran out of memory or grew a page in that second */
  uint8_t evicted_seen;  /* it evicted */
  float evicted_ratio;   /* its share of all evictions in that second */
} am_sample;

typedef struct arena {
  uint8_t *base;
  size_t size;
  size_t used;
  uint8_t *owner;      /* per page: the class that owns it, 0 = none (unused, pool, released) */
  size_t owner_len;
} arena;

struct remc_store {
  pthread_mutex_t item_locks[ITEM_LOCKS];
  pthread_mutex_t readers[READER_SLOTS];
  uint32_t next_slot;     /* atomic: the next thread's reader slot */
  pthread_mutex_t slabs_lock;
  pthread_mutex_t bg_lock;
  size_t self_size;       /* size of this struct's own mapping */
  int pkey;
  int evictions;
  uint32_t cas_sz;        /* 8 or 0 */
  uint32_t item_size_max;
  uint32_t chunk_max;     /* slab_chunk_max: items above it are chunked */
  uint32_t chunk_cls;     /* the class of chunk_max bytes, the LRU of chunked items */
  uint64_t seed;          /* hash seed, random per store (hash flooding) */

  /* clock: rel = unix - started, kept >= 2 so that rel exptime 1 ("already expired") and
   * flush's "oldest_live = now - 1" never hit 0, which means "none" for both. */
  int64_t started;
  uint32_t now;
  uint32_t oldest_live;   /* flush: items with time <= this are invalid once now >= it */
  uint64_t oldest_cas;    /* flush: items with a lower CAS are invalid */
  uint64_t cas_counter;

  /* hash table */
  item **buckets;
  uint32_t hashpower;
  int expanding;
  item **old_buckets;     /* while expanding: buckets < expand_bucket have moved */
  uint64_t expand_bucket; /* atomic: moves on under the stripe of the bucket it names */
  int expand_wanted;      /* atomic: a writer saw the table must start or finish growing */

  /* memory */
  uint64_t mem_limit;
  uint64_t mem_malloced;  /* pages handed to classes */
  int shrinking;          /* cache_memlimit went below mem_malloced: move pages out until under */
  uint64_t reserved;      /* bytes of arena address space mapped */
  size_t page_size;
  arena arenas[MAX_ARENAS];
  uint32_t narenas;
  uint32_t nclasses;
  sclass cls[MAX_CLASSES + 1]; /* index 0 unused: memcached numbers classes from 1 */
  uint32_t crawl_cls;

  /* pages taken back from classes (slab page mover): `pool` pages are still counted in
   * mem_malloced and can be handed to any class; `released` pages were returned to the kernel
   * (MADV_DONTNEED) after -m shrank and count again once reused. Both are linked through the
   * first word of the page. */
  void *pool;
  uint32_t pool_pages;
  void *released;
  uint32_t last_automove;
  uint32_t pick_cur;      /* `slabs reassign -1`: the class picked last (memcached's round robin) */
  int automove;           /* slabs automove 0|1|2: 0 = only -m shrinking moves pages */
  /* memcached's automover (slab_automove.c): per class, a window of the last `am_window`
   * per-second samples; `am_*` below hold each class's figures at the previous sample */
  double am_ratio;        /* slab_automove_ratio */
  uint32_t am_window;     /* slab_automove_window, at most AUTOMOVE_WINDOW_MAX */
  uint32_t am_cur;        /* samples taken since the window was (re)started */
  uint64_t am_evicted[MAX_CLASSES + 1], am_oom[MAX_CLASSES + 1];
  uint32_t am_pages[MAX_CLASSES + 1];
  am_sample am_win[MAX_CLASSES + 1][AUTOMOVE_WINDOW_MAX];
  int lru_flags;          /* REMC_LRU_* (remc_store_set_lru); written with the store stopped */
  remc_lru_tune tune;     /* segmented LRU limits, also written with the store stopped */
  uint64_t lru_maintainer_juggles; /* maintainer passes (remc_store_reclaim calls that juggled) */
  uint64_t slabs_moved, slab_reassign_rescues, slab_reassign_chunk_rescues,
      slab_reassign_evictions_nomem, slab_reassign_busy_items;
  /* the automover's page moves (`watch sysevents` slab_move lines): a ring under bg_lock, the
   * oldest overwritten when nobody drains it */
  uint32_t move_head, move_count;
  int32_t move_log[REMC_MOVE_LOG][2];

  /* global counters */
  uint64_t get_misses, get_expired, get_flushed, delete_misses, incr_misses, decr_misses,
      cas_misses, touch_misses, store_too_large, store_no_memory, total_items, curr_items,
      bytes;

  /* watch evictions: while log_evictions is set, evictions are recorded here (a ring; the
   * oldest records are overwritten when nobody drains it, as memcached drops log entries) */
  int log_evictions;      /* atomic */
  pthread_mutex_t evict_lock;
  uint32_t evict_head, evict_count;
  remc_evict_rec evict_log[REMC_EVICT_LOG];
};

/* ---- hash: a 64-bit multiply-fold hash in the style of wyhash (mum = 128-bit product folded
 * to 64 bits), written for keys of at most 250 bytes; seeded per store. ---- */
#define H_K0 0x9e3779b97f4a7c15ull
#define H_K1 0xd6e8feb86659fd93ull
#define H_K2 0xa0761d6478bd642full

static inline uint64_t h_rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint64_t h_rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t h_mum(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}
static inline uint64_t remc_hash64(const void *key, size_t len, uint64_t seed) {
  const uint8_t *p = (const uint8_t *)key;
  uint64_t a, b;
  seed ^= h_mum(seed ^ H_K0, H_K1);
  if (REMC_LIKELY(len <= 16)) {
    if (len >= 4) {
      size_t q = (len >> 3) << 2; /* 0 or 4: the two reads overlap for 4..7 bytes */
      a = (h_rd32(p) << 32) | h_rd32(p + q);
      b = (h_rd32(p + len - 4) << 32) | h_rd32(p + len - 4 - q);
    } else if (len > 0) {
      a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = len;
    while (i > 16) {
      seed = h_mum(h_rd64(p) ^ H_K1, h_rd64(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    a = h_rd64(p + i - 16); /* the last 16 bytes, overlapping what was consumed */
    b = h_rd64(p + i - 8);
  }
  a ^= H_K1;
  b ^= seed;
  return h_mum(H_K2 ^ len, h_mum(a, b) ^ H_K0);
}

/* ---- item accessors ---- */
static inline uint8_t *item_key(const remc_store *s, const item *it) {
  return (uint8_t *)(it + 1) + s->cas_sz;
}
static inline uint64_t item_cas(const remc_store *s, const item *it) {
  uint64_t c = 0;
  if (s->cas_sz) memcpy(&c, it + 1, 8);
  return c;
}
static inline void item_set_cas(const remc_store *s, item *it, uint64_t c) {
  if (s->cas_sz) memcpy(it + 1, &c, 8);
}
static inline uint32_t item_flags(const remc_store *s, const item *it) {
  uint32_t f = 0;
  if (it->iflags & IT_HASFLAGS) memcpy(&f, item_key(s, it) + it->nkey + 1, 4);
  return f;
}
static inline uint8_t *item_data(const remc_store *s, const item *it) {
  return item_key(s, it) + it->nkey + 1 + ((it->iflags & IT_HASFLAGS) ? 4 : 0);
}
static inline uint64_t size_of(const remc_store *s, uint32_t klen, uint64_t vlen, uint32_t flags) {
  return (uint64_t)ITEM_HEADER + s->cas_sz + klen + 1 + vlen + 2 + (flags ? 4 : 0);
}
static inline uint64_t item_ntotal(const remc_store *s, const item *it) {
  return (uint64_t)ITEM_HEADER + s->cas_sz + it->nkey + 1 + it->nbytes + 2 +
         ((it->iflags & IT_HASFLAGS) ? 4 : 0);
}
static inline int is_chunked(const item *it) { return it->hcls != 0; }
/* a chunked item's header: memcached's htotal (the item, its key and flags, an item_chunk) */
static inline uint64_t header_size(const remc_store *s, uint32_t klen, uint32_t flags) {
  return (uint64_t)ITEM_HEADER + s->cas_sz + klen + 1 + (flags ? 4 : 0) + sizeof(chunk);
}
/* the bytes of its own chunk an item occupies */
static inline uint64_t item_memsize(const remc_store *s, const item *it) {
  return is_chunked(it) ? header_size(s, it->nkey, it->iflags & IT_HASFLAGS) : item_ntotal(s, it);
}
static inline chunk *first_piece(const remc_store *s, const item *it) {
  chunk *ch;
  memcpy(&ch, item_data(s, it), sizeof ch);
  return ch;
}
static inline void set_first_piece(const remc_store *s, item *it, chunk *ch) {
  memcpy(item_data(s, it), &ch, sizeof ch);
}
static inline uint8_t *piece_data(chunk *ch) { return (uint8_t *)(ch + 1); }

/* ---- store_mem.c: mappings, slab classes, chunks ---- */
void *mem_map_region(int pkey, size_t len, const char **err);
void mem_unmap_region(void *p, size_t len);
int mem_init(remc_store *s, const remc_store_config *cfg, const char **err);
void mem_destroy(remc_store *s);
int mem_grow_reserve(remc_store *s, uint64_t new_limit);
uint32_t mem_class_for(const remc_store *s, uint64_t ntotal);
item *mem_chunk_alloc(remc_store *s, uint32_t id); /* free list / carve / new page, no eviction */
void mem_chunk_free(remc_store *s, item *it);
/* page mover support */
uint8_t *mem_page_of(const remc_store *s, const void *p, uint8_t **owner); /* page start */
uint8_t *mem_find_page(remc_store *s, uint32_t id, uint32_t skip); /* skip-th page of class id */
void mem_page_to_pool(remc_store *s, uint8_t *page);
void mem_give_page(remc_store *s, sclass *c, uint8_t *page); /* page becomes c's carving page */
uint32_t mem_release_over_limit(remc_store *s, uint32_t max_pages);

/* Copy an item's value (it->nbytes bytes, chunked or not) to dst (store.c) */
void store_value_read(const remc_store *s, const item *it, uint8_t *dst);

/* -e load: move a restored item to the head of LRU q (store.c) */
void store_lru_restore(remc_store *s, item *it, uint32_t q);

#endif
