// SASL (-S) against remcached alone: memcached's startup refusals, binary-only connections, the
// PLAIN response forms, the password file re-read at every authentication, a missing file, and
// passwords never in the logs (even at -vvv). Byte-level comparison with memcached's Cyrus SASL is
// in test/compare/binary.test.ts (group "binary -S"); memjs in test/clients/memjs.test.ts.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conn, REMCACHED_MAIN, startRemcached } from '../helpers/server.ts';
import { OP, cat, get, parseResponses, pkt, set } from '../compare/seq/binary_harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'remc-sasl-e2e-'));
const pwdb = join(dir, 'pwdb');
const SECRET = 'S3cr3t-never-logged';
writeFileSync(pwdb, `alice:${SECRET}\nbob:b:with:colons\r\n# comment-like line\n:nouser\n`);

const auth = (value: string, mech = 'PLAIN') => pkt(OP.SASL_AUTH, { key: mech, value });

async function exchange(port: number, data: Buffer): Promise<{ packets: ReturnType<typeof parseResponses>['packets']; closed: boolean }> {
  const c = await Conn.open(port);
  c.send(data);
  const reply = await c.settle(100, 3000);
  const closed = c.closed;
  c.close();
  return { packets: parseResponses(reply).packets, closed };
}

function refuses(args: string[], message: string): void {
  const r = spawnSync(process.execPath, [REMCACHED_MAIN, ...args], { encoding: 'utf8', timeout: 10_000 });
  assert.is.not(r.status, 0, `${args.join(' ')}: exit status`);
  assert.ok(r.stderr.includes(message), `${args.join(' ')}: stderr ${JSON.stringify(r.stderr)}`);
}

test('-S refuses -B ascii, -B auto and -U as memcached does', () => {
  refuses(['-S', '-B', 'ascii'], 'ERROR: You cannot allow the ASCII protocol while using SASL.');
  refuses(['-B', 'auto', '-S'], 'ERROR: You cannot allow the ASCII protocol while using SASL.');
  refuses(['-S', '-U', '11211'], 'ERROR: Cannot enable UDP while using binary SASL authentication.');
});

test('-S: PLAIN forms, the password file, binary only, nothing secret logged', async () => {
  const srv = await startRemcached(['-S', '-vvv'], { ...process.env, MEMCACHED_SASL_PWDB: pwdb });
  try {
    const ok = (r: { packets: Array<{ opcode: number; status: number }> }) => r.packets.map((p) => [p.opcode, p.status]);
    // user, authzid = user, passwords containing ':', CRLF line ends
    assert.equal(ok(await exchange(srv.port, cat(auth(`\0alice\0${SECRET}`), set('a', 'v')))), [[OP.SASL_AUTH, 0], [OP.SET, 0]]);
    assert.equal(ok(await exchange(srv.port, cat(auth(`alice\0alice\0${SECRET}`), get('a')))), [[OP.SASL_AUTH, 0], [OP.GET, 0]]);
    assert.equal(ok(await exchange(srv.port, cat(auth('\0bob\0b:with:colons'), get('a')))), [[OP.SASL_AUTH, 0], [OP.GET, 0]]);
    // refused: another authzid, wrong password, a prefix of it, empty user, no NULs, extra NUL
    for (const bad of [`bob\0alice\0${SECRET}`, '\0alice\0wrong', `\0alice\0${SECRET.slice(0, -1)}`, `\0alice\0${SECRET}x`,
      '\0\0nouser', 'alice', `\0alice\0${SECRET}\0`, '\0nobody\0x']) {
      const r = await exchange(srv.port, cat(auth(bad), get('a')));
      assert.equal(ok(r), [[OP.SASL_AUTH, 0x20], [OP.GET, 0x20]], `refused: ${JSON.stringify(bad)}`);
      assert.ok(r.closed, `closed after ${JSON.stringify(bad)}`);
    }
    // another mechanism
    assert.equal(ok(await exchange(srv.port, auth(`\0alice\0${SECRET}`, 'CRAM-MD5'))), [[OP.SASL_AUTH, 0x20]]);
    // the file is read at every authentication: a new user works at once
    writeFileSync(pwdb, `alice:${SECRET}\ncarol:c\n`);
    assert.equal(ok(await exchange(srv.port, auth('\0carol\0c'))), [[OP.SASL_AUTH, 0]]);
    // -S means binary only: text is a bad magic once a header's worth (24 bytes) is in: closed unanswered
    const t = await Conn.open(srv.port);
    t.send('version\r\nget some keys here\r\n');
    assert.is((await t.settle(100, 3000)).length, 0);
    assert.ok(t.closed, 'text connection closed');
    t.close();
  } finally {
    await srv.stop();
  }
  assert.not.ok(srv.stderr().includes(SECRET.slice(0, 8)), 'a password reached the log');
});

test('-S without MEMCACHED_SASL_PWDB: nobody authenticates (and a warning says so)', async () => {
  const env = { ...process.env };
  delete env.MEMCACHED_SASL_PWDB;
  const srv = await startRemcached(['-S'], env);
  try {
    const r = await exchange(srv.port, cat(auth(`\0alice\0${SECRET}`), get('a')));
    assert.equal(r.packets.map((p) => p.status), [0x20, 0x20]);
  } finally {
    await srv.stop();
  }
  assert.match(srv.stderr(), /MEMCACHED_SASL_PWDB/);
});

test.run();
