// The accept path (server/server.ts acceptRaw, server/connection.ts start): a new connection's
// first bytes are read as it is accepted, before Node builds its socket; one that faults there
// is closed on the bare handle. What a client sees and what the server counts must not depend on
// which way a connection went: these cases send their first bytes at once (the raw way) and,
// where it matters, after a pause (Node's way).
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, exchange, startRemcached, type Server } from '../helpers/server.ts';
import { faultKinds } from '../../demo/attack.ts';

let server: Server;
let keeper: Conn;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  server = await startRemcached(['--enable-fault-injection', '-t', '1']);
  keeper = await Conn.open(server.port);
});
test.after(async () => { keeper?.close(); await server?.stop(); });

async function stats(arg = ''): Promise<Record<string, string>> {
  keeper.send(`stats${arg ? ` ${arg}` : ''}\r\n`);
  const text = (await keeper.until((b) => b.toString('latin1').endsWith('END\r\n'), 5000)).toString('latin1');
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^STAT (\S+) (.*)\r$/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** curr_connections once the server has seen every close (bounded wait) */
async function settledConns(want: number): Promise<number> {
  let n = Number((await stats()).curr_connections);
  for (let i = 0; i < 50 && n !== want; i++) { await sleep(100); n = Number((await stats()).curr_connections); }
  return n;
}

test('a fault in a connection\'s first bytes closes it, and is counted as a fault and a connection', async () => {
  const id = faultKinds().get('null_deref')!;
  // startRemcached's readiness probe may still be closing: begin from a count that holds
  let prev = -1, cur = Number((await stats()).curr_connections);
  for (let i = 0; i < 30 && cur !== prev; i++) { await sleep(100); prev = cur; cur = Number((await stats()).curr_connections); }
  const before = await stats();
  for (let i = 0; i < 20; i++) {
    const r = await exchange(server.port, `debug_fault ${id}\r\n`, 100, true);
    assert.is(r.reply.length, 0);
    assert.ok(r.closed, 'closed by the server');
  }
  // and the same after a pause, when Node has built the socket first
  const c = await Conn.open(server.port);
  await sleep(100);
  c.send(`debug_fault ${id}\r\n`);
  await c.settle(100, 3000);
  assert.ok(await c.closesWithin(3000));
  c.close();
  assert.is(await settledConns(Number(before.curr_connections)), Number(before.curr_connections));
  const after = await stats();
  assert.is(Number(after.total_connections) - Number(before.total_connections), 21);
  const faults = await stats('isolation');
  assert.ok(Number(faults.parser_faults) >= 21, `parser_faults ${faults.parser_faults}`);
});

test('`stats conns` as a connection\'s first bytes lists that connection, with its addresses', async () => {
  const c = await Conn.open(server.port);
  c.send('stats conns\r\n');
  const text = (await c.until((b) => b.toString('latin1').endsWith('END\r\n'), 5000)).toString('latin1');
  const port = c.sock.localPort;
  c.close();
  const fd = new RegExp(`^STAT (\\d+):addr tcp:127\\.0\\.0\\.1:${port}\\r$`, 'm').exec(text)?.[1];
  assert.ok(fd, `its own line in:\n${text}`);
  assert.match(text, new RegExp(`^STAT ${fd}:listen_addr tcp:127\\.0\\.0\\.1:${server.port}\\r$`, 'm'));
  assert.match(text, new RegExp(`^STAT ${fd}:state conn_parse_cmd\\r$`, 'm'));
});

test('commands in the first bytes are answered, and the connection goes on', async () => {
  const c = await Conn.open(server.port);
  c.send('set acc 0 0 2\r\nhi\r\nget acc\r\nset part 0 0 5\r\nab'); // ends inside a value
  await c.until((b) => b.toString('latin1') === 'STORED\r\nVALUE acc 0 2\r\nhi\r\nEND\r\n', 5000);
  c.take();
  c.send('cde\r\nget part\r\n');
  assert.is((await c.until((b) => b.toString('latin1').endsWith('END\r\n'), 5000)).toString('latin1'), 'STORED\r\nVALUE part 0 5\r\nabcde\r\nEND\r\n');
  c.close();
  const q = await exchange(server.port, 'version\r\nquit\r\n');
  assert.match(q.reply.toString('latin1'), /^VERSION \S+\r\n$/);
  assert.ok(q.closed);
});

test('a client that speaks after the accept, then half-closes: every reply, 20 MB of them queued, then FIN', async () => {
  // read on the bare handle; the replies outgrow what the kernel takes, so the socket is built
  // in the middle of a read, and the reads must stay stopped until the queue drains (as
  // memcached, which answers every command it read before the FIN)
  const c = await Conn.open(server.port);
  await sleep(50);
  const value = 'y'.repeat(50_000);
  c.send(`set halfk 0 0 ${value.length}\r\n${value}\r\n`);
  await c.until((b) => b.toString('latin1') === 'STORED\r\n', 5000);
  c.take();
  const gets = `get ${Array(200).fill('halfk').join(' ')}\r\n`;
  c.send(`${gets}${gets}version\r\n`);
  c.sock.end();
  await c.closedWithin(20_000);
  const got = c.take().toString('latin1');
  const one = `VALUE halfk 0 ${value.length}\r\n${value}\r\n`;
  assert.is(got.length, 2 * (200 * one.length + 5) + 'VERSION 1.6.18\r\n'.length);
  assert.ok(got.endsWith('END\r\nVERSION 1.6.18\r\n'), JSON.stringify(got.slice(-40)));
});

test('watch connevents: conn_new and conn_close name the peer, whichever way the connection went', async () => {
  const w = await Conn.open(server.port);
  w.send('watch connevents\r\n');
  await w.until((b) => b.toString('latin1').startsWith('OK\r\n'), 5000);
  const id = faultKinds().get('null_deref')!;
  const c = await Conn.open(server.port);
  const port = c.sock.localPort;
  c.send(`debug_fault ${id}\r\n`);
  await c.settle(100, 3000);
  c.close();
  // one that outlives its first bytes (its socket built after them) and hangs up
  const v = await Conn.open(server.port);
  const vport = v.sock.localPort;
  v.send('version\r\n');
  await v.until((b) => b.toString('latin1').endsWith('\r\n'), 5000);
  v.sock.end();
  await v.settle(100, 3000);
  v.close();
  const lines = (await w.until((b) => new RegExp(`type=conn_close[^\\n]*rport=${vport}[^\\n]*\\n`).test(b.toString('latin1')), 5000)).toString('latin1');
  w.close();
  assert.match(lines, new RegExp(`type=conn_new rip=127\\.0\\.0\\.1 rport=${port} transport=tcp`));
  assert.match(lines, new RegExp(`type=conn_close rip=127\\.0\\.0\\.1 rport=${port} transport=tcp reason=error`));
  assert.match(lines, new RegExp(`type=conn_close rip=127\\.0\\.0\\.1 rport=${vport} transport=tcp reason=normal`));
});

test.run();
