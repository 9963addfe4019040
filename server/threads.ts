// -t N with N > 1: the main thread makes one SO_REUSEPORT listening socket per worker and
// address (the kernel spreads connections over them; Node 20 has no reusePort), starts N
// worker threads (server/worker.ts) and then only routes messages between them: settings one
// worker changed, debugtime, `shutdown`, signals (SIGTERM/SIGINT/SIGUSR1 drain every worker,
// SIGHUP re-reads -Y in each). A worker that dies takes the process down, loudly.
import { lookup } from 'node:dns/promises';
import { closeSync } from 'node:fs';
import net from 'node:net';
import { constants } from 'node:os';
import { Worker } from 'node:worker_threads';
import { native, abi } from '../native/index.ts';
import { listenSpecs, type Settings } from './config.ts';
import { writePortFile } from './cli.ts';
import { AuthFileError, loadAuthFile } from './ascii-auth.ts';
import { loadLogger, log } from './log.ts';
import type { ListenFd } from './server.ts';
import { createShared } from './shared.ts';
import { handlers } from './signals.ts';
import { onListener } from './listen-error.ts';
import { checkCertificates, TlsConfigError } from './tls.ts';

export interface Started { isolation: string; why: string; stop(sig: string): void; hup(): void }

const { EAFNOSUPPORT, EADDRNOTAVAIL, EADDRINUSE } = constants.errno;
const UNBOUND_FAMILY = new Set([EAFNOSUPPORT, EADDRNOTAVAIL, EADDRINUSE]);

const listenError = (host: string, port: number, errno: number) => {
  const code = Object.entries(constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
  return Object.assign(new Error(`listen ${host}:${port}: ${code}`), { errno, code, listener: 'tcp' as const });
};

/** The listening sockets: per address of -l (or, without -l, 0.0.0.0 and :: apart, as memcached
 *  and the one-loop server bind them), one per worker. */
function listeners(s: Settings, n: number): ListenFd[][] {
  const per: ListenFd[][] = Array.from({ length: n }, () => []);
  if (s.unixSocket || s.port === 0) return per; // -s: worker 0 listens on the path itself
  for (const l of listenSpecs(s.listen)) {
    const hosts = l ? [l.host] : ['0.0.0.0', '::'];
    const asked = l?.port ?? (s.port === -1 ? 0 : s.port);
    let bound = 0;
    let first: unknown = null;
    for (const host of hosts) {
      let port = asked; // -p -1: each address its own ephemeral port, as memcached's
      const fds: ListenFd[] = [];
      const listenSocket = native.listenSocket as (h: string, p: number, b: number, probe?: boolean) => number;
      try {
        // a port in use (by another process, whatever its options) is refused, as memcached's bind
        const taken = port === 0 ? 0 : listenSocket(host, port, s.listenBacklog, true);
        if (taken < 0) throw listenError(host, port, -taken);
        for (let i = 0; i < n; i++) {
          const fd = listenSocket(host, port, s.listenBacklog);
          if (fd < 0) throw listenError(host, port, -fd);
          if (port === 0) port = (native.socketPort as (fd: number) => number)(fd); // the others join the kernel's choice
          const ipv6 = host.includes(':');
          // memcached's conn_to_str; under -Z every listener speaks TLS but a notls: one
          fds.push({ fd, label: ipv6 ? `tcp6:[${host}]:${port}` : `tcp:${host}:${port}`, port, ipv6, tls: s.enableSsl && !l?.notls });
        }
      } catch (e) {
        for (const f of fds) closeSync(f.fd);
        // without -l, a host without IPv6 (or IPv4) serves the family it has
        if (l || !UNBOUND_FAMILY.has((e as { errno: number }).errno)) throw e;
        first ??= e;
        continue;
      }
      fds.forEach((f, i) => per[i]!.push(f));
      bound++;
    }
    if (bound === 0) throw first;
  }
  return per;
}

export async function startThreads(settings: Settings): Promise<Started> {
  const n = settings.workerThreads;
  // A -Y file memcached would refuse is refused here, before any worker starts: a worker that
  // refused while the others still loaded the addon ended the process under them (abort, or a hang)
  if (settings.authFile !== null) {
    try { loadAuthFile(settings.authFile); } catch (e) {
      if (!(e instanceof AuthFileError)) throw e;
      process.stderr.write(`${e.message}\n`); // memcached's words and exit status
      process.exit(e.exitCode);
    }
  }
  // -Z: certificate files memcached would refuse, likewise (memcached's line, CRLF and all)
  if (settings.enableSsl) {
    try { checkCertificates(settings.ssl); } catch (e) {
      if (!(e instanceof TlsConfigError)) throw e;
      process.stderr.write(`${e.message}\r\n`);
      process.exit(e.exitCode);
    }
  }
  // a host name that does not resolve is refused with getaddrinfo's words, as memcached (the
  // addon's own lookup only says it could not bind)
  for (const l of settings.unixSocket || settings.port === 0 ? [] : listenSpecs(settings.listen)) {
    if (l && net.isIP(l.host) === 0) await lookup(l.host).catch((e: unknown) => { throw onListener('tcp', e); });
  }
  const shared = createShared(n, abi.faultKinds.length);
  const fds = listeners(settings, n);
  const url = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
  const workers: Worker[] = [];
  let stopping = false;
  const broadcast = (from: Worker | null, msg: unknown) => { for (const w of workers) if (w !== from) w.postMessage(msg); };
  let stopped = 0;
  let save = false;
  let force: NodeJS.Timeout | null = null;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    save = why === 'SIGUSR1' && settings.memoryFile !== null; // -e: a graceful stop saves the cache
    log.info({ why, workers: workers.length }, 'stopping every worker');
    broadcast(null, { type: 'stop' });
    force = setTimeout(() => process.exit(0), 2500); // the workers' own grace period is 1.5 s
    force.unref();
  };
  /** every worker has stopped serving: worker 0 saves the cache (-e) and then the process ends */
  const allStopped = () => {
    if (!save) process.exit(0);
    if (force) clearTimeout(force); // saving takes as long as the cache is big
    workers[0]!.postMessage({ type: 'save' });
  };

  type Ready = { isolation: string; why: string };
  const ready: Array<Promise<Ready>> = [];
  let metricsUp = () => {};
  let udpUp: (ports: Array<{ port: number; ipv6: boolean }>) => void = () => {};
  /** resolves when the worker is loaded; ready[index] when it listens */
  function spawn(index: number): Promise<void> {
    let resolve!: (r: Ready) => void;
    ready[index] = new Promise((r) => { resolve = r; });
    return new Promise((loaded) => {
      const w = new Worker(url, { workerData: { settings, shared, index, fds: fds[index] } });
      workers.push(w);
      let isReady = false;
      w.on('message', (m: { type: string; [k: string]: unknown }) => {
        switch (m.type) {
          case 'loaded': loaded(); break;
          case 'metrics': metricsUp(); break;
          case 'udp': udpUp(m.ports as Array<{ port: number; ipv6: boolean }>); break;
          case 'ready': isReady = true; resolve(m as unknown as Ready); break;
          case 'fatal': process.stderr.write(`${String(m.message)}\n`); process.exit(Number(m.code)); break;
          case 'settings': case 'tick': case 'log': case 'gather': case 'refresh_certs': broadcast(w, m); break;
          case 'shutdown': stop('shutdown command'); break;
          case 'stopped': if (++stopped === workers.length) allStopped(); break;
          case 'saved': process.exit(0); break;
        }
      });
      w.on('error', (e) => {
        log.fatal({ worker: index, err: e.stack ?? String(e) }, 'worker thread crashed; exiting rather than serving half a cache');
        process.exit(70);
      });
      w.on('exit', (code) => {
        if (stopping && index === 0 && save && stopped === workers.length) process.exit(code || 70); // died saving
        if (stopping) return;
        if (!isReady && code !== 0) process.exit(code); // refused to start (bad -Y file, isolation): its message is out
        log.fatal({ worker: index, code }, 'worker thread exited; exiting rather than serving half a cache');
        process.exit(70);
      });
    });
  }

  // all load at once, but worker 0 constructs first: it creates the shared store and settles the
  // isolation mode, then the others attach to it (worker.ts waits for 'store'); then all listen
  const first0 = spawn(0);
  const rest = Array.from({ length: n - 1 }, (_, i) => spawn(i + 1));
  // the start-up lines (isolation, at warn) will load pino in this thread: now, while the workers
  // load, rather than once they serve
  loadLogger();
  await first0;
  for (const w of workers.slice(1)) w.postMessage({ type: 'store' });
  await Promise.all(rest);
  // SIGHUP re-reads -Y from the first connection on: main.ts sets its handlers only once every
  // worker is ready and the start-up lines are out, tens of ms after the first worker listens
  const hup = () => broadcast(null, { type: 'hup' });
  handlers.hup = hup;
  if (settings.metrics) await new Promise<void>((up) => { metricsUp = up; workers[0]!.postMessage({ type: 'metrics' }); });
  const udp = settings.udpPort !== 0 && !settings.unixSocket
    ? await new Promise<Array<{ port: number; ipv6: boolean }>>((up) => { udpUp = up; workers[0]!.postMessage({ type: 'udp' }); })
    : [];
  broadcast(null, { type: 'listen' });
  const first = (await Promise.all(ready))[0]!;
  writePortFile(fds[0]!, udp); // every worker listens now; worker 0 holds the UDP sockets
  return { isolation: first.isolation, why: first.why, stop, hup };
}
