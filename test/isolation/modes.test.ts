// Honest modes (issue 8): an explicit --isolation that cannot hold refuses to start (exit 64,
// one line naming the reason); the default takes the strongest mode that holds and says which
// and why, in the start-up log and in `stats isolation`.
import { test, NO_PKU } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { REMCACHED_MAIN, startRemcached } from '../helpers/server.ts';
import { stats } from './helpers.ts';

// Each side runs where the host shows it: the refusal and the fallbacks without PKU, the PKU start
// with it (test/vm/run.sh shows both under QEMU).
const HAS_PKU = NO_PKU ? null : 'this CPU has PKU: the no-PKU behaviour cannot be shown here (test/vm/run.sh shows the PKU side)';

for (const mode of ['pku', 'pku-strict']) {
  test(`--isolation=${mode} without PKU: exit 64 within a second, one line naming PKU`, () => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [REMCACHED_MAIN, '-p', '0', '-l', '127.0.0.1', `--isolation=${mode}`], { encoding: 'utf8', timeout: 10_000 });
    const ms = Date.now() - t0;
    assert.is(r.status, 64, `exit status ${r.status} (signal ${r.signal}); stderr: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, `one line expected: ${r.stderr}`);
    assert.match(lines[0]!, new RegExp(`^--isolation=${mode} cannot hold on this host: .*PKU`));
    assert.ok(ms < 1000 + 2000, `took ${ms} ms`); // the second, plus process start on a loaded machine
    console.log(`  ${mode}: exit 64 in ${ms} ms: ${lines[0]}`);
  }, { skip: HAS_PKU });
}

test('default without PKU: runs sfi, says so and why (log and stats isolation)', async () => {
  const srv = await startRemcached([]);
  try {
    const s = await stats(srv.port, 'isolation');
    assert.is(s.get('isolation'), 'sfi');
    assert.match(s.get('isolation_why') ?? '', /PKU/);
    assert.not.match(s.get('isolation_why') ?? '', /\s/);
    const log = await srv.logged(/WebAssembly sandbox/);
    assert.match(log, /WebAssembly sandbox/);
    assert.match(log, /"isolation":"sfi","why":"[^"]*PKU/);
  } finally {
    await srv.stop();
  }
}, { skip: HAS_PKU });

// Where neither PKU nor WebAssembly is available (node --jitless has no WebAssembly), the
// default is none, loudly; an explicit sfi refuses to start.
test('default without PKU and without WebAssembly: none, UNPROTECTED, both reasons', async () => {
  const srv = await startRemcached([], { ...process.env, NODE_OPTIONS: '--jitless' });
  try {
    const s = await stats(srv.port, 'isolation');
    assert.is(s.get('isolation'), 'none');
    assert.match(s.get('isolation_why') ?? '', /PKU.*sfi/);
    assert.match(await srv.logged(/UNPROTECTED/), /UNPROTECTED/);
  } finally {
    await srv.stop();
  }
}, { skip: HAS_PKU });

test('--isolation=sfi without WebAssembly (node --jitless): exit 64, one line', () => {
  const r = spawnSync(process.execPath, ['--jitless', '--no-warnings', REMCACHED_MAIN, '-p', '0', '-l', '127.0.0.1', '--isolation=sfi'], { encoding: 'utf8', timeout: 10_000 });
  assert.is(r.status, 64, `exit status ${r.status} (signal ${r.signal}); stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^Warning: disabling flag/.test(l));
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^--isolation=sfi cannot hold on this host: sfi: the WebAssembly parser cannot run/);
});

test('--isolation=sfi explicitly: runs sfi on any CPU, logged, isolation_why -', async () => {
  const srv = await startRemcached(['--isolation=sfi']);
  try {
    const s = await stats(srv.port, 'isolation');
    assert.is(s.get('isolation'), 'sfi');
    assert.is(s.get('isolation_why'), '-');
    assert.match(await srv.logged(/"isolation":"sfi"/), /"isolation":"sfi","why":"requested with --isolation=sfi"/);
  } finally {
    await srv.stop();
  }
});

test('default with PKU: pku after the self-test, logged', async () => {
  const srv = await startRemcached([]);
  try {
    const s = await stats(srv.port, 'isolation');
    assert.is(s.get('isolation'), 'pku', `isolation ${s.get('isolation')} (${s.get('isolation_why')})`);
    assert.is(s.get('isolation_why'), '-');
    assert.match(await srv.logged(/caught and rewound/), /a fault inside the domain was caught and rewound/);
  } finally {
    await srv.stop();
  }
}, { skip: NO_PKU });

test('--isolation=none explicitly: starts, logs that it was asked for', async () => {
  const srv = await startRemcached(['--isolation=none']);
  try {
    const s = await stats(srv.port, 'isolation');
    assert.is(s.get('isolation'), 'none');
    assert.match(await srv.logged(/requested with --isolation=none/), /requested with --isolation=none/);
  } finally {
    await srv.stop();
  }
});

test.run();
