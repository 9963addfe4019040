// Hostile input against remcached alone: every path that reads client bytes gets input no sane
// client sends. After each case the server must still be the same process, a connection opened
// before everything (the keeper) and a fresh one must still work, and the keys stored at the start
// must be intact. Bounded: the whole file runs in well under 30 s.
import { readFileSync } from 'node:fs';
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, startRemcached, type Server } from '../helpers/server.ts';

let server: Server;
let keeper: Conn;
let pid: number;
let rss0 = 0;

/** Deterministic PRNG (mulberry32), so a failing garbage case can be replayed from its seed. */
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Keys stored before any hostile input; nothing below ever names a `keep:` key.
const KEPT: Array<[string, Buffer, number]> = [];
{
  const r = prng(1);
  for (let i = 0; i < 40; i++) {
    const len = i === 0 ? 200_000 : i === 1 ? 0 : Math.floor(r() * 3000);
    KEPT.push([`keep:${i}`, Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256))), i * 7919]);
  }
}
const keptGet = `get ${KEPT.map(([k]) => k).join(' ')}\r\n`;
const keptReply = Buffer.concat([
  ...KEPT.flatMap(([k, v, f]) => [Buffer.from(`VALUE ${k} ${f} ${v.length}\r\n`), v, Buffer.from('\r\n')]),
  Buffer.from('END\r\n'),
]);

function rssKiB(p: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${p}`);
  return Number(m[1]);
}

/**
 * One request on a fresh connection. With `ends`, read until that has arrived (robust on a busy
 * machine); then, or without it, until nothing more comes for quietMs (or the server closes).
 */
async function fresh(data: string | Buffer, quietMs = 60, ends?: string): Promise<{ reply: Buffer; closed: boolean }> {
  const c = await Conn.open(server.port);
  c.send(data);
  const first = ends ? await c.until((b) => b.includes(ends), 5000).catch(() => c.take()) : Buffer.alloc(0);
  const reply = Buffer.concat([first, await c.settle(quietMs, 3000)]);
  const closed = c.closed;
  c.close();
  return { reply, closed };
}

/** The server is the same process, the keeper and a fresh connection work, the kept keys are intact. */
async function assertHealthy(label: string): Promise<void> {
  assert.is(server.proc.exitCode, null, `${label}: server exited (${server.proc.exitCode}); stderr: ${server.stderr().slice(-4000)}`);
  assert.is(server.proc.signalCode, null, `${label}: server killed by ${server.proc.signalCode}`);
  keeper.send(keptGet);
  const got = await keeper.until((b) => b.length >= keptReply.length, 5000);
  assert.ok(got.equals(keptReply), `${label}: kept keys differ (got ${got.length} bytes, want ${keptReply.length})`);
  const c = await Conn.open(server.port);
  c.send('stats\r\n');
  const s = (await c.untilEndsWith('END\r\n', 3000)).toString('latin1');
  c.close();
  assert.is(Number(/STAT pid (\d+)/.exec(s)?.[1]), pid, `${label}: stats pid changed`);
}

/** Everything a connection may legitimately do with hostile input: answer, or close. Never hang the server. */
/** Send `data` on a fresh connection; the reply once quiet. On a loaded machine the reply (or
 *  the close) can pause longer than quietMs: `want` waits (5 s at most) until the reply matches
 *  it or the connection closes, `expectClosed` until it closes. */
async function hostile(label: string, data: string | Buffer,
  opts: { quietMs?: number; split?: number; want?: RegExp; expectClosed?: boolean } = {}): Promise<{ reply: Buffer; closed: boolean }> {
  const c = await Conn.open(server.port);
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  if (opts.split) {
    for (let off = 0; off < buf.length && !c.closed; off += opts.split) c.send(buf.subarray(off, off + opts.split));
  } else c.send(buf);
  const first = opts.want
    ? await c.until((b) => opts.want!.test(b.toString('latin1')), 5000).catch(() => Buffer.alloc(0))
    : Buffer.alloc(0);
  const reply = Buffer.concat([first, await c.settle(opts.quietMs ?? 80, 5000)]);
  if (opts.expectClosed) await c.closesWithin(5000);
  const closed = c.closed;
  c.close();
  void label;
  return { reply, closed };
}

/** After a hostile prefix, is the connection still in sync? (open: a `version` must answer) */
async function inSyncOrClosed(c: Conn, label: string): Promise<void> {
  if (c.closed) return;
  c.send('\r\nversion\r\n');
  const r = await c.until((b) => /VERSION [^\r\n]*\r\n$/.test(b.toString('latin1')), 3000).catch(() => null);
  assert.ok(r !== null || c.closed, `${label}: connection neither answers nor closes`);
}

test.before(async () => {
  server = await startRemcached(['-m', '64']);
  pid = server.proc.pid!;
  keeper = await Conn.open(server.port);
  const c = await Conn.open(server.port);
  for (const [k, v, f] of KEPT) {
    c.send(Buffer.concat([Buffer.from(`set ${k} ${f} 0 ${v.length}\r\n`), v, Buffer.from('\r\n')]));
  }
  const r = await c.until((b) => (b.toString('latin1').match(/STORED\r\n/g) ?? []).length >= KEPT.length, 5000);
  assert.is(r.toString(), 'STORED\r\n'.repeat(KEPT.length));
  c.close();
  rss0 = rssKiB(pid);
  await assertHealthy('setup');
});

test.after(async () => {
  keeper?.close();
  await server?.stop();
});

test('too-long lines without LF: 3000 B, 64 KiB, 1 MiB, 4 MiB get line', async () => {
  for (const [label, data] of [
    ['3000 x set', 'set ' + 'a'.repeat(3000)],
    ['64 KiB garbage', 'x'.repeat(65536)],
    ['1 MiB set key', 'set ' + 'k'.repeat(1 << 20)],
    ['spaces then a long line', ' '.repeat(200) + 'y'.repeat(5000)],
  ] as const) {
    const r = await hostile(label, data, { quietMs: 150, expectClosed: true });
    assert.ok(r.closed, `${label}: a long non-get line without LF must close the connection`);
  }
  // A get line may grow (memcached allows it); it must not take the server down, and the
  // connection must end bounded: either closed, or answering once the LF arrives.
  const c = await Conn.open(server.port);
  const chunk = Buffer.from('miss '.repeat(1 << 16)); // 320 KiB
  for (let i = 0; i < 13 && !c.closed; i++) { c.send(chunk); await sleep(2); } // ~4 MiB
  c.send('\r\n');
  const r = await c.until((b) => b.toString('latin1').endsWith('\r\n'), 5000).catch(() => Buffer.alloc(0));
  assert.ok(c.closed || /^(END|CLIENT_ERROR [^\r]*|SERVER_ERROR [^\r]*)\r\n$/.test(r.toString('latin1')), `4 MiB get line: ${r.toString('latin1').slice(0, 80)}`);
  c.close();
  await assertHealthy('long lines');
});

test('1 MiB+ lines with LF, in one write', async () => {
  const keys = Array.from({ length: 6000 }, (_, i) => `nokey${i}`.padEnd(200, 'x'));
  let r = await hostile('1.2 MiB multiget', `get keep:5 ${keys.join(' ')} keep:5\r\n`, { quietMs: 200, want: /END\r\n$/ });
  const v5 = KEPT[5]!;
  const one = Buffer.concat([Buffer.from(`VALUE keep:5 ${v5[2]} ${v5[1].length}\r\n`), v5[1], Buffer.from('\r\n')]);
  assert.ok(r.reply.equals(Buffer.concat([one, one, Buffer.from('END\r\n')])), '1.2 MiB multiget answers the two hits');
  r = await hostile('2 MiB unknown command', 'bogus ' + 'b'.repeat(2 << 20) + '\r\nversion\r\n', { quietMs: 200, want: /^ERROR\r\n/ });
  assert.ok(r.closed || /^ERROR\r\n/.test(r.reply.toString('latin1')), '2 MiB unknown command: ERROR or close');
  r = await hostile('1.5 MiB key', `get ${'k'.repeat(1_500_000)}\r\n`, { quietMs: 200, want: /\r\n$/ });
  assert.ok(r.closed || r.reply.toString('latin1') === 'CLIENT_ERROR bad command line format\r\n', '1.5 MiB key: error or close');
  await assertHealthy('1 MiB lines');
});

test('negative and huge numbers in every numeric field', async () => {
  const nums = ['-1', '-0', '-2147483648', '2147483647', '2147483648', '4294967295', '4294967296', '9223372036854775807',
    '9223372036854775808', '18446744073709551615', '18446744073709551616', '99999999999999999999999999999999',
    '0x10', '1e3', '+', '-', '+-1', ' ', '00000000000000000000000000001', '1.5', '\x001', '1\x00', '٣'];
  const forms = (n: string) => [
    `set h ${n} 0 1\r\nx\r\n`, `set h 0 ${n} 1\r\nx\r\n`, `set h 0 0 ${n}\r\nx\r\n`, `cas h 0 0 1 ${n}\r\nx\r\n`,
    `append h 0 0 ${n}\r\nx\r\n`, `incr h ${n}\r\n`, `decr h ${n}\r\n`, `touch h ${n}\r\n`, `gat ${n} h\r\n`,
    `gats ${n} h\r\n`, `delete h ${n}\r\n`, `verbosity ${n} noreply\r\n`, `stats cachedump ${n} ${n}\r\n`,
    `slabs reassign ${n} ${n}\r\n`, `lru temp_ttl ${n}\r\n`,
  ];
  const c = await Conn.open(server.port);
  c.send(`set h 0 0 2\r\n10\r\n`);
  await c.untilEndsWith('STORED\r\n');
  for (const n of nums) {
    for (const f of forms(n)) {
      if (c.closed) break;
      c.send(f);
    }
  }
  // (flush_all is not here: it would wipe the kept keys; the comparison suite covers its numbers.)
  c.send('verbosity 0\r\n');
  // Whatever each answers, the connection resyncs (the data lines that follow refused storage
  // commands are parsed as commands, like memcached) or it is closed; a huge <bytes> may leave it
  // swallowing, so end with a fresh check too.
  await c.settle(100, 3000);
  c.close();
  for (const n of ['-1', '2147483647', '4294967296', '18446744073709551616']) {
    const d = await Conn.open(server.port);
    d.send(`set h 0 0 ${n}\r\n`);
    await sleep(5);
    await inSyncOrClosed(d, `bytes ${n}`);
    d.close();
  }
  await assertHealthy('numbers');
});

const COMMANDS = [
  'set sp:a 5 0 10\r\n0123456789\r\n', 'add sp:b 0 0 3 noreply\r\nabc\r\n', 'replace sp:a 1 0 1\r\nz\r\n',
  'append sp:a 0 0 2\r\n!!\r\n', 'prepend sp:a 0 0 2\r\n<<\r\n', 'cas sp:a 0 0 1 1\r\nq\r\n',
  'get sp:a sp:b keep:2 nope\r\n', 'gets sp:a\r\n', 'gat 100 sp:a keep:3\r\n', 'gats 0 sp:b\r\n', 'delete sp:b\r\n',
  'incr sp:n 5\r\n', 'decr sp:n 18446744073709551615\r\n', 'touch sp:a 100\r\n', 'stats bogus\r\n', 'version\r\n',
  'verbosity 0\r\n', 'set sp:c 0 0 3\r\nabcd\r\n', 'get\n', 'set sp:d 0 0 1\nx\r\n', 'GET / HTTP/1.1\r\n',
  'delete sp:a 5\r\n', 'quit\r\n', 'bogus\0cmd\r\n',
  'ms sp:m 2 T0 F5\r\nhi\r\n', 'mg sp:a v f t k s O1\r\n', 'ma sp:n D3 v\r\n', 'md sp:a q\r\nmn\r\n', 'mg nope v q k\r\nmn\r\n',
];

test('every command split at every byte answers as in one write; truncated commands then close', async () => {
  const reset = 'set sp:a 0 0 1\r\na\r\nset sp:n 0 0 2\r\n10\r\nset sp:b 0 0 1\r\nb\r\ndelete sp:b\r\n';
  for (const cmd of COMMANDS) {
    const prep = await Conn.open(server.port);
    prep.send(reset);
    await prep.untilEndsWith('\r\n', 2000).catch(() => undefined);
    await prep.settle(10);
    prep.close();
    const whole = await fresh(reset + cmd, 100, 'DELETED\r\n');
    for (let i = 1; i < cmd.length; i++) {
      const c = await Conn.open(server.port);
      c.send(reset + cmd.slice(0, i));
      await sleep(1);
      c.send(cmd.slice(i));
      // wait for as many bytes as the one-write run gave, then a moment for any extra
      let reply = await c.until((b) => b.length >= whole.reply.length, 3000).catch(() => c.take());
      reply = Buffer.concat([reply, await c.settle(10, 1000)]);
      if (whole.closed) await Promise.race([c.closedPromise, sleep(2000)]);
      const closed = c.closed;
      c.close();
      // A command that closes the connection (HTTP line, quit) may take the replies of its own
      // read event with it (memcached does the same): then only the close is compared.
      if (whole.closed) {
        assert.ok(closed, `${JSON.stringify(cmd)} split at ${i}: must close like the one-write run`);
        const t = await Conn.open(server.port);
        t.send(cmd.slice(0, i));
        const from = t.sock.localPort!;
        t.sock.resetAndDestroy();
        await serverClosed(from);
        continue;
      }
      // every run stores anew, so CAS numbers differ: compare without them
      const noCas = (b: Buffer) => b.toString('latin1').replace(/^(VALUE \S+ \d+ \d+) \d+\r$/gm, '$1 <cas>\r');
      assert.equal(noCas(reply), noCas(whole.reply), `${JSON.stringify(cmd)} split at ${i}`);
      assert.is(closed, whole.closed, `${JSON.stringify(cmd)} split at ${i}: close`);
      // truncated: the same prefix, then the client goes away (half the time with a RST)
      const t = await Conn.open(server.port);
      t.send(cmd.slice(0, i));
      const from = t.sock.localPort!;
      if (i % 2) t.sock.resetAndDestroy(); else t.sock.end();
      await serverClosed(from);
    }
  }
  await assertHealthy('splits');
});

/** Until the server has closed the connection from `localPort` (`stats conns` lists every
 *  worker's). A truncated prefix may hold whole commands ('md sp:a q' of 'md sp:a q\r\nmn\r\n');
 *  with worker threads they run on that connection's worker, and must be done before the next
 *  split's reset runs on another. */
async function serverClosed(localPort: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const q = await Conn.open(server.port);
    q.send('stats conns\r\n');
    const r = await q.untilEndsWith('END\r\n', 2000).catch(() => Buffer.alloc(0));
    q.close();
    if (r.length > 0 && !r.toString('latin1').includes(`:127.0.0.1:${localPort}\r\n`)) return;
    await sleep(5);
  }
}

test('NUL bytes everywhere', async () => {
  const cases = [
    '\0', '\0\r\n', '\0'.repeat(5000), '\0'.repeat(1000) + '\r\n', 'get \0\r\n', 'get keep:1\0\r\n', 'set \0 0 0 1\r\n\0\r\n',
    'set nul:k 0 0 3\r\n\0\0\0\r\nget nul:k\r\n', 'set nul:k\0 0 0 1\r\nx\r\n', 'incr\0 nul:k 1\r\n', 'ver\0sion\r\n',
    'set nul:k 0 0 1\r\nx\0\n', '\r\0\n', 'get ' + 'a\0'.repeat(2000) + '\r\n',
  ];
  for (const data of cases) {
    const c = await Conn.open(server.port);
    c.send(data);
    await sleep(3);
    await inSyncOrClosed(c, JSON.stringify(data.slice(0, 40)));
    c.close();
  }
  const r = await fresh('set nul:v 0 0 5\r\n\0a\0b\0\r\nget nul:v\r\n', 20, 'END\r\n');
  assert.is(r.reply.toString('latin1'), 'STORED\r\nVALUE nul:v 0 5\r\n\0a\0b\0\r\nEND\r\n', 'NULs in a value are data');
  await assertHealthy('NUL bytes');
});

test('meta commands with hostile flags and tokens', async () => {
  const lines = [
    'mg k Fabc', `mg k ${'v '.repeat(25)}`, `mg k O${'o'.repeat(40)}`, 'mg !!!! b v', 'mg Zm9v= b v', 'mg k N-1 v', 'mg k T99999999999999999999',
    'ms k 2147483647 T0', 'ms k -1', 'ms k 4294967296', 'ms k 2 MZ', 'ms k 2 F-1\r\nhi', 'ms k 2 C18446744073709551616\r\nhi',
    'ma k D18446744073709551616', 'ma k J-1 N0', 'ma k MX', 'md k C-1', 'md k T-1 I', `me ${'k'.repeat(300)}`, 'mg', 'ms', 'mn x y z',
    `mg ${'k'.repeat(251)} v`, `mg ${Buffer.alloc(300, 'QUFB').toString()} b v`, 'mg k \0 v', 'mg k v\0', `mg k ${'Oa '.repeat(300)}`,
  ];
  for (const line of lines) {
    const c = await Conn.open(server.port);
    c.send(line + '\r\n');
    await sleep(2);
    // an `ms` may be reading (or swallowing) its data block now: only the server's health counts
    if (line.startsWith('ms ')) await c.settle(20, 500);
    else await inSyncOrClosed(c, JSON.stringify(line.slice(0, 40)));
    c.close();
  }
  await assertHealthy('meta');
});

test('hostile data blocks: short, long, wrong terminator, huge declared size, client gone mid-value', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['wrong terminator', 'set db:a 0 0 3\r\nabcdefgh\r\n', /^CLIENT_ERROR bad data chunk\r\n/],
    ['LF only', 'set db:a 0 0 3\r\nabc\nget db:a\r\n', /^CLIENT_ERROR bad data chunk\r\n/],
    ['2 MiB declared, all sent', `set db:b 0 0 2097152\r\n${'z'.repeat(2097152)}\r\nget db:b\r\n`, /^SERVER_ERROR object too large for cache\r\nEND\r\n$/],
    // swallowing the 1 GiB that never comes: memcached answers only at the end, remcached at once
    ['1 GiB declared, then a command', 'set db:c 0 0 1073741824\r\nget keep:1\r\n', /^(SERVER_ERROR object too large for cache\r\n)?$/],
    ['INT_MAX declared', 'set db:c 0 0 2147483647\r\nversion\r\n', /^CLIENT_ERROR bad command line format\r\nVERSION [^\r]*\r\n$/],
  ];
  for (const [label, data, want] of cases) {
    const r = await hostile(label, data, { quietMs: 100, want });
    assert.match(r.reply.toString('latin1').slice(0, 200), want, label);
  }
  // value half sent, then the client vanishes, on 50 connections at once
  await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const c = await Conn.open(server.port);
    c.send(`set db:half${i} 0 0 100000\r\n${'h'.repeat(i * 1000)}`);
    await sleep(5);
    if (i % 2) c.sock.resetAndDestroy(); else c.sock.end();
  }));
  const r = await fresh('get db:half3 db:half4\r\n', 20, 'END\r\n');
  assert.is(r.reply.toString(), 'END\r\n', 'half-sent values are not stored');
  await assertHealthy('data blocks');
});

test('thousands of pipelined commands in one write', async () => {
  const N = 10_000;
  let req = '';
  for (let i = 0; i < N; i++) req += `set pl:${i % 500} 0 0 ${String(i).length}\r\n${i}\r\nget pl:${i % 500}\r\n`;
  const c = await Conn.open(server.port);
  c.send(req);
  const want = N * 2;
  const r = await c.until((b) => (b.toString('latin1').match(/(STORED|END)\r\n/g) ?? []).length >= want, 15000);
  const s = r.toString('latin1');
  assert.is((s.match(/STORED\r\n/g) ?? []).length, N);
  assert.ok(s.endsWith(`VALUE pl:${(N - 1) % 500} 0 ${String(N - 1).length}\r\n${N - 1}\r\nEND\r\n`), 'last reply in order');
  c.send('get miss\r\n'.repeat(50_000));
  const m = await c.until((b) => b.length >= 50_000 * 5, 15000);
  assert.is(m.length, 50_000 * 5, '50 000 pipelined misses');
  c.close();
  await assertHealthy('pipeline');
});

test('slow loris: byte-per-write clients and stalled half commands do not stop others', async () => {
  const stalled = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
    const c = await Conn.open(server.port);
    c.send(i % 2 ? 'set lo:x 0 0 10\r\nabc' : 'get keep:1 keep:2');
    return c;
  }));
  const loris = Array.from({ length: 8 }, async (_, i) => {
    const c = await Conn.open(server.port);
    const data = Buffer.from(`set lo:${i} 0 0 5\r\nloris\r\nget lo:${i}\r\n`);
    for (let j = 0; j < data.length; j++) { c.send(data.subarray(j, j + 1)); await sleep(1); }
    const r = await c.untilEndsWith('END\r\n', 5000);
    c.close();
    return r.toString();
  });
  // meanwhile, others are served
  await assertHealthy('during slow loris');
  for (const r of await Promise.all(loris)) assert.match(r, /^STORED\r\nVALUE lo:\d 0 5\r\nloris\r\nEND\r\n$/);
  for (const c of stalled) c.close();
  await assertHealthy('slow loris');
});

test('binary garbage from a seeded PRNG on many connections', async () => {
  // HOSTILE_SEED=n replays (or explores) another stream; the default is fixed so CI is repeatable.
  const rnd = prng(Number(process.env.HOSTILE_SEED ?? 0xc0ffee));
  const words = ['get', 'gets', 'set', 'add', 'cas', 'incr', 'decr', 'delete', 'touch', 'gat', 'append', 'stats',
    'version', 'mg', 'ms', 'md', 'ma', 'mn', 'me', 'quit', 'gar:k', 'gar:j', '0', '1', '-1', '4294967296', 'noreply',
    '99999999999999999999', 'HTTP/1.1', 'v', 'q', 'T1', 'k', 'O1', 'b'];
  const piece = (): string => {
    const x = rnd();
    if (x < 0.5) return words[Math.floor(rnd() * words.length)]!;
    if (x < 0.7) return ' ';
    if (x < 0.8) return '\r\n';
    if (x < 0.85) return '\n';
    if (x < 0.9) return '\0';
    return String.fromCharCode(Math.floor(rnd() * 256));
  };
  for (let batch = 0; batch < 8; batch++) {
    await Promise.all(Array.from({ length: 25 }, async (_, i) => {
      const c = await Conn.open(server.port);
      let data: Buffer;
      if ((batch + i) % 3 === 0) {
        data = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 8192) }, () => Math.floor(rnd() * 256)));
      } else {
        let s = '';
        while (s.length < 2000) s += piece();
        data = Buffer.from(s, 'latin1');
      }
      const chunks = 1 + Math.floor(rnd() * 4);
      const step = Math.ceil(data.length / chunks);
      for (let off = 0; off < data.length && !c.closed; off += step) { c.send(data.subarray(off, off + step)); await sleep(1); }
      await c.settle(20, 1000);
      if (i % 3 === 0) c.sock.resetAndDestroy(); else c.close();
    }));
    await assertHealthy(`garbage batch ${batch}`);
  }
});

test('binary-protocol headers from the CVE list', async () => {
  const h = (op: number, keylen: number, extlen: number, bodylen: number, tail = 0) => {
    const b = Buffer.alloc(24 + tail);
    b[0] = 0x80; b[1] = op; b.writeUInt16BE(keylen, 2); b[4] = extlen; b.writeUInt32BE(bodylen >>> 0, 8);
    return b;
  };
  const cases = [
    h(0x12, 1, 8, 0xffffffe8, 32), h(0x0e, 0xfa, 0, 0, 300), h(0x01, 10, 8, 4, 40), h(0x01, 1, 8, 0xfffffff0, 20),
    h(0x00, 0, 0xff, 0x1ff, 600), h(0x21, 5, 0, 2, 16), h(0x22, 5, 0, 10, 16), h(0x01, 251, 8, 259, 300), h(0x55, 0, 0, 0),
    Buffer.from([0x80]), Buffer.from([0x81, 0, 0, 0]),
  ];
  for (const b of cases) await hostile('binary header', b, { quietMs: 40 });
  await assertHealthy('binary headers');
});

test('connection storm: 300 connections opened and dropped, some with a RST mid-command', async () => {
  const refused: string[] = [];
  await Promise.all(Array.from({ length: 300 }, async (_, i) => {
    const c = await Conn.open(server.port).catch((e: Error) => { refused.push(e.message); return null; });
    if (!c) return;
    if (i % 3 === 0) c.send('get keep:1 keep:2\r\n');
    if (i % 3 === 1) c.send('set st:x 0 0 50\r\nabc');
    if (i % 2) c.sock.resetAndDestroy(); else c.close();
  }));
  assert.equal(refused, [], 'connections refused during the storm');
  await sleep(50);
  await assertHealthy('storm');
});

test('no parser fault was needed, memory stayed bounded', async () => {
  const r = await fresh('stats isolation\r\n', 20, 'END\r\n');
  const s = r.reply.toString('latin1');
  const faults = /STAT parser_faults (\d+)/.exec(s);
  assert.ok(faults, 'stats has parser_faults');
  assert.is(Number(faults![1]), 0, 'hostile input must be refused by the parser, never fault it');
  const rss = rssKiB(pid);
  assert.ok(rss - rss0 < 512 * 1024, `RSS grew by ${rss - rss0} KiB`);
  await assertHealthy('end');
});

test('after all that, SIGTERM still exits 0', async () => {
  keeper.close();
  assert.equal(await server.stop(), { code: 0, signal: null });
});

test.run();
