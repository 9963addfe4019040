// The semantics of memcached 1.6.18's meta commands (mg ms md ma mn me): each validated meta
// descriptor (native/parser/meta.c; remc_abi.h "Meta descriptors") becomes store operations and
// reply bytes, as proto_text.c's process_m*_command build them:
//  - return flags are echoed in request order, in one pass over the flags that also applies T/N
//    (so `t T30` shows the old TTL and `T30 t` the new one);
//  - errors found while the reply is built (an O token over 32 bytes, a bad M mode) are checked
//    where memcached checks them, after the side effects that come before them;
//  - q hides HD (mg: EN), never an error;
//  - base64 keys (`b`): the parser only checks them; the bytes are decoded here, in place in the
//    window (as memcached does in its read buffer; a decoded key is never longer), so the store
//    gets binary keys as offsets into the window like any other key. ms marks the item so that
//    later replies re-encode its key (memcached's ITEM_KEY_BINARY).
// Runs in root; reads only numbers from `desc` and bytes from the window at validated offsets.
import {
  D_DATA_LEN, D_DATA_OFF, D_END, D_ERR, D_FLAGS, D_KEY_LEN, D_KEY_OFF, D_M_CLIENT_FLAGS, D_M_DELTA_HI, D_M_DELTA_LO,
  D_M_FLAGS0, D_M_MODE, D_M_NFLAGS, D_M_OPAQUE_LEN, D_M_OPAQUE_OFF, D_M_RECACHE, D_N0_HI, D_N0_LO, D_N1_HI, D_N1_LO,
  D_N2_HI, D_N2_LO, D_OP, D_START, MERR, MODE, OP, REMC_DF_DATA_INCOMPLETE, REMC_META_KEY_BINARY, REMC_META_OPAQUE_MAX,
  REMC_META_STALE, REMC_META_TOKEN_SENT, R_ARITH_LEN, R_CAS, R_CLASS, R_EXPTIME, R_FETCHED, R_FLAGS, R_LAST_ACCESS,
  R_META, STORE, WORDS,
} from './abi.ts';
import { After, type TextConn } from './conn.ts';
import type { ServerContext } from './context.ts';
import type { Store } from './store.ts';
import type { Output } from './output.ts';
import { META, META_ERROR_REPLY, R } from './replies.ts';
import { LOG_FETCHERS, LOG_MUTATIONS } from './watch.ts';

const REALTIME_MAXDELTA = 2592000;

const ch = (c: string): number => c.charCodeAt(0);
const F_b = ch('b'), F_c = ch('c'), F_f = ch('f'), F_h = ch('h'), F_k = ch('k'), F_l = ch('l');
const F_q = ch('q'), F_s = ch('s'), F_t = ch('t'), F_u = ch('u'), F_v = ch('v');
const F_C = ch('C'), F_D = ch('D'), F_I = ch('I'), F_J = ch('J'), F_N = ch('N'), F_O = ch('O');
const F_R = ch('R'), F_T = ch('T');

/** memcached's base64 dtable: 0..63 for a digit, 0 for '=', -1 for anything else (skipped). */
function b64val(c: number): number {
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 71;
  if (c >= 48 && c <= 57) return c + 4;
  if (c === 43) return 62;
  if (c === 47) return 63;
  if (c === 61) return 0;
  return -1;
}

/**
 * memcached's base64_decode of w[off, off+len), written in place when `write` (never past what
 * has been read). Returns the decoded length, 0 on failure.
 */
export function b64Decode(w: Uint8Array, off: number, len: number, write: boolean): number {
  let count = 0;
  for (let i = off; i < off + len; i++) if (b64val(w[i]!) >= 0) count++;
  if (count === 0 || count % 4 !== 0) return 0;
  let pos = off, n = 0, pad = 0, b0 = 0, b1 = 0, b2 = 0;
  for (let i = off; i < off + len; i++) {
    const c = w[i]!;
    const t = b64val(c);
    if (t < 0) continue;
    if (c === 61) pad++;
    if (n === 0) b0 = t;
    else if (n === 1) b1 = t;
    else if (n === 2) b2 = t;
    if (++n < 4) continue;
    if (write) {
      w[pos] = ((b0 << 2) | (b1 >> 4)) & 0xff;
      w[pos + 1] = ((b1 << 4) | (b2 >> 2)) & 0xff;
      w[pos + 2] = ((b2 << 6) | t) & 0xff;
    }
    pos += 3;
    n = 0;
    if (pad) {
      if (pad > 2) return 0;
      pos -= pad;
      break;
    }
  }
  return pos - off;
}

export class MetaProtocol {
  /** where the current command's key is (after base64 decoding) */
  private keyOff = 0;
  private keyLen = 0;
  private readonly store: Store;

  constructor(
    private readonly ctx: ServerContext,
    private readonly out: Output,
    private readonly window: Buffer,
    private readonly desc: Uint32Array,
    private readonly res: Float64Array,
  ) { this.store = ctx.store; }

  /** Execute meta descriptor i (its op is MG..ME). `len`: valid bytes in the window. */
  exec(conn: TextConn, i: number, len: number): After {
    const d = this.desc;
    const b = i * WORDS;
    const op = d[b + D_OP]!;
    const err = d[b + D_ERR]!;
    this.loadFlags(b);
    if (op === OP.MS) return this.ms(conn, b, err, len);
    if (err !== 0) {
      this.out.bytes(META_ERROR_REPLY[err]!);
      return After.CONTINUE;
    }
    switch (op) {
      case OP.MN: this.out.bytes(META.MN); break;
      case OP.MG: this.mg(b); break;
      case OP.MD: this.md(b); break;
      case OP.MA: this.ma(b, len); break;
      case OP.ME: this.me(b); break;
      default: this.out.bytes(R.ERROR);
    }
    return After.CONTINUE;
  }

  // ---- descriptor fields ------------------------------------------------------------------

  private nflags(b: number): number { return this.desc[b + D_M_NFLAGS]!; }
  private flagAt(b: number, i: number): number {
    return (this.desc[b + D_M_FLAGS0 + (i >> 2)]! >>> ((i & 3) * 8)) & 0xff;
  }
  /** The current descriptor's flags as two bit masks (bit c & 31; letters are validated). */
  private lower = 0;
  private upper = 0;
  private loadFlags(b: number): void {
    let lo = 0, hi = 0;
    const n = this.nflags(b);
    for (let i = 0; i < n; i++) {
      const f = this.flagAt(b, i);
      if (f >= 97) lo |= 1 << (f & 31); else hi |= 1 << (f & 31);
    }
    this.lower = lo;
    this.upper = hi;
  }
  /** Was flag f given (in the descriptor loadFlags last read, which is b's)? */
  private has(_b: number, f: number): boolean {
    return (((f >= 97 ? this.lower : this.upper) >>> (f & 31)) & 1) !== 0;
  }
  /** The flag index of an O token longer than memcached allows, else -1. */
  private badOpaqueAt(b: number): number {
    if (this.desc[b + D_M_OPAQUE_LEN]! <= REMC_META_OPAQUE_MAX) return -1;
    const n = this.nflags(b);
    for (let i = 0; i < n; i++) if (this.flagAt(b, i) === F_O) return i;
    return -1;
  }
  private u64(b: number, lo: number, hi: number): bigint {
    return (BigInt(this.desc[b + hi]!) << 32n) | BigInt(this.desc[b + lo]!);
  }

  /** The key, base64-decoded in place when `b` was given (write=false: only its length). 0 = bad. */
  private key(b: number, write = true): number {
    const d = this.desc;
    this.keyOff = d[b + D_KEY_OFF]!;
    this.keyLen = d[b + D_KEY_LEN]!;
    if (this.has(b, F_b)) this.keyLen = b64Decode(this.window, this.keyOff, this.keyLen, write);
    return this.keyLen;
  }

  // ---- reply pieces -------------------------------------------------------------------------

  private sp(c: number): void { const o = this.out; o.ensure(2); o.buf[o.pos++] = 32; o.buf[o.pos++] = c; }
  private opaque(b: number): void {
    this.out.space();
    this.out.copy(this.window, this.desc[b + D_M_OPAQUE_OFF]!, this.desc[b + D_M_OPAQUE_LEN]!);
  }
  /** " k<key>", base64-encoded plus " b" for a binary key (memcached's META_KEY). */
  private keyFlag(binary: boolean): void {
    this.sp(F_k);
    if (!binary) { this.out.copy(this.window, this.keyOff, this.keyLen); return; }
    this.out.ascii(this.window.toString('base64', this.keyOff, this.keyOff + this.keyLen));
    this.sp(F_b);
  }
  /** memcached prints rel_time_t differences with itoa_u32: a negative one wraps. */
  private u32(n: number): void { this.out.uint(n >>> 0); }
  private ttl(): void {
    const exp = this.res[R_EXPTIME]!;
    if (exp === 0) this.out.ascii('-1');
    else this.u32(exp - this.ctx.now());
  }
  /** Protocol exptime -> absolute seconds as memcached's realtime(EXPTIME_TO_POSITIVE_TIME(x))
   * compares them (R): 0 = none; negative or an absolute time already past = "expired". */
  private realtime(x: number): number {
    if (x === 0) return 0;
    if (x < 0) return 1;
    if (x > REALTIME_MAXDELTA) return x <= this.ctx.startedAt ? 1 : x;
    return this.ctx.now() + x;
  }

  // ---- mg -----------------------------------------------------------------------------------

  private mg(b: number): void {
    const d = this.desc, out = this.out, res = this.res;
    const c = this.ctx.counters;
    if (this.key(b) === 0) { out.bytes(META.DECODE_KEY); return; }
    const n = this.nflags(b);
    const binary = this.has(b, F_b), touch = this.has(b, F_T), vivify = this.has(b, F_N);
    const bad = this.badOpaqueAt(b);
    // Counted as memcached does: a hit with T is a touch, anything else a get (a vivified item
    // a hit); a hit answered with the O error counts nothing, a miss is counted before it.
    // metaGet's count: 0 none, 1 get, 2 touch, 3 touch hit/get miss.
    const hitCount = bad >= 0 ? 0 : touch ? 2 : 1;
    // The common case (no T, N, or O error) is a plain get that bumps as it looks (memcached's
    // unlocked path); it reports h and l from before the bump all the same.
    const plain = !touch && !vivify && bad < 0, bump = !this.has(b, F_u);
    let r = plain ? this.store.get(this.keyOff, this.keyLen, bump ? 1 : 0, 0, 0)
      : this.store.metaGet(this.keyOff, this.keyLen, bad >= 0 || vivify ? 0 : touch ? 3 : 1);
    if (r === -2) { out.bytes(META.REFCOUNT_OVERFLOW); return; }
    if (this.ctx.watch.flags & LOG_FETCHERS) this.ctx.watch.got(this.window, this.keyOff, this.keyLen, r, this.res);
    let created = false;
    if (vivify) {
      if (r >= 0) r = this.store.metaGet(this.keyOff, this.keyLen, hitCount);
      // vivify: an empty item, flags 0, no TTL until N is applied below
      else {
        // the creator holds the win token from the moment the item exists, so a client racing on
        // another worker sees Z (an O token over the limit stops the command before the flags:
        // no token then, as memcached)
        const st = this.store.store(bad < 0 ? MODE.ADD_VIVIFY : MODE.ADD, this.keyOff, this.keyLen, this.keyOff, 0, 0, 0, 0, 0);
        if (st === STORE.STORED) {
          r = this.store.metaGet(this.keyOff, this.keyLen, hitCount);
          created = r >= 0;
        } else if (st === STORE.NOT_STORED) {
          // -t N: a client on another worker created it in between (memcached holds the item
          // lock across both): this one sees that item, as memcached's second client would
          r = this.store.metaGet(this.keyOff, this.keyLen, hitCount);
        } else this.store.metaGet(this.keyOff, this.keyLen, 1); // no memory: a miss
      }
    } else if (r < 0 && bad >= 0) this.store.metaGet(this.keyOff, this.keyLen, 1);
    if (r < 0) c.cmd_get++;
    else if (bad < 0) { if (touch) c.cmd_touch++; else c.cmd_get++; }
    if (r < 0) {
      if (bad >= 0) { out.bytes(META.OPAQUE_TOO_LONG); return; }
      if (this.has(b, F_q)) return;
      out.bytes(META.EN);
      for (let i = 0; i < n; i++) {
        const f = this.flagAt(b, i);
        if (f === F_O) this.opaque(b);
        else if (f === F_k) this.keyFlag(binary);
      }
      out.crlf();
      return;
    }
    const nbytes = r;
    const meta0 = res[R_META]!;
    const itemBinary = (meta0 & REMC_META_KEY_BINARY) !== 0;
    if (bad >= 0) {
      // memcached stops at the O token: what came before it (T, N) has happened; no bump
      for (let i = 0; i < bad; i++) {
        const f = this.flagAt(b, i);
        if (f === F_T) this.store.metaUpdate(0, 0, 1, d[b + D_N1_LO]! | 0, 0);
        else if (f === F_N && created) this.store.metaUpdate(0, 0, 1, d[b + D_N1_HI]! | 0, 0);
      }
      this.store.unpin();
      out.bytes(META.OPAQUE_TOO_LONG);
      return;
    }
    const value = this.has(b, F_v);
    if (value) { out.bytes(META.VA); out.uint(nbytes); } else out.bytes(META.HD);
    let won = false;
    for (let i = 0; i < n; i++) {
      const f = this.flagAt(b, i);
      if (f === F_T) this.store.metaUpdate(0, 0, 1, d[b + D_N1_LO]! | 0, 0);
      else if (f === F_N) {
        if (created) { this.store.metaUpdate(0, 0, 1, d[b + D_N1_HI]! | 0, 0); won = true; }
      } else if (f === F_R) {
        const exp = res[R_EXPTIME]!;
        if ((meta0 & REMC_META_TOKEN_SENT) === 0 && !created && exp !== 0 && exp < this.realtime(d[b + D_M_RECACHE]! | 0)) won = true;
      } else if (f === F_s) { this.sp(F_s); out.uint(nbytes); }
      else if (f === F_t) { this.sp(F_t); this.ttl(); }
      else if (f === F_c) { this.sp(F_c); out.uint(res[R_CAS]!); }
      else if (f === F_f) { this.sp(F_f); out.uint(res[R_FLAGS]!); }
      else if (f === F_l) { this.sp(F_l); this.u32(this.ctx.now() - res[R_LAST_ACCESS]!); }
      else if (f === F_h) { this.sp(F_h); out.uint(res[R_FETCHED]! ? 1 : 0); }
      else if (f === F_O) this.opaque(b);
      else if (f === F_k) this.keyFlag(itemBinary);
    }
    // Z before X/WORDS: a token already handed out; a stale item hands out one if none was
    let tokenSent = !created && (meta0 & REMC_META_TOKEN_SENT) !== 0; // the creator's is its own
    const stale = (meta0 & REMC_META_STALE) !== 0;
    if (stale && !tokenSent) won = true;
    // -t N: a client on another worker may be taking the same token; memcached decides under
    // the item lock, the store here (the creator took its token when it created the item)
    if (won && !created && !this.store.metaClaim()) { won = false; tokenSent = true; }
    if (tokenSent) this.sp(ch('Z'));
    if (stale) this.sp(ch('X'));
    if (won) this.sp(ch('WORDS'));
    out.crlf();
    // the delayed bump (memcached reads h and l first), unless u
    if (bump && !plain) this.store.metaUpdate(0, 0, 0, 0, 1);
    if (value) {
      out.ensure(nbytes + 2);
      this.store.copyValue(out.pos);
      out.pos += nbytes;
      out.crlf();
    } else {
      this.store.unpin();
    }
  }

  // ---- ms -----------------------------------------------------------------------------------

  private ms(conn: TextConn, b: number, err: number, len: number): After {
    const d = this.desc, out = this.out;
    const incomplete = (d[b + D_FLAGS]! & REMC_DF_DATA_INCOMPLETE) !== 0;
    /** answer `reply` and drop the data block (memcached's conn_swallow, which answers only
     *  once the whole block has been read) */
    const swallow = (reply: Buffer): After => {
      if (!incomplete) { out.bytes(reply); return After.CONTINUE; }
      conn.amount = d[b + D_END]! - len;
      conn.afterSwallow = reply;
      return After.SWALLOW;
    };
    if (err !== 0 && err !== MERR.BAD_DATA_CHUNK) return swallow(META_ERROR_REPLY[err]!);
    const mc = d[b + D_M_MODE]!;
    let mode: number;
    if (mc === 0 || mc === ch('S')) mode = MODE.SET;
    else if (mc === ch('E')) mode = MODE.ADD;
    else if (mc === ch('A')) mode = MODE.APPEND;
    else if (mc === ch('P')) mode = MODE.PREPEND;
    else if (mc === ch('R')) mode = MODE.REPLACE;
    else return swallow(META.INVALID_MODE_MS);
    if (this.badOpaqueAt(b) >= 0) return swallow(META.OPAQUE_TOO_LONG);
    const hasCas = this.has(b, F_C);
    if (hasCas && (mode === MODE.SET || mode === MODE.REPLACE)) mode = this.has(b, F_I) ? MODE.CAS_STALE : MODE.CAS;
    // the key is decoded in place only once the whole command is here (else it is re-parsed)
    if (this.key(b, !incomplete) === 0) return swallow(META.DECODE_KEY);
    const dataLen = d[b + D_DATA_LEN]!, clientFlags = d[b + D_M_CLIENT_FLAGS]!;
    if (this.store.itemSize(this.keyLen, dataLen, clientFlags) > this.ctx.settings.maxItemSize) {
      // memcached fails the allocation, drops any old item of that key, swallows the data (the
      // line is not parsed again, so the key may now be decoded in place)
      if (incomplete && this.has(b, F_b)) b64Decode(this.window, this.keyOff, d[b + D_KEY_LEN]!, true);
      const w = this.ctx.watch;
      if (w.flags & LOG_MUTATIONS) w.itemStore(this.window, this.keyOff, this.keyLen, STORE.TOO_LARGE, mode, 0, 0, 0);
      if (w.flags & LOG_FETCHERS) w.lookup(this.window, this.keyOff, this.keyLen, this.res);
      this.store.del(this.keyOff, this.keyLen, 0, 0);
      return swallow(R.TOO_LARGE);
    }
    if (incomplete) {
      conn.amount = d[b + D_END]! - d[b + D_START]!;
      return After.NEED;
    }
    if (err === MERR.BAD_DATA_CHUNK) { out.bytes(R.BAD_DATA_CHUNK); return After.CONTINUE; }
    this.ctx.counters.cmd_set++;
    const w = this.ctx.watch;
    if (w.flags & LOG_FETCHERS) w.lookup(this.window, this.keyOff, this.keyLen, this.res);
    const r = this.store.store(mode, this.keyOff, this.keyLen, d[b + D_DATA_OFF]!, dataLen, clientFlags,
      d[b + D_N1_LO]! | 0, d[b + D_N0_HI]!, d[b + D_N0_LO]!);
    if (w.flags & LOG_MUTATIONS) w.stored(this.window, this.keyOff, this.keyLen, this.res, r, mode, d[b + D_N1_LO]! | 0, dataLen, clientFlags);
    const cas = r === STORE.STORED ? this.res[R_CAS]! : 0;
    const binary = this.has(b, F_b);
    // the new item remembers its key was base64 (ITEM_KEY_BINARY); an append/prepend makes a
    // fresh item in memcached that does not
    if (r === STORE.STORED && binary && mode !== MODE.APPEND && mode !== MODE.PREPEND &&
        this.store.metaGet(this.keyOff, this.keyLen, 0) >= 0) {
      this.store.metaUpdate(REMC_META_KEY_BINARY, 0, 0, 0, 0);
      this.store.unpin();
    }
    let code: Buffer;
    if (r === STORE.STORED) {
      if (this.has(b, F_q)) return After.CONTINUE;
      code = META.HD;
    } else if (r === STORE.NOT_STORED) code = META.NS;
    else if (r === STORE.EXISTS) code = META.EX;
    else if (r === STORE.NOT_FOUND) code = META.NF;
    else if (r === STORE.TOO_LARGE) { out.bytes(R.TOO_LARGE); return After.CONTINUE; }
    else { out.bytes(R.NO_MEMORY_STORING); return After.CONTINUE; }
    out.bytes(code);
    const n = this.nflags(b);
    for (let i = 0; i < n; i++) {
      const f = this.flagAt(b, i);
      if (f === F_O) this.opaque(b);
      else if (f === F_k) this.keyFlag(binary);
      else if (f === F_c) { this.sp(F_c); out.uint(cas); }
    }
    out.crlf();
    return After.CONTINUE;
  }

  // ---- md -----------------------------------------------------------------------------------

  private md(b: number): void {
    const d = this.desc, out = this.out;
    if (this.badOpaqueAt(b) >= 0) { out.bytes(META.OPAQUE_TOO_LONG); return; }
    if (this.key(b) === 0) { out.bytes(META.DECODE_KEY); return; }
    const invalidate = this.has(b, F_I);
    if (this.ctx.watch.flags & LOG_FETCHERS) this.ctx.watch.lookup(this.window, this.keyOff, this.keyLen, this.res);
    const r = this.store.metaDelete(this.keyOff, this.keyLen, this.has(b, F_C) ? 1 : 0, d[b + D_N0_HI]!, d[b + D_N0_LO]!,
      invalidate ? 1 : 0, invalidate && this.has(b, F_T) ? 1 : 0, d[b + D_N1_LO]! | 0);
    let code: Buffer;
    if (r === STORE.DELETED) {
      if (this.has(b, F_q)) return;
      code = META.HD;
    } else code = r === STORE.EXISTS ? META.EX : META.NF;
    out.bytes(code);
    const binary = this.has(b, F_b);
    const n = this.nflags(b);
    for (let i = 0; i < n; i++) {
      const f = this.flagAt(b, i);
      if (f === F_O) this.opaque(b);
      else if (f === F_k) this.keyFlag(binary);
    }
    out.crlf();
  }

  // ---- ma -----------------------------------------------------------------------------------

  private ma(b: number, len: number): void {
    const d = this.desc, out = this.out, res = this.res;
    const mc = d[b + D_M_MODE]!;
    let incr: boolean;
    if (mc === 0 || mc === ch('I') || mc === ch('+')) incr = true;
    else if (mc === ch('D') || mc === ch('-')) incr = false;
    else { out.bytes(META.INVALID_MODE_MA); return; }
    if (this.key(b) === 0) { out.bytes(META.DECODE_KEY); return; }
    const hasDelta = this.has(b, F_D);
    const dHi = hasDelta ? d[b + D_M_DELTA_HI]! : 0, dLo = hasDelta ? d[b + D_M_DELTA_LO]! : 1;
    // the new value's digits are written at out.pos, read back, then the line is built over them
    out.ensure(64);
    const at = out.pos;
    // with N, a missing item is created without counting an incr/decr miss (memcached)
    const vivify = this.has(b, F_N);
    const absent = vivify && this.store.metaGet(this.keyOff, this.keyLen, 0) === -1;
    if (vivify) this.store.unpin();
    if (this.ctx.watch.flags & LOG_FETCHERS) this.ctx.watch.lookup(this.window, this.keyOff, this.keyLen, res); // do_add_delta's
    const arith = () => this.store.arith(this.keyOff, this.keyLen, incr ? 1 : 0, dHi, dLo, at, d[b + D_N0_HI]!, d[b + D_N0_LO]!);
    let r = absent ? STORE.NOT_FOUND : arith();
    let digits = '';
    let created = false;
    if (r === STORE.STORED) {
      digits = out.buf.toString('latin1', at, at + res[R_ARITH_LEN]!);
    } else if (r === STORE.NON_NUMERIC) {
      out.bytes(R.NON_NUMERIC);
      return;
    } else if (r === STORE.NO_MEMORY) {
      out.bytes(R.NO_MEMORY);
      return;
    } else if (r === STORE.NOT_FOUND && vivify) {
      // autovivify with J (no TTL until N is applied below); the value is built in the window's
      // free tail, which the store copies from like any value
      digits = this.u64(b, D_N2_LO, D_N2_HI).toString();
      if (len + digits.length > this.window.length) { out.bytes(META.VIVIFY_NO_MEMORY); return; }
      this.window.write(digits, len, 'latin1');
      const w = this.ctx.watch;
      if (w.flags & LOG_FETCHERS) w.lookup(this.window, this.keyOff, this.keyLen, res); // do_store_item's
      const s = this.store.store(MODE.ADD, this.keyOff, this.keyLen, len, digits.length, 0, 0, 0, 0);
      if (w.flags & LOG_MUTATIONS) w.stored(this.window, this.keyOff, this.keyLen, res, s, MODE.ADD, 0, digits.length, 0);
      if (s === STORE.NOT_STORED) {
        // -t N: a client on another worker created it in between (memcached holds the item lock
        // across both): the delta applies to that item (EX or NF below if it cannot)
        r = arith();
        if (r === STORE.NON_NUMERIC) { out.bytes(R.NON_NUMERIC); return; }
        if (r === STORE.NO_MEMORY) { out.bytes(R.NO_MEMORY); return; }
        digits = r === STORE.STORED ? out.buf.toString('latin1', at, at + res[R_ARITH_LEN]!) : '';
      } else if (s !== STORE.STORED) { out.bytes(META.VIVIFY_NO_MEMORY); out.crlf(); return; }
      else created = true;
    }
    const bad = this.badOpaqueAt(b);
    const binary = this.has(b, F_b);
    const n = this.nflags(b);
    if (digits === '') { // NF / EX: no item
      if (bad >= 0) { out.bytes(META.OPAQUE_TOO_LONG); return; }
      out.bytes(r === STORE.EXISTS ? META.EX : META.NF);
      for (let i = 0; i < n; i++) {
        const f = this.flagAt(b, i);
        if (f === F_O) this.opaque(b);
        else if (f === F_k) this.keyFlag(binary);
      }
      out.crlf();
      return;
    }
    if (this.store.metaGet(this.keyOff, this.keyLen, 0) < 0) { out.bytes(META.NF); out.crlf(); return; }
    const stop = bad >= 0 ? bad : n;
    const quiet = r === STORE.STORED && this.has(b, F_q);
    out.ensure(1024); // the line (key <= 336 base64 bytes, opaque <= 32) fits: no spill below
    const start = out.pos;
    const value = this.has(b, F_v);
    if (value) { out.bytes(META.VA); out.uint(digits.length); } else out.bytes(META.HD);
    for (let i = 0; i < stop; i++) {
      const f = this.flagAt(b, i);
      if (f === F_c) { this.sp(F_c); out.uint(res[R_CAS]!); }
      else if (f === F_t) { this.sp(F_t); this.ttl(); }
      else if (f === F_T) this.store.metaUpdate(0, 0, 1, d[b + D_N1_LO]! | 0, 0);
      else if (f === F_N) { if (created) this.store.metaUpdate(0, 0, 1, d[b + D_N1_HI]! | 0, 0); }
      else if (f === F_O) this.opaque(b);
      else if (f === F_k) this.keyFlag(binary);
    }
    this.store.unpin();
    if (bad >= 0 || quiet) {
      out.pos = start; // nothing was flushed in between: the line is at most a few hundred bytes
      if (bad >= 0) out.bytes(META.OPAQUE_TOO_LONG);
      return;
    }
    if (value) { out.crlf(); out.ascii(digits); }
    out.crlf();
  }

  // ---- me -----------------------------------------------------------------------------------

  private me(b: number): void {
    const out = this.out, res = this.res;
    this.ctx.counters.cmd_meta++; // memcached counts meta_cmds for me only
    if (this.key(b) === 0) { out.bytes(R.BAD_FORMAT); return; }
    const n = this.store.metaGet(this.keyOff, this.keyLen, 0);
    if (this.ctx.watch.flags & LOG_FETCHERS) this.ctx.watch.got(this.window, this.keyOff, this.keyLen, n, this.res);
    if (n < 0) { out.bytes(META.EN_LINE); return; }
    this.store.unpin();
    out.bytes(META.ME);
    const meta = res[R_META]!;
    if (meta & REMC_META_KEY_BINARY) out.ascii(this.window.toString('base64', this.keyOff, this.keyOff + this.keyLen));
    else out.copy(this.window, this.keyOff, this.keyLen);
    const now = this.ctx.now(), exp = res[R_EXPTIME]!;
    // exp is current_time - exptime (sic: negative for a future expiry), printed as an int
    out.ascii(` exp=${exp === 0 ? -1 : (now - exp) | 0} la=${(now - res[R_LAST_ACCESS]!) >>> 0} cas=${res[R_CAS]!}`);
    out.ascii(` fetch=${res[R_FETCHED]! ? 'yes' : 'no'} cls=${res[R_CLASS]!} size=${this.store.itemSize(this.keyLen, n, res[R_FLAGS]!)}\r\n`);
  }
}
