// `npm run bench -- --faults=0,100,1000`: benign throughput while an attacker commits N parser
// faults per second, in the same run. One remcached (--enable-fault-injection) serves memaslap's
// benign clients; beside it this process opens one connection per fault and sends
// `debug_fault <id>`. Reported per N: memaslap ops/s (median over rounds) and the fraction of the
// N=0 figure kept, benign errors (memaslap's wrong values and connection failures), faults
// committed and counted by the server, and at the end the keys lost out of 10,000 written before.
import { commitFault, faultKinds, setMany, countIntact, stats } from '../../demo/attack.ts';
import { startRemcached, type Server } from '../../test/helpers/server.ts';
import { runMemaslap, type MemaslapResult } from './memaslap.ts';
import { processCpuSeconds, allProcessesCpu, otherCpu } from './proc.ts';

export interface ResilienceOptions {
  faults: number[]; kinds: string[]; duration: number; rounds: number; concurrency: number; threads: number;
  memory: number; verify: number; isolation?: string; remcachedArgs: string[]; memaslapArgs: string[];
}

export interface ResilienceRun {
  faultsPerSecond: number; round: number; memaslap: MemaslapResult;
  /** faults committed (connection closed by the server after the rewind) / attempted, and per second achieved */
  committed: number; attempted: number; achievedPerSecond: number; notSurvived: Record<string, number>;
  /** the server's parser_faults delta over the run */
  serverFaults: number | null;
  serverCpuSeconds: number; attackerCpuSeconds: number; otherCores: number;
}

/** The attacker: N faults/s, one connection each, at most 256 in flight (a real attacker is not slower). */
function attack(port: number, perSecond: number, ids: number[], stop: () => boolean) {
  const res = { attempted: 0, committed: 0, notSurvived: {} as Record<string, number> };
  const done = (async () => {
    if (perSecond <= 0) return;
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
  })();
  return { res, done };
}

export async function resilience(o: ResilienceOptions, log: (s: string) => void) {
  const known = faultKinds();
  const ids = o.kinds.map((k) => { const id = known.get(k); if (!id) throw new Error(`unknown fault kind ${k}`); return id; });
  // memaslap's key space (concurrency x a 10k window, 1 KiB values) needs ~600 MB: with less, its
  // sets evict the canaries and "keys lost" would measure the LRU, not the faults.
  const args = ['-m', String(Math.max(o.memory, 1024)), '-t', '1', '--enable-fault-injection', ...o.remcachedArgs, ...(o.isolation ? [`--isolation=${o.isolation}`] : [])];
  const srv: Server = await startRemcached(args);
  const runs: ResilienceRun[] = [];
  try {
    const settings = await stats(srv.port, 'isolation');
    const isolation = settings?.isolation ?? '?';
    log(`remcached (pid ${srv.proc.pid}, --isolation=${isolation}${settings?.isolation_why && settings.isolation_why !== '-' ? `: ${settings.isolation_why.replace(/_/g, ' ')}` : ''}) ${args.join(' ')}`);
    log(`attacker: one connection per fault, kinds ${o.kinds.join(',')}; benign: memaslap ${o.concurrency} connections, ${o.threads} threads, ${o.duration} s`);
    // Keys written before any attack and never touched by memaslap (its keys are random 64-byte
    // strings); read back at the end: a fault that corrupted the store shows here.
    const canaries = Array.from({ length: 10_000 }, (_, i): [string, Buffer] => [`resilience:canary:${i}`, Buffer.from(`value ${i} `.padEnd(100, '*'))]);
    await setMany(srv.port, canaries);
    for (let round = 0; round < o.rounds; round++) {
      const order = o.faults.map((_, i) => o.faults[(i + round) % o.faults.length]!);
      for (const n of order) {
        // stats may time out right after a heavy run (the server still draining): one retry.
        const before = (await stats(srv.port, 'isolation')) ?? (await stats(srv.port, 'isolation'));
        const p0 = allProcessesCpu(); const s0 = processCpuSeconds(srv.proc.pid!); const a0 = process.cpuUsage(); const t0 = Date.now();
        let stop = false;
        const atk = attack(srv.port, n, ids, () => stop);
        const m = await runMemaslap({ port: srv.port, seconds: o.duration, concurrency: o.concurrency, threads: o.threads, binary: false, verify: o.verify, extra: o.memaslapArgs });
        stop = true;
        await atk.done;
        const secs = (Date.now() - t0) / 1000;
        const a1 = process.cpuUsage(a0);
        const after = (await stats(srv.port, 'isolation')) ?? (await stats(srv.port, 'isolation'));
        const run: ResilienceRun = {
          faultsPerSecond: n, round, memaslap: m, committed: atk.res.committed, attempted: atk.res.attempted,
          achievedPerSecond: atk.res.committed / secs, notSurvived: atk.res.notSurvived,
          serverFaults: before && after ? Number(after.parser_faults) - Number(before.parser_faults) : null,
          serverCpuSeconds: processCpuSeconds(srv.proc.pid!) - s0, attackerCpuSeconds: (a1.user + a1.system) / 1e6,
          otherCores: otherCpu(p0, allProcessesCpu(), [srv.proc.pid!, process.pid]).seconds / secs,
        };
        runs.push(run);
        log(`  [${round + 1}/${o.rounds}] ${String(n).padStart(5)} faults/s: ${Math.round(m.tps).toLocaleString('en-US').padStart(9)} ops/s  `
          + `faults committed ${run.committed}/${run.attempted} (${run.achievedPerSecond.toFixed(0)}/s, server counted ${run.serverFaults ?? '?'})  `
          + `benign errors ${m.verifyFailed + m.connErrors}${m.ok ? '' : `  ERROR: ${m.error}`}  attacker CPU ${(run.attackerCpuSeconds / secs).toFixed(2)} cores  others ${run.otherCores.toFixed(2)} cores`);
      }
    }
    const intact = await countIntact(srv.port, canaries);
    const evictions = Number((await stats(srv.port))?.evictions ?? NaN);
    const alive = srv.proc.exitCode === null && srv.proc.signalCode === null && Number((await stats(srv.port))?.pid) === srv.proc.pid;
    return { isolation, runs, keysLost: intact === null ? null : canaries.length - intact, canaries: canaries.length, sameProcess: alive, evictions };
  } finally {
    await srv.stop();
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n ? (n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2) : NaN; };

export function resilienceTable(r: Awaited<ReturnType<typeof resilience>>, faults: number[]) {
  const rows = faults.map((n) => {
    const mine = r.runs.filter((x) => x.faultsPerSecond === n);
    return {
      faultsPerSecond: n, tps: median(mine.filter((x) => x.memaslap.ok).map((x) => x.memaslap.tps)),
      achieved: median(mine.map((x) => x.achievedPerSecond)),
      committed: mine.reduce((a, x) => a + x.committed, 0), attempted: mine.reduce((a, x) => a + x.attempted, 0),
      serverFaults: mine.reduce((a, x) => a + (x.serverFaults ?? 0), 0),
      benignErrors: mine.reduce((a, x) => a + x.memaslap.verifyFailed + x.memaslap.connErrors + (x.memaslap.ok ? 0 : 1), 0),
      attackerCores: median(mine.map((x) => x.attackerCpuSeconds / x.memaslap.seconds || 0)),
      otherCores: Math.max(...mine.map((x) => x.otherCores)),
    };
  });
  const base = rows.find((x) => x.faultsPerSecond === 0)?.tps ?? rows[0]!.tps;
  const lines = [`${'faults/s'.padStart(8)}${'achieved'.padStart(10)}${'ops/s (median)'.padStart(16)}${'kept'.padStart(8)}${'benign errors'.padStart(15)}${'faults (server)'.padStart(22)}${'attacker CPU'.padStart(14)}${'other CPU'.padStart(11)}`];
  for (const x of rows) {
    lines.push(`${String(x.faultsPerSecond).padStart(8)}${x.achieved.toFixed(0).padStart(10)}${Math.round(x.tps).toLocaleString('en-US').padStart(16)}`
      + `${`${(100 * x.tps / base).toFixed(1)} %`.padStart(8)}${String(x.benignErrors).padStart(15)}${`${x.committed}/${x.attempted} (${x.serverFaults})`.padStart(22)}`
      + `${x.attackerCores.toFixed(2).padStart(14)}${x.otherCores.toFixed(2).padStart(11)}`);
  }
  lines.push(`keys lost: ${r.keysLost ?? '?'} of ${r.canaries} written before the attack (evictions: ${r.evictions}${r.evictions ? ', so some losses may be the LRU' : ''}); `
    + `remcached ${r.sameProcess ? 'still the same process' : 'PROCESS LOST'}`);
  return { rows, base, text: lines.join('\n') };
}
