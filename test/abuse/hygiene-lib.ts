// What test/abuse/conns.test.ts and signals.test.ts measure on a server process, remcached and
// memcached alike: descriptors and RSS from /proc, CPU time, an innocent client's latency, and
// whether every key stored before an attack is still there after it.
import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { Conn, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Target { name: 'remcached' | 'memcached'; start(args: string[]): Promise<Server> }
export const REMCACHED: Target = { name: 'remcached', start: (a) => startRemcached(a) };
export const MEMCACHED: Target = { name: 'memcached', start: (a) => startMemcached(a) };
export const TARGETS = [REMCACHED, MEMCACHED];

export function fds(pid: number): number { return readdirSync(`/proc/${pid}/fd`).length; }
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
/** user+system CPU seconds of pid */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
export function alive(s: Server): boolean { return s.proc.exitCode === null && s.proc.signalCode === null; }

/** Wait until fds(pid) <= want (or timeout); returns the last count. */
export async function fdsBackTo(pid: number, want: number, ms = 5000): Promise<number> {
  const end = Date.now() + ms;
  let n = fds(pid);
  while (n > want && Date.now() < end) { await sleep(50); n = fds(pid); }
  return n;
}

/** A raw connection from a chosen local address (the repeat-offender tests tell peers apart). */
export function connectFrom(port: number, localAddress: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => { s.removeListener('error', reject); resolve(wrap(s)); });
    s.once('error', reject);
  });
}
function wrap(s: net.Socket): Conn {
  // Conn's constructor is private; it only needs a connected socket
  return new (Conn as unknown as new (s: net.Socket) => Conn)(s);
}

export const KEYS = 200;
/** Store KEYS known items. */
export async function seed(port: number, prefix = 'keep'): Promise<void> {
  const c = await Conn.open(port);
  let cmds = '';
  for (let i = 0; i < KEYS; i++) { const v = `${prefix}-value-${i}`; cmds += `set ${prefix}:${i} ${i} 0 ${v.length}\r\n${v}\r\n`; }
  c.send(cmds);
  await c.until((b) => b.toString('latin1').split('STORED\r\n').length - 1 >= KEYS, 10_000);
  c.close();
}
/** How many of the seeded items are missing or changed. */
export async function lost(port: number, prefix = 'keep'): Promise<number> {
  const c = await Conn.open(port);
  let cmd = 'get';
  for (let i = 0; i < KEYS; i++) cmd += ` ${prefix}:${i}`;
  c.send(`${cmd}\r\n`);
  const r = (await c.untilEndsWith('END\r\n', 10_000)).toString('latin1');
  c.close();
  let missing = 0;
  for (let i = 0; i < KEYS; i++) {
    const v = `${prefix}-value-${i}`;
    if (!r.includes(`VALUE ${prefix}:${i} ${i} ${v.length}\r\n${v}\r\n`)) missing++;
  }
  return missing;
}

/** An innocent client: one connection, a get of a seeded key after another, each timed. */
export class Victim {
  private lat: number[] = [];
  private stopped = false;
  errors: string[] = [];
  closed = false;
  private done: Promise<void>;

  private constructor(private readonly c: Conn, prefix: string, pauseMs: number) {
    c.closedPromise.then(() => { this.closed = true; });
    this.done = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const k = i % KEYS;
        const v = `${prefix}-value-${k}`;
        const t0 = performance.now();
        c.send(`get ${prefix}:${k}\r\n`);
        try {
          const r = (await c.untilEndsWith('END\r\n', 30_000)).toString('latin1');
          if (r !== `VALUE ${prefix}:${k} ${k} ${v.length}\r\n${v}\r\nEND\r\n`) this.errors.push(r.slice(0, 80));
        } catch (e) {
          this.errors.push(String(e).slice(0, 120));
          return;
        }
        if (this.closed) { this.errors.push('connection closed'); return; }
        this.lat.push(performance.now() - t0);
        if (pauseMs) await sleep(pauseMs);
      }
    })();
  }

  static async start(port: number, prefix = 'keep', pauseMs = 2): Promise<Victim> {
    return new Victim(await Conn.open(port), prefix, pauseMs);
  }

  async stop(): Promise<{ n: number; p50: number; p99: number; max: number; errors: string[]; closed: boolean }> {
    this.stopped = true;
    await this.done;
    this.c.close();
    const s = [...this.lat].sort((a, b) => a - b);
    const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN);
    return { n: s.length, p50: q(0.5), p99: q(0.99), max: s.length ? s[s.length - 1]! : NaN, errors: this.errors, closed: this.closed };
  }
}

/** `stats` as a map. */
export async function stats(port: number, which = ''): Promise<Map<string, string>> {
  const c = await Conn.open(port);
  // no group: memcached's general stats and remcached's own (`stats isolation`; memcached
  // answers ERROR to that)
  c.send(which ? `stats ${which}\r\n` : 'stats\r\nstats isolation\r\n');
  const r = (await c.until((b) => (which ? /END\r\n$/ : /END\r\n[^]*(END|ERROR)\r\n$/).test(b.toString('latin1')))).toString('latin1');
  c.close();
  const m = new Map<string, string>();
  for (const line of r.split('\r\n')) { const p = line.split(' '); if (p[0] === 'STAT') m.set(p[1]!, p.slice(2).join(' ')); }
  return m;
}

export const ms = (x: number) => `${x.toFixed(1)} ms`;
