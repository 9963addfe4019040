// The npm `memcached` client (2.2.2, text protocol) end to end. Its response parser dispatches
// on the first token of every line and fails on anything it does not know, and its version
// parser needs "X.Y.Z" at the end of the version string — so this catches wire-format drift that
// hand-written socket tests miss.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import Memcached from 'memcached';
import type { Server } from '../helpers/server.ts';
import { startTarget, TARGET } from './target.ts';

let srv: Server;
let mc: any;

/** Call a callback-style client method, resolve with its result, reject with its error. */
function call<T = any>(method: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${method} timed out`)), 5000);
    mc[method](...args, (err: Error | undefined, res: T) => {
      clearTimeout(timer);
      if (err) reject(err); else resolve(res);
    });
  });
}
/** Like call(), but for commands whose failure is an answer (NOT_STORED): the error or null. */
function callErr(method: string, ...args: unknown[]): Promise<Error | null> {
  return call(method, ...args).then(() => null, (e: Error) => e);
}

test.before(async () => {
  srv = await startTarget();
  // No retries or reconnect backoff: a failure must surface as a test failure, fast.
  mc = new Memcached(`127.0.0.1:${srv.port}`, { retries: 0, timeout: 3000, failures: 0, idle: 1000, poolSize: 4 });
});

test.after(async () => {
  mc?.end();
  const r = await srv?.stop();
  assert.equal(r?.code, 0, `${TARGET} exit code`);
});

test('set / get / get missing', async () => {
  assert.is(await call('set', 'k:plain', 'hello world', 0), true);
  assert.is(await call('get', 'k:plain'), 'hello world');
  assert.is(await call('get', 'k:missing'), undefined);
});

test('values round-trip: empty, UTF-8, 900 KiB, JSON (flags 2), number (flags 8), Buffer (flags 4)', async () => {
  assert.is(await call('set', 'k:empty', '', 0), true);
  assert.is(await call('get', 'k:empty'), '');
  const utf8 = 'grüße € 日本 \u{1F600}';
  assert.is(await call('set', 'k:utf8', utf8, 0), true);
  assert.is(await call('get', 'k:utf8'), utf8);
  const big = 'x'.repeat(900 * 1024);
  assert.is(await call('set', 'k:big', big, 0), true);
  assert.is(await call('get', 'k:big'), big);
  const obj = { a: 1, b: ['two', 3], c: { d: null } };
  assert.is(await call('set', 'k:json', obj, 0), true);
  assert.equal(await call('get', 'k:json'), obj);
  assert.is(await call('set', 'k:num', 42.5, 0), true);
  assert.is(await call('get', 'k:num'), 42.5);
  // The client sends Buffers as 'binary' strings but measures them as UTF-8: keep them ASCII.
  assert.is(await call('set', 'k:buf', Buffer.from('raw bytes'), 0), true);
  const b = await call<Buffer>('get', 'k:buf');
  assert.ok(Buffer.isBuffer(b));
  assert.is(b.toString(), 'raw bytes');
});

test('add / replace', async () => {
  await call('del', 'k:add').catch(() => {});
  assert.is(await call('add', 'k:add', 'first', 0), true);
  const e = await callErr('add', 'k:add', 'second', 0);
  assert.ok(e && (e as any).notStored, 'add of an existing key is NOT_STORED');
  assert.is(await call('get', 'k:add'), 'first');
  const r = await callErr('replace', 'k:nope', 'v', 0);
  assert.ok(r && (r as any).notStored, 'replace of a missing key is NOT_STORED');
  assert.is(await call('replace', 'k:add', 'replaced', 0), true);
  assert.is(await call('get', 'k:add'), 'replaced');
});

test('append / prepend', async () => {
  assert.is(await call('set', 'k:ap', 'middle', 0), true);
  assert.is(await call('append', 'k:ap', '>end'), true);
  assert.is(await call('prepend', 'k:ap', 'start<'), true);
  assert.is(await call('get', 'k:ap'), 'start<middle>end');
  const e = await callErr('append', 'k:ap-missing', 'x');
  assert.ok(e && (e as any).notStored, 'append to a missing key is NOT_STORED');
});

test('gets / cas: matching CAS stores, stale CAS is refused', async () => {
  assert.is(await call('set', 'k:cas', 'v1', 0), true);
  const g = await call<any>('gets', 'k:cas');
  assert.is(g['k:cas'], 'v1');
  assert.match(String(g.cas), /^\d+$/);
  assert.is(await call('cas', 'k:cas', 'v2', g.cas, 0), true);
  assert.is(await call('get', 'k:cas'), 'v2');
  // Same (now stale) CAS again: EXISTS, which the client reports as false.
  assert.is(await call('cas', 'k:cas', 'v3', g.cas, 0), false);
  assert.is(await call('get', 'k:cas'), 'v2');
  const g2 = await call<any>('gets', 'k:cas');
  assert.is.not(String(g2.cas), String(g.cas), 'a store changes the CAS');
});

test('incr / decr', async () => {
  assert.is(await call('set', 'k:n', '10', 0), true);
  assert.is(await call('incr', 'k:n', 5), 15);
  assert.is(await call('decr', 'k:n', 20), 0, 'decr floors at 0');
  assert.is(await call('set', 'k:n', '18446744073709551610', 0), true);
  assert.is(await call('incr', 'k:n', 10), 4, 'incr wraps at 2^64');
  assert.is(await call('incr', 'k:n-missing', 1), false, 'NOT_FOUND');
});

test('del / touch', async () => {
  assert.is(await call('set', 'k:del', 'v', 0), true);
  assert.is(await call('del', 'k:del'), true);
  assert.is(await call('del', 'k:del'), false, 'second delete is NOT_FOUND');
  assert.is(await call('get', 'k:del'), undefined);
  assert.is(await call('set', 'k:touch', 'v', 100), true);
  assert.is(await call('touch', 'k:touch', 1000), true);
  assert.is(await call('touch', 'k:touch-missing', 1000), false);
  assert.is(await call('get', 'k:touch'), 'v');
});

test('getMulti returns hits only', async () => {
  const keys = Array.from({ length: 50 }, (_, i) => `k:multi:${i}`);
  for (const k of keys.slice(0, 40)) await call('set', k, `value of ${k}`, 0);
  const got = await call<Record<string, string>>('getMulti', [...keys, 'k:multi:none']);
  assert.equal(Object.keys(got).sort(), keys.slice(0, 40).sort());
  for (const k of keys.slice(0, 40)) assert.is(got[k], `value of ${k}`);
});

test('400 concurrent requests over the pool', async () => {
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) ops.push(call('set', `k:conc:${i}`, `v${i}`, 0));
  assert.ok((await Promise.all(ops)).every((x) => x === true));
  const got = await Promise.all(Array.from({ length: 200 }, (_, i) => call('get', `k:conc:${i}`)));
  assert.equal(got, Array.from({ length: 200 }, (_, i) => `v${i}`));
});

test('version: the client sees the memcached version remcached claims (1.6.x)', async () => {
  // The client takes the LAST "X.Y.Z" of the version token (/(\d+)\.(\d+)\.(\d+)$/), and
  // applications compare it for feature checks: it must be memcached's version, not ours.
  const [v] = await call<any[]>('version');
  assert.match(v.version, /^1\.6\.\d+$/, `client parsed version ${v.version}`);
  assert.is(Number(v.major), 1);
  assert.is(Number(v.minor), 6);
  if (TARGET === 'memcached') assert.is(v.version, '1.6.18');
});

test('stats / settings / items / slabs parse', async () => {
  const [st] = await call<any[]>('stats');
  for (const k of ['pid', 'uptime', 'time', 'version', 'curr_connections', 'cmd_get', 'cmd_set', 'get_hits', 'curr_items', 'bytes', 'limit_maxbytes', 'evictions']) {
    assert.ok(k in st, `stats has ${k}`);
  }
  assert.is(st.pid, srv.proc.pid);
  assert.ok(st.curr_items > 0 && st.cmd_set > 0);
  const [se] = await call<any[]>('settings');
  assert.is(se.maxbytes, 64 * 1024 * 1024);
  assert.is(se.tcpport, srv.port);
  const [it] = await call<any[]>('items');
  const classes = Object.keys(it).filter((k) => /^\d+$/.test(k));
  assert.ok(classes.length > 0, 'stats items lists at least one slab class');
  for (const c of classes) assert.ok(it[c].number > 0, `items:${c}:number`);
  const [sl] = await call<any[]>('slabs');
  assert.ok(Object.keys(sl).some((k) => /^\d+$/.test(k) && sl[k].chunk_size > 0), 'stats slabs has chunk sizes');
  assert.ok('active_slabs' in sl && 'total_malloced' in sl);
});

test('flush empties the cache', async () => {
  assert.is(await call('set', 'k:flush', 'v', 0), true);
  const r = await call<any[]>('flush');
  assert.equal(r, [true]);
  assert.is(await call('get', 'k:flush'), undefined);
});

test.run();
