// twemproxy (Debian's `nutcracker` 0.5.0) in front of two backends: traffic through it spread over
// both by ketama, one backend stopped and ejected, restarted and back. Run against two remcached
// and against two memcached 1.6.18, and the two runs compared: what a client of the proxy sees
// must be the same. Then what a parser fault does behind the proxy (README "Behind proxies"):
// nutcracker does not forward `debug_fault` (it closes the client), so to put a real fault on its
// shared upstream connection a byte relay between nutcracker and one remcached turns one request
// nutcracker forwards into `debug_fault 7`; what nutcracker then does is shown for
// server_failure_limit 1 and 2 and auto_eject_hosts false.
import { suite, needs, anyOf } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conn, freePort, NO_MEMCACHED, REMCACHED_MAIN } from '../helpers/server.ts';

const NO_NUTCRACKER = needs('nutcracker', 'nutcracker');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- processes -------------------------------------------------------------------------------

interface Proc { port: number; proc: ChildProcess; out(): string; stop(): Promise<void> }

async function waitListening(port: number, p: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`exited early (${p.exitCode ?? p.signalCode}): ${out()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`nothing listening on ${port}: ${out()}`);
}

/** A process that listens on `port`; stop() is SIGTERM, SIGKILL after 5 s, bounded. */
async function run(cmd: string, args: string[], port: number): Promise<Proc> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => { out = (out + d.toString()).slice(-65536); };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const p: Proc = {
    port, proc, out: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const k = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await Promise.race([exited, sleep(10_000).then(() => { throw new Error(`${cmd} (pid ${proc.pid}) did not exit`); })]);
      clearTimeout(k);
    },
  };
  await waitListening(port, proc, () => out);
  return p;
}

type Kind = 'remcached' | 'memcached';
/** A backend on a given port (restarting one on the same port is the point of the eject test). */
function backend(kind: Kind, port: number, extra: string[] = []): Promise<Proc> {
  if (kind === 'remcached') return run(process.execPath, [REMCACHED_MAIN, '-p', String(port), '-l', '127.0.0.1', ...extra], port);
  const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  return run('memcached', ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-t', '1', ...user, ...extra], port);
}

interface Pool { name: string; port: number; eject: boolean; limit: number; retryMs: number; servers: Array<[string, number]> }

/** nutcracker with one listener per pool; stats aggregated every 100 ms on their own port. */
async function nutcracker(pools: Pool[], dir: string): Promise<Proc & { statsPort: number }> {
  // Servers are named ("a", "b"): ketama then hashes the names, not the addresses, so a key lands
  // on the same name whatever ports this run got, and the remcached and memcached runs agree.
  const yml = pools.map((p) => [
    `${p.name}:`,
    `  listen: 127.0.0.1:${p.port}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  timeout: 2000',
    `  auto_eject_hosts: ${p.eject}`,
    `  server_failure_limit: ${p.limit}`,
    `  server_retry_timeout: ${p.retryMs}`,
    '  servers:',
    ...p.servers.map(([name, port]) => `   - 127.0.0.1:${port}:1 ${name}`),
  ].join('\n')).join('\n') + '\n';
  const conf = join(dir, 'nutcracker.yml');
  writeFileSync(conf, yml);
  const statsPort = await freePort();
  const p = await run('nutcracker', ['-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', '-i', '100', '-o', join(dir, 'nutcracker.log')], pools[0]!.port);
  for (const pool of pools.slice(1)) await waitListening(pool.port, p.proc, p.out);
  return Object.assign(p, { statsPort });
}

/** nutcracker's stats (JSON, sent whole on connect, then closed). */
async function proxyStats(port: number): Promise<any> {
  const c = await Conn.open(port);
  await c.closedWithin(5000);
  return JSON.parse(c.take().toString());
}

/** Poll nutcracker's stats (aggregated every 100 ms) until pred holds. */
async function statsUntil(port: number, pred: (s: any) => boolean, what: string): Promise<any> {
  const deadline = Date.now() + 5000;
  let s: any;
  while (Date.now() < deadline) {
    s = await proxyStats(port);
    if (pred(s)) return s;
    await sleep(100);
  }
  throw new Error(`nutcracker stats: ${what} not seen in 5 s: ${JSON.stringify(s)}`);
}

// ---- a text client -----------------------------------------------------------------------------

const END = /(?:^|\r\n)(?:END|SERVER_ERROR [^\r\n]*|CLIENT_ERROR [^\r\n]*|ERROR)\r\n$/;
const ONE = /^(?:STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|TOUCHED|OK|\d+|SERVER_ERROR [^\r\n]*|CLIENT_ERROR [^\r\n]*|ERROR)\r\n$/;

/** One request, its whole reply (retrievals end with END or an error). */
async function ask(c: Conn, req: string, retrieval = /^(?:get|gets) /.test(req)): Promise<string> {
  c.send(req);
  const r = await c.until((b) => (retrieval ? END : ONE).test(b.toString('latin1')));
  return r.toString('latin1');
}

/** A fresh connection, one request, closed. */
async function once(port: number, req: string): Promise<string> {
  const c = await Conn.open(port);
  try { return await ask(c, req); } finally { c.close(); }
}

/** Which of `keys` a backend holds (asked directly, not through the proxy). */
async function held(port: number, keys: string[]): Promise<string[]> {
  const r = await once(port, `get ${keys.join(' ')}\r\n`);
  return [...r.matchAll(/^VALUE (\S+) /gm)].map((m) => m[1]!);
}

const keysN = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

// ---- traffic, eject, return: the same against remcached and memcached --------------------------

interface Run { kind: Kind; transcript: string[]; onA: string[]; onB: string[] }
const runs: Run[] = [];

/** The whole scenario against two backends of one kind; what a proxy client sees is recorded. */
async function scenario(kind: Kind): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'remc-nutcracker-'));
  const [pa, pb, pp] = [await freePort(), await freePort(), await freePort()];
  const procs: Proc[] = [];
  let b: Proc | null = null;
  try {
    const a = await backend(kind, pa);
    procs.push(a);
    b = await backend(kind, pb);
    const proxy = await nutcracker([{ name: 'alpha', port: pp, eject: true, limit: 2, retryMs: 1000, servers: [['a', pa], ['b', pb]] }], dir);
    procs.push(proxy);
    const t: string[] = [];
    const c = await Conn.open(pp);
    const say = async (req: string) => { const r = await ask(c, req); t.push(`${req.split('\r\n')[0]} -> ${r}`); return r; };

    // set/get/multi-get/delete/incr/decr/append/prepend/touch/gets/cas over 60 keys
    const keys = keysN('key:', 60);
    for (const k of keys) assert.is(await say(`set ${k} 7 0 ${k.length + 2}\r\nv-${k}\r\n`), 'STORED\r\n');
    const all = await say(`get ${keys.join(' ')}\r\n`);
    for (const k of keys) assert.ok(all.includes(`VALUE ${k} 7 ${k.length + 2}\r\nv-${k}\r\n`), `multi-get has ${k}`);
    await say('get key:3\r\n');
    await say('delete key:4\r\n');
    await say('delete key:4\r\n');
    await say('get key:4 key:5\r\n');
    await say('set n 0 0 2\r\n10\r\n');
    await say('incr n 5\r\n');
    await say('decr n 100\r\n');
    await say('incr nx 1\r\n');
    await say('append key:6 0 0 1\r\n>\r\n');
    await say('prepend key:6 0 0 1\r\n<\r\n');
    await say('get key:6\r\n');
    await say('touch key:7 100\r\n');
    await say('add key:7 0 0 1\r\nx\r\n');
    await say('replace key:8 0 0 1\r\nr\r\n');
    const gets = await say('gets key:9\r\n');
    const cas = /^VALUE key:9 \d+ \d+ (\d+)\r\n/.exec(gets)?.[1];
    assert.ok(cas, `gets: ${gets}`);
    await say(`cas key:9 0 0 1 ${cas}\r\nc\r\n`);
    await say(`cas key:9 0 0 1 ${cas}\r\nd\r\n`);
    await say('get key:9\r\n');

    // ketama spread the keys over both: each on exactly one backend
    const every = [...keys.filter((k) => k !== 'key:4'), 'n'];
    const onA = await held(pa, every), onB = await held(pb, every);
    assert.ok(onA.length > 0 && onB.length > 0, `keys on both backends (a: ${onA.length}, b: ${onB.length})`);
    assert.equal([...onA, ...onB].sort(), [...every].sort(), 'each key on exactly one backend');
    runs.push({ kind, transcript: t, onA, onB });

    // b stopped: nutcracker sees its connection end (failure 1), the next request for b is
    // refused (failure 2 = server_failure_limit): b is ejected and its keys go to a.
    const kb = onB[0]!, ka = onA[0]!;
    await b.stop();
    b = null;
    const replies: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await ask(c, `set ${kb} 0 0 5\r\nmoved\r\n`);
      replies.push(r);
      if (r === 'STORED\r\n') break;
      assert.match(r, /^SERVER_ERROR /, 'a request for the stopped backend fails');
    }
    assert.is(replies.at(-1), 'STORED\r\n', `stored once b is ejected: ${replies}`);
    assert.ok(replies.length >= 2, `at least one failure before the ejection: ${replies}`);
    t.push(`b stopped: set ${kb} -> ${replies.join(' | ')}`);
    assert.equal(await held(pa, [kb]), [kb], 'the ejected backend\'s key now lives on a');
    assert.ok((await ask(c, `get ${ka}\r\n`)).startsWith(`VALUE ${ka} `), 'a still serves its own keys');
    const s = await statsUntil(proxy.statsPort, (x) => x.alpha.server_ejects >= 1, 'server_ejects >= 1');
    assert.ok(s.alpha.b.server_ejected_at > 0, 'b ejected');

    // b back on its port: after server_retry_timeout nutcracker tries it again and its keys return
    b = await backend(kind, pb);
    const deadline = Date.now() + 10_000;
    let back = false;
    while (!back && Date.now() < deadline) {
      await sleep(200);
      const r = await ask(c, `set ${kb} 0 0 4\r\nhome\r\n`);
      back = r === 'STORED\r\n' && (await held(pb, [kb])).length === 1;
    }
    assert.ok(back, 'b serves its keys again after server_retry_timeout');
    assert.is(await ask(c, `get ${kb}\r\n`), `VALUE ${kb} 0 4\r\nhome\r\nEND\r\n`);
    c.close();
  } finally {
    for (const p of [...procs.reverse(), ...(b ? [b] : [])]) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const skipAll = NO_NUTCRACKER;
const main = suite('nutcracker in front of two servers', { skip: skipAll, timeoutMs: 90_000 });
main('two remcached: traffic, one stopped and ejected, restarted and back', () => scenario('remcached'));
main('two memcached 1.6.18: the same', () => scenario('memcached'), { skip: NO_MEMCACHED });
main('the proxy\'s clients see the same from remcached as from memcached', () => {
  const [r, m] = [runs.find((x) => x.kind === 'remcached'), runs.find((x) => x.kind === 'memcached')];
  assert.ok(r && m, 'both runs completed');
  assert.equal(r!.onA, m!.onA, 'the same keys on a');
  assert.equal(r!.onB, m!.onB, 'the same keys on b');
  assert.equal(r!.transcript, m!.transcript);
}, { skip: NO_MEMCACHED });
main.run();
