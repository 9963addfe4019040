// `npm run bench -- --faults=0,100,1000`: benign throughput while an attacker commits N parser
// faults per second, in the same run. One remcached (--enable-fault-injection) serves memaslap's
// benign clients; beside it this process opens one connection per fault and sends
// `debug_fault <id>` (bench/attacker.c, a separate process; or --attacker=node: this process).
// Reported per N: memaslap ops/s (median over rounds) and the fraction of the N=0 figure kept,
// benign errors (memaslap's wrong values and connection failures), faults committed and counted
// by the server, where the CPU went (server, attacker, memaslap), and at the end the keys lost
// out of 10,000 written before.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { commitFault, faultKinds, setMany, countIntact, stats } from '../../demo/attack.ts';
import { ROOT, startMemcached, startRemcached, type Server } from '../../test/helpers/server.ts';
import { runMemaslap, type MemaslapResult } from './memaslap.ts';
import { processCpuSeconds, reapedChildrenCpuSeconds, allProcessesCpu, otherCpu } from './proc.ts';

export interface ResilienceOptions {
  faults: number[]; kinds: string[]; duration: number; rounds: number; concurrency: number; threads: number;
  memory: number; verify: number; isolation?: string; remcachedArgs: string[]; memaslapArgs: string[];
  /** c: bench/attacker.c in its own process (default); node: commitFault() in this process */
  attacker: 'c' | 'node';
  /** also, for each N > 0, N connections/s sending `version` (the same churn without faults; c
   *  only), against remcached and against memcached 1.6.18 (what that churn costs memcached) */
  control: boolean;
}

/** Which server a run measured: remcached (faults or the control) or memcached (the control). */
export type ResilienceServer = 'remcached' | 'memcached';

export interface ResilienceRun {
  server: ResilienceServer; faultsPerSecond: number; round: number; memaslap: MemaslapResult;
  /** the control: connections sending `version` instead of a fault (committed = answered) */
  control: boolean;
  /** faults committed (connection closed by the server after the rewind) / attempted, and per second achieved */
  committed: number; attempted: number; achievedPerSecond: number; notSurvived: Record<string, number>;
  /** the server's parser_faults delta over the run */
  serverFaults: number | null;
  serverCpuSeconds: number; attackerCpuSeconds: number; memaslapCpuSeconds: number; otherCores: number;
  /** wall time from memaslap's start to its end (the attack's span): the CPU figures' denominator */
  seconds: number;
}

interface AttackResult { attempted: number; committed: number; notSurvived: Record<string, number>; cpuSeconds: number }
interface Attack { done: Promise<AttackResult>; stop(): void }

const ATTACKER_SRC = join(ROOT, 'bench', 'attacker.c');
const ATTACKER_BIN = join(ROOT, 'build', 'bench', 'attacker');

/** build/bench/attacker from bench/attacker.c (cc), when missing or older than its source. */
export function buildAttacker(): string {
  if (!existsSync(ATTACKER_BIN) || statSync(ATTACKER_BIN).mtimeMs < statSync(ATTACKER_SRC).mtimeMs) {
    mkdirSync(join(ATTACKER_BIN, '..'), { recursive: true });
    execFileSync('cc', ['-O2', '-o', ATTACKER_BIN, ATTACKER_SRC], { stdio: 'inherit' });
  }
  return ATTACKER_BIN;
}

/** The C attacker: its own process, stopped with SIGTERM; reports its endings and getrusage CPU. */
function attackC(port: number, perSecond: number, ids: number[], control: boolean): Attack {
  if (perSecond <= 0) return { done: Promise.resolve({ attempted: 0, committed: 0, notSurvived: {}, cpuSeconds: 0 }), stop() {} };
  const p = spawn(ATTACKER_BIN, [String(port), String(perSecond), control ? 'version' : ids.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<AttackResult>((resolve, reject) => {
    p.once('error', reject);
    p.once('close', (code) => {
      let r: Record<string, number>;
      try { r = JSON.parse(out) as Record<string, number>; } catch { reject(new Error(`attacker exited ${code}: ${out.slice(0, 300)}`)); return; }
      const notSurvived: Record<string, number> = {};
      for (const k of [control ? 'closed' : 'reply', 'refused', 'timeout', 'other']) if (r[k]) notSurvived[k] = r[k]!;
      resolve({ attempted: r.attempted!, committed: control ? r.reply! : r.closed!, notSurvived, cpuSeconds: r.cpu_seconds! });
    });
  });
  // bounded: SIGKILL if it has not finished 5 s after SIGTERM (it waits 3 s at most for its connections)
  return { done, stop() { p.kill('SIGTERM'); setTimeout(() => p.kill('SIGKILL'), 5000).unref(); } };
}

/** The attacker in this process (--attacker=node): N faults/s, one connection each, at most 256
 *  in flight (a real attacker is not slower). Its CPU is this process's. */
function attackNode(port: number, perSecond: number, ids: number[]): Attack {
  const res: AttackResult = { attempted: 0, committed: 0, notSurvived: {}, cpuSeconds: 0 };
  let stopped = false;
  const stop = () => stopped;
  const a0 = process.cpuUsage();
  const done = (async () => {
    if (perSecond <= 0) return res;
    const t0 = Date.now(); const inFlight = new Set<Promise<void>>();
    for (let i = 0; !stop(); i++) {
      const due = t0 + (i * 1000) / perSecond;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      if (stop()) break;
      while (inFlight.size >= 256) await Promise.race(inFlight);
      res.attempted++;
      const p: Promise<void> = commitFault(port, ids[i % ids.length]!).then((r) => {
        if (r === 'closed') res.committed++; else res.notSurvived[r] = (res.notSurvived[r] ?? 0) + 1;
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    await Promise.all(inFlight);
    const a = process.cpuUsage(a0);
    res.cpuSeconds = (a.user + a.system) / 1e6;
    return res;
  })();
  return { done, stop() { stopped = true; } };
}

export async function resilience(o: ResilienceOptions, log: (s: string) => void) {
  const known = faultKinds();
  const ids = o.kinds.map((k) => { const id = known.get(k); if (!id) throw new Error(`unknown fault kind ${k}`); return id; });
  if (o.attacker === 'c') buildAttacker();
  else if (o.control) throw new Error('the control (version connections) needs --attacker=c');
  // The control also runs against memcached: its N = 0 baseline and the same version churn,
  // so the fraction memcached keeps under that churn stands beside remcached's.
  const experiments: Array<{ server: ResilienceServer; n: number; control: boolean }> = [
    ...o.faults.map((n) => ({ server: 'remcached' as const, n, control: false })),
    ...(o.control ? o.faults.filter((n) => n > 0).map((n) => ({ server: 'remcached' as const, n, control: true })) : []),
    ...(o.control ? o.faults.map((n) => ({ server: 'memcached' as const, n, control: n > 0 })) : []),
  ];
  // memaslap's sets (1 KiB values, new keys every run) add up over the runs: about 11 MB per
  // second of run here (9 runs x 10 s fit in 1024 MB, 15 did not). With less memory they evict
  // the canaries and "keys lost" would measure the LRU, not the faults. The store takes what
  // it uses, not what -m allows.
  const memory = Math.max(o.memory, 1024, 256 + 12 * experiments.length * o.rounds * o.duration);
  const args = ['-m', String(memory), '-t', '1', '--enable-fault-injection', ...o.remcachedArgs, ...(o.isolation ? [`--isolation=${o.isolation}`] : [])];
  const srv: Server = await startRemcached(args);
  const mc: Server | null = o.control ? await startMemcached(['-m', String(memory)]).catch(async (e) => { await srv.stop(); throw e; }) : null;
  const runs: ResilienceRun[] = [];
  try {
    const settings = await stats(srv.port, 'isolation');
    const isolation = settings?.isolation ?? '?';
    log(`remcached (pid ${srv.proc.pid}, --isolation=${isolation}${settings?.isolation_why && settings.isolation_why !== '-' ? `: ${settings.isolation_why.replace(/_/g, ' ')}` : ''}) ${args.join(' ')}`);
    log(`attacker (${o.attacker === 'c' ? 'bench/attacker.c, its own process' : 'node, in this process'}): one connection per fault, kinds ${o.kinds.join(',')}; `
      + `benign: memaslap ${o.concurrency} connections, ${o.threads} threads, ${o.duration} s`);
    // Keys written before any attack and never touched by memaslap (its keys are random 64-byte
    // strings); read back at the end: a fault that corrupted the store shows here.
    const canaries = Array.from({ length: 10_000 }, (_, i): [string, Buffer] => [`resilience:canary:${i}`, Buffer.from(`value ${i} `.padEnd(100, '*'))]);
    await setMany(srv.port, canaries);
    for (let round = 0; round < o.rounds; round++) {
      const order = experiments.map((_, i) => experiments[(i + round) % experiments.length]!);
      for (const { server, n, control } of order) {
        const target = server === 'memcached' ? mc! : srv;
        // stats may time out right after a heavy run (the server still draining): one retry.
        const before = server === 'memcached' ? null : (await stats(srv.port, 'isolation')) ?? (await stats(srv.port, 'isolation'));
        const p0 = allProcessesCpu(); const s0 = processCpuSeconds(target.proc.pid!); const c0 = reapedChildrenCpuSeconds(); const t0 = Date.now();
        const atk = o.attacker === 'c' ? attackC(target.port, n, ids, control) : attackNode(target.port, n, ids);
        const m = await runMemaslap({ port: target.port, seconds: o.duration, concurrency: o.concurrency, threads: o.threads, binary: false, verify: o.verify, extra: o.memaslapArgs });
        const serverCpu = processCpuSeconds(target.proc.pid!) - s0;
        const secs = (Date.now() - t0) / 1000;
        atk.stop();
        const a = await atk.done;
        const after = server === 'memcached' ? null : (await stats(srv.port, 'isolation')) ?? (await stats(srv.port, 'isolation'));
        // memaslap and the C attacker are both reaped children: memaslap's share is the rest
        const reaped = reapedChildrenCpuSeconds() - c0;
        const run: ResilienceRun = {
          server, faultsPerSecond: n, control, round, memaslap: m, committed: a.committed, attempted: a.attempted,
          achievedPerSecond: a.committed / secs, notSurvived: a.notSurvived,
          serverFaults: before && after ? Number(after.parser_faults) - Number(before.parser_faults) : null,
          serverCpuSeconds: serverCpu, attackerCpuSeconds: a.cpuSeconds,
          memaslapCpuSeconds: o.attacker === 'c' ? reaped - a.cpuSeconds : reaped,
          // the attacker's own CPU is reported on its own, not as noise
          otherCores: otherCpu(p0, allProcessesCpu(), [target.proc.pid!, process.pid]).seconds / ((Date.now() - t0) / 1000),
          seconds: secs,
        };
        runs.push(run);
        log(`  [${round + 1}/${o.rounds}] ${server === 'memcached' ? 'memcached ' : ''}${String(n).padStart(5)} ${control ? 'version conns/s' : server === 'memcached' ? 'conns/s' : 'faults/s'}: ${Math.round(m.tps).toLocaleString('en-US').padStart(9)} ops/s  `
          + `${control ? 'answered' : 'faults committed'} ${run.committed}/${run.attempted} (${run.achievedPerSecond.toFixed(0)}/s, server counted ${run.serverFaults ?? '?'} faults)  `
          + `benign errors ${m.verifyFailed + m.connErrors}${m.ok ? '' : `  ERROR: ${m.error}`}  CPU cores: server ${(serverCpu / secs).toFixed(2)}, attacker ${(run.attackerCpuSeconds / secs).toFixed(2)}, `
          + `memaslap ${(run.memaslapCpuSeconds / secs).toFixed(2)}, others ${run.otherCores.toFixed(2)}`);
      }
    }
    const intact = await countIntact(srv.port, canaries);
    const evictions = Number((await stats(srv.port))?.evictions ?? NaN);
    const alive = srv.proc.exitCode === null && srv.proc.signalCode === null && Number((await stats(srv.port))?.pid) === srv.proc.pid;
    return { isolation, experiments, runs, keysLost: intact === null ? null : canaries.length - intact, canaries: canaries.length, sameProcess: alive, evictions };
  } finally {
    await srv.stop();
    await mc?.stop();
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n ? (n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2) : NaN; };

export function resilienceTable(r: Awaited<ReturnType<typeof resilience>>) {
  const ok = r.runs.filter((x) => x.memaslap.ok);
  const zeroOf = (server: ResilienceServer) => ok.filter((x) => x.server === server && x.faultsPerSecond === 0);
  // the server's CPU per benign op without faults: what the benign ops of a run under attack
  // would have cost it; the rest of its CPU in that run is put down to the faults
  const perOp0 = (server: ResilienceServer) => { const z = zeroOf(server); return z.reduce((a, x) => a + x.serverCpuSeconds, 0) / z.reduce((a, x) => a + x.memaslap.ops, 0); };
  const cores = (xs: ResilienceRun[], f: (x: ResilienceRun) => number) => median(xs.map((x) => f(x) / x.seconds));
  const rows = r.experiments.map(({ server, n, control }) => {
    const mine = r.runs.filter((x) => x.server === server && x.faultsPerSecond === n && x.control === control);
    const good = mine.filter((x) => x.memaslap.ok);
    // kept per round: this N against the same server's N=0 of the same round (the rounds interleave the N)
    const base0 = zeroOf(server);
    const perRound = good.map((x) => x.memaslap.tps / (base0.find((z) => z.round === x.round)?.memaslap.tps ?? NaN)).filter(Number.isFinite);
    const committed = good.reduce((a, x) => a + x.committed, 0);
    return {
      server, faultsPerSecond: n, control, tps: median(good.map((x) => x.memaslap.tps)),
      keptMin: Math.min(...perRound), keptMax: Math.max(...perRound),
      achieved: median(mine.map((x) => x.achievedPerSecond)),
      committed: mine.reduce((a, x) => a + x.committed, 0), attempted: mine.reduce((a, x) => a + x.attempted, 0),
      serverFaults: mine.reduce((a, x) => a + (x.serverFaults ?? 0), 0),
      benignErrors: mine.reduce((a, x) => a + x.memaslap.verifyFailed + x.memaslap.connErrors + (x.memaslap.ok ? 0 : 1), 0),
      serverCores: cores(good, (x) => x.serverCpuSeconds),
      attackerCores: cores(good, (x) => x.attackerCpuSeconds),
      memaslapCores: cores(good, (x) => x.memaslapCpuSeconds),
      serverUsPerFault: committed ? good.reduce((a, x) => a + x.serverCpuSeconds - x.memaslap.ops * perOp0(server), 0) / committed * 1e6 : NaN,
      otherCores: Math.max(...mine.map((x) => x.otherCores)),
    };
  });
  const baseOf = (server: ResilienceServer) => rows.find((x) => x.server === server && x.faultsPerSecond === 0)?.tps ?? NaN;
  const base = baseOf('remcached');
  const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}` : '—');
  const cols: Array<[string, number]> = [['faults/s', 8], ['achieved', 10], ['ops/s (median)', 16], ['kept', 8], ['rounds kept', 14], ['benign errors', 15],
    ['faults (server)', 22], ['server', 8], ['us/fault', 10], ['attacker', 10], ['memaslap', 10], ['other', 7]];
  const lines = [cols.map(([h, w]) => h.padStart(w)).join('')];
  for (const x of rows) {
    const mcd = x.server === 'memcached';
    const cells = [`${mcd ? 'mc ' : ''}${x.faultsPerSecond}${x.control ? ' ver' : ''}`, x.achieved.toFixed(0), Math.round(x.tps).toLocaleString('en-US'), `${pct(x.tps / baseOf(x.server))} %`,
      x.faultsPerSecond ? `${pct(x.keptMin)}..${pct(x.keptMax)}` : '', String(x.benignErrors), mcd ? `${x.committed}/${x.attempted}` : `${x.committed}/${x.attempted} (${x.serverFaults})`,
      x.serverCores.toFixed(2), x.faultsPerSecond && Number.isFinite(x.serverUsPerFault) ? x.serverUsPerFault.toFixed(0) : '',
      x.attackerCores.toFixed(2), x.memaslapCores.toFixed(2), x.otherCores.toFixed(2)];
    lines.push(cells.map((c, i) => c.padStart(cols[i]![1])).join(''));
  }
  lines.push('server, attacker, memaslap, other: CPU cores used (median over rounds); us/fault: server CPU beyond what its benign ops cost at N=0, per fault (or per connection)');
  if (rows.some((x) => x.control)) {
    lines.push('"N ver": the control, N connections/s each sending `version` and closing on the reply: the same connection churn without a fault');
    lines.push('"mc": the same against memcached 1.6.18 (-t 1), kept against its own N = 0: what that churn costs memcached');
  }
  lines.push(`keys lost: ${r.keysLost ?? '?'} of ${r.canaries} written before the attack (evictions: ${r.evictions}${r.evictions ? ', so some losses may be the LRU' : ''}); `
    + `remcached ${r.sameProcess ? 'still the same process' : 'PROCESS LOST'}`);
  return { rows, base, text: lines.join('\n') };
}
