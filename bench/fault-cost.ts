// What one fault costs the server, against what any connection costs it: start remcached
// (--enable-fault-injection), then for each pattern open COUNT connections (CONC at a time) and
// read the server's utime+stime (/proc/<pid>/stat) before and after. Patterns:
//   connect  connect, client closes at once
//   version  connect, `version`, wait for the reply, client closes
//   fault    connect, `debug_fault <id>`, the server rewinds and closes
// The difference fault - version is what the fault path itself adds (rewind, log, bookkeeping).
//   node --import tsx bench/fault-cost.ts [--count=5000] [--conc=16] [--isolation=none]
//        [--kind=null_deref] [--rounds=3] [--node-options="--perf-basic-prof"] [--server-args="..."]
import net from 'node:net';
import { parseArgs } from 'node:util';
import { startRemcached } from '../test/helpers/server.ts';
import { faultKinds } from '../demo/attack.ts';
import { processCpuSeconds } from './lib/proc.ts';

const { values: v } = parseArgs({ options: {
  count: { type: 'string', default: '5000' }, conc: { type: 'string', default: '16' },
  isolation: { type: 'string', default: 'none' }, kind: { type: 'string', default: 'null_deref' },
  rounds: { type: 'string', default: '3' }, patterns: { type: 'string', default: 'connect,version,fault' },
  'server-args': { type: 'string', default: '' }, 'node-options': { type: 'string', default: '' },
} });
const count = Number(v.count), conc = Number(v.conc), rounds = Number(v.rounds);
const id = faultKinds().get(v.kind!);
if (!id) throw new Error(`unknown fault kind ${v.kind}`);
const srv = await startRemcached(['-t', '1', '--enable-fault-injection', `--isolation=${v.isolation}`, ...v['server-args']!.split(/\s+/).filter(Boolean)],
  v['node-options'] ? { ...process.env, NODE_OPTIONS: v['node-options'] } : undefined);

type Pattern = 'connect' | 'version' | 'fault';
function one(p: Pattern): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1', () => {
      if (p === 'connect') s.end();
      else s.write(p === 'version' ? 'version\r\n' : `debug_fault ${id}\r\n`);
    });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`${p}: timeout`)); }, 5000);
    s.on('data', () => { if (p === 'version') s.end(); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve(); });
  });
}

async function run(p: Pattern): Promise<{ us: number; rate: number }> {
  const pid = srv.proc.pid!;
  const c0 = processCpuSeconds(pid); const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => { while (next++ < count) await one(p); }));
  await new Promise((r) => setTimeout(r, 200)); // let the server finish its closes
  const cpu = processCpuSeconds(pid) - c0;
  return { us: (cpu / count) * 1e6, rate: count / ((Date.now() - t0) / 1000) };
}

const patterns = v.patterns!.split(',') as Pattern[];
const res: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const p of patterns) {
    const x = await run(p);
    (res[p] ??= []).push(x.us);
    console.log(`[${r + 1}/${rounds}] ${p.padEnd(8)} ${x.us.toFixed(1).padStart(7)} us server CPU per connection  (${x.rate.toFixed(0)} conn/s)`);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`median server CPU per connection (isolation=${v.isolation}, ${count} x ${rounds}): `
  + patterns.map((p) => `${p} ${med(res[p]!).toFixed(1)} us`).join(', '));
await srv.stop();
