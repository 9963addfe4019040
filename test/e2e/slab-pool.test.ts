// memcached's automover gives a class's pages back to the global pool as soon as the class has
// more than 2.5 pages of free chunks, page after page (t/slabs-reassign2.t): after deleting half
// of 5000 11 KB items, and again after flush_all. Run on both servers side by side; only that
// each gets there within the time memcached's own test allows is checked, not how fast.
// Then t/slabs-reassign-chunked.t's case: 11 KB items chunked in 4 KiB pieces, pages of the
// pieces' class moved to the pool with `slabs reassign`, values intact. And `slabs automove 2`:
// pages follow evictions at once.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { Conn, NO_MEMCACHED, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

const ARGS = ['-m', '60', '-o', 'slab_reassign,slab_automove,lru_crawler,lru_maintainer,slab_automove_window=3'];
const KEYS = 5000;
const VALUE = 'B'.repeat(11000);
const WAIT_MS = 20_000;

async function stat(port: number, name: string): Promise<number> {
  const c = await Conn.open(port);
  try {
    c.send('stats\r\n');
    const r = (await c.untilEndsWith('END\r\n')).toString('latin1');
    const m = new RegExp(`^STAT ${name} (\\d+)\\r$`, 'm').exec(r);
    if (!m) throw new Error(`no ${name} in stats`);
    return Number(m[1]);
  } finally { c.close(); }
}

/** Send everything with noreply (respecting backpressure), then wait for a `version` reply. */
async function pour(port: number, lines: string[]): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  let got = '';
  sock.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  try {
    for (let i = 0; i < lines.length; i += 200) {
      if (!sock.write(lines.slice(i, i + 200).join(''), 'latin1')) await new Promise((r) => sock.once('drain', r));
    }
    sock.write('version\r\n');
    const deadline = Date.now() + 30_000;
    while (!got.includes('VERSION')) {
      if (Date.now() > deadline || sock.destroyed) throw new Error(`no reply to version: ${JSON.stringify(got.slice(0, 200))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally { sock.destroy(); }
}

/** Poll until slab_global_page_pool exceeds `min`; the pool size reached (or -1 on timeout). */
async function poolOver(port: number, min: number): Promise<number> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const p = await stat(port, 'slab_global_page_pool');
    if (p > min) return p;
    if (Date.now() > deadline) return -1;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function scenario(s: Server): Promise<{ items: number; afterDelete: number; afterFlush: number }> {
  await pour(s.port, Array.from({ length: KEYS }, (_, i) => `set nfoo${i + 1} 0 0 ${VALUE.length} noreply\r\n${VALUE}\r\n`));
  const items = await stat(s.port, 'curr_items');
  await pour(s.port, Array.from({ length: items }, (_, i) => (i + 1) % 2 === 0 ? `delete nfoo${i + 1} noreply\r\n` : '').filter(Boolean));
  const afterDelete = await poolOver(s.port, 24);
  const c = await Conn.open(s.port);
  c.send('flush_all\r\n');
  await c.untilEndsWith('OK\r\n');
  c.close();
  const afterFlush = await poolOver(s.port, 50);
  return { items, afterDelete, afterFlush };
}

test('free pages go back to the global pool after deletes and after flush_all, on both servers', async () => {
  const [rem, mem] = await Promise.all([startRemcached(ARGS), startMemcached(ARGS)]);
  try {
    const [r, m] = await Promise.all([scenario(rem), scenario(mem)]);
    for (const [who, x] of [['memcached', m], ['remcached', r]] as const) {
      assert.ok(x.items > 4000, `${who}: stored ${x.items} 11 KB items, want > 4000`);
      assert.ok(x.afterDelete > 24, `${who}: global page pool did not pass 24 pages within ${WAIT_MS} ms of the deletes`);
      assert.ok(x.afterFlush > 50, `${who}: global page pool did not pass 50 pages within ${WAIT_MS} ms of flush_all`);
    }
  } finally { await Promise.all([rem.stop(), mem.stop()]); }
}, { skip: NO_MEMCACHED, timeoutMs: 120_000 });

/** stats as a map */
async function stats(port: number): Promise<Map<string, string>> {
  const c = await Conn.open(port);
  try {
    c.send('stats\r\n');
    const r = (await c.untilEndsWith('END\r\n')).toString('latin1');
    return new Map([...r.matchAll(/^STAT (\S+) (.*)\r$/gm)].map((m) => [m[1]!, m[2]!]));
  } finally { c.close(); }
}

const CHUNKED_ARGS = ['-m', '60', '-o', 'slab_reassign,slab_automove,lru_crawler,lru_maintainer,slab_chunk_max=4096'];
const PATTERN = Array.from({ length: 11000 }, (_, i) => String.fromCharCode(67 + (i * 7) % 24)).join('');

async function chunkedScenario(s: Server): Promise<{ items: number; pool: number; rescues: number; nomem: number; hits: number; bad: number; replies: string[] }> {
  await pour(s.port, Array.from({ length: 5100 }, (_, i) => `set nfoo${i + 1} 0 0 ${PATTERN.length} noreply\r\n${PATTERN}\r\n`));
  const items = Number((await stats(s.port)).get('curr_items'));
  const c = await Conn.open(s.port);
  const replies: string[] = [];
  let hits = 0, bad = 0;
  try {
    // class 17 holds the 4096-byte pieces (the class below holds 2904 bytes)
    for (let i = 0; i < 3; i++) {
      c.send('slabs reassign 17 0\r\n');
      replies.push((await c.untilEndsWith('\r\n', 5000)).toString('latin1'));
      c.take();
      await new Promise((r) => setTimeout(r, 1000));
    }
    const st = await stats(s.port);
    for (let i = 1; i <= 5100; i++) {
      c.send(`get nfoo${i}\r\n`);
      const r = (await c.untilEndsWith('END\r\n', 5000)).toString('latin1');
      c.take();
      if (r === 'END\r\n') continue;
      hits++;
      if (r !== `VALUE nfoo${i} 0 11000\r\n${PATTERN}\r\nEND\r\n`) bad++;
    }
    return { items, pool: Number(st.get('slab_global_page_pool')), rescues: Number(st.get('slab_reassign_chunk_rescues')),
      nomem: Number(st.get('slab_reassign_evictions_nomem')), hits, bad, replies };
  } finally { c.close(); }
}

test('chunked items: pages of the pieces\' class go to the pool, pieces rescued, values intact (t/slabs-reassign-chunked.t)', async () => {
  const [rem, mem] = await Promise.all([startRemcached(CHUNKED_ARGS), startMemcached(CHUNKED_ARGS)]);
  try {
    const [r, m] = await Promise.all([chunkedScenario(rem), chunkedScenario(mem)]);
    for (const [who, x] of [['memcached', m], ['remcached', r]] as const) {
      const why = `${who}: ${JSON.stringify(x)}`;
      assert.ok(x.items > 4000, why);
      assert.equal(x.replies, ['OK\r\n', 'OK\r\n', 'OK\r\n'], why);
      assert.ok(x.pool > 0, why);
      assert.ok(x.rescues > 0, why);
      assert.ok(x.hits > 0, why);
      assert.is(x.bad, 0, why);
    }
  } finally { await Promise.all([rem.stop(), mem.stop()]); }
}, { skip: NO_MEMCACHED, timeoutMs: 120_000 });

/** `stats slabs` total_pages by class */
async function pages(port: number): Promise<Map<number, number>> {
  const c = await Conn.open(port);
  try {
    c.send('stats slabs\r\n');
    const r = (await c.untilEndsWith('END\r\n')).toString('latin1');
    return new Map([...r.matchAll(/^STAT (\d+):total_pages (\d+)\r$/gm)].map((m) => [Number(m[1]), Number(m[2])]));
  } finally { c.close(); }
}

async function aggressiveScenario(s: Server): Promise<{ before: number; after: number; big: number; moved: number }> {
  // 100-byte values fill one class with every page -m 8 allows
  await pour(s.port, Array.from({ length: 40000 }, (_, i) => `set small${i} 0 0 100 noreply\r\n${'s'.repeat(100)}\r\n`));
  const first = await pages(s.port);
  const small = [...first.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  // then 1000-byte values in another class, evicting as soon as its first page is full
  await pour(s.port, Array.from({ length: 3000 }, (_, i) => `set big${i} 0 0 1000 noreply\r\n${'b'.repeat(1000)}\r\n`));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && Number((await stats(s.port)).get('slabs_moved')) === 0) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1500)); // (the moves of that second)
  const after = await pages(s.port);
  const big = [...after.entries()].filter(([cls]) => !first.has(cls)).reduce((n, [, p]) => n + p, 0);
  return { before: first.get(small)!, after: after.get(small) ?? 0, big, moved: Number((await stats(s.port)).get('slabs_moved')) };
}

test('slabs automove 2: pages move to the evicting class at once, from the other classes', async () => {
  const args = ['-m', '8', '-o', 'slab_automove=2'];
  const [rem, mem] = await Promise.all([startRemcached(args), startMemcached(args)]);
  try {
    const [r, m] = await Promise.all([aggressiveScenario(rem), aggressiveScenario(mem)]);
    for (const [who, x] of [['memcached', m], ['remcached', r]] as const) {
      const why = `${who}: ${JSON.stringify(x)}`;
      assert.ok(x.before >= 6, why);
      assert.ok(x.moved > 0, why);
      assert.ok(x.after < x.before, why);
      assert.ok(x.big > 1, why);
    }
  } finally { await Promise.all([rem.stop(), mem.stop()]); }
}, { skip: NO_MEMCACHED, timeoutMs: 60_000 });

test.run();
