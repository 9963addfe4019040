// The domain gate and rewind as seen from JavaScript (a benchmark, not a test):
//   1. in-process, through the addon: parse() of a good command vs. of `debug_fault 7` (a NULL
//      read inside the domain, rewound): median and p99 per call, per isolation mode;
//   2. over TCP: a remcached server per mode; a client sends `debug_fault 7` on a fresh
//      connection and times send -> connection closed (median, p99).
//   node bench/gate-js.mjs [--samples N]     (needs build/Release/remcached.node and dist/)
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const samplesArg = process.argv.indexOf('--samples');
const SAMPLES = samplesArg > 0 ? Number(process.argv[samplesArg + 1]) : 20000;
const MODES = { none: 0, pku: 1, 'pku-strict': 2 };

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
const us = (ns) => (Number(ns) / 1000).toFixed(2);
function summary(xs) {
  const a = [...xs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return `median ${us(pct(a, 0.5))} us  p99 ${us(pct(a, 0.99))} us`;
}

// 1. In-process, one child process per mode (the addon's state is per process).
if (process.argv[2] === '--child') {
  const mode = Number(process.argv[3]);
  const a = require(join(ROOT, 'build/Release/remcached.node'));
  const r = a.init({ isolation: mode, faultInjection: true, watchdogMs: 100 });
  a.setOutput(new Uint8Array(1 << 16));
  const put = (s) => { const b = Buffer.from(s); b.copy(r.window); return b.length; };
  const P_FAULT = a.abi.K.P_FAULT;
  const run = (s, wantFault) => {
    const len = put(s);
    const t = new Array(SAMPLES);
    for (let i = 0; i < 2000; i++) a.parse(len, 0, 0);
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = process.hrtime.bigint();
      const st = a.parse(len, 0, 0);
      t[i] = process.hrtime.bigint() - t0;
      if ((st === P_FAULT) !== wantFault) throw new Error(`unexpected status ${st} for ${JSON.stringify(s)}`);
    }
    return summary(t);
  };
  const name = Object.keys(MODES).find((k) => MODES[k] === r.mode);
  console.log(`${name.padEnd(10)} in-process parse(): good "get foo" ${run('get foo\r\n', false)} | ` +
    `fault (NULL read, rewound) ${run('debug_fault 7\r\n', true)}`);
  process.exit(0);
}

function child(args) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('exit', resolve);
  });
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function tcpFaults(mode, n) {
  const port = await freePort();
  const srv = spawn(process.execPath, [join(ROOT, 'dist/server/main.js'), '-p', String(port), '-l', '127.0.0.1',
    `--isolation=${mode}`, '--enable-fault-injection'], { stdio: 'ignore' });
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const t = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    await new Promise((r) => s.once('connect', r));
    const t0 = process.hrtime.bigint();
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => {});
    s.write('debug_fault 7\r\n');
    await closed;
    t.push(process.hrtime.bigint() - t0);
  }
  srv.kill('SIGTERM');
  console.log(`${mode.padEnd(10)} TCP: debug_fault sent -> connection closed at the client: ${summary(t)} (${n} faults)`);
}

for (const m of Object.values(MODES)) await child(['--child', String(m)]);
for (const m of Object.keys(MODES)) await tcpFaults(m, 2000);
