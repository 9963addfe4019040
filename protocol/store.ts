// The item store as the protocol layer sees it (as Pelikan's `Storage` trait): the native addon
// implements it (native/index.ts: its functions have exactly these signatures), a test can
// implement it in JS (test/protocol/). Every call takes and returns plain numbers: keys and
// values are offsets into the input window, lookups leave their details in the result words
// (`res`, R_* in ./abi.ts), values are copied into the registered output buffer.
//
// A hit of get/metaGet stays pinned (cannot be freed) until copyValue, unpin or the next lookup.

export interface Store {
  /** the connection output buffer values and incr results are written into (again when it grows) */
  setOutput(out: Uint8Array): void;

  /** value length, or -1 on a miss. bump: mark used; touch: also set exptime (gat) */
  get(keyOff: number, keyLen: number, bump: number, touch: number, exptime: number): number;
  /** copy the pinned value to out[outPos..] and unpin it */
  copyValue(outPos: number): void;
  /** a STORE result; res[R_CAS] gets the new CAS */
  store(mode: number, keyOff: number, keyLen: number, valOff: number, valLen: number,
        flags: number, exptime: number, casHi: number, casLo: number): number;
  del(keyOff: number, keyLen: number, casHi: number, casLo: number): number;
  /** incr/decr: on STORED the digits are at out[outPos..+res[R_ARITH_LEN]); a CAS (ma C) must match */
  arith(keyOff: number, keyLen: number, incr: number, deltaHi: number, deltaLo: number, outPos: number,
        casHi?: number, casLo?: number): number;
  touch(keyOff: number, keyLen: number, exptime: number): number;
  flush(exptime: number): void;
  /** memcached's item size arithmetic (-I checks) */
  itemSize(keyLen: number, valueLen: number, flags: number): number;
  /** the slab class an item of that size goes to, 0 if too large (watch lines) */
  classFor(keyLen: number, valueLen: number, flags: number): number;
  /** why the last lookup missed: 0 not found, 2 flushed, 3 expired (watch's item_get status) */
  lastMiss(): number;
  /** watch evictions: record evictions (on) or not */
  logEvictions(on: number): void;
  /** the evictions recorded since the last call: flat [key, fetched, exptime, last access,
   *  class, value length, ...], times in store-clock (unix) seconds, exptime 0 = never */
  takeEvictions(): Array<Buffer | number>;
  /** the automover's page moves since the last call: flat [source class, destination class
   *  (0: the free page pool), ...], oldest first */
  takeSlabMoves(): number[];
  /** a storage command whose value is too large to read: counted and answered as memcached does */
  storeTooLarge(mode: number, keyOff: number, keyLen: number, valueLen: number, flags: number): number;

  // meta commands
  /** lookup without bump: length (pinned), -1 miss, -2 pin count at its cap. count: which stats */
  metaGet(keyOff: number, keyLen: number, count: number): number;
  metaUpdate(set: number, clear: number, hasExptime: number, exptime: number, bump: number): void;
  /** Take the pinned item's win token: 1 if this call took it, 0 if another client had. */
  metaClaim(): number;
  unpin(): void;
  metaDelete(keyOff: number, keyLen: number, hasCas: number, casHi: number, casLo: number,
             invalidate: number, hasExptime: number, exptime: number): number;

  // admin
  reclaim(max: number): number;
  setMemLimit(bytes: number): number;
  slabsReassign(src: number, dst: number): number;
  setAutomove(mode: number, ratio: number, window: number): void;
  /** the LRU flags (1 maintainer, 2 flat) and the segmented LRU's tune: settings.ts lruArgs */
  setLru(flags: number, hotPct: number, warmPct: number, hotMaxFactor: number,
         warmMaxFactor: number, tempTtl: number): void;
  /** flat [key, value length, exptime] triples, most recent first */
  cachedump(cls: number, limit: number): Array<Buffer | number>;
  /** flat [key, exptime, last access, cas, fetched, class, size] */
  metadump(cls: number): Array<Buffer | number | bigint>;

  // statistics: filled into the stats array of the ServerContext
  storeStats(): void;
  storeStatsReset(): void;
  /** 0 if the class is unused; else its slab then item stats after the store stats */
  classStats(cls: number): number;
  classCount(): number;

  // fault-injection tests: the root word the "root write" aims at, a checksum of every item
  rootTarget(): bigint;
  checksum(): bigint;
  /** protection keys: this worker's domain key, whether it is the shared one, every worker's
   *  ("3,4,5,6"), and for the peer faults the worker they aim at and this worker's own word */
  workerKeys(): WorkerKeys;
}

/** Store.workerKeys() */
export interface WorkerKeys {
  own: number;
  shared: boolean;
  all: string;
  peer: number;
  peerWord: bigint;
}
