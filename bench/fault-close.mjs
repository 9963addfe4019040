// Fault to connection closed, as the server sees it: start remcached with fault injection, make
// N connections each commit one parser fault (debug_fault 7: a NULL read inside the domain), and
// read the server's own measurement (close_ns in its warning log: fault taken -> socket shut
// down, before control returns to JS) back from stderr.
//   node bench/fault-close.mjs [count=3000] [isolation=pku]
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const count = Number(process.argv[2] ?? 3000);
const isolation = process.argv[3] ?? 'pku';
const main = fileURLToPath(new URL('../dist/server/main.js', import.meta.url));
const port = 20000 + (process.pid % 20000);
// -v: every fault is logged in full (by default only the first 10 of each second are, server/log.ts)
const srv = spawn(process.execPath, [main, '-p', String(port), '-l', '127.0.0.1', `--isolation=${isolation}`, '--enable-fault-injection', '-v'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
srv.stderr.on('data', (d) => { log += d; });
await new Promise((r) => setTimeout(r, 800));

const once = () => new Promise((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1', () => s.write('debug_fault 7\r\n'));
  s.on('close', resolve);
  s.on('error', reject);
  s.resume();
});
for (let i = 0; i < count; i++) await once();
srv.kill('SIGTERM');
await new Promise((r) => srv.on('exit', r));

const rows = log.split('\n').filter((l) => l.includes('"close_ns"')).map((l) => JSON.parse(l));
const pick = (f) => rows.map(f).sort((a, b) => a - b);
const q = (v, p) => v[Math.min(v.length - 1, Math.floor(v.length * p))];
const close = pick((r) => r.close_ns / 1000), rewind = pick((r) => r.rewind_ns / 1000);
const load = (await import('node:os')).loadavg()[0].toFixed(1);
console.log(`isolation=${isolation} faults=${rows.length} load=${load}`);
console.log(`fault -> connection shut down: median ${q(close, 0.5).toFixed(1)} us, p90 ${q(close, 0.9).toFixed(1)} us, p99 ${q(close, 0.99).toFixed(1)} us, min ${close[0].toFixed(1)} us`);
console.log(`of which rewind (handler -> recovered): median ${q(rewind, 0.5).toFixed(2)} us`);
if (rows.length !== count) { console.error(`expected ${count} faults, saw ${rows.length}`); process.exit(1); }
