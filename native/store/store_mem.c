/*
 * store_mem.c — the store's memory: pkey-tagged mappings, slab classes, pages and chunks.
 *
 * Memory model (memcached's): -m bounds the bytes of slab pages handed to classes. Pages come
 * from arenas (large MAP_NORESERVE mappings, so untouched address space costs no RSS) on demand;
 * chunks are carved from a class's newest page lazily, so a page is only touched as it fills.
 * As in memcached, a class that owns no page yet may take one even past the limit, so that
 * every item size can be stored at all; the overshoot is bounded by one page per class.
 * Pages can come back from classes (the page mover in store.c): they wait in a pool, still
 * counted against -m, or go back to the kernel when -m was lowered. A one-byte owner table per
 * arena page says which class holds it.
 */
#include <errno.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store_int.h"

#ifndef SYS_pkey_mprotect
#define SYS_pkey_mprotect 329
#endif

void *mem_map_region(int pkey, size_t len, const char **err) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    if (err) *err = "mmap of store memory failed";
    return NULL;
  }
  if (pkey >= 0) {
    /* Tagging is the whole point of the key: failing to tag must fail, never degrade. */
    if (syscall(SYS_pkey_mprotect, p, len, PROT_READ | PROT_WRITE, pkey) != 0) {
      munmap(p, len);
      if (err) *err = "pkey_mprotect of store memory failed (is the key allocated?)";
      return NULL;
    }
  }
  /* Transparent huge pages where the system allows them (THP "madvise" mode): random lookups
   * over hundreds of MiB otherwise pay a page walk per access, which is dear in a VM. */
  if (len >= (2u << 20)) (void)madvise(p, len, MADV_HUGEPAGE);
  return p;
}

void mem_unmap_region(void *p, size_t len) {
  if (p) munmap(p, len);
}

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

/* Map address space so that pages up to `limit` plus one first page per class can be had. */
static int reserve_to(remc_store *s, uint64_t limit, const char **err) {
  uint64_t want = round_up(limit, s->page_size) + (uint64_t)s->nclasses * s->page_size;
  if (want <= s->reserved) return 0;
  if (s->narenas >= MAX_ARENAS) {
    if (err) *err = "too many store arenas";
    return -1;
  }
  uint64_t len = want - s->reserved;
  void *p = mem_map_region(s->pkey, len, err);
  if (!p) return -1;
  size_t olen = round_up(len / s->page_size, 4096);
  uint8_t *owner = mem_map_region(s->pkey, olen, err);
  if (!owner) {
    mem_unmap_region(p, len);
    return -1;
  }
  arena *a = &s->arenas[s->narenas];
  a->base = p;
  a->size = len;
  a->used = 0;
  a->owner = owner;
  a->owner_len = olen;
  s->narenas++;
  s->reserved += len;
  return 0;
}

int mem_init(remc_store *s, const remc_store_config *cfg, const char **err) {
  double f = cfg->growth_factor;
  if (!(f > 1.0) || isnan(f) || f > 100.0) {
    *err = "growth_factor must be greater than 1.0";
    return -1;
  }
  if (cfg->mem_limit == 0) {
    *err = "mem_limit must be greater than 0";
    return -1;
  }
  if (cfg->item_size_max < 1024 || cfg->item_size_max > (1u << 30)) {
    *err = "item_size_max must be between 1 KiB and 1 GiB";
    return -1;
  }
  /* memcached's slab page is 1 MiB whatever -I is: larger items are chunked */
  s->page_size = 1u << 20;
  uint32_t top = cfg->slab_chunk_max ? cfg->slab_chunk_max : (uint32_t)(s->page_size / 2);
  if (top > s->page_size || s->page_size % top != 0) {
    *err = "slab_chunk_max must divide the 1 MiB slab page";
    return -1;
  }
  uint64_t size = (uint64_t)ITEM_HEADER + (cfg->chunk_min ? cfg->chunk_min : 48);
  if (size > top) {
    *err = "chunk_min too large for slab_chunk_max";
    return -1;
  }
  /* memcached's class table (slabs_init): grow by the factor (8-byte aligned) while a chunk is
   * below slab_chunk_max/factor, or the -o slab_sizes sizes (8-byte aligned); the last class
   * holds slab_chunk_max bytes. Larger items are chunked across classes. */
  uint32_t i = 1;
  if (cfg->slab_sizes) {
    for (; i < MAX_CLASSES - 1 && cfg->slab_sizes[i - 1]; i++) {
      uint64_t sz = round_up(cfg->slab_sizes[i - 1], 8);
      if (sz == 0 || sz > s->page_size || (i > 1 && sz <= s->cls[i - 1].size)) {
        *err = "slab_sizes must ascend, within a page";
        return -1;
      }
      s->cls[i].size = (uint32_t)sz;
      s->cls[i].perslab = (uint32_t)(s->page_size / sz);
    }
    size = top; /* no -f growth */
  }
  while (i < MAX_CLASSES && (double)size < (double)top / f) {
    size = round_up(size, 8);
    s->cls[i].size = (uint32_t)size;
    s->cls[i].perslab = (uint32_t)(s->page_size / size);
    uint64_t next = (uint64_t)((double)size * f);
    size = next; /* memcached: a class that does not grow repeats its size */
    i++;
  }
  s->cls[i].size = top;
  s->cls[i].perslab = (uint32_t)(s->page_size / top);
  s->chunk_max = top;
  s->chunk_cls = i;
  s->nclasses = i;
  s->mem_limit = cfg->mem_limit;
  s->mem_malloced = cfg->fake_malloced;
  return reserve_to(s, s->mem_limit, err);
}

void mem_destroy(remc_store *s) {
  for (uint32_t i = 0; i < s->narenas; i++) {
    mem_unmap_region(s->arenas[i].base, s->arenas[i].size);
    mem_unmap_region(s->arenas[i].owner, s->arenas[i].owner_len);
  }
  s->narenas = 0;
}

int mem_grow_reserve(remc_store *s, uint64_t new_limit) {
  const char *err = NULL;
  return reserve_to(s, new_limit, &err);
}

uint32_t mem_class_for(const remc_store *s, uint64_t ntotal) {
  /* Binary search over <= 63 sorted sizes; the caller has checked ntotal <= item_size_max. */
  uint32_t lo = 1, hi = s->nclasses;
  while (lo < hi) {
    uint32_t mid = (lo + hi) >> 1;
    if (s->cls[mid].size >= ntotal)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

uint8_t *mem_page_of(const remc_store *s, const void *p, uint8_t **owner) {
  const uint8_t *b = (const uint8_t *)p;
  for (uint32_t a = 0; a < s->narenas; a++) {
    const arena *ar = &s->arenas[a];
    if (b >= ar->base && b < ar->base + ar->size) {
      size_t idx = (size_t)(b - ar->base) / s->page_size;
      if (owner) *owner = &ar->owner[idx];
      return ar->base + idx * s->page_size;
    }
  }
  return NULL;
}

void mem_give_page(remc_store *s, sclass *c, uint8_t *page) {
  if (c->end_free) { /* the page being carved goes onto the free list first */
    while (c->end_free) {
      item *it = (item *)c->end_ptr;
      it->cls = (uint8_t)(c - s->cls);
      mem_chunk_free(s, it);
      c->end_ptr += c->size;
      c->end_free--;
    }
  }
  uint8_t *owner;
  mem_page_of(s, page, &owner);
  *owner = (uint8_t)(c - s->cls);
  c->end_ptr = page;
  c->end_free = c->perslab;
  c->pages++;
}

static int new_page(remc_store *s, sclass *c) {
  if (s->pool) { /* a page taken from another class: already counted in mem_malloced */
    uint8_t *page = s->pool;
    memcpy(&s->pool, page, sizeof(void *));
    s->pool_pages--;
    mem_give_page(s, c, page);
    return 1;
  }
  if (c->pages > 0 && s->mem_malloced + s->page_size > s->mem_limit) return 0;
  uint8_t *page = s->released;
  if (page) {
    memcpy(&s->released, page, sizeof(void *));
  } else {
    for (uint32_t a = 0; a < s->narenas && !page; a++) {
      arena *ar = &s->arenas[a];
      if (ar->used + s->page_size <= ar->size) {
        page = ar->base + ar->used;
        ar->used += s->page_size;
      }
    }
    if (!page) return 0; /* cannot happen: reserve_to() maps limit + one page per class */
  }
  s->mem_malloced += s->page_size;
  mem_give_page(s, c, page);
  return 1;
}

uint8_t *mem_find_page(remc_store *s, uint32_t id, uint32_t skip) {
  for (uint32_t a = 0; a < s->narenas; a++) {
    arena *ar = &s->arenas[a];
    size_t n = ar->used / s->page_size;
    for (size_t i = 0; i < n; i++)
      if (ar->owner[i] == id && skip-- == 0) return ar->base + i * s->page_size;
  }
  return NULL;
}

void mem_page_to_pool(remc_store *s, uint8_t *page) {
  uint8_t *owner;
  mem_page_of(s, page, &owner);
  *owner = 0;
  memcpy(page, &s->pool, sizeof(void *));
  s->pool = page;
  s->pool_pages++;
}

/* Give pool pages back to the kernel while more is mapped than -m allows (cache_memlimit). */
uint32_t mem_release_over_limit(remc_store *s, uint32_t max_pages) {
  uint32_t n = 0;
  while (n < max_pages && s->pool && s->mem_malloced > s->mem_limit) {
    uint8_t *page = s->pool;
    memcpy(&s->pool, page, sizeof(void *));
    s->pool_pages--;
    (void)madvise(page, s->page_size, MADV_DONTNEED);
    memcpy(page, &s->released, sizeof(void *));
    s->released = page;
    s->mem_malloced -= s->page_size;
    n++;
  }
  return n;
}

item *mem_chunk_alloc(remc_store *s, uint32_t id) {
  sclass *c = &s->cls[id];
  item *it = c->freelist;
  if (it) {
    c->freelist = it->next;
    c->nfree--;
    return it;
  }
  if (c->end_free == 0 && !new_page(s, c)) return NULL;
  it = (item *)c->end_ptr;
  c->end_ptr += c->size;
  c->end_free--;
  return it;
}

void mem_chunk_free(remc_store *s, item *it) {
  sclass *c = &s->cls[it->cls];
  it->iflags = IT_SLABBED;
  it->refcount = 0;
  it->next = c->freelist;
  it->prev = NULL;
  c->freelist = it;
  c->nfree++;
}
