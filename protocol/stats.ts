// `stats`, `stats settings`, `stats items`, `stats slabs`, `stats conns`, `stats sizes`:
// memcached 1.6.18's field names in memcached's order, so exporters and dashboards work.
// remcached's own fields (isolation, parser faults) are the `stats isolation` group.
// Every group is written through an emitter, one call per stat (memcached's append_stats):
// the text protocol makes "STAT name value" lines of them, the binary protocol one packet each.
import { abi } from './abi.ts';
import { PROTOCOL_VERSION, VERSION_STRING, sslStat } from './settings.ts';
import { sumCounters, type Counters, type ServerContext } from './context.ts';
import type { Output } from './output.ts';

/** Receives one stat. */
export type Emit = (name: string, value: string | number) => void;

/** The text protocol's emitter: memcached's "STAT <name> <value>\r\n" lines into out. */
export function textStats(out: Output): Emit {
  return (name, value) => out.ascii(`STAT ${name} ${value}\r\n`);
}

const storeIndex = new Map(abi.storeStats.map((n, i) => [n, i]));
function storeStat(ctx: ServerContext, name: string): number {
  const i = storeIndex.get(name);
  if (i === undefined) throw new Error(`no store stat ${name}`);
  return ctx.storeStatsArray[i]!;
}

/** t: the counters summed over every worker thread */
type Value = (ctx: ServerContext, t: Counters) => string | number;
/** every digit of a size near 2^64 (-m -5), where a double prints in exponent form */
const u64 = (x: number): string | number => (Number.isSafeInteger(x) ? x : BigInt(x).toString());
const fromStore = (name: string): [string, Value] => [name, (c) => storeStat(c, name)];
const zero = (name: string): [string, Value] => [name, () => 0];

function rusage(): { user: string; system: string } {
  const r = process.resourceUsage();
  const fmt = (us: number) => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  return { user: fmt(r.userCPUTime), system: fmt(r.systemCPUTime) };
}

const GENERAL: Array<[string, Value]> = [
  ['pid', () => process.pid],
  ['uptime', (c) => c.now() - c.startedAt],
  ['time', (c) => c.now()],
  ['version', () => VERSION_STRING],
  ['libevent', () => `node-${process.versions.node}`],
  ['pointer_size', () => 64],
  ['rusage_user', () => rusage().user],
  ['rusage_system', () => rusage().system],
  ['max_connections', (c) => c.settings.connLimit],
  ['curr_connections', (c, t) => t.curr_connections + c.listenConns() - 1],
  ['total_connections', (c, t) => t.total_connections + c.listenConns()],
  ['rejected_connections', (_c, t) => t.rejected_connections],
  ['connection_structures', (c, t) => t.connection_structures + c.listenConns()],
  ['response_obj_oom', (_c, t) => t.response_obj_oom], zero('response_obj_count'), zero('response_obj_bytes'),
  zero('read_buf_count'), zero('read_buf_bytes'), zero('read_buf_bytes_free'), zero('read_buf_oom'),
  zero('reserved_fds'),
  ['cmd_get', (_c, t) => t.cmd_get],
  ['cmd_set', (_c, t) => t.cmd_set],
  ['cmd_flush', (_c, t) => t.cmd_flush],
  ['cmd_touch', (_c, t) => t.cmd_touch],
  ['cmd_meta', (_c, t) => t.cmd_meta],
  ...['get_hits', 'get_misses', 'get_expired', 'get_flushed', 'delete_misses', 'delete_hits',
    'incr_misses', 'incr_hits', 'decr_misses', 'decr_hits', 'cas_misses', 'cas_hits', 'cas_badval',
    'touch_hits', 'touch_misses', 'store_too_large', 'store_no_memory'].map(fromStore),
  ['auth_cmds', (_c, t) => t.auth_cmds],
  ['auth_errors', (_c, t) => t.auth_errors],
  ['idle_kicks', (_c, t) => t.idle_kicks], // listed only with -o idle_timeout, as memcached
  ['bytes_read', (_c, t) => t.bytes_read],
  ['bytes_written', (_c, t) => t.bytes_written],
  ['limit_maxbytes', (c) => u64(storeStat(c, 'limit_maxbytes'))],
  ['accepting_conns', () => 1],
  zero('listen_disabled_num'), zero('time_in_listen_disabled_us'),
  ['threads', (c) => c.settings.workerThreads],
  ['conn_yields', (_c, t) => t.conn_yields],
  fromStore('hash_power_level'), fromStore('hash_bytes'), fromStore('hash_is_expanding'),
  fromStore('slab_reassign_rescues'), fromStore('slab_reassign_chunk_rescues'),
  fromStore('slab_reassign_evictions_nomem'), zero('slab_reassign_inline_reclaim'),
  fromStore('slab_reassign_busy_items'), zero('slab_reassign_busy_deletes'),
  zero('slab_reassign_running'), fromStore('slabs_moved'),
  zero('lru_crawler_running'), zero('lru_crawler_starts'), fromStore('lru_maintainer_juggles'),
  zero('malloc_fails'), zero('log_worker_dropped'),
  // watch (protocol/watch.ts): this worker's lines; watchers of the whole process
  ['log_worker_written', (c) => c.watch.written],
  ['log_watcher_skipped', (c) => c.watch.skippedTotal],
  ['log_watcher_sent', (c) => c.watch.sentTotal],
  ['log_watchers', (c) => c.watch.watchers],
  // with -Z only (memcached's server_stats); ssl_new_sessions also needs ssl_session_cache
  zero('ssl_new_sessions'),
  ['ssl_handshake_errors', (_c, t) => t.ssl_handshake_errors],
  ['time_since_server_cert_refresh', (c) => c.now() - (c.tls?.lastRefresh ?? 0)],
  ...['unexpected_napi_ids', 'round_robin_fallback'].map(zero),
  fromStore('bytes'), fromStore('curr_items'), fromStore('total_items'),
  fromStore('slab_global_page_pool'), fromStore('expired_unfetched'), fromStore('evicted_unfetched'),
  fromStore('evicted_active'), fromStore('evictions'), fromStore('reclaimed'),
  fromStore('crawler_reclaimed'), fromStore('crawler_items_checked'), fromStore('lrutail_reflocked'),
  ...['moves_to_cold', 'moves_to_warm', 'moves_within_lru', 'direct_reclaims'].map(fromStore),
  zero('lru_bumps_dropped'), // no bump queue: a read that makes a COLD item active moves it itself
];

/** `stats isolation`: remcached's own counters and settings, a group of their own so that the
 *  general `stats` and `stats settings` hold exactly memcached's fields (exporters and
 *  memcached's t/stats.t count them). */
const ISOLATION: Array<[string, Value]> = [
  ['remcached_version', (c) => c.remcachedVersion],
  ['isolation', (c) => c.isolation],
  // which worker thread of -t N answers (0 with one loop): the connection is served there
  ['worker_thread', (c) => c.workerIndex ?? 0],
  ['parser_calls', (_c, t) => t.parser_calls],
  ['parser_faults', (_c, t) => t.parser_faults],
  ['parser_invalid', (_c, t) => t.parser_invalid],
  ['parser_divergences', (_c, t) => t.parser_divergences],
  ...abi.faultKinds.slice(1).map((k, i): [string, Value] => [`parser_faults_${k}`, (_c, t) => t.faults_by_kind[i + 1]!]),
  ['offender_slowed', (_c, t) => t.offender_slowed],
  ['offender_refused', (_c, t) => t.offender_refused],
  ['offender_conns_delayed', (_c, t) => t.offender_conns_delayed],
  ['offender_conns_refused', (_c, t) => t.offender_conns_refused],
  // one token, as every stats value: the start-up log has the same reason in words
  ['isolation_why', (c) => c.isolationWhy.replace(/\s+/g, '_') || '-'],
  // this worker's domain key; every worker's, by worker index (distinct while keys last)
  ['domain_pkey', (c) => c.store.workerKeys().own],
  ['domain_pkey_shared', (c) => yesNo(c.store.workerKeys().shared)],
  ['domain_pkeys', (c) => c.store.workerKeys().all],
  ['watchdog_ms', (c) => c.settings.watchdogMs],
  ['fault_injection', (c) => yesNo(c.settings.enableFaultInjection)],
  ['protocol_version', () => PROTOCOL_VERSION],
];

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
/** C's "%.2f": what `lru tune` and `slabs automove ratio` accept includes inf and nan */
const f2 = (v: number) => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf'
  : Math.abs(v) >= 1e21 ? `${BigInt(v)}.00` : v.toFixed(2)); // toFixed turns exponential from 1e21
const SETTINGS: Array<[string, Value]> = [
  ['maxbytes', (c) => u64(c.settings.memoryLimitMb * 1024 * 1024)],
  ['maxconns', (c) => c.settings.connLimit],
  ['tcpport', (c) => c.settings.port],
  ['udpport', (c) => c.settings.udpPort],
  ['inter', (c) => c.settings.listen ?? 'NULL'],
  ['verbosity', (c) => c.settings.verbosity],
  ['oldest', () => 0],
  ['evictions', (c) => (c.settings.disableEvictions ? 'off' : 'on')],
  ['domain_socket', (c) => c.settings.unixSocket ?? 'NULL'],
  ['umask', (c) => c.settings.unixMask.toString(8)],
  ['shutdown_command', (c) => yesNo(c.settings.enableShutdown)],
  ['growth_factor', (c) => c.settings.growthFactor.toFixed(2)],
  ['chunk_size', (c) => c.settings.slabMinSize],
  ['num_threads', (c) => c.settings.workerThreads],
  // memcached: one UDP conn per worker thread on each UDP socket
  ['num_threads_per_udp', (c) => c.settings.workerThreads],
  ['stat_key_prefix', (c) => c.settings.prefixDelimiter],
  ['detail_enabled', (c) => yesNo(c.settings.detailEnabled)],
  ['reqs_per_event', (c) => c.settings.maxReqsPerEvent],
  ['cas_enabled', (c) => yesNo(!c.settings.disableCas)],
  ['tcp_backlog', (c) => c.settings.listenBacklog],
  ['binding_protocol', (c) => (c.settings.protocol === 'auto' ? 'auto-negotiate' : c.settings.protocol)],
  ['auth_enabled_sasl', (c) => yesNo(c.settings.enableSasl)],
  ['auth_enabled_ascii', (c) => c.settings.authFile ?? 'no'],
  ['item_size_max', (c) => c.settings.maxItemSize],
  ['maxconns_fast', (c) => yesNo(c.settings.maxconnsFast)],
  ['hashpower_init', (c) => c.settings.hashpower],
  ['slab_reassign', (c) => yesNo(c.settings.slabReassign)],
  ['slab_automove', (c) => c.settings.slabAutomove],
  ['slab_automove_ratio', (c) => f2(c.settings.slabAutomoveRatio)],
  ['slab_automove_window', (c) => c.settings.slabAutomoveWindow],
  ['slab_chunk_max', (c) => c.settings.slabChunkMax],
  ['lru_crawler', (c) => yesNo(c.settings.lruCrawler)],
  ['lru_crawler_sleep', (c) => c.settings.lruCrawlerSleep],
  ['lru_crawler_tocrawl', (c) => c.settings.lruCrawlerTocrawl],
  ['tail_repair_time', () => 0],
  ['flush_enabled', (c) => yesNo(!c.settings.disableFlushAll)],
  ['dump_enabled', (c) => yesNo(!c.settings.disableDumping)],
  ['hash_algorithm', (c) => c.settings.hashAlgorithm],
  ['lru_maintainer_thread', (c) => yesNo(c.settings.lruMaintainer)],
  ['lru_segmented', (c) => yesNo(c.settings.lruSegmented)],
  ['hot_lru_pct', (c) => c.settings.hotLruPct],
  ['warm_lru_pct', (c) => c.settings.warmLruPct],
  ['hot_max_factor', (c) => f2(c.settings.hotMaxFactor)],
  ['warm_max_factor', (c) => f2(c.settings.warmMaxFactor)],
  ['temp_lru', (c) => yesNo(c.settings.tempLru)],
  ['temporary_ttl', (c) => c.settings.temporaryTtl],
  ['idle_timeout', (c) => c.settings.idleTimeout],
  ['watcher_logbuf_size', () => 262144],
  ['worker_logbuf_size', () => 65536],
  ['read_buf_mem_limit', (c) => c.settings.readBufMemLimit],
  ['track_sizes', () => 'no'],
  ['inline_ascii_response', () => 'no'],
  ...['ext_item_size', 'ext_item_age', 'ext_low_ttl', 'ext_recache_rate', 'ext_wbuf_size',
    'ext_compact_under', 'ext_drop_under', 'ext_max_sleep', 'ext_max_frag',
    'slab_automove_freeratio', 'ext_drop_unread'].map((n): [string, Value] => [n, (c) => extSetting(c, n)]),
  ...['ssl_enabled', 'ssl_chain_cert', 'ssl_key', 'ssl_verify_mode', 'ssl_keyformat', 'ssl_ciphers', 'ssl_ca_cert',
    'ssl_wbuf_size', 'ssl_session_cache', 'ssl_kernel_tls', 'ssl_min_version'].map((n): [string, Value] => [n, (c) => sslStat(c.settings, n)]),
  ['num_napi_ids', () => '(null)'],
  ['memory_file', (c) => c.settings.memoryFile ?? '(null)'],
];
/** ext_* as memcached prints them: the ones the `extstore` command sets come from settings */
function extSetting(c: ServerContext, name: string): string | number {
  const v = c.settings.extstore[name.slice(4)];
  if (v === undefined) return EXT_DEFAULTS[name]!;
  if (name === 'ext_max_frag') return f2(v);
  if (name === 'ext_drop_unread') return yesNo(v !== 0);
  return v;
}
const EXT_DEFAULTS: Record<string, string | number> = {
  ext_wbuf_size: 4194304, slab_automove_freeratio: '0.010',
};

/** Fields memcached lists only while a feature is on (items.c, memcached.c server_stats): the
 *  crawler's, the LRU maintainer's, and the segmented LRU's (`stats` and per class in `stats items`). */
type When = (ctx: ServerContext) => boolean;
const crawler: When = (c) => c.settings.lruCrawler;
const maintainer: When = (c) => c.settings.lruMaintainer;
// the segmented LRU's fields stay listed after `lru mode flat` (observed): they follow whether
// the LRU started segmented, i.e. whether the maintainer runs
const segmented: When = (c) => c.settings.lruMaintainer;
const GENERAL_WHEN: Record<string, When> = {
  lru_crawler_running: crawler, lru_crawler_starts: crawler, lru_maintainer_juggles: maintainer,
  evicted_active: segmented, moves_to_cold: maintainer, moves_to_warm: maintainer,
  moves_within_lru: maintainer, direct_reclaims: maintainer, lru_bumps_dropped: maintainer,
  idle_kicks: (c) => c.settings.idleTimeout !== 0,
  ssl_new_sessions: (c) => c.tls !== undefined && c.settings.ssl.sessionCache,
  ssl_handshake_errors: (c) => c.tls !== undefined,
  time_since_server_cert_refresh: (c) => c.tls !== undefined,
  rejected_connections: (c) => c.settings.maxconnsFast,
  ...Object.fromEntries(['slab_reassign_rescues', 'slab_reassign_chunk_rescues', 'slab_reassign_evictions_nomem',
    'slab_reassign_inline_reclaim', 'slab_reassign_busy_items', 'slab_reassign_busy_deletes',
    'slab_reassign_running', 'slabs_moved'].map((n) => [n, (c: ServerContext) => c.settings.slabReassign])),
};
const ITEM_WHEN: Record<string, When> = {
  number_hot: segmented, number_warm: segmented, number_cold: segmented,
  number_temp: (c) => segmented(c) && c.settings.tempLru, age_hot: segmented,
  age_warm: segmented, evicted_active: segmented, moves_to_cold: maintainer,
  moves_to_warm: maintainer, moves_within_lru: maintainer, direct_reclaims: maintainer,
  hits_to_hot: maintainer, hits_to_warm: maintainer, hits_to_cold: maintainer, hits_to_temp: maintainer,
};

/** `stats reset`: every counter memcached zeroes (gauges such as curr_items stay). */
export function resetStats(ctx: ServerContext): void {
  for (const c of ctx.allCounters()) {
  c.cmd_get = c.cmd_set = c.cmd_flush = c.cmd_touch = c.cmd_meta = 0;
  c.bytes_read = c.bytes_written = c.total_connections = c.rejected_connections = 0;
  c.auth_cmds = c.auth_errors = c.idle_kicks = c.response_obj_oom = c.ssl_handshake_errors = 0;
  }
  ctx.store.storeStatsReset();
}

export function writeGeneralStats(stat: Emit, ctx: ServerContext): void {
  ctx.store.storeStats();
  const t = sumCounters(ctx.allCounters());
  for (const [name, v] of GENERAL) if (GENERAL_WHEN[name]?.(ctx) !== false) stat(name, v(ctx, t));
}

export function writeIsolationStats(stat: Emit, ctx: ServerContext): void {
  const t = sumCounters(ctx.allCounters());
  for (const [name, v] of ISOLATION) stat(name, v(ctx, t));
  if (ctx.settings.enableFaultInjection) {
    // What the fault-injection tests check over TCP: the root word the "root write" fault aims
    // at, and a checksum of every live item.
    stat('fault_root_target', ctx.store.rootTarget().toString(16).padStart(16, '0'));
    stat('store_checksum', ctx.store.checksum().toString());
    // the peer faults (debug_fault 14, 15): the worker they aim at, and this worker's own word
    const k = ctx.store.workerKeys();
    stat('fault_peer_worker', k.peer);
    stat('fault_peer_word', k.peerWord.toString(16).padStart(16, '0'));
  }
}

/** memcached formats a setting into 127 bytes with its NUL (append_stat): 126 characters at most */
const SETTING_MAX = 126;
export function writeSettingsStats(stat: Emit, ctx: ServerContext): void {
  for (const [name, v] of SETTINGS) {
    const val = v(ctx, ctx.counters);
    stat(name, typeof val === 'string' && val.length > SETTING_MAX ? val.slice(0, SETTING_MAX) : val);
  }
}

function forEachUsedClass(ctx: ServerContext, fn: (cls: number, slab: Float64Array, item: Float64Array) => void): void {
  const a = ctx.storeStatsArray;
  const base = abi.storeStats.length;
  const slab = a.subarray(base, base + abi.slabStats.length);
  const item = a.subarray(base + abi.slabStats.length, base + abi.slabStats.length + abi.itemStats.length);
  const n = ctx.store.classCount();
  for (let cls = 1; cls <= n; cls++) if (ctx.store.classStats(cls)) fn(cls, slab, item);
}

/** `all`: every LRU field, whatever the settings (binary STAT items) */
export function writeItemStats(stat: Emit, ctx: ServerContext, all = false): void {
  const names = abi.itemStats.map((name) =>
    (!all && ITEM_WHEN[name]?.(ctx) === false) || (name === 'number_temp' && !ctx.settings.tempLru) ? null : name);
  forEachUsedClass(ctx, (cls, _slab, item) => {
    if (item[0] === 0) return; // memcached lists only classes holding items
    names.forEach((name, i) => {
      if (!name) return;
      stat(`items:${cls}:${name}`, item[i]!);
    });
  });
}

export function writeSlabStats(stat: Emit, ctx: ServerContext): void {
  let active = 0;
  forEachUsedClass(ctx, (cls, slab) => {
    active++;
    abi.slabStats.forEach((name, i) => stat(`${cls}:${name}`, slab[i]!));
  });
  ctx.store.storeStats();
  stat('active_slabs', active);
  stat('total_malloced', storeStat(ctx, 'total_malloced'));
}

export function writeConnStats(stat: Emit, ctx: ServerContext): void {
  const now = ctx.now();
  for (const l of ctx.listeners()) {
    if (l.udp) stat(`${l.fd}:UDP`, 'UDP');
    stat(`${l.fd}:addr`, l.addr);
    stat(`${l.fd}:state`, l.state);
    stat(`${l.fd}:secs_since_last_cmd`, now - l.lastCmdTime);
  }
  for (const c of ctx.connections()) {
    stat(`${c.fd}:addr`, c.addr);
    stat(`${c.fd}:listen_addr`, c.listenAddr);
    stat(`${c.fd}:state`, c.state);
    stat(`${c.fd}:secs_since_last_cmd`, now - c.lastCmdTime);
  }
}
