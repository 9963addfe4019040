// The abuse suites' harness: one attack against a real server (remcached or Debian's memcached
// 1.6.18), with its memory, fds, another client's latency and the cache's keys measured around it.
// Every wait is bounded; every socket the attack opens is destroyed before it returns.
import net from 'node:net';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { startMemcached, startRemcached, type Server } from '../helpers/server.ts';

export const MB = 1 << 20;
/** -m for every server of these suites */
export const MEM_MB = 64;
/** small keys stored before each attack and checked after it */
const KEYS = 500;
export const BIG = 1 << 20; // the 1 MB item, as big as -I 1m allows: 1 MiB minus item header
export const BIG_LEN = BIG - 512;

export type Kind = 'remcached' | 'memcached';

export interface Figures {
  kind: Kind;
  alive: boolean;
  idleMb: number;
  peakMb: number;
  /** RSS once memory came back (or at the deadline), and how long after the attacker left */
  afterMb: number;
  backMs: number;
  fdsIdle: number;
  fdsAfter: number;
  p99Ms: number;
  samples: number;
  keysLost: number;
  note: string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const alive = (s: Server) => s.proc.exitCode === null && s.proc.signalCode === null;

export async function start(kind: Kind, args: string[] = []): Promise<Server> {
  const common = ['-m', String(MEM_MB), ...args];
  return kind === 'remcached' ? startRemcached(common) : startMemcached(common);
}

/** A socket that is never read (the attacker): what the server sends piles up in the kernel. */
export function rawConnect(port: number, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const t = setTimeout(() => { s.destroy(); reject(new Error('connect timeout')); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.pause(); resolve(s); });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** Write all of data (or give up at the deadline: the server may rightly stop reading). */
export function writeAll(s: net.Socket, data: Buffer | string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed) { resolve(false); return; }
    const t = setTimeout(() => resolve(false), timeoutMs);
    s.write(data, (err) => { clearTimeout(t); resolve(!err); });
  });
}

/** One request/reply client: a line command, its reply read to `end`. */
class Client {
  private buf = Buffer.alloc(0);
  private want: { end: string; done: (b: Buffer) => void } | null = null;
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.check(); });
    sock.on('error', () => {});
    sock.on('close', () => { const w = this.want; this.want = null; w?.done(Buffer.alloc(0)); });
  }
  static async open(port: number): Promise<Client> {
    const s = await rawConnect(port);
    s.resume();
    s.setNoDelay(true);
    return new Client(s);
  }
  private check(): void {
    const w = this.want;
    if (!w || this.buf.length < w.end.length || this.buf.toString('latin1', this.buf.length - w.end.length) !== w.end) return;
    const b = this.buf; this.buf = Buffer.alloc(0); this.want = null; w.done(b);
  }
  /** The reply, or null after timeoutMs (or if the server closed). */
  ask(req: string | Buffer, end: string, timeoutMs: number): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.want = null; resolve(null); }, timeoutMs);
      this.want = { end, done: (b) => { clearTimeout(t); resolve(b.length ? b : null); } };
      this.sock.write(req);
    });
  }
  close(): void { this.sock.destroy(); }
}

async function populate(port: number): Promise<void> {
  const c = await Client.open(port);
  try {
    let req = '';
    for (let i = 0; i < KEYS; i++) req += `set key:${i} 0 0 8 noreply\r\nval:${String(i).padStart(4, '0')}\r\n`;
    req += `set big 0 0 ${BIG_LEN}\r\n${'b'.repeat(BIG_LEN)}\r\nset small 0 0 10\r\n0123456789\r\n`;
    const r = await c.ask(req, 'STORED\r\nSTORED\r\n', 10_000);
    if (!r) throw new Error('populate: no reply');
  } finally { c.close(); }
}

async function keysLost(port: number): Promise<number> {
  let c: Client;
  try { c = await Client.open(port); } catch { return KEYS + 1; }
  try {
    let lost = 0;
    for (let i = 0; i < KEYS; i += 100) {
      let req = 'get';
      for (let j = i; j < i + 100; j++) req += ` key:${j}`;
      const r = await c.ask(`${req}\r\n`, 'END\r\n', 10_000);
      if (!r) return KEYS + 1;
      const s = r.toString('latin1');
      for (let j = i; j < i + 100; j++) if (!s.includes(`VALUE key:${j} 0 8\r\nval:${String(j).padStart(4, '0')}\r\n`)) lost++;
    }
    const big = await c.ask('mg big s\r\n', '\r\n', 10_000);
    if (!big || !big.toString('latin1').startsWith(`HD s${BIG_LEN}`)) lost++;
    return lost;
  } finally { c.close(); }
}

/** Another client's gets, one at a time, until stopped: their latencies. */
function victim(port: number): { stop(): Promise<number[]> } {
  let running = true;
  const lat: number[] = [];
  const done = (async () => {
    let c: Client | null = null;
    try {
      c = await Client.open(port);
      let i = 0;
      while (running) {
        const t0 = performance.now();
        const r = await c.ask(`get key:${i++ % KEYS}\r\n`, 'END\r\n', 5000);
        lat.push(r ? performance.now() - t0 : 5000);
        if (!r) break;
        await sleep(2);
      }
    } catch { lat.push(5000); } finally { c?.close(); }
  })();
  return { async stop() { running = false; await Promise.race([done, sleep(6000)]); return lat; } };
}

const p99 = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
};

export interface Attack {
  /** open sockets, send; resolves once the attack is in place (it should bound itself) */
  run(port: number, sockets: net.Socket[]): Promise<string | void>;
  /** how long the attacker stays after run() (memory sampled meanwhile) */
  holdMs: number;
}

/**
 * Start a fresh server, populate it, measure idle, run the attack with a victim client and RSS
 * sampling, leave (destroy every attacking socket), then wait up to 10 s for memory and fds.
 */
export async function measure(kind: Kind, attack: Attack, args: string[] = []): Promise<Figures> {
  const server = await start(kind, args);
  const pid = server.proc.pid!;
  const sockets: net.Socket[] = [];
  try {
    await populate(server.port);
    await sleep(300);
    const idle = status(pid).rss;
    const fdsIdle = fdCount(pid);
    try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* peak since start then */ }
    let peak = idle;
    const sampler = setInterval(() => { if (alive(server)) peak = Math.max(peak, status(pid).rss); }, 20);
    const v = victim(server.port);
    let note = '';
    try {
      note = (await attack.run(server.port, sockets)) ?? '';
      await sleep(attack.holdMs);
    } finally {
      clearInterval(sampler);
    }
    if (alive(server)) peak = Math.max(peak, status(pid).hwm, status(pid).rss);
    const lat = await v.stop();
    for (const s of sockets) s.destroy(); // the attacker leaves
    const left = Date.now();
    let after = alive(server) ? status(pid).rss : 0, fdsAfter = alive(server) ? fdCount(pid) : 0;
    let backMs = -1;
    while (alive(server) && Date.now() - left < 10_000) {
      after = status(pid).rss;
      fdsAfter = fdCount(pid);
      if (after <= idle + 16 * MB && fdsAfter <= fdsIdle) { backMs = Date.now() - left; break; }
      await sleep(100);
    }
    const lost = alive(server) ? await keysLost(server.port) : KEYS + 1;
    const budgetCloses = (server.stderr().match(/input budget exhausted/g) ?? []).length;
    if (budgetCloses) note += `${note ? ', ' : ''}${budgetCloses} closed over the input budget`;
    return {
      kind, alive: alive(server), idleMb: idle / MB, peakMb: peak / MB, afterMb: after / MB, backMs,
      fdsIdle, fdsAfter, p99Ms: p99(lat), samples: lat.length, keysLost: lost, note,
    };
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
  }
}

export function report(name: string, f: Figures): string {
  const line = `${name.padEnd(34)} ${f.kind.padEnd(9)} ${f.alive ? 'alive' : 'DEAD '} idle ${f.idleMb.toFixed(0).padStart(4)} MB` +
    `  peak ${f.peakMb.toFixed(0).padStart(5)} MB  after ${f.afterMb.toFixed(0).padStart(5)} MB` +
    ` (${f.backMs < 0 ? 'not back in 10 s' : `back in ${(f.backMs / 1000).toFixed(1)} s`})` +
    `  fds ${f.fdsIdle}->${f.fdsAfter}  p99 ${f.p99Ms.toFixed(1)} ms (${f.samples} gets)  keys lost ${f.keysLost}` +
    (f.note ? `  ${f.note}` : '');
  console.log(line);
  return line;
}

/** What remcached must hold to (the issue's "done means"). */
export function bounds(f: Figures): string[] {
  const bad: string[] = [];
  if (!f.alive) bad.push('process died');
  if (f.peakMb > f.idleMb + MEM_MB + 128) bad.push(`peak RSS ${f.peakMb.toFixed(0)} MB > idle + -m + 128 MiB`);
  if (f.backMs < 0) bad.push('memory or fds not back within 10 s');
  if (f.keysLost > 0) bad.push(`${f.keysLost} keys lost`);
  return bad;
}
