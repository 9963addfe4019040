// memcached 1.6.18's admin commands (proto_text.c process_slabs_command, process_lru_command,
// process_lru_crawler_command, process_watch_command, process_extstore_command,
// process_memlimit_command, the `stats detail` / `stats cachedump` subcommands) and the
// per-prefix stats (stats_prefix.c). The parser
// hands over the argument tokens (remc_abi.h "Admin descriptors"); every argument rule is here.
// Runs in root; reads the window only at validated token offsets.
import { D_AUX, D_A_TOK, D_DATA_LEN, D_DATA_OFF, D_FLAGS, D_N0_LO, D_N1_LO, OP, REMC_ADMIN_TOKENS_MAX, REMC_DF_HAS_ARG } from './abi.ts';
import type { ServerContext } from './context.ts';
import type { Output } from './output.ts';
import { R, REASSIGN_REPLY } from './replies.ts';
import { uriencode, WATCH_ARGS, WATCH_DEFAULT } from './watch.ts';
import { lruArgs } from './settings.ts';


/** MAX_NUMBER_OF_SLAB_CLASSES: class ids are 1..63 */
const MAX_CLASSES = 64;
/** the `extstore` settings parsed with safe_strtoul */
const EXT_U32 = ['item_size', 'item_age', 'low_ttl', 'recache_rate', 'compact_under', 'drop_under', 'max_sleep', 'drop_unread'];
/** item_cachedump's output cap */
const CACHEDUMP_MAX = 2 * 1024 * 1024;

// ---- numbers as memcached's util.c parses them (strtoul/strtol/strtod in the C locale, then
// the byte after the number must end the token or be isspace) ----
const SPACE = /^[ \t\n\v\f\r]*/;
function strto64(s: string): bigint | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)([\s\S]*)$/.exec(s);
  if (!m || (m[3] !== '' && !/^[ \t\n\v\f\r]/.test(m[3]!))) return null;
  const v = BigInt(m[2]!);
  if (v > 0xffffffffffffffffn) return null; // ERANGE
  return m[1] === '-' ? -v : v;
}
/** safe_strtoul: "-5" fails, "-18446744073709551611" is 5; the 32-bit result truncated */
export function safeStrtoul(s: string): number | null {
  const v = strto64(s);
  if (v === null) return null;
  const u = BigInt.asUintN(64, v);
  if (u >= 1n << 63n && s.includes('-')) return null;
  return Number(BigInt.asUintN(32, u));
}
/** safe_strtol: a signed long, truncated to int32 */
export function safeStrtol(s: string): number | null {
  const v = strto64(s);
  if (v === null || v > 0x7fffffffffffffffn || v < -0x8000000000000000n) return null;
  return Number(BigInt.asIntN(32, v));
}
/** safe_strtod (decimal forms, inf, nan) */
export function safeStrtod(s: string): number | null {
  const t = s.replace(SPACE, '');
  const m = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)/i.exec(t);
  if (!m) return null;
  const rest = t.slice(m[0].length);
  if (rest !== '' && !/^[ \t\n\v\f\r]/.test(rest)) return null;
  const v = /inf/i.test(m[0]) ? (m[0].startsWith('-') ? -Infinity : Infinity) : /nan/i.test(m[0]) ? NaN : Number(m[0]);
  if (!/inf|nan/i.test(m[0]) && !Number.isFinite(v)) return null; // ERANGE (strtod takes nan as it is)
  return v;
}

// ---- per-prefix stats (stats detail): memcached's 256-bucket table, hashed with its
// hash_algorithm (murmur3; jenkins under -o no_modern), which decides the dump order ----
function murmur3(key: Buffer): number {
  let h = 0;
  const n = key.length, nb = n >>> 2;
  const c1 = 0xcc9e2d51, c2 = 0x1b873593;
  for (let i = 0; i < nb; i++) {
    let k = key.readUInt32LE(i * 4);
    k = Math.imul(k, c1); k = (k << 15) | (k >>> 17); k = Math.imul(k, c2);
    h ^= k; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const t = nb * 4;
  switch (n & 3) {
    case 3: k ^= key[t + 2]! << 16; // falls through
    case 2: k ^= key[t + 1]! << 8; // falls through
    case 1: k ^= key[t]!; k = Math.imul(k, c1); k = (k << 15) | (k >>> 17); k = Math.imul(k, c2); h ^= k;
  }
  h ^= n;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

/** Bob Jenkins' lookup3 hashlittle, initval 0 (memcached's jenkins_hash.c) */
function jenkins(k: Buffer): number {
  const rot = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  let a = (0xdeadbeef + k.length) | 0, b = a, c = a;
  let len = k.length, o = 0;
  const w = (i: number) => k[o + i]! | (k[o + i + 1]! << 8) | (k[o + i + 2]! << 16) | (k[o + i + 3]! << 24);
  while (len > 12) {
    a = (a + w(0)) | 0; b = (b + w(4)) | 0; c = (c + w(8)) | 0;
    a = (a - c) | 0; a ^= rot(c, 4); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 6); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 8); b = (b + a) | 0;
    a = (a - c) | 0; a ^= rot(c, 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 19); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 4); b = (b + a) | 0;
    len -= 12; o += 12;
  }
  if (len === 0) return c >>> 0;
  const at = (i: number) => (i < len ? k[o + i]! : 0);
  a = (a + (at(0) | (at(1) << 8) | (at(2) << 16) | (at(3) << 24))) | 0;
  b = (b + (at(4) | (at(5) << 8) | (at(6) << 16) | (at(7) << 24))) | 0;
  c = (c + (at(8) | (at(9) << 8) | (at(10) << 16) | (at(11) << 24))) | 0;
  c ^= b; c = (c - rot(b, 14)) | 0;
  a ^= c; a = (a - rot(c, 11)) | 0;
  b ^= a; b = (b - rot(a, 25)) | 0;
  c ^= b; c = (c - rot(b, 16)) | 0;
  a ^= c; a = (a - rot(c, 4)) | 0;
  b ^= a; b = (b - rot(a, 14)) | 0;
  c ^= b; c = (c - rot(b, 24)) | 0;
  return c >>> 0;
}

/** `seq` orders entries as memcached's one table does (newest first in a bucket) when the
 *  tables of several worker threads are merged */
interface PrefixEntry { prefix: Buffer; seq: number; get: number; hit: number; set: number; del: number }
/** One prefix's counts as another worker thread holds them: [prefix (latin1), seq, get, hit, set, del] */
export type PrefixRow = [string, number, number, number, number, number];

export class PrefixStats {
  private buckets: PrefixEntry[][] = Array.from({ length: 256 }, () => []);
  private readonly hash: (key: Buffer) => number;
  private localSeq = 0;
  /** `nextSeq`: creation order shared by every worker thread (-t N) */
  constructor(private readonly delimiter: number, hashAlgorithm = 'murmur3', private readonly nextSeq = () => ++this.localSeq) {
    this.hash = hashAlgorithm === 'jenkins' ? jenkins : murmur3;
  }

  /** stats_prefix_find: the key's prefix up to the delimiter; keys without one are not counted */
  private find(w: Uint8Array, off: number, len: number): PrefixEntry | null {
    let n = 0;
    while (n < len && w[off + n] !== 0 && w[off + n] !== this.delimiter) n++;
    if (n >= len || w[off + n] !== this.delimiter) return null;
    const prefix = Buffer.from(w.subarray(off, off + n));
    const bucket = this.buckets[this.hash(prefix) % 256]!;
    // QUIRK (strncmp over the new prefix's length): an entry that starts with it matches
    for (const e of bucket) if (e.prefix.length >= n && e.prefix.subarray(0, n).equals(prefix)) return e;
    const e = { prefix, seq: this.nextSeq(), get: 0, hit: 0, set: 0, del: 0 };
    bucket.unshift(e);
    return e;
  }
  recordGet(w: Uint8Array, off: number, len: number, hit: boolean): void {
    const e = this.find(w, off, len);
    if (e) { e.get++; if (hit) e.hit++; }
  }
  recordSet(w: Uint8Array, off: number, len: number): void {
    const e = this.find(w, off, len);
    if (e) e.set++;
  }
  recordDelete(w: Uint8Array, off: number, len: number): void {
    const e = this.find(w, off, len);
    if (e) e.del++;
  }
  clear(): void { for (const b of this.buckets) b.length = 0; }
  rows(): PrefixRow[] {
    const r: PrefixRow[] = [];
    for (const b of this.buckets) for (const e of b) r.push([e.prefix.toString('latin1'), e.seq, e.get, e.hit, e.set, e.del]);
    return r;
  }
  /** `others`: the other worker threads' rows, merged in as memcached's one table would hold them
   *  (a prefix counted on several threads is one entry, placed by its first creation) */
  dump(out: Output, others: PrefixRow[] = []): void {
    let buckets = this.buckets;
    if (others.length > 0) {
      const byPrefix = new Map<string, PrefixEntry>();
      const add = (prefix: Buffer, seq: number, get: number, hit: number, set: number, del: number) => {
        const key = prefix.toString('latin1');
        const e = byPrefix.get(key);
        if (!e) { byPrefix.set(key, { prefix, seq, get, hit, set, del }); return; }
        e.seq = Math.min(e.seq, seq); e.get += get; e.hit += hit; e.set += set; e.del += del;
      };
      for (const b of this.buckets) for (const e of b) add(e.prefix, e.seq, e.get, e.hit, e.set, e.del);
      for (const [p, seq, get, hit, set, del] of others) add(Buffer.from(p, 'latin1'), seq, get, hit, set, del);
      buckets = Array.from({ length: 256 }, () => []);
      for (const e of byPrefix.values()) buckets[this.hash(e.prefix) % 256]!.push(e);
      for (const b of buckets) b.sort((x, y) => y.seq - x.seq);
    }
    for (const b of buckets) {
      for (const e of b) {
        out.ascii('PREFIX ');
        out.copy(e.prefix, 0, e.prefix.length);
        out.ascii(` get ${e.get} hit ${e.hit} set ${e.set} del ${e.del}\r\n`);
      }
    }
    out.bytes(R.END);
  }
}

export class Admin {
  readonly prefixes: PrefixStats;

  constructor(
    private readonly ctx: ServerContext,
    private readonly out: Output,
    private readonly window: Buffer,
    private readonly desc: Uint32Array,
  ) {
    this.prefixes = new PrefixStats(ctx.settings.prefixDelimiter.charCodeAt(0), ctx.settings.hashAlgorithm, ctx.others?.prefixSeq);
  }

  /** Argument token i of the admin descriptor at b (undefined past the ones given). */
  private tok(b: number, i: number): string | undefined {
    const d = this.desc;
    if (i >= REMC_ADMIN_TOKENS_MAX || i >= d[b + D_AUX]! - 1) return undefined;
    const off = d[b + D_A_TOK + 2 * i]!;
    return this.window.toString('latin1', off, off + d[b + D_A_TOK + 2 * i + 1]!);
  }

  /** slabs, lru, lru_crawler, extstore, refresh_certs (watch: text.ts). pipelined: other
   *  commands' replies are still unwritten (memcached's resp_has_stack). */
  exec(b: number, op: number, noreply: boolean, pipelined = false): void {
    // memcached's ntokens: at most 23 tokens, plus the terminal one
    const ntokens = Math.min(this.desc[b + D_AUX]!, 23) + 1;
    let reply: Buffer | null;
    switch (op) {
      case OP.SLABS: reply = this.slabs(b, ntokens, noreply); break;
      case OP.LRU: reply = noreply ? null : this.lru(b, ntokens); break;
      case OP.LRU_CRAWLER: reply = this.lruCrawler(b, ntokens, pipelined); break;
      case OP.REFRESH_CERTS: reply = this.refreshCerts(noreply); break;
      default: reply = noreply ? null : this.extstore(b, ntokens);
    }
    if (reply) this.out.bytes(reply);
  }

  /** memcached's refresh_certs: OK (hidden by noreply), or the error line (never hidden) */
  private refreshCerts(noreply: boolean): Buffer | null {
    const tls = this.ctx.tls;
    if (!tls) return R.TLS_NOT_ENABLED;
    const err = tls.refresh();
    if (err !== null) return Buffer.from(err, 'latin1');
    return noreply ? null : R.OK;
  }

  private slabs(b: number, ntokens: number, noreply: boolean): Buffer | null {
    const s = this.ctx.settings;
    const sub = this.tok(b, 0);
    if (ntokens === 5 && sub === 'reassign') {
      if (!s.slabReassign) return R.SLAB_REASSIGN_DISABLED;
      const src = safeStrtol(this.tok(b, 1)!), dst = safeStrtol(this.tok(b, 2)!);
      if (src === null || dst === null) return R.BAD_FORMAT;
      return REASSIGN_REPLY[this.ctx.store.slabsReassign(src, dst)]!;
    }
    if (ntokens >= 4 && sub === 'automove') {
      // the only slabs form that honours noreply (set_noreply_maybe), errors included
      const r = this.automove(b, ntokens);
      return noreply ? null : r;
    }
    return R.ERROR;
  }

  private automove(b: number, ntokens: number): Buffer {
    const s = this.ctx.settings;
    const arg = this.tok(b, 1)!;
    if (arg === 'ratio') {
      const ratio = ntokens < 5 ? null : safeStrtod(this.tok(b, 2)!);
      if (ratio === null) return R.ERROR;
      s.slabAutomoveRatio = ratio;
      this.ctx.store.setAutomove(s.slabAutomove, ratio, s.slabAutomoveWindow);
      return R.OK;
    }
    const level = safeStrtoul(arg);
    if (level === null) return R.BAD_FORMAT;
    if (level > 2) return R.ERROR;
    s.slabAutomove = level;
    this.ctx.store.setAutomove(level, s.slabAutomoveRatio, s.slabAutomoveWindow);
    return R.OK;
  }

  private lru(b: number, ntokens: number): Buffer {
    const s = this.ctx.settings;
    const sub = this.tok(b, 0);
    if (sub === 'tune' && ntokens >= 7) {
      const hot = safeStrtoul(this.tok(b, 1)!), warm = safeStrtoul(this.tok(b, 2)!);
      const hotFactor = safeStrtod(this.tok(b, 3)!), factor = safeStrtod(this.tok(b, 4)!);
      if (hot === null || warm === null || hotFactor === null || factor === null) return R.ERROR;
      if (((hot + warm) >>> 0) > 80) return R.LRU_PCTS; // uint32 sum, as memcached adds them
      if (factor <= 0 || hotFactor <= 0) return R.LRU_FACTORS;
      // memcached keeps the shares in ints: one that wrapped the sum check is negative
      s.hotLruPct = hot | 0; s.warmLruPct = warm | 0; s.hotMaxFactor = hotFactor; s.warmMaxFactor = factor;
      this.ctx.store.setLru(...lruArgs(s));
      return R.OK;
    }
    // CVE-2019-11596: mode and temp_ttl need their argument (ntokens >= 4)
    if (sub === 'mode' && ntokens >= 4 && s.lruMaintainer) {
      const mode = this.tok(b, 1);
      if (mode === 'flat') s.lruSegmented = false;
      else if (mode === 'segmented') s.lruSegmented = true;
      else return R.ERROR;
      this.ctx.store.setLru(...lruArgs(s));
      return R.OK;
    }
    if (sub === 'temp_ttl' && ntokens >= 4 && s.lruMaintainer) {
      const ttl = safeStrtol(this.tok(b, 1)!);
      if (ttl === null) return R.ERROR;
      if (ttl < 0) s.tempLru = false;
      else { s.tempLru = true; s.temporaryTtl = ttl; }
      this.ctx.store.setLru(...lruArgs(s));
      return R.OK;
    }
    return R.ERROR;
  }

  /** lru_crawler_crawl's class list: "all", "hash", or ids 1..63 separated by commas */
  private crawlClasses(list: string): Buffer | number[] {
    if (list === 'all' || list === 'hash') return [];
    const ids: number[] = [];
    for (const p of list.split(',')) {
      if (p === '') continue; // strtok skips empty fields
      const id = safeStrtoul(p);
      if (id === null || id < 1 || id >= MAX_CLASSES) return R.CRAWLER_BADCLASS;
      ids.push(id);
    }
    return ids.length ? ids : R.CRAWLER_NOTSTARTED;
  }

  private lruCrawler(b: number, ntokens: number, pipelined: boolean): Buffer | null {
    const s = this.ctx.settings;
    const sub = this.tok(b, 0);
    if (ntokens === 4 && sub === 'crawl') {
      if (!s.lruCrawler) return R.CRAWLER_DISABLED;
      const classes = this.crawlClasses(this.tok(b, 1)!);
      if (classes instanceof Buffer) return classes;
      // the store's reclaimer is remcached's crawler: run a pass now
      this.ctx.store.reclaim(s.lruCrawlerTocrawl || 10000);
      return R.OK;
    }
    if (ntokens === 4 && sub === 'metadump') {
      if (!s.lruCrawler) return R.CRAWLER_DISABLED;
      if (this.ctx.settings.disableDumping) return R.METADUMP_DISABLED;
      if (pipelined) return R.METADUMP_PIPELINE;
      const classes = this.crawlClasses(this.tok(b, 1)!);
      if (!Array.isArray(classes)) return classes;
      this.metadump(classes);
      return R.END;
    }
    if (ntokens === 4 && (sub === 'tocrawl' || sub === 'sleep')) {
      const n = safeStrtoul(this.tok(b, 1)!);
      if (n === null) return R.BAD_FORMAT;
      if (sub === 'tocrawl') { s.lruCrawlerTocrawl = n; return R.OK; }
      if (n > 1000000) return R.CRAWLER_SLEEP;
      s.lruCrawlerSleep = n;
      return R.OK;
    }
    if (ntokens === 3 && sub === 'enable') {
      if (s.lruCrawler) return R.CRAWLER_START_FAILED; // its thread is already running
      s.lruCrawler = true;
      return R.OK;
    }
    if (ntokens === 3 && sub === 'disable') {
      s.lruCrawler = false;
      return R.OK;
    }
    return R.ERROR;
  }

  /** The crawler's metadump lines (crawler_metadump_eval); classes [] = all. memcached's crawler
   *  takes one item from each class in turn (class id order, each from its LRU tail), so the
   *  classes are interleaved the same way here. (Its segmented LRU puts each class's hot items
   *  in a round of their own; a quiet cache's items are all cold after a second.) */
  private metadump(classes: number[]): void {
    const out = this.out;
    const W = 7; // fields per item
    const f = this.ctx.store.metadump(0); // every class, in class order, each oldest first
    const want = classes.length ? new Set(classes) : null;
    const starts: number[] = [], ends: number[] = [];
    for (let i = 0; i < f.length; i += W) {
      const cls = f[i + 5] as number;
      if (want && !want.has(cls)) continue;
      if (!starts.length || f[starts[starts.length - 1]! + 5] !== cls) { starts.push(i); ends.push(i); }
      ends[ends.length - 1] = i + W;
    }
    for (let live = starts.length; live > 0;) {
      live = 0;
      for (let c = 0; c < starts.length; c++) {
        const i = starts[c]!;
        if (i >= ends[c]!) continue;
        starts[c] = i + W;
        live++;
        const exp = f[i + 1] as number;
        out.ascii(`key=${uriencode(f[i] as Buffer)} exp=${exp === 0 ? -1 : exp} la=${f[i + 2] as number} cas=${f[i + 3] as bigint}` +
          ` fetch=${f[i + 4] ? 'yes' : 'no'} cls=${f[i + 5] as number} size=${f[i + 6] as number}\n`);
      }
    }
  }

  /** memcached's process_watch_command up to logger_add_watcher: the flags to watch, or the
   *  error line. pipelined: other commands' replies are still unwritten. */
  watch(b: number, pipelined: boolean): Buffer | number {
    if (this.ctx.settings.disableWatch) return R.WATCH_DISABLED;
    if (pipelined) return R.WATCH_PIPELINE;
    const ntokens = Math.min(this.desc[b + D_AUX]!, 23) + 1;
    if (ntokens <= 2) return WATCH_DEFAULT;
    let f = 0;
    // (only the first REMC_ADMIN_TOKENS_MAX arguments reach root; memcached checks up to 22)
    for (let i = 0; i < ntokens - 2; i++) {
      const t = this.tok(b, i);
      if (t === undefined) continue;
      const v = WATCH_ARGS.get(t);
      if (v === undefined) return R.ERROR;
      f |= v;
    }
    return f;
  }

  /** extstore <setting> <value> (process_extstore_command): sets what `stats settings` shows as
   *  ext_*; remcached has no external storage for them to act on. */
  private extstore(b: number, ntokens: number): Buffer {
    const sub = this.tok(b, 0), arg = this.tok(b, 1);
    if (ntokens < 4 || sub === undefined || arg === undefined) return R.ERROR;
    if (sub === 'free_memchunks' && ntokens > 4) { // <class> <limit>: a per-class chunk reserve
      const cls = safeStrtoul(arg), limit = safeStrtoul(this.tok(b, 2)!);
      return cls === null || limit === null || cls >= MAX_CLASSES ? R.ERROR : R.OK;
    }
    const ext = this.ctx.settings.extstore;
    // QUIRK: memcached parses straight into the setting, and safe_strto* zero their output
    // first: a bad number answers ERROR and leaves the setting 0 (drop_unread: unchanged)
    if (sub === 'max_frag') {
      const v = safeStrtod(arg);
      ext.max_frag = v ?? 0;
      return v === null ? R.ERROR : R.OK;
    }
    if (!EXT_U32.includes(sub)) return R.ERROR;
    const v = safeStrtoul(arg);
    if (sub === 'drop_unread') {
      if (v !== null) ext.drop_unread = v === 0 ? 0 : 1;
    } else {
      ext[sub] = v ?? 0;
    }
    return v === null ? R.ERROR : R.OK;
  }

  /** stats detail on|off|dump (process_stats_detail) */
  statsDetail(b: number, ntokens: number): void {
    const d = this.desc;
    const arg = ntokens < 4 ? '' : this.window.toString('latin1', d[b + D_DATA_OFF]!, d[b + D_DATA_OFF]! + d[b + D_DATA_LEN]!);
    if (arg === 'on') { this.ctx.settings.detailEnabled = true; this.out.bytes(R.OK); }
    else if (arg === 'off') { this.ctx.settings.detailEnabled = false; this.out.bytes(R.OK); }
    else if (arg === 'dump') this.prefixes.dump(this.out, this.ctx.others?.prefixRows());
    else this.out.bytes(R.STATS_DETAIL_USAGE);
  }

  /** stats cachedump <class> <limit> (process_stat, item_cachedump) */
  statsCachedump(b: number, ntokens: number): void {
    const d = this.desc, out = this.out;
    if (this.ctx.settings.disableDumping) { out.bytes(R.CACHEDUMP_DISABLED); return; }
    if (ntokens < 5) { out.bytes(R.CACHEDUMP_BAD_LINE); return; }
    if (!(d[b + D_FLAGS]! & REMC_DF_HAS_ARG)) { out.bytes(R.BAD_FORMAT); return; }
    const id = d[b + D_N0_LO]!, limit = d[b + D_N1_LO]!;
    if (id >= MAX_CLASSES) { out.bytes(R.ILLEGAL_SLAB_ID); return; }
    const items = this.ctx.store.cachedump(id, limit);
    let size = 0;
    for (let i = 0; i < items.length; i += 3) {
      const key = items[i] as Buffer;
      const tail = ` [${items[i + 1] as number} b; ${items[i + 2] as number} s]\r\n`;
      const len = 5 + key.length + tail.length;
      if (size + len + 6 > CACHEDUMP_MAX) break; // memcached's 2 MiB buffer (with room for END)
      size += len;
      out.ascii('ITEM ');
      out.copy(key, 0, key.length);
      out.ascii(tail);
    }
    out.bytes(R.END);
  }

  /** cache_memlimit <MB> (process_memlimit_command); the parser refused non-numbers (ERROR).
   *  The reply, which the caller writes (or, for noreply, shows at -vv). */
  memlimit(mb: number): Buffer {
    if (mb < 8) return R.MEMLIMIT_TOO_SMALL;
    if (mb > 1000000000) return R.MEMLIMIT_NOT_BYTES;
    if (this.ctx.store.setMemLimit(mb * 1024 * 1024) !== 0) return R.MEMLIMIT_FAILED;
    this.ctx.settings.memoryLimitMb = mb;
    if (this.ctx.settings.verbosity > 0) this.ctx.verboseLine(`maxbytes adjusted to ${mb}m`);
    return R.OK;
  }
}
