// The harness checks itself: normalisation touches only what the issue allows, a wrong literal
// expectation fails, and real behaviour differences between two memcached configurations are
// caught (so a passing comparison means something). Runs against memcached only.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { NO_MEMCACHED, startMemcached, type Server } from '../helpers/server.ts';
import { Normaliser, compareResults, runSequence, seq, set, type Sequence, type StepResult } from './harness.ts';

const servers: Server[] = [];
const start = async (args: string[] = []) => { const s = await startMemcached(args); servers.push(s); return s; };
test.after(async () => {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.stop()));
});

async function compareTwo(a: Server, b: Server, sq: Sequence, casExact = false) {
  const [ra, rb] = await Promise.all([runSequence(a.port, sq), runSequence(b.port, sq)]);
  return compareResults(sq, ra, rb, casExact);
}

test('normaliser: CAS numbered by first appearance, 0 kept, data blocks opaque', () => {
  const n = new Normaliser();
  const raw = 'VALUE a 0 3 77\r\nabc\r\nVALUE b 1 20 99\r\nVALUE x 0 1 5\r\nSTAT q\r\nVALUE c 0 1 77\r\nz\r\nVALUE d 0 1 0\r\nz\r\nEND\r\n';
  assert.is(n.normalise(raw),
    'VALUE a 0 3 <cas#1>\r\nabc\r\nVALUE b 1 20 <cas#2>\r\nVALUE x 0 1 5\r\nSTAT q\r\nVALUE c 0 1 <cas#1>\r\nz\r\nVALUE d 0 1 0\r\nz\r\nEND\r\n');
  assert.is(new Normaliser(true).normalise('VALUE a 0 1 77\r\nz\r\n'), 'VALUE a 0 1 77\r\nz\r\n', 'casExact keeps numbers');
});

test('normaliser: STAT values, conns fds, version, cachedump time; nothing else', () => {
  const n = new Normaliser();
  assert.is(n.normalise('STAT pid 123\r\nSTAT 23:addr tcp:127.0.0.1:5\r\nSTAT items:1:number 4\r\nEND\r\n'),
    'STAT pid\r\nSTAT <fd>:addr\r\nSTAT items:1:number\r\nEND\r\n');
  assert.is(n.normalise('VERSION 1.6.18\r\nITEM k [1 b; 1700000000 s]\r\n'), 'VERSION <version>\r\nITEM k [1 b; <t> s]\r\n');
  for (const keep of ['STORED\r\n', 'ERROR\r\n', 'CLIENT_ERROR bad data chunk\r\n', '42\r\n', 'VALUE k 0 1\r\n1\r\nEND\r\n', 'OK\r\n', 'partial line']) {
    assert.is(n.normalise(keep), keep);
  }
});

test('compareResults: a reply, a close, or a timeout that differs is reported', () => {
  const sq: Sequence = seq('x', 'version\r\n');
  const r = (reply: string, closed = false, note?: string): StepResult[] => [{ conn: 'main', request: 'x', reply, closed, ...(note ? { note } : {}) }];
  assert.ok(compareResults(sq, r('STORED\r\n'), r('STORED\r\n')).ok);
  assert.not.ok(compareResults(sq, r('STORED\r\n'), r('NOT_STORED\r\n')).ok);
  assert.not.ok(compareResults(sq, r(''), r('', true)).ok, 'close differs');
  assert.not.ok(compareResults(sq, r(''), r('', false, 'timeout waiting for the reply')).ok, 'subject timeout');
  assert.not.ok(compareResults(sq, r('VALUE a 0 1 5\r\nx\r\n'), r('VALUE a 0 1 0\r\nx\r\n')).ok, 'cas 0 vs non-zero');
  assert.not.ok(compareResults(sq, r('VALUE a 0 1 5\r\nx\r\nVALUE b 0 1 5\r\nx\r\n'), r('VALUE a 0 1 5\r\nx\r\nVALUE b 0 1 6\r\nx\r\n')).ok,
    'equal CAS on one side, different on the other');
});

test('a deliberately wrong literal expectation fails against memcached', async () => {
  const m = await start();
  const wrong = seq('wrong', { send: set('a', '1') }, { send: 'get a\r\n', expect: 'VALUE a 0 1\r\n2\r\nEND\r\n' });
  const cmp = await compareTwo(m, m, wrong);
  assert.not.ok(cmp.ok, 'the wrong expectation must fail');
  assert.match(cmp.message, /differs from the literal expectation/);
  const right = seq('right', { send: set('b', '1') }, { send: 'get b\r\n', expect: 'VALUE b 0 1\r\n1\r\nEND\r\n' });
  assert.ok((await compareTwo(m, m, right)).ok, (await compareTwo(m, m, right)).message);
  const closing = seq('closing', { send: 'version\r\n', expectClosed: true });
  assert.not.ok((await compareTwo(m, m, closing)).ok, 'a wrong close expectation fails');
}, { skip: NO_MEMCACHED });

test('real differences between two memcached configurations are caught', async () => {
  const [plain, bigItems, noCas] = await Promise.all([start(), start(['-I', '2m']), start(['-C'])]);
  const big = seq('1.5 MB value', set('big', 'x'.repeat(1_500_000)), 'get big\r\n');
  const c1 = await compareTwo(plain, bigItems, big);
  assert.not.ok(c1.ok, '-I 1m vs -I 2m must differ');
  assert.match(c1.message, /SERVER_ERROR object too large for cache/);
  const gets = seq('gets', set('g', '1'), 'gets g\r\n');
  assert.not.ok((await compareTwo(plain, noCas, gets)).ok, 'CAS normalisation must not hide -C (cas 0)');
  assert.ok((await compareTwo(plain, bigItems, gets)).ok, 'but CAS numbers themselves are normalised');
}, { skip: NO_MEMCACHED });

test.run();
