// Starts real servers (remcached from dist/, Debian's memcached 1.6.18) on free loopback ports
// and talks raw TCP to them. Every test that needs a server goes through here.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { needs } from './test.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REMCACHED_MAIN = join(ROOT, 'dist', 'server', 'main.js');

export interface Server {
  /** 0 when it was started on a unix socket */
  port: number;
  proc: ChildProcess;
  /** stderr collected so far (logs) */
  stderr(): string;
  /** stdout and stderr together, as they came */
  output(): string;
  /** stderr once it matches `re` (5 s at most, then what came). A line logged by the main thread
   *  can follow the workers' first replies, so a test that reads the log waits for it. */
  logged(re: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, wait for exit (SIGKILL after 5 s); resolves with the exit code/signal */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Ports are taken from below the kernel's ephemeral range: a port picked by listen(0) is itself
 * ephemeral, and between its close and the server's bind any outgoing connection (a readiness
 * probe, another test's client) may take it as its source port, which made the bind fail with
 * EADDRINUSE (seen in CI). Each port is handed out once per process and checked free on TCP and
 * UDP.
 */
const handedOut = new Set<number>();
function portPool(): [number, number] {
  let low = 32768, high = 60999;
  try { [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number); } catch { /* not Linux: the usual range */ }
  return low - 10_000 >= 1024 ? [10_000, low - 1] : [high + 1, 65_535];
}
const bindable = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.unref();
  s.once('error', () => resolve(false));
  s.listen(port, '127.0.0.1', () => s.close(() => {
    const u = dgram.createSocket('udp4');
    u.unref();
    u.once('error', () => { u.close(); resolve(false); });
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  }));
});
export async function freePort(): Promise<number> {
  const [from, to] = portPool();
  for (let tries = 0; tries < 200; tries++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${from}-${to} after 200 tries`);
}

/** Where a started process is ready: a TCP port on 127.0.0.1, or a unix socket's path. */
export type Ready = number | { path: string };

/** Wait (10 s at most) until something accepts a connection at `ready`; fail early if `proc` exits. */
export async function waitListening(ready: Ready, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const where = typeof ready === 'number' ? String(ready) : ready.path;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`server exited early (${proc.exitCode ?? proc.signalCode}): ${output()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = typeof ready === 'number' ? net.connect(ready, '127.0.0.1') : net.connect(ready.path);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`server did not listen on ${where}: ${output()}`);
}

/** Start `cmd` and wait until it accepts connections at `ready`. Its stderr, and its stdout and
 *  stderr together, are kept (the last MiB). A process that does not get ready is stopped. */
export async function launch(cmd: string, args: string[], ready: Ready, env?: NodeJS.ProcessEnv): Promise<Server> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let err = '', out = '';
  const bounded = (s: string) => (s.length > 1 << 20 ? s.slice(-(1 << 19)) : s);
  proc.stderr!.on('data', (d: Buffer) => { err = bounded(err + d.toString()); out = bounded(out + d.toString()); });
  proc.stdout!.on('data', (d: Buffer) => { out = bounded(out + d.toString()); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })));
  const server: Server = {
    port: typeof ready === 'number' ? ready : 0, proc,
    stderr: () => err,
    output: () => out,
    async logged(re, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (!re.test(err) && Date.now() < until && proc.exitCode === null && proc.signalCode === null) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return err;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGCONT'); // a test may have stopped it
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        // bounded even if SIGKILL somehow does not end it (uninterruptible sleep)
        const r = await Promise.race([exited, new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`${cmd} (pid ${proc.pid}) still running 10 s after SIGTERM`)), 10_000).unref())]);
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
  try {
    await waitListening(ready, proc, () => err);
  } catch (e) {
    await server.stop().catch(() => undefined);
    throw e;
  }
  return server;
}

/** remcached from dist/ (run `npm run build` first; `npm test` does). */
export async function startRemcached(args: string[] = [], env?: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  return launch(process.execPath, [REMCACHED_MAIN, '-p', String(port), '-l', '127.0.0.1', ...args], port, env);
}

/** Why tests that compare with memcached cannot run here, or null. */
export const NO_MEMCACHED = needs('memcached', 'memcached');

/** Debian's memcached 1.6.18, one worker thread, UDP off. */
export async function startMemcached(args: string[] = []): Promise<Server> {
  const port = await freePort();
  // memcached refuses to run as root without -u.
  const user = process.getuid?.() === 0 && !args.includes('-u') ? ['-u', 'nobody'] : [];
  return launch('memcached', ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-t', process.env.REMC_TEST_THREADS ?? '1', ...user, ...args], port);
}

/** A raw client connection that records everything it receives. */
export class Conn {
  readonly sock: net.Socket;
  // received bytes in a buffer that doubles as it fills: appending each chunk to a copy of all
  // before it was quadratic (a 13 MB multiget reply took seconds of copying on a loaded host)
  private store = Buffer.alloc(0);
  private len = 0;
  private get buf(): Buffer { return this.store.subarray(0, this.len); }
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on('data', (d: Buffer) => {
      if (this.len + d.length > this.store.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * this.store.length, this.len + d.length, 4096));
        this.store.copy(grown, 0, 0, this.len);
        this.store = grown;
      }
      d.copy(this.store, this.len);
      this.len += d.length;
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => sock.once('close', () => { this.closed = true; this.wake(); resolve(); }));
    sock.on('error', () => {});
  }

  static open(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host);
      s.setNoDelay(true);
      const t = setTimeout(() => { s.destroy(); reject(new Error(`connect to ${host}:${port}: no answer in ${timeoutMs} ms`)); }, timeoutMs);
      s.once('connect', () => { clearTimeout(t); resolve(new Conn(s)); });
      s.once('error', (e) => { clearTimeout(t); reject(e); });
    });
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
  private changed(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.waiters = this.waiters.filter((f) => f !== done); resolve(false); }, ms);
      const done = () => { clearTimeout(t); resolve(true); };
      this.waiters.push(done);
    });
  }

  send(data: string | Uint8Array): void { this.sock.write(typeof data === 'string' ? Buffer.from(data, 'binary') : data); }

  /** Everything received so far, and forget it. */
  take(): Buffer { const b = this.buf; this.store = Buffer.alloc(0); this.len = 0; return b; }

  /** Wait until `pred(received)` holds (or the connection closes / timeout), then take it all. */
  async until(pred: (b: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.buf) && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; received so far: ${JSON.stringify(this.buf.toString('latin1').slice(0, 500))}`);
      await this.changed(left);
    }
    return this.take();
  }

  /** Wait until `str` has been received (suffix match), then take everything. */
  untilEndsWith(str: string, timeoutMs = 5000): Promise<Buffer> {
    return this.until((b) => b.length >= str.length && b.toString('latin1', b.length - str.length) === str, timeoutMs);
  }

  /** Wait until the server closes the connection; throws after timeoutMs (never waits forever). */
  async closedWithin(timeoutMs = 5000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.closedPromise, new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`connection not closed within ${timeoutMs} ms; received: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)), timeoutMs);
    })]).finally(() => clearTimeout(t));
  }

  /** Whether the server has closed the connection, waiting for it `timeoutMs` at most (a close
   *  can follow a quiet period on a loaded machine); never throws. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    if (!this.closed) await this.closedWithin(timeoutMs).catch(() => undefined);
    return this.closed;
  }

  /** Collect until nothing new arrives for `quietMs` (or close). With `replyExpected`, quiet
   *  counts only once something has arrived: a loaded machine can take longer than quietMs to
   *  send the first byte. */
  async settle(quietMs = 100, maxMs = 5000, replyExpected = false): Promise<Buffer> {
    const deadline = Date.now() + maxMs;
    while (!this.closed && Date.now() < deadline) {
      if (!(await this.changed(quietMs)) && (!replyExpected || this.buf.length > 0)) break;
    }
    return this.take();
  }

  close(): void { this.sock.destroy(); }
}

/** Send `data` on a fresh connection; return what came back once quiet, and whether it closed
 *  (`expectClosed`: a close may come after the quiet; it is waited for, 3 s at most). */
export async function exchange(port: number, data: string | Uint8Array, quietMs = 100, expectClosed = false): Promise<{ reply: Buffer; closed: boolean }> {
  const c = await Conn.open(port);
  c.send(data);
  const reply = await c.settle(quietMs);
  if (expectClosed) await c.closesWithin(3000);
  const closed = c.closed;
  c.close();
  return { reply, closed };
}
