/*
 * remc_store_persist.h — `-e PATH`: the store's items written to a file at a graceful stop and
 * read back at the next start (memcached's restartable cache, without its mmap'd slab memory).
 *
 * The file holds every linked item (key, flags, value, CAS, exptime, last access, fetched and
 * meta state) with the store's clock origin, so relative times keep their meaning and TTLs keep
 * counting while the server is down. Each record carries a checksum seeded with the dump's id,
 * and a trailer carries the record count and a checksum of them all: a file that is truncated,
 * corrupted, from another dump or not a dump at all is refused as a whole (the caller then
 * starts with an empty store), never half-loaded.
 *
 * The server's metadata file (PATH.meta, memcached's format) is written by TS; it names the
 * dump's id and carries the settings memcached checks before reusing a cache.
 */
#ifndef REMC_STORE_PERSIST_H
#define REMC_STORE_PERSIST_H

#include <stdint.h>

#include "remc_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The store's state at a dump (what the metadata file records), and what a load restores. */
typedef struct remc_persist_state {
  uint64_t id;           /* the dump's id (random, chosen by the caller): pairs PATH with PATH.meta */
  int64_t started;       /* Unix time of store-clock 0 (memcached's process_started) */
  uint32_t now;          /* store clock at the dump (memcached's current_time) */
  uint32_t oldest_live;  /* flush_all cutoff, store-clock seconds (0 = none) */
  uint64_t oldest_cas;   /* flush_all CAS cutoff (0 = none) */
  uint64_t cas_counter;  /* the last CAS taken (a save takes one, as memcached's get_cas_id) */
  uint32_t hashpower;
  uint64_t items;        /* records in the file */
} remc_persist_state;

/* Write every linked item to fd (a regular file opened for writing, empty). The store must not
 * serve meanwhile (the server calls this once its workers have stopped); it is locked anyway.
 * Returns 0 and fills *st (st->id is the caller's), or -1 with *err (errno is kept). */
int remc_store_persist_save(remc_store *s, int fd, remc_persist_state *st, const char **err);

/* Load the items of fd into a store just created (empty, not yet shared with other threads),
 * with the same -m, -I, -n, -f and -C as the dump's. `expect` gives the id the metadata file
 * names and its clock origin and flush state; the file must agree. Items whose exptime passed
 * are skipped. Returns the number of items loaded, or -1 with *err: the store may then hold
 * some of the file's items and must be destroyed by the caller (and a fresh one made). */
int64_t remc_store_persist_load(remc_store *s, int fd, const remc_persist_state *expect,
                                const char **err);

#ifdef __cplusplus
}
#endif
#endif
