// Binary-protocol side of the comparison harness (test/compare/harness.ts): packet builders, a
// sequence runner whose sentinel is a NOOP with its own opaque, and a normaliser that renders
// response packets readably with CAS values numbered (<cas#n>, 0 kept), STAT values and the
// VERSION body blanked — the same normalisation rules as the text harness, nothing else.
// Servers, pairs, flushing and reporting are the text harness's (Pair, compareOnPair's shape).
import { anyOf, needs, suite, type Why } from '../../helpers/test.ts';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conn, NO_MEMCACHED, type Server } from '../../helpers/server.ts';
import { Pair, show, subjectKind } from '../harness.ts';

// ---- request packets ---------------------------------------------------------------------------

export const OP = {
  GET: 0x00, SET: 0x01, ADD: 0x02, REPLACE: 0x03, DELETE: 0x04, INCR: 0x05, DECR: 0x06, QUIT: 0x07,
  FLUSH: 0x08, GETQ: 0x09, NOOP: 0x0a, VERSION: 0x0b, GETK: 0x0c, GETKQ: 0x0d, APPEND: 0x0e,
  PREPEND: 0x0f, STAT: 0x10, SETQ: 0x11, ADDQ: 0x12, REPLACEQ: 0x13, DELETEQ: 0x14, INCRQ: 0x15,
  DECRQ: 0x16, QUITQ: 0x17, FLUSHQ: 0x18, APPENDQ: 0x19, PREPENDQ: 0x1a, VERBOSITY: 0x1b, TOUCH: 0x1c,
  GAT: 0x1d, GATQ: 0x1e, SASL_LIST: 0x20, SASL_AUTH: 0x21, SASL_STEP: 0x22, GATK: 0x23, GATKQ: 0x24,
} as const;

export interface PacketOpts {
  key?: string | Buffer;
  extras?: Buffer;
  value?: string | Buffer;
  cas?: bigint;
  opaque?: number;
  magic?: number;
  datatype?: number;
  vbucket?: number;
  /** override the header's length fields (hostile packets) */
  keylen?: number;
  extlen?: number;
  bodylen?: number;
}

const buf = (b: string | Buffer | undefined): Buffer => (b === undefined ? Buffer.alloc(0) : typeof b === 'string' ? Buffer.from(b, 'latin1') : b);

/** One request packet. */
export function pkt(op: number, o: PacketOpts = {}): Buffer {
  const key = buf(o.key), ext = o.extras ?? Buffer.alloc(0), val = buf(o.value);
  const h = Buffer.alloc(24);
  h[0] = o.magic ?? 0x80;
  h[1] = op;
  h.writeUInt16BE(o.keylen ?? key.length, 2);
  h[4] = o.extlen ?? ext.length;
  h[5] = o.datatype ?? 0;
  h.writeUInt16BE(o.vbucket ?? 0, 6);
  h.writeUInt32BE(o.bodylen ?? ext.length + key.length + val.length, 8);
  h.writeUInt32BE(o.opaque ?? 0xdeadbeef, 12);
  h.writeBigUInt64BE(o.cas ?? 0n, 16);
  return Buffer.concat([h, ext, key, val]);
}

export const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
export const u64 = (n: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64BE(n); return b; };

export const set = (key: string, value: string | Buffer, flags = 0, exptime = 0, op: number = OP.SET, cas = 0n): Buffer =>
  pkt(op, { key, value, extras: Buffer.concat([u32(flags), u32(exptime)]), cas });
export const get = (key: string, op: number = OP.GET): Buffer => pkt(op, { key });
export const arith = (key: string, delta: bigint, initial: bigint, exptime: number, op: number = OP.INCR, cas = 0n): Buffer =>
  pkt(op, { key, extras: Buffer.concat([u64(delta), u64(initial), u32(exptime)]), cas });
export const touch = (key: string, exptime: number, op: number = OP.TOUCH): Buffer => pkt(op, { key, extras: u32(exptime) });
export const noop = (opaque = 0xdeadbeef): Buffer => pkt(OP.NOOP, { opaque });
export const cat = (...b: Buffer[]): Buffer => Buffer.concat(b);

// ---- response packets --------------------------------------------------------------------------

export interface Response {
  magic: number; opcode: number; keylen: number; extlen: number; datatype: number; status: number;
  bodylen: number; opaque: number; cas: bigint; extras: Buffer; key: Buffer; value: Buffer;
}

/** Split a byte stream into complete response packets; `rest` = trailing incomplete bytes. */
export function parseResponses(b: Buffer): { packets: Response[]; rest: Buffer } {
  const packets: Response[] = [];
  let i = 0;
  while (b.length - i >= 24) {
    const bodylen = b.readUInt32BE(i + 8);
    if (b.length - i < 24 + bodylen) break;
    const keylen = b.readUInt16BE(i + 2), extlen = b[i + 4]!;
    const body = b.subarray(i + 24, i + 24 + bodylen);
    packets.push({
      magic: b[i]!, opcode: b[i + 1]!, keylen, extlen, datatype: b[i + 5]!, status: b.readUInt16BE(i + 6), bodylen,
      opaque: b.readUInt32BE(i + 12), cas: b.readBigUInt64BE(i + 16),
      extras: body.subarray(0, extlen), key: body.subarray(extlen, extlen + keylen), value: body.subarray(extlen + keylen),
    });
    i += 24 + bodylen;
  }
  return { packets, rest: b.subarray(i) };
}

// ---- sequences ---------------------------------------------------------------------------------

export interface BinCtx {
  /** CAS of the latest response with a non-zero CAS on this server */
  lastCas(): bigint;
}

export interface BinStep {
  conn?: string;
  send?: Buffer | ((ctx: BinCtx) => Buffer);
  /** chunk sizes (rest in a last chunk) or 'bytes' = one byte per write */
  split?: number[] | 'bytes';
  gapMs?: number;
  /** 'sentinel' (default): a NOOP with SENTINEL_OPAQUE follows and is waited for;
   *  'quiet': read until nothing arrives for quietMs (steps that leave the server mid-packet) */
  wait?: 'sentinel' | 'quiet';
  quietMs?: number;
  sleepMs?: number;
  closeAfter?: boolean;
  expectClosed?: boolean;
  /**
   * Where remcached deliberately differs from 1.6.18 (memcached's behaviour there is undefined,
   * fixed in a later release): the subject's rendered reply must be `expect` and its close state
   * `closed`; memcached's reply is not compared (the reason is printed).
   */
  deviation?: { why: string; expect: string[]; closed: boolean };
}

export interface BinSequence { name: string; steps: BinStep[]; timeoutMs?: number }
export interface BinGroup { name: string; args?: string[]; env?: NodeJS.ProcessEnv; flushBefore?: boolean; sequences: BinSequence[]; skip?: Why }

export const SENTINEL_OPAQUE = 0x5e171e1;
const SENTINEL = noop(SENTINEL_OPAQUE);

/** A step of one request (or a pipeline already concatenated). */
export const bseq = (name: string, ...steps: Array<Buffer | BinStep>): BinSequence =>
  ({ name, steps: steps.map((s) => (Buffer.isBuffer(s) ? { send: s } : s)) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sentinelSeen(b: Buffer): boolean {
  const { packets } = parseResponses(b);
  return packets.some((p) => p.opcode === OP.NOOP && p.opaque === SENTINEL_OPAQUE);
}

export interface BinResult { conn: string; request: Buffer; reply: Buffer; closed: boolean; note?: string }

export async function runBinarySequence(port: number, seq: BinSequence): Promise<BinResult[]> {
  const conns = new Map<string, Conn>();
  const results: BinResult[] = [];
  let lastCas = 0n;
  const ctx: BinCtx = { lastCas: () => lastCas };
  try {
    for (const step of seq.steps) {
      if (step.sleepMs) await sleep(step.sleepMs);
      const name = step.conn ?? 'main';
      let c = conns.get(name);
      if (!c) { c = await Conn.open(port); conns.set(name, c); }
      const data = step.send === undefined ? Buffer.alloc(0) : typeof step.send === 'function' ? step.send(ctx) : step.send;
      if (step.split) {
        const sizes = step.split === 'bytes' ? new Array<number>(data.length).fill(1) : step.split;
        let off = 0;
        for (const n of sizes) {
          if (off >= data.length || c.closed) break;
          c.send(data.subarray(off, off + n));
          off += n;
          await sleep(step.gapMs ?? 2);
        }
        if (off < data.length && !c.closed) c.send(data.subarray(off));
      } else if (data.length) {
        c.send(data);
      }
      const timeout = seq.timeoutMs ?? 4000;
      let reply: Buffer;
      let note: string | undefined;
      if ((step.wait ?? 'sentinel') === 'sentinel') {
        if (!c.closed) c.send(SENTINEL);
        try {
          reply = await c.until(sentinelSeen, timeout);
        } catch {
          reply = c.take();
          note = 'timeout waiting for the sentinel';
        }
        // drop the sentinel's own response
        const { packets } = parseResponses(reply);
        let off = 0;
        for (const p of packets) {
          if (p.opcode === OP.NOOP && p.opaque === SENTINEL_OPAQUE) { reply = reply.subarray(0, off); break; }
          off += 24 + p.bodylen;
        }
      } else {
        reply = await c.settle(step.quietMs ?? 150, timeout);
      }
      for (const p of parseResponses(reply).packets) if (p.cas !== 0n) lastCas = p.cas;
      results.push({ conn: name, request: data, reply, closed: c.closed, ...(note ? { note } : {}) });
      if (step.closeAfter) { c.close(); conns.delete(name); }
    }
  } finally {
    for (const c of conns.values()) c.close();
  }
  return results;
}

// ---- normalisation and comparison ----------------------------------------------------------------

const hex = (b: Buffer) => b.toString('hex');

/** Steps where remcached deliberately differs from 1.6.18 (reported at exit, not hidden). */
export const deviations = new Set<string>();
process.on('exit', () => {
  if (deviations.size) console.log(`\n  note: deliberate deviations from memcached 1.6.18:\n    ${[...deviations].join('\n    ')}`);
  if (extraBinaryStats.size) console.log(`\n  note: ${subjectKind()} appends STAT names memcached lacks: ${[...extraBinaryStats].join(' ')}`);
});

/** remcached's own STAT names, appended after memcached's (lead's decision, .notes/STATUS.md) */
export const extraBinaryStats = new Set<string>();

export class BinNormaliser {
  private casIds = new Map<bigint, number>();
  casName(c: bigint): string {
    if (c === 0n) return '0';
    let id = this.casIds.get(c);
    if (id === undefined) { id = this.casIds.size + 1; this.casIds.set(c, id); }
    return `<cas#${id}>`;
  }
  render(reply: Buffer): string[] {
    const { packets, rest } = parseResponses(reply);
    const lines = packets.map((p) => {
      const stat = p.opcode === OP.STAT && p.status === 0 && p.keylen > 0;
      const version = p.opcode === OP.VERSION && p.status === 0;
      const value = stat || version ? '<value>' : show(p.value.toString('latin1'), 300);
      return `magic=${p.magic.toString(16)} op=${p.opcode.toString(16)} status=${p.status.toString(16)} ` +
        `kl=${p.keylen} el=${p.extlen} dt=${p.datatype} bl=${stat || version ? '<n>' : p.bodylen} ` +
        `opaque=${p.opaque.toString(16)} cas=${this.casName(p.cas)} ext=${hex(p.extras)} key=${show(p.key.toString('latin1'))} value=${value}`;
    });
    if (rest.length) lines.push(`<incomplete ${rest.length} bytes: ${show(rest.toString('latin1'), 80)}>`);
    return lines;
  }
}

/** STAT streams: memcached's names must come first, in order; remcached's extras are listed. */
function foldStatExtras(ref: string[], sub: string[]): string[] {
  const statName = (l: string) => /^magic=81 op=10 status=0 kl=[1-9]\d* .* key=(\S+) value=<value>$/.exec(l)?.[1];
  if (ref.length === 0 || sub.length <= ref.length || !ref.every((l, i) => l === sub[i] || i === ref.length - 1)) return sub;
  const tail = sub.slice(ref.length - 1, -1);
  if (!tail.every((l) => statName(l) !== undefined) || sub[sub.length - 1] !== ref[ref.length - 1]) return sub;
  for (const l of tail) extraBinaryStats.add(statName(l)!);
  return ref;
}

export function compareBinary(seq: BinSequence, refRaw: BinResult[], subRaw: BinResult[]): { ok: boolean; message: string } {
  const nr = new BinNormaliser(), ns = new BinNormaliser();
  const problems: string[] = [];
  const n = Math.max(refRaw.length, subRaw.length);
  for (let i = 0; i < n; i++) {
    const r = refRaw[i], s = subRaw[i];
    if (!r || !s) { problems.push(`step ${i}: missing result`); continue; }
    const step = seq.steps[i]!;
    const rl = nr.render(r.reply);
    const sl = foldStatExtras(rl, ns.render(s.reply));
    // (COMPARE_AGAINST=memcached: a deliberate deviation is not the subject's to meet)
    if (step.deviation && subjectKind() === 'memcached') continue;
    if (step.deviation) {
      const dv = step.deviation;
      if (sl.join('\n') !== dv.expect.join('\n') || s.closed !== dv.closed) {
        problems.push(`step ${i} [${s.conn}] (deliberate deviation: ${dv.why})\n  expected: ${dv.expect.join('\n    ')}${dv.closed ? ' <closed>' : ''}\n` +
          `  ${subjectKind()}:${s.closed ? ' <closed>' : ''}\n    ${sl.join('\n    ')}`);
      }
      deviations.add(`${seq.name}: ${dv.why}`);
      continue;
    }
    if (step.expectClosed !== undefined && r.closed !== step.expectClosed) {
      problems.push(`step ${i} reference (memcached) closed=${r.closed}, expected closed=${step.expectClosed}`);
    }
    if (r.note) problems.push(`step ${i} reference (memcached): ${r.note}`);
    if (rl.join('\n') !== sl.join('\n') || r.closed !== s.closed || (s.note && !r.note)) {
      problems.push(`step ${i} [${r.conn}] differs\n  request:   ${show(r.request.toString('hex'), 200)}\n` +
        `  memcached:${r.closed ? ' <closed>' : ''}\n    ${rl.join('\n    ')}\n` +
        `  ${subjectKind()}:${s.closed ? ' <closed>' : ''}${s.note ? ` (${s.note})` : ''}\n    ${sl.join('\n    ')}`);
    }
  }
  return { ok: problems.length === 0, message: problems.join('\n') };
}

async function flushBoth(ports: number[]): Promise<void> {
  await Promise.all(ports.map(async (port) => {
    const c = await Conn.open(port);
    c.send(pkt(OP.FLUSH));
    await c.until((b) => b.length >= 24, 3000).catch(() => undefined);
    c.close();
  }));
}

/** A uvu suite for a binary group: one test per sequence, memcached vs the subject. */
export function binaryGroup(group: BinGroup): ReturnType<typeof suite> {
  const s = suite(`compare (binary): ${group.name}`, { skip: anyOf(NO_MEMCACHED, group.skip) });
  const pair = new Pair(group.args ?? []);
  let startError: Error | null = null;
  s.before(async () => { await pair.start().catch((e: Error) => { startError = e; }); });
  s.after(async () => { await pair.stop(); });
  const seen = new Set<string>();
  for (const sq of group.sequences) {
    if (seen.has(sq.name)) throw new Error(`duplicate sequence name ${sq.name}`);
    seen.add(sq.name);
    s(sq.name, async () => {
      if (startError) throw new Error(`${group.name}: servers did not start: ${(startError as Error).message}`);
      await pair.ensureAlive();
      if (group.flushBefore ?? true) await flushBoth([pair.ref.port, pair.sub.port]);
      const [ref, sub] = await Promise.all([runBinarySequence(pair.ref.port, sq), runBinarySequence(pair.sub.port, sq)]);
      const cmp = compareBinary(sq, ref, sub);
      await pair.ensureAlive();
      if (pair.subjectDied) { cmp.ok = false; cmp.message = `${pair.subjectDied}\n${cmp.message}`; pair.subjectDied = null; }
      if (!cmp.ok) throw new Error(`${group.name} / ${sq.name}\n${cmp.message}`);
    });
  }
  return s;
}

export type { Server };

// ---- SASL ---------------------------------------------------------------------------------------

export const SASL_USER = 'testuser', SASL_PASS = 'testpass';

/**
 * Give memcached and remcached the same SASL user: remcached through MEMCACHED_SASL_PWDB
 * (`user:password` lines), always; memcached through Cyrus SASL (a sasldb made with saslpasswd2
 * from Debian's sasl2-bin; SASL_CONF_PATH -> memcached.conf `mech_list: plain`). Sets the
 * variables in process.env (servers started afterwards inherit them). Returns why memcached
 * cannot do SASL here (saslpasswd2 missing or failing), or null.
 */
export function setupSasl(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'remc-sasl-'));
  chmodSync(dir, 0o755); // memcached runs as nobody
  writeFileSync(join(dir, 'pwdb'), `${SASL_USER}:${SASL_PASS}\nother:secret\n`);
  process.env.MEMCACHED_SASL_PWDB = join(dir, 'pwdb');
  const missing = needs('saslpasswd2', 'sasl2-bin');
  if (missing) return missing;
  const db = join(dir, 'sasldb2');
  try {
    execFileSync('saslpasswd2', ['-p', '-a', 'memcached', '-c', '-f', db, SASL_USER], { input: `${SASL_PASS}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (e) {
    // installed but failing is a broken host, not a missing tool: say so loudly
    throw new Error(`saslpasswd2 failed: ${(e as Error).message}`);
  }
  chmodSync(db, 0o644);
  writeFileSync(join(dir, 'memcached.conf'), `mech_list: plain\nsasldb_path: ${db}\n`);
  process.env.SASL_CONF_PATH = dir;
  return null;
}
