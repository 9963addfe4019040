// -t 4: what is global in memcached stays global across remcached's worker threads (issue 11
// item 3): `stats conns` lists every worker's connections, `stats detail dump` merges every
// worker's prefix counts (byte for byte as memcached -t 4), `stats reset` clears them all,
// -o idle_timeout kicks idle connections on every worker, and the repeat-offender table counts a
// peer's faults on every worker. A port another process serves is refused, as memcached refuses it.
import assert from 'node:assert/strict';
import { suite } from '../helpers/test.ts';
import { spawnSync } from 'node:child_process';
import { Conn, NO_MEMCACHED, REMCACHED_MAIN, startMemcached, startRemcached, type Server } from '../helpers/server.ts';
import { connectFrom, sleep } from '../abuse/hygiene-lib.ts';

async function ask(c: Conn, cmd: string, end = 'END\r\n'): Promise<string> {
  c.send(cmd);
  const r = (await c.untilEndsWith(end, 10_000)).toString('latin1');
  c.take();
  return r;
}

async function workerOf(c: Conn): Promise<number> {
  return Number(/STAT worker_thread (\d+)/.exec(await ask(c, 'stats isolation\r\n'))![1]);
}

/** n connections; with remcached, on at least `spread` different workers (the kernel's
 *  SO_REUSEPORT hash of each connection decides: open more until they cover them) */
async function openSpread(port: number, n: number, spread: number, remc: boolean, open = () => Conn.open(port)): Promise<Conn[]> {
  const all: Array<[Conn, number]> = [];
  for (let tries = 0; tries < 100; tries++) {
    const c = await open();
    all.push([c, remc ? await workerOf(c) : 0]);
    if (all.length < n) continue;
    if (!remc) return all.map(([x]) => x);
    const byWorker = new Map<number, Conn>();
    for (const [x, w] of all) if (!byWorker.has(w)) byWorker.set(w, x);
    if (byWorker.size < spread) continue;
    const chosen = [...byWorker.values()].slice(0, spread);
    for (const [x] of all) if (chosen.length < n && !chosen.includes(x)) chosen.push(x);
    for (const [x] of all) if (!chosen.includes(x)) x.close();
    return chosen;
  }
  throw new Error(`100 connections did not reach ${spread} workers: ${all.map(([, w]) => w).join("")}`);
}

const s = suite('threads: global state across workers', { timeoutMs: 120_000 });

s('stats conns lists every worker\'s connections (as memcached -t 4 lists every thread\'s)', async () => {
  const counts: string[] = [];
  for (const remc of [true, false]) {
    if (!remc && NO_MEMCACHED) continue;
    const srv: Server = remc ? await startRemcached(['-t', '4']) : await startMemcached(['-t', '4']);
    try {
      const conns = await openSpread(srv.port, 8, 3, remc);
      // the extra connections openSpread closed are gone once their workers have seen the FIN
      for (const until = Date.now() + 5000; Date.now() < until; await sleep(50)) {
        if ([...(await ask(conns[0]!, 'stats conns\r\n')).matchAll(/STAT (\d+):listen_addr/g)].length === 8) break;
      }
      for (const c of conns) {
        const r = await ask(c, 'stats conns\r\n');
        const clients = [...r.matchAll(/STAT (\d+):listen_addr/g)].map((m) => Number(m[1]));
        assert.equal(clients.length, 8, `${remc ? 'remcached' : 'memcached'}: ${r}`);
        assert.deepEqual(clients, [...clients].sort((a, b) => a - b), 'in fd order');
        assert.equal(new Set(clients).size, 8);
      }
      counts.push(`${remc ? 'remcached' : 'memcached'} 8 of 8`);
      for (const c of conns) c.close();
    } finally { await srv.stop(); }
  }
  console.log(`  ${counts.join(', ')}`);
});

s('stats detail dump merges every worker\'s counts, byte for byte as memcached -t 4; stats reset clears all', async () => {
  const dumps: string[][] = [];
  for (const remc of [true, false]) {
    if (!remc && NO_MEMCACHED) continue;
    const srv = remc ? await startRemcached(['-t', '4']) : await startMemcached(['-t', '4']);
    try {
      const conns = await openSpread(srv.port, 8, 4, remc);
      const seen: string[] = [];
      await ask(conns[0]!, 'stats detail on\r\n', 'OK\r\n');
      for (let round = 0; round < 3; round++) {
        for (const [i, c] of conns.entries()) {
          await ask(c, `set p${(i * 7 + round) % 11}:k${i} 0 0 1\r\nx\r\nget q${i % 3}:z p${i}:k${i}\r\ndelete r${round}:x\r\n`, 'NOT_FOUND\r\n');
        }
      }
      for (const c of conns) seen.push(await ask(c, 'stats detail dump\r\n'));
      await ask(conns[3]!, 'stats reset\r\n', 'RESET\r\n');
      await ask(conns[5]!, 'set after:reset 0 0 1\r\nx\r\n', 'STORED\r\n');
      for (const c of conns) seen.push(await ask(c, 'stats detail dump\r\n'));
      dumps.push(seen);
      for (const c of conns) c.close();
    } finally { await srv.stop(); }
  }
  const [remc, memc] = dumps;
  assert.ok(remc![0]!.split('\r\n').length > 15, remc![0]);
  for (const d of remc!.slice(0, 8)) assert.equal(d, remc![0], 'every worker answers the same dump');
  for (const d of remc!.slice(8)) assert.equal(d, 'PREFIX after get 0 hit 0 set 1 del 0\r\nEND\r\n');
  if (memc) assert.deepEqual(remc, memc);
});

s('-o idle_timeout kicks idle connections on every worker; idle_kicks counts them all', async () => {
  const results: string[] = [];
  for (const remc of [true, false]) {
    if (!remc && NO_MEMCACHED) continue;
    const srv = remc ? await startRemcached(['-t', '4', '-o', 'idle_timeout=2']) : await startMemcached(['-t', '4', '-o', 'idle_timeout=2']);
    try {
      const conns = await openSpread(srv.port, 8, 3, remc);
      for (const c of conns) await ask(c, 'version\r\n', '\r\n');
      await Promise.all(conns.map((c) => c.closedWithin(8000)));
      const probe = await Conn.open(srv.port);
      const st = await ask(probe, 'stats\r\n');
      probe.close();
      results.push(`${remc ? 'remcached' : 'memcached'}: ${/STAT idle_kicks (\d+)/.exec(st)![1]} kicked`);
      assert.equal(/STAT idle_kicks (\d+)/.exec(st)![1], '8');
    } finally { await srv.stop(); }
  }
  console.log(`  ${results.join(', ')}`);
});

s('repeat offenders: a peer\'s faults count on every worker, then every worker refuses it', async () => {
  const srv = await startRemcached(['-t', '4', '--isolation=none', '--enable-fault-injection', '--offender-loopback',
    '--offender-slow=0', '--offender-refuse=4', '--offender-window=60', '--offender-backoff=30']);
  try {
    // ten connections from 127.0.0.2 on at least three workers: four fault, one by one
    const conns = await openSpread(srv.port, 10, 3, true, () => connectFrom(srv.port, '127.0.0.2'));
    const faultedOn = new Set<number>();
    for (const a of conns.slice(0, 4)) {
      faultedOn.add(await workerOf(a));
      a.send('debug_fault 7\r\n');
      await a.closedWithin(5000);
    }
    const bystanders = conns.slice(4);
    // refused after the 4th fault: its other open connections, on whatever worker, are closed
    await Promise.all(bystanders.map((b) => b.closedWithin(3000)));
    await sleep(200);
    // and new ones are refused on every worker (32 tries land on all four)
    const tries = await Promise.all(Array.from({ length: 32 }, () => connectFrom(srv.port, '127.0.0.2')));
    await Promise.all(tries.map((t) => t.closedWithin(3000)));
    const probe = await Conn.open(srv.port);
    const st = await ask(probe, 'stats isolation\r\n');
    probe.close();
    console.log(`  faults landed on workers ${[...faultedOn].sort().join(',')}; ${bystanders.length} open conns closed, 32/32 refused`);
    assert.match(st, /STAT offender_refused 1\r\n/);
    assert.match(st, /STAT parser_faults 4\r\n/);
    assert.ok(Number(/STAT offender_conns_refused (\d+)/.exec(st)![1]) >= 32);
  } finally { await srv.stop(); }
});

s('a port another process serves is refused (exit 71), a second remcached\'s SO_REUSEPORT group included', async () => {
  const seen: string[] = [];
  for (const holder of ['remcached', 'memcached']) {
    if (holder === 'memcached' && NO_MEMCACHED) continue;
    const first = holder === 'remcached' ? await startRemcached(['-t', '4']) : await startMemcached();
    try {
      const r = spawnSync(process.execPath, [REMCACHED_MAIN, '-t', '4', '-U', '0', '-l', '127.0.0.1', '-p', String(first.port)],
        { encoding: 'utf8', timeout: 15_000 });
      assert.equal(r.status, 71, `${holder} holds the port: ${r.stderr}`);
      assert.match(r.stderr, /^failed to listen on one of interface\(s\) 127\.0\.0\.1: Address already in use$/m); // memcached's words
      // the first one still serves every connection
      for (let i = 0; i < 8; i++) {
        const c = await Conn.open(first.port);
        assert.equal(await ask(c, 'version\r\n', '\r\n'), 'VERSION 1.6.18\r\n');
        c.close();
      }
      seen.push(`${holder}: refused`);
    } finally { await first.stop(); }
  }
  console.log(`  ${seen.join('; ')}`);
});

s.run();
