// TLS (-Z) against Debian's memcached 1.6.18 (built with TLS): the same requests over TLS give
// the same bytes; notls: listeners are plain; a client certificate is checked as memcached
// checks it; `stats settings` shows the same ssl_* values; refresh_certs answers the same.
// Certificates are made at test time with openssl (a throw-away CA, server and client certs).
import tls from 'node:tls';
import net from 'node:net';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anyOf, needs, suite } from '../helpers/test.ts';
import { NO_MEMCACHED, freePort, startMemcached, startRemcached, type Server } from '../helpers/server.ts';
import { isolationArgs, rerunPass } from './harness.ts';

const t = suite('tls vs memcached 1.6.18', { skip: anyOf(NO_MEMCACHED, needs('openssl', 'openssl')), timeoutMs: 60_000 });

let dir = '';
const f = (n: string) => join(dir, n);
const ossl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'pipe' });

function makeCerts(): void {
  dir = mkdtempSync(join(tmpdir(), 'remc-tls-'));
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=remcached test CA');
  for (const who of ['server', 'client', 'server2']) {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${who}`);
    ossl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.pem`), '-days', '2');
  }
  // signed by no CA the servers trust
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('rogue.key'), '-out', f('rogue.pem'), '-days', '2', '-subj', '/CN=rogue');
  // memcached (run as nobody) re-reads them on refresh_certs; test-only throw-away files
  execFileSync('chmod', ['-R', 'a+rX', dir]);
}

interface Pair { mc: Server; rc: Server; mcPlain: number; rcPlain: number }
const pairs = new Map<string, Pair>();

/** A memcached and a remcached with the same TLS options, each with a TLS port and a notls: one,
 *  four worker threads each (remcached's: a TLS listener per worker). */
async function start(opts: string): Promise<Pair> {
  const [mp, rp] = [await freePort(), await freePort()];
  // the helpers already give -l 127.0.0.1: both servers add this second -l to it
  const [mc, rc] = await Promise.all([startMemcached(['-t', '4', '-Z', '-o', opts, '-l', `notls:127.0.0.1:${mp}`]),
    startRemcached([...isolationArgs(), '-t', '4', '-Z', '-o', opts, '-l', `notls:127.0.0.1:${rp}`])]);
  return { mc, rc, mcPlain: mp, rcPlain: rp };
}

/** Send `data` over TLS (or plain), read until quiet; what came back, or how it failed. */
async function talk(port: number, data: string, o: { tls?: boolean; cert?: string; maxVersion?: tls.SecureVersion } = {}): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    let timer: NodeJS.Timeout;
    const done = (end: string) => { clearTimeout(timer); sock.destroy(); resolve(got + end); };
    const quiet = () => { clearTimeout(timer); timer = setTimeout(() => done(''), 300); };
    const sock: net.Socket = o.tls === false ? net.connect(port, '127.0.0.1', () => { sock.write(data); quiet(); })
      : tls.connect({ port, host: '127.0.0.1', ca: [ossl('x509', '-in', f('ca.pem'))], checkServerIdentity: () => undefined,
        ...(o.cert ? { cert: ossl('x509', '-in', f(`${o.cert}.pem`)), key: ossl('pkey', '-in', f(`${o.cert}.key`)) } : {}),
        ...(o.maxVersion ? { maxVersion: o.maxVersion, minVersion: 'TLSv1' as const } : {}) }, () => { sock.write(data); quiet(); });
    sock.on('data', (d: Buffer) => { got += d.toString('latin1'); quiet(); });
    // a refused connection: a TLS alert, a reset or a plain close, as the client sees it
    sock.on('error', () => done('<failed>'));
    sock.on('close', () => done('<closed>'));
    timer = setTimeout(() => done('<timeout>'), 3000);
  });
}

const REQUEST = 'set a 0 0 5\r\nhello\r\nget a b\r\ngets a\r\nincr n 1\r\nmn\r\nversion\r\n';

t.before(async () => {
  makeCerts();
  const base = `ssl_chain_cert=${f('server.pem')},ssl_key=${f('server.key')}`;
  pairs.set('plain', await start(base));
  pairs.set('verify1', await start(`${base},ssl_ca_cert=${f('ca.pem')},ssl_verify_mode=1`));
  pairs.set('verify2', await start(`${base},ssl_ca_cert=${f('ca.pem')},ssl_verify_mode=2,ssl_min_version=3`));
});
t.after(async () => {
  for (const p of pairs.values()) await Promise.all([p.mc.stop(), p.rc.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cas = (s: string) => s.replace(/^(VALUE \S+ \d+ \d+) \d+\r$/gm, '$1 <cas>\r');

t('the same bytes over TLS, and plain on a notls: listener', async () => {
  for (const [name, p] of pairs) {
    const cert = name === 'verify2' ? 'client' : undefined;
    const [m, r] = [await talk(p.mc.port, REQUEST, { cert }), await talk(p.rc.port, REQUEST, { cert })];
    assert.equal(cas(r), cas(m), `${name}: over TLS`);
    assert.match(m, /^STORED\r\nVALUE a 0 5\r\nhello\r\nEND\r\n/);
    const [mp, rp] = [await talk(p.mcPlain, 'get a\r\n', { tls: false }), await talk(p.rcPlain, 'get a\r\n', { tls: false })];
    assert.equal(rp, mp, `${name}: notls listener`);
  }
});

t('client certificates: checked as memcached checks them', async () => {
  const cases: Array<[string, string | undefined]> = [['plain', 'rogue'], ['verify1', undefined], ['verify1', 'client'],
    ['verify1', 'rogue'], ['verify2', undefined], ['verify2', 'client'], ['verify2', 'rogue']];
  for (const [name, cert] of cases) {
    const p = pairs.get(name)!;
    const [m, r] = [await talk(p.mc.port, 'version\r\n', { cert }), await talk(p.rc.port, 'version\r\n', { cert })];
    // served, or refused; how the refusal reaches the client (alert, reset, close) is not compared
    const served = (s: string) => s.startsWith('VERSION ');
    assert.equal(served(r), served(m), `${name} with ${cert ?? 'no'} certificate: memcached ${JSON.stringify(m)}, remcached ${JSON.stringify(r)}`);
  }
});

t('refused: plain text on a TLS port, TLS on a notls: port, below ssl_min_version', async () => {
  const p = pairs.get('verify2')!;
  const served = (s: string) => s.startsWith('VERSION ');
  const checks: Array<[number, number, Parameters<typeof talk>[2]]> = [
    [p.mc.port, p.rc.port, { tls: false }], [p.mcPlain, p.rcPlain, {}], [p.mc.port, p.rc.port, { cert: 'client', maxVersion: 'TLSv1.2' }]];
  for (const [mport, rport, o] of checks) {
    const [m, r] = [await talk(mport, 'version\r\n', o), await talk(rport, 'version\r\n', o)];
    assert.equal(served(m), false, `memcached ${JSON.stringify(o)}: ${m}`);
    assert.equal(served(r), false, `remcached ${JSON.stringify(o)}: ${r}`);
  }
});

t('stats settings: the ssl_* fields', async () => {
  for (const [name, p] of pairs) {
    const ssl = (s: string) => s.split('\n').filter((l) => l.startsWith('STAT ssl_')).join('\n');
    const [m, r] = [await talk(p.mcPlain, 'stats settings\r\n', { tls: false }), await talk(p.rcPlain, 'stats settings\r\n', { tls: false })];
    assert.equal(ssl(r), ssl(m), name);
    assert.match(ssl(m), /STAT ssl_enabled yes/);
  }
});

t('refresh_certs: OK, and the error once a file is gone (the old certificate stays in use)', async () => {
  const p = pairs.get('plain')!;
  const [m, r] = [await talk(p.mcPlain, 'refresh_certs\r\nrefresh_certs noreply\r\n', { tls: false }),
    await talk(p.rcPlain, 'refresh_certs\r\nrefresh_certs noreply\r\n', { tls: false })];
  assert.equal(r, m);
  assert.equal(m, 'OK\r\n'); // noreply hides OK
  copyFileSync(f('server.key'), f('server.key.bak'));
  writeFileSync(f('server.key'), 'not a key\n');
  try {
    const [m2, r2] = [await talk(p.mcPlain, 'refresh_certs\r\n', { tls: false }), await talk(p.rcPlain, 'refresh_certs\r\n', { tls: false })];
    // memcached appends OpenSSL's reason: compare up to it
    const head = (s: string) => s.replace(/ : [^:]*\r\n$/, ' : <reason>\r\n');
    assert.match(m2, /^Error loading the key: /);
    assert.equal(head(r2.replace(/(Error loading the key: \S+) : .*\r\n$/, '$1 : x\r\n')), head(m2.replace(/(Error loading the key: \S+) : .*\r\n$/, '$1 : x\r\n')));
    assert.match(await talk(p.rc.port, 'version\r\n'), /^VERSION /);
  } finally {
    copyFileSync(f('server.key.bak'), f('server.key'));
  }
});

/** One TLS connection: the certificate it was shown (CN) and the worker thread that served it. */
async function probe(port: number): Promise<{ cn: string; worker: string }> {
  const reply = await new Promise<{ cn: string; text: string }>((resolve, reject) => {
    let text = '';
    const sock = tls.connect({ port, host: '127.0.0.1', ca: [ossl('x509', '-in', f('ca.pem'))], checkServerIdentity: () => undefined },
      () => sock.write('stats isolation\r\n'));
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no stats over TLS: ${JSON.stringify(text)}`)); }, 3000);
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (!text.endsWith('END\r\n')) return;
      clearTimeout(timer);
      const cn = String(sock.getPeerCertificate().subject?.CN);
      sock.destroy();
      resolve({ cn, text });
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
  return { cn: reply.cn, worker: /STAT worker_thread (\d+)/.exec(reply.text)?.[1] ?? '?' };
}

// the workers' TLS plumbing (certificates, counters, ticket keys): no parsing, so the first pass only
if (!rerunPass()) {
  t('-t 4: refresh_certs on one worker reloads every worker\'s certificate; ssl_handshake_errors sums every worker\'s, stats reset zeroes it', async () => {
    // the files the server is started with, replaced by another certificate before refresh_certs
    const [pem, key] = [f('current.pem'), f('current.key')];
    copyFileSync(f('server.pem'), pem);
    copyFileSync(f('server.key'), key);
    const rc = await startRemcached([...isolationArgs(), '-t', '4', '-Z', '-o', `ssl_chain_cert=${pem},ssl_key=${key}`]);
    try {
      const shown = async () => {
        const byWorker = new Map<string, Set<string>>();
        for (let i = 0; i < 16; i++) {
          const { cn, worker } = await probe(rc.port);
          byWorker.set(worker, (byWorker.get(worker) ?? new Set()).add(cn));
        }
        assert.ok(byWorker.size >= 2, `16 connections landed on worker ${[...byWorker.keys()]} only`);
        return Object.fromEntries([...byWorker].map(([w, cns]) => [w, [...cns].join(',')]));
      };
      const before = await shown();
      assert.ok(Object.values(before).every((cn) => cn === 'server'), JSON.stringify(before));
      copyFileSync(f('server2.pem'), pem);
      copyFileSync(f('server2.key'), key);
      assert.equal(await talk(rc.port, 'refresh_certs\r\n'), 'OK\r\n');
      // the other workers load the files when the main thread passes the word on: within moments
      let after = await shown();
      for (let i = 0; i < 20 && !Object.values(after).every((cn) => cn === 'server2'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await shown();
      }
      assert.ok(Object.values(after).every((cn) => cn === 'server2'), `after refresh_certs: ${JSON.stringify(after)}`);
      const counted = async () => {
        const seen = new Set<number>();
        for (let i = 0; i < 8; i++) seen.add(Number(/STAT ssl_handshake_errors (\d+)/.exec(await talk(rc.port, 'stats\r\n'))?.[1]));
        return [...seen];
      };
      // (the helper's readiness check may have counted one: a TCP connection closed before any hello)
      const [base] = await counted();
      // six plain-text clients on the TLS port: six failed handshakes, wherever they landed
      for (let i = 0; i < 6; i++) await talk(rc.port, 'version\r\n', { tls: false });
      let errors = await counted();
      for (let i = 0; i < 20 && String(errors) !== String(base! + 6); i++) { await new Promise((r) => setTimeout(r, 100)); errors = await counted(); }
      assert.deepEqual(errors, [base! + 6], `ssl_handshake_errors as 8 connections saw it, from ${base}`);
      // `stats reset` zeroes it in every worker, as memcached's zeroes its one count
      assert.equal(await talk(rc.port, 'stats reset\r\n'), 'RESET\r\n');
      assert.deepEqual(await counted(), [0]);
    } finally {
      await rc.stop();
    }
  });

  t('-t 4, ssl_session_cache: a TLS 1.2 session resumes on whichever worker the next connection lands', async () => {
    const opts = `ssl_chain_cert=${f('server.pem')},ssl_key=${f('server.key')},ssl_session_cache`;
    const [mc, rc] = await Promise.all([startMemcached(['-t', '4', '-Z', '-o', opts]), startRemcached([...isolationArgs(), '-t', '4', '-Z', '-o', opts])]);
    try {
      // memcached has no `stats isolation` (which worker served): it is asked for its version
      const connect = (port: number, session?: Buffer) => new Promise<{ reused: boolean; session: Buffer | undefined; worker: string }>((resolve, reject) => {
        let text = '';
        const sock = tls.connect({ port, host: '127.0.0.1', ca: [ossl('x509', '-in', f('ca.pem'))], checkServerIdentity: () => undefined,
          maxVersion: 'TLSv1.2', session }, () => sock.write(port === rc.port ? 'stats isolation\r\n' : 'version\r\n'));
        const timer = setTimeout(() => { sock.destroy(); reject(new Error('no answer over TLS')); }, 3000);
        sock.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          if (!text.endsWith(port === rc.port ? 'END\r\n' : '\r\n')) return;
          clearTimeout(timer);
          const r = { reused: sock.isSessionReused(), session: sock.getSession(), worker: /STAT worker_thread (\d+)/.exec(text)?.[1] ?? '-' };
          sock.destroy();
          resolve(r);
        });
        sock.on('error', (e) => { clearTimeout(timer); reject(e); });
      });
      for (const srv of [mc, rc]) {
        const first = await connect(srv.port);
        const reused: boolean[] = [];
        const workers = new Set<string>();
        for (let i = 0; i < 12; i++) {
          const next = await connect(srv.port, first.session);
          reused.push(next.reused);
          workers.add(next.worker);
        }
        assert.deepEqual(reused, Array(12).fill(true), `${srv === mc ? 'memcached' : 'remcached'}: ${reused}`);
        if (srv === rc) assert.ok(workers.size >= 2, `12 connections landed on worker ${[...workers]} only`);
      }
    } finally {
      await Promise.all([mc.stop(), rc.stop()]);
    }
  });
}

t('over -c: the error line in plain text before any handshake (memcached\'s t/maxconns.t under SSL_TEST), -c counted over every worker', async () => {
  const base = `ssl_chain_cert=${f('server.pem')},ssl_key=${f('server.key')}`;
  // -t 4: 8 + 4 x 4 descriptors of its own, so -c 34 leaves 10 clients
  const [mc, rc] = await Promise.all([startMemcached(['-t', '4', '-Z', '-o', base, '-c', '34']), startRemcached([...isolationArgs(), '-t', '4', '-Z', '-o', base, '-c', '34'])]);
  const held: net.Socket[] = [];
  try {
    const out: string[] = [];
    for (const srv of [mc, rc]) {
      // fill the slots with TLS clients that finished their handshake and were answered
      let served = 0;
      for (let i = 0; i < 40; i++) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = tls.connect({ port: srv.port, host: '127.0.0.1', ca: [ossl('x509', '-in', f('ca.pem'))], checkServerIdentity: () => undefined },
            () => s.write('version\r\n'));
          held.push(s);
          const timer = setTimeout(() => resolve(false), 3000);
          s.once('data', (d: Buffer) => { clearTimeout(timer); resolve(d.toString().startsWith('VERSION ')); });
          s.on('error', () => { clearTimeout(timer); resolve(false); });
          s.on('close', () => { clearTimeout(timer); resolve(false); });
        });
        if (!ok) break;
        served++;
      }
      out.push(`${await talk(srv.port, '', { tls: false })} (TLS clients served first: ${served})`);
    }
    assert.match(out[0]!, /^ERROR Too many open connections\r\n<closed>/);
    assert.equal(out[1], out[0], `memcached: ${out[0]}, remcached: ${out[1]}`);
  } finally {
    for (const s of held) s.destroy();
    await Promise.all([mc.stop(), rc.stop()]);
  }
});

t('startup: memcached\'s refusals', async () => {
  const run = (args: string[]) => {
    try { execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'server', 'main.js'), ...args], { stdio: 'pipe' }); return { code: 0, err: '' }; }
    catch (e) { const x = e as { status: number; stderr: Buffer }; return { code: x.status, err: x.stderr.toString() }; }
  };
  const mc = (args: string[]) => {
    try { execFileSync('memcached', ['-u', 'nobody', ...args], { stdio: 'pipe', timeout: 3000 }); return { code: 0, err: '' }; }
    catch (e) { const x = e as { status: number; stderr: Buffer }; return { code: x.status, err: x.stderr.toString() }; }
  };
  for (const args of [['-Z', '-p', '0'], ['-o', 'ssl_verify_mode=7'], ['-o', 'ssl_min_version=x'], ['-Z', '-p', '1', '-o', `ssl_chain_cert=${f('nope.pem')}`]]) {
    const [m, r] = [mc(args), run(args)];
    assert.equal(r.code, m.code, `${args.join(' ')}: exit status (memcached: ${m.err})`);
    assert.equal(r.err.split('\n')[0]!.replace(/ : .*/, ''), m.err.split('\n').find((l) => !/^[0-9A-F]{16}:error:/.test(l))!.replace(/ : .*/, ''), args.join(' '));
  }
});

t.run();
