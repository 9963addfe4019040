// memtier_benchmark (RedisLabs; not a Debian package: bench/README.md says how to build it) against
// remcached, text and binary protocols: a populate pass from a --data-import file (memtier's
// verify mode works only with imported data), a mixed load with --data-verify, then
// --verify-only, which reads keys back and compares their values. Skipped (test.skip with a reason, never
// passed) when memtier_benchmark is not on PATH. Every run is bounded (-n and a 120 s kill).
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { startRemcached, type Server } from '../helpers/server.ts';

const have = (() => { try { execFileSync('sh', ['-c', 'command -v memtier_benchmark'], { stdio: 'ignore' }); return true; } catch { return false; } })();

function memtier(port: number, args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawn('memtier_benchmark', ['-s', '127.0.0.1', '-p', String(port), '--hide-histogram', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

// memtier's import format (README.import; its tests/data-import-2-keys.txt): nbytes = data + 2.
function importFile(): string {
  const rows = ['dumpflags, time, exptime, nbytes, nsuffix, it_flags, clsid, nkey, key, data'];
  for (let i = 0; i < 5000; i++) { const k = `mt:${i}`; const d = `v${i}-`.padEnd(100, 'x'); rows.push(`0, 0, 0, ${d.length + 2}, 0, 0, 0, ${k.length}, ${k}, ${d}`); }
  const f = join(mkdtempSync(join(os.tmpdir(), 'remc-memtier-')), 'import.csv');
  writeFileSync(f, rows.join('\n') + '\n');
  return f;
}

for (const protocol of ['memcache_text', 'memcache_binary']) {
  const name = `memtier_benchmark ${protocol}: populate, mixed load, --verify-only finds every value`;
  if (!have) { test.skip(name, 'memtier_benchmark not on PATH (see bench/README.md to build it)'); continue; }
  test(name, async () => {
    const srv: Server = await startRemcached(['-m', '64']);
    const data = [`--protocol=${protocol}`, `--data-import=${importFile()}`];
    // memtier prints "<n> keys verified successfuly." and "<m> keys failed." (sic).
    const verified = (out: string) => {
      const ok = /(\d+)\s+keys verified/.exec(out); const bad = /(\d+)\s+keys failed/.exec(out);
      assert.ok(ok && bad, `no verify summary in:\n${out.slice(-1500)}`);
      assert.is(Number(bad![1]), 0, 'no key failed verification');
      assert.ok(Number(ok![1]) > 0, 'keys were verified');
    };
    try {
      const populate = await memtier(srv.port, [...data, '--ratio=1:0', '-t', '1', '-c', '1', '-n', '5000']);
      assert.is(populate.code, 0, populate.out.slice(-1500));
      const mixed = await memtier(srv.port, [...data, '--ratio=1:10', '-t', '2', '-c', '10', '-n', '2000', '--data-verify']);
      assert.is(mixed.code, 0, mixed.out.slice(-1500));
      assert.match(mixed.out, /Totals\s+[\d.]+/);
      verified(mixed.out);
      const only = await memtier(srv.port, [...data, '-t', '1', '-c', '1', '-n', '10000', '--verify-only']);
      assert.is(only.code, 0, only.out.slice(-1500));
      verified(only.out);
    } finally {
      await srv.stop();
    }
  }, { timeoutMs: 180_000 });
}

test.run();
