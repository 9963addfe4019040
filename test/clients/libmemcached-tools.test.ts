// Debian's libmemcached tools (libmemcached-tools 1.1.4) against the server, once over the text
// protocol and once with --binary: memccp/memccat (files in and back, byte for byte, flags
// too), memcexist, memctouch, memcrm, memcstat, memcping, memcflush. Each tool is a separate
// process with its own connection; each protocol gets a server of its own.
import { hasCommand, suite } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Server } from '../helpers/server.ts';
import { startTarget } from './target.ts';

const TOOLS = ['memccp', 'memccat', 'memcexist', 'memctouch', 'memcrm', 'memcstat', 'memcping', 'memcflush'];
const missing = TOOLS.filter((t) => !hasCommand(t));
const NO_TOOLS = missing.length ? `${missing.join(' ')} not installed (apt-get install libmemcached-tools)` : null;

interface Run { code: number; stdout: Buffer; stderr: string }

// Files to copy in: text, every byte value (CR/LF/NUL included), 700 KiB, just under the default
// -I 1m item limit (memcached stores it as a chunked item), empty.
const FILES: Record<string, Buffer> = {
  'hello.txt': Buffer.from('hello\r\nworld\n'),
  'all-bytes.bin': Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]),
  'large.bin': randomBytes(700 * 1024),
  'near-limit.bin': randomBytes(1_048_000),
  'empty': Buffer.alloc(0),
};

for (const binary of [false, true]) {
  const test = suite(`libmemcached tools, ${binary ? 'binary' : 'text'} protocol`, { skip: NO_TOOLS });
  let srv: Server;
  let dir: string;

  /** Run one tool against the server; never throws for a non-zero exit (that is an answer). */
  function tool(name: string, ...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      // memcping has no --binary option.
      const proto = binary && name !== 'memcping' ? ['--binary'] : [];
      execFile(name, [`--servers=127.0.0.1:${srv.port}`, ...proto, ...args], { cwd: dir, encoding: 'buffer', timeout: 15_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
          resolve({ code, stdout, stderr: stderr.toString() });
        });
    });
  }

  test.before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'remc-tools-'));
    for (const [name, data] of Object.entries(FILES)) writeFileSync(join(dir, name), data);
    srv = await startTarget();
  });

  test.after(async () => {
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('memcping answers', async () => {
    const r = await tool('memcping');
    assert.is(r.code, 0, r.stderr);
  });

  test('memccp copies files in; memccat -f reads them back byte for byte', async () => {
    const cp = await tool('memccp', ...Object.keys(FILES));
    assert.is(cp.code, 0, cp.stderr);
    for (const [name, data] of Object.entries(FILES)) {
      const out = join(dir, `${name}.out`);
      const r = await tool('memccat', `--file=${out}`, name);
      assert.is(r.code, 0, `${name}: ${r.stderr}`);
      assert.ok(readFileSync(out).equals(data), `${name}: bytes differ`);
    }
  });

  test('memccat to stdout: value then a newline; -F prints the flags', async () => {
    const r = await tool('memccat', 'hello.txt');
    assert.is(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(Buffer.concat([FILES['hello.txt']!, Buffer.from('\n')])));
    const f = await tool('memccp', '--flags=4321', 'hello.txt');
    assert.is(f.code, 0, f.stderr);
    const rf = await tool('memccat', '-F', 'hello.txt');
    assert.is(rf.code, 0, rf.stderr);
    assert.ok(rf.stdout.toString('latin1').startsWith('4321\n'), JSON.stringify(rf.stdout.toString('latin1').slice(0, 40)));
  });

  test('memccat of a missing key fails', async () => {
    const r = await tool('memccat', 'no-such-key');
    assert.is.not(r.code, 0);
  });

  test('memccp --add refuses an existing key, --replace a missing one', async () => {
    assert.is((await tool('memccp', '--add', 'hello.txt')).code, 1);
    assert.is((await tool('memccp', '--replace', 'hello.txt')).code, 0);
    writeFileSync(join(dir, 'fresh.txt'), 'fresh');
    assert.is((await tool('memccp', '--replace', 'fresh.txt')).code, 1);
    assert.is((await tool('memccp', '--add', 'fresh.txt')).code, 0);
  });

  test('memcexist / memctouch / memcrm', async () => {
    assert.is((await tool('memcexist', 'hello.txt')).code, 0);
    assert.is((await tool('memcexist', 'no-such-key')).code, 1);
    assert.is((await tool('memctouch', '--expire=1000', 'hello.txt')).code, 0);
    assert.is((await tool('memctouch', '--expire=1000', 'no-such-key')).code, 1);
    assert.is((await tool('memcrm', 'hello.txt')).code, 0);
    assert.is((await tool('memcrm', 'hello.txt')).code, 1, 'second delete: NOT_FOUND');
    assert.is((await tool('memcexist', 'hello.txt')).code, 1);
  });

  test('memcstat prints the server stats; -S the version', async () => {
    const r = await tool('memcstat');
    assert.is(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, `Server: 127.0.0.1 (${srv.port})`);
    assert.match(text, new RegExp(`^\\tpid: ${srv.proc.pid}$`, 'm'));
    for (const k of ['uptime', 'curr_items', 'total_items', 'bytes', 'curr_connections', 'cmd_get', 'limit_maxbytes']) {
      assert.match(text, new RegExp(`^\\t${k}: \\d+$`, 'm'), `memcstat shows ${k}`);
    }
    const v = await tool('memcstat', '-S');
    assert.is(v.code, 0, v.stderr);
    // memcstat 1.1.4 prints the version line on stderr.
    assert.match(v.stdout.toString() + v.stderr, new RegExp(`^127\\.0\\.0\\.1:${srv.port} \\d+\\.\\d+\\.\\d+`, 'm'));
  });

  test('memcflush empties the cache', async () => {
    assert.is((await tool('memcexist', 'large.bin')).code, 0);
    const r = await tool('memcflush');
    assert.is(r.code, 0, r.stderr);
    for (const name of Object.keys(FILES)) assert.is((await tool('memcexist', name)).code, 1, `${name} gone`);
  });

  test.run();
}
