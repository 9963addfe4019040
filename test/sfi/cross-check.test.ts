// --cross-check (issue 10, MVEE): every event is parsed natively (in its pku or none domain) and
// by the wasm parser, and their outputs are compared before root acts on either. Here one variant
// is made to disagree on purpose (REMCACHED_TEST_CROSS_TAMPER, tests only: the wasm variant's
// D_AUX of one op is off by one, as a corrupted variant that does not crash would be): the
// divergence closes that connection and is counted; other clients and the keys are unaffected.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, startRemcached, type Server } from '../helpers/server.ts';
import { Victim, changedItems, makeItems, sleep, stats, storeItems } from '../isolation/helpers.ts';
import { abi } from '../../native/index.ts';

test('cross-check: a divergence closes only that connection, is counted; keys, PID, other clients intact', async () => {
  let srv: Server | null = null;
  try {
    srv = await startRemcached(['--cross-check', '--enable-fault-injection'],
      { ...process.env, REMCACHED_TEST_CROSS_TAMPER: String(abi.OP.VERSION) });
    const s0 = await stats(srv.port);
    const items = makeItems(100, 'cross');
    await storeItems(srv.port, items);
    const victim = await Victim.start(srv.port, items);
    await sleep(30);
    for (let i = 0; i < 5; i++) {
      const a = await Conn.open(srv.port);
      a.send('version\r\n');
      const got = await a.until(() => false, 2000).catch(() => null);
      assert.ok(a.closed, 'diverging connection not closed');
      assert.ok(!got || got.length === 0, `diverging connection got ${got}`);
      a.close();
    }
    // a native fault is still a fault (the native variant runs first)
    const f = await Conn.open(srv.port);
    f.send('debug_fault 7\r\n');
    await f.until(() => false, 2000).catch(() => null);
    assert.ok(f.closed);
    await sleep(30);
    const v = await victim.stop();
    assert.equal(v.errors, []);
    assert.ok(v.batches >= 3, `victim made only ${v.batches} batches`);
    const s1 = await stats(srv.port);
    assert.is(s1.get('pid'), s0.get('pid'));
    assert.is(Number(s1.get('parser_divergences')) - Number(s0.get('parser_divergences')), 5);
    assert.is(Number(s1.get('parser_faults_segv')) - Number(s0.get('parser_faults_segv')), 1);
    assert.equal(await changedItems(srv.port, items), []);
    const log = await srv.logged(/"divergence":"descriptor words"/);
    assert.match(log, /parser variants diverged \(native and wasm\); connection closed/);
    assert.match(log, /"divergence":"descriptor words"/);
  } finally {
    await srv?.stop();
  }
});

test('cross-check without tampering: text, meta and binary traffic, no divergence', async () => {
  let srv: Server | null = null;
  try {
    srv = await startRemcached(['--cross-check']);
    const items = makeItems(200, 'cross-ok');
    await storeItems(srv.port, items);
    const victim = await Victim.start(srv.port, items);
    const c = await Conn.open(srv.port);
    c.send('ms m1 2 T0 F5\r\nhi\r\nmg m1 v f t c s k\r\nma nope\r\nmn\r\nstats slabs x\r\nincr cross-ok:1 1\r\nget ' +
      Array.from({ length: 300 }, (_, i) => `cross-ok:${i % 200}`).join(' ') + '\r\n');
    await c.untilEndsWith('END\r\n', 5000);
    c.close();
    const b = await Conn.open(srv.port); // binary: get of a key, then noop
    const hdr = (op: number, key: string) => { const h = Buffer.alloc(24); h[0] = 0x80; h[1] = op; h.writeUInt16BE(key.length, 2); h.writeUInt32BE(key.length, 8); return Buffer.concat([h, Buffer.from(key)]); };
    b.send(Buffer.concat([hdr(0x00, 'cross-ok:3'), hdr(0x0a, '')]));
    await b.until((x) => x.length >= 48, 5000);
    b.close();
    await sleep(50);
    const v = await victim.stop();
    assert.equal(v.errors, []);
    const s = await stats(srv.port);
    assert.is(s.get('parser_divergences'), '0');
    assert.is(s.get('parser_invalid'), '0');
  } finally {
    await srv?.stop();
  }
});

test.run();
