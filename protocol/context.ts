// What the protocol layer needs from the server: settings, counters, the clock, a way to reach
// the connections (for `stats conns`) and to shut down. Kept as an interface so that protocol/
// does no I/O of its own.
import type { PrefixRow } from './admin.ts';
import type { Settings } from './settings.ts';
import type { Store } from './store.ts';
import type { Watch } from './watch.ts';

/** Server-wide counters that are not the store's (memcached's names). */
export interface Counters {
  cmd_get: number;
  cmd_set: number;
  cmd_flush: number;
  cmd_touch: number;
  cmd_meta: number;
  bytes_read: number;
  bytes_written: number;
  curr_connections: number;
  total_connections: number;
  rejected_connections: number;
  connection_structures: number;
  conn_yields: number;
  /** replies refused for want of response memory (-o read_buf_mem_limit) */
  response_obj_oom: number;
  parser_calls: number;
  parser_faults: number;
  parser_invalid: number;
  /** --cross-check: events the two parser variants parsed differently (also parser_invalid) */
  parser_divergences: number;
  /** ASCII auth (-Y) attempts with a well-formed token, and the failed ones */
  auth_cmds: number;
  auth_errors: number;
  /** -o idle_timeout closes (memcached's name) */
  idle_kicks: number;
  /** -Z: TLS handshakes that failed (and, with ssl_verify_mode=1, certificates refused after one) */
  ssl_handshake_errors: number;
  /** repeat offenders (server/offenders.ts): peers slowed / refused, connections delayed / refused */
  offender_slowed: number;
  offender_refused: number;
  offender_conns_delayed: number;
  offender_conns_refused: number;
  /** parser faults: the time from each fault to the domain rewound, summed (ns) */
  rewind_ns_sum: number;
  /** faults by kind (abi.faultKinds order) */
  faults_by_kind: number[] | Float64Array;
  /** faults by rewind time: [i] counts those within REWIND_BUCKETS_NS[i] and above the bucket
   *  before; the last one those above every bound */
  rewind_buckets: number[] | Float64Array;
}

/** Upper bounds (ns) of the rewind-time histogram (the metrics endpoint's
 *  remcached_parser_rewind_seconds): PKU rewinds take microseconds, sfi and watchdog ones more. */
export const REWIND_BUCKETS_NS: readonly number[] = [1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 1e7];

type ArrayField = 'faults_by_kind' | 'rewind_buckets';
/** The scalar counters' names (every field but the arrays), in a fixed order. */
export const COUNTER_NAMES = Object.keys(newCounters(0)).filter((k) => k !== 'faults_by_kind' && k !== 'rewind_buckets') as Array<Exclude<keyof Counters, ArrayField>>;

/** Count a parser fault of `kind` whose rewind took `rewindNs`: once per fault, never per command. */
export function countFault(c: Counters, kind: number, rewindNs: number): void {
  c.parser_faults++;
  c.faults_by_kind[kind] = (c.faults_by_kind[kind] ?? 0) + 1;
  c.rewind_ns_sum += rewindNs;
  let i = 0;
  while (i < REWIND_BUCKETS_NS.length && rewindNs > REWIND_BUCKETS_NS[i]!) i++;
  c.rewind_buckets[i]!++;
}

/** Count parser output that failed root's validation (`violation`: abi.validateErrors' name). */
export function countInvalid(c: Counters, violation: string | undefined): void {
  c.parser_invalid++;
  if (violation === 'DIVERGED') c.parser_divergences++;
}

/** The sum of several threads' counters (`stats` with -t N); connection_structures is summed too. */
export function sumCounters(list: Counters[]): Counters {
  if (list.length === 1) return list[0]!;
  const t = newCounters(list[0]?.faults_by_kind.length ?? 0);
  for (const c of list) {
    for (const k of COUNTER_NAMES) t[k] += c[k];
    for (let i = 0; i < t.faults_by_kind.length; i++) t.faults_by_kind[i]! += c.faults_by_kind[i] ?? 0;
    for (let i = 0; i < t.rewind_buckets.length; i++) t.rewind_buckets[i]! += c.rewind_buckets[i] ?? 0;
  }
  return t;
}

export function newCounters(faultKinds: number): Counters {
  return {
    cmd_get: 0, cmd_set: 0, cmd_flush: 0, cmd_touch: 0, cmd_meta: 0, bytes_read: 0,
    bytes_written: 0, curr_connections: 0, total_connections: 0, rejected_connections: 0,
    connection_structures: 0, conn_yields: 0, response_obj_oom: 0, parser_calls: 0, parser_faults: 0,
    parser_invalid: 0, parser_divergences: 0, auth_cmds: 0, auth_errors: 0, idle_kicks: 0, ssl_handshake_errors: 0, offender_slowed: 0,
    offender_refused: 0, offender_conns_delayed: 0, offender_conns_refused: 0, rewind_ns_sum: 0,
    faults_by_kind: new Array<number>(faultKinds).fill(0),
    rewind_buckets: new Array<number>(REWIND_BUCKETS_NS.length + 1).fill(0),
  };
}

export interface ConnInfo {
  fd: number;
  addr: string;
  listenAddr: string;
  state: string;
  lastCmdTime: number;
  /** a UDP socket: memcached lists it as an `N:UDP UDP` conn in state conn_read */
  udp?: boolean;
}

/** What -t N keeps of `stats detail` in the other worker threads (memcached has one table). */
export interface OtherWorkers {
  /** their prefix counts, gathered now */
  prefixRows(): PrefixRow[];
  /** `stats reset` clears theirs too */
  clearPrefixes(): void;
  /** a new prefix entry's place in the creation order every worker shares */
  prefixSeq(): number;
}

export interface ServerContext {
  settings: Settings;
  counters: Counters;
  /** the item store (native/index.ts implements it) */
  store: Store;
  /** `watch`: this thread's watchers and the event lines (protocol/watch.ts) */
  watch: Watch;
  /** what store.storeStats() and store.classStats() fill (abi storeStats, slabStats, itemStats) */
  storeStatsArray: Float64Array;
  /** remcached's own version (the remcached_version stat) */
  remcachedVersion: string;
  /** --cross-check: events on which the two parser variants disagreed */
  /** every worker thread's counters (this one's alone with -t 1): `stats` sums them */
  allCounters(): Counters[];
  /** called after a command that may have changed settings (admin commands, verbosity, stats
   *  detail on|off), so that other worker threads see the change */
  settingsChanged(): void;
  /** one of memcached's own stderr lines (-v and up), written with the event's -vv lines */
  verboseLine(line: string): void;
  /** isolation mode in force ("pku", "pku-strict", "none") */
  isolation: string;
  /** why no stronger isolation mode holds here ("" when the strongest requested one does) */
  isolationWhy: string;
  /** process start, unix seconds */
  startedAt: number;
  /** the server clock, unix seconds (moved by debugtime) */
  now(): number;
  /** debugtime: move the clock by `seconds` */
  advanceClock(seconds: number): void;
  /** debugtime p / r: stop the clock / let it run again from where it stopped */
  pauseClock(paused: boolean): void;
  setVerbosity(v: number): void;
  /** every worker thread's client connections (-t N: gathered from the others too) */
  connections(): Iterable<ConnInfo>;
  listeners(): Iterable<ConnInfo>;
  /** listening sockets: memcached counts each as a connection (its curr_connections is all its
   *  conns minus one); the counters hold clients and UDP conns only */
  listenConns(): number;
  /** -t N: the worker thread this is (`stats isolation` worker_thread) */
  workerIndex?: number;
  /** -t N: the `stats detail` state of the other worker threads (absent with one loop) */
  others?: OtherWorkers;
  /** -Z: the TLS state (server/tls.ts); absent without TLS */
  tls?: TlsState;
  /** `shutdown` / `shutdown graceful` with -A */
  shutdown(graceful: boolean): void;
}

/** What `stats` and `refresh_certs` need of the server's TLS. */
export interface TlsState {
  /** server clock time of the last (re)load of the certificates */
  lastRefresh: number;
  /** reload the certificate files: null, or memcached's error line (with its \r\n) */
  refresh(): string | null;
}
