// ASCII authentication (-Y): hostile and odd inputs, byte-compared with memcached 1.6.18 where it
// answers them (same auth file, same writes), and remcached alone where 1.6.18 crashes or
// misbehaves (a huge token, CVE-2021-37519 file shapes). The 8 basic sequences are in
// test/compare/limits.test.ts (group "ascii auth -Y").
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conn, NO_MEMCACHED, REMCACHED_MAIN, startMemcached, startRemcached, type Server } from '../helpers/server.ts';
import { AUTH_TOKEN_MAX, parseAuthFile, setLineSize, splitToken } from '../../server/ascii-auth.ts';

const dir = mkdtempSync(join(tmpdir(), 'remc-ascii-auth-'));
chmodSync(dir, 0o755); // memcached reads the file as user nobody
const SECRET = 'S3cr3t-never-logged';
const authFile = join(dir, 'auth');
writeFileSync(authFile, `user:pass\nother:secret\nlong:${SECRET}\n`, { mode: 0o644 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UNAUTH = 'CLIENT_ERROR unauthenticated\r\n';

/** Send each part as its own write (gapMs apart); return what came back once quiet, and whether it closed. */
async function talk(port: number, parts: Array<string | Buffer>, gapMs = 40, quietMs = 120): Promise<string> {
  const c = await Conn.open(port);
  for (const [i, p] of parts.entries()) {
    if (i > 0) await sleep(gapMs);
    c.send(p);
  }
  const reply = (await c.settle(quietMs, 8000)).toString('latin1');
  const closed = c.closed;
  c.close();
  return `${JSON.stringify(reply)}${closed ? ' CLOSED' : ''}`;
}

let mc: Server | undefined, rc: Server;
test.before(async () => {
  // without memcached, the tests that compare with it are skipped and the others still run
  [mc, rc] = await Promise.all([NO_MEMCACHED ? undefined : startMemcached(['-Y', authFile]), startRemcached(['-Y', authFile])]);
});
test.after(async () => { await Promise.all([mc?.stop(), rc?.stop()]); });

/** Same writes to both; memcached's answer depends on how its reads fall, so it gets a second try. */
async function same(parts: Array<string | Buffer>, gapMs = 40): Promise<void> {
  const [a, b] = await Promise.all([talk(mc!.port, parts, gapMs), talk(rc.port, parts, gapMs)]);
  if (a === b) return;
  const a2 = await talk(mc!.port, parts, gapMs);
  assert.is(b, a2, `parts ${JSON.stringify(parts.map(String))}`);
}

const K300 = 'k'.repeat(300);
const CASES: Array<Array<string | Buffer>> = [
  // one read event: memcached overwrites its pending pre-auth reply, only the last is sent
  ['get a\r\nversion\r\n\r\nquit\r\nGET / HTTP/1.1\r\nset x 0 0\r\n'],
  ['get a\r\nset x 0 0 9\r\nuser pass\r\nget b\r\n'],
  ['get a\r\nset x 0 0 9\r\nuser', ' pass\r\nget b\r\n'],
  ['add x 0 0 9\r\nuser pass\r\nms k 2\r\nhi\r\n'],
  ['get a\r\n', 'quit\r\n', 'version\r\n'],
  ['GET / HTTP/1.1\r\n', 'version\r\n'],
  ['mn\r\n', 'mg a v\r\n', 'ms k 2\r\nhi\r\n', 'get a b c d\r\n'],
  // what memcached's pre-auth `set` accepts that its normal parser does not
  ['set x abc def 9\r\nuser pass\r\nget a\r\n'],
  ['set x 0 0 9 noreply extra more\r\nuser pass\r\nversion\r\n'],
  ['set x 0 0 9 noreply\r\nuser pass\r\n', 'version\r\n'],
  ['set x 0 0 9 noreply\r\nuser pasx\r\n', 'version\r\n'],
  [`set ${K300} 0 0 9\r\nuser pass\r\n`, 'version\r\n'],
  ['settle x 0 0 9\r\nuser pass\r\n'],
  [' set  x  0  0  9 \r\nuser  pass \r\n'],
  ['set x 0 0 +9\r\nuser pass\r\n', 'version\r\n'],
  ['set x 0 0 9\t\r\nuser pass\r\n', 'version\r\n'],
  ['set x 0 0 -0\r\n\r\n', 'version\r\n'],
  ['set x 0 0 0\r\n\r\n', 'version\r\n'],
  ['set x 0 0 -1\r\n', 'version\r\n'],
  ['set x 0 0 4294967297\r\nu p\r\nversion\r\n'],
  ['set x 0 0 9\nuser pass\r\n'],
  // lone bytes, empty lines
  ['\n'], ['\n\n'], ['\n', '\n'], ['\r\n\r\n\r\n', '\n', 'version\r\n'],
  // NUL bytes in the line and in the token
  ['set x 0 0 10\r\nuser pass\0\r\nversion\r\n'],
  ['set x 0 0 9\r\nuser\0pass\r\n'],
  ['set x 0 0 9\0junk\r\nuser pass\r\nversion\r\n'],
  ['\0\0\0\r\n', 'get \0\r\n'],
  // terminators, token shapes
  ['set x 0 0 9\r\nuser passXX\r\nversion\r\n'],
  ['set x 0 0 9\r\nuser pas', 's\r\nversion\r\n'],
  ['set x 0 0 2\r\n', 'u', 'p', 'x\r\nversion\r\n'],
  ['set x 0 0 9\r\nuser pass\n\nversion\r\n'],
  ['set x 0 0 8\r\nuserpass\r\n', 'get a\r\n'],
  ['set x 0 0 10\r\n user pass\r\n', 'version\r\n'],
  ['set x 0 0 14\r\nuser pass more\r\n', 'version\r\n'],
  ['set x 0 0 9\r\nUser pass\r\n', 'set x 0 0 9\r\nuser Pass\r\n', 'set x 0 0 10\r\nuser pass \r\n'],
  // after auth: the normal protocol, a second auth-looking set is a plain set
  ['set x 0 0 9\r\nuser pass\r\nset x 0 0 9\r\nuser pasx\r\n', 'get x\r\nmn\r\n'],
  // binary clients: -Y makes every connection text (memcached: -B ascii)
  [Buffer.from('800a0000000000000000000000000000000000000000000000', 'hex')],
  [Buffer.from('80010000', 'hex')],
  ['set x 0 0 12\r\nother secret\r\n', Buffer.from('800a0000000000000000000000000000000000000000000a', 'hex')],
  // long lines without '\n' close, get lines too
  ['x'.repeat(3000)], ['get ' + 'x'.repeat(3000)], ['x'.repeat(3000) + '\r\n'],
];

test('hostile pre-auth inputs answer as memcached 1.6.18', async () => {
  for (const parts of CASES) await same(parts);
}, { skip: NO_MEMCACHED });

test('the auth exchange split in two at every byte answers as memcached 1.6.18', async () => {
  const s = 'get a\r\nset x 0 0 9\r\nuser pass\r\nget a\r\n';
  for (let k = 1; k < s.length; k++) await same([s.slice(0, k), s.slice(k)], 30);
}, { skip: NO_MEMCACHED });

test('one byte per write: authenticated, then commands work', async () => {
  const c = await Conn.open(rc.port);
  const s = 'get a\r\nset x 0 0 9\r\nuser pass\r\nset a 0 0 1\r\n1\r\nget a\r\n';
  for (const ch of s) { c.send(ch); await sleep(1); }
  const reply = (await c.untilEndsWith('END\r\n')).toString('latin1');
  assert.is(reply, `${UNAUTH}STORED\r\nSTORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n`);
  c.close();
});

test('huge tokens: auth token too long (1.6.42), no allocation, the connection stays usable', async () => {
  for (const n of ['2147483646', '2147483647', '4294967295', String(AUTH_TOKEN_MAX + 1)]) {
    const c = await Conn.open(rc.port);
    c.send(`set x 0 0 ${n}\r\n`);
    assert.is((await c.untilEndsWith('\r\n')).toString('latin1'), 'CLIENT_ERROR auth token too long\r\n', n);
    c.send('set x 0 0 9\r\nuser pass\r\nversion\r\n');
    assert.is((await c.untilEndsWith('VERSION 1.6.18\r\n')).toString('latin1'), 'STORED\r\nVERSION 1.6.18\r\n', n);
    c.close();
  }
  // exactly the limit is a token: "user pass" and spaces (extra tokens are ignored)
  const c = await Conn.open(rc.port);
  c.send(`set x 0 0 ${AUTH_TOKEN_MAX}\r\n`);
  await sleep(20);
  c.send(`user pass${' '.repeat(AUTH_TOKEN_MAX - 9)}\r\nversion\r\n`);
  assert.is((await c.untilEndsWith('VERSION 1.6.18\r\n')).toString('latin1'), 'STORED\r\nVERSION 1.6.18\r\n');
  c.close();
});

test('runs of empty lines before auth (1.6.44): answered, bounded, then auth works', async () => {
  for (const run of ['\r\n'.repeat(100_000), '\n'.repeat(100_000), ' \r\n'.repeat(50_000)]) {
    const c = await Conn.open(rc.port);
    const t0 = Date.now();
    c.send(run);
    const replies = (await c.settle(150, 10_000)).toString('latin1');
    assert.ok(replies.length > 0 && replies.split(UNAUTH).join('') === '', JSON.stringify(replies.slice(0, 80)));
    assert.ok(Date.now() - t0 < 8000, 'took too long');
    c.send('\nset x 0 0 9\r\nuser pass\r\nmn\r\n');
    assert.is((await c.untilEndsWith('MN\r\n')).toString('latin1'), 'STORED\r\nMN\r\n');
    assert.not.ok(c.closed);
    c.close();
  }
});

test('wrong passwords fail and are counted; a good one then succeeds', async () => {
  const c = await Conn.open(rc.port);
  c.send('set x 0 0 9\r\nuser pass\r\nstats\r\n');
  const before = (await c.untilEndsWith('END\r\n')).toString('latin1');
  const stat = (s: string, name: string) => Number(new RegExp(`STAT ${name} (\\d+)`).exec(s)![1]);
  const d = await Conn.open(rc.port);
  const wrong = ['user Pass', 'user pas', 'user passs', 'User pass', 'other pass', `long ${SECRET.slice(0, -1)}`, 'nobody x'];
  for (const t of wrong) {
    d.send(`set x 0 0 ${t.length}\r\n${t}\r\n`);
    assert.is((await d.untilEndsWith('\r\n')).toString('latin1'), 'CLIENT_ERROR authentication failure\r\n', t);
  }
  d.send(`set x 0 0 ${5 + SECRET.length}\r\nlong ${SECRET}\r\nmn\r\n`);
  assert.is((await d.untilEndsWith('MN\r\n')).toString('latin1'), 'STORED\r\nMN\r\n');
  c.send('stats\r\nstats settings\r\n');
  const after = (await c.until((b) => b.toString('latin1').includes('auth_enabled_ascii'))).toString('latin1');
  assert.is(stat(after, 'auth_errors') - stat(before, 'auth_errors'), wrong.length);
  assert.is(stat(after, 'auth_cmds') - stat(before, 'auth_cmds'), wrong.length + 1);
  assert.match(after, `STAT auth_enabled_ascii ${authFile}\r\n`);
  c.close(); d.close();
});

test('startup: memcached\'s refusals and messages', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [REMCACHED_MAIN, '-p', '0', ...args], { encoding: 'utf8', timeout: 10_000 });
  for (const b of ['binary', 'auto']) {
    const r = run(['-Y', authFile, '-B', b]);
    assert.is(r.status, 64);
    assert.ok(r.stderr.includes('ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.'), r.stderr);
  }
  const missing = run(['-Y', join(dir, 'nope')]);
  assert.is(missing.status, 1);
  assert.ok(missing.stderr.includes(`Could not open authfile [${join(dir, 'nope')}] for reading, error No such file or directory`), missing.stderr);
  for (const body of ['user:pass\n\n', 'nocolon\n', 'us\0er:pass\n', 'x'.repeat(300) + ':p\n']) {
    const f = join(dir, 'malformed');
    writeFileSync(f, body);
    const r = run(['-Y', f]);
    assert.is(r.status, 1, JSON.stringify(body));
    assert.ok(r.stderr.includes(`Authfile [${f}] has a malformed entry. Should be 'user:password'`), r.stderr);
  }
});

test('auth file shapes (authfile.c rules; CVE-2021-37519 inputs)', () => {
  const parse = (s: string) => parseAuthFile(Buffer.from(s, 'latin1')).map(([u, p]) => `${u.toString('latin1')}|${p.toString('latin1')}`);
  // last entry without '\n': the whole password (1.6.18 chopped its last byte; fixed later)
  assert.equal(parse('user:pass'), ['user|pass']);
  assert.equal(parse('a:b\r\nc:d:e\n'), ['a|b', 'c|d:e']);
  assert.equal(parse('user:pa\0ss\nother:secret\n'), ['user|pa']); // a NUL ends the file
  assert.equal(parse('u:p\rjunk\nv:q\n'), ['u|p', 'v|q']);
  assert.equal(parse(Array.from({ length: 10 }, (_, i) => `a${i}:p\n`).join('')).length, 8);
  assert.equal(parse('a1:p\na2:p\na3:p\na4:p\na5:p\na6:p\na7:p\na8:p\ngarbage\n').length, 8);
  const long = parse(`u:${'p'.repeat(400)}\nv:q\n`); // fgets reads 255 bytes: cut, and the file ends
  assert.equal(long, [`u|${'p'.repeat(253)}`]);
  assert.equal(parse(':p\nu:\n'), ['|p', 'u|']); // never match: tokens are not empty
  assert.equal(parse(''), []);
  assert.throws(() => parse('\n'));
  assert.throws(() => parse('user:pass\nbad\n'));
  assert.throws(() => parse('\0user:pass\n'));
});

test('token and set-line readers', () => {
  const b = (s: string) => Buffer.from(s, 'latin1');
  assert.equal(splitToken(b('  user   pass  x'))?.map(String), ['user', 'pass']);
  assert.is(splitToken(b('user')), null);
  assert.is(splitToken(b('user\0 pass')), null);
  assert.equal(splitToken(b('user pass\0zz'))?.map(String), ['user', 'pass']);
  const size = (s: string) => setLineSize(b(s + '\n'), 0, s.length);
  assert.is(size('set k 0 0 9\r'), 9);
  assert.is(size('set k f e 9 noreply x y z'), 9);
  assert.is(size('set k 0 0\r'), -1);
  assert.is(size('sets k 0 0 9'), -1);
  assert.is(size('set k 0 0 -1'), -1);
  assert.is(size('set k 0 0 -0'), 0);
  assert.is(size('set k 0 0 4294967297'), 1);
  assert.is(size('set k 0 0 99999999999999999999999'), -1);
  assert.is(size('set k 0 0 9x'), -1);
  assert.is(size('set k 0 0 9\0junk'), 9);
  assert.is(size('set k 0\0 0 9'), -1);
});

test('passwords never reach the log (-vvv); SIGHUP re-reads the file, keeping it if malformed', async () => {
  const f = join(dir, 'hup');
  writeFileSync(f, `user:${SECRET}\n`);
  const srv = await startRemcached(['-Y', f, '-vvv']);
  try {
    const c = await Conn.open(srv.port);
    c.send(`set x 0 0 ${5 + SECRET.length + 1}\r\nuser ${SECRET}X\r\n`);
    assert.is((await c.untilEndsWith('\r\n')).toString('latin1'), 'CLIENT_ERROR authentication failure\r\n');
    // each of the 4 workers logs its reload (-vvv): wait for all of them, 5 s at most
    const reloads = async (n: number) => {
      for (const until = Date.now() + 5000; Date.now() < until; await sleep(50)) {
        if (srv.stderr().split('SIGHUP: auth file reloaded').length - 1 >= n) return;
      }
    };
    writeFileSync(f, 'user:newpw\n');
    srv.proc.kill('SIGHUP');
    await reloads(4);
    c.send(`set x 0 0 ${5 + SECRET.length}\r\nuser ${SECRET}\r\n`);
    assert.is((await c.untilEndsWith('\r\n')).toString('latin1'), 'CLIENT_ERROR authentication failure\r\n');
    writeFileSync(f, 'malformed\n');
    srv.proc.kill('SIGHUP');
    await reloads(8);
    c.send('set x 0 0 10\r\nuser newpw\r\nset k 0 0 1\r\nv\r\n');
    assert.is((await c.untilEndsWith('STORED\r\nSTORED\r\n')).toString('latin1'), 'STORED\r\nSTORED\r\n');
    c.close();
    assert.ok(srv.proc.exitCode === null, 'SIGHUP must not stop the server');
    const logs = srv.stderr();
    assert.not.ok(logs.includes(SECRET.slice(0, 8)) || logs.includes('newpw'), 'a password reached the log');
  } finally {
    await srv.stop();
  }
});

test.run();
