// Signals, remcached and Debian's memcached 1.6.18 side by side (issue 9 item 4): SIGHUP keeps
// serving (and re-reads the -Y file), SIGUSR1 stops gracefully and never opens Node's inspector,
// SIGUSR2 ends both processes (memcached has no handler for it), SIGTERM and SIGINT exit 0.
// The native addon blocks asynchronous signals on the parser's thread, so each one is sent for
// real and its effect observed.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conn, REMCACHED_MAIN, freePort, type Server } from '../helpers/server.ts';
import { TARGETS, Victim, alive, fds, fdsBackTo, lost, ms, seed, sleep } from './hygiene-lib.ts';

function exited(srv: Server, within: number): Promise<{ code: number | null; signal: string | null; ms: number } | null> {
  const t0 = Date.now();
  const p = srv.proc;
  if (!alive(srv)) return Promise.resolve({ code: p.exitCode, signal: p.signalCode, ms: 0 });
  return Promise.race([
    new Promise<{ code: number | null; signal: string | null; ms: number }>((r) => p.once('exit', (code, signal) => r({ code, signal, ms: Date.now() - t0 }))),
    sleep(within).then(() => null),
  ]);
}

/** LISTEN sockets on TCP port `port` (any process), from /proc/net/tcp{,6}. */
function listening(port: number): number {
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
      const p = line.trim().split(/\s+/);
      if (p.length > 3 && p[3] === '0A' && Number.parseInt(p[1]!.split(':')[1]!, 16) === port) n++;
    }
  }
  return n;
}

test('SIGHUP without -Y: both keep serving, nothing lost', async () => {
  for (const t of TARGETS) {
    const srv = await t.start([]);
    try {
      const pid = srv.proc.pid!;
      await seed(srv.port);
      const fd0 = fds(pid);
      const victim = await Victim.start(srv.port);
      for (let i = 0; i < 5; i++) { process.kill(pid, 'SIGHUP'); await sleep(100); }
      await sleep(1500); // memcached acts on its next clock tick
      const v = await victim.stop();
      const missing = await lost(srv.port);
      const fd1 = await fdsBackTo(pid, fd0);
      console.log(`  ${t.name}: 5 x SIGHUP: ${alive(srv) ? 'serving' : `gone (${srv.proc.exitCode ?? srv.proc.signalCode})`}; ` +
        `victim p99 ${ms(v.p99)}, errors ${v.errors.length}; fds ${fd0} -> ${fd1}; keys lost ${missing}`);
      assert.ok(alive(srv), `${t.name} died on SIGHUP`);
      assert.equal(v.errors, []);
      assert.is(missing, 0);
      assert.ok(fd1 <= fd0);
    } finally {
      await srv.stop();
    }
  }
});

test('SIGHUP with -Y: both re-read the auth file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remc-hup-'));
  chmodSync(dir, 0o755); // memcached drops to nobody before it re-reads the file
  const file = join(dir, 'auth');
  try {
    for (const t of TARGETS) {
      writeFileSync(file, 'alice:one\n', { mode: 0o644 });
      const srv = await t.start(['-Y', file]);
      try {
        const auth = async (user: string, pass: string) => {
          const c = await Conn.open(srv.port);
          const tok = `${user} ${pass}`;
          c.send(`set x 0 0 ${tok.length}\r\n${tok}\r\n`);
          const r = (await c.untilEndsWith('\r\n')).toString('latin1').trim();
          c.close();
          return r;
        };
        const before = [await auth('alice', 'one'), await auth('bob', 'two')];
        writeFileSync(file, 'bob:two\n');
        process.kill(srv.proc.pid!, 'SIGHUP');
        await sleep(1500);
        const after = [await auth('alice', 'one'), await auth('bob', 'two')];
        console.log(`  ${t.name}: before SIGHUP alice/bob ${before.join(' / ')}; after ${after.join(' / ')}; ${alive(srv) ? 'serving' : 'gone'}`);
        assert.ok(alive(srv));
        assert.equal(before, ['STORED', 'CLIENT_ERROR authentication failure']);
        assert.equal(after, ['CLIENT_ERROR authentication failure', 'STORED']);
      } finally {
        await srv.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGUSR1: graceful stop, exit 0, "Gracefully stopping"; no inspector port, no "Debugger listening"', async () => {
  for (const t of TARGETS) {
    const srv = await t.start([]);
    await seed(srv.port);
    const victim = await Victim.start(srv.port);
    // a half-sent value keeps remcached's graceful stop waiting (up to its grace period), so the
    // process is alive for a while after the signal: long enough to see an inspector open
    const half = await Conn.open(srv.port);
    half.send('set half 0 0 10\r\nabc');
    await sleep(200);
    const listen0 = listening(9229);
    const done = exited(srv, 5000);
    process.kill(srv.proc.pid!, 'SIGUSR1');
    let listenMax = 0;
    const poll = (async () => { while (alive(srv)) { listenMax = Math.max(listenMax, listening(9229)); await sleep(20); } })();
    const r = await done;
    await poll;
    const v = await victim.stop();
    half.close();
    const err = srv.stderr();
    console.log(`  ${t.name}: SIGUSR1 -> ${r ? `exit ${r.code ?? r.signal} after ${r.ms} ms` : 'still running after 5 s'}; ` +
      `"Gracefully stopping" ${/Gracefully stopping/.test(err) ? 'logged' : 'not logged'}; ` +
      `"Debugger listening" ${/Debugger listening/.test(err) ? 'PRINTED' : 'no'}; :9229 listeners ${listen0} before, ${listenMax} at most while stopping; ` +
      `victim ${v.n} requests, p99 ${ms(v.p99)}`);
    if (!r) await srv.stop();
    assert.ok(r, `${t.name} still running 5 s after SIGUSR1`);
    assert.is(r!.code, 0);
    assert.ok(/Gracefully stopping/.test(err));
    assert.not.ok(/Debugger listening/.test(err), 'inspector opened');
    assert.ok(listenMax <= listen0, 'a listener appeared on 9229');
  }
});

test('remcached: SIGUSR1 at any moment of start-up stops it; an inspector it may open first is closed at once', async () => {
  const results: string[] = [];
  for (const delay of [0, 10, 20, 40, 60, 80, 120, 200, 400]) {
    const port = await freePort();
    const proc = spawn(process.execPath, [REMCACHED_MAIN, '-p', String(port), '-l', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    let running = true;
    const exit = new Promise<string>((r) => proc.once('exit', (code, signal) => { running = false; r(String(code ?? signal)); }));
    await sleep(delay);
    proc.kill('SIGUSR1');
    // how long anything listens on 9229 (polled every 2 ms until the process is gone)
    let openMs = 0;
    const t0 = Date.now();
    while (running && Date.now() - t0 < 5000) {
      if (listening(9229) > 0) openMs += 2;
      await sleep(2);
    }
    const how = await Promise.race([exit, sleep(100).then(() => 'running')]);
    if (how === 'running') proc.kill('SIGKILL');
    const opened = /Debugger listening/.test(err);
    results.push(`${delay} ms: exit ${how}${opened ? `, inspector opened and closed (9229 seen for ~${openMs} ms)` : ''}`);
    assert.is.not(how, 'running', `still running after SIGUSR1 at ${delay} ms`);
    assert.ok(how === '0' || how === 'SIGUSR1', `exit ${how} after SIGUSR1 at ${delay} ms; stderr: ${err.slice(-800)}`);
    if (opened) assert.ok(/opened the Node inspector: closed/.test(err), `inspector left open: ${err}`);
  }
  // Before Node has installed anything, SIGUSR1's default action ends the process (memcached
  // too, before its signal() calls).
  console.log(`  SIGUSR1 sent at ${results.join('; ')}`);
});

for (const sig of ['SIGUSR2', 'SIGTERM', 'SIGINT'] as const) {
  test(`${sig}: what memcached 1.6.18 does`, async () => {
    const outcome = new Map<string, string>();
    for (const t of TARGETS) {
      const srv = await t.start([]);
      await seed(srv.port);
      const victim = await Victim.start(srv.port);
      await sleep(200);
      const done = exited(srv, 5000);
      process.kill(srv.proc.pid!, sig);
      const r = await done;
      const v = await victim.stop();
      if (!r) await srv.stop();
      outcome.set(t.name, r ? `exit ${r.code ?? r.signal}` : 'still running');
      console.log(`  ${t.name}: ${sig} -> ${outcome.get(t.name)}${r ? ` after ${r.ms} ms` : ''}; victim ${v.n} requests, p99 ${ms(v.p99)}`);
    }
    assert.is(outcome.get('remcached'), outcome.get('memcached'));
    assert.is(outcome.get('remcached'), sig === 'SIGUSR2' ? 'exit SIGUSR2' : 'exit 0');
  });
}

test.run();
