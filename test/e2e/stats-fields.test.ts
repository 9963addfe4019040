// `stats` and `stats settings` hold memcached 1.6.18's fields and nothing else, in its order
// (exporters and memcached's t/stats.t count them); remcached's own counters and settings are
// the `stats isolation` group (text and binary); flush_all empties curr_items about as fast
// as memcached's crawler does.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, NO_MEMCACHED, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

async function ask(port: number, cmd: string): Promise<Array<[string, string]>> {
  const c = await Conn.open(port);
  c.send(cmd);
  const r = (await c.until((b) => /(END|ERROR)\r\n$/.test(b.toString('latin1')))).toString('latin1');
  c.close();
  return [...r.matchAll(/^STAT (\S+) (.*)\r$/gm)].map((m) => [m[1]!, m[2]!]);
}
const names = (s: Array<[string, string]>) => s.map(([n]) => n);

async function both<T>(args: string[], fn: (rem: Server, mem: Server) => Promise<T>): Promise<T> {
  const [rem, mem] = await Promise.all([startRemcached(args), startMemcached(args)]);
  try { return await fn(rem, mem); } finally { await Promise.all([rem.stop(), mem.stop()]); }
}

for (const args of [['-t', '1'], ['-t', '1', '-o', 'idle_timeout=30'], ['-t', '1', '-o', 'no_modern']]) {
  test(`stats and stats settings: memcached's field names in its order (${args.join(' ')})`, async () => {
    await both(args, async (rem, mem) => {
      assert.equal(names(await ask(rem.port, 'stats\r\n')), names(await ask(mem.port, 'stats\r\n')));
      assert.equal(names(await ask(rem.port, 'stats settings\r\n')), names(await ask(mem.port, 'stats settings\r\n')));
    });
  }, { skip: NO_MEMCACHED });
}

test('stats settings: num_threads, slab_chunk_max and item_size_max as memcached shows them', async () => {
  for (const args of [['-t', '1'], ['-t', '1', '-I', '2m'], ['-t', '1', '-I', '1k', '-o', 'slab_chunk_max=1024']]) {
    await both(args, async (rem, mem) => {
      const r = new Map(await ask(rem.port, 'stats settings\r\n'));
      const m = new Map(await ask(mem.port, 'stats settings\r\n'));
      for (const k of ['num_threads', 'num_threads_per_udp', 'slab_chunk_max', 'item_size_max', 'maxbytes']) {
        assert.is(r.get(k), m.get(k), `${args.join(' ')}: ${k}`);
      }
      const rs = new Map(await ask(rem.port, 'stats\r\n'));
      const ms = new Map(await ask(mem.port, 'stats\r\n'));
      assert.is(rs.get('threads'), ms.get('threads'), `${args.join(' ')}: threads`);
    });
  }
}, { skip: NO_MEMCACHED });

test('stats isolation: remcached\'s own counters and settings, text and binary', async () => {
  const srv = await startRemcached(['--enable-fault-injection']);
  try {
    const s = new Map(await ask(srv.port, 'stats isolation\r\n'));
    for (const k of ['remcached_version', 'isolation', 'isolation_why', 'parser_calls', 'parser_faults', 'parser_invalid',
      'parser_divergences', 'parser_faults_segv', 'parser_faults_timeout', 'offender_slowed', 'watchdog_ms',
      'fault_injection', 'protocol_version', 'fault_root_target', 'store_checksum',
      'domain_pkey', 'domain_pkey_shared', 'domain_pkeys', 'fault_peer_worker', 'fault_peer_word']) {
      assert.ok(s.has(k), `stats isolation has ${k}`);
    }
    const general = names(await ask(srv.port, 'stats\r\n'));
    const settings = names(await ask(srv.port, 'stats settings\r\n'));
    for (const k of s.keys()) {
      assert.not.ok(general.includes(k), `${k} is not in stats`);
      if (k !== 'isolation') assert.not.ok(settings.includes(k), `${k} is not in stats settings`);
    }
    assert.not.ok(settings.includes('isolation'), 'isolation is not in stats settings');
    // binary: opcode 0x10 with key "isolation": one packet per stat, then an empty one
    const key = Buffer.from('isolation');
    const req = Buffer.alloc(24 + key.length);
    req[0] = 0x80; req[1] = 0x10; req.writeUInt16BE(key.length, 2); req.writeUInt32BE(key.length, 8);
    key.copy(req, 24);
    const c = await Conn.open(srv.port);
    c.send(req);
    const got: string[] = [];
    let buf = Buffer.alloc(0);
    for (;;) {
      while (buf.length < 24 || buf.length < 24 + buf.readUInt32BE(8)) buf = Buffer.concat([buf, await c.until((b) => b.length > 0)]);
      const kl = buf.readUInt16BE(2), bl = buf.readUInt32BE(8);
      if (kl === 0) break;
      got.push(buf.toString('latin1', 24, 24 + kl));
      buf = buf.subarray(24 + bl);
    }
    c.close();
    const injection = ['fault_root_target', 'store_checksum', 'fault_peer_worker', 'fault_peer_word'];
    assert.equal(got, [...s.keys()].filter((k) => !injection.includes(k)).concat(injection));
  } finally {
    await srv.stop();
  }
});

test('flush_all: 100 000 items leave curr_items within a second (memcached: a few hundred ms)', async () => {
  const srv = await startRemcached();
  try {
    const c = await Conn.open(srv.port);
    let cmds = '';
    for (let i = 0; i < 100_000; i++) cmds += `set k${i} 0 0 1 noreply\r\nx\r\n`;
    c.send(cmds + 'mn\r\n');
    await c.untilEndsWith('MN\r\n', 30_000);
    c.send('flush_all\r\n');
    await c.untilEndsWith('OK\r\n');
    const t0 = Date.now();
    let items = -1;
    // memcached drains the stat within a second; 3 s leaves room for a loaded machine and still
    // catches the ~10 s of a drain left to the background crawler
    while (Date.now() - t0 < 3000) {
      items = Number(new Map(await ask(srv.port, 'stats\r\n')).get('curr_items'));
      if (items === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    c.close();
    assert.is(items, 0, `curr_items ${items} three seconds after flush_all`);
  } finally {
    await srv.stop();
  }
});
test.run();
