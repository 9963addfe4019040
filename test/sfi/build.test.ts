// The committed WebAssembly parser is what its sources build (scripts/build-wasm.sh): a fresh
// rebuild gives the same bytes. Skipped, saying why, where Debian's clang-14/lld-14 are missing
// (npm ci machines: that is why the module is committed).
import { test, anyOf, needs } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/server.ts';

const MISSING = anyOf(needs('clang-14', 'clang-14'), needs('wasm-ld-14', 'lld-14'));

test('a fresh build of the wasm parser gives the committed bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'remc-wasm-'));
  try {
    const out = join(dir, 'parser.wasm');
    const r = spawnSync('bash', [join(ROOT, 'scripts/build-wasm.sh'), out], { encoding: 'utf8', timeout: 120_000 });
    assert.is(r.status, 0, r.stderr);
    const fresh = readFileSync(out), committed = readFileSync(join(ROOT, 'native/wasm/parser.wasm'));
    assert.ok(fresh.equals(committed), `native/wasm/parser.wasm is stale: rebuild it with scripts/build-wasm.sh (${fresh.length} vs ${committed.length} bytes)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { skip: MISSING });

test('the module imports its memory and two host functions, and exports the parser, nothing else', () => {
  const m = new WebAssembly.Module(readFileSync(join(ROOT, 'native/wasm/parser.wasm')));
  assert.equal(WebAssembly.Module.imports(m).map((i) => `${i.module}.${i.name}:${i.kind}`).sort(),
    ['env.budget:function', 'env.memory:memory', 'env.trap_kind:function']);
  assert.equal(WebAssembly.Module.exports(m).map((e) => `${e.name}:${e.kind}`).sort(),
    ['__heap_base:global', '__stack_chk_guard:global', '__stack_pointer:global', 'parse:function']);
});

test.run();
