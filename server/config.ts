// memcached's command line: one table holds every option, its default, its help line and how it
// is parsed; --help and the defaults both come from it (memcached's usage()/verify_default idea).
import { PACKAGE_VERSION } from './package.ts';
import { SSL_DEFAULTS, SSL_SUBOPTIONS, TlsConfigError } from './tls.ts';

export { PROTOCOL_VERSION, VERSION_STRING, type Isolation, type Protocol, type Settings } from '../protocol/settings.ts';
import { PROTOCOL_VERSION, type Isolation, type Protocol, type Settings } from '../protocol/settings.ts';
export const REMCACHED_VERSION = PACKAGE_VERSION;

export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 1) { super(message); }
}

interface Option {
  short?: string;
  long: string;
  arg?: string;                // argument name in --help; absent for flags
  help: string;
  /** default as shown in --help (must agree with DEFAULTS: checked at load) */
  shows?: string;
  /** true: accepted for compatibility, has no effect here (a warning is logged) */
  noEffect?: boolean;
  apply(s: Settings, v: string): void;
}

export const DEFAULTS: Readonly<Settings> = Object.freeze({
  port: 11211, udpPort: 0, unixSocket: null, unixMask: 0o700, enableShutdown: false, listen: null,
  daemon: false, enableCoredumps: false, user: null, memoryLimitMb: 64, disableEvictions: false,
  connLimit: 1024, lockMemory: false, verbosity: 0, pidfile: null, growthFactor: 1.25,
  slabMinSize: 48, largePages: false, prefixDelimiter: ':', threads: 4, readBufMemLimit: 0, workerThreads: 1, maxReqsPerEvent: 20,
  disableCas: false, listenBacklog: 1024, protocol: 'auto', maxItemSize: 1024 * 1024, slabChunkMax: 512 * 1024, slabSizes: null, slabSizesRaw: null,
  enableSasl: false, disableFlushAll: false, disableDumping: false, disableWatch: false,
  authFile: null, memoryFile: null, restartFrom: null, enableSsl: false, ssl: SSL_DEFAULTS, maxconnsFast: true, idleTimeout: 0,
  slabReassign: true, slabAutomove: 1, slabAutomoveRatio: 0.8, slabAutomoveWindow: 30, lruCrawler: true, lruCrawlerSleep: 100,
  lruCrawlerTocrawl: 0, lruMaintainer: true, lruSegmented: true, tempLru: false, temporaryTtl: 61,
  hotLruPct: 20, warmLruPct: 40, hotMaxFactor: 0.2, warmMaxFactor: 2.0, detailEnabled: false,
  hashAlgorithm: 'murmur3',
  extstore: { item_size: 512, item_age: 4294967295, low_ttl: 0, recache_rate: 2000, compact_under: 0,
    drop_under: 0, max_sleep: 1000000, max_frag: 0.8, drop_unread: 0 },
  hashpower: 0, ignoredSuboptions: [],
  isolation: 'auto', crossCheck: false, watchdogMs: 100, enableFaultInjection: false, enableDebugtime: false,
  offenderSlow: 3, offenderRefuse: 10, offenderWindow: 60, offenderBackoff: 60, offenderLoopback: false,
  metrics: null,
});

/** strtol-like: the whole string must be an integer. */
function int(v: string, what: string): number {
  if (!/^[-+]?\d+$/.test(v.trim())) throw new UsageError(`${what}: "${v}" is not a number`);
  return Number.parseInt(v, 10);
}

/** memcached's -m: atoi(optarg) MiB into a size_t, so "abc" is 0 (refused later: no room for an
 *  item) and "-5" wraps to 2^64 - 5 MiB (no limit, as memcached starts with it). */
function megabytes(v: string): number {
  const n = Number.parseInt(/^\s*[-+]?\d*/.exec(v)![0], 10) || 0;
  return n < 0 ? 2 ** 44 + n : n;
}

/** strtod-like: the whole string must be a decimal number. */
function num(v: string, what: string): number {
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v.trim())) throw new UsageError(`${what}: "${v}" is not a number`);
  return Number(v);
}

/** memcached's -I parser: a number with an optional k/m suffix. */
function size(v: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(v);
  if (!m) throw new UsageError('Item max size cannot be less than 1024 bytes.', 64);
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  return unit === 'k' ? n * 1024 : unit === 'm' ? n * 1024 * 1024 : n;
}

function nonNegative(v: string, what: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`${what}: "${v}" is not a number >= 0`);
  return Number(v);
}

function positive(v: string, msg: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(msg);
  return Number(v);
}

/** -o slab_sizes=A-B-C as memcached's _parse_slab_sizes: '-' separated (empty fields skipped),
 *  each within [-n, slab_chunk_max] and more than 8 bytes above the one before; at most 62.
 *  A field strtoul cannot read is reported as size 0 (safe_strtoul zeroes it first). */
function slabSizes(v: string, chunkMin: number, chunkMax: number): number[] {
  if (v.length < 1) throw new UsageError('', 64);
  const sizes: number[] = [];
  let last = 0;
  for (const field of v.split('-').filter((f) => f !== '')) {
    const size = /^\s*\+?\d+\s*$/.test(field) && Number(field) <= 0xffffffff ? Number(field) : 0;
    if (size === 0 || size < chunkMin || size > chunkMax) throw new UsageError(`slab size ${size} is out of valid range`, 64);
    if (last >= size) throw new UsageError(`slab size ${size} cannot be lower than or equal to a previous class size`, 64);
    if (size <= last + 8) throw new UsageError(`slab size ${size} must be at least 8 bytes larger than previous class`, 64);
    sizes.push(size);
    last = size;
    if (sizes.length >= 63) throw new UsageError('too many slab classes specified', 64);
  }
  return sizes;
}

/** -o suboptions that change behaviour here; the rest memcached knows are accepted and ignored. */
const SUBOPTIONS: Record<string, (s: Settings, v: string | undefined) => void> = {
  maxconns_fast: (s) => { s.maxconnsFast = true; },
  no_maxconns_fast: (s) => { s.maxconnsFast = false; },
  idle_timeout: (s, v) => { s.idleTimeout = int(v ?? '', 'idle_timeout'); },
  // no_modern: memcached 1.6's pre-1.5 defaults (no page mover, no maintainer/crawler, flat LRU)
  no_modern: (s) => {
    s.slabReassign = false; s.slabAutomove = 0; s.lruCrawler = false; s.lruMaintainer = false;
    s.lruSegmented = false; s.maxconnsFast = false; s.hashAlgorithm = 'jenkins';
    // memcached: a whole slab page unless slab_chunk_max was given (here: unless changed)
    if (s.slabChunkMax === DEFAULTS.slabChunkMax) s.slabChunkMax = 1024 * 1024;
  },
  // LRU tuning shown by stats settings (and changed at run time by lru / lru_crawler / slabs)
  temporary_ttl: (s, v) => { s.tempLru = true; s.temporaryTtl = int(v ?? '', 'temporary_ttl'); },
  lru_crawler_sleep: (s, v) => { s.lruCrawlerSleep = int(v ?? '', 'lru_crawler_sleep'); },
  lru_crawler_tocrawl: (s, v) => { s.lruCrawlerTocrawl = int(v ?? '', 'lru_crawler_tocrawl'); },
  hot_lru_pct: (s, v) => { s.hotLruPct = int(v ?? '', 'hot_lru_pct'); },
  warm_lru_pct: (s, v) => { s.warmLruPct = int(v ?? '', 'warm_lru_pct'); },
  hot_max_factor: (s, v) => { s.hotMaxFactor = num(v ?? '', 'hot_max_factor'); },
  warm_max_factor: (s, v) => { s.warmMaxFactor = num(v ?? '', 'warm_max_factor'); },
  slab_automove_ratio: (s, v) => { s.slabAutomoveRatio = num(v ?? '', 'slab_automove_ratio'); },
  // memcached: atoi, then at least 3 (exit 1 with its line)
  slab_automove_window: (s, v) => {
    if (v === undefined) throw new UsageError('Missing slab_automove_window argument');
    const n = Number.parseInt(/^\s*[-+]?\d*/.exec(v)![0], 10) || 0;
    if (n < 3) throw new UsageError('slab_automove_window must be > 2');
    s.slabAutomoveWindow = n;
  },
  hash_algorithm: (s, v) => {
    if (v !== 'murmur3' && v !== 'jenkins') throw new UsageError('Unknown hash_algorithm option (jenkins, murmur3)');
    s.hashAlgorithm = v;
  },
  modern: () => {},
  slab_chunk_max: (s, v) => {
    if (!/^-?\d+$/.test(v ?? '')) throw new UsageError('could not parse argument to slab_chunk_max');
    s.slabChunkMax = Number(v);
  },
  // memcached strdup()s a missing value and crashes (SIGSEGV); refused here instead
  slab_sizes: (s, v) => {
    if (v === undefined) throw new UsageError('Missing slab_sizes argument', 64);
    s.slabSizesRaw = v;
  },
  slab_reassign: (s) => { s.slabReassign = true; },
  slab_automove: (s, v) => { s.slabAutomove = v === undefined ? 1 : int(v, 'slab_automove'); },
  lru_crawler: (s) => { s.lruCrawler = true; },
  no_lru_crawler: (s) => { s.lruCrawler = false; },
  lru_maintainer: (s) => { s.lruMaintainer = true; s.lruSegmented = true; },
  no_lru_maintainer: (s) => { s.lruMaintainer = false; s.lruSegmented = false; },
  // megabytes, stored in bytes as memcached does (stats settings shows bytes)
  read_buf_mem_limit: (s, v) => {
    if (v === undefined) throw new UsageError('Missing read_buf_mem_limit argument');
    if (!/^\d+$/.test(v)) throw new UsageError('could not parse argument to read_buf_mem_limit');
    s.readBufMemLimit = (Number(v) * 1024 * 1024) % 2 ** 32; // memcached's unsigned int
  },
  hashpower: (s, v) => {
    const n = int(v ?? '', 'hashpower');
    if (n < 12 || n > 32) throw new UsageError('Initial hashtable multiplier of 12 is the minimum, 32 the maximum');
    s.hashpower = n;
  },
};
const IGNORED_SUBOPTIONS = new Set([
  'tail_repair_time', 'no_slab_reassign',
  'slab_automove_freeratio', 'watcher_logbuf_size', 'worker_logbuf_size',
  'track_sizes', 'no_hashexpand', 'sock_cookie_id', 'drop_privileges',
  'no_drop_privileges', 'inline_ascii_resp', 'no_inline_ascii_resp', 'lru_segmented',
  'no_lru_segmented', 'ext_path', 'ext_page_size', 'ext_wbuf_size', 'ext_threads',
  'ext_item_size', 'ext_item_age', 'ext_low_ttl', 'ext_drop_unread', 'ext_recache_rate',
  'ext_compact_under', 'ext_drop_under', 'ext_max_frag', 'ext_max_sleep', 'num_napi_ids', 'temp_lru',
]);

export const OPTIONS: readonly Option[] = [
  { short: 'p', long: 'port', arg: 'num', help: 'TCP port to listen on', shows: '11211',
    apply: (s, v) => {
      const n = int(v, 'port');
      if (n < -1 || n > 65535) throw new UsageError(`ERROR: Invalid port number ${n}.`);
      s.port = n;
    } },
  { short: 'U', long: 'udp-port', arg: 'num', help: 'UDP port to listen on', shows: '0, off',
    apply: (s, v) => { s.udpPort = int(v, 'udp-port'); } },
  { short: 's', long: 'unix-socket', arg: 'file', help: 'UNIX socket to listen on (disables network support)', apply: (s, v) => { s.unixSocket = v; } },
  { short: 'a', long: 'unix-mask', arg: 'mask', help: 'access mask for UNIX socket, in octal', shows: '700',
    apply: (s, v) => {
      if (!/^[0-7]{1,4}$/.test(v)) throw new UsageError(`Invalid unix mask: ${v}`);
      s.unixMask = Number.parseInt(v, 8);
    } },
  { short: 'A', long: 'enable-shutdown', help: 'enable ascii "shutdown" command', apply: (s) => { s.enableShutdown = true; } },
  { short: 'l', long: 'listen', arg: 'addr', help: 'interface to listen on (several -l add up, as in memcached)', shows: 'INADDR_ANY', apply: (s, v) => { s.listen = s.listen === null ? v : `${s.listen},${v}`; } },
  { short: 'd', long: 'daemon', help: 'run as a daemon', apply: (s) => { s.daemon = true; } },
  { short: 'r', long: 'enable-coredumps', help: 'maximize core file limit', noEffect: true, apply: (s) => { s.enableCoredumps = true; } },
  { short: 'u', long: 'user', arg: 'user', help: 'assume identity of <username> (only when run as root)', apply: (s, v) => { s.user = v; } },
  { short: 'm', long: 'memory-limit', arg: 'num', help: 'item memory in megabytes', shows: '64',
    apply: (s, v) => { s.memoryLimitMb = megabytes(v); } },
  { short: 'M', long: 'disable-evictions', help: 'return error on memory exhausted instead of evicting', apply: (s) => { s.disableEvictions = true; } },
  { short: 'c', long: 'conn-limit', arg: 'num', help: 'max simultaneous connections', shows: '1024',
    apply: (s, v) => {
      if (!/^-?\d+$/.test(v) || Number(v) <= 0) throw new UsageError('Maximum connections must be greater than 0');
      s.connLimit = Number(v);
    } },
  { short: 'k', long: 'lock-memory', help: 'lock down all paged memory', noEffect: true, apply: (s) => { s.lockMemory = true; } },
  { short: 'v', long: 'verbose', help: 'verbose (print errors/warnings while in event loop); -vv also client commands, -vvv internal state transitions',
    apply: (s) => { s.verbosity++; } },
  { short: 'h', long: 'help', help: 'print this help and exit', apply: () => {} },
  { short: 'i', long: 'license', help: 'print the license and exit', apply: () => {} },
  { short: 'V', long: 'version', help: 'print version and exit', apply: () => {} },
  { short: 'P', long: 'pidfile', arg: 'file', help: 'save PID in <file>', apply: (s, v) => { s.pidfile = v; } },
  { short: 'f', long: 'slab-growth-factor', arg: 'num', help: 'chunk size growth factor', shows: '1.25',
    apply: (s, v) => {
      const f = Number(v);
      if (!(f > 1)) throw new UsageError('Factor must be greater than 1');
      s.growthFactor = f;
    } },
  { short: 'n', long: 'slab-min-size', arg: 'bytes', help: 'min space used for key+value+flags', shows: '48',
    apply: (s, v) => { s.slabMinSize = positive(v, 'Chunk size must be greater than 0'); } },
  { short: 'L', long: 'enable-largepages', help: 'try to use large memory pages', noEffect: true, apply: (s) => { s.largePages = true; } },
  { short: 'D', long: 'stats-prefix-delimiter', arg: 'char', help: 'delimiter between key prefixes and IDs for per-prefix stats (stats detail)', shows: ':',
    apply: (s, v) => { s.prefixDelimiter = v.slice(0, 1); } },
  { short: 't', long: 'threads', arg: 'num', help: 'number of worker threads, each with its own event loop and parser domain (-Z, -U: one loop)', shows: '4',
    apply: (s, v) => { s.threads = positive(v, 'Number of threads must be greater than 0'); } },
  { short: 'R', long: 'max-reqs-per-event', arg: 'num', help: 'maximum number of requests per event', shows: '20',
    apply: (s, v) => { s.maxReqsPerEvent = positive(v, 'Number of requests per event must be greater than 0'); } },
  { short: 'C', long: 'disable-cas', help: 'disable use of CAS', apply: (s) => { s.disableCas = true; } },
  { short: 'b', long: 'listen-backlog', arg: 'num', help: 'set the backlog queue limit', shows: '1024',
    apply: (s, v) => { s.listenBacklog = int(v, 'listen-backlog'); } },
  { short: 'B', long: 'protocol', arg: 'name', help: 'protocol - one of ascii, binary, or auto', shows: 'auto-negotiate',
    apply: (s, v) => {
      if (v !== 'auto' && v !== 'ascii' && v !== 'binary') {
        throw new UsageError(`Invalid value for binding protocol: ${v}\n -- should be one of auto, binary, or ascii`, 64);
      }
      s.protocol = v;
    } },
  { short: 'I', long: 'max-item-size', arg: 'num', help: 'adjusts max item size (min: 1k, max: 1024m)', shows: '1m',
    apply: (s, v) => { s.maxItemSize = size(v); } },
  { short: 'S', long: 'enable-sasl', help: 'turn on Sasl authentication (PLAIN; users from the file named by $MEMCACHED_SASL_PWDB)', apply: (s) => { s.enableSasl = true; } },
  { short: 'F', long: 'disable-flush-all', help: 'disable flush_all command', apply: (s) => { s.disableFlushAll = true; } },
  { short: 'X', long: 'disable-dumping', help: 'disable stats cachedump and lru_crawler metadump', apply: (s) => { s.disableDumping = true; } },
  { short: 'W', long: 'disable-watch', help: 'disable watch commands (live logging)', apply: (s) => { s.disableWatch = true; } },
  { short: 'Y', long: 'auth-file', arg: 'file', help: 'ASCII protocol authentication: a file of user:password lines (at most 8)', apply: (s, v) => { s.authFile = v; } },
  { short: 'e', long: 'memory-file', arg: 'file', help: 'restartable cache: items saved to <file> at a graceful stop (SIGUSR1), loaded at the next start', apply: (s, v) => { s.memoryFile = v; } },
  { short: 'Z', long: 'enable-ssl', help: 'enable TLS/SSL', apply: (s) => { s.enableSsl = true; } },
  { short: 'o', long: 'extended', arg: 'opts', help: 'comma separated list of extended options (maxconns_fast, idle_timeout, hashpower, no_modern, slab_reassign, slab_automove, lru_crawler, no_lru_crawler, lru_maintainer, no_lru_maintainer; memcached\'s other tuning options are accepted and ignored)',
    apply: (s, v) => {
      for (const item of v.split(',')) {
        if (item === '') continue;
        const eq = item.indexOf('=');
        const name = eq < 0 ? item : item.slice(0, eq);
        const value = eq < 0 ? undefined : item.slice(eq + 1);
        const known = SUBOPTIONS[name];
        const ssl = SSL_SUBOPTIONS[name];
        if (known) known(s, value);
        else if (ssl) {
          try { ssl(s, value); } catch (e) { throw e instanceof TlsConfigError ? new UsageError(e.message, e.exitCode) : e; }
        }
        else if (IGNORED_SUBOPTIONS.has(name)) s.ignoredSuboptions.push(name);
        else throw new UsageError(`Illegal suboption "${item}"`);
      }
    } },
  { long: 'isolation', arg: 'mode', help: 'parser isolation: pku, pku-strict, sfi (WebAssembly, any CPU) or none (a mode given here that cannot hold refuses to start, exit 64)', shows: 'pku where a start-up self-test proves it holds, else sfi, else none',
    apply: (s, v) => {
      if (v !== 'auto' && v !== 'pku' && v !== 'pku-strict' && v !== 'sfi' && v !== 'none') throw new UsageError(`Invalid isolation mode: ${v} (pku, pku-strict, sfi, none)`);
      s.isolation = v;
    } },
  { long: 'cross-check', help: 'parse every event twice, natively (pku or none) and in WebAssembly, and close the connection when they differ (not with --isolation=sfi)',
    apply: (s) => { s.crossCheck = true; } },
  { long: 'watchdog-ms', arg: 'num', help: 'longest a parser call may run before it is interrupted and rewound', shows: '100',
    apply: (s, v) => { s.watchdogMs = positive(v, 'watchdog-ms must be greater than 0'); } },
  { long: 'enable-fault-injection', help: 'tests and demos only: the debug_fault command makes the parser fault inside its domain', apply: (s) => { s.enableFaultInjection = true; } },
  // Repeat offenders. A peer is an IP address (an IPv6 /64). Behind a proxy (mcrouter,
  // twemproxy) every client has the proxy's address: one client's faults then slow and refuse
  // them all, so raise the thresholds there or turn them off with 0. Loopback peers are exempt
  // unless --offender-loopback (a proxy on the same host is the common case), unix sockets always.
  { long: 'offender-slow', arg: 'num', help: 'parser faults (crash or watchdog) from one peer within --offender-window after which its new connections are admitted one per second; 0: never', shows: '3',
    apply: (s, v) => { s.offenderSlow = nonNegative(v, 'offender-slow'); } },
  { long: 'offender-refuse', arg: 'num', help: 'parser faults from one peer within --offender-window after which its connections are refused for --offender-backoff; 0: never', shows: '10',
    apply: (s, v) => { s.offenderRefuse = nonNegative(v, 'offender-refuse'); } },
  { long: 'offender-window', arg: 'sec', help: 'how long a peer\'s faults are remembered', shows: '60',
    apply: (s, v) => { s.offenderWindow = positive(v, 'offender-window must be greater than 0'); } },
  { long: 'offender-backoff', arg: 'sec', help: 'how long a refused peer stays refused', shows: '60',
    apply: (s, v) => { s.offenderBackoff = positive(v, 'offender-backoff must be greater than 0'); } },
  { long: 'offender-loopback', help: 'judge loopback peers too (by default they are never slowed or refused)', apply: (s) => { s.offenderLoopback = true; } },
  { long: 'metrics', arg: 'host:port', help: 'serve Prometheus metrics (memcached_exporter\'s names, and remcached_* for isolation) at http://HOST:PORT/metrics; [v6addr]:PORT for IPv6, :PORT for every interface', shows: 'off',
    apply: (s, v) => {
      const m = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(v);
      if (!m || Number(m[2]) > 65535) throw new UsageError(`--metrics: "${v}" is not HOST:PORT (e.g. 127.0.0.1:9150)`, 64);
      s.metrics = { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
    } },
  { long: 'enable-debugtime', help: 'tests only: the debugtime <seconds> command moves the server clock', apply: (s) => { s.enableDebugtime = true; } },
];

/** One address of -l as memcached's server_sockets reads it: an optional `notls:` prefix (plain
 *  under -Z), a host (an IPv6 address in brackets, or bare when it has no port) and an optional
 *  `:port` overriding -p/-U. null: any address (empty or `*`). */
export interface ListenSpec { notls: boolean; host: string; port: number | null }
export function parseListenSpec(spec: string): ListenSpec | null {
  let rest = spec.trim();
  const notls = rest.startsWith('notls:');
  if (notls) rest = rest.slice(6);
  let host = rest, port: number | null = null;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracket) [host, port] = [bracket[1]!, bracket[2] !== undefined ? Number(bracket[2]) : null];
  else if (rest.indexOf(':') >= 0 && rest.indexOf(':') === rest.lastIndexOf(':')) {
    [host, port] = [rest.slice(0, rest.indexOf(':')), Number(rest.slice(rest.indexOf(':') + 1))];
  }
  if (host === '' || host === '*') return null;
  return { notls, host, port: port !== null && Number.isInteger(port) ? port : null };
}
/** The addresses of -l, one entry per comma-separated part (null where the part is empty). */
export const listenSpecs = (listen: string | null): Array<ListenSpec | null> => (listen ?? '').split(',').map(parseListenSpec);

export interface Parsed { settings: Settings; action: 'run' | 'help' | 'version' | 'license'; given: Set<string> }

/** getopt_long-compatible parsing: -p 1, -p1, -vv, -MC, --port=1, --port 1. */
export function parseArgs(argv: readonly string[]): Parsed {
  const s: Settings = { ...DEFAULTS, ignoredSuboptions: [], extstore: { ...DEFAULTS.extstore }, ssl: { ...DEFAULTS.ssl } };
  const given = new Set<string>();
  let action: Parsed['action'] = 'run';
  const byShort = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]));
  const byLong = new Map(OPTIONS.map((o) => [o.long, o]));
  const run = (o: Option, v: string): void => {
    given.add(o.long);
    if (o.long === 'help') action = 'help';
    else if (o.long === 'version' && action === 'run') action = 'version';
    else if (o.long === 'license' && action === 'run') action = 'license';
    o.apply(s, v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const o = byLong.get(name);
      if (!o) throw new UsageError(`memcached: unrecognized option '${a}'\nIllegal argument "?"`);
      let v = '';
      if (o.arg) {
        if (eq >= 0) v = a.slice(eq + 1);
        else if (i + 1 < argv.length) v = argv[++i]!;
        else throw new UsageError(`memcached: option '--${name}' requires an argument\nIllegal argument "?"`);
      } else if (eq >= 0) throw new UsageError(`memcached: option '--${name}' doesn't allow an argument\nIllegal argument "?"`);
      run(o, v);
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const o = byShort.get(a[j]!);
        if (!o) throw new UsageError(`memcached: invalid option -- '${a[j]}'\nIllegal argument "?"`);
        if (o.arg) {
          let v = a.slice(j + 1);
          if (v === '') {
            if (i + 1 >= argv.length) throw new UsageError(`memcached: option requires an argument -- '${a[j]}'\nIllegal argument "?"`);
            v = argv[++i]!;
          }
          run(o, v);
          break;
        }
        run(o, '');
      }
    } else {
      throw new UsageError(`unexpected argument: ${a}`);
    }
  }
  validate(s, given);
  if (s.crossCheck && s.isolation === 'sfi') throw new UsageError('--cross-check runs the native parser beside the WebAssembly one: use it with --isolation=pku, pku-strict or none (or none given), not sfi');
  return { settings: s, action, given };
}

/** Cross-option rules, with memcached's messages. */
function validate(s: Settings, given: Set<string>): void {
  // memcached's checks, in its order, all EX_USAGE (64)
  if (s.maxItemSize < 1024) throw new UsageError('Item max size cannot be less than 1024 bytes.', 64);
  if (s.memoryLimitMb <= 0 || s.maxItemSize > (s.memoryLimitMb * 1024 * 1024) / 2) {
    throw new UsageError('Cannot set item size limit higher than 1/2 of memory max.', 64);
  }
  if (s.maxItemSize > 1024 * 1024 * 1024) throw new UsageError('Cannot set item size limit higher than a gigabyte.', 64);
  const SLAB_PAGE = 1024 * 1024;
  if (s.slabChunkMax > s.maxItemSize) {
    throw new UsageError(`slab_chunk_max (bytes: ${s.slabChunkMax}) cannot be larger than -I (item_size_max ${s.maxItemSize})`, 64);
  }
  if (s.slabChunkMax <= 0 || s.maxItemSize % s.slabChunkMax !== 0) {
    throw new UsageError(`-I (item_size_max: ${s.maxItemSize}) must be evenly divisible by slab_chunk_max (bytes: ${s.slabChunkMax})`, 64);
  }
  if (SLAB_PAGE % s.slabChunkMax !== 0) {
    throw new UsageError(`slab_chunk_max (bytes: ${s.slabChunkMax}) must divide evenly into ${SLAB_PAGE} (slab_page_size)`, 64);
  }
  if (s.slabSizesRaw !== null) s.slabSizes = slabSizes(s.slabSizesRaw, s.slabMinSize, s.slabChunkMax);
  // memcached: -S means binary only; an explicit -B other than binary is refused, and so is UDP
  if (s.enableSasl) {
    if (given.has('protocol') && s.protocol !== 'binary') throw new UsageError('ERROR: You cannot allow the ASCII protocol while using SASL.');
    s.protocol = 'binary';
    if (s.udpPort !== 0) throw new UsageError('ERROR: Cannot enable UDP while using binary SASL authentication.');
  }
  // memcached: -U alone also moves the TCP port there
  if (given.has('udp-port') && s.udpPort !== 0 && !given.has('port')) s.port = s.udpPort;
  // memcached: -Y means ASCII only (even after -S); an explicit -B other than ascii is refused
  if (s.authFile !== null) {
    if (given.has('protocol') && s.protocol !== 'ascii') {
      throw new UsageError('ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.', 64);
    }
    s.protocol = 'ascii';
  }
  if (s.enableSsl && s.port === 0) throw new UsageError('ERROR: You cannot enable SSL without a TCP port.', 64);
  // memcached refuses a notls: listener without -Z when it binds it (exit 71, EX_OSERR)
  if (!s.enableSsl && s.listen !== null && s.listen.split(',').some((l) => l.trim().startsWith('notls:'))) {
    throw new UsageError(`'notls' option is valid only when SSL is enabled\nfailed to listen on one of interface(s) ${s.listen}: Success`, 71);
  }
}

/** Options given that have no effect here (logged as warnings at startup). */
export function noEffectOptions(p: Parsed): string[] {
  const out = OPTIONS.filter((o) => o.noEffect && p.given.has(o.long)).map((o) => `--${o.long}`);
  for (const so of p.settings.ignoredSuboptions) out.push(`-o ${so}`);
  return out;
}

export function helpText(): string {
  const lines = [`remcached ${REMCACHED_VERSION} (memcached ${PROTOCOL_VERSION} compatible)`];
  for (const o of OPTIONS) {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${o.long}${o.arg ? `=<${o.arg}>` : ''}`;
    const def = o.shows ? ` (default: ${o.shows})` : '';
    lines.push(`${left.padEnd(33)} ${o.help}${def}`);
  }
  return lines.join('\n') + '\n';
}

// The help text's defaults must be the real ones (memcached's verify_default).
for (const [long, value] of [['port', DEFAULTS.port], ['memory-limit', DEFAULTS.memoryLimitMb],
  ['conn-limit', DEFAULTS.connLimit], ['threads', DEFAULTS.threads], ['max-reqs-per-event', DEFAULTS.maxReqsPerEvent],
  ['listen-backlog', DEFAULTS.listenBacklog], ['slab-min-size', DEFAULTS.slabMinSize],
  ['slab-growth-factor', DEFAULTS.growthFactor], ['watchdog-ms', DEFAULTS.watchdogMs],
  ['offender-slow', DEFAULTS.offenderSlow], ['offender-refuse', DEFAULTS.offenderRefuse],
  ['offender-window', DEFAULTS.offenderWindow], ['offender-backoff', DEFAULTS.offenderBackoff]] as const) {
  const o = OPTIONS.find((x) => x.long === long);
  if (!o || o.shows !== String(value)) throw new Error(`help default for --${long} disagrees with DEFAULTS`);
}
