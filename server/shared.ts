// What the worker threads of -t N share, in SharedArrayBuffers every thread maps: each worker's
// counters (one slot each, written only by their owner; `stats` sums them) and the server
// clock's offset (debugtime). The store itself is shared natively (native/binding/addon.cc).
import { randomFillSync } from 'node:crypto';
import { COUNTER_NAMES, REWIND_BUCKETS_NS, type Counters } from '../protocol/context.ts';

export interface SharedBuffers {
  workers: number;
  faultKinds: number;
  /** per worker: COUNTER_NAMES.length scalars, then faultKinds, then the rewind buckets */
  counters: SharedArrayBuffer;
  /** [clock offset in seconds, paused-at wall second or -1] */
  clock: SharedArrayBuffer;
  /** -Z: [server clock time of the last certificate (re)load] (time_since_server_cert_refresh) */
  tlsRefreshedAt: SharedArrayBuffer;
  /** -Z: the session ticket keys every worker's listeners use (48 random bytes) */
  tlsTicketKeys: SharedArrayBuffer;
  /** `watch`: [gid counter (i64), watchers in the process (i32), a lock (i32), what the
   *  process's watchers want (i32), what each worker's want (i32 each)] (server/server.ts
   *  threadLink) */
  watch: SharedArrayBuffer;
  /** what Gather (below) works in */
  gather: SharedArrayBuffer;
}

const slotSize = (faultKinds: number) => COUNTER_NAMES.length + faultKinds + REWIND_BUCKETS_NS.length + 1;

export function createShared(workers: number, faultKinds: number): SharedBuffers {
  const slot = slotSize(faultKinds);
  const clock = new SharedArrayBuffer(16);
  new Float64Array(clock)[1] = -1;
  const tlsTicketKeys = new SharedArrayBuffer(48);
  randomFillSync(new Uint8Array(tlsTicketKeys));
  return { workers, faultKinds, counters: new SharedArrayBuffer(8 * slot * workers), clock,
    tlsRefreshedAt: new SharedArrayBuffer(8), tlsTicketKeys,
    watch: new SharedArrayBuffer(20 + 4 * workers), gather: createGather(workers) };
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

// ---- Gathering from every worker, synchronously (`stats conns`, `stats detail dump`, and
// `stats reset`, which must have cleared every worker's prefix counts before it answers), and
// telling every worker, synchronously (a repeat offender's new record: the peer's next
// connection may land on any worker at once) ----
// memcached's stats walk every thread's state under its locks; here each worker's state lives in
// its own isolate. The asking worker takes the gather lock, names what it wants, wakes the others
// (a message through the main thread) and blocks in Atomics.wait until each has written its part
// into its own region, or GATHER_MS passed. While it waits for the lock, it answers the worker
// that holds it, so two workers asking at once cannot wait on each other.

/** The longest an answer is awaited. Long: a missing part makes the reply silently short (seen
 *  once at 2 s, with the host's two cores taken by an emulator), and a live worker always answers
 *  between two events (a parse is bounded by the watchdog). */
export const GATHER_MS = 10_000;
/** Bytes of JSON a worker's answer may take (about 30 000 connections); the rest is dropped. */
const GATHER_REGION = 4 << 20;
// control words
const G_LOCK = 0, G_SEQ = 1, G_KIND = 2, G_ANSWERS = 3, G_PREFIX_SEQ = 4, G_ASKER = 5, G_REQ_LEN = 6, G_HEAD = 8;
// then per worker: [answered seq, answer length]

export function createGather(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (G_HEAD + 2 * workers) + GATHER_REGION * workers);
}

/** 1: connections, 2: prefix rows, 3: clear the prefix counts, 4: a repeat offender's record */
export type GatherKind = 1 | 2 | 3 | 4;
export const GATHER_CONNS: GatherKind = 1, GATHER_PREFIXES: GatherKind = 2, GATHER_CLEAR_PREFIXES: GatherKind = 3,
  GATHER_OFFENDER: GatherKind = 4;

export class Gather {
  private readonly ctl: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(sab: SharedArrayBuffer, private readonly workers: number, private readonly me: number,
    /** this worker's answer to `kind`, given what the asker sent */
    private readonly answer: (kind: GatherKind, request: unknown) => unknown,
    /** wake the other workers (they call serve()) */
    private readonly wake: () => void) {
    this.ctl = new Int32Array(sab, 0, G_HEAD + 2 * workers);
    this.bytes = new Uint8Array(sab, 4 * (G_HEAD + 2 * workers));
  }

  /** A creation number shared by every worker (`stats detail` prefix order). */
  nextPrefixSeq(): number { return Atomics.add(this.ctl, G_PREFIX_SEQ, 1) + 1; }

  /** Answer the gather in progress, if another worker asked and this one has not answered. */
  serve(): void {
    const holder = Atomics.load(this.ctl, G_LOCK);
    if (holder === 0 || holder === this.me + 1) return;
    const seq = Atomics.load(this.ctl, G_SEQ);
    const at = G_HEAD + 2 * this.me;
    if (Atomics.load(this.ctl, at) === seq) return;
    const asker = Atomics.load(this.ctl, G_ASKER), reqLen = Atomics.load(this.ctl, G_REQ_LEN);
    const request: unknown = reqLen > 0
      ? JSON.parse(new TextDecoder().decode(this.bytes.slice(asker * GATHER_REGION, asker * GATHER_REGION + reqLen))) : null;
    const json = new TextEncoder().encode(JSON.stringify(this.answer(Atomics.load(this.ctl, G_KIND) as GatherKind, request)));
    const region = this.bytes.subarray(this.me * GATHER_REGION, (this.me + 1) * GATHER_REGION);
    const n = json.length <= GATHER_REGION ? json.length : 0; // too big: answers nothing rather than half a JSON
    region.set(json.subarray(0, n));
    Atomics.store(this.ctl, at + 1, n);
    Atomics.store(this.ctl, at, seq);
    Atomics.add(this.ctl, G_ANSWERS, 1);
    Atomics.notify(this.ctl, G_ANSWERS);
  }

  /** Every other worker's answer to `kind` (those that answered within GATHER_MS). `local` runs
   *  under the gather lock, before the others are woken (so in one order with every other
   *  asker's), and what it returns is the request they are given. */
  ask<T>(kind: GatherKind, local?: () => unknown): T[] {
    const deadline = Date.now() + GATHER_MS;
    while (Atomics.compareExchange(this.ctl, G_LOCK, 0, this.me + 1) !== 0) {
      this.serve();
      if (Date.now() > deadline) return [];
      Atomics.wait(this.ctl, G_LOCK, Atomics.load(this.ctl, G_LOCK), 2);
    }
    try {
      const req = local ? new TextEncoder().encode(JSON.stringify(local() ?? null)) : new Uint8Array(0);
      const n = req.length <= GATHER_REGION ? req.length : 0;
      this.bytes.set(req.subarray(0, n), this.me * GATHER_REGION);
      Atomics.store(this.ctl, G_ASKER, this.me);
      Atomics.store(this.ctl, G_REQ_LEN, n);
      Atomics.store(this.ctl, G_KIND, kind);
      const seq = Atomics.add(this.ctl, G_SEQ, 1) + 1;
      this.wake();
      const out: T[] = [];
      const pending = new Set(Array.from({ length: this.workers }, (_, i) => i).filter((i) => i !== this.me));
      while (pending.size > 0) {
        const answers = Atomics.load(this.ctl, G_ANSWERS);
        for (const w of pending) {
          const at = G_HEAD + 2 * w;
          if (Atomics.load(this.ctl, at) !== seq) continue;
          pending.delete(w);
          const n = Atomics.load(this.ctl, at + 1);
          if (n > 0) out.push(JSON.parse(new TextDecoder().decode(this.bytes.slice(w * GATHER_REGION, w * GATHER_REGION + n))) as T);
        }
        if (pending.size === 0 || Date.now() > deadline) break;
        Atomics.wait(this.ctl, G_ANSWERS, answers, 5);
      }
      return out;
    } finally {
      Atomics.store(this.ctl, G_LOCK, 0);
      Atomics.notify(this.ctl, G_LOCK);
    }
  }
}
