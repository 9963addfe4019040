// Micro-benchmark of --isolation=sfi in-process (issue 10): a good wasm parse call, and a trap
// to ready (the call that traps, through classification, rewind and foreignFault), each beside
// the native parser on the same machine in the same run (mode none here: no PKU; pku where the
// host has it). Median and p99.
//   node --import tsx bench/sfi-micro.ts [--rounds=N]
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from '../test/helpers/server.ts';
import { createSfiParser } from '../native/sfi.ts';

const require = createRequire(import.meta.url);
const a = require(join(ROOT, 'build/Release/remcached.node'));
const r = a.init({ isolation: a.abi.K.REMC_ISO_AUTO, faultInjection: true, watchdogMs: 100 });
a.setOutput(new Uint8Array(1 << 16));
const K = a.abi.K;
const sfi = createSfiParser(a, r.window.length, r.desc.length / K.WORDS, 100);
const modeName = ['none', 'pku', 'pku-strict'][r.mode] ?? String(r.mode);

const load = (s: string) => { const b = Buffer.from(s, 'latin1'); b.copy(r.window); return b.length; };
const q = (xs: number[], p: number) => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]!; };
const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

type ParseFn = (len: number, start: number, resumeOff: number, fd: number, binary?: number) => number;
const variants: Array<[string, ParseFn]> = [[`native (${modeName})`, a.parse], ['sfi', sfi.parse]];

/** ns per call, per batch of `batch` calls, `batches` times */
function good(parse: ParseFn, input: string, batch: number, batches: number): number[] {
  const len = load(input);
  const out: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) parse(len, 0, 0, -1, 0);
    out.push(((performance.now() - t0) * 1e6) / batch);
  }
  return out;
}

/** ns from the call that faults to its return (rewound, ready for the next call) */
function traps(parse: ParseFn, input: string, n: number): number[] {
  const len = load(input);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const st = parse(len, 0, 0, -1, 0);
    out.push((performance.now() - t0) * 1e6);
    if (st !== K.P_FAULT) throw new Error(`no fault: ${st}`);
  }
  return out;
}

const rounds = Number(process.argv.find((x) => x.startsWith('--rounds='))?.slice(9) ?? 3);
const inputs: Array<[string, string]> = [
  ['get (1 key)', 'get key:000123\r\n'],
  ['10 pipelined get/set', Array.from({ length: 5 }, (_, i) => `set key:${i} 0 0 10\r\n0123456789\r\nget key:${i}\r\n`).join('')],
  ['mg with flags', 'mg key:000123 v f t c s k\r\n'],
];
const results: Record<string, Record<string, number[]>> = {};
const add = (what: string, v: string, xs: number[]) => { ((results[what] ??= {})[v] ??= []).push(...xs); };
for (let round = 0; round < rounds; round++) {
  for (const [name, parse] of round % 2 ? [...variants].reverse() : variants) {
    for (const [label, input] of inputs) add(`good: ${label}`, name, good(parse, input, 200, 300));
    add('trap to ready: debug_fault 7 (NULL)', name, traps(parse, 'debug_fault 7\r\n', 2000));
    add('trap to ready: debug_fault 8 (wild pointer)', name, traps(parse, 'debug_fault 8\r\n', 2000));
  }
}
console.log(`sfi micro-benchmark (Node ${process.version}, native mode ${modeName}, ${rounds} interleaved rounds)`);
for (const [what, byV] of Object.entries(results)) {
  const cells = Object.entries(byV).map(([v, xs]) => `${v}: median ${fmt(q(xs, 0.5))}, p99 ${fmt(q(xs, 0.99))}`);
  const [n, s] = [byV[variants[0]![0]]!, byV.sfi!];
  console.log(`${what}\n  ${cells.join('\n  ')}\n  sfi/native median ${(q(s, 0.5) / q(n, 0.5)).toFixed(2)}x`);
}
