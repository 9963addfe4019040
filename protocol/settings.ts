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
  /** -o read_buf_mem_limit (bytes, 0 = none): memcached's cap on read and response buffers */
  readBufMemLimit: number;
  /** worker threads actually serving (1: one event loop in the main thread; see server/main.ts) */
  workerThreads: number;
  maxReqsPerEvent: number;
  disableCas: boolean;
  listenBacklog: number;
  protocol: Protocol;
  maxItemSize: number;
  /** memcached's slab_chunk_max (-o slab_chunk_max): half a slab page unless set */
  slabChunkMax: number;
  /** -o slab_sizes: the slab classes' chunk sizes instead of -f's table (null: -f's) */
  slabSizes: number[] | null;
  /** -o slab_sizes as given, checked once every option is known (memcached checks it last) */
  slabSizesRaw: string | null;
  enableSasl: boolean;
  disableFlushAll: boolean;
  disableDumping: boolean;
  disableWatch: boolean;
  authFile: string | null;
  memoryFile: string | null;
  /** -e: what PATH.meta said at start (server/restart.ts), for the store to load PATH (64-bit
   *  values as decimal strings: settings go through JSON); null: start with an empty cache */
  restartFrom: { path: string; id: string; started: number; oldestLive: number; oldestCas: string; casCounter: string } | null;
  enableSsl: boolean;
  /** -o ssl_*: memcached's TLS settings (server/tls.ts) */
  ssl: SslSettings;
  maxconnsFast: boolean;
  idleTimeout: number;
  hashpower: number;
  /** memcached's run-time LRU/slab settings (-o suboptions; changed by the lru, lru_crawler,
   *  slabs and stats detail commands): they decide replies and which stats are listed */
  slabReassign: boolean;
  slabAutomove: number;
  slabAutomoveRatio: number;
  /** -o slab_automove_window: the automover's samples (seconds); the store keeps 120 at most */
  slabAutomoveWindow: number;
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
  /** --metrics: where the Prometheus endpoint listens (server/metrics.ts); null: off */
  metrics: { host: string; port: number } | null;
}

/** memcached's ssl_* settings, stored as memcached stores them (verifyMode: OpenSSL's flags). */
export interface SslSettings {
  chainCert: string | null;
  key: string | null;
  caCert: string | null;
  verifyMode: number;
  keyformat: number;
  ciphers: string | null;
  wbufSize: number;
  sessionCache: boolean;
  kernelTls: boolean;
  /** 0..3: TLS 1.0 .. 1.3 */
  minVersion: number;
}

/** The store's LRU arguments (remc_store_set_lru: flags 1 maintainer, 2 flat LRU; the
 *  segmented LRU's tune; the TEMP LRU's TTL, -1 off) for these settings. */
export function lruArgs(s: Settings): [number, number, number, number, number, number] {
  return [(s.lruMaintainer ? 1 : 0) | (s.lruSegmented ? 0 : 2), s.hotLruPct, s.warmLruPct,
    s.hotMaxFactor, s.warmMaxFactor, s.tempLru ? s.temporaryTtl : -1];
}

/** memcached's read buffer size: its response objects come in bundles of this size */
const READ_BUFFER_SIZE = 16384;
/** response objects per bundle: (READ_BUFFER_SIZE - 24) / sizeof(mc_resp), 1184 bytes on 64-bit */
const RESP_PER_BUNDLE = 13;

/**
 * -o read_buf_mem_limit: the replies a connection may stack before memcached runs out of
 * response objects. memcached splits the limit between its -t threads in 16 KiB buffers, and a
 * connection being read holds one of its thread's buffers; the others hold 13 replies each.
 * (memcached's threads share their buffers among their connections; here each connection has
 * its thread's share.) Infinity: no limit.
 */
export function responseCap(s: Settings): number {
  if (!s.readBufMemLimit) return Infinity;
  const perThread = Math.floor(s.readBufMemLimit / s.threads);
  const buffers = perThread < READ_BUFFER_SIZE ? 1 : Math.floor(perThread / READ_BUFFER_SIZE);
  return (buffers - 1) * RESP_PER_BUNDLE;
}

/** Whether the background crawler runs (memcached: its maintainer schedules the crawls). */
export function crawls(s: Settings): boolean {
  return s.lruCrawler && s.lruMaintainer;
}

/** A `stats settings` ssl_* value, as memcached prints it. */
export function sslStat(s: Settings, name: string): string | number {
  const ssl = s.ssl;
  switch (name) {
    case 'ssl_enabled': return s.enableSsl ? 'yes' : 'no';
    case 'ssl_chain_cert': return ssl.chainCert ?? '(null)';
    case 'ssl_key': return ssl.key ?? '(null)';
    case 'ssl_verify_mode': return ssl.verifyMode;
    case 'ssl_keyformat': return ssl.keyformat;
    case 'ssl_ciphers': return ssl.ciphers ?? 'NULL';
    case 'ssl_ca_cert': return ssl.caCert ?? 'NULL';
    case 'ssl_wbuf_size': return ssl.wbufSize;
    case 'ssl_session_cache': return ssl.sessionCache ? 'yes' : 'no';
    case 'ssl_kernel_tls': return ssl.kernelTls ? 'yes' : 'no';
    default: return ['tlsv1.0', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'][ssl.minVersion] ?? 'unknown';
  }
}
