// V8's WebAssembly trap handler keeps working after the addon took over SIGSEGV (pku-linux.md
// §3.4): faults that are not the domain's are forwarded to the previous handler. Interleaved with
// domain faults, in every mode, each in a fresh process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../helpers/server.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/wasm-after-addon.cjs', import.meta.url));
const ADDON = join(ROOT, 'build/Release/remcached.node');

for (const [name, mode] of [['none', 0], ['pku', 1], ['pku-strict', 2]] as const) {
  test(`${name}: wasm out-of-bounds still throws RuntimeError after the addon loaded`, () => {
    const r = spawnSync(process.execPath, [FIXTURE, ADDON, String(mode)], { encoding: 'utf8', timeout: 20_000 });
    assert.is(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { mode: number; faults: string[]; wasm: string[] };
    const rootWrite = out.mode === 0 ? 'no fault' : 'pku';
    assert.equal(out.faults, ['segv', rootWrite, 'segv', rootWrite, 'segv', rootWrite]);
    for (let i = 0; i < 3; i++) {
      assert.is(out.wasm[2 * i], 'RuntimeError: memory access out of bounds');
      assert.is(out.wasm[2 * i + 1], 'in bounds: 0');
    }
  });
}

test.run();
