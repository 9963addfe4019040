// The text protocol's semantics without the native addon: descriptors built by hand (as the
// parser would have produced and root validated them), a store written in JS behind the Store
// interface, and the reply bytes checked. Nothing here loads native/ (leaf.test.ts).
import assert from 'node:assert/strict';
import { test } from '../helpers/test.ts';
import * as A from '../../protocol/abi.ts';
import { After, type TextConn } from '../../protocol/conn.ts';
import { newCounters, type ServerContext } from '../../protocol/context.ts';
import { Output } from '../../protocol/output.ts';
import type { Settings } from '../../protocol/settings.ts';
import type { Store } from '../../protocol/store.ts';
import { TextProtocol } from '../../protocol/text.ts';
import { Watch } from '../../protocol/watch.ts';

interface Item { value: Buffer; flags: number; cas: number }

/** Just enough of a store for set/get/incr/delete, in JS. */
class JsStore implements Partial<Store> {
  items = new Map<string, Item>();
  out: Uint8Array = new Uint8Array(0);
  private pinned: Item | null = null;
  private cas = 0;
  constructor(private readonly window: Buffer, private readonly res: Float64Array) {}
  private key(off: number, len: number): string { return this.window.toString('latin1', off, off + len); }
  setOutput(out: Uint8Array): void { this.out = out; }
  itemSize(keyLen: number, valueLen: number, flags: number): number { return 48 + 8 + keyLen + 1 + valueLen + 2 + (flags ? 4 : 0); }
  get(keyOff: number, keyLen: number): number {
    const it = this.items.get(this.key(keyOff, keyLen));
    if (!it) return -1;
    this.pinned = it;
    this.res[A.R_FLAGS] = it.flags;
    this.res[A.R_CAS] = it.cas;
    return it.value.length;
  }
  copyValue(outPos: number): void { this.out.set(this.pinned!.value, outPos); this.pinned = null; }
  store(mode: number, keyOff: number, keyLen: number, valOff: number, valLen: number, flags: number): number {
    const k = this.key(keyOff, keyLen);
    if (mode === A.MODE.ADD && this.items.has(k)) return A.STORE.NOT_STORED;
    this.items.set(k, { value: Buffer.from(this.window.subarray(valOff, valOff + valLen)), flags, cas: ++this.cas });
    this.res[A.R_CAS] = this.cas;
    return A.STORE.STORED;
  }
  del(keyOff: number, keyLen: number): number {
    return this.items.delete(this.key(keyOff, keyLen)) ? A.STORE.DELETED : A.STORE.NOT_FOUND;
  }
  arith(keyOff: number, keyLen: number, incr: number, deltaHi: number, deltaLo: number, outPos: number): number {
    const it = this.items.get(this.key(keyOff, keyLen));
    if (!it) return A.STORE.NOT_FOUND;
    const delta = (BigInt(deltaHi) << 32n) | BigInt(deltaLo);
    let v = BigInt(it.value.toString('latin1').trim());
    v = incr ? BigInt.asUintN(64, v + delta) : v > delta ? v - delta : 0n;
    it.value = Buffer.from(v.toString(), 'latin1');
    it.cas = ++this.cas;
    this.out.set(it.value, outPos);
    this.res[A.R_ARITH_LEN] = it.value.length;
    return A.STORE.STORED;
  }
}

function setup() {
  const window = Buffer.alloc(4096);
  const desc = new Uint32Array(A.WORDS * 16);
  const res = new Float64Array(32);
  const store = new JsStore(window, res);
  const ctx = {
    settings: { maxItemSize: 1024 * 1024, detailEnabled: false, disableFlushAll: false, prefixDelimiter: ':', hashAlgorithm: 'murmur3' } as Settings,
    counters: newCounters(A.faultKinds.length),
    store: store as unknown as Store,
    storeStatsArray: new Float64Array(128),
    settingsChanged: () => {},
    verboseLine: () => {},
    watch: new Watch(store as unknown as Store, () => 0, 0), // nobody watches: its methods are never reached
  } as ServerContext;
  const out = new Output((b) => store.setOutput(b));
  const text = new TextProtocol(ctx, out, window, desc, res);
  const conn: TextConn = { amount: 0, afterSwallow: null, lastCmdTime: 0, watchFlags: 0 };
  /** Put `line` in the window and a descriptor for it at slot i. */
  const put = (i: number, at: number, line: string, fields: Record<number, number>) => {
    window.write(line, at, 'latin1');
    const b = i * A.WORDS;
    desc.fill(0, b, b + A.WORDS);
    desc[b + A.D_START] = at;
    desc[b + A.D_END] = at + line.length;
    for (const [k, v] of Object.entries(fields)) desc[b + Number(k)] = v;
  };
  return { ctx, out, text, conn, put, store };
}

test('set, get, incr, delete through the Store interface (no addon)', () => {
  const { ctx, out, text, conn, put } = setup();
  const set = 'set counter 5 0 2\r\n10\r\n';
  put(0, 0, set, { [A.D_OP]: A.OP.SET, [A.D_KEY_OFF]: 4, [A.D_KEY_LEN]: 7, [A.D_N0_LO]: 5, [A.D_DATA_OFF]: 19, [A.D_DATA_LEN]: 2 });
  const get = 'get counter\r\n';
  put(1, set.length, get, { [A.D_OP]: A.OP.GET, [A.D_KEY_OFF]: set.length + 4, [A.D_KEY_LEN]: 7, [A.D_FLAGS]: A.REMC_DF_LAST_KEY });
  const incr = 'incr counter 32\r\n';
  const at = set.length + get.length;
  put(2, at, incr, { [A.D_OP]: A.OP.INCR, [A.D_KEY_OFF]: at + 5, [A.D_KEY_LEN]: 7, [A.D_N0_LO]: 32 });
  const del = 'delete counter\r\n';
  const at2 = at + incr.length;
  put(3, at2, del, { [A.D_OP]: A.OP.DELETE, [A.D_KEY_OFF]: at2 + 7, [A.D_KEY_LEN]: 7 });
  put(4, at2 + del.length, 'get counter\r\n', { [A.D_OP]: A.OP.GET, [A.D_KEY_OFF]: at2 + del.length + 4, [A.D_KEY_LEN]: 7, [A.D_FLAGS]: A.REMC_DF_LAST_KEY });
  const len = at2 + del.length + 13;
  for (let i = 0; i < 5; i++) assert.equal(text.exec(conn, i, len), After.CONTINUE);
  assert.equal(out.buf.toString('latin1', 0, out.pos),
    'STORED\r\nVALUE counter 5 2\r\n10\r\nEND\r\n42\r\nDELETED\r\nEND\r\n');
  assert.equal(ctx.counters.cmd_set, 1);
  assert.equal(ctx.counters.cmd_get, 2);
});

test('a storage command whose data is not all here asks the connection for the rest', () => {
  const { out, text, conn, put, store } = setup();
  put(0, 0, 'set k 0 0 100\r\n', { [A.D_OP]: A.OP.SET, [A.D_KEY_OFF]: 4, [A.D_KEY_LEN]: 1, [A.D_DATA_OFF]: 15,
    [A.D_DATA_LEN]: 100, [A.D_FLAGS]: A.REMC_DF_DATA_INCOMPLETE });
  put(0, 0, 'set k 0 0 100\r\n', { [A.D_OP]: A.OP.SET, [A.D_KEY_OFF]: 4, [A.D_KEY_LEN]: 1, [A.D_DATA_OFF]: 15,
    [A.D_DATA_LEN]: 100, [A.D_FLAGS]: A.REMC_DF_DATA_INCOMPLETE, [A.D_END]: 15 + 100 + 2 });
  assert.equal(text.exec(conn, 0, 15), After.NEED);
  assert.equal(conn.amount, 117); // the whole command, counted from D_START
  assert.equal(out.pos, 0);
  assert.equal(store.items.size, 0);
});

test.run();
