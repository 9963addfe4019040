// memjs 1.3.2 (npm; binary protocol only) end to end, without and with SASL (-S): every call it
// has for the cache, and a wrong password refused with the connection closed. Runs against
// remcached; REMC_TEST_TARGET=memcached runs the same against memcached 1.6.18 (Cyrus SASL with a
// sasldb made by saslpasswd2), which is how the expectations were checked.
import { suite } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { Conn, type Server } from '../helpers/server.ts';
import { setupSasl, SASL_PASS, SASL_USER, pkt, OP, parseResponses } from '../compare/seq/binary_harness.ts';
import { startTarget, TARGET } from './target.ts';

interface MemjsClient {
  get(key: string): Promise<{ value: Buffer | null; flags: Buffer | null }>;
  set(key: string, value: string, o?: { expires?: number }): Promise<boolean>;
  add(key: string, value: string, o?: { expires?: number }): Promise<boolean>;
  replace(key: string, value: string, o?: { expires?: number }): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  increment(key: string, amount: number, o?: { initial?: number; expires?: number }): Promise<{ success: boolean; value: number | null }>;
  decrement(key: string, amount: number, o?: { initial?: number; expires?: number }): Promise<{ success: boolean; value: number | null }>;
  append(key: string, value: string): Promise<boolean>;
  prepend(key: string, value: string): Promise<boolean>;
  touch(key: string, expires: number): Promise<boolean>;
  flush(): Promise<Record<string, boolean | Error>>;
  stats(cb: (err: Error | null, server: string, stats: Record<string, string>) => void): void;
  statsWithKey(key: string, cb: (err: Error | null, server: string, stats: Record<string, string>) => void): void;
  close(): void;
}
const memjs = createRequire(import.meta.url)('memjs') as { Client: { create(servers: string, o: object): MemjsClient } };

const quiet = { log: () => {} };
const client = (port: number, creds: { username?: string; password?: string } = {}) =>
  memjs.Client.create(`127.0.0.1:${port}`, { retries: 0, timeout: 2, logger: quiet, ...creds });

const stats = (c: MemjsClient, key = ''): Promise<Record<string, string>> => new Promise((resolve, reject) => {
  c.statsWithKey(key, (err, _server, s) => (err ? reject(err) : resolve(s)));
});

/** Every memjs call, checked against what memcached answers. */
async function workout(c: MemjsClient): Promise<void> {
  assert.ok(await c.set('k', 'v1'), 'set');
  assert.is((await c.get('k')).value?.toString(), 'v1', 'get');
  assert.is((await c.get('missing')).value, null, 'get miss');
  assert.is(await c.add('k', 'x'), false, 'add existing');
  assert.is(await c.add('k2', 'added'), true, 'add new');
  assert.is((await c.get('k2')).value?.toString(), 'added');
  assert.is(await c.replace('nx', 'x'), false, 'replace missing');
  assert.is(await c.replace('k', 'v2'), true, 'replace');
  assert.is((await c.get('k')).value?.toString(), 'v2');
  assert.is(await c.append('k', '>'), true, 'append');
  // memjs 1.3.2 sends APPEND (0x0e) for prepend too: the value ends up appended
  assert.is(await c.prepend('k', '<'), true, 'prepend');
  assert.is((await c.get('k')).value?.toString(), 'v2><');
  await c.append('nx', 'x').then(() => assert.unreachable('append to a missing key'), (e: Error) => assert.match(String(e), /not stored/i));
  let r = await c.increment('n', 5, { initial: 10 });
  assert.equal([r.success, r.value], [true, 10], 'increment creates with initial');
  r = await c.increment('n', 5, {});
  assert.equal([r.success, r.value], [true, 15], 'increment');
  r = await c.decrement('n', 20, {});
  assert.equal([r.success, r.value], [true, 0], 'decrement floors at 0');
  assert.is((await c.get('n')).value?.toString(), '0 ');
  assert.is(await c.touch('k', 100), true, 'touch');
  assert.is(await c.touch('nx', 100), false, 'touch missing');
  assert.is(await c.delete('k2'), true, 'delete');
  assert.is(await c.delete('k2'), false, 'delete missing');
  const s = await stats(c);
  assert.ok(Number(s.curr_items) >= 2 && s.version !== undefined && s.pid !== undefined, 'stats');
  const settings = await stats(c, 'settings');
  assert.ok(settings.maxbytes !== undefined, 'stats settings');
  const flushed = await c.flush();
  assert.ok(Object.values(flushed).every((v) => v === true), 'flush');
  assert.is((await c.get('n')).value, null, 'flushed');
}

const plain = suite(`memjs against ${TARGET}`);
let srv: Server;
plain.before(async () => { srv = await startTarget(); });
plain.after(async () => { await srv?.stop(); });
plain('get set add replace delete increment decrement append prepend touch stats flush', async () => {
  const c = client(srv.port);
  try { await workout(c); } finally { c.close(); }
});
plain('large value and binary-safe keys', async () => {
  const c = client(srv.port);
  try {
    const big = 'x'.repeat(900 * 1024);
    assert.ok(await c.set('big', big));
    assert.is((await c.get('big')).value?.length, big.length);
    assert.ok(await c.set('k\u00e9y', 'v'));
    assert.is((await c.get('k\u00e9y')).value?.toString(), 'v');
  } finally { c.close(); }
});
plain.run();

// remcached reads its users from a file; only memcached needs a sasldb (saslpasswd2)
const memcachedSasl = setupSasl();
const sasl = suite(`memjs with SASL (-S) against ${TARGET}`, { skip: TARGET === 'memcached' ? memcachedSasl : null });
let ssrv: Server | null = null;
sasl.before(async () => { ssrv = await startTarget(['-S']); });
sasl.after(async () => { await ssrv?.stop(); });
sasl('authenticated: every call works', async () => {
  const c = client(ssrv!.port, { username: SASL_USER, password: SASL_PASS });
  try { await workout(c); } finally { c.close(); }
});
sasl('wrong password: refused', async () => {
  const c = client(ssrv!.port, { username: SASL_USER, password: 'wrong' });
  try {
    // memjs rejects with a string: "Memcached server authentication failed!"
    await c.get('k').then(() => assert.unreachable('get succeeded with a wrong password'),
      (e: unknown) => assert.match(String(e), /authentication failed/));
  } finally { c.close(); }
});
sasl('wrong password: the server answers 0x20 and closes on the next command', async () => {
  const c = await Conn.open(ssrv!.port);
  c.send(Buffer.concat([pkt(OP.SASL_AUTH, { key: 'PLAIN', value: `\0${SASL_USER}\0wrong` }), pkt(OP.GET, { key: 'k' })]));
  const reply = await c.settle(200, 3000);
  const { packets } = parseResponses(reply);
  assert.equal(packets.map((p) => [p.opcode, p.status, p.value.toString()]), [[OP.SASL_AUTH, 0x20, 'Auth failure.'], [OP.GET, 0x20, 'Auth failure.']]);
  assert.ok(c.closed, 'connection closed');
});
sasl('no credentials: refused', async () => {
  const c = client(ssrv!.port);
  try {
    await c.get('k').then(() => assert.unreachable('get succeeded without credentials'),
      (e: unknown) => assert.match(String(e), /authentication failed/));
  } finally { c.close(); }
});
sasl.run();
