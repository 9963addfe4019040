// V8's WebAssembly trap handling and remcached's native fault handlers in one process (sfi-wasm.md,
// "V8's trap handler"): the wasm parser traps after a native domain fault and the reverse, many
// times, each caught by the right handler and classified as in its mode's table column.
import { test, NO_PKU } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../helpers/server.ts';

const FIXTURE = fileURLToPath(new URL('../isolation/fixtures/sfi-and-native.mjs', import.meta.url));
const ADDON = join(ROOT, 'build/Release/remcached.node');
const SFI = join(ROOT, 'dist/native/sfi.js');

for (const [name, mode] of [['none', 0], ['pku', 1], ['pku-strict', 2]] as const) {
  test(`native ${name} domain faults and wasm parser traps, interleaved in one process`, () => {
    const r = spawnSync(process.execPath, [FIXTURE, ADDON, String(mode), SFI], { encoding: 'utf8', timeout: 20_000 });
    assert.is(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { mode: number; seq: string[] };
    assert.is(out.mode, mode, 'the runtime runs the mode asked for');
    const round = ['native segv', 'wasm segv', 'wasm ok:2', 'native fpe', 'wasm fpe', 'native ill', 'wasm stack_overflow', 'native ok:2'];
    assert.equal(out.seq, [...round, ...round, ...round]);
  }, { skip: mode === 0 ? null : NO_PKU });
}

test.run();
