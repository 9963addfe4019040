// The semantics of memcached's text commands: each validated descriptor the parser produced
// becomes store operations and reply bytes. Runs in root; reads only numbers from `desc` and
// bytes from the window at offsets that were validated.
import {
  D_AUX, D_DATA_LEN, D_DATA_OFF, D_END, D_ERR, D_FLAGS, D_KEY_LEN, D_KEY_OFF, D_N0_HI, D_N0_LO, D_N1_LO, D_N2_HI,
  D_N2_LO, D_OP, D_START, MODE, OP, PERR, REMC_DF_DATA_INCOMPLETE, REMC_DF_HAS_ARG, REMC_DF_LAST_KEY, REMC_DF_NOREPLY,
  R_ARITH_LEN, R_CAS, R_CLASS, R_FLAGS, STORE, WORDS,
} from './abi.ts';
import { After, type TextConn } from './conn.ts';
import { responseCap, VERSION_STRING } from './settings.ts';
import type { ServerContext } from './context.ts';
import type { Store } from './store.ts';
import type { Output } from './output.ts';
import { FAULT_NOT_CAUGHT, PARSE_ERROR_REPLY, R, STORE_REPLY } from './replies.ts';
import { resetStats, textStats, writeConnStats, writeGeneralStats, writeIsolationStats, writeItemStats, writeSettingsStats, writeSlabStats } from './stats.ts';
import type { Emit } from './stats.ts';
import { MetaProtocol } from './meta.ts';
import { Admin } from './admin.ts';
import { LOG_FETCHERS, LOG_MUTATIONS, type Watch } from './watch.ts';


/** Storage command op -> store mode. */
const STORE_MODE: number[] = [];
STORE_MODE[OP.SET] = MODE.SET;
STORE_MODE[OP.ADD] = MODE.ADD;
STORE_MODE[OP.REPLACE] = MODE.REPLACE;
STORE_MODE[OP.APPEND] = MODE.APPEND;
STORE_MODE[OP.PREPEND] = MODE.PREPEND;
STORE_MODE[OP.CAS] = MODE.CAS;

export { After, type TextConn }; // for importers of text.ts

const MODE_SET = MODE.SET;

/** memcached's IT_REFCOUNT_LIMIT */
const REFCOUNT_LIMIT = 60000;

export class TextProtocol {
  /** hits per key within the current giant multiget (see overRefcountLimit) */
  private readonly refHits = new Map<string, number>();
  private refCmdStart = -1;
  private readonly store: Store;
  private readonly emit: Emit;
  private readonly watch: Watch;
  /** commands run since memcached last wrote its replies out (after a get, an mn, or the end of
   *  a read event): `watch` refuses to follow any */
  stacked = 0;
  /** replies that may stack up before memcached runs out of response memory (responseCap) */
  private readonly respCap: number;
  /** a get ran out of response memory: its remaining keys are skipped */
  private oomGet = false;
  /** the reply a noreply command did not send (-vv prints it as `>fd NOREPLY ...`) */
  quiet: Buffer | null = null;

  constructor(
    private readonly ctx: ServerContext,
    private readonly out: Output,
    private readonly window: Buffer,
    private readonly desc: Uint32Array,
    private readonly res: Float64Array,
  ) {
    this.store = ctx.store;
    this.watch = ctx.watch;
    this.respCap = responseCap(ctx.settings);
    this.emit = textStats(out);
    this.meta = new MetaProtocol(ctx, out, window, desc, res);
    this.admin = new Admin(ctx, out, window, desc);
  }

  /** slabs lru lru_crawler watch extstore refresh_certs, stats detail/cachedump (protocol/admin.ts) */
  readonly admin: Admin;

  /** mg ms md ma mn me (protocol/meta.ts) */
  private readonly meta: MetaProtocol;

  /** Execute descriptor i. `len` is the number of valid bytes in the window. */
  exec(conn: TextConn, i: number, len: number): After {
    const d = this.desc;
    const b = i * WORDS;
    const op = d[b + D_OP]!;
    this.stacked++;
    if (this.stacked > this.respCap) return this.outOfMemory(b, op);
    if (op >= OP.MG) {
      const a = this.meta.exec(conn, i, len);
      if (op === OP.MN) { this.out.mark(); this.stacked = 0; } // memcached has written everything up to an mn
      return a;
    }
    const err = d[b + D_ERR]!;
    const noreply = (d[b + D_FLAGS]! & REMC_DF_NOREPLY) !== 0;
    const out = this.out;

    const mode = STORE_MODE[op];
    if (mode !== undefined) return this.storage(conn, b, mode, err, noreply, len);
    if (op === OP.WATCH) {
      if (noreply) return After.CONTINUE; // memcached takes noreply for an argument: ERROR, hidden
      const f = this.admin.watch(b, this.stacked > 1);
      if (typeof f !== 'number') { out.bytes(f); return After.CONTINUE; }
      conn.watchFlags = f;
      return After.WATCH;
    }
    if (op >= OP.SLABS && op <= OP.REFRESH_CERTS) {
      this.admin.exec(b, op, noreply, this.stacked > 1);
      this.ctx.settingsChanged();
      return After.CONTINUE;
    }
    // memcached refuses flush_all under -F before it looks at the arguments (noreply still hides it)
    if (op === OP.FLUSH_ALL && this.ctx.settings.disableFlushAll) {
      if (!noreply) out.bytes(R.FLUSH_DISABLED);
      return After.CONTINUE;
    }
    if (err !== 0) {
      // memcached 1.6.18 drops the replies it has not written yet (those since the last get or
      // mn of this read) when a multiget has a key over 250 bytes
      if (err === PERR.KEY_TOO_LONG && op >= OP.GET && op <= OP.GATS) out.rewindToMark();
      if (!noreply) out.bytes(PARSE_ERROR_REPLY[err]!);
      return After.CONTINUE;
    }
    switch (op) {
      case OP.GET: case OP.GETS: case OP.GAT: case OP.GATS:
        this.retrieve(b, op);
        return After.CONTINUE;
      case OP.DELETE: {
        if (this.ctx.settings.detailEnabled) this.admin.prefixes.recordDelete(this.window, d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!);
        if (this.watch.flags & LOG_FETCHERS) this.watch.lookup(this.window, d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, this.res);
        const r = this.store.del(d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, 0, 0);
        if (!noreply) out.bytes(STORE_REPLY[r]!);
        else this.quiet = STORE_REPLY[r]!;
        return After.CONTINUE;
      }
      case OP.INCR: case OP.DECR:
        this.arith(b, op === OP.INCR, noreply);
        return After.CONTINUE;
      case OP.TOUCH: {
        this.ctx.counters.cmd_touch++;
        if (this.watch.flags & LOG_FETCHERS) this.watch.lookup(this.window, d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, this.res);
        const r = this.store.touch(d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, d[b + D_N1_LO]! | 0);
        if (!noreply) out.bytes(STORE_REPLY[r]!);
        else this.quiet = STORE_REPLY[r]!;
        return After.CONTINUE;
      }
      case OP.STATS:
        this.stats(b);
        this.ctx.settingsChanged(); // stats detail on|off
        return After.CONTINUE;
      case OP.FLUSH_ALL:
        this.ctx.counters.cmd_flush++;
        this.store.flush((d[b + D_FLAGS]! & REMC_DF_HAS_ARG) !== 0 ? d[b + D_N1_LO]! | 0 : 0);
        if (!noreply) out.bytes(R.OK);
        else this.quiet = R.OK;
        return After.CONTINUE;
      case OP.VERSION:
        out.ascii(`VERSION ${VERSION_STRING}\r\n`);
        return After.CONTINUE;
      case OP.VERBOSITY:
        this.ctx.setVerbosity(d[b + D_N0_LO]!);
        this.ctx.settingsChanged();
        if (!noreply) out.bytes(R.OK);
        else this.quiet = R.OK;
        return After.CONTINUE;
      case OP.QUIT:
        return After.CLOSE;
      case OP.SHUTDOWN: {
        if (!this.ctx.settings.enableShutdown) { out.bytes(R.SHUTDOWN_DISABLED); return After.CONTINUE; }
        // "shutdown" or "shutdown graceful", nothing else
        const argLen = d[b + D_KEY_LEN]!;
        const arg = argLen ? this.window.toString('latin1', d[b + D_KEY_OFF]!, d[b + D_KEY_OFF]! + argLen) : '';
        if (d[b + D_AUX]! > 2 || (arg !== '' && arg !== 'graceful')) {
          out.bytes(R.INVALID_SHUTDOWN_MODE);
          return After.CONTINUE;
        }
        this.ctx.shutdown(arg === 'graceful');
        return After.CLOSE;
      }
      case OP.CACHE_MEMLIMIT: {
        const r = this.admin.memlimit(d[b + D_N0_LO]!);
        if (!noreply) out.bytes(r);
        else this.quiet = r;
        this.ctx.settingsChanged();
        return After.CONTINUE;
      }
      case OP.DEBUGTIME:
        // "debugtime <s>" moves the clock; "p" / "r" pause and resume it
        if (d[b + D_FLAGS]! & REMC_DF_HAS_ARG) this.ctx.advanceClock(Number(BigInt.asIntN(64, (BigInt(d[b + D_N0_HI]!) << 32n) | BigInt(d[b + D_N0_LO]!))));
        else this.ctx.pauseClock(this.window[d[b + D_KEY_OFF]!] === 0x70 /* p */);
        out.bytes(R.OK);
        return After.CONTINUE;
      case OP.DEBUG_FAULT:
        // Reaching here means nothing stopped the parser: an unknown kind, or a fault that no
        // isolation caught (it really happened: say so).
        out.bytes(FAULT_NOT_CAUGHT.get(d[b + D_N0_LO]!)?.text ?? R.NO_FAULT);
        return After.CONTINUE;
      default:
        out.bytes(R.ERROR);
        return After.CONTINUE;
    }
  }

  private storage(conn: TextConn, b: number, mode: number, err: number, noreply: boolean, len: number): After {
    const d = this.desc;
    const out = this.out;
    const flags = d[b + D_FLAGS]!;
    const keyOff = d[b + D_KEY_OFF]!, keyLen = d[b + D_KEY_LEN]!;
    const dataLen = d[b + D_DATA_LEN]!;
    const clientFlags = d[b + D_N0_LO]!;
    const incomplete = (flags & REMC_DF_DATA_INCOMPLETE) !== 0;
    if (incomplete || err === PERR.BAD_DATA_CHUNK) {
      // memcached sizes the item before reading the data: a too-large value is refused and
      // swallowed whatever its terminator, and any old item of that key is dropped.
      if (this.store.itemSize(keyLen, dataLen, clientFlags) > this.ctx.settings.maxItemSize) {
        const w = this.watch;
        // memcached logs this one with its arguments shifted: the fd lands in clsid=
        if (w.flags & LOG_MUTATIONS) w.itemStore(this.window, keyOff, keyLen, STORE.TOO_LARGE, mode, 0, w.cfd & 0xff, 0);
        if (w.flags & LOG_FETCHERS && mode === MODE_SET) w.lookup(this.window, keyOff, keyLen, this.res);
        this.store.storeTooLarge(mode, keyOff, keyLen, dataLen, clientFlags);
        if (this.ctx.settings.detailEnabled) this.admin.prefixes.recordSet(this.window, keyOff, keyLen);
        if (!incomplete) {
          if (!noreply) out.bytes(R.TOO_LARGE);
          return After.CONTINUE;
        }
        conn.amount = dataLen + 2 - (len - d[b + D_DATA_OFF]!);
        conn.afterSwallow = noreply ? null : R.TOO_LARGE;
        return After.SWALLOW;
      }
      if (incomplete) {
        conn.amount = d[b + D_END]! - d[b + D_START]!;
        return After.NEED;
      }
    }
    // stats detail counts a set once its line is parsed (not again when the data completes it);
    // errors that drop the key (bad format, key too long) are not counted, as in memcached
    if (this.ctx.settings.detailEnabled) this.admin.prefixes.recordSet(this.window, keyOff, keyLen);
    if (err !== 0) {
      if (!noreply) out.bytes(PARSE_ERROR_REPLY[err]!);
      return After.CONTINUE;
    }
    this.ctx.counters.cmd_set++;
    const w = this.watch;
    if (w.flags & LOG_FETCHERS) w.lookup(this.window, keyOff, keyLen, this.res); // do_store_item's lookup
    const r = this.store.store(mode, keyOff, keyLen, d[b + D_DATA_OFF]!, dataLen, clientFlags,
      d[b + D_N1_LO]! | 0, d[b + D_N2_HI]!, d[b + D_N2_LO]!);
    if (w.flags & LOG_MUTATIONS) w.stored(this.window, keyOff, keyLen, this.res, r, mode, d[b + D_N1_LO]! | 0, dataLen, clientFlags);
    if (!noreply) out.bytes(STORE_REPLY[r]!);
    else this.quiet = STORE_REPLY[r]!;
    return After.CONTINUE;
  }

  /**
   * One reply more than -o read_buf_mem_limit leaves room for (memcached: resp_start fails):
   * memcached drops the replies it has not written yet; a get then answers SERVER_ERROR and skips
   * its other keys, any other command closes the connection.
   */
  private outOfMemory(b: number, op: number): After {
    const out = this.out;
    if (op < OP.GET || op > OP.GATS) {
      this.ctx.counters.response_obj_oom++;
      out.discard();
      return After.CLOSE;
    }
    if (!this.oomGet) {
      this.ctx.counters.response_obj_oom++;
      out.rewindToMark();
      out.bytes(R.OOM_GET);
      this.oomGet = true;
    }
    if (this.desc[b + D_FLAGS]! & REMC_DF_LAST_KEY) { this.oomGet = false; out.mark(); this.stacked = 0; }
    return After.CONTINUE;
  }

  private retrieve(b: number, op: number): void {
    const d = this.desc;
    const out = this.out;
    const keyOff = d[b + D_KEY_OFF]!, keyLen = d[b + D_KEY_LEN]!;
    const touch = op === OP.GAT || op === OP.GATS;
    const withCas = op === OP.GETS || op === OP.GATS;
    if (touch) this.ctx.counters.cmd_touch++; // memcached counts gat/gats keys as touches only
    else this.ctx.counters.cmd_get++;
    const n = this.overRefcountLimit(b) ? -1
      : this.store.get(keyOff, keyLen, 1, touch ? 1 : 0, touch ? d[b + D_N1_LO]! | 0 : 0);
    if (this.ctx.settings.detailEnabled && keyLen) this.admin.prefixes.recordGet(this.window, keyOff, keyLen, n >= 0);
    if (this.watch.flags & LOG_FETCHERS) this.watch.got(this.window, keyOff, keyLen, n, this.res);
    if (n >= 0) {
      const res = this.res;
      out.bytes(R.VALUE);
      out.copy(this.window, keyOff, keyLen);
      out.space();
      out.uint(res[R_FLAGS]!);
      out.space();
      out.uint(n);
      if (withCas) { out.space(); out.uint(res[R_CAS]!); }
      out.crlf();
      out.ensure(n + 2);
      this.store.copyValue(out.pos);
      out.pos += n;
      out.crlf();
    }
    if (d[b + D_FLAGS]! & REMC_DF_LAST_KEY) { out.bytes(R.END); out.mark(); this.stacked = 0; }
  }

  /**
   * memcached holds a reference per hit until the reply is written and reports an item whose
   * refcount passed IT_REFCOUNT_LIMIT as a miss (CVE-2018-1000127). Only a multiget with more
   * keys than that can get there, i.e. a line longer than twice the limit: only those count.
   */
  private overRefcountLimit(b: number): boolean {
    const d = this.desc;
    if (d[b + D_END]! - d[b + D_START]! <= 2 * REFCOUNT_LIMIT) return false;
    if (this.refCmdStart !== d[b + D_START]) { this.refHits.clear(); this.refCmdStart = d[b + D_START]!; }
    const key = this.window.toString('latin1', d[b + D_KEY_OFF]!, d[b + D_KEY_OFF]! + d[b + D_KEY_LEN]!);
    const hits = (this.refHits.get(key) ?? 0) + 1;
    this.refHits.set(key, hits);
    if (d[b + D_FLAGS]! & REMC_DF_LAST_KEY) { this.refHits.clear(); this.refCmdStart = -1; }
    return hits > REFCOUNT_LIMIT;
  }

  private arith(b: number, incr: boolean, noreply: boolean): void {
    const d = this.desc;
    const out = this.out;
    out.ensure(22);
    if (this.watch.flags & LOG_FETCHERS) this.watch.lookup(this.window, d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, this.res);
    const r = this.store.arith(d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, incr ? 1 : 0, d[b + D_N0_HI]!, d[b + D_N0_LO]!, out.pos);
    if (noreply) {
      if (this.ctx.settings.verbosity > 1) this.quiet = r === STORE.STORED ? Buffer.from(out.buf.subarray(out.pos, out.pos + this.res[R_ARITH_LEN]!)) : r === STORE.NO_MEMORY ? R.NO_MEMORY : STORE_REPLY[r]!;
      return;
    }
    if (r === STORE.STORED) {
      out.pos += this.res[R_ARITH_LEN]!;
      out.crlf();
    } else if (r === STORE.NO_MEMORY) {
      out.bytes(R.NO_MEMORY);
    } else {
      out.bytes(STORE_REPLY[r]!);
    }
  }

  private stats(b: number): void {
    const d = this.desc;
    const out = this.out;
    const ctx = this.ctx;
    const argLen = d[b + D_KEY_LEN]!;
    const arg = argLen ? this.window.toString('latin1', d[b + D_KEY_OFF]!, d[b + D_KEY_OFF]! + argLen) : '';
    const ntokens = d[b + D_AUX]!;
    switch (arg) {
      case '': writeGeneralStats(this.emit, ctx); break;
      case 'settings': writeSettingsStats(this.emit, ctx); break;
      case 'isolation': writeIsolationStats(this.emit, ctx); break;
      case 'items': writeItemStats(this.emit, ctx); break;
      case 'slabs': writeSlabStats(this.emit, ctx); break;
      case 'conns': writeConnStats(this.emit, ctx); break;
      case 'sizes': out.ascii('STAT sizes_status disabled\r\n'); break;
      case 'reset': {
        resetStats(ctx);
        this.admin.prefixes.clear(); // memcached's stats_prefix_clear
        ctx.others?.clearPrefixes();
        out.bytes(R.RESET);
        return;
      }
      case 'detail':
        this.admin.statsDetail(b, ntokens + 1);
        return;
      case 'cachedump':
        this.admin.statsCachedump(b, ntokens + 1);
        return;
      default:
        out.bytes(R.ERROR);
        return;
    }
    out.bytes(R.END);
  }
}
