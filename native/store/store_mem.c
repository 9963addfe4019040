/*
 * store_mem.c — the store's memory: pkey-tagged mappings, slab classes, pages and chunks.
 *
 * Memory model (memcached's): -m bounds the bytes of slab pages handed to classes. Pages come
 * from arenas (large MAP_NORESERVE mappings, so untouched address space costs no RSS) on demand;
 * chunks are carved from a class's newest page lazily, so a page is only touched as it fills.
 * As in memcached, a class that owns no page yet may take one even past the limit, so that
 * every item size can be stored at all; the overshoot is bounded by one page per class.
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
  s->arenas[s->narenas].base = p;
  s->arenas[s->narenas].size = len;
  s->arenas[s->narenas].used = 0;
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
  s->page_size = round_up(cfg->item_size_max > (1u << 20) ? cfg->item_size_max : (1u << 20),
                          4096);
  uint64_t size = (uint64_t)ITEM_HEADER + (cfg->chunk_min ? cfg->chunk_min : 48);
  if (size > s->page_size / 2) {
    *err = "chunk_min too large for the page size";
    return -1;
  }
  /* memcached's class table: grow by the factor (8-byte aligned) while a chunk is below
   * page/factor; the last class holds one page-sized chunk, for the largest items. */
  uint32_t i = 1;
  while (i < MAX_CLASSES && (double)size < (double)s->page_size / f) {
    size = round_up(size, 8);
    s->cls[i].size = (uint32_t)size;
    s->cls[i].perslab = (uint32_t)(s->page_size / size);
    uint64_t next = (uint64_t)((double)size * f);
    size = next > size ? next : size + 8;
    i++;
  }
  s->cls[i].size = (uint32_t)s->page_size;
  s->cls[i].perslab = 1;
  s->nclasses = i;
  s->mem_limit = cfg->mem_limit;
  return reserve_to(s, s->mem_limit, err);
}

void mem_destroy(remc_store *s) {
  for (uint32_t i = 0; i < s->narenas; i++) mem_unmap_region(s->arenas[i].base, s->arenas[i].size);
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

static int new_page(remc_store *s, sclass *c) {
  if (c->pages > 0 && s->mem_malloced + s->page_size > s->mem_limit) return 0;
  for (uint32_t a = 0; a < s->narenas; a++) {
    arena *ar = &s->arenas[a];
    if (ar->used + s->page_size <= ar->size) {
      c->end_ptr = ar->base + ar->used;
      c->end_free = c->perslab;
      ar->used += s->page_size;
      c->pages++;
      s->mem_malloced += s->page_size;
      return 1;
    }
  }
  return 0; /* cannot happen while reserve_to() keeps limit + one page per class mapped */
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
