// Hostile binary input against remcached alone: truncated headers, every CVE shape of §3, a
// pipeline split at every byte, random garbage after a valid first byte, and a fuzzed header
// loop. After each case the server must be the same process, a binary connection opened before
// everything (the keeper) and a fresh one must still work, the keys stored at the start must be
// intact, and nothing may have been counted as a parser fault or an invalid parser output (a
// hostile packet is the client's problem, never the parser's). Bounded: well under 30 s.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, startRemcached, type Server } from '../helpers/server.ts';
import { OP, cat, get, noop, parseResponses, pkt, set, u32, arith } from '../compare/seq/binary_harness.ts';
import { stats } from '../isolation/helpers.ts';

let server: Server;
let keeper: Conn;
let pid: string;
const KEPT = new Map<string, string>();

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Send on a fresh connection; the reply once quiet (or closed; with `expectClosed`, a close
 *  that comes after the quiet is waited for, 3 s at most). */
async function hit(data: Buffer, quietMs = 60, expectClosed = false): Promise<{ reply: Buffer; closed: boolean }> {
  const c = await Conn.open(server.port);
  c.send(data);
  const reply = await c.settle(quietMs, 3000);
  if (expectClosed) await c.closesWithin(3000);
  const closed = c.closed;
  c.close();
  return { reply, closed };
}

/** The server still serves: keeper and a fresh connection, kept keys intact, no parser trouble. */
async function healthy(what: string): Promise<void> {
  keeper.send(cat(...[...KEPT.keys()].map((k) => get(k, OP.GETK)), noop(0x4b)));
  const r = parseResponses(await keeper.until((b) => parseResponses(b).packets.some((p) => p.opaque === 0x4b), 3000));
  const got = new Map(r.packets.filter((p) => p.opcode === OP.GETK).map((p) => [p.key.toString(), p.value.toString()]));
  assert.equal(got, KEPT, `${what}: kept keys`);
  const f = await Conn.open(server.port);
  f.send(pkt(OP.VERSION));
  const v = parseResponses(await f.until((b) => b.length >= 24, 3000)).packets[0]!;
  f.close();
  assert.is(v.status, 0, `${what}: fresh connection`);
  const s = await stats(server.port);
  assert.is(s.get('pid'), pid, `${what}: server restarted`);
  assert.is(s.get('parser_faults'), '0', `${what}: parser faults`);
  assert.is(s.get('parser_invalid'), '0', `${what}: invalid parser output`);
}

test.before(async () => {
  server = await startRemcached();
  keeper = await Conn.open(server.port);
  for (let i = 0; i < 20; i++) KEPT.set(`keep:${i}`, `value-${i}-${'x'.repeat(i * 10)}`);
  keeper.send(cat(...[...KEPT].map(([k, v]) => set(k, v, 0, 0, OP.SETQ)), noop(1)));
  await keeper.until((b) => b.length >= 24, 3000);
  pid = (await stats(server.port)).get('pid')!;
});
test.after(async () => { keeper?.close(); await server?.stop(); });

const ext8 = cat(u32(0), u32(0));
const CASES: Array<[string, Buffer, { closed?: boolean }]> = [
  ['truncated header (1 byte)', Buffer.from([0x80]), { closed: false }],
  ['truncated header (23 bytes)', pkt(OP.GET, { key: 'a' }).subarray(0, 23), { closed: false }],
  ['bad magic after a packet', cat(noop(), Buffer.alloc(24, 0x81)), { closed: true }],
  ['extlen 0xff (CVE-2020-10931)', pkt(OP.GET, { extras: Buffer.alloc(255, 0x41) }), { closed: true }],
  ['extlen 0xff unknown opcode', pkt(0x66, { extras: Buffer.alloc(255, 0x41) }), { closed: false }],
  ['keylen > bodylen (CVE-2016-8704)', cat(pkt(OP.APPEND, { keylen: 0xfa, bodylen: 0 }), Buffer.alloc(0xfa, 0x61)), { closed: true }],
  ['keylen + extlen > bodylen (CVE-2016-8705)', cat(pkt(OP.SET, { keylen: 5, extlen: 8, bodylen: 10 }), Buffer.alloc(40)), { closed: true }],
  ['SASL bodylen < keylen (CVE-2016-8706)', cat(pkt(OP.SASL_AUTH, { keylen: 5, bodylen: 2 }), Buffer.from('PLAINxx')), { closed: true }],
  ['bodylen 0xffffffe8 (CVE-2011-4971)', cat(pkt(OP.ADDQ, { key: 'k', extras: ext8, bodylen: 0xffffffe8 }), Buffer.alloc(30)), { closed: true }],
  ['bodylen 0xfffffff0 (CVE-2017-9951)', cat(pkt(OP.SET, { key: 'k', extras: ext8, bodylen: 0xfffffff0 }), Buffer.alloc(30)), { closed: true }],
  ['bodylen 0x80000000 unknown opcode', pkt(0x77, { bodylen: 0x80000000 }), { closed: true }],
  ['keylen 251', get('k'.repeat(251)), { closed: true }],
  ['keylen 65535', pkt(OP.GET, { key: Buffer.alloc(65535, 0x6b) }), { closed: true }],
  ['keylen 65535 header only', pkt(OP.GET, { keylen: 65535, bodylen: 65535 }), { closed: false }],
  ['SET with extlen 0', pkt(OP.SET, { key: 'k', value: 'v' }), { closed: true }],
  ['INCR with extlen 0', pkt(OP.INCR, { key: 'k' }), { closed: true }],
  ['SASL_STEP before AUTH (no -S)', pkt(OP.SASL_STEP, { key: 'PLAIN', value: 'x' }), { closed: false }],
  ['unknown opcodes 0x25..0xff', cat(...Array.from({ length: 0xff - 0x25 }, (_, i) => pkt(0x25 + i, { opaque: i })).filter((b) => b[1] !== 0xef)), { closed: false }],
  ['value too large (2 MiB)', set('big', Buffer.alloc(2 << 20, 0x62)), { closed: false }],
  ['incomplete 900 KB value then hang up', set('part', Buffer.alloc(900000, 0x63)).subarray(0, 500000), { closed: false }],
  ['70 000 pipelined GETQ of one key', cat(set('z', 'z'), ...Array.from({ length: 70000 }, () => get('z', OP.GETQ)), noop()), { closed: false }],
  ['incr wrap and huge initial', cat(arith('n', 0n, 18446744073709551615n, 0), arith('n', 1n, 0n, 0), noop()), { closed: false }],
];

for (const [name, data, want] of CASES) {
  test(`binary hostile: ${name}`, async () => {
    const { closed } = await hit(data, 60, want.closed === true);
    if (want.closed !== undefined) assert.is(closed, want.closed, `${name}: closed`);
    await healthy(name);
  });
}

test('binary hostile: a pipeline split at every byte answers as in one write', async () => {
  const p = cat(set('s1', 'abc', 5), get('s1', OP.GETK), arith('s2', 1n, 4n, 0), get('nx', OP.GETQ), pkt(OP.APPEND, { key: 's1', value: 'd' }), get('s1'), noop(9));
  const whole = await hit(p);
  const c = await Conn.open(server.port);
  for (const byte of p) { c.send(Buffer.from([byte])); await new Promise((r) => setImmediate(r)); }
  const split = await c.settle(80, 3000);
  c.close();
  const view = (b: Buffer) => parseResponses(b).packets.map((x) => [x.opcode, x.status, x.key.toString(), x.value.toString('hex')]);
  // the second run sees the first run's items: compare shapes, statuses and values of reads
  assert.is(view(split).length, view(whole.reply).length);
  assert.equal(view(split).map((x) => x[1]), view(whole.reply).map((x) => x[1]));
  await healthy('split at every byte');
});

test('binary hostile: 300 random headers after a valid magic (seeded)', async () => {
  const rnd = prng(0xb1a5);
  for (let i = 0; i < 300; i++) {
    const h = Buffer.alloc(24 + Math.floor(rnd() * 64));
    for (let j = 0; j < h.length; j++) h[j] = Math.floor(rnd() * 256);
    h[0] = 0x80;
    if (rnd() < 0.5) h[1] = Math.floor(rnd() * 0x25); // mostly real opcodes
    if (rnd() < 0.7) { h.writeUInt16BE(Math.floor(rnd() * 300), 2); h[4] = Math.floor(rnd() * 24); }
    if (rnd() < 0.7) h.writeUInt32BE(Math.floor(rnd() * 400), 8);
    const c = await Conn.open(server.port);
    c.send(h);
    await c.settle(5, 200);
    c.close();
  }
  await healthy('random headers');
});

test('binary hostile: random garbage streams after 0x80 (seeded)', async () => {
  const rnd = prng(0x6a5b);
  for (let i = 0; i < 100; i++) {
    const g = Buffer.alloc(1 + Math.floor(rnd() * 4096));
    for (let j = 0; j < g.length; j++) g[j] = Math.floor(rnd() * 256);
    g[0] = 0x80;
    const c = await Conn.open(server.port);
    c.send(g);
    await c.settle(5, 200);
    c.close();
  }
  await healthy('garbage streams');
});

test.run();
