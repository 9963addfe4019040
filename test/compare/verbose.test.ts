// -vv against memcached 1.6.18: the same requests on both servers, the per-command and
// connection lines on stderr compared once fd numbers are masked (and, in binary response
// dumps, the CAS words: memcached dumps a get's header before it fills the CAS in). Lines that
// are not memcached's (remcached's own JSON log lines) are left out; the slab class table printed
// at start is compared on its own.
import { suite } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, NO_MEMCACHED, startMemcached, startRemcached, type Server } from '../helpers/server.ts';
import { isolationArgs } from './harness.ts';

const test = suite('-vv', { skip: NO_MEMCACHED, timeoutMs: 60_000 });

const bin = (op: number, key: string, extras: Buffer = Buffer.alloc(0), value = ''): Buffer => {
  const k = Buffer.from(key, 'latin1'), v = Buffer.from(value, 'latin1');
  const h = Buffer.alloc(24);
  h[0] = 0x80; h[1] = op; h.writeUInt16BE(k.length, 2); h[4] = extras.length;
  h.writeUInt32BE(extras.length + k.length + v.length, 8);
  return Buffer.concat([h, extras, k, v]);
};
const arith = (delta: bigint, initial: bigint) => { const e = Buffer.alloc(20); e.writeBigUInt64BE(delta, 0); e.writeBigUInt64BE(initial, 8); return e; };

/** memcached's lines of stderr from `from` on, fds masked; control characters as remcached
 *  writes them (\xNN: memcached writes them raw, which lets a key drive the terminal) */
function lines(s: Server, from: number): string[] {
  return s.stderr().slice(from).replace(/[\x00-\x09\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).split('\n')
    .filter((l) => l !== '' && !l.startsWith('{') && !l.startsWith('slab class'))
    .map((l) => l.replace(/^([<>])\d+/, '$1F').replace(/^\d+:/, 'F:'));
}

/** binary response dumps: the last two lines of each are the CAS */
function maskCas(ls: string[]): string[] {
  const out = [...ls];
  for (let i = 0; i < out.length; i++) {
    if (out[i] === '>F Writing bin response:' && i + 6 < out.length) { out[i + 5] = '>F   (cas)'; out[i + 6] = '>F   (cas)'; }
  }
  return out;
}

async function run(s: Server, steps: Array<string | Buffer>): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 300)); // the start-up probe's connection has closed
  const from = s.stderr().length;
  const c = await Conn.open(s.port);
  for (const step of steps) { c.send(step); await c.settle(50); }
  c.sock.end();
  await c.closedWithin(5000);
  // the close line follows the client's FIN
  const deadline = Date.now() + 3000;
  while (!s.stderr().slice(from).includes('connection closed.') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return lines(s, from);
}

async function both(args: string[], steps: Array<string | Buffer>, binary = false): Promise<string[]> {
  const [r, m] = await Promise.all([startRemcached([...isolationArgs(), '-U', '0', '-t', '1', ...args]), startMemcached(args)]);
  try {
    let [rl, ml] = await Promise.all([run(r, steps), run(m, steps)]);
    if (binary) { rl = maskCas(rl); ml = maskCas(ml); }
    assert.equal(rl, ml);
    assert.not.ok(/[\x00-\x09\x0b-\x1f]/.test(r.stderr()), 'a control character reached remcached\'s stderr');
    return rl;
  } finally { await Promise.all([r.stop(), m.stop()]); }
}

test('text commands: <fd line, >fd reply, NOREPLY, sending key, CAS failure, connection lines', async () => {
  const ls = await both(['-vv'], [
    'set a 0 0 1 noreply\r\nx\r\n', 'get a b\r\n', 'delete zz noreply\r\n', 'incr zz 1\r\n', 'mg a v\r\n', 'mg zz\r\n',
    'ms c 1\r\nx\r\n', 'ms c 1 q\r\nx\r\n', 'ms c 1 Z\r\nx\r\n', 'md c q\r\n', 'mn\r\n', 'me a\r\n', 'ma zz\r\n',
    'stats settings\r\n', 'stats detail dump\r\n', 'stats detail on\r\n', 'version\r\n', 'verbosity 2\r\n', 'flush_all noreply\r\n',
    'bogus\r\n', `get ${'k'.repeat(251)}\r\n`, 'set a 0 0 z\r\n', 'watch foo\r\n', 'set b 0 0 1\r\nx\r\n', 'touch b 100\r\n',
    'gat 0 b\r\n', 'gets b\r\n', 'cas b 0 0 1 1\r\ny\r\n', 'append b 0 0 1\r\nz\r\n', 'incr b 1\r\n', 'set n 0 0 1\r\n1\r\n',
    'incr n 5\r\n', 'incr n 5 noreply\r\n', 'set s 0 0 5\r\nab', 'cde\r\n', 'set ctl\x01\x1b[2J 0 0 1\r\nx\r\n', 'set big 0 0 2000000\r\n',
  ]);
  assert.ok(ls.includes('<F new auto-negotiating client connection'), ls.join('\n'));
  assert.ok(ls.includes('>F NOREPLY STORED'));
  assert.ok(ls.includes('<F set ctl\\x01\\x1b[2J 0 0 1'), 'the key\'s control characters, escaped');
});

test('binary commands: header dumps, GET/SET/Deleting/incr lines, errors', async () => {
  const se = Buffer.alloc(8);
  await both(['-vv'], [
    bin(0x01, 'bk', se, 'vv'), bin(0x00, 'bk'), bin(0x00, 'no'), bin(0x0c, 'no'), bin(0x09, 'no'), bin(0x02, 'bk', se, 'x'),
    bin(0x05, 'ctr', arith(1n, 7n)), bin(0x06, 'ctr', arith(2n, 0n)), bin(0x04, 'bk'), bin(0x04, 'bk'), bin(0x0a, ''),
    bin(0x1c, 'ctr', Buffer.alloc(4)), bin(0x0b, ''), bin(0x07, ''),
  ], true);
});

test('-B ascii and -B binary say so on a new connection; -v prints no per-command lines', async () => {
  await both(['-vv', '-B', 'ascii'], ['set a 0 0 1\r\nx\r\n', 'get a\r\n']);
  await both(['-vv', '-B', 'binary'], [bin(0x0a, '')], true);
  const ls = await both(['-v'], ['set a 0 0 1\r\nx\r\n', 'get a\r\n']);
  assert.equal(ls, []);
});

test('verbosity N turns the lines on and off at run time', async () => {
  await both([], ['get a\r\n', 'verbosity 2\r\n', 'set a 0 0 1\r\nx\r\n', 'get a\r\n', 'verbosity 0\r\n', 'get a\r\n']);
});

/** the `slab class` lines a server printed at start */
const table = (s: Server) => s.stderr().split('\n').filter((l) => l.startsWith('slab class '));

test('-vv at start: the slab class table, memcached\'s for -f -n -I -C -L -o slab_chunk_max -o slab_sizes', async () => {
  // up to slab_chunk_max, the last class; larger items are chunked on both servers
  for (const args of [[], ['-f', '2'], ['-f', '1.05'], ['-n', '16'], ['-n', '200'], ['-I', '512k'], ['-C'], ['-L'],
    ['-o', 'slab_chunk_max=16384'], ['-o', 'slab_chunk_max=131072', '-I', '1m'], ['-o', 'no_modern'], ['-vv', '-f', '3', '-n', '100'],
    ['-f', '1.01', '-n', '5'], ['-o', 'slab_sizes=100-200-300'], ['-o', 'slab_sizes=48--1000-60000-'], ['-o', 'slab_sizes=100-200,slab_chunk_max=1024']]) {
    const [r, m] = await Promise.all([startRemcached([...isolationArgs(), '-U', '0', '-t', '1', '-vv', ...args]), startMemcached(['-vv', ...args])]);
    try {
      const rt = table(r), mt = table(m);
      assert.ok(mt.length > 0, args.join(' '));
      assert.equal(rt, mt, `${args.join(' ')}:\n${rt.join('\n')}\n--- memcached:\n${mt.join('\n')}`);
    } finally { await Promise.all([r.stop(), m.stop()]); }
  }
});

test('-o slab_sizes: items land in the same classes, stats slabs as memcached\'s', async () => {
  const args = ['-o', 'slab_sizes=100-200-300'];
  const [r, m] = await Promise.all([startRemcached([...isolationArgs(), '-U', '0', '-t', '1', ...args]), startMemcached(args)]);
  try {
    const slabs = async (srv: Server) => {
      const c = await Conn.open(srv.port);
      // 30, 120 and 230 bytes: classes 1-3 (104, 200, 304); 5000: slab_chunk_max's class 4
      for (const [i, n] of [30, 120, 230, 5000, 31].entries()) c.send(`set k${i} 0 0 ${n}\r\n${'v'.repeat(n)}\r\n`);
      await c.until((b) => b.toString('latin1').split('STORED').length > 5, 5000);
      c.send('stats slabs\r\n');
      const out = (await c.untilEndsWith('END\r\n')).toString('latin1');
      c.close();
      return out.split('\r\n').filter((l) => /^STAT \d+:(chunk_size|chunks_per_page|used_chunks|total_pages) /.test(l));
    };
    const [rs, ms] = await Promise.all([slabs(r), slabs(m)]);
    assert.ok(ms.length > 0);
    assert.equal(rs, ms);
  } finally { await Promise.all([r.stop(), m.stop()]); }
});

test('-I above 1m: memcached\'s table (1 MiB pages, items above slab_chunk_max chunked)', async () => {
  for (const args of [['-I', '2m'], ['-I', '4m', '-o', 'slab_chunk_max=262144']]) {
    const [r, m] = await Promise.all([startRemcached([...isolationArgs(), '-U', '0', '-t', '1', '-vv', '-m', '64', ...args]), startMemcached(['-vv', '-m', '64', ...args])]);
    try {
      const rt = table(r), mt = table(m);
      assert.ok(mt.length > 0, args.join(' '));
      assert.equal(rt, mt, args.join(' '));
    } finally { await Promise.all([r.stop(), m.stop()]); }
  }
});

test('-vv at start with -t 4: the table once', async () => {
  const r = await startRemcached([...isolationArgs(), '-U', '0', '-t', '4', '-vv']);
  try {
    const rt = table(r);
    assert.is(rt.length, new Set(rt).size, rt.join('\n'));
    assert.ok(rt.length > 30);
  } finally { await r.stop(); }
});

test('-v: cache_memlimit prints `maxbytes adjusted to Nm`; not below -v, not when refused', async () => {
  const steps = ['cache_memlimit 100\r\n', 'cache_memlimit 4\r\n', 'cache_memlimit 2000000000\r\n', 'cache_memlimit 80 noreply\r\n', 'cache_memlimit x\r\n'];
  const v = await both(['-v'], steps);
  assert.equal(v, ['maxbytes adjusted to 100m', 'maxbytes adjusted to 80m']);
  const vv = await both(['-vv'], steps);
  assert.ok(vv.includes('maxbytes adjusted to 100m'), vv.join('\n'));
  assert.equal(await both([], steps), []);
});

test('UDP: the same lines, with the UDP socket\'s fd', async () => {
  const { freePort } = await import('../helpers/server.ts');
  const dgram = await import('node:dgram');
  const [pr, pm] = [await freePort(), await freePort()];
  const [r, m] = await Promise.all([startRemcached([...isolationArgs(), '-t', '1', '-vv', '-U', String(pr)]), startMemcached(['-vv', '-U', String(pm)])]);
  try {
    const got = await Promise.all([[r, pr], [m, pm]].map(async ([s, port]) => {
      const srv = s as Server;
      await new Promise((res) => setTimeout(res, 300));
      const from = srv.stderr().length;
      const sock = dgram.createSocket('udp4');
      const frame = (id: number, body: string) => Buffer.concat([Buffer.from([id >> 8, id & 255, 0, 0, 0, 1, 0, 0]), Buffer.from(body)]);
      for (const [i, body] of ['set u 0 0 1\r\nx\r\n', 'get u v\r\n', 'delete v noreply\r\n', 'version\r\n'].entries()) {
        await new Promise<void>((res) => sock.send(frame(i, body), port as number, '127.0.0.1', () => res()));
        await new Promise((res) => setTimeout(res, 100));
      }
      sock.close();
      return lines(srv, from).filter((l) => !l.includes('send buffer was'));
    }));
    assert.equal(got[0], got[1]);
    assert.ok(got[0]!.includes('>F sending key u'));
  } finally { await Promise.all([r.stop(), m.stop()]); }
});

test.run();
