// The memory each fault-injection kind aims at, read back from the addon in-process: in pku and
// pku-strict the root word and every stored item are unchanged after every kind (and the kind is
// the one the real mechanism reports, with the right pkey); in none the root and store writes
// really corrupt them. Complements faults.test.ts, which cannot see the root word over TCP.
// The pku modes are skipped on a host without PKU.
import { test, NO_PKU } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../helpers/server.ts';
import { INJECTIONS } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/targets-in-process.cjs', import.meta.url));
const ADDON = join(ROOT, 'build/Release/remcached.node');
const INTACT = '5afe5afe5afe5afe';

interface Result { name: string; kind: string; pkey: number | null; rootBefore: string; rootAfter: string; sumSame: boolean; pkruSame: boolean }

function run(mode: number): { mode: number; results: Result[]; storeKey: number } {
  const r = spawnSync(process.execPath, [FIXTURE, ADDON, String(mode), JSON.stringify(INJECTIONS.map((i) => [i.name, i.id]))],
    { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`fixture failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

for (const [name, mode] of [['pku', 1], ['pku-strict', 2]] as const) {
  test(`${name}: root word and stored items unchanged after every fault kind`, () => {
    const out = run(mode);
    assert.is(out.mode, mode, 'the addon runs the mode asked for');
    for (const inj of INJECTIONS) {
      const res = out.results.find((x) => x.name === inj.name)!;
      assert.is(res.kind, inj.pku, `${inj.name}: kind`);
      if (inj.name === 'root_write') assert.is(res.pkey, 0, 'root write: pkey 0');
      if (inj.name === 'store_write' || inj.name === 'store_read') assert.is(res.pkey, out.storeKey, `${inj.name}: the store's pkey`);
      assert.is(res.rootAfter, INTACT, `${inj.name}: root word`);
      assert.ok(res.sumSame, `${inj.name}: store checksum changed`);
      assert.ok(res.pkruSame, `${inj.name}: thread PKRU changed`);
    }
  }, { skip: NO_PKU });
}

test('none: the root and store writes really corrupt them', () => {
  const out = run(0);
  assert.is(out.mode, 0);
  const by = new Map(out.results.map((x) => [x.name, x]));
  assert.is(by.get('root_write')!.kind, 'none');
  assert.is(by.get('root_write')!.rootBefore, INTACT);
  assert.is(by.get('root_write')!.rootAfter, 'bad0bad0bad0bad0', 'none: root word not corrupted');
  assert.is(by.get('store_write')!.kind, 'none');
  assert.not.ok(by.get('store_write')!.sumSame, 'none: store checksum unchanged by the store write');
  for (const inj of INJECTIONS) assert.is(by.get(inj.name)!.kind, inj.none, `${inj.name}: kind in none`);
});

test.run();
