// The semantics of memcached 1.6.18's binary protocol: each validated descriptor the binary
// parser (native/parser/binary.c) produced becomes store operations and response packets, byte
// for byte as memcached answers (proto_bin.c; reference §1.9; checked by test/compare/binary*).
// Runs in root; reads only numbers from `desc` and bytes from the window at validated offsets.
import {
  BERR, BIN_OP as OP, DB_BODYLEN, DB_CAS_HI, DB_CAS_LO, DB_OPAQUE, D_AUX, D_DATA_LEN, D_DATA_OFF, D_END, D_ERR, D_FLAGS,
  D_KEY_LEN, D_KEY_OFF, D_N0_HI, D_N0_LO, D_N1_LO, D_N2_HI, D_N2_LO, D_OP, D_START, MODE, REMC_BIN_HEADER,
  REMC_BIN_MECH_MAX, REMC_DF_DATA_INCOMPLETE, R_ARITH_LEN, R_CAS, R_CLASS, R_FLAGS, STORE, WORDS,
} from './abi.ts';
import { After, type BinaryConn, type SaslCheck } from './conn.ts';
import { VERSION_STRING } from './settings.ts';
import type { ServerContext } from './context.ts';
import type { Store } from './store.ts';
import type { Output } from './output.ts';
import { BIN_BODY, BIN_ERROR_BODY, BIN_STATUS as ST, FAULT_NOT_CAUGHT } from './replies.ts';
import { resetStats, writeGeneralStats, writeIsolationStats, writeItemStats, writeSettingsStats, writeSlabStats, type Emit } from './stats.ts';
import type { PrefixStats } from './admin.ts';
import { CMD_NULL, LOG_FETCHERS, LOG_MUTATIONS } from './watch.ts';

const MAGIC_RES = 0x81;
const EXPTIME_NO_CREATE = 0xffffffff;

/** opcode -> its non-quiet opcode (memcached maps the Q variants before dispatch) */
const BASE: number[] = [];
for (let i = 0; i < 256; i++) BASE[i] = i;
for (const [q, b] of [['GETQ', 'GET'], ['GETKQ', 'GETK'], ['SETQ', 'SET'], ['ADDQ', 'ADD'], ['REPLACEQ', 'REPLACE'],
  ['DELETEQ', 'DELETE'], ['INCREMENTQ', 'INCREMENT'], ['DECREMENTQ', 'DECREMENT'], ['QUITQ', 'QUIT'],
  ['FLUSHQ', 'FLUSH'], ['APPENDQ', 'APPEND'], ['PREPENDQ', 'PREPEND'], ['GATQ', 'GAT'], ['GATKQ', 'GATK']] as const) {
  BASE[OP[q]!] = OP[b]!;
}
const QUIET = new Uint8Array(256);
for (let i = 0; i < 256; i++) QUIET[i] = BASE[i] !== i ? 1 : 0;

const STORE_MODE: number[] = [];
STORE_MODE[OP.SET] = MODE.SET;
STORE_MODE[OP.ADD] = MODE.ADD;
STORE_MODE[OP.REPLACE] = MODE.REPLACE;
STORE_MODE[OP.APPEND] = MODE.APPEND;
STORE_MODE[OP.PREPEND] = MODE.PREPEND;

/** Before authentication with -S only these may be sent (memcached's authenticated()). */
/** VERSION's body, built once */
const VERSION_BODY = Buffer.from(VERSION_STRING, 'latin1');
const PRE_AUTH = new Set<number>([OP.SASL_LIST_MECHS, OP.SASL_AUTH, OP.SASL_STEP, OP.VERSION]);

export type { BinaryConn }; // for importers of binary.ts

export class BinaryProtocol {
  /** set by exec when memcached would write out everything queued so far (NOOP) */
  flushNow = false;
  private readonly store: Store;

  constructor(
    private readonly ctx: ServerContext,
    private readonly out: Output,
    private readonly window: Buffer,
    private readonly desc: Uint32Array,
    private readonly res: Float64Array,
    private readonly sasl: SaslCheck | null,
    /** `stats detail` per-prefix counts, shared with the text protocol (memcached records binary
     *  gets, sets and deletes there too) */
    private readonly prefixes: PrefixStats | null = null,
  ) { this.store = ctx.store; }

  // ---- response packets ---------------------------------------------------------------------

  /** A response header at out.pos (room for it must have been ensured). */
  private header(b: number, status: number, keyLen: number, extLen: number, bodyLen: number, cas: number): void {
    const out = this.out;
    const buf = out.buf;
    const p = out.pos;
    const d = this.desc;
    buf[p] = MAGIC_RES;
    buf[p + 1] = d[b + D_OP]!;
    buf.writeUInt16BE(keyLen, p + 2);
    buf[p + 4] = extLen;
    buf[p + 5] = 0;
    buf.writeUInt16BE(status, p + 6);
    buf.writeUInt32BE(bodyLen, p + 8);
    buf.writeUInt32BE(d[b + DB_OPAQUE]!, p + 12);
    // CAS: a double holds the store's CAS exactly (below 2^53)
    buf.writeUInt32BE(Math.floor(cas / 4294967296), p + 16);
    buf.writeUInt32BE(cas >>> 0, p + 20);
    out.pos = p + REMC_BIN_HEADER;
  }

  private error(b: number, status: number): void {
    const body = BIN_ERROR_BODY[status]!;
    this.out.ensure(REMC_BIN_HEADER + body.length);
    this.header(b, status, 0, 0, body.length, 0);
    this.out.bytes(body);
  }

  /** An error whose packet memcached sends only once the swallow it starts is done
   *  (write_bin_error goes straight to conn_swallow, no write): kept in conn.afterSwallow. */
  private errorAfterSwallow(conn: BinaryConn, b: number, status: number, amount: number): After {
    const out = this.out;
    out.ensure(64);
    const mark = out.pos;
    this.error(b, status);
    conn.afterSwallow = Buffer.from(out.buf.subarray(mark, out.pos));
    out.pos = mark;
    conn.amount = amount;
    return After.SWALLOW;
  }

  private ok(b: number, cas = 0, body?: Buffer): void {
    const n = body ? body.length : 0;
    this.out.ensure(REMC_BIN_HEADER + n);
    this.header(b, ST.SUCCESS, 0, 0, n, cas);
    if (body) this.out.bytes(body);
  }

  // ---- dispatch -----------------------------------------------------------------------------

  /** Execute descriptor i. `len` is the number of valid bytes in the window. */
  exec(conn: BinaryConn, i: number, len: number): After {
    const d = this.desc;
    const b = i * WORDS;
    const err = d[b + D_ERR]!;
    const raw = d[b + D_OP]!;
    // memcached's order (observed): framing (0x81) first, then SASL, then the key length and
    // the opcode's own argument checks (0x04).
    if (err === BERR.FRAMING) { this.error(b, ST.UNKNOWN_COMMAND); return After.CLOSE; }
    if (err === BERR.BODY_TOO_LARGE) { this.error(b, ST.EINVAL); return After.CLOSE; }
    if (this.sasl && !conn.authenticated && !PRE_AUTH.has(raw)) {
      this.error(b, ST.AUTH_ERROR);
      return After.CLOSE;
    }
    if (err === BERR.KEY_TOO_LONG) { this.error(b, ST.EINVAL); return After.CLOSE; }
    if (err === BERR.ARGS) { this.error(b, ST.EINVAL); return After.CLOSE; }
    if (err === BERR.UNKNOWN) return this.unknown(conn, b, len);

    const op = BASE[raw]!;
    const quiet = QUIET[raw] === 1;
    switch (op) {
      case OP.GET: case OP.GETK:
        this.get(b, op === OP.GETK, quiet, false);
        return After.CONTINUE;
      case OP.GAT: case OP.GATK: case OP.TOUCH:
        this.get(b, op === OP.GATK, quiet, true);
        return After.CONTINUE;
      case OP.SET: case OP.ADD: case OP.REPLACE: case OP.APPEND: case OP.PREPEND:
        return this.update(conn, b, op, quiet, len);
      case OP.DELETE: {
        if (this.prefixes && this.ctx.settings.detailEnabled) this.prefixes.recordDelete(this.window, d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!);
        if (this.ctx.watch.flags & LOG_FETCHERS) this.ctx.watch.lookup(this.window, d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, this.res);
        const r = this.store.del(d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, d[b + DB_CAS_HI]!, d[b + DB_CAS_LO]!);
        if (r === STORE.DELETED) { if (!quiet) this.ok(b); } else this.error(b, r === STORE.EXISTS ? ST.KEY_EEXISTS : ST.KEY_ENOENT);
        return After.CONTINUE;
      }
      case OP.INCREMENT: case OP.DECREMENT:
        this.arith(b, op === OP.INCREMENT, quiet, len);
        return After.CONTINUE;
      case OP.FLUSH:
        // memcached answers a binary flush with -F as an auth error (and keeps the connection)
        if (this.ctx.settings.disableFlushAll) { this.error(b, ST.AUTH_ERROR); return After.CONTINUE; }
        this.ctx.counters.cmd_flush++;
        this.store.flush(d[b + D_AUX]! === 4 ? d[b + D_N1_LO]! : 0);
        if (!quiet) this.ok(b);
        return After.CONTINUE;
      case OP.NOOP:
        this.ok(b);
        this.flushNow = true;
        return After.CONTINUE;
      case OP.VERSION:
        this.ok(b, 0, VERSION_BODY);
        return After.CONTINUE;
      case OP.QUIT:
        if (!quiet) this.ok(b);
        return After.CLOSE;
      case OP.STAT:
        this.stat(b);
        return After.CONTINUE;
      case OP.SASL_LIST_MECHS:
        if (!this.sasl) return this.unknown(conn, b, len);
        this.ok(b, 0, Buffer.from(this.saslMechs(), 'latin1'));
        return After.CONTINUE;
      case OP.SASL_AUTH: case OP.SASL_STEP:
        return this.saslAuth(conn, b, op, len);
      case OP.DEBUG_FAULT: {
        // Reaching here means nothing stopped the parser: an unknown kind (0x04, as a bad
        // argument), or a fault no isolation caught, which really happened (0x84, internal error).
        const notCaught = FAULT_NOT_CAUGHT.get(d[b + D_N0_LO]!);
        const body = notCaught?.binaryBody ?? BIN_BODY.NO_FAULT;
        this.out.ensure(REMC_BIN_HEADER + body.length);
        this.header(b, notCaught ? ST.EINTERNAL : ST.EINVAL, 0, 0, body.length, 0);
        this.out.bytes(body);
        return After.CONTINUE;
      }
      default:
        return this.unknown(conn, b, len);
    }
  }

  private saslMechs(): string {
    return 'PLAIN';
  }

  /** 0x81; memcached then swallows bodylen bytes after extras and key (QUIRK, see binary.c). */
  private unknown(conn: BinaryConn, b: number, len: number): After {
    const d = this.desc;
    if (!(d[b + D_FLAGS]! & REMC_DF_DATA_INCOMPLETE)) { this.error(b, ST.UNKNOWN_COMMAND); return After.CONTINUE; }
    // (D_END is clamped to 32 bits; the real end is computed here in doubles.) SASL opcodes
    // without -S: their value is swallowed, D_END says where it ends.
    const end = d[b + D_ERR]! === BERR.UNKNOWN
      ? d[b + D_START]! + REMC_BIN_HEADER + d[b + D_AUX]! + d[b + D_KEY_LEN]! + d[b + DB_BODYLEN]!
      : d[b + D_END]!;
    return this.errorAfterSwallow(conn, b, ST.UNKNOWN_COMMAND, end - len);
  }

  // ---- commands -----------------------------------------------------------------------------

  private get(b: number, withKey: boolean, quiet: boolean, touch: boolean): void {
    const d = this.desc;
    const out = this.out;
    const keyOff = d[b + D_KEY_OFF]!, keyLen = d[b + D_KEY_LEN]!;
    const isTouch = d[b + D_OP]! === OP.TOUCH;
    const c = this.ctx.counters;
    if (touch) c.cmd_touch++;
    else c.cmd_get++;
    const n = this.store.get(keyOff, keyLen, 1, touch ? 1 : 0, touch ? d[b + D_N1_LO]! : 0);
    const w = this.ctx.watch;
    if (w.flags & LOG_FETCHERS) w.got(this.window, keyOff, keyLen, n, this.res);
    if (this.prefixes && this.ctx.settings.detailEnabled) this.prefixes.recordGet(this.window, keyOff, keyLen, n >= 0);
    if (n < 0) {
      if (quiet) return;
      if (withKey) {
        // GETK/GATK miss: status 1 with the key as the whole body
        out.ensure(REMC_BIN_HEADER + keyLen);
        this.header(b, ST.KEY_ENOENT, keyLen, 0, keyLen, 0);
        out.copy(this.window, keyOff, keyLen);
      } else {
        this.error(b, ST.KEY_ENOENT);
      }
      return;
    }
    const res = this.res;
    const kl = withKey ? keyLen : 0;
    const vl = isTouch ? 0 : n;
    out.ensure(REMC_BIN_HEADER + 4 + kl + n);
    this.header(b, ST.SUCCESS, kl, 4, 4 + kl + vl, res[R_CAS]!);
    out.buf.writeUInt32BE(res[R_FLAGS]!, out.pos);
    out.pos += 4;
    if (kl) out.copy(this.window, keyOff, kl);
    // The value is copied even for TOUCH (into the space past pos, then dropped): it unpins the item.
    this.store.copyValue(out.pos);
    out.pos += vl;
  }

  private update(conn: BinaryConn, b: number, op: number, quiet: boolean, len: number): After {
    const d = this.desc;
    const keyOff = d[b + D_KEY_OFF]!, keyLen = d[b + D_KEY_LEN]!;
    const dataLen = d[b + D_DATA_LEN]!;
    const concat = op === OP.APPEND || op === OP.PREPEND;
    const clientFlags = concat ? 0 : d[b + D_N0_LO]!;
    const incomplete = (d[b + D_FLAGS]! & REMC_DF_DATA_INCOMPLETE) !== 0;
    // memcached allocates the item before it reads the value: a value too large for -I (or a
    // length that is negative as memcached's int) is refused first, then swallowed; a failed SET
    // also drops the old item.
    if (dataLen >= 0x80000000 || this.store.itemSize(keyLen, dataLen, clientFlags) > this.ctx.settings.maxItemSize) {
      const w = this.ctx.watch;
      // memcached 1.6.18 logs this one through ITEM_clsid(NULL) and crashes; here clsid=0, cmd=null
      if (w.flags & LOG_MUTATIONS) w.itemStore(this.window, keyOff, keyLen, STORE.TOO_LARGE, CMD_NULL, w.ttlOf(d[b + D_N1_LO]! | 0), 0, 0);
      if (w.flags & LOG_FETCHERS && op === OP.SET) w.lookup(this.window, keyOff, keyLen, this.res);
      if (op === OP.SET) this.store.del(keyOff, keyLen, 0, 0);
      this.ctx.counters.cmd_set++;
      if (!incomplete) { this.error(b, ST.E2BIG); return After.CONTINUE; }
      return this.errorAfterSwallow(conn, b, ST.E2BIG, d[b + D_END]! - len);
    }
    if (incomplete) {
      conn.amount = d[b + D_END]! - d[b + D_START]!;
      return After.NEED;
    }
    this.ctx.counters.cmd_set++;
    if (this.prefixes && this.ctx.settings.detailEnabled) this.prefixes.recordSet(this.window, keyOff, keyLen);
    const casHi = d[b + DB_CAS_HI]!, casLo = d[b + DB_CAS_LO]!;
    // A non-zero CAS turns SET/ADD/REPLACE into a compare-and-set; APPEND/PREPEND compare it too.
    const mode = !concat && (casHi | casLo) !== 0 ? MODE.CAS : STORE_MODE[op]!;
    const w = this.ctx.watch;
    if (w.flags & LOG_FETCHERS) w.lookup(this.window, keyOff, keyLen, this.res);
    const r = this.store.store(mode, keyOff, keyLen, d[b + D_DATA_OFF]!, dataLen, clientFlags, d[b + D_N1_LO]!, casHi, casLo);
    if (w.flags & LOG_MUTATIONS) w.stored(this.window, keyOff, keyLen, this.res, r, mode, d[b + D_N1_LO]! | 0, dataLen, clientFlags);
    if (r === STORE.STORED) {
      if (!quiet) this.ok(b, this.res[R_CAS]!);
      return After.CONTINUE;
    }
    let status: number;
    if (r === STORE.EXISTS) status = ST.KEY_EEXISTS;
    else if (r === STORE.NOT_FOUND) status = ST.KEY_ENOENT;
    else if (mode === MODE.ADD) status = ST.KEY_EEXISTS;
    else if (mode === MODE.REPLACE) status = ST.KEY_ENOENT;
    else status = ST.NOT_STORED;
    this.error(b, status);
    return After.CONTINUE;
  }

  private arith(b: number, incr: boolean, quiet: boolean, len: number): void {
    const d = this.desc;
    const out = this.out;
    const keyOff = d[b + D_KEY_OFF]!, keyLen = d[b + D_KEY_LEN]!;
    const casHi = d[b + DB_CAS_HI]!, casLo = d[b + DB_CAS_LO]!;
    if ((casHi | casLo) !== 0) {
      // a request CAS must match the item's (memcached's do_add_delta)
      const n = this.store.get(keyOff, keyLen, 0, 0, 0);
      if (n >= 0) {
        out.ensure(n);
        this.store.copyValue(out.pos); // unpin
        if (this.res[R_CAS]! !== casHi * 4294967296 + casLo) { this.error(b, ST.KEY_EEXISTS); return; }
      }
    }
    if (this.ctx.watch.flags & LOG_FETCHERS) this.ctx.watch.lookup(this.window, keyOff, keyLen, this.res);
    out.ensure(REMC_BIN_HEADER + 8 + 24);
    const scratch = out.pos + REMC_BIN_HEADER + 8; // digits land here, then become 8 bytes at pos+24
    const r = this.store.arith(keyOff, keyLen, incr ? 1 : 0, d[b + D_N0_HI]!, d[b + D_N0_LO]!, scratch);
    if (r === STORE.STORED) {
      const digits = out.buf.toString('latin1', scratch, scratch + this.res[R_ARITH_LEN]!);
      if (quiet) return;
      const cas = this.res[R_CAS]!;
      this.header(b, ST.SUCCESS, 0, 0, 8, cas);
      out.buf.writeBigUInt64BE(BigInt(digits), out.pos);
      out.pos += 8;
      return;
    }
    if (r === STORE.NOT_FOUND) {
      if (d[b + D_N1_LO]! === EXPTIME_NO_CREATE) { this.error(b, ST.KEY_ENOENT); return; }
      // create it with the initial value, as its decimal digits (memcached: item_alloc + ADD)
      const initial = (BigInt(d[b + D_N2_HI]!) << 32n) | BigInt(d[b + D_N2_LO]!);
      const digits = initial.toString();
      const w = this.window;
      if (len + digits.length > w.length) { this.error(b, ST.ENOMEM); return; }
      w.write(digits, len, 'latin1'); // past the parsed bytes: root's own scratch in the window
      const wt = this.ctx.watch;
      if (wt.flags & LOG_FETCHERS) wt.lookup(this.window, keyOff, keyLen, this.res); // do_store_item's
      const s = this.store.store(MODE.ADD, keyOff, keyLen, len, digits.length, 0, d[b + D_N1_LO]!, 0, 0);
      if (wt.flags & LOG_MUTATIONS) wt.stored(this.window, keyOff, keyLen, this.res, s, MODE.ADD, d[b + D_N1_LO]! | 0, digits.length, 0);
      if (s !== STORE.STORED) { this.error(b, ST.NOT_STORED); return; }
      if (quiet) return;
      out.ensure(REMC_BIN_HEADER + 8);
      this.header(b, ST.SUCCESS, 0, 0, 8, this.res[R_CAS]!);
      out.buf.writeBigUInt64BE(initial, out.pos);
      out.pos += 8;
      return;
    }
    this.error(b, r === STORE.NON_NUMERIC ? ST.DELTA_BADVAL : ST.ENOMEM);
  }

  /** STAT [group]: one packet per stat (key = name, value = value), then an empty packet. The
   *  text renderers of protocol/stats.ts are the one source of the names and values. */
  private stat(b: number): void {
    const d = this.desc;
    const out = this.out;
    const ctx = this.ctx;
    const keyLen = d[b + D_KEY_LEN]!;
    const group = keyLen ? this.window.toString('latin1', d[b + D_KEY_OFF]!, d[b + D_KEY_OFF]! + keyLen) : '';
    // one packet per stat, straight from the renderers (memcached's append_stats callback)
    const emit: Emit = (name, value) => {
      const v = String(value);
      out.ensure(REMC_BIN_HEADER + name.length + v.length);
      this.header(b, ST.SUCCESS, name.length, 0, name.length + v.length, 0);
      out.ascii(name);
      out.ascii(v);
    };
    // memcached's process_bin_stat: "reset", "settings" and "detail" are prefix matches; the
    // groups of get_stats (items, slabs, sizes) exact ones; "conns" is text-only.
    if (keyLen === 0) {
      writeGeneralStats(emit, ctx);
    } else if (group.startsWith('reset')) {
      resetStats(ctx);
      this.prefixes?.clear();
      ctx.others?.clearPrefixes();
    } else if (group.startsWith('settings')) {
      writeSettingsStats(emit, ctx);
    } else if (group === 'isolation') {
      writeIsolationStats(emit, ctx);
    } else if (group.startsWith('detail')) {
      const sub = group.slice(6);
      if (sub.startsWith(' dump')) {
        // one stat, "detailed", whose value is the whole text dump (END included)
        out.ensure(256 * 1024);
        const mark = out.pos;
        if (this.prefixes) this.prefixes.dump(out, ctx.others?.prefixRows()); else out.ascii('END\r\n');
        const dump = Buffer.from(out.buf.subarray(mark, out.pos));
        out.pos = mark;
        out.ensure(REMC_BIN_HEADER + 8 + dump.length);
        this.header(b, ST.SUCCESS, 8, 0, 8 + dump.length, 0);
        out.ascii('detailed');
        out.bytes(dump);
        this.ok(b);
        return;
      }
      if (sub.startsWith(' on')) ctx.settings.detailEnabled = true;
      else if (sub.startsWith(' off')) ctx.settings.detailEnabled = false;
      else { this.error(b, ST.KEY_ENOENT); return; }
      ctx.settingsChanged();
    } else if (group === 'items') {
      writeItemStats(emit, ctx);
    } else if (group === 'slabs') {
      writeSlabStats(emit, ctx);
    } else if (group === 'sizes') {
      emit('sizes_status', 'disabled');
    } else {
      this.error(b, ST.KEY_ENOENT);
      return;
    }
    this.ok(b);
  }

  private saslAuth(conn: BinaryConn, b: number, op: number, len: number): After {
    const d = this.desc;
    if (!this.sasl) return this.unknown(conn, b, len);
    const keyLen = d[b + D_KEY_LEN]!;
    const dataLen = d[b + D_DATA_LEN]!;
    const incomplete = (d[b + D_FLAGS]! & REMC_DF_DATA_INCOMPLETE) !== 0;
    if (keyLen > REMC_BIN_MECH_MAX) {
      if (!incomplete) { this.error(b, ST.EINVAL); return After.CONTINUE; }
      return this.errorAfterSwallow(conn, b, ST.EINVAL, d[b + D_END]! - len);
    }
    if (dataLen >= 0x80000000 || dataLen + 2 > this.ctx.settings.maxItemSize) {
      // memcached reads the response into an item: too large for one is out of memory
      if (!incomplete) { this.error(b, ST.ENOMEM); return After.CONTINUE; }
      return this.errorAfterSwallow(conn, b, ST.ENOMEM, d[b + D_END]! - len);
    }
    if (incomplete) {
      conn.amount = d[b + D_END]! - d[b + D_START]!;
      return After.NEED;
    }
    // Every attempt starts unauthenticated (CVE-2013-7239). PLAIN never continues, so a STEP is
    // always a failure (memcached 1.5.9: STEP without a started AUTH).
    conn.authenticated = false;
    this.ctx.counters.auth_cmds++;
    const mech = this.window.toString('latin1', d[b + D_KEY_OFF]!, d[b + D_KEY_OFF]! + keyLen);
    const value = this.window.subarray(d[b + D_DATA_OFF]!, d[b + D_DATA_OFF]! + dataLen);
    if (op === OP.SASL_AUTH && mech === 'PLAIN' && this.sasl.check(value)) {
      conn.authenticated = true;
      this.ok(b, 0, BIN_BODY.AUTHENTICATED);
    } else {
      this.ctx.counters.auth_errors++;
      this.error(b, ST.AUTH_ERROR);
    }
    return After.CONTINUE;
  }
}
