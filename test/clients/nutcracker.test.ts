// twemproxy (Debian's `nutcracker` 0.5.0) in front of two backends: traffic through it spread over
// both by ketama, one backend stopped and ejected, restarted and back. Run against two remcached
// and against two memcached 1.6.18, and the two runs compared: what a client of the proxy sees
// must be the same. Then what a parser fault does behind the proxy (README "Behind proxies"):
// nutcracker does not forward `debug_fault` (it closes the client), so to put a real fault on its
// shared upstream connection a byte relay between nutcracker and one remcached turns one request
// nutcracker forwards into `debug_fault 7`; what nutcracker then does is shown for
// server_failure_limit 1 and 2 and auto_eject_hosts false.
import { suite, needs, hasCommand } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conn, freePort, launch, waitListening, NO_MEMCACHED, REMCACHED_MAIN, type Server } from '../helpers/server.ts';

// Debian installs it in /usr/sbin, which a non-root PATH may lack
const NUTCRACKER = hasCommand('nutcracker') ? 'nutcracker' : existsSync('/usr/sbin/nutcracker') ? '/usr/sbin/nutcracker' : null;
const NO_NUTCRACKER = NUTCRACKER ? null : needs('nutcracker', 'nutcracker');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- processes -------------------------------------------------------------------------------

type Proc = Server;

/** A process that listens on `port`; stop() is SIGTERM, SIGKILL after 5 s, bounded. */
const run = (cmd: string, args: string[], port: number): Promise<Proc> => launch(cmd, args, port);

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
  // md5, not the usual fnv1a_64: nutcracker's fnv1a_64 put all 60 `key:N` on one of two servers.
  const yml = pools.map((p) => [
    `${p.name}:`,
    `  listen: 127.0.0.1:${p.port}`,
    '  hash: md5',
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
  const p = await run(NUTCRACKER!, ['-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', '-i', '100', '-o', join(dir, 'nutcracker.log')], pools[0]!.port);
  for (const pool of pools.slice(1)) await waitListening(pool.port, p.proc, p.output);
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
async function once(port: number, req: string, retrieval?: boolean): Promise<string> {
  const c = await Conn.open(port);
  try { return await ask(c, req, retrieval); } finally { c.close(); }
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

// ---- a parser fault behind the proxy -----------------------------------------------------------

/**
 * A byte relay on its own port to `to`. It forwards both ways unchanged, except that in the
 * proxy->server direction it replaces rule.from with rule.into: nutcracker forwards only the
 * commands it parses, so this is how a real `debug_fault` reaches remcached on nutcracker's own
 * upstream connection. With rule.holdMs it holds a replacement back that long, and sends what
 * nutcracker forwarded meanwhile in the same write. When either side closes, the other is closed.
 */
async function relay(to: number): Promise<{ port: number; rule: { from: string; into: string; holdMs: number }; close(): Promise<void> }> {
  const rule = { from: '\0', into: '\0', holdMs: 0 };
  const socks = new Set<net.Socket>();
  const srv = net.createServer((down) => {
    const up = net.connect(to, '127.0.0.1');
    socks.add(down); socks.add(up);
    let carry = '';
    let held: Buffer[] | null = null; // with rule.holdMs: what follows a replacement, sent with it
    const forward = (b: Buffer) => { if (held) held.push(b); else up.write(b); };
    down.on('data', (d: Buffer) => {
      let s = (carry + d.toString('latin1')).split(rule.from).join(rule.into);
      // hold back a tail that may be the start of rule.from split across two reads
      let keep = 0;
      for (let n = Math.min(rule.from.length - 1, s.length); n > 0; n--) if (rule.from.startsWith(s.slice(-n))) { keep = n; break; }
      carry = s.slice(s.length - keep);
      s = s.slice(0, s.length - keep);
      if (!s) return;
      const b = Buffer.from(s, 'latin1');
      if (rule.holdMs && !held && s.includes(rule.into)) {
        held = [b];
        setTimeout(() => { const all = Buffer.concat(held!); held = null; up.write(all); }, rule.holdMs);
      } else forward(b);
    });
    up.on('data', (d: Buffer) => down.write(d));
    const end = () => { down.destroy(); up.destroy(); socks.delete(down); socks.delete(up); };
    for (const s of [down, up]) { s.on('close', end); s.on('error', end); }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return {
    port, rule,
    close: () => new Promise<void>((resolve) => { for (const s of socks) s.destroy(); srv.close(() => resolve()); }),
  };
}

/** remcached's own stats (`stats isolation`), asked directly. */
async function isolationStats(port: number): Promise<Record<string, string>> {
  const r = await once(port, 'stats isolation\r\n', true);
  return Object.fromEntries([...r.matchAll(/^STAT (\S+) (.*)\r$/gm)].map((m) => [m[1]!, m[2]!]));
}

const faults = suite('a parser fault behind nutcracker', { skip: NO_NUTCRACKER, timeoutMs: 60_000 });
let fdir = '';
let fA: Proc, fB: Proc, fProxy: Proc & { statsPort: number };
let fRelay: Awaited<ReturnType<typeof relay>>;
const fPools: Record<string, Pool> = {};
let trigger = ''; // a request for a key nutcracker routes to "a"; the relay turns it into debug_fault 7
faults.before(async () => {
  fdir = mkdtempSync(join(tmpdir(), 'remc-nutcracker-fault-'));
  fA = await backend('remcached', await freePort(), ['--enable-fault-injection']);
  fB = await backend('remcached', await freePort(), ['--enable-fault-injection']);
  fRelay = await relay(fA.port);
  // three pools over the same two servers, each with its own upstream connections and counts
  const servers: Array<[string, number]> = [['a', fRelay.port], ['b', fB.port]];
  fPools.eager = { name: 'eager', port: await freePort(), eject: true, limit: 1, retryMs: 1500, servers };
  fPools.patient = { name: 'patient', port: await freePort(), eject: true, limit: 2, retryMs: 1500, servers };
  fPools.fixed = { name: 'fixed', port: await freePort(), eject: false, limit: 2, retryMs: 1500, servers };
  fProxy = await nutcracker(Object.values(fPools), fdir);
  for (let i = 0; !trigger; i++) {
    assert.ok(i < 100, 'a key routed to a');
    assert.is(await once(fPools.fixed!.port, `set trigger:${i} 0 0 1\r\nt\r\n`), 'STORED\r\n');
    if ((await held(fA.port, [`trigger:${i}`])).length) trigger = `get trigger:${i}\r\n`;
  }
  fRelay.rule.from = trigger;
  fRelay.rule.into = 'debug_fault 7\r\n';
});
faults.after(async () => {
  // each stopped whatever happens to the others
  const r = await Promise.allSettled([fProxy?.stop(), fRelay?.close(), fA?.stop(), fB?.stop()]);
  if (fdir) rmSync(fdir, { recursive: true, force: true });
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

faults('debug_fault sent to nutcracker is not forwarded: nutcracker closes that client', async () => {
  const c = await Conn.open(fPools.eager!.port);
  c.send('debug_fault 7\r\n');
  await c.closedWithin(5000);
  assert.is(c.take().length, 0, 'no reply before the close');
  await statsUntil(fProxy.statsPort, (s) => s.eager.client_err >= 1, 'eager.client_err >= 1');
  for (const p of [fA.port, fB.port]) assert.is((await isolationStats(p)).parser_faults, '0', 'no backend saw it');
  assert.is(await once(fPools.eager!.port, 'set after 0 0 1\r\nx\r\n'), 'STORED\r\n', 'the proxy serves other clients');
});

const main = suite('nutcracker in front of two servers', { skip: NO_NUTCRACKER, timeoutMs: 90_000 });
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

/** The trigger through `pool`, on a fresh client: nutcracker's reply, and what remcached counted. */
async function fault(pool: string): Promise<string> {
  const before = Number((await isolationStats(fA.port)).parser_faults_segv);
  const r = await once(fPools[pool]!.port, trigger);
  // the proxy may hear of the close before the worker that rewound has counted it (-t N)
  let now = before;
  for (let t = 0; t < 40 && now === before; t++) {
    now = Number((await isolationStats(fA.port)).parser_faults_segv);
    if (now === before) await new Promise((res) => setTimeout(res, 50));
  }
  assert.is(now, before + 1, 'remcached rewound one NULL read');
  return r;
}

/** A key of `pool` that nutcracker routes to a (while a is in the pool), set to `value` there. */
async function keyOnA(pool: string, value: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const k = `${pool}:${i}`;
    assert.is(await once(fPools[pool]!.port, `set ${k} 0 0 ${value.length}\r\n${value}\r\n`), 'STORED\r\n');
    if ((await held(fA.port, [k])).length) return k;
  }
  throw new Error('no key routed to a');
}

const ejects = async (pool: string) => (await proxyStats(fProxy.statsPort))[pool].server_ejects as number;

faults('every request in flight on the faulted upstream connection fails with SERVER_ERROR; the cache and the process stay', async () => {
  const k = await keyOnA('fixed', 'kept');
  const pid = fA.proc.pid;
  const c = await Conn.open(fPools.fixed!.port);
  // one client's pipeline: nutcracker forwards the three to a in one write, remcached parses them
  // in one read event, the fault rewinds that event: none of the three is executed or answered
  c.send(`set ${k} 0 0 3\r\nnew\r\n${trigger}get ${k}\r\n`);
  const r = await c.until((b) => (b.toString().match(/\r\n/g) ?? []).length >= 3);
  c.close();
  assert.is(fA.proc.exitCode, null, 'remcached still runs');
  assert.is(fA.proc.pid, pid);
  // (had the set reached remcached in a read event of its own, it would have been executed and
  // answered: never a wrong answer, never half of an event)
  const value = r.toString() === 'STORED\r\n' + 'SERVER_ERROR unknown\r\n'.repeat(2) ? 'new' : 'kept';
  if (value === 'kept') assert.is(r.toString(), 'SERVER_ERROR unknown\r\n'.repeat(3));
  const hit = `VALUE ${k} 0 ${value.length}\r\n${value}\r\nEND\r\n`;
  assert.is(await once(fA.port, `get ${k}\r\n`), hit, 'the cache is intact');
  assert.is(await once(fPools.fixed!.port, `get ${k}\r\n`), hit, 'the next request reconnects and is served');
});

faults('another client\'s request on the same upstream connection fails with it, not executed', async () => {
  const k = await keyOnA('fixed', 'before');
  const x = await Conn.open(fPools.fixed!.port), y = await Conn.open(fPools.fixed!.port);
  fRelay.rule.holdMs = 300;
  try {
    x.send(trigger);
    await sleep(50); // y's set reaches nutcracker while x's request is in flight on a's connection
    y.send(`set ${k} 0 0 5\r\nafter\r\n`);
    assert.is((await x.until((b) => b.includes('\r\n'))).toString(), 'SERVER_ERROR unknown\r\n');
    assert.is((await y.until((b) => b.includes('\r\n'))).toString(), 'SERVER_ERROR unknown\r\n');
  } finally { fRelay.rule.holdMs = 0; x.close(); y.close(); }
  assert.is(await once(fA.port, `get ${k}\r\n`), `VALUE ${k} 0 6\r\nbefore\r\nEND\r\n`, 'y\'s set was not executed');
});

faults('server_failure_limit 1: one fault ejects a; its keys move to b, and when a returns it serves its old values', async () => {
  const k = await keyOnA('eager', 'old');
  assert.is(await fault('eager'), 'SERVER_ERROR unknown\r\n');
  await statsUntil(fProxy.statsPort, (s) => s.eager.server_ejects === 1, 'eager.server_ejects 1');
  // while a is out, its keys are b's: a write lands on b, a keeps the old value (it did not crash)
  assert.is(await once(fPools.eager!.port, `set ${k} 0 0 3\r\nnew\r\n`), 'STORED\r\n');
  assert.equal(await held(fB.port, [k]), [k], 'the write went to b');
  assert.is(await once(fA.port, `get ${k}\r\n`), `VALUE ${k} 0 3\r\nold\r\nEND\r\n`);
  // after server_retry_timeout a is back in the pool and reads return what a kept: stale
  const deadline = Date.now() + 10_000;
  let r = '';
  while (Date.now() < deadline && !r.includes('old')) { await sleep(200); r = await once(fPools.eager!.port, `get ${k}\r\n`); }
  assert.is(r, `VALUE ${k} 0 3\r\nold\r\nEND\r\n`, 'a back: the value written during the ejection is not seen');
});

faults('server_failure_limit 2: one fault is not an ejection (a reply resets the count); two in a row are', async () => {
  const k = await keyOnA('patient', 'old');
  assert.is(await fault('patient'), 'SERVER_ERROR unknown\r\n');
  assert.is(await once(fPools.patient!.port, `set ${k} 0 0 3\r\nnew\r\n`), 'STORED\r\n');
  assert.is(await once(fA.port, `get ${k}\r\n`), `VALUE ${k} 0 3\r\nnew\r\nEND\r\n`, 'still on a');
  assert.is(await fault('patient'), 'SERVER_ERROR unknown\r\n');
  assert.is(await once(fPools.patient!.port, `get ${k}\r\n`), `VALUE ${k} 0 3\r\nnew\r\nEND\r\n`);
  await sleep(300); // stats are aggregated every 100 ms
  assert.is(await ejects('patient'), 0, 'faults separated by a served request never eject');
  // two faults with no reply from a between them reach the limit
  assert.is(await fault('patient'), 'SERVER_ERROR unknown\r\n');
  assert.is(await fault('patient'), 'SERVER_ERROR unknown\r\n');
  await statsUntil(fProxy.statsPort, (s) => s.patient.server_ejects === 1, 'patient.server_ejects 1');
});

faults('auto_eject_hosts false: faults never eject; each costs only the requests in flight', async () => {
  const k = await keyOnA('fixed', 'v');
  for (let i = 0; i < 3; i++) assert.is(await fault('fixed'), 'SERVER_ERROR unknown\r\n');
  assert.is(await once(fPools.fixed!.port, `get ${k}\r\n`), `VALUE ${k} 0 1\r\nv\r\nEND\r\n`, 'a still serves its keys');
  await sleep(300);
  assert.is(await ejects('fixed'), 0);
});
faults.run();
