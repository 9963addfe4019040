// --metrics=HOST:PORT: Prometheus text exposition (format 0.0.4) at /metrics, over node:http.
// memcached's stats carry the names, HELP and TYPE lines prometheus/memcached_exporter gives them
// (its pkg/exporter/exporter.go), so dashboards and alerts written for it work unchanged; a stat
// memcached would not list is left out, as the exporter leaves it out. remcached's own isolation
// metrics are remcached_*. Values come from the same emitters as `stats`, `stats settings`,
// `stats items` and `stats slabs` (protocol/stats.ts), summed over every worker thread.
//
// The endpoint runs on the event loop that can read the stats (the only one with -t 1, worker 0's
// with -t N), so it is kept from hurting the cache: small request heads, short timeouts, few
// sockets, and at most one rendering per MIN_RENDER_GAP_MS however many requests arrive.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { abi } from '../protocol/abi.ts';
import { REWIND_BUCKETS_NS, sumCounters, type Counters, type ServerContext } from '../protocol/context.ts';
import { writeGeneralStats, writeItemStats, writeSettingsStats, writeSlabStats } from '../protocol/stats.ts';
import { log } from './log.ts';

export const METRICS_PATH = '/metrics';
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** bounds on what a client of the endpoint can hold */
const MAX_HEADER_BYTES = 8192;
const TIMEOUT_MS = 5000;
const MAX_SOCKETS = 16;
/** requests arriving sooner after a rendering wait for the next one, and share it */
const MIN_RENDER_GAP_MS = 100;

type Stats = Map<string, string>;
/** One scrape's view: each stats group as `stats <group>` would print it, and the counters. */
interface Snapshot {
  ctx: ServerContext;
  stats: Stats;
  settings: Stats;
  /** `stats items` and `stats slabs` by slab class; slabs' totals (total_malloced) under '' */
  items: Map<string, Stats>;
  slabs: Map<string, Stats>;
  t: Counters;
}

type Labels = Array<[string, string]>;
/** [name suffix ('' or _bucket, _sum, _count), labels, value] */
type Sample = [string, Labels, number];
interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  samples(s: Snapshot): Iterable<Sample>;
}

const value = (m: Stats | undefined, key: string): number | undefined => {
  const v = m?.get(key);
  return v === undefined ? undefined : Number(v);
};

/** One sample from a stat, none when the stat is not listed (as the exporter). */
function stat(name: string, type: Family['type'], help: string, group: 'stats' | 'settings', key: string): Family {
  return { name, type, help, *samples(s) { const v = value(s[group], key); if (v !== undefined) yield ['', [], v]; } };
}
const fromStats = (name: string, type: Family['type'], help: string, key: string) => stat(name, type, help, 'stats', key);

/** A counter of remcached's own, one unlabelled sample. */
function ownCounter(name: string, help: string, get: (s: Snapshot) => number): Family {
  return { name, type: 'counter', help, *samples(s) { yield ['', [], get(s)]; } };
}

/** The exporter reads the LRU crawler's settings only while the crawler is on; yes/no are 1/0. */
function crawlerSetting(name: string, help: string, key: string, bool = false): Family {
  return {
    name, type: 'gauge', help,
    *samples(s) {
      if (s.settings.get('lru_crawler') !== 'yes') return;
      const v = s.settings.get(key);
      if (v !== undefined) yield ['', [], bool ? Number(v === 'yes') : Number(v)];
    },
  };
}

/** One sample per slab class that lists `key` in `stats items` (or `stats slabs`). */
function perSlab(name: string, type: Family['type'], help: string, group: 'items' | 'slabs', key: string): Family {
  return {
    name, type, help,
    *samples(s) {
      for (const [cls, m] of s[group]) {
        const v = value(m, key);
        if (cls !== '' && v !== undefined) yield ['', [['slab', cls]], v];
      }
    },
  };
}

const COMMAND_OPS = ['get', 'delete', 'incr', 'decr', 'cas', 'touch'] as const;
const LRUS = [['hot', 'hot'], ['warm', 'warm'], ['cold', 'cold'], ['temp', 'temporary']] as const;
const sum = (m: Stats, ...keys: string[]) => keys.reduce((a, k) => a + (value(m, k) ?? 0), 0);

const FAULT_KINDS = abi.faultKinds.slice(1); // [0] is "none"
const TIMEOUT = abi.faultKinds.indexOf('timeout');
if (TIMEOUT < 0) throw new Error('no "timeout" fault kind in the abi');

/** Every family, in exposition order: memcached_exporter's (its HELP strings verbatim, typos
 *  included), then remcached's. The one place a metric name is defined. */
const FAMILIES: Family[] = [
  { name: 'memcached_up', type: 'gauge', help: 'Could the memcached server be reached.', *samples() { yield ['', [], 1]; } },
  fromStats('memcached_uptime_seconds', 'counter', 'Number of seconds since the server started.', 'uptime'),
  fromStats('memcached_time_seconds', 'gauge', 'current UNIX time according to the server.', 'time'),
  { name: 'memcached_version', type: 'gauge', help: 'The version of this memcached server.',
    *samples(s) { yield ['', [['version', s.stats.get('version') ?? '']], 1]; } },
  fromStats('memcached_process_user_cpu_seconds_total', 'counter', 'Accumulated user time for this process.', 'rusage_user'),
  fromStats('memcached_process_system_cpu_seconds_total', 'counter', 'Accumulated system time for this process.', 'rusage_system'),
  fromStats('memcached_read_bytes_total', 'counter', 'Total number of bytes read by this server from network.', 'bytes_read'),
  fromStats('memcached_written_bytes_total', 'counter', 'Total number of bytes sent by this server to network.', 'bytes_written'),
  fromStats('memcached_current_connections', 'gauge', 'Current number of open connections.', 'curr_connections'),
  stat('memcached_max_connections', 'gauge', 'Maximum number of clients allowed.', 'settings', 'maxconns'),
  fromStats('memcached_connections_total', 'counter', 'Total number of connections opened since the server started running.', 'total_connections'),
  fromStats('memcached_connections_rejected_total', 'counter', "Total number of connections rejected due to hitting the memcached's -c limit in maxconns_fast mode.", 'rejected_connections'),
  fromStats('memcached_connections_yielded_total', 'counter', "Total number of connections yielded running due to hitting the memcached's -R limit.", 'conn_yields'),
  fromStats('memcached_connections_listener_disabled_total', 'counter', 'Number of times that memcached has hit its connections limit and disabled its listener.', 'listen_disabled_num'),
  fromStats('memcached_current_bytes', 'gauge', 'Current number of bytes used to store items.', 'bytes'),
  fromStats('memcached_limit_bytes', 'gauge', 'Number of bytes this server is allowed to use for storage.', 'limit_maxbytes'),
  { name: 'memcached_commands_total', type: 'counter', help: 'Total number of all requests broken down by command (get, set, etc.) and status.',
    *samples(s) {
      const m = s.stats;
      for (const op of COMMAND_OPS) {
        yield ['', [['command', op], ['status', 'hit']], value(m, `${op}_hits`) ?? 0];
        yield ['', [['command', op], ['status', 'miss']], value(m, `${op}_misses`) ?? 0];
      }
      yield ['', [['command', 'cas'], ['status', 'badval']], value(m, 'cas_badval') ?? 0];
      yield ['', [['command', 'flush'], ['status', 'hit']], value(m, 'cmd_flush') ?? 0];
      // memcached counts cas commands in cmd_set too
      yield ['', [['command', 'set'], ['status', 'hit']], sum(m, 'cmd_set') - sum(m, 'cas_misses', 'cas_hits', 'cas_badval')];
    } },
  fromStats('memcached_current_items', 'gauge', 'Current number of items stored by this instance.', 'curr_items'),
  fromStats('memcached_items_total', 'counter', 'Total number of items stored during the life of this instance.', 'total_items'),
  fromStats('memcached_items_evicted_total', 'counter', 'Total number of valid items removed from cache to free memory for new items.', 'evictions'),
  fromStats('memcached_items_reclaimed_total', 'counter', 'Total number of times an entry was stored using memory from an expired entry.', 'reclaimed'),
  fromStats('memcached_item_too_large_total', 'counter', 'The number of times an item exceeded the max-item-size when being stored.', 'store_too_large'),
  fromStats('memcached_item_no_memory_total', 'counter', 'The number of times an item could not be stored due to no more memory.', 'store_no_memory'),
  crawlerSetting('memcached_lru_crawler_enabled', 'Whether the LRU crawler is enabled.', 'lru_crawler', true),
  crawlerSetting('memcached_lru_crawler_sleep', 'Microseconds to sleep between LRU crawls.', 'lru_crawler_sleep'),
  crawlerSetting('memcached_lru_crawler_to_crawl', 'Max items to crawl per slab per run.', 'lru_crawler_tocrawl'),
  crawlerSetting('memcached_lru_crawler_maintainer_thread', 'Split LRU mode and background threads.', 'lru_maintainer_thread', true),
  crawlerSetting('memcached_lru_crawler_hot_percent', 'Percent of slab memory reserved for HOT LRU.', 'hot_lru_pct'),
  crawlerSetting('memcached_lru_crawler_warm_percent', 'Percent of slab memory reserved for WARM LRU.', 'warm_lru_pct'),
  crawlerSetting('memcached_lru_crawler_hot_max_factor', 'Set idle age of HOT LRU to COLD age * this', 'hot_max_factor'),
  crawlerSetting('memcached_lru_crawler_warm_max_factor', 'Set idle age of WARM LRU to COLD age * this', 'warm_max_factor'),
  fromStats('memcached_lru_crawler_starts_total', 'counter', 'Times an LRU crawler was started.', 'lru_crawler_starts'),
  fromStats('memcached_direct_reclaims_total', 'counter', 'Times worker threads had to directly reclaim or evict items.', 'direct_reclaims'),
  fromStats('memcached_lru_crawler_reclaimed_total', 'counter', 'Total items freed by LRU Crawler.', 'crawler_reclaimed'),
  fromStats('memcached_lru_crawler_items_checked_total', 'counter', 'Total items examined by LRU Crawler.', 'crawler_items_checked'),
  fromStats('memcached_lru_crawler_moves_to_cold_total', 'counter', "Total number of items moved from HOT/WARM to COLD LRU's.", 'moves_to_cold'),
  fromStats('memcached_lru_crawler_moves_to_warm_total', 'counter', 'Total number of items moved from COLD to WARM LRU.', 'moves_to_warm'),
  fromStats('memcached_lru_crawler_moves_within_lru_total', 'counter', "Total number of items reshuffled within HOT or WARM LRU's.", 'moves_within_lru'),
  // the exporter reads total_malloced beside the general stats; memcached lists it in `stats slabs`
  { name: 'memcached_malloced_bytes', type: 'gauge', help: 'Number of bytes of memory allocated to slab pages.',
    *samples(s) { const v = value(s.slabs.get(''), 'total_malloced'); if (v !== undefined) yield ['', [], v]; } },
  fromStats('memcached_accepting_connections', 'gauge', 'The Memcached server is currently accepting new connections.', 'accepting_conns'),
  // `stats items`, per slab class
  perSlab('memcached_slab_current_items', 'gauge', 'Number of items currently stored in this slab class.', 'items', 'number'),
  perSlab('memcached_slab_items_age_seconds', 'gauge', 'Number of seconds the oldest item has been in the slab class.', 'items', 'age'),
  { name: 'memcached_slab_lru_hits_total', type: 'counter', help: 'Number of get_hits to the LRU.',
    *samples(s) {
      for (const [cls, m] of s.items) {
        for (const [lru, label] of LRUS) {
          const v = value(m, `hits_to_${lru}`);
          if (v !== undefined) yield ['', [['slab', cls], ['lru', label]], v];
        }
      }
    } },
  perSlab('memcached_slab_items_crawler_reclaimed_total', 'counter', 'Number of items freed by the LRU Crawler.', 'items', 'crawler_reclaimed'),
  perSlab('memcached_slab_items_evicted_total', 'counter', 'Total number of times an item had to be evicted from the LRU before it expired.', 'items', 'evicted'),
  perSlab('memcached_slab_items_evicted_nonzero_total', 'counter', 'Total number of times an item which had an explicit expire time set had to be evicted from the LRU before it expired.', 'items', 'evicted_nonzero'),
  perSlab('memcached_slab_items_evicted_time_seconds', 'counter', 'Seconds since the last access for the most recent item evicted from this class.', 'items', 'evicted_time'),
  perSlab('memcached_slab_items_evicted_unfetched_total', 'counter', 'Total nmber of items evicted and never fetched.', 'items', 'evicted_unfetched'),
  perSlab('memcached_slab_items_expired_unfetched_total', 'counter', 'Total number of valid items evicted from the LRU which were never touched after being set.', 'items', 'expired_unfetched'),
  perSlab('memcached_slab_items_outofmemory_total', 'counter', 'Total number of items for this slab class that have triggered an out of memory error.', 'items', 'outofmemory'),
  perSlab('memcached_slab_items_reclaimed_total', 'counter', 'Total number of items reclaimed.', 'items', 'reclaimed'),
  perSlab('memcached_slab_items_tailrepairs_total', 'counter', 'Total number of times the entries for a particular ID need repairing.', 'items', 'tailrepairs'),
  perSlab('memcached_slab_mem_requested_bytes', 'counter', 'Number of bytes of memory actual items take up within a slab.', 'items', 'mem_requested'),
  perSlab('memcached_slab_items_moves_to_cold', 'counter', 'Number of items moved from HOT or WARM into COLD.', 'items', 'moves_to_cold'),
  perSlab('memcached_slab_items_moves_to_warm', 'counter', 'Number of items moves from COLD into WARM.', 'items', 'moves_to_warm'),
  perSlab('memcached_slab_items_moves_within_lru', 'counter', 'Number of times active items were bumped within HOT or WARM.', 'items', 'moves_within_lru'),
  perSlab('memcached_slab_hot_items', 'gauge', 'Number of items presently stored in the HOT LRU.', 'items', 'number_hot'),
  perSlab('memcached_slab_warm_items', 'gauge', 'Number of items presently stored in the WARM LRU.', 'items', 'number_warm'),
  perSlab('memcached_slab_cold_items', 'gauge', 'Number of items presently stored in the COLD LRU.', 'items', 'number_cold'),
  perSlab('memcached_slab_temporary_items', 'gauge', 'Number of items presently stored in the TEMPORARY LRU.', 'items', 'number_temp'),
  perSlab('memcached_slab_hot_age_seconds', 'gauge', 'Age of the oldest item in HOT LRU.', 'items', 'age_hot'),
  perSlab('memcached_slab_warm_age_seconds', 'gauge', 'Age of the oldest item in HOT LRU.', 'items', 'age_warm'),
  // `stats slabs`, per slab class
  { name: 'memcached_slab_commands_total', type: 'counter', help: 'Total number of all requests broken down by command (get, set, etc.) and status per slab.',
    *samples(s) {
      for (const [cls, m] of s.slabs) {
        if (cls === '') continue;
        for (const op of COMMAND_OPS) yield ['', [['slab', cls], ['command', op], ['status', 'hit']], value(m, `${op}_hits`) ?? 0];
        yield ['', [['slab', cls], ['command', 'cas'], ['status', 'badval']], value(m, 'cas_badval') ?? 0];
        yield ['', [['slab', cls], ['command', 'set'], ['status', 'hit']], sum(m, 'cmd_set') - sum(m, 'cas_hits', 'cas_badval')];
      }
    } },
  perSlab('memcached_slab_chunk_size_bytes', 'gauge', 'Number of bytes allocated to each chunk within this slab class.', 'slabs', 'chunk_size'),
  perSlab('memcached_slab_chunks_per_page', 'gauge', 'Number of chunks within a single page for this slab class.', 'slabs', 'chunks_per_page'),
  perSlab('memcached_slab_current_pages', 'gauge', 'Number of pages allocated to this slab class.', 'slabs', 'total_pages'),
  perSlab('memcached_slab_current_chunks', 'gauge', 'Number of chunks allocated to this slab class.', 'slabs', 'total_chunks'),
  perSlab('memcached_slab_chunks_used', 'gauge', 'Number of chunks allocated to an item.', 'slabs', 'used_chunks'),
  perSlab('memcached_slab_chunks_free', 'gauge', 'Number of chunks not yet allocated items.', 'slabs', 'free_chunks'),
  perSlab('memcached_slab_chunks_free_end', 'gauge', 'Number of free chunks at the end of the last allocated page.', 'slabs', 'free_chunks_end'),

  // remcached's own: the parser's isolation (`stats isolation` has the same counters)
  { name: 'remcached_build_info', type: 'gauge', help: "remcached's own version (memcached_version is the memcached version it serves).",
    *samples(s) { yield ['', [['version', s.ctx.remcachedVersion]], 1]; } },
  { name: 'remcached_isolation_info', type: 'gauge', help: 'The parser isolation mode in force (pku, pku-strict, sfi or none), as label mode.',
    *samples(s) { yield ['', [['mode', s.ctx.isolation]], 1]; } },
  ownCounter('remcached_parser_calls_total', 'Parser calls (one per read event).', (s) => s.t.parser_calls),
  { name: 'remcached_parser_faults_total', type: 'counter', help: 'Parser faults caught and rewound (each closed its connection), by kind.',
    *samples(s) { for (const [i, kind] of FAULT_KINDS.entries()) yield ['', [['kind', kind]], s.t.faults_by_kind[i + 1] ?? 0]; } },
  ownCounter('remcached_watchdog_interrupts_total', 'Parser calls the watchdog interrupted and rewound (the timeout kind of remcached_parser_faults_total).',
    (s) => s.t.faults_by_kind[TIMEOUT] ?? 0),
  { name: 'remcached_parser_rewind_seconds', type: 'histogram', help: 'Time from a parser fault to its domain rewound.',
    *samples(s) {
      let n = 0;
      for (const [i, le] of REWIND_BUCKETS_NS.entries()) {
        n += s.t.rewind_buckets[i] ?? 0;
        yield ['_bucket', [['le', String(le / 1e9)]], n];
      }
      n += s.t.rewind_buckets[REWIND_BUCKETS_NS.length] ?? 0;
      yield ['_bucket', [['le', '+Inf']], n];
      yield ['_sum', [], Math.round(s.t.rewind_ns_sum) / 1e9]; // whole ns: sfi times are fractional
      yield ['_count', [], n];
    } },
  ownCounter('remcached_parser_invalid_total', "Parser results that failed root's validation (each closed its connection).", (s) => s.t.parser_invalid),
  ownCounter('remcached_parser_divergences_total', 'Events the native and WebAssembly parsers parsed differently (--cross-check; each closed its connection).', (s) => s.t.parser_divergences),
  ownCounter('remcached_offender_peers_slowed_total', 'Peers slowed to one new connection per second after --offender-slow faults.', (s) => s.t.offender_slowed),
  ownCounter('remcached_offender_peers_refused_total', 'Peers refused for --offender-backoff seconds after --offender-refuse faults.', (s) => s.t.offender_refused),
  ownCounter('remcached_offender_connections_delayed_total', 'Connections of slowed peers made to wait for their turn.', (s) => s.t.offender_conns_delayed),
  ownCounter('remcached_offender_connections_refused_total', 'Connections refused by the offender table.', (s) => s.t.offender_conns_refused),
];

/** Text format 0.0.4 escaping: HELP text (\ and newline), label values (also "). */
const escHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escLabel = (s: string) => (/[\\\n"]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : s);
const fmt = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

function snapshot(ctx: ServerContext): Snapshot {
  const grab = (write: (emit: (n: string, v: string | number) => void) => void): Stats => {
    const m: Stats = new Map();
    write((n, v) => m.set(n, String(v)));
    return m;
  };
  const byClass = (flat: Stats, prefix: RegExp): Map<string, Stats> => {
    const out = new Map<string, Stats>();
    for (const [k, v] of flat) {
      const m = prefix.exec(k);
      const cls = m ? m[1]! : '';
      const field = m ? k.slice(m[0].length) : k;
      let g = out.get(cls);
      if (!g) out.set(cls, (g = new Map()));
      g.set(field, v);
    }
    return out;
  };
  return {
    ctx,
    stats: grab((e) => writeGeneralStats(e, ctx)),
    settings: grab((e) => writeSettingsStats(e, ctx)),
    items: byClass(grab((e) => writeItemStats(e, ctx)), /^items:(\d+):/),
    slabs: byClass(grab((e) => writeSlabStats(e, ctx)), /^(\d+):/),
    t: sumCounters(ctx.allCounters()),
  };
}

/** The whole exposition. */
export function render(ctx: ServerContext): string {
  const s = snapshot(ctx);
  const out: string[] = [];
  for (const f of FAMILIES) {
    out.push(`# HELP ${f.name} ${escHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const [suffix, labels, v] of f.samples(s)) {
      const l = labels.length ? `{${labels.map(([k, x]) => `${k}="${escLabel(x)}"`).join(',')}}` : '';
      out.push(`${f.name}${suffix}${l} ${fmt(v)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export interface MetricsEndpoint {
  /** host:port it listens on (the port the kernel chose for port 0) */
  address: string;
  close(): void;
}

/** Listen on `where`; resolves once bound (rejects if it cannot bind: the caller refuses to start). */
export function serveMetrics(ctx: ServerContext, where: { host: string; port: number }): Promise<MetricsEndpoint> {
  let last = -Infinity;
  let waiting: http.ServerResponse[] = [];
  let timer: NodeJS.Timeout | null = null;

  const answer = (list: http.ServerResponse[]) => {
    last = performance.now();
    let body: Buffer;
    try {
      body = Buffer.from(render(ctx));
    } catch (e) {
      log.error({ err: (e as Error).stack ?? String(e) }, 'metrics: rendering failed');
      for (const res of list) refuse(res, 500, 'Internal Server Error');
      return;
    }
    for (const res of list) {
      if (res.destroyed) continue;
      res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': body.length });
      res.end(body);
    }
  };
  const scrape = (res: http.ServerResponse) => {
    const wait = last + MIN_RENDER_GAP_MS - performance.now();
    if (wait <= 0 && !timer) { answer([res]); return; }
    waiting.push(res);
    timer ??= setTimeout(() => { timer = null; const w = waiting; waiting = []; answer(w); }, Math.max(0, wait));
  };

  const server = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES, // larger heads get 431 from Node's parser
    headersTimeout: TIMEOUT_MS,
    requestTimeout: TIMEOUT_MS,
    keepAliveTimeout: TIMEOUT_MS,
    connectionsCheckingInterval: 1000, // how often the two timeouts above are enforced
  }, (req, res) => {
    // a request with a body is answered without reading it, and its connection closed after
    const body = (req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined;
    const path = (req.url ?? '').split('?')[0];
    if (path !== METRICS_PATH) return refuse(res, 404, 'Not Found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    if (body) res.shouldKeepAlive = false;
    scrape(res);
  });
  server.maxConnections = MAX_SOCKETS; // more are closed at once
  server.maxRequestsPerSocket = 100;
  server.setTimeout(2 * TIMEOUT_MS, (sock) => sock.destroy()); // idle, or a reader that does not read

  return new Promise((resolve, reject) => {
    const failed = (e: Error) => reject(new Error(`--metrics ${where.host}:${where.port}: ${e.message}`));
    server.once('error', failed);
    server.listen({ host: where.host || undefined, port: where.port }, () => {
      server.off('error', failed);
      server.on('error', (e) => log.error({ err: e.message }, 'metrics endpoint error'));
      const a = server.address() as AddressInfo;
      const address = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
      log.info({ url: `http://${address}${METRICS_PATH}` }, 'metrics endpoint listening');
      resolve({
        address,
        close: () => { if (timer) clearTimeout(timer); server.close(); server.closeAllConnections(); },
      });
    });
  });
}

/** An error status, then the connection closed (nothing more is read from it). */
function refuse(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', ...headers });
  res.end(`${text}\n`, () => res.socket?.destroy());
}
