// `npm run demo [-- options]`: the failure-injection demo. Two copies of one cache-aside HTTP app
// (demo/app.ts), one on remcached, one on Debian's memcached 1.6.18, both under the same
// autocannon load; at --attack-at an attacker commits real parser faults against remcached and
// crashes memcached (restarted by a supervisor with an empty cache, as systemd would). Writes
// report.html (inline SVG, no network) and demo.log (pino JSON lines) and prints the summary.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';
import pino from 'pino';
import autocannon from 'autocannon';
import { ROOT, REMCACHED_MAIN, freePort } from '../test/helpers/server.ts';
import { faultKinds, SAFE_KINDS, PKU_ONLY_KINDS, commitFault, CRASH_INPUT, stats, setMany, countIntact } from './attack.ts';
import { itemValue } from './db.ts';
import { zipf } from './zipf.ts';
import { renderReport, summaryRows, type DemoData, type Side, type Second } from './report.ts';

const HELP = `usage: npm run demo -- [options]
  --duration=S        seconds of load (the whole run)                          [60]
  --attack-at=S       second the attacker starts                               [20]
  --rate=N            offered load, HTTP requests/s to each app (autocannon)   [300]
  --connections=N     autocannon connections per app (users in flight at most) [100]
  --fault-rate=N      parser faults/s committed against remcached              [10]
  --fault-kinds=LIST  fault kinds, cycled (names from native/include/remc_fault_inject.h)
                      [${SAFE_KINDS.join(',')}]
  --crash-every=S     seconds between two crashes of memcached                 [15]
  --crash=MODE        real: the crash input only; sigsegv: kill -SEGV only (a simulation);
                      auto: the crash input, SIGSEGV if memcached survives it  [auto]
  --isolation=MODE    remcached --isolation= (pku, pku-strict, none)  [the server's default]
  --keys=N            items in the database (Zipf-like popularity, s=--zipf)   [20000]
  --zipf=S            Zipf exponent                                            [0.99]
  --writes=F          share of requests that are writes (PUT)                  [0.05]
  --db-latency=MS     database latency per query                               [20]
  --db-pool=N         database connections                                     [3]
  --db-queue=N        queries that may wait for a connection (more: 503)       [64]
  --restart-delay=MS  supervisor's delay before restarting memcached (systemd RestartSec) [100]
  --out=DIR           where report.html and demo.log go        [demo/out/<timestamp>]
  -h, --help`;

function options() {
  const { values: v } = parseArgs({
    options: Object.fromEntries(['duration', 'attack-at', 'rate', 'connections', 'fault-rate', 'fault-kinds', 'crash-every',
      'crash', 'isolation', 'keys', 'zipf', 'writes', 'db-latency', 'db-pool', 'db-queue', 'restart-delay', 'out']
      .map((k) => [k, { type: 'string' as const }]).concat([['help', { type: 'boolean' as const, short: 'h' } as never]])),
    strict: true,
  }) as { values: Record<string, string | undefined> & { help?: boolean } };
  if (v.help) { console.log(HELP); process.exit(0); }
  const num = (k: string, d: number, min = 0) => {
    const n = v[k] === undefined ? d : Number(v[k]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${k} must be a number >= ${min}`);
    return n;
  };
  const o = {
    duration: num('duration', 60, 5), attackAt: num('attack-at', 20, 1), rate: num('rate', 300, 1),
    connections: num('connections', 100, 1), faultRate: num('fault-rate', 10, 0), crashEvery: num('crash-every', 15, 1),
    crash: v.crash ?? 'auto', isolation: v.isolation, keys: num('keys', 20000, 10), zipf: num('zipf', 0.99),
    writes: num('writes', 0.05), dbLatency: num('db-latency', 20), dbPool: num('db-pool', 3, 1), dbQueue: num('db-queue', 64),
    restartDelay: num('restart-delay', 100), out: v.out,
    faultKinds: (v['fault-kinds'] ?? SAFE_KINDS.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
  };
  if (!['auto', 'real', 'sigsegv'].includes(o.crash)) throw new Error('--crash must be auto, real or sigsegv');
  if (o.attackAt >= o.duration) throw new Error('--attack-at must be before the end of --duration');
  const known = faultKinds();
  for (const k of o.faultKinds) if (!known.has(k)) throw new Error(`unknown fault kind ${k} (known: ${[...known.keys()].join(', ')})`);
  return o;
}
type Options = ReturnType<typeof options>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sh = (cmd: string, args: string[]) => { try { return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return null; } };
const pkgVersion = (name: string) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version as string;

/** Wait until `port` accepts connections (bounded). */
async function listening(port: number, proc: ChildProcess, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited at start (${proc.exitCode ?? proc.signalCode})`);
    if (await stats(port).then((s) => s !== null, () => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not start within ${ms / 1000} s`);
}

/** memcached under a supervisor: restarted after `delayMs` whenever it dies, as Restart=always would. */
class Supervisor {
  proc!: ChildProcess;
  restarts = 0;
  stopped = false;
  onExit: (code: number | null, signal: string | null) => void = () => {};
  constructor(readonly cmd: string, readonly args: string[], readonly delayMs: number) {}
  start(): ChildProcess {
    const p = spawn(this.cmd, this.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.resume();
    p.once('exit', (code, signal) => {
      this.onExit(code, signal);
      if (!this.stopped) setTimeout(() => { if (!this.stopped) { this.restarts++; this.start(); } }, this.delayMs);
    });
    this.proc = p;
    return p;
  }
  exited(): Promise<boolean> { // resolves true once the current process has exited
    const p = this.proc;
    return p.exitCode !== null || p.signalCode !== null ? Promise.resolve(true) : new Promise((r) => p.once('exit', () => r(true)));
  }
  async stop(): Promise<void> { this.stopped = true; this.proc.kill('SIGTERM'); await Promise.race([this.exited(), sleep(5000)]); }
}

function startApp(port: number, cachePort: number, o: Options): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'demo', 'app.ts'), `--port=${port}`, `--cache=127.0.0.1:${cachePort}`,
    `--db-latency=${o.dbLatency}`, `--db-pool=${o.dbPool}`, `--db-queue=${o.dbQueue}`], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let err = '';
  p.stderr!.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { p.kill(); reject(new Error(`app did not start: ${err}`)); }, 20_000);
    p.stdout!.once('data', () => { clearTimeout(t); p.stdout!.resume(); resolve(p); });
    p.once('exit', (c) => { clearTimeout(t); reject(new Error(`app exited ${c}: ${err}`)); });
  });
}

async function appMetrics(port: number): Promise<Record<string, number> | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) });
    return await r.json() as Record<string, number>;
  } catch { return null; }
}

async function main(): Promise<void> {
  const o = options();
  const memcachedBin = sh('sh', ['-c', 'command -v memcached']);
  if (!memcachedBin) {
    console.error('demo: memcached not found. The demo runs Debian\'s memcached 1.6.18 beside remcached:\n  apt-get install memcached');
    process.exit(3);
  }
  if (!existsSync(REMCACHED_MAIN)) { console.error('demo: remcached is not built: npm run build && npm run build:native'); process.exit(3); }
  if (o.isolation === 'none' && o.faultKinds.some((k) => PKU_ONLY_KINDS.includes(k))) {
    console.error(`demo: warning: with --isolation=none the kinds ${PKU_ONLY_KINDS.join(', ')} really write root memory or the cache`);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = o.out ?? join(ROOT, 'demo', 'out', stamp);
  mkdirSync(out, { recursive: true });
  const logPath = join(out, 'demo.log');
  const log = pino({ base: { pid: process.pid, hostname: os.hostname() } }, pino.destination({ dest: logPath, sync: true }));
  const kinds = faultKinds();

  // --- servers -----------------------------------------------------------------------------------
  const [rPort, mPort, rApp, mApp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const common = ['-l', '127.0.0.1', '-m', '64', '-t', '2'];
  const remArgs = [REMCACHED_MAIN, '-p', String(rPort), ...common, '--enable-fault-injection', ...(o.isolation ? [`--isolation=${o.isolation}`] : [])];
  const memArgs = ['-p', String(mPort), ...common, '-U', '0', ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : [])];
  const rem = spawn(process.execPath, remArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let remLog = '';
  rem.stderr!.on('data', (d) => { remLog += d; if (remLog.length > 1 << 20) remLog = remLog.slice(-(1 << 19)); });
  const sup = new Supervisor(memcachedBin, memArgs, o.restartDelay);
  sup.start();
  const apps: ChildProcess[] = [];
  const cleanup = async () => {
    for (const a of apps) a.kill('SIGTERM');
    rem.kill('SIGTERM');
    await sup.stop();
  };
  process.once('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  try {
    await listening(rPort, rem, 'remcached');
    await listening(mPort, sup.proc, 'memcached');
    const settings = (await stats(rPort, 'isolation'))!;
    const isolation = settings.isolation ?? '?';
    const remVersion = (await stats(rPort))!.version!;
    const memVersion = (await stats(mPort))!.version!;
    apps.push(await startApp(rApp, rPort, o), await startApp(mApp, mPort, o));
    const versions = {
      remcached: `${remVersion} (remcached ${pkgVersion('../')}, git ${sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) ?? '?'})`,
      memcached: `${sh(memcachedBin, ['-V']) ?? memVersion} (Debian package ${sh('dpkg-query', ['-W', '-f=${Version}', 'memcached']) ?? '?'})`,
      node: process.version, autocannon: pkgVersion('autocannon'), memjs: pkgVersion('memjs'),
      kernel: `${os.type()} ${os.release()}`, cpu: `${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}`,
      pku: /\bpku\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'yes' : 'no',
    };
    log.info({ versions, isolation, isolation_why: settings.isolation_why, options: o }, 'demo start');

    // --- warm caches (the same items in both), plus canaries the app never touches ----------------
    const items: Array<[string, Buffer]> = Array.from({ length: o.keys }, (_, i) => [`item:${i}`, itemValue(i, 0, 512)]);
    const canaries: Array<[string, Buffer]> = Array.from({ length: 1000 }, (_, i) => [`canary:${i}`, Buffer.from(`canary ${i} `.padEnd(64, '#'))]);
    for (const port of [rPort, mPort]) await setMany(port, [...items, ...canaries]);
    log.info({ keys: o.keys, canaries: canaries.length }, 'caches warmed');

    // --- load ------------------------------------------------------------------------------------
    const t0 = Date.now();
    const sec = () => Math.floor((Date.now() - t0) / 1000);
    const N = Math.ceil(o.duration);
    const mk = (): Side => ({ seconds: Array.from({ length: N + 1 }, (): Second => ({ t: 0, ok: 0, errors: 0, lat: [], hits: 0, misses: 0, cacheErrors: 0, dbq: 0, items: null })) });
    const sides = { remcached: mk(), memcached: mk() };
    sides.remcached.seconds.forEach((s, i) => { s.t = i; }); sides.memcached.seconds.forEach((s, i) => { s.t = i; });
    const pick = zipf(o.keys, o.zipf);
    const cannon = (port: number, side: Side) => {
      const inst = autocannon({
        url: `http://127.0.0.1:${port}`, connections: o.connections, overallRate: o.rate, duration: o.duration, timeout: 2,
        requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, method: Math.random() < o.writes ? 'PUT' : 'GET', path: `/item/${pick()}` }) }],
      } as autocannon.Options);
      const at = () => side.seconds[Math.min(N, sec())]!;
      inst.on('response', (_c: unknown, status: number, _b: number, ms: number) => {
        const s = at();
        if (status >= 200 && status < 300) { s.ok++; s.lat.push(ms); } else s.errors++;
      });
      inst.on('reqError', () => { at().errors++; });
      return new Promise<autocannon.Result>((resolve) => inst.on('done', resolve));
    };
    const done = Promise.all([cannon(rApp, sides.remcached), cannon(mApp, sides.memcached)]);
    log.info({ autocannon: { connections: o.connections, overallRate: o.rate, duration: o.duration, timeout: 2 } }, 'load started');

    // --- the attacker ----------------------------------------------------------------------------
    const faults = { sent: 0, closed: 0, other: {} as Record<string, number>, byKind: {} as Record<string, number> };
    const crashes: DemoData['crashes'] = [];
    let attacking = true;
    const remAttack = (async () => {
      await sleep(o.attackAt * 1000 - (Date.now() - t0));
      if (o.faultRate <= 0) return;
      log.warn({ rate: o.faultRate, kinds: o.faultKinds }, 'attack on remcached starts');
      const gap = 1000 / o.faultRate;
      const pending: Promise<void>[] = [];
      for (let i = 0; attacking; i++) {
        const kind = o.faultKinds[i % o.faultKinds.length]!;
        faults.sent++; faults.byKind[kind] = (faults.byKind[kind] ?? 0) + 1;
        const sentAt = Date.now();
        pending.push(commitFault(rPort, kinds.get(kind)!).then((r) => {
          const ms = Date.now() - sentAt;
          if (ms > 300) log.warn({ kind, ms, t: (sentAt - t0) / 1000 }, 'slow fault: connection closed late');
          if (r === 'closed') faults.closed++; else { faults.other[r] = (faults.other[r] ?? 0) + 1; log.error({ kind, result: r }, 'fault not survived'); }
        }));
        const next = t0 + o.attackAt * 1000 + (i + 1) * gap;
        await sleep(Math.max(0, next - Date.now()));
      }
      await Promise.all(pending);
    })();
    sup.onExit = (code, signal) => {
      log.warn({ code, signal, t: (Date.now() - t0) / 1000 }, 'memcached exited');
    };
    const memAttack = (async () => {
      for (let at = o.attackAt; at < o.duration - 1; at += o.crashEvery) {
        await sleep(at * 1000 - (Date.now() - t0));
        if (!attacking) break;
        const t = (Date.now() - t0) / 1000;
        const pid = sup.proc.pid;
        let how: 'real' | 'simulated' = 'simulated';
        if (o.crash !== 'sigsegv') {
          await CRASH_INPUT.send(mPort).catch((e: Error) => log.warn({ err: e.message }, 'crash input could not be sent'));
          if (await Promise.race([sup.exited(), sleep(1000).then(() => false)])) how = 'real';
        }
        if (how === 'simulated' && o.crash !== 'real') sup.proc.kill('SIGSEGV');
        crashes.push({ t, how, pid, input: how === 'real' ? CRASH_INPUT.name : 'kill -SEGV (simulation: no crash input reproduced)' });
        log.warn({ t, how, pid }, `memcached crash (${how})`);
      }
    })();

    // --- sampling, progress ----------------------------------------------------------------------
    const tty = process.stderr.isTTY;
    const prev = new Map<number, Record<string, number>>();
    const sampler = (async () => {
      for (let i = 1; i <= N; i++) {
        await sleep(t0 + i * 1000 - Date.now());
        for (const [app, side, cport] of [[rApp, sides.remcached, rPort], [mApp, sides.memcached, mPort]] as const) {
          const [m, st] = await Promise.all([appMetrics(app), stats(cport)]);
          const s = side.seconds[i - 1]!;
          s.items = st?.curr_items !== undefined ? Number(st.curr_items) : null;
          const p = prev.get(app);
          if (m && p) {
            s.hits = m.hits! - p.hits!; s.misses = m.misses! - p.misses!; s.cacheErrors = m.cacheErrors! - p.cacheErrors!;
            s.dbq = m.dbReads! + m.dbWrites! - p.dbReads! - p.dbWrites!;
          }
          if (m) prev.set(app, m);
        }
        const r = sides.remcached.seconds[i - 1]!; const mm = sides.memcached.seconds[i - 1]!;
        const hr = (s: Second) => { const n = s.hits + s.misses + s.cacheErrors; return n ? `${Math.round(100 * s.hits / n)}%` : '—'; };
        const line = `[${String(i).padStart(3)}/${N} s] remcached ${r.ok} req/s hit ${hr(r)} err ${r.errors} | memcached ${mm.ok} req/s hit ${hr(mm)} err ${mm.errors}`
          + ` | faults ${faults.sent}, crashes ${crashes.length}`;
        log.info({ t: i, remcached: { ok: r.ok, errors: r.errors, hits: r.hits, misses: r.misses, dbq: r.dbq, items: r.items },
          memcached: { ok: mm.ok, errors: mm.errors, hits: mm.hits, misses: mm.misses, dbq: mm.dbq, items: mm.items } }, 'second');
        if (tty) process.stderr.write(`\r${line}\x1b[K`); else if (i % 5 === 0 || i === N) process.stderr.write(line + '\n');
      }
      if (tty) process.stderr.write('\n');
    })();

    const results = await Promise.race([done, sleep((o.duration + 30) * 1000).then(() => { throw new Error('autocannon did not finish in time'); })]);
    attacking = false;
    await Promise.all([remAttack, memAttack, sampler]);
    // The supervisor may be between a crash and a restart: give it a moment (bounded).
    await listening(mPort, sup.proc, 'memcached', 5000).catch(() => {});

    // --- after the run ---------------------------------------------------------------------------
    const remGeneral = await stats(rPort);
    const remOwn = await stats(rPort, 'isolation'); // parser_faults: remcached's own group
    const remStats = remGeneral && remOwn ? { ...remGeneral, ...remOwn } : null;
    const remAlive = rem.exitCode === null && rem.signalCode === null && remStats !== null && Number(remStats.pid) === rem.pid;
    const intact = { remcached: await countIntact(rPort, canaries), memcached: await countIntact(mPort, canaries) };
    const data: DemoData = {
      date: new Date().toISOString(), options: o, isolation, isolationWhy: settings.isolation_why ?? '', versions,
      commands: {
        demo: `npm run demo -- ${process.argv.slice(2).join(' ')}`.trim(),
        remcached: `node ${relative(ROOT, REMCACHED_MAIN)} ${remArgs.slice(1).join(' ')}`,
        memcached: `${memcachedBin} ${memArgs.join(' ')}  (restarted ${o.restartDelay} ms after each exit)`,
        apps: `node --import tsx demo/app.ts --port=P --cache=127.0.0.1:PORT --db-latency=${o.dbLatency} --db-pool=${o.dbPool} --db-queue=${o.dbQueue}`,
        autocannon: `autocannon({ connections: ${o.connections}, overallRate: ${o.rate}, duration: ${o.duration}, timeout: 2 }) per app; GET /item/<zipf(${o.keys}, ${o.zipf})>, ${o.writes * 100}% PUT`,
        attacker: `remcached: one connection per fault, "debug_fault <id>", ${o.faultRate}/s from ${o.attackAt} s, kinds ${o.faultKinds.join(',')}; memcached: ${o.crash === 'sigsegv' ? 'kill -SEGV' : CRASH_INPUT.name}, every ${o.crashEvery} s from ${o.attackAt} s`,
      },
      sides, crashes,
      faults: { ...faults, serverCounted: remStats ? Number(remStats.parser_faults) : null, remcachedAlive: remAlive, remcachedPid: rem.pid! },
      canaries: { total: canaries.length, intact },
      memcachedRestarts: sup.restarts,
      autocannon: { remcached: pickResult(results[0]), memcached: pickResult(results[1]) },
    };
    const html = renderReport(data);
    const reportPath = join(out, 'report.html');
    await writeFile(reportPath, html);
    await writeFile(join(out, 'data.json'), JSON.stringify(data) + '\n');
    await writeFile(join(out, 'remcached.log'), remLog);
    const rows = summaryRows(data);
    log.info({ summary: rows }, 'demo done');
    console.log(`\nremcached --isolation=${isolation}${data.isolationWhy && data.isolationWhy !== '-' ? ` (${data.isolationWhy.replace(/_/g, ' ')})` : ''}; memcached crashes: ${crashes.map((c) => c.how).join(', ') || 'none'}`);
    const w = Math.max(...rows.map((r) => r[0].length)) + 2;
    console.log(''.padEnd(w) + 'remcached'.padStart(24) + 'memcached'.padStart(24));
    for (const [k, r, m] of rows) console.log(k.padEnd(w) + r.padStart(24) + m.padStart(24));
    console.log(`\nreport: ${relative(process.cwd(), reportPath)}\nlog:    ${relative(process.cwd(), logPath)}`);
  } finally {
    await cleanup();
  }
}

function pickResult(r: autocannon.Result) {
  return { requests: r.requests.total, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, p50: r.latency.p50, p99: r.latency.p99 };
}

main().then(() => process.exit(0), (e) => { console.error(`demo: ${(e as Error).stack ?? e}`); process.exit(1); });
