// What the worker threads of -t N share, in SharedArrayBuffers every thread maps: each worker's
// counters (one slot each, written only by their owner; `stats` sums them) and the server
// clock's offset (debugtime). The store itself is shared natively (native/binding/addon.cc).
import { COUNTER_NAMES, REWIND_BUCKETS_NS, type Counters } from '../protocol/context.ts';

export interface SharedBuffers {
  workers: number;
  faultKinds: number;
  /** per worker: COUNTER_NAMES.length scalars, then faultKinds, then the rewind buckets */
  counters: SharedArrayBuffer;
  /** [clock offset in seconds, paused-at wall second or -1] */
  clock: SharedArrayBuffer;
  /** `watch`: [gid counter (i64), watchers in the process (i32)] (server/server.ts threadLink) */
  watch: SharedArrayBuffer;
}

const slotSize = (faultKinds: number) => COUNTER_NAMES.length + faultKinds + REWIND_BUCKETS_NS.length + 1;

export function createShared(workers: number, faultKinds: number): SharedBuffers {
  const slot = slotSize(faultKinds);
  const clock = new SharedArrayBuffer(16);
  new Float64Array(clock)[1] = -1;
  return { workers, faultKinds, counters: new SharedArrayBuffer(8 * slot * workers), clock, watch: new SharedArrayBuffer(16) };
}

/** Counters backed by worker i's slot: plain-looking fields, stored in shared memory. */
export function slotCounters(sh: SharedBuffers, i: number): Counters {
  const slot = slotSize(sh.faultKinds);
  const a = new Float64Array(sh.counters, 8 * slot * i, slot);
  const kinds = COUNTER_NAMES.length + sh.faultKinds;
  const c = { faults_by_kind: a.subarray(COUNTER_NAMES.length, kinds), rewind_buckets: a.subarray(kinds) } as unknown as Counters;
  COUNTER_NAMES.forEach((name, k) => {
    Object.defineProperty(c, name, { get: () => a[k]!, set: (v: number) => { a[k] = v; }, enumerable: true });
  });
  return c;
}

export function allSlotCounters(sh: SharedBuffers): Counters[] {
  return Array.from({ length: sh.workers }, (_, i) => slotCounters(sh, i));
}
