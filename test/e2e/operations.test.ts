// Operations (issue 13 item 6): `npm start` leaves no orphan when npm itself is signalled (its
// script execs node, so the signal npm forwards reaches the server); the bin is executable.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawn, execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { Conn, REMCACHED_MAIN, ROOT, freePort } from '../helpers/server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NPM = join(dirname(process.execPath), 'npm');

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`npm start, then ${sig} to npm: the server stops too`, async () => {
    const port = await freePort();
    const npm = spawn(NPM, ['start', '--', '-p', String(port)], { cwd: ROOT, stdio: 'ignore' });
    try {
      let up = false;
      for (let i = 0; i < 200 && !up; i++) {
        up = await Conn.open(port, '127.0.0.1', 500).then((c) => { c.close(); return true; }, () => false);
        if (!up) await sleep(50);
      }
      assert.ok(up, 'npm start listened');
      npm.kill(sig);
      let down = false;
      for (let i = 0; i < 100 && !down; i++) {
        await sleep(50);
        down = await Conn.open(port, '127.0.0.1', 500).then((c) => { c.close(); return false; }, () => true);
      }
      assert.ok(down, `the server still listens after ${sig} to npm (orphan)`);
    } finally {
      npm.kill('SIGKILL');
    }
  });
}

test('the bin is executable: in git (server/main.ts) and once built (dist/server/main.js)', () => {
  accessSync(REMCACHED_MAIN, constants.X_OK);
  const mode = execFileSync('git', ['ls-files', '-s', 'server/main.ts'], { cwd: ROOT, encoding: 'latin1' }).split(' ')[0];
  assert.is(mode, '100755');
});

test.run();
