// -t 4: four clients on four connections that landed on four different worker threads (checked
// with `stats isolation`'s worker_thread) race on three
// keys: 10 000 incr each of one key, 10 000 appends each of their own tag to another, and CAS
// increment loops on a third. The final values must be exact (no lost update). The same test
// runs against memcached -t 4.
import assert from 'node:assert/strict';
import { suite } from '../helpers/test.ts';
import { Conn, NO_MEMCACHED, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

const N = 10_000, CAS_N = 1_000, BATCH = 200;

/** The worker thread serving the connection (`stats isolation`). */
async function workerOf(c: Conn): Promise<string> {
  c.send('stats isolation\r\n');
  const r = (await c.untilEndsWith('END\r\n')).toString('latin1');
  c.take();
  return /STAT worker_thread (\d+)/.exec(r)![1]!;
}

/** Four connections, each on a different worker (remcached), or any four (memcached). */
async function fourOnFourWorkers(port: number, checkWorkers: boolean): Promise<Conn[]> {
  const all: Conn[] = [];
  for (let i = 0; i < 4; i++) all.push(await Conn.open(port));
  if (!checkWorkers) return all;
  for (let tries = 0; tries < 64; tries++) {
    const byWorker = new Map<string, Conn>();
    for (const c of all) { const k = await workerOf(c); if (!byWorker.has(k)) byWorker.set(k, c); }
    if (byWorker.size >= 4) {
      const chosen = [...byWorker.values()].slice(0, 4);
      for (const c of all) if (!chosen.includes(c)) c.close();
      return chosen;
    }
    all.push(await Conn.open(port));
  }
  throw new Error('no four connections on four different workers after 68 tries');
}

async function batch(c: Conn, cmd: string, n: number, reply: RegExp): Promise<void> {
  for (let done = 0; done < n; done += BATCH) {
    const k = Math.min(BATCH, n - done);
    c.send(cmd.repeat(k));
    const text = (await c.until((b) => (b.toString('latin1').match(/\r\n/g)?.length ?? 0) >= k, 20_000)).toString('latin1');
    c.take();
    const lines = text.split('\r\n').slice(0, k);
    for (const l of lines) assert.match(l, reply);
  }
}

async function race(server: Server, checkWorkers: boolean): Promise<void> {
  const setup = await Conn.open(server.port);
  setup.send('set n 0 0 1\r\n0\r\nset tags 0 0 0\r\n\r\nset c 0 0 1\r\n0\r\n');
  await setup.until((b) => b.toString('latin1').split('STORED\r\n').length === 4);
  setup.close();
  const conns = await fourOnFourWorkers(server.port, checkWorkers);
  const tags = ['A', 'B', 'C', 'D'];
  await Promise.all(conns.map(async (c, i) => {
    await batch(c, 'incr n 1\r\n', N, /^\d+$/);
    await batch(c, `append tags 0 0 1\r\n${tags[i]}\r\n`, N, /^STORED$/);
    // CAS loop: gets, then cas with the value + 1, retried on EXISTS
    for (let won = 0; won < CAS_N;) {
      c.send('gets c\r\n');
      const g = (await c.untilEndsWith('END\r\n')).toString('latin1');
      c.take();
      const m = /^VALUE c 0 \d+ (\d+)\r\n(\d+)\r\n/.exec(g)!;
      const v = String(Number(m[2]) + 1);
      c.send(`cas c 0 0 ${v.length} ${m[1]}\r\n${v}\r\n`);
      const r = (await c.untilEndsWith('\r\n')).toString('latin1');
      c.take();
      assert.match(r, /^(STORED|EXISTS)\r\n$/);
      if (r === 'STORED\r\n') won++;
    }
  }));
  const c = conns[0]!;
  c.send('get n c\r\n');
  const got = (await c.untilEndsWith('END\r\n')).toString('latin1');
  c.take();
  assert.equal(got, `VALUE n 0 5\r\n${4 * N}\r\nVALUE c 0 4\r\n${4 * CAS_N}\r\nEND\r\n`);
  c.send('get tags\r\n');
  const t = (await c.untilEndsWith('END\r\n', 10_000)).toString('latin1');
  const value = /^VALUE tags 0 (\d+)\r\n([A-D]*)\r\nEND\r\n$/.exec(t)!;
  assert.equal(Number(value[1]), 4 * N);
  for (const tag of tags) assert.equal(value[2]!.split(tag).length - 1, N, `appends of ${tag}`);
  for (const x of conns) x.close();
}

const s = suite('threads: no lost update', { timeoutMs: 180_000 });
s('remcached -t 4: incr, append, cas from four workers', async () => {
  const server = await startRemcached(['-t', '4']);
  try { await race(server, true); } finally { await server.stop(); }
});
s('memcached -t 4: the same', async () => {
  const server = await startMemcached(['-t', '4']);
  try { await race(server, false); } finally { await server.stop(); }
}, { skip: NO_MEMCACHED });
s.run();
