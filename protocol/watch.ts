// memcached 1.6.18's `watch` (logger.c, proto_text.c process_watch_command): a connection that
// sends `watch [fetchers] [mutations] [evictions] [connevents] ...` takes no more commands and
// receives one line per event of the kinds it asked for, from every connection of every worker
// thread. Nothing here runs unless someone watches: command paths test `watch.flags & LOG_*`
// (one integer test) before they build anything, and allocate only when that test passes.
// Lines are memcached's, byte for byte: `ts=<sec>.<usec> gid=<n> type=... \n`, keys
// uri-encoded, sizes without the value's \r\n.

import type { Store } from './store.ts';
import { MODE, R_CLASS, R_EXPTIME, STORE } from './abi.ts';

/** memcached's logger.h eflags */
export const LOG_SYSEVENTS = 1 << 1;
export const LOG_FETCHERS = 1 << 2;
export const LOG_MUTATIONS = 1 << 3;
export const LOG_CONNEVENTS = 1 << 5;
export const LOG_EVICTIONS = 1 << 6;
export const LOG_RAWCMDS = 1 << 9;
export const LOG_PROXYREQS = 1 << 10;
export const LOG_PROXYEVENTS = 1 << 11;
export const LOG_PROXYUSER = 1 << 12;

/** the arguments `watch` takes (1.6.18: no `deletions`), and the flag each turns on */
export const WATCH_ARGS: ReadonlyMap<string, number> = new Map([
  ['rawcmds', LOG_RAWCMDS], ['evictions', LOG_EVICTIONS], ['fetchers', LOG_FETCHERS],
  ['mutations', LOG_MUTATIONS], ['sysevents', LOG_SYSEVENTS], ['connevents', LOG_CONNEVENTS],
  ['proxyreqs', LOG_PROXYREQS], ['proxyevents', LOG_PROXYEVENTS], ['proxyuser', LOG_PROXYUSER],
]);
/** `watch` without arguments */
export const WATCH_DEFAULT = LOG_FETCHERS;
/** memcached's WATCHER_LIMIT: watchers in the whole process */
export const WATCHER_LIMIT = 20;
/** memcached's logger_watcher_buf_size: a watcher that lets this much pile up loses lines
 *  (counted, then reported in a `skipped=N` line once it reads again) */
export const WATCHER_BUF = 256 * 1024;

/** the longest item line: a key of 250 bytes all %XX-encoded and the other fields */
const LINE_MAX = 250 * 3 + 160;

/** item_get statuses (was_found), item_store statuses (store_item_type), commands, transports,
 *  close reasons: memcached's maps, in its order */
export const GET_STATUS = ['not_found', 'found', 'flushed', 'expired'] as const;
/** item_store's status= by the store's result (abi STORE) */
const STORE_STATUS: string[] = [];
STORE_STATUS[STORE.STORED] = 'stored';
STORE_STATUS[STORE.NOT_STORED] = 'not_stored';
STORE_STATUS[STORE.EXISTS] = 'exists';
STORE_STATUS[STORE.NOT_FOUND] = 'not_found';
STORE_STATUS[STORE.TOO_LARGE] = 'too_large';
STORE_STATUS[STORE.NO_MEMORY] = 'no_memory';
/** item_store's cmd= by store mode (abi MODE); binary stores log cmd=null (memcached loses the
 *  command on that path) */
const STORE_CMD: string[] = [];
STORE_CMD[MODE.SET] = 'set';
STORE_CMD[MODE.ADD] = 'add';
STORE_CMD[MODE.REPLACE] = 'replace';
STORE_CMD[MODE.APPEND] = 'append';
STORE_CMD[MODE.PREPEND] = 'prepend';
STORE_CMD[MODE.CAS] = 'cas';
STORE_CMD[MODE.CAS_STALE] = 'cas';
export const CMD_NULL = -1;
export const TRANSPORT = ['local', 'tcp', 'udp'] as const;
export const CLOSE_REASON = { error: 0, normal: 1, idle_timeout: 2, shutdown: 3 } as const;
const CLOSE_REASON_NAME = ['error', 'normal', 'idle_timeout', 'shutdown'];

/** A watching connection (server/connection.ts). */
export interface WatchSink {
  /** bytes handed to write() that the client has not taken yet */
  queued(): number;
  write(line: string): void;
}

/** The rest of the process, for -t N (server/server.ts); alone, a thread needs none. */
export interface WatchLink {
  /** the next log entry id (memcached's gid: one counter for the process) */
  nextGid(): number;
  /** take a watcher slot of the process (false: WATCHER_LIMIT reached), give one back */
  takeSlot(): boolean;
  giveSlot(): void;
  /** watchers in the process */
  slots(): number;
  /** this thread's watchers now want `flags`: every thread sees it before this returns, as
   *  memcached sets every worker's logger flags before it answers `watch` */
  flagsChanged(flags: number): void;
  /** what the process's watchers want (read on every command: one load) */
  flags(): number;
  /** what the other threads' watchers want */
  remoteFlags(): number;
  /** lines for the other threads' watchers: flat [flag, gid, line, ...] */
  publish(lines: Array<number | string>): void;
}

class LocalLink implements WatchLink {
  private gid = 0;
  private used = 0;
  private wanted = 0;
  nextGid(): number { return ++this.gid; }
  takeSlot(): boolean { if (this.used >= WATCHER_LIMIT) return false; this.used++; return true; }
  giveSlot(): void { this.used--; }
  slots(): number { return this.used; }
  flagsChanged(flags: number): void { this.wanted = flags; }
  flags(): number { return this.wanted; }
  remoteFlags(): number { return 0; }
  publish(): void {}
}

interface Watcher { sink: WatchSink; flags: number; minGid: number; skipped: number }

const safe = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
  c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;

/** memcached's uriencode: all but [A-Za-z0-9-._~] as %XX */
export function uriencode(buf: Buffer, off = 0, len = buf.length - off): string {
  let i = off;
  while (i < off + len && safe(buf[i]!)) i++;
  if (i === off + len) return buf.toString('latin1', off, off + len); // the usual key: one string
  let s = buf.toString('latin1', off, i);
  for (; i < off + len; i++) {
    const c = buf[i]!;
    s += safe(c) ? String.fromCharCode(c) : `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return s;
}

/** gettimeofday as memcached prints it: seconds, a dot, microseconds without zero padding */
function timestamp(): string {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return `${Math.floor(us / 1e6)}.${us % 1e6}`;
}

/** One thread's watchers, and the event lines every connection of the thread produces. */
export class Watch {
  /** what some watcher of the process wants: the hot-path test */
  get flags(): number { return this.link.flags(); }
  /** the fd of the connection whose commands run now (the `cfd=` of item lines) */
  cfd = -1;
  private local: Watcher[] = [];
  private localFlags = 0;
  private outbox: Array<number | string> = [];
  private sent = 0;
  skippedTotal = 0;

  /**
   * now: the server clock (unix seconds); startedAt: when the server started, from which
   * memcached's own clock (current_time, seconds since start + 62) is derived for ttl=.
   */
  constructor(private readonly store: Store, private readonly now: () => number, private readonly startedAt: number,
    private readonly link: WatchLink = new LocalLink()) {}

  /** ttl= of an item stored with this exptime argument: memcached's rel_time_t arithmetic
   *  (an exptime in the past is its time 1, printed as 1 - current_time, unsigned) */
  ttlOf(exptime: number): number {
    if (exptime === 0) return 0;
    const now = this.now();
    const processStarted = this.startedAt - 62; // memcached: time(0) - ITEM_UPDATE_INTERVAL - 2
    let abs = exptime > 60 * 60 * 24 * 30 ? exptime : now + exptime;
    if (exptime < 0 || abs <= processStarted) abs = processStarted + 1;
    return (abs - now) >>> 0;
  }

  /** item_get of a lookup that memcached makes before it changes an item (store, delete, incr):
   *  found or not, with the item's class and size (no stats, no bump) */
  lookup(key: Buffer, keyOff: number, keyLen: number, res: Float64Array): void {
    if (!(this.flags & LOG_FETCHERS)) return;
    const n = this.store.metaGet(keyOff, keyLen, 0);
    if (n >= 0) { this.itemGet(key, keyOff, keyLen, 1, res[R_CLASS]!, n); this.store.unpin(); }
    else this.itemGet(key, keyOff, keyLen, this.store.lastMiss(), 0, 0);
  }

  /** item_get of a command's own lookup: n is its result (value length, or < 0: a miss) */
  got(key: Buffer, keyOff: number, keyLen: number, n: number, res: Float64Array): void {
    if (n >= 0) this.itemGet(key, keyOff, keyLen, 1, res[R_CLASS]!, n);
    else this.itemGet(key, keyOff, keyLen, n === -1 ? this.store.lastMiss() : 0, 0, 0);
  }

  /** item_store after a storage command: a stored item as it now is (append: the joined one),
   *  else the item the command would have made */
  stored(key: Buffer, keyOff: number, keyLen: number, res: Float64Array, status: number, cmd: number,
    exptime: number, dataLen: number, clientFlags: number): void {
    if (!(this.flags & LOG_MUTATIONS)) return;
    if (status === STORE.STORED) {
      const n = this.store.metaGet(keyOff, keyLen, 0);
      if (n >= 0) {
        const exp = res[R_EXPTIME]!;
        const cls = res[R_CLASS]!;
        this.store.unpin();
        this.itemStore(key, keyOff, keyLen, status, cmd, exp ? exp - this.now() : 0, cls, n);
        return;
      }
    }
    this.itemStore(key, keyOff, keyLen, status, cmd, this.ttlOf(exptime), this.store.classFor(keyLen, dataLen, clientFlags), dataLen);
  }

  /** the evictions the store recorded since the last call */
  drainEvictions(): void {
    const f = this.store.takeEvictions();
    const now = this.now();
    for (let i = 0; i + 5 < f.length; i += 6) {
      const exp = f[i + 2] as number;
      this.eviction(f[i] as Buffer, f[i + 1] === 1, exp ? exp - now : -1, now - (f[i + 3] as number), f[i + 4] as number, f[i + 5] as number);
    }
  }

  /** the automover's page moves since the last call (memcached's LOGGER_SLAB_MOVE); drained
   *  whether anyone watches or not, so that a new watcher sees no old moves */
  drainSlabMoves(): void {
    const m = this.store.takeSlabMoves();
    if (!(this.flags & LOG_SYSEVENTS)) return;
    for (let i = 0; i + 1 < m.length; i += 2) {
      if (this.allFull(LOG_SYSEVENTS)) continue;
      this.emit(LOG_SYSEVENTS, `type=slab_move src=${m[i]} dst=${m[i + 1]}`);
    }
  }

  /** `watch`: the sink now receives `flags` events; false when WATCHER_LIMIT watchers exist. */
  add(sink: WatchSink, flags: number): boolean {
    if (!this.link.takeSlot()) return false;
    this.local.push({ sink, flags, minGid: this.link.nextGid(), skipped: 0 });
    this.recompute();
    return true;
  }

  /** the watcher's connection closed */
  remove(sink: WatchSink): void {
    const i = this.local.findIndex((w) => w.sink === sink);
    if (i < 0) return;
    this.local.splice(i, 1);
    this.link.giveSlot();
    this.recompute();
  }

  /** watchers of the process (stats log_watchers) */
  get watchers(): number { return this.link.slots(); }
  /** event lines made here (stats log_worker_written) */
  written = 0;

  private recompute(): void {
    let f = 0;
    for (const w of this.local) f |= w.flags;
    if (f === this.localFlags) return;
    this.localFlags = f;
    this.link.flagsChanged(f);
    // the store (one for the process) records evictions while any watcher wants them; set
    // until it agrees with the flags read after it, so that of two workers changing their
    // watchers at once, the last one to set it sets what both changes leave
    let want: number;
    do {
      want = this.link.flags() & LOG_EVICTIONS;
      this.store.logEvictions(want ? 1 : 0);
    } while ((this.link.flags() & LOG_EVICTIONS) !== want);
  }

  itemGet(key: Buffer, keyOff: number, keyLen: number, status: number, clsid: number, size: number): void {
    if (this.allFull(LOG_FETCHERS)) return;
    this.emit(LOG_FETCHERS, `type=item_get key=${uriencode(key, keyOff, keyLen)} status=${GET_STATUS[status]} clsid=${clsid} cfd=${this.cfd} size=${size}`);
  }

  /** ttl: the item's exptime less memcached's current_time, as a u32 (0: none) */
  itemStore(key: Buffer, keyOff: number, keyLen: number, status: number, cmd: number, ttl: number, clsid: number, size: number, cfd = this.cfd): void {
    if (this.allFull(LOG_MUTATIONS)) return;
    this.emit(LOG_MUTATIONS, `type=item_store key=${uriencode(key, keyOff, keyLen)} status=${STORE_STATUS[status]} cmd=${cmd === CMD_NULL ? 'null' : STORE_CMD[cmd] ?? 'na'} ttl=${ttl >>> 0} clsid=${clsid} cfd=${cfd} size=${size}`);
  }

  eviction(key: Buffer, fetched: boolean, ttl: number, la: number, clsid: number, size: number): void {
    this.emit(LOG_EVICTIONS, `type=eviction key=${uriencode(key)} fetch=${fetched ? 'yes' : 'no'} ttl=${ttl} la=${la} clsid=${clsid} size=${size}`);
  }

  connNew(rip: string, rport: number, transport: number, cfd: number): void {
    this.emit(LOG_CONNEVENTS, `type=conn_new rip=${rip} rport=${rport} transport=${TRANSPORT[transport]} cfd=${cfd}`);
  }

  connClose(rip: string, rport: number, transport: number, reason: number, cfd: number): void {
    this.emit(LOG_CONNEVENTS, `type=conn_close rip=${rip} rport=${rport} transport=${TRANSPORT[transport]} reason=${CLOSE_REASON_NAME[reason]} cfd=${cfd}`);
  }

  /** Every watcher of these events is too far behind (and no other thread wants them): count
   *  the skip without building the line, so a watcher that stopped reading costs little. */
  private allFull(flag: number): boolean {
    if (this.link.remoteFlags() & flag) return false;
    for (const w of this.local) if ((w.flags & flag) && w.sink.queued() + LINE_MAX + 128 <= WATCHER_BUF) return false;
    this.link.nextGid();
    for (const w of this.local) if (w.flags & flag) { w.skipped++; this.skippedTotal++; }
    return true;
  }

  private emit(flag: number, body: string): void {
    const gid = this.link.nextGid();
    this.written++;
    const line = `ts=${timestamp()} gid=${gid} ${body}\n`;
    if (this.localFlags & flag) this.deliver(flag, gid, line);
    if (this.link.remoteFlags() & flag) {
      if (this.outbox.length === 0) setImmediate(this.flushOutbox);
      this.outbox.push(flag, gid, line);
    }
  }

  private readonly flushOutbox = (): void => {
    const lines = this.outbox;
    this.outbox = [];
    this.link.publish(lines);
  };

  /** lines from another thread */
  receive(lines: Array<number | string>): void {
    for (let i = 0; i + 2 < lines.length; i += 3) {
      const flag = lines[i] as number;
      if (this.localFlags & flag) this.deliver(flag, lines[i + 1] as number, lines[i + 2] as string);
    }
  }

  /** memcached's logger_thread_write_entry: a watcher without room for the line (and 128 bytes
   *  for a skipped line) loses it; the count goes out first once there is room again. */
  private deliver(flag: number, gid: number, line: string): void {
    for (const w of this.local) {
      if ((w.flags & flag) === 0 || gid < w.minGid) continue;
      if (w.sink.queued() + line.length + 128 > WATCHER_BUF) { w.skipped++; this.skippedTotal++; continue; }
      if (w.skipped > 0) { w.sink.write(`skipped=${w.skipped}\n`); w.skipped = 0; }
      w.sink.write(line);
      this.sent++;
    }
  }

  get sentTotal(): number { return this.sent; }
}
