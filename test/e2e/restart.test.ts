// -e PATH, memcached's restartable cache (server/restart.ts, native/store/store_persist.c): the
// same scenarios run against remcached (-t 4, the default, and -t 1) and Debian's memcached
// 1.6.18, and their observable results are compared:
//  - a graceful stop (SIGUSR1, or `shutdown graceful`) and a start with the same settings bring
//    back the same items (`gets`: flags, value, CAS), minus those whose TTL ran out while down;
//    remaining TTLs kept counting; the hash table's size (hash_power_level) is what it was;
//  - SIGTERM or SIGKILL and a restart: an empty cache;
//  - an empty or garbage PATH.meta: refused by SIGABRT, memcached's words on stderr;
//  - other settings (-m): an empty cache, memcached's words, PATH.meta deleted.
// remcached alone (memcached's PATH is its slab memory, not comparable): a truncated, corrupted
// or foreign PATH gives an empty cache and says why, never a wrong item.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execPath } from 'node:process';
import { Conn, NO_MEMCACHED, REMCACHED_MAIN, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

type Kind = 'remcached' | 'remcached -t 1' | 'memcached';
const KINDS: Kind[] = ['remcached', 'remcached -t 1', 'memcached'];
const skipFor = (k: Kind) => (k === 'memcached' ? NO_MEMCACHED : null);

let seq = 0;
const files: string[] = [];
/** a fresh PATH; world-writable directory, as memcached runs as nobody here */
function memPath(): string {
  const p = join(tmpdir(), `remc-restart-${process.pid}-${++seq}`);
  files.push(p, `${p}.meta`);
  return p;
}
test.after(() => { for (const f of files) rmSync(f, { force: true }); });

const running: Server[] = [];
test.after(async () => { for (const s of running) await s.stop().catch(() => undefined); });

function start(kind: Kind, args: string[]): Promise<Server> {
  const p = kind === 'memcached' ? startMemcached(args) : startRemcached(kind === 'remcached -t 1' ? ['-t', '1', ...args] : args);
  return p.then((s) => { running.push(s); return s; });
}

/** Send a signal and wait (bounded) for the exit. */
async function signalAndWait(s: Server, sig: NodeJS.Signals): Promise<{ code: number | null; signal: string | null }> {
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) resolve({ code: s.proc.exitCode, signal: s.proc.signalCode });
    s.proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  s.proc.kill(sig);
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([exited, new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`no exit within 10 s of ${sig}: ${s.stderr()}`)), 10_000);
  })]).finally(() => clearTimeout(t));
  return r;
}

/** memcached reuses the cache only once the clock has moved past the stop's second. */
async function nextSecond(): Promise<void> {
  const now = Date.now();
  await new Promise((r) => setTimeout(r, 1000 - (now % 1000) + 50));
}
/** until `short` (TTL 2 s, stored by fill) has surely run out, and a new second has begun */
async function shortExpired(): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.max(0, filledAt + 3100 - Date.now())));
  await nextSecond();
}

async function cmd(c: Conn, line: string, end = 'END\r\n'): Promise<string> {
  c.send(line);
  return (await c.untilEndsWith(end, 10_000)).toString('latin1');
}
async function stat(c: Conn, name: string, sub = ''): Promise<string | undefined> {
  const r = await cmd(c, `stats${sub ? ` ${sub}` : ''}\r\n`);
  return new RegExp(`^STAT ${name} (.*)\r$`, 'm').exec(r)?.[1];
}

const KEYS = 'gets keep flagged big short long';
/** items of each kind; `short` expires while the server is down */
let filledAt = 0;
async function fill(c: Conn): Promise<string> {
  const big = 'b'.repeat(300_000);
  filledAt = Date.now();
  c.send('set keep 0 0 5\r\nhello\r\nset flagged 4294967295 0 3\r\nabc\r\n' +
    `set big 7 0 ${big.length}\r\n${big}\r\nset short 0 2 1\r\ns\r\nset long 1 1000 4\r\nlong\r\n`);
  await c.until((b) => (b.toString('latin1').match(/STORED\r\n/g) ?? []).length === 5, 10_000);
  return cmd(c, `${KEYS}\r\n`);
}
/** the reply without the `short` item: what must come back */
const withoutShort = (r: string) => r.replace(/VALUE short [^\r]*\r\ns\r\n/, '');

/** Every scenario's observable results, per server, compared at the end. */
const seen: Record<string, Partial<Record<Kind, unknown>>> = {};
const note = (what: string, kind: Kind, v: unknown) => { (seen[what] ??= {})[kind] = v; };

for (const kind of KINDS) {
  test(`${kind}: SIGUSR1 and a restart bring back the items, CAS values, remaining TTLs and hash power`, async () => {
    const path = memPath();
    // -o hashpower=12: a table that grows after 6 144 items rather than 98 304
    const args = ['-e', path, '-o', 'hashpower=12'];
    let s = await start(kind, args);
    let c = await Conn.open(s.port);
    assert.is(await stat(c, 'memory_file', 'settings'), path);
    const before = await fill(c);
    let batch = '';
    for (let i = 0; i < 7000; i++) batch += `set z${i} 0 0 1 noreply\r\nz\r\n`;
    c.send(batch);
    assert.is(await cmd(c, 'mn\r\n', 'MN\r\n'), 'MN\r\n');
    const deadline = Date.now() + 10_000;
    let hp = await stat(c, 'hash_power_level');
    while (hp !== '13' && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 100)); hp = await stat(c, 'hash_power_level'); }
    assert.is(hp, '13', 'the table grew');
    batch = '';
    for (let i = 0; i < 7000; i++) batch += `delete z${i} noreply\r\n`;
    c.send(batch);
    assert.is(await cmd(c, 'mn\r\n', 'MN\r\n'), 'MN\r\n');
    const stopped = await signalAndWait(s, 'SIGUSR1');
    assert.equal(stopped, { code: 0, signal: null });
    assert.ok(existsSync(`${path}.meta`), 'PATH.meta written');
    await shortExpired(); // `short` runs out while the server is down

    s = await start(kind, args);
    c = await Conn.open(s.port);
    assert.not.ok(existsSync(`${path}.meta`), 'PATH.meta read once, then deleted');
    assert.is(await stat(c, 'hash_power_level'), '13', 'hash power restored');
    const after = await cmd(c, `${KEYS}\r\n`);
    assert.is(after, withoutShort(before), 'same items, flags and CAS values; `short` expired');
    const ttl = /^HD t(\d+)\r\n$/.exec(await cmd(c, 'mg long t\r\n', '\r\n'));
    assert.ok(ttl && Number(ttl[1]) <= 997 && Number(ttl[1]) >= 900, `remaining TTL kept counting: ${ttl?.[1]}`);
    // new items take CAS values after the restored ones
    const cas = await cmd(c, 'set new 0 0 1\r\nn\r\ngets new\r\n');
    const short = (r: string) => r.replace(/b{300000}/, '<300000 b>');
    note('round trip', kind, { before: short(before), after: short(after), hashpower: '13', newCas: /VALUE new 0 1 (\d+)/.exec(cas)?.[1] });
    c.close();
    await signalAndWait(s, 'SIGTERM');
  }, { skip: skipFor(kind), timeoutMs: 60_000 });

  test(`${kind}: SIGTERM, SIGKILL: nothing saved, the restart is empty`, async () => {
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      const path = memPath();
      let s = await start(kind, ['-e', path]);
      let c = await Conn.open(s.port);
      await fill(c);
      await signalAndWait(s, sig);
      assert.not.ok(existsSync(`${path}.meta`), `${sig}: no PATH.meta`);
      await nextSecond();
      s = await start(kind, ['-e', path]);
      c = await Conn.open(s.port);
      assert.is(await cmd(c, `${KEYS}\r\n`), 'END\r\n', `${sig}: empty`);
      assert.match(s.stderr(), '[restart] no metadata save file, starting with a clean cache\n');
      c.close();
      await signalAndWait(s, 'SIGKILL');
    }
  }, { skip: skipFor(kind), timeoutMs: 60_000 });

  test(`${kind}: \`shutdown graceful\` saves as SIGUSR1 does`, async () => {
    const path = memPath();
    let s = await start(kind, ['-e', path, '-A']);
    let c = await Conn.open(s.port);
    const before = await fill(c);
    c.send('shutdown graceful\r\n');
    const exited = await signalAndWait(s, 'SIGCONT'); // waits for the exit the command causes
    assert.equal(exited, { code: 0, signal: null });
    await shortExpired();
    s = await start(kind, ['-e', path, '-A']);
    c = await Conn.open(s.port);
    assert.is(await cmd(c, `${KEYS}\r\n`), withoutShort(before));
    c.close();
    await signalAndWait(s, 'SIGKILL');
  }, { skip: skipFor(kind), timeoutMs: 60_000 });

  test(`${kind}: other settings at the restart: an empty cache, memcached's words, PATH.meta gone`, async () => {
    const path = memPath();
    let s = await start(kind, ['-e', path, '-m', '128']);
    let c = await Conn.open(s.port);
    await fill(c);
    await signalAndWait(s, 'SIGUSR1');
    await nextSecond();
    s = await start(kind, ['-e', path, '-m', '64']); // memcached preallocates: at least 39 MB
    c = await Conn.open(s.port);
    assert.is(await cmd(c, `${KEYS}\r\n`), 'END\r\n');
    assert.not.ok(existsSync(`${path}.meta`));
    const words = s.stderr().split('\n').filter((l) => l.startsWith('[restart]'));
    note('mismatch', kind, words);
    c.close();
    await signalAndWait(s, 'SIGKILL');
  }, { skip: skipFor(kind), timeoutMs: 60_000 });

  test(`${kind}: an empty or garbage PATH.meta is refused (SIGABRT) and kept`, () => {
    const out: Record<string, unknown> = {};
    for (const [name, meta] of [['empty', ''], ['garbage', 'hello\nworld\n'], ['key first', 'Kmaxbytes 1\n'],
      ['unknown tag', 'Tnope\n'], ['binary', '\x00\xff\x01T\n']] as const) {
      const path = memPath();
      writeFileSync(`${path}.meta`, meta, { encoding: 'latin1', mode: 0o666 });
      const r = kind === 'memcached'
        ? spawnSync('memcached', ['-u', 'nobody', '-p', '0', '-U', '0', '-e', path], { encoding: 'latin1', timeout: 5000 })
        : spawnSync(execPath, [REMCACHED_MAIN, '-p', '0', '-U', '0', ...(kind === 'remcached -t 1' ? ['-t', '1'] : []), '-e', path],
          { encoding: 'latin1', timeout: 5000 });
      assert.is(r.signal, 'SIGABRT', `${name}: refused by abort (${r.status} ${r.signal}) ${r.stderr}`);
      assert.ok(existsSync(`${path}.meta`), `${name}: kept`);
      out[name] = r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n');
    }
    note('refusals', kind, out);
  }, { skip: skipFor(kind), timeoutMs: 60_000 });
}

test('remcached and memcached agree', () => {
  for (const [what, by] of Object.entries(seen)) {
    if (!by.memcached) continue; // memcached's run was skipped: nothing to compare with
    assert.equal(by.remcached, by.memcached, `${what}: remcached (-t 4) and memcached`);
    assert.equal(by['remcached -t 1'], by.memcached, `${what}: remcached -t 1 and memcached`);
  }
}, { skip: NO_MEMCACHED });

// ---- remcached alone: PATH is its own format ----

/** a saved cache: PATH and PATH.meta as a graceful stop left them */
async function savedCache(): Promise<{ path: string; args: string[] }> {
  const path = memPath();
  const args = ['-t', '1', '-e', path]; // one loop: the file's checks are the same at any -t, and faster to start
  const s = await start('remcached', args);
  const c = await Conn.open(s.port);
  await fill(c);
  c.close();
  await signalAndWait(s, 'SIGUSR1');
  return { path, args };
}

test('remcached: a truncated, corrupted, foreign or oversized PATH gives an empty cache and says why', async () => {
  const damage: Array<[string, (b: Buffer) => Buffer]> = [
    ['truncated', (b) => b.subarray(0, Math.floor(b.length / 2))],
    ['one bit flipped in a value', (b) => { const x = Buffer.from(b); x[x.indexOf('hello') + 1]! ^= 1; return x; }],
    ['empty', () => Buffer.alloc(0)],
    ['foreign', (b) => Buffer.alloc(b.length, 0x41)],
    ['oversized', (b) => Buffer.concat([b, Buffer.alloc(1 << 20)])],
  ];
  const metas: Record<string, string> = {};
  for (const [name, f] of damage) {
    const { path, args } = await savedCache();
    writeFileSync(path, f(readFileSync(path)));
    metas[name] = readFileSync(`${path}.meta`, 'latin1');
    await nextSecond();
    const s = await start('remcached', args);
    const c = await Conn.open(s.port);
    assert.is(await cmd(c, `${KEYS}\r\n`), 'END\r\n', `${name}: empty`);
    assert.match(s.stderr(), /\[restart\] [^\n]+, starting with a clean cache\n/, `${name}: says why`);
    // and serves on as an empty cache
    assert.is(await cmd(c, 'set k 0 0 1\r\nv\r\nget k\r\n'), 'STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n');
    c.close();
    await signalAndWait(s, 'SIGKILL');
  }
  // a PATH that is a directory: memcached's open fails and it aborts; so does remcached
  const dir = tmpdir();
  const r = spawnSync(execPath, [REMCACHED_MAIN, '-p', '0', '-U', '0', '-e', dir], { encoding: 'latin1', timeout: 5000 });
  assert.is(r.signal, 'SIGABRT');
  assert.match(r.stderr, 'failed to open file for mmap: Is a directory');
  assert.ok(statSync(dir).isDirectory());
}, { timeoutMs: 120_000 });

test('remcached: a PATH.meta naming another dump, with a bad value, cut short or oversized gives an empty cache', async () => {
  for (const [name, edit] of [
    ['another dump', (m: string) => m.replace(/Kremcached_dump [0-9a-f]+/, 'Kremcached_dump 1')],
    ['bad CAS', (m: string) => m.replace(/Kcurrent_cas \d+/, 'Kcurrent_cas x')],
    ['missing lines', (m: string) => m.split('\n').slice(0, 5).join('\n')],
    ['oversized', (m: string) => m.replace('Tmain\n', `Tmain\n${'X'.repeat(1 << 20)}\n`)],
  ] as const) {
    const { path, args } = await savedCache();
    writeFileSync(`${path}.meta`, edit(readFileSync(`${path}.meta`, 'latin1')));
    await nextSecond();
    const s = await start('remcached', args);
    const c = await Conn.open(s.port);
    assert.is(await cmd(c, `${KEYS}\r\n`), 'END\r\n', `${name}: empty`);
    assert.match(s.stderr(), '[restart]', name);
    c.close();
    await signalAndWait(s, 'SIGKILL');
  }
}, { timeoutMs: 60_000 });

test.run();
