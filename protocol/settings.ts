// What the protocol layer and the server both use: memcached's version strings and the run-time
// settings (server/config.ts parses the command line into them; commands read and change them).
// Here, under protocol/, so that protocol/ depends on nothing in server/.

export const PROTOCOL_VERSION = '1.6.18';
/** What `version` answers: exactly memcached's version, because clients parse it (the npm
 *  `memcached` client reads the last x.y.z of the token, memccapable the first). remcached's
 *  own version is the `remcached_version` stat. */
export const VERSION_STRING = PROTOCOL_VERSION;

export type Isolation = 'auto' | 'pku' | 'pku-strict' | 'sfi' | 'none';
export type Protocol = 'auto' | 'ascii' | 'binary';

export interface Settings {
  port: number;
  udpPort: number;
  unixSocket: string | null;
  unixMask: number;
  enableShutdown: boolean;
  listen: string | null;
  daemon: boolean;
  enableCoredumps: boolean;
  user: string | null;
  memoryLimitMb: number;
  disableEvictions: boolean;
  connLimit: number;
  lockMemory: boolean;
  verbosity: number;
  pidfile: string | null;
  growthFactor: number;
  slabMinSize: number;
  largePages: boolean;
  prefixDelimiter: string;
  threads: number;
  maxReqsPerEvent: number;
  disableCas: boolean;
  listenBacklog: number;
  protocol: Protocol;
  maxItemSize: number;
  /** memcached's slab_chunk_max (-o slab_chunk_max): half a slab page unless set */
  slabChunkMax: number;
  enableSasl: boolean;
  disableFlushAll: boolean;
  disableDumping: boolean;
  disableWatch: boolean;
  authFile: string | null;
  memoryFile: string | null;
  enableSsl: boolean;
  maxconnsFast: boolean;
  idleTimeout: number;
  hashpower: number;
  /** memcached's run-time LRU/slab settings (-o suboptions; changed by the lru, lru_crawler,
   *  slabs and stats detail commands): they decide replies and which stats are listed */
  slabReassign: boolean;
  slabAutomove: number;
  slabAutomoveRatio: number;
  lruCrawler: boolean;
  lruCrawlerSleep: number;
  lruCrawlerTocrawl: number;
  lruMaintainer: boolean;
  lruSegmented: boolean;
  tempLru: boolean;
  temporaryTtl: number;
  hotLruPct: number;
  warmLruPct: number;
  hotMaxFactor: number;
  warmMaxFactor: number;
  detailEnabled: boolean;
  /** memcached's hash_algorithm: it orders the `stats detail dump` lines */
  hashAlgorithm: 'murmur3' | 'jenkins';
  /** extstore's run-time settings (the `extstore` command; memcached 1.6.18 as Debian builds it
   *  has extstore compiled in, so the command answers even without -o ext_path) */
  extstore: Record<string, number>;
  /** -o suboptions accepted for compatibility but without effect here */
  ignoredSuboptions: string[];
  // remcached's own (long options only)
  isolation: Isolation;
  /** --cross-check: the wasm parser beside the native one on every event (native/index.ts) */
  crossCheck: boolean;
  watchdogMs: number;
  enableFaultInjection: boolean;
  enableDebugtime: boolean;
  /** repeat offenders (server/offenders.ts): faults within offenderWindow seconds after which a
   *  peer is slowed / refused for offenderBackoff seconds; 0 turns that step off */
  offenderSlow: number;
  offenderRefuse: number;
  offenderWindow: number;
  offenderBackoff: number;
  /** also judge loopback peers (off by default: a proxy on this host would be everyone) */
  offenderLoopback: boolean;
}
