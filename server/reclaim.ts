// After flush_all, give the flushed items back at once instead of at the background pace
// (RECLAIM_PER_TICK a second: 100 k items took ~10 s to leave curr_items). memcached's LRU crawler
// is kicked the same way and empties 100 k items in a few hundred ms. The drain runs in slices
// between events (setImmediate), so clients keep being served while it runs.
import type { Store } from '../protocol/store.ts';

/** Items examined per slice: a few ms of work at most. */
const SLICE = 5000;
/** flush_all to the drain's first slice (memcached's maintainer: 100k items gone in ~130 ms) */
const DRAIN_DELAY_MS = 50;
/** memcached's rule: an exptime up to 30 days is relative, beyond it a unix time */
const REL_MAX = 60 * 60 * 24 * 30;

/** `store` with a flush() that also drains the flushed items (now, or when a delayed flush hits). */
export function drainingStore(store: Store, now: () => number, crawls: () => boolean): Store {
  let running = false;
  const drain = (): void => {
    if (running) return;
    running = true;
    const step = (): void => {
      // a slice that freed nothing: the crawler has found no flushed items left (the 1 s
      // background tick carries on with anything stored in between)
      if (store.reclaim(SLICE) === 0) { running = false; return; }
      setImmediate(step);
    };
    setImmediate(step);
  };
  const flush = (exptime: number): void => {
    store.flush(exptime);
    // no crawler (-o no_modern): as memcached, flushed items wait for allocations to free them
    if (!crawls()) return;
    // not at once: memcached's LRU maintainer gets to the flushed items some ms later, so a get
    // right after flush_all still finds one and counts it in get_flushed (its t/stats.t checks)
    if (exptime <= 0) { setTimeout(drain, DRAIN_DELAY_MS).unref(); return; }
    const delay = exptime <= REL_MAX ? exptime : exptime - now();
    // one second late: the flush covers items stored before its (second-granular) time
    if (delay >= 0 && delay <= REL_MAX) setTimeout(drain, (delay + 1) * 1000).unref();
  };
  // a plain copy, not a Proxy: the other functions stay direct calls on the hot path
  return { ...store, flush };
}
