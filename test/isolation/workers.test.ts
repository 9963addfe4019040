// -t 2: one worker's parser reaching into another worker's domain memory (the peer faults,
// debug_fault 14 and 15, native/include/remc_fault_inject.h). With a protection key per worker
// (pku, pku-strict) it is rewound as a PKU fault and the other worker's word is intact; with
// the shared key (REMCACHED_TEST_SHARED_PKEY=1, as when keys run out) or no isolation it goes
// through and overwrites the word; sfi has no address for it (an out-of-bounds trap). The pku
// cases are skipped on a host without PKU; test/vm/pku-faults.mjs runs them under QEMU.
import { test, NO_PKU } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, startRemcached, type Server } from '../helpers/server.ts';
import { sleep } from './helpers.ts';

const INTACT = '5afe5afe5afe5afe';
const OVERWRITTEN = 'bad0bad0bad0bad0';

async function statsOn(c: Conn): Promise<Map<string, string>> {
  c.send('stats isolation\r\n');
  const b = await c.untilEndsWith('END\r\n', 10_000);
  const m = new Map<string, string>();
  for (const line of b.toString('latin1').split('\r\n')) {
    const p = line.split(' ');
    if (p[0] === 'STAT' && p.length >= 3) m.set(p[1]!, p.slice(2).join(' '));
  }
  return m;
}

/** A connection served by worker w (SO_REUSEPORT picks the worker: try new ones, bounded). */
async function connOn(port: number, w: number): Promise<{ c: Conn; st: Map<string, string> }> {
  for (let i = 0; i < 60; i++) {
    const c = await Conn.open(port);
    const st = await statsOn(c);
    if (st.get('worker_thread') === String(w)) return { c, st };
    c.close();
  }
  throw new Error(`no connection landed on worker ${w} in 60 tries`);
}

type Outcome = 'rewound' | 'through' | 'trap';
const CASES: Array<{ name: string; mode: string; env?: NodeJS.ProcessEnv; want: Outcome; kind?: string; skip: string | null }> = [
  { name: 'pku, a key per worker', mode: 'pku', want: 'rewound', kind: 'pku', skip: NO_PKU },
  { name: 'pku-strict, a key per worker', mode: 'pku-strict', want: 'rewound', kind: 'pku', skip: NO_PKU },
  { name: 'pku, one shared key', mode: 'pku', env: { REMCACHED_TEST_SHARED_PKEY: '1' }, want: 'through', skip: NO_PKU },
  { name: 'none', mode: 'none', want: 'through', skip: null },
  { name: 'sfi', mode: 'sfi', want: 'trap', kind: 'segv', skip: null },
];

for (const k of CASES) {
  test(`${k.name}: worker 0's parser on worker 1's domain memory (peer_write, peer_read)`, async () => {
    let srv: Server | null = null;
    try {
      srv = await startRemcached(['-t', '2', `--isolation=${k.mode}`, '--enable-fault-injection'], k.env ? { ...process.env, ...k.env } : undefined);
      const b = await connOn(srv.port, 1);
      const a0 = await connOn(srv.port, 0);
      a0.c.close();
      const [ka, kb] = [Number(a0.st.get('domain_pkey')), Number(b.st.get('domain_pkey'))];
      assert.is(b.st.get('domain_pkeys'), `${ka},${kb}`, 'domain_pkeys lists both workers by index');
      if (k.want === 'rewound') {
        assert.ok(ka > 0 && kb > 0 && ka !== kb, `distinct keys: ${ka}, ${kb}`);
        assert.is(b.st.get('domain_pkey_shared'), 'no');
      } else if (k.env) {
        assert.ok(ka > 0 && ka === kb, `one key: ${ka}, ${kb}`);
        assert.is(b.st.get('domain_pkey_shared'), 'yes');
        assert.is((srv.stderr().match(/no free protection key left/g) ?? []).length, 1, 'logged once');
      }
      assert.is(a0.st.get('fault_peer_worker'), '1', "worker 0's peer faults aim at worker 1");
      assert.is(b.st.get('fault_peer_word'), INTACT);
      for (const [name, id] of [['peer_write', 14], ['peer_read', 15]] as const) {
        const before = await statsOn(b.c);
        const a = await connOn(srv.port, 0);
        a.c.send(`debug_fault ${id}\r\n`);
        const reply = (await a.c.until((x) => x.includes('\r\n'), 10_000)).toString('latin1');
        const closed = a.c.closed;
        a.c.close();
        // the binding shuts a faulting socket down before JS counts the fault: wait for the count
        let after = await statsOn(b.c);
        for (let t = 0; t < 50 && k.want !== 'through' && after.get('parser_faults') === before.get('parser_faults'); t++) {
          await sleep(100);
          after = await statsOn(b.c);
        }
        const d = (s: string) => Number(after.get(s)) - Number(before.get(s));
        if (k.want === 'through') {
          assert.not.ok(closed, `${name}: nothing stops it, the connection stays`);
          assert.match(reply, /was committed and not caught/, `${name}: reply`);
          assert.is(d('parser_faults'), 0, `${name}: no fault`);
          assert.is(after.get('fault_peer_word'), OVERWRITTEN, `${name}: worker 1's word is overwritten (by peer_write)`);
        } else {
          assert.ok(closed, `${name}: attacker connection closed`);
          assert.is(reply, '', `${name}: no reply`);
          assert.is(d(`parser_faults_${k.kind}`), 1, `${name}: counted as ${k.kind}`);
          assert.is(after.get('fault_peer_word'), INTACT, `${name}: worker 1's word intact`);
          if (k.want === 'rewound') {
            const logged = srv.stderr().split('\n').filter((l) => l.includes('"fault":"pku"')).map((l) => JSON.parse(l) as { pkey: number }).pop();
            assert.is(logged?.pkey, kb, `${name}: the PKU fault is on worker 1's key`);
          }
        }
      }
      b.c.close();
    } finally {
      await srv?.stop();
    }
  }, { skip: k.skip });
}

test.run();
