// memcached's command line to the letter: the same exit status and message for bad values and
// for a -c too low to start with (compared with Debian's memcached 1.6.18), -V, several -l,
// -d with -P (a real daemon: own session, the command returns once it listens, pid file removed
// at exit).
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execPath } from 'node:process';
import { Conn, NO_MEMCACHED, REMCACHED_MAIN, freePort, startMemcached } from '../helpers/server.ts';

// timeout: memcached that did not refuse is running (code null); remcached refuses before its
// addon loads, but a loaded machine can take seconds to start node
function run(cmd: string, args: string[], timeout = 1500): { code: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'latin1', timeout });
  return { code: r.error ? null : r.status, out: r.stdout, err: r.stderr };
}
const remcached = (args: string[]) => run(execPath, [REMCACHED_MAIN, '-p', '0', '-U', '0', ...args], 15_000);
// memcached as root needs -u; a refusal happens before it would start (timeout: it started)
const memcached = (args: string[]) => run('memcached', ['-u', 'nobody', '-p', '0', '-U', '0', ...args]);

const REFUSED = [['-m', 'abc'], ['-m', '0'], ['-I', '2k'], ['-I', '64k'], ['-I', '2g'], ['-I', 'abc'],
  ['-m', '1', '-I', '1m'], ['-c', '20'], ['-c', '9'], ['-c', '13', '-t', '2'], ['-c', '21', '-t', '4'], ['-c', '18', '-t', '4'], ['-c', '19', '-t', '4'],
  ['-c', '41', '-t', '8'], ['-c', '0'], ['-c', 'abc'], ['-t', '0'], ['-f', '0.5'], ['-n', '0'], ['-R', '0'],
  ['-B', 'foo'], ['-x'], ['--bogus'], ['-o', 'bogus'], ['-o', 'slab_chunk_max=3000'],
  ['-o', 'slab_automove_window=2'], ['-o', 'slab_automove_window'], ['-o', 'slab_automove_window=abc'],
  ['-o', 'slab_sizes='], ['-o', 'slab_sizes=100-abc'], ['-o', 'slab_sizes=47'], ['-o', 'slab_sizes=100-100'], ['-o', 'slab_sizes=100-104'],
  ['-o', 'slab_sizes=100-90'], ['-o', 'slab_sizes=600000'], ['-o', 'slab_sizes=100-600,slab_chunk_max=512'],
  ['-o', `slab_sizes=${Array.from({ length: 64 }, (_, i) => 100 + 16 * i).join('-')}`]];

test('bad values and a too-low -c: memcached\'s exit status and message', () => {
  for (const args of REFUSED) {
    const m = memcached(args);
    const r = remcached(args);
    assert.ok(m.code !== null, `memcached ${args.join(' ')} started`);
    assert.is(r.code, m.code, `${args.join(' ')}: exit status`);
    const err = r.err.split('\n').filter((l) => !l.startsWith('{')).join('\n');
    // where libevent runs out of descriptors depends on how many the parent left open: the
    // step may shift by one, the kind of message may not
    if (m.err.includes('Too many open files')) assert.match(err, /: Too many open files\n$/, `${args.join(' ')}: message`);
    else assert.is(err, m.err, `${args.join(' ')}: message`);
  }
}, { skip: NO_MEMCACHED });

test('-V prints what memcached prints; --version adds remcached\'s own line', () => {
  const m = memcached(['-V']);
  assert.is(remcached(['-V']).out, m.out);
  const long = remcached(['--version']).out.split('\n');
  assert.is(`${long[0]}\n`, m.out);
  assert.match(long[1]!, /^remcached \d+\.\d+\.\d+/);
}, { skip: NO_MEMCACHED });

test('-m -5 starts as memcached does (size_t wrap: no limit); several -l all listened on; -d -P daemonises', async () => {
  const port = await freePort();
  const pidfile = `/tmp/remcached-cli-${process.pid}.pid`;
  const r = run(execPath, [REMCACHED_MAIN, '-d', '-P', pidfile, '-p', String(port), '-l', '127.0.0.1', '-l', '127.0.0.2', '-m', '-5'], 30_000);
  assert.is(r.code, 0, `-d returned ${r.code}: ${r.err}`);
  // as with memcached, the daemon listens once the command has returned (memcached's
  // t/daemonize.t connects at once, and gives up when the command has gone and nobody answers)
  assert.ok(existsSync(pidfile), 'pid file written when -d returns');
  const pid = Number(readFileSync(pidfile, 'latin1').trim());
  assert.ok(pid > 0, 'pid file written');
  const first = net.connect(port, '127.0.0.1');
  const connected = await new Promise<boolean>((res) => { first.once('connect', () => res(true)); first.once('error', () => res(false)); });
  first.destroy();
  assert.ok(connected, 'listening when -d returns');
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
    assert.is(Number(stat[3]), pid, 'the daemon leads its own session (setsid)');
    for (const host of ['127.0.0.1', '127.0.0.2']) {
      const c = await Conn.open(port, host);
      c.send('stats settings\r\n');
      const s = (await c.untilEndsWith('END\r\n')).toString('latin1');
      c.close();
      assert.match(s, 'STAT inter 127.0.0.1,127.0.0.2\r\n');
      assert.match(s, 'STAT maxbytes 18446744073704308736\r\n');
    }
  } finally {
    process.kill(pid, 'SIGTERM');
  }
  for (let i = 0; i < 100 && existsSync(pidfile); i++) await new Promise((res) => setTimeout(res, 50));
  assert.not.ok(existsSync(pidfile), 'pid file removed at exit');
});

test('a listener that cannot be made: memcached\'s message and exit status 71, one loop and workers', async () => {
  const holder = await startMemcached(); // holds 127.0.0.1:port
  const free = await freePort();
  try {
    const cases = [['-p', String(holder.port), '-l', '127.0.0.1'], ['-p', String(holder.port), '-l', '127.0.0.1,127.0.0.2'],
      ['-p', String(free), '-l', '10.9.8.7'], ['-p', String(free), '-l', 'no-such-host.invalid'], ['-s', '/nonexistent-dir/remcached.sock']];
    for (const t of ['1', '4']) {
      for (const args of cases) {
        // the workers load before a unix socket is listened on: more than run()'s 1.5 s on a busy host
        const opts = { encoding: 'latin1' as const, timeout: 20_000 };
        const m = spawnSync('memcached', ['-u', 'nobody', '-U', '0', ...args], opts);
        const r = spawnSync(execPath, [REMCACHED_MAIN, '-U', '0', '-t', t, ...args], opts);
        const label = `-t ${t} ${args.join(' ')}`;
        assert.is(m.status, 71, `${label}: memcached's status`);
        assert.is(r.status, 71, `${label}: exit status`);
        assert.is(r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n'), m.stderr, `${label}: message`);
      }
    }
  } finally { await holder.stop(); }
}, { skip: NO_MEMCACHED });

test('-d with relative TLS paths: read where the command started (memcached loads them before it daemonises); pid file under /', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remc-daemon-tls-'));
  const pidName = `tmp/remcached-cli-tls-${process.pid}.pid`; // relative: the daemon's cwd is /
  try {
    spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
      '-days', '2', '-subj', '/CN=remcached test'], { stdio: 'ignore' });
    const port = await freePort();
    const r = spawnSync(execPath, [REMCACHED_MAIN, '-d', '-P', pidName, '-p', String(port), '-U', '0', '-l', '127.0.0.1', '-Z',
      '-o', 'ssl_chain_cert=c.pem,ssl_key=k.pem'], { cwd: dir, encoding: 'latin1', timeout: 30_000 });
    assert.is(r.status, 0, r.stderr);
    assert.ok(existsSync(`/${pidName}`), 'pid file written relative to /');
    const pid = Number(readFileSync(`/${pidName}`, 'latin1').trim());
    try {
      const reply = await new Promise<string>((res, rej) => {
        const c = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => c.write('version\r\n'));
        c.once('data', (d) => { res(d.toString('latin1')); c.destroy(); });
        c.once('error', rej);
      });
      assert.match(reply, /^VERSION /);
    } finally { process.kill(pid, 'SIGTERM'); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}, { skip: spawnSync('openssl', ['version']).error ? 'openssl missing' : false });

test('-b: every listener\'s backlog, workers\' SO_REUSEPORT sockets included (ss shows it)', async () => {
  for (const t of ['1', '4']) {
    const port = await freePort();
    const child = spawn(execPath, [REMCACHED_MAIN, '-p', String(port), '-U', '0', '-l', '127.0.0.1', '-t', t, '-b', '777'], { stdio: 'ignore' });
    try {
      let lines: string[] = [];
      for (let i = 0; i < 200 && lines.length < Number(t); i++) {
        await new Promise((res) => setTimeout(res, 50));
        lines = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'latin1' }).stdout.trim().split('\n').filter(Boolean);
      }
      assert.is(lines.length, Number(t), `-t ${t}: listening sockets`);
      for (const l of lines) assert.is(l.split(/\s+/)[2], '777', `-t ${t}: backlog (Send-Q) of ${l}`);
    } finally {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((res) => setTimeout(res, 10_000))]);
    }
  }
}, { skip: spawnSync('ss', ['-V']).error ? 'ss (iproute2) missing' : false });

test.run();
