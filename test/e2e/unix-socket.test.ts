// -s / -a: remcached on a unix socket only (memcached: it disables TCP), with the mask applied,
// the socket file removed at exit, and hostile input on it handled like on TCP.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REMCACHED_MAIN } from '../helpers/server.ts';

function talk(path: string, data: string, quietMs = 150): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let got = '';
    let t: NodeJS.Timeout | undefined;
    const done = () => { s.destroy(); resolve(got); };
    s.on('connect', () => { s.write(data, 'latin1'); t = setTimeout(done, quietMs); });
    s.on('data', (d) => { got += d.toString('latin1'); clearTimeout(t); t = setTimeout(done, quietMs); });
    s.on('close', () => { clearTimeout(t); resolve(got); });
    s.on('error', reject);
  });
}

test('-s serves on a unix socket with the -a mask, hostile input closes only its connection, the file goes at exit', async () => {
  const path = join(tmpdir(), `remcached-test-${process.pid}.sock`);
  const proc = spawn(process.execPath, [REMCACHED_MAIN, '-s', path, '-a', '700'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(path), 'socket file created');
    assert.is(statSync(path).mode & 0o777, 0o700);
    assert.is(await talk(path, 'set u 0 0 2\r\nhi\r\nget u\r\n'), 'STORED\r\nVALUE u 0 2\r\nhi\r\nEND\r\n');
    // an over-long line without LF closes that connection; the next one is served
    assert.is(await talk(path, 'x'.repeat(5000)), '');
    assert.is(await talk(path, `get ${'k'.repeat(251)}\r\nget u\r\n`), 'CLIENT_ERROR bad command line format\r\nVALUE u 0 2\r\nhi\r\nEND\r\n');
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  assert.not.ok(existsSync(path), 'socket file removed at exit');
});

test.run();
