// Input that cannot run away: many connections holding big incomplete commands, and garbage.
// remcached and memcached 1.6.18 side by side; remcached must live, stay within idle RSS + -m +
// 128 MiB, give memory and fds back within 10 s of the attacker leaving and lose no key.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import { bounds, measure, rawConnect, report, sleep, start, writeAll, MB, type Attack, type Kind } from './harness.ts';

const KINDS: Kind[] = ['remcached', 'memcached'];

/** `n` connections, each sending what `payload(i)` gives and then holding the connection. */
function many(n: number, payload: (i: number) => Buffer, holdMs = 2000): Attack {
  return {
    holdMs,
    async run(port, sockets) {
      let refused = 0, cut = 0;
      const one = async (i: number) => {
        let s: net.Socket;
        try { s = await rawConnect(port); } catch { refused++; return; }
        sockets.push(s);
        s.on('error', () => {});
        if (!(await writeAll(s, payload(i), 5000))) cut++;
      };
      // 50 at a time: as fast as the server accepts, without a connect storm in the test itself
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => one(i + j)));
      const closed = sockets.filter((s) => s.destroyed || s.readableEnded).length;
      return `${n - refused} connected, ${cut} writes not taken, ${closed} closed by the server`;
    },
  };
}

const HALF = Buffer.alloc(512 * 1024, 'v');
const halfValue = (i: number) => Buffer.concat([Buffer.from(`set half:${i} 0 0 1048000\r\n`), HALF]);
const LINE = Buffer.concat([Buffer.from('get '), Buffer.alloc(4 * MB - 4, 'k ')]); // 4 MB, no '\n'

const CASES: Array<[string, Attack]> = [
  ['900 half-sent 1 MB values', many(900, halfValue)],
  ['200 unterminated 4 MB lines', many(200, () => LINE)],
  ['100 MB of random bytes', many(10, () => randomBytes(10 * MB), 500)],
];

for (const [name, attack] of CASES) {
  test(name, async () => {
    for (const kind of KINDS) {
      const f = await measure(kind, attack);
      report(name, f);
      if (kind === 'remcached') assert.equal(bounds(f), [], `${name}: ${bounds(f).join(', ')}`);
    }
  });
}

/** utime + stime of a process, in seconds */
function cpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

// A long multiget line arriving slowly: each read must not scan the line again from its start.
test('a 2 MB get line sent 2 KB at a time', async () => {
  const cpus: Record<string, number> = {};
  for (const kind of KINDS) {
    const server = await start(kind);
    const s = await rawConnect(server.port);
    try {
      await writeAll(s, 'set k 0 0 1\r\nx\r\n', 2000);
      const pid = server.proc.pid!;
      const before = cpu(pid);
      const line = Buffer.concat([Buffer.from('get '), Buffer.alloc(2 * MB - 6, 'k '), Buffer.from('\r\n')]);
      const t0 = Date.now();
      for (let off = 0; off < line.length && Date.now() - t0 < 20_000; off += 2048) {
        await writeAll(s, line.subarray(off, off + 2048), 2000);
        await sleep(1);
      }
      await sleep(300);
      cpus[kind] = cpu(pid) - before;
      console.log(`2 MB get line, 2 KB per write     ${kind.padEnd(9)} server CPU ${cpus[kind]!.toFixed(2)} s over ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      s.destroy();
      await server.stop();
    }
  }
  assert.ok(cpus.remcached! < 2, `remcached used ${cpus.remcached} s of CPU`);
});

test.run();
