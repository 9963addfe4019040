// pymemcache (Debian's python3-pymemcache, 3.5) end to end: test/clients/pymemcache_workout.py
// makes every cache call it has (set/get/get_many/gets/gets_many/cas/add/replace/append/prepend/
// incr/decr/touch/delete/delete_many/flush_all/stats/version, noreply, expiry, values at the
// 1 MiB item limit) through Client against one server and through HashClient against two, once
// against remcached and once against memcached 1.6.18 (fresh servers each time); the two results
// must be equal, call by call.
import { suite, anyOf } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Conn, NO_MEMCACHED, ROOT, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

const SCRIPT = join(ROOT, 'test', 'clients', 'pymemcache_workout.py');

/** A python3 that imports pymemcache: Debian's package is for /usr/bin/python3, which another
 * python3 earlier on PATH (pyenv, a venv) does not see. */
const PYTHON = ['/usr/bin/python3', 'python3'].find((py) =>
  spawnSync(py, ['-c', 'import pymemcache'], { stdio: 'ignore', timeout: 20_000 }).status === 0);
const NO_PYMEMCACHE = PYTHON ? null : 'pymemcache not importable by python3 (apt-get install python3-pymemcache)';

type Result = Array<[string, unknown]>;

function workout(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON!, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`pymemcache_workout.py ${args.join(' ')} exited ${code}: ${err}`));
      try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`not JSON: ${out.slice(0, 500)} ${err}`)); }
    });
  });
}

/** Run the workout against fresh servers made by `start`. */
async function against(start: () => Promise<Server>, mode: 'client' | 'hash'): Promise<{ result: Result; spread: number[] }> {
  const servers = [await start(), ...(mode === 'hash' ? [await start()] : [])];
  try {
    const result = await workout([mode, ...servers.map((s) => String(s.port))]);
    // how many of HashClient's 40 spread:N keys each server holds (asked directly)
    const spread: number[] = [];
    if (mode === 'hash') {
      for (const s of servers) {
        const c = await Conn.open(s.port);
        c.send(`get ${Array.from({ length: 40 }, (_, i) => `spread:${i}`).join(' ')}\r\n`);
        const r = (await c.untilEndsWith('END\r\n')).toString();
        c.close();
        spread.push((r.match(/^VALUE /gm) ?? []).length);
      }
    }
    return { result, spread };
  } finally {
    for (const s of servers) await s.stop();
  }
}

function sameCalls(r: Result, m: Result): void {
  assert.equal(r.map(([n]) => n), m.map(([n]) => n), 'the same calls ran');
  for (let i = 0; i < m.length; i++) assert.equal(r[i]![1], m[i]![1], `${m[i]![0]}: remcached and memcached differ`);
}

const test = suite('pymemcache against remcached and memcached 1.6.18', { skip: anyOf(NO_PYMEMCACHE, NO_MEMCACHED), timeoutMs: 120_000 });

test('Client: every call answers as with memcached', async () => {
  const r = await against(() => startRemcached(), 'client');
  const m = await against(() => startMemcached(), 'client');
  sameCalls(r.result, m.result);
  const get = (res: Result, name: string) => res.find(([n]) => n === name)?.[1];
  // spot checks that the workout tested something
  assert.is(get(r.result, 'get after append/prepend'), '<v2>');
  assert.equal(get(r.result, 'set over 1 MiB'), { raised: 'MemcacheServerError', message: "b'object too large for cache'" });
  assert.equal((get(r.result, 'get near 1 MiB') as { bytes: number }).bytes, 1024 * 1024 - 512);
  assert.is(get(r.result, 'version'), '1.6.18');
  assert.ok((get(r.result, 'stats names') as string[]).length > 50, 'stats compared field by field');
});

test('HashClient over two servers: every call answers as with memcached, keys on both', async () => {
  const r = await against(() => startRemcached(), 'hash');
  const m = await against(() => startMemcached(), 'hash');
  sameCalls(r.result, m.result);
  assert.is(r.spread.reduce((a, b) => a + b, 0), 40, 'each key on one server');
  assert.ok(r.spread.every((n) => n > 0), `keys on both remcached (${r.spread})`);
});

test.run();
