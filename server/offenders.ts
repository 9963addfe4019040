// Repeat offenders: a peer whose connections keep faulting in the parser (a crash rewound, a
// watchdog timeout, output that failed validation) is first slowed, then refused for a while.
// A fault already costs the attacker its connection; this bounds how often it can try again, which
// matters most for watchdog hangs: each one stalls every client for up to --watchdog-ms.
//
// A peer is an IP address; IPv6 peers are grouped by /64, the block one host usually owns.
// Behind a proxy every client has the proxy's address, so one client's faults slow and then
// refuse all of them: raise --offender-slow/--offender-refuse there, or set them to 0. Loopback
// peers are exempt unless --offender-loopback; unix-socket peers have no address and are exempt.
//
// With -t N every worker keeps a copy of the table. A worker that changes a peer's record (a
// fault, a paced admission) does so under the process-wide gather lock and hands the new record
// to every other worker before it lets go (server/shared.ts Gather), so the next connection of
// that peer is judged the same on any worker.
import net from 'node:net';
import type { Settings } from './config.ts';

/** A slowed peer gets at most one new connection per SLOW_MS; one more may wait, others are refused. */
export const SLOW_MS = 1000;
/** Peers remembered at most (oldest forgotten first), so that many addresses cannot grow memory. */
const MAX_PEERS = 10_000;

export interface Peer {
  /** faults since `since` (seconds, server clock) */
  faults: number;
  since: number;
  /** refused until this time (seconds); 0 when not refused */
  refusedUntil: number;
  /** slowed: the earliest time (ms) the next connection may start, and whether one is waiting */
  nextStart: number;
  waiting: boolean;
}

export type Admission = { kind: 'ok' } | { kind: 'refuse' } | { kind: 'delay'; ms: number; done: () => void };

export class Offenders {
  private readonly peers = new Map<string, Peer>();

  constructor(private readonly s: Settings) {}

  /** The key of a socket's peer, or null when it is never judged. */
  key(remoteAddress: string | undefined): string | null {
    if (!remoteAddress || (this.s.offenderSlow === 0 && this.s.offenderRefuse === 0)) return null;
    let a = remoteAddress;
    if (a.startsWith('::ffff:') && net.isIPv4(a.slice(7))) a = a.slice(7);
    if (!this.s.offenderLoopback && (a.startsWith('127.') || a === '::1')) return null;
    if (net.isIPv6(a)) return `${expand6(a).slice(0, 4).join(':')}::/64`;
    return a;
  }

  /** Count a fault; returns what changed for the peer, for the log and stats. */
  fault(key: string, now: number): 'slowed' | 'refused' | null {
    let p = this.peers.get(key);
    if (!p || now - p.since >= this.s.offenderWindow) {
      if (p?.refusedUntil && p.refusedUntil > now) return null; // already refused
      this.peers.delete(key);
      if (this.peers.size >= MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
      p = { faults: 0, since: now, refusedUntil: 0, nextStart: 0, waiting: false };
      this.peers.set(key, p);
    }
    p.faults++;
    if (this.s.offenderRefuse > 0 && p.faults === this.s.offenderRefuse) {
      p.refusedUntil = now + this.s.offenderBackoff;
      return 'refused';
    }
    if (this.s.offenderSlow > 0 && p.faults === this.s.offenderSlow) return 'slowed';
    return null;
  }

  /** Decide for a new connection from `key` at `now` (s) / `nowMs`. */
  admit(key: string, now: number, nowMs: number): Admission {
    const p = this.peers.get(key);
    if (!p) return { kind: 'ok' };
    if (p.refusedUntil > now) return { kind: 'refuse' };
    if (p.refusedUntil > 0 || now - p.since >= this.s.offenderWindow) { this.peers.delete(key); return { kind: 'ok' }; } // served its time / forgotten
    if (this.s.offenderSlow === 0 || p.faults < this.s.offenderSlow) return { kind: 'ok' };
    if (p.waiting) return { kind: 'refuse' };
    const ms = Math.max(0, p.nextStart - nowMs);
    p.nextStart = Math.max(nowMs, p.nextStart) + SLOW_MS;
    if (ms === 0) return { kind: 'ok' };
    p.waiting = true;
    return { kind: 'delay', ms, done: () => { p.waiting = false; } };
  }

  get size(): number { return this.peers.size; }

  /** -t N: the peer's record, to hand to the other workers (null: none) */
  record(key: string): Peer | null { return this.peers.get(key) ?? null; }

  /** -t N: another worker's record of the peer; true if it is newly refused here */
  replace(key: string, rec: Peer | null, now: number): boolean {
    const p = this.peers.get(key);
    if (!rec) { this.peers.delete(key); return false; }
    const wasRefused = !!p && p.refusedUntil > now;
    if (p) Object.assign(p, rec); // in place: a waiting admission's done() holds this object
    else {
      if (this.peers.size >= MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
      this.peers.set(key, { ...rec });
    }
    return !wasRefused && rec.refusedUntil > now;
  }

  has(key: string): boolean { return this.peers.has(key); }
}

/** An IPv6 address as its 8 groups. */
function expand6(a: string): string[] {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0'));
}
