// Output that cannot run away: requests whose replies are far larger than they are, sent by a
// client that never reads. remcached and memcached 1.6.18 side by side; remcached must live,
// stay within idle RSS + -m + 128 MiB, give memory and fds back within 10 s of the attacker
// leaving and lose no key. Figures are printed (the README's "limits under abuse" table).
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn } from '../helpers/server.ts';
import { bounds, measure, rawConnect, report, start, writeAll, type Attack, type Kind } from './harness.ts';

const KINDS: Kind[] = ['remcached', 'memcached'];

/** One connection sends `count` copies of `req` and never reads. */
function flood(req: Buffer, count: number, tail = Buffer.alloc(0)): Attack {
  return {
    holdMs: 2000,
    async run(port, sockets) {
      const s = await rawConnect(port);
      sockets.push(s);
      const all = Buffer.concat([Buffer.alloc(req.length * count, req), tail]);
      const sent = await writeAll(s, all, 3000);
      return sent ? '' : 'server stopped reading';
    },
  };
}

function getkq(key: string): Buffer {
  const h = Buffer.alloc(24 + key.length);
  h[0] = 0x80; h[1] = 0x0d; h.writeUInt16BE(key.length, 2); h.writeUInt32BE(key.length, 8);
  h.write(key, 24, 'latin1');
  return h;
}
const NOOP = (() => { const h = Buffer.alloc(24); h[0] = 0x80; h[1] = 0x0a; return h; })();

const CASES: Array<[string, Attack]> = [
  ['text get 1 MB x 2 000', flood(Buffer.from('get big\r\n'), 2000)],
  ['text get 1 MB x 200 000', flood(Buffer.from('get big\r\n'), 200_000)],
  ['meta mg v 1 MB x 2 000', flood(Buffer.from('mg big v\r\n'), 2000)],
  ['meta mg v 1 MB x 200 000', flood(Buffer.from('mg big v\r\n'), 200_000)],
  ['binary GETKQ 1 MB x 2 000', flood(getkq('big'), 2000, NOOP)],
  ['binary GETKQ 1 MB x 200 000', flood(getkq('big'), 200_000, NOOP)],
  ['1 000 000 pipelined gets', flood(Buffer.from('get small\r\n'), 1_000_000)],
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

// -R: remcached runs R+1 commands in a read event and R in each continuation, counting a yield
// each time (n commands in one read: conn_yields += floor((n-1)/R)), as measured on memcached
// 1.6.18 with a fresh process per n. Equal to memcached at -R 2 and 20; at -R 1 a long-lived
// memcached counts one more per burst (n, not n-1): not yet understood, printed only.
test('-R requests per event and conn_yields, as memcached', async () => {
  for (const r of [1, 2, 20]) {
    const seen: Record<string, string> = {};
    for (const kind of KINDS) {
      const server = await start(kind, ['-R', String(r)]);
      try {
        const got: string[] = [];
        for (const n of [1, 3, 21, 100]) {
          const c = await Conn.open(server.port);
          c.send('get a\r\n'.repeat(n));
          await c.until((b) => b.toString('latin1').split('END\r\n').length - 1 >= n, 5000);
          c.sock.destroy();
          const q = await Conn.open(server.port);
          q.send('stats\r\n');
          const st = (await q.untilEndsWith('END\r\n', 5000)).toString('latin1');
          q.sock.destroy();
          got.push(`${n}:${/STAT conn_yields (\d+)/.exec(st)?.[1]}`);
        }
        seen[kind] = got.join(' ');
      } finally {
        await server.stop();
      }
    }
    console.log(`-R ${r}: conn_yields (cumulative) after 1, 3, 21, 100 gets on new connections: remcached ${seen.remcached}; memcached ${seen.memcached}`);
    if (r > 1) assert.is(seen.remcached, seen.memcached);
    else assert.is(seen.remcached, '1:0 3:2 21:22 100:121');
  }
});

test.run();
