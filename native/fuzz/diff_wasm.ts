// Differential fuzzing of the two builds of the parser: the native one and the WebAssembly one
// (native/wasm/parser.wasm) parse the same inputs, and any difference in their outputs (status,
// consumed bytes, descriptor count, resume point, close reason, every descriptor word, or a trap
// in one of them only) is a finding. It uses --cross-check's own comparison (native/index.ts),
// in process, with no server.
//
//   node --import tsx native/fuzz/diff_wasm.ts [seconds] [seed]      (default 20 s)
//
// Inputs: the libFuzzer seeds of native/fuzz/corpus (their 4-byte header picks the protocol:
// byte 0 bit 2 is REMC_IN_BINARY), then mutations of them: byte flips, insertions and deletions
// of bytes and of dictionary tokens (native/fuzz/dict.txt), splices of two seeds. A finding is
// written to native/fuzz/out/diverge-<n> (same header format) and the run exits 1.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { abi, crossStats, native } from '../index.ts';
import { PACKAGE_ROOT } from '../../server/package.ts';

const seconds = Number(process.argv[2] ?? 20);
let seed = Number(process.argv[3] ?? Date.now() % 1e9) >>> 0;
const rand = (n: number): number => { // xorshift32: reproducible from the seed
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed % n;
};

const K = abi.K;
const IN_BINARY = 1 << 2;
const r = native.init({
  isolation: K.REMC_ISO_NONE!, crossCheck: true, watchdogMs: 100, windowCap: 1 << 20,
  faultInjection: false, debugtime: true, memLimit: 64 << 20, itemSizeMax: 1 << 20,
  growthFactor: 1.25, chunkMin: 48, evictions: true, casEnabled: true, hashpower: 16,
});
native.setOutput(new Uint8Array(1 << 20));

const dir = join(PACKAGE_ROOT, 'native/fuzz/corpus');
const seeds = readdirSync(dir).map((f) => readFileSync(join(dir, f))).filter((b) => b.length > 4);
const dict = readFileSync(join(PACKAGE_ROOT, 'native/fuzz/dict.txt'), 'latin1').split('\n')
  .map((l) => /^(?:\w+=)?"(.*)"$/.exec(l.trim())?.[1]).filter((t): t is string => !!t)
  .map((t) => Buffer.from(t.replace(/\\x([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))).replace(/\\(.)/g, '$1'), 'latin1'));

function mutate(b: Buffer): Buffer {
  let out = Buffer.from(b);
  for (let n = 1 + rand(4); n > 0; n--) {
    const at = 4 + rand(Math.max(1, out.length - 4));
    switch (rand(6)) {
      case 0: if (out.length > 4) out[at] = rand(256); break;
      case 1: if (out.length > 4) out[at] ^= 1 << rand(8); break;
      case 2: out = Buffer.concat([out.subarray(0, at), Buffer.from([rand(256)]), out.subarray(at)]); break;
      case 3: out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + rand(8)))]); break;
      case 4: out = Buffer.concat([out.subarray(0, at), dict[rand(dict.length)] ?? Buffer.alloc(0), out.subarray(at)]); break;
      default: { const o = seeds[rand(seeds.length)]!; out = Buffer.concat([out.subarray(0, at), o.subarray(4 + rand(Math.max(1, o.length - 4)))]); }
    }
  }
  return out.length > 65536 ? out.subarray(0, 65536) : out;
}

let runs = 0, findings = 0;
function one(input: Buffer): void {
  const body = input.subarray(4);
  if (body.length > r.window.length) return;
  body.copy(r.window);
  const before = crossStats.divergences;
  native.parse(body.length, 0, 0, -1, input[0]! & IN_BINARY ? 1 : 0);
  runs++;
  if (crossStats.divergences !== before) {
    mkdirSync(join(PACKAGE_ROOT, 'native/fuzz/out'), { recursive: true });
    const f = join(PACKAGE_ROOT, 'native/fuzz/out', `diverge-${findings++}`);
    writeFileSync(f, input);
    console.log(`divergence: ${f} (${JSON.stringify(body.toString('latin1').slice(0, 120))})`);
  }
}

for (const s of seeds) one(s);
const end = Date.now() + seconds * 1000;
while (Date.now() < end && findings === 0) for (let i = 0; i < 200; i++) one(mutate(seeds[rand(seeds.length)]!));
console.log(`diff_wasm: ${runs} inputs (${seeds.length} seeds, then mutations), ${findings} divergences (seed ${process.argv[3] ?? 'time'})`);
process.exit(findings ? 1 : 0);
