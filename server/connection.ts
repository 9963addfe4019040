// One client connection: its pending bytes and its "waiting for N bytes" / "discarding N bytes"
// state live here, in root, and are handed to the parser on each read event (DESIGN.md
// invariant 1). One native parse call per read event, one socket write per event.
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { abi, native } from '../native/index.ts';
import {
  D_ERR, D_FLAGS, D_KEY_LEN, D_KEY_OFF, D_OP, D_START, OP, P_FAULT, REMC_CLOSE_QUIT, REMC_DF_LAST_KEY, REMC_LINE_MAX,
  REMC_PS_CLOSE, REMC_PS_FULL, R_CLOSE_REASON, R_CONSUMED, R_FAULT_ADDR, R_FAULT_CLOSE_NS, R_FAULT_CODE, R_FAULT_KIND,
  R_FAULT_NS, R_FAULT_PKEY, R_FAULT_SIGNO, R_NDESC, R_RESUME, R_VALIDATE, WORDS,
} from '../protocol/abi.ts';
import { After, type BinaryConn, type TextConn } from '../protocol/conn.ts';
import type { TextProtocol } from '../protocol/text.ts';
import type { BinaryProtocol } from '../protocol/binary.ts';
import type { Output } from '../protocol/output.ts';
import { countFault, countInvalid, type Counters } from '../protocol/context.ts';
import { CLOSE_REASON, LOG_CONNEVENTS, LOG_EVICTIONS, type Watch, type WatchSink } from '../protocol/watch.ts';
import { R } from '../protocol/replies.ts';
import { pauseRaw, readInto, readRaw, resumeRaw, type StreamHandle } from './fastread.ts';
import { Gate, type AsciiAuth } from './ascii-auth.ts';
import { faultLog, log } from './log.ts';
import { flushVerbose, verboseLine, type Verbose } from './verbose.ts';

const BINARY_MAGIC = 0x80;
const OP_GET = OP.GET, OP_GATS = OP.GATS;
/** a non-get line this long without '\n' is judged by the parser (close or long multiget) */
/** Most bytes one read takes; the window holds this plus the largest incomplete command. */
export const READ_SIZE = 256 * 1024;
/** Output assembled past this is written out before the next command runs. */
const FLUSH_AT = 256 * 1024;
/** Pending input is fed to the parser in slices of whole lines or packets, about twice what the
 *  last continuation ran, so a connection that yields often (-R) parses little it will not run. */
const SLICE_MIN = 1024, SLICE_MAX = 64 * 1024;
/** An emptied pending buffer larger than this is dropped once a read needed no yield (a burst's
 *  memory is given back; while a client pipelines, its buffer is reused, not reallocated). */
const KEEP_PENDING = 64 * 1024;

/** ES2024's resizable ArrayBuffer (V8 11 has it; the ES2023 lib used here does not type it). */
interface Resizable extends ArrayBuffer { resize(n: number): void; readonly maxByteLength: number }
const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable;

/**
 * The budget of bytes held for connections' pending input (incomplete commands, values being
 * received), separate from -m. A connection that would go over it is closed and logged, as
 * memcached closes a connection whose read buffer it cannot grow.
 */
export class InputBudget {
  used = 0;
  closed = 0;
  constructor(readonly limit: number) {}
}

/**
 * Memory of a burst (big replies, pending values, connections) is freed only when V8 collects
 * its buffers, into glibc's heap, which keeps it; and nothing allocates once an attacker has
 * left, so nothing would collect them. Once a burst of at least 8 MiB is over (a second without
 * a new one), collect and trim, once.
 */
class Reclaimer {
  private noted = 0;
  private seen = 0;
  private timer: NodeJS.Timeout | null = null;
  private gc: (() => void) | null = null;

  note(bytes: number): void {
    this.noted += bytes;
    if (this.timer || this.noted < (8 << 20)) return;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  private tick(): void {
    if (this.noted !== this.seen) { this.seen = this.noted; return; } // still busy: later
    clearInterval(this.timer!);
    this.timer = null;
    this.noted = this.seen = 0;
    if (!this.gc) {
      v8.setFlagsFromString('--expose-gc');
      this.gc = vm.runInNewContext('gc') as () => void;
    }
    this.gc();
    native.trimMemory();
  }
}
export const reclaimer = new Reclaimer();

/** Shared by all connections of one event loop. */
export interface Loop {
  window: Buffer;
  desc: Uint32Array;
  res: Float64Array;
  out: Output;
  text: TextProtocol;
  binary: BinaryProtocol;
  counters: Counters;
  binaryAllowed: boolean;
  /** -B binary (and -S): every connection is binary from its first byte */
  binaryOnly: boolean;
  /** -Y: connections answer nothing but authentication until they authenticate */
  asciiAuth: AsciiAuth | null;
  now(): number;
  onClose(c: Connection): void;
  /** the parser faulted or its output failed validation on this connection (repeat offenders) */
  onFault(c: Connection): void;
  /** memcached's verbosity (-v, `verbosity N`): 2 and up prints its per-command lines */
  verbose: number;
  vlog: Verbose;
  /** `watch`: the watchers of this thread and the event lines (protocol/watch.ts) */
  watch: Watch;
  /** -R: commands one event runs before the connection yields to others */
  reqsPerEvent: number;
  budget: InputBudget;
}

/** An accepted TCP handle before Node has built its net.Socket (server/server.ts acceptRaw). */
export interface RawStart {
  handle: StreamHandle & { fd: number; close(cb: () => void): void; getsockname?(out: object): number; setNoDelay?(on: boolean): number };
  peer: { address?: string; port?: number; family?: string };
  /** has Node build the net.Socket for the handle and hand it to conn.attach() (synchronously) */
  upgrade(conn: Connection): void;
}

export class Connection implements TextConn, BinaryConn, WatchSink {
  /** bytes received but not yet executed, in pending[pendingOff..pendingLen) */
  private pending: Buffer | null = null;
  /** Past KEEP_PENDING, pending lies in this resizable ArrayBuffer: it grows in place (no copy,
   *  no garbage) and resize(0) gives its pages back to the kernel at once, so what the input
   *  budget counts is what is held. A plain Buffer is freed only when its isolate next collects,
   *  and with -t N each worker's isolate would hold a burst's dropped input until then. */
  private big: Resizable | null = null;
  private pendingOff = 0;
  private pendingLen = 0;
  /** with stalled: the pending command is a multiget cut at this key (offset from pendingOff) */
  private resumeOff = 0;
  /** wait until this many bytes are pending before parsing again (a storage command's data) */
  private need = 0;
  /** discard this many more bytes (the rest of a too-large value) */
  private swallow = 0;
  private decided = false;
  /** bytes have arrived (memcached lists a connection that never sent any as conn_new_cmd) */
  private heard = false;
  /** its commands are running now (the one asking `stats conns` is in conn_parse_cmd) */
  private running = false;
  /** 1 once the connection speaks the binary protocol (REMC_IN_BINARY for the parser) */
  private binary = 0;
  /** -S: SASL authentication succeeded on this connection; -Y: ASCII authentication did */
  authenticated = false;
  private closing = false;
  /** reading stopped (stalled, or the client is not reading our output) */
  private readStopped = false;
  /** Node holds more of our output than its high-water mark: wait for 'drain' */
  private blocked = false;
  /** commands wait in pending: the connection yielded (-R) or is blocked */
  private stalled = false;
  /** commands this event may still run (-R) */
  private left = 0;
  /** the window being processed is a copy of pending[pendingOff..] (not a fresh read) */
  private fromPending = false;
  /** the last slice made no progress: feed all that is pending */
  private wide = false;
  private sliceLen = 4096;
  amount = 0;
  afterSwallow: Buffer | null = null;
  watchFlags = 0;
  /** the connection is a `watch` log stream: its input is dropped, event lines go out */
  private watching = false;
  private watchOut: string[] = [];
  private watchBytes = 0;
  /** memcached's close_reason (CLOSE_REASON) for the conn_close line */
  closeReason: number = CLOSE_REASON.error;
  lastCmdTime: number;
  readonly fd: number;
  /** fd for the direct write path; -1 on a TLS socket (its bytes must go through TLS) */
  private readonly plainFd: number;
  private peerName: string | null = null;
  private localName: string | null = null;

  /** Node's socket; null while the connection is raw (see `raw`) */
  private sock: net.Socket | null = null;
  /** A connection accepted without a net.Socket (server/server.ts acceptRaw) is raw until it
   *  outlives its first read: a parser fault there closes the bare handle, and Node never
   *  builds the socket and its streams (most of what a short connection costs). Anything but
   *  a direct write or a close gets the socket built first (the `socket` getter). */
  private raw: RawStart | null;
  private rawClosed = false;
  /** a raw connection's peer (getpeername at accept) */
  private readonly peer: RawStart['peer'] | null;
  private rawNoDelay = false;
  /** the raw handle reads into the window with no socket (server/fastread.ts readRaw) */
  private rawReading = false;
  /** the socket reads straight into the window (server/fastread.ts), not through 'data' */
  private direct = false;

  /** `listener`: the listener's own address, for a socket that no longer knows its local one */
  constructor(socket: net.Socket | null, private readonly loop: Loop, private readonly listener: string, raw: RawStart | null = null) {
    this.lastCmdTime = loop.now();
    this.raw = raw;
    this.peer = raw ? raw.peer : null;
    this.fd = raw ? raw.handle.fd : (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    if (loop.binaryOnly) { this.decided = true; this.binary = 1; }
    // TLS (server/tls.ts): decrypted bytes arrive as 'data' and replies go through socket.write
    const encrypted = (socket as { encrypted?: boolean } | null)?.encrypted === true;
    this.plainFd = encrypted ? -1 : this.fd;
    if (socket) this.attach(socket);
    if (loop.watch.flags & LOG_CONNEVENTS) this.logConn(true);
    if (loop.verbose > 1) {
      verboseLine(`<${this.fd} new ${loop.binaryOnly ? 'binary client connection.' : loop.binaryAllowed ? 'auto-negotiating client connection' : 'ascii client connection.'}`);
      flushVerbose();
    }
  }

  /** Start reading (once the server has the connection in its table: its first bytes may ask
   *  for `stats conns`). Accepted paused (pauseOnConnect), so that reads start only now. */
  start(): void {
    // A client that spoke at once (most do) has its first bytes read here, with no read
    // registration nor callback for them: a connection that ends with them (a parser fault,
    // `quit`) never starts reading, and a raw one never gets a socket.
    if (this.raw || this.direct) {
      const n = native.readIn(this.plainFd, READ_SIZE);
      if (n > 0) this.onRead(n);
    }
    if (this.closing || this.readStopped) return; // closed, or stopped until drained / continued
    if (this.raw && !this.rawClosed) {
      // still raw: its next reads come without a socket too, until something needs one
      this.rawReading = readRaw(this.raw.handle, this.loop.window.subarray(0, READ_SIZE), {
        data: (n) => this.onRead(n),
        end: () => { if (!this.closing) this.closeReason = CLOSE_REASON.normal; this.closing = true; this.closeRaw(); },
        error: (err) => { log.info({ conn: this.fd, err: err.message }, 'connection error'); this.closing = true; this.closeRaw(); },
      });
      if (this.rawReading) return;
    }
    this.socket.resume();
  }

  /** The socket, built now for a raw connection. */
  get socket(): net.Socket {
    if (this.sock) return this.sock;
    const raw = this.raw!;
    const wasReading = this.rawReading;
    this.rawReading = false;
    raw.upgrade(this); // Node's own accept: builds the socket (paused) and calls attach() with it
    if (!this.sock) { // (never in Node 20: its onconnection emits 'connection' synchronously)
      const s = new net.Socket();
      s.destroy();
      this.closeRaw();
      return s;
    }
    const sock = this.sock as net.Socket;
    // Its reads go on through the socket, unless what asked for it stops them: decided after
    // the caller (a write that blocks stops reading), because a resume() now would restart the
    // handle's reads on the next tick, even after a pause() in between.
    if (wasReading) process.nextTick(() => { if (!this.readStopped && !this.closing) sock.resume(); });
    return sock;
  }

  /** Take `socket` (paused) as this connection's: its reads, errors and close. */
  attach(socket: net.Socket): void {
    const loop = this.loop;
    this.sock = socket;
    this.raw = null;
    socket.setNoDelay(true);
    this.direct = this.plainFd >= 0 && readInto(socket, loop.window.subarray(0, READ_SIZE), (n) => this.onRead(n));
    if (!this.direct) {
      socket.on('data', (chunk: Buffer) => {
        if (chunk.length > loop.window.length) { this.overflow(); return; }
        loop.window.set(chunk, 0);
        if (!this.onRead(chunk.length)) socket.pause();
      });
    }
    socket.on('error', (err) => log.info({ conn: this.fd, err: err.message }, 'connection error'));
    socket.on('end', () => { if (!this.closing) this.closeReason = CLOSE_REASON.normal; });
    socket.on('close', () => this.closed());
  }

  /** The socket or the raw handle is closed (memcached's conn_close). */
  private closed(): void {
    const loop = this.loop;
    this.closing = true;
    this.dropPending();
    reclaimer.note(64 * 1024);
    if (this.watching) { this.watching = false; loop.watch.remove(this); }
    if (loop.watch.flags & LOG_CONNEVENTS) this.logConn(false);
    if (loop.verbose > 1) { verboseLine(`<${this.fd} connection closed.`); flushVerbose(); }
    loop.onClose(this);
  }

  private closeRaw(): void {
    if (this.rawClosed || !this.raw) return;
    this.rawClosed = true;
    this.raw.handle.close(() => this.closed());
  }

  get destroyed(): boolean { return this.sock ? this.sock.destroyed : this.rawClosed; }

  /** Close at once (no FIN after pending output). */
  destroy(): void {
    if (this.sock) this.sock.destroy();
    else this.closeRaw();
  }

  // The peer as read at accept (a closed socket no longer knows it unless it was asked before)
  get remoteAddress(): string | undefined { return this.peer ? this.peer.address : this.sock?.remoteAddress; }
  private get remotePort(): number | undefined { return this.peer ? this.peer.port : this.sock?.remotePort; }
  private get remoteFamily(): string | undefined { return this.peer ? this.peer.family : this.sock?.remoteFamily; }

  /** memcached's conn_to_str of the peer (`stats conns` addr, log lines); made when first asked
   *  for (most connections are never listed), from the peer name read at accept. */
  get addr(): string {
    if (this.peerName !== null) return this.peerName;
    const a = this.remoteAddress;
    return this.peerName = this.remoteFamily === 'IPv6' ? `tcp6:[${a}]:${this.remotePort}` : a ? `tcp:${a}:${this.remotePort}` : 'unix';
  }

  /** memcached's listen_addr: the connection's own local address (getsockname), asked for only
   *  by `stats conns`, so the system call is not made per connection. A connection already torn
   *  down (its last moments, in conn_closing) shows its listener's address. */
  get listenAddr(): string {
    if (this.localName !== null) return this.localName;
    let a: string | undefined, port: number | undefined, family: string | undefined;
    if (this.sock) { a = this.sock.localAddress; port = this.sock.localPort; family = this.sock.localFamily; }
    else if (this.raw && !this.rawClosed) {
      const out: { address?: string; port?: number; family?: string } = {};
      this.raw.handle.getsockname?.(out);
      a = out.address; port = out.port; family = out.family;
    }
    if (!a) return this.listener;
    return this.localName = family === 'IPv6' ? `tcp6:[${a}]:${port}` : `tcp:${a}:${port}`;
  }

  /** conn_new / conn_close for watchers (memcached: rip=unix rport=0 transport=local on -s) */
  private logConn(open: boolean): void {
    const unix = this.addr === 'unix';
    const rip = unix ? 'unix' : this.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    const rport = unix ? 0 : this.remotePort ?? 0;
    if (open) this.loop.watch.connNew(rip, rport, unix ? 0 : 1, this.fd);
    else this.loop.watch.connClose(rip, rport, unix ? 0 : 1, this.closeReason, this.fd);
  }

  /** WatchSink: what is still queued for the client */
  queued(): number { return (this.sock?.writableLength ?? 0) + this.watchBytes; }

  /** WatchSink: one event line; lines go out together once this turn of the event loop ends */
  write(line: string): void {
    if (this.closing) return;
    if (this.watchOut.length === 0) setImmediate(this.flushWatch);
    this.watchOut.push(line);
    this.watchBytes += line.length;
  }

  private readonly flushWatch = (): void => {
    const text = this.watchOut.join('');
    this.watchOut = [];
    this.watchBytes = 0;
    if (this.closing || this.destroyed) return;
    this.loop.counters.bytes_written += text.length;
    this.socket.write(text, 'latin1');
  };

  /** `watch` answered OK: from now on the connection only receives event lines */
  private startWatching(): void {
    this.watching = true;
    this.dropPending();
    this.need = this.swallow = 0;
    this.flush();
  }

  /** memcached's name for what the connection is doing (`stats conns`) */
  get state(): string {
    if (this.closing) return 'conn_closing';
    if (this.need) return 'conn_nread';
    if (this.running) return 'conn_parse_cmd';
    return this.heard ? 'conn_read' : 'conn_new_cmd';
  }

  /** waiting for (the rest of) a command line, not stalled on our own output or a yield, not a
   *  watcher: what memcached's idle_timeout may close */
  get awaitingCommand(): boolean { return !this.closing && !this.blocked && !this.stalled && !this.watching && this.need === 0 && this.swallow === 0; }

  /** A read event: `nread` new bytes are at window[0..nread). Returns false to stop reading. */
  private onRead(nread: number): boolean {
    const loop = this.loop;
    const window = loop.window;
    loop.counters.bytes_read += nread;
    this.heard = true;
    if (this.closing) return false;
    if (this.watching) return true; // memcached reads a watcher only to see it close
    let start = 0;
    if (this.swallow > 0) {
      if (nread < this.swallow) { this.swallow -= nread; return true; }
      start = this.swallow;
      this.swallow = 0;
      if (this.afterSwallow) { loop.out.bytes(this.afterSwallow); this.afterSwallow = null; this.flush(); }
      if (start === nread) return !this.readStopped;
    }
    if (!this.decided) {
      this.decided = true;
      // -B auto: the first byte decides for the life of the connection (memcached)
      if (window[start] === BINARY_MAGIC && loop.binaryAllowed) this.binary = 1;
      if (loop.verbose > 1 && loop.binaryAllowed) verboseLine(`${this.fd}: Client using the ${this.binary ? 'binary' : 'ascii'} protocol`);
    }
    const n = nread - start;
    const tail = this.pendingLen - this.pendingOff;
    let len: number;
    if (tail > 0 || this.stalled) {
      if (tail + n > window.length) { this.overflow(); return false; }
      // Collect without parsing while nothing can come of it: a value still incomplete, or a
      // text line still without its '\n' (a long line is not scanned again from its start).
      if (this.stalled || (this.need > 0 ? tail + n < this.need
        : this.binary === 0 && (this.authenticated || !loop.asciiAuth) && (tail > REMC_LINE_MAX || tail + n <= REMC_LINE_MAX) &&
          window.subarray(start, nread).indexOf(10) < 0)) {
        if (!this.reserve(tail + n)) return false;
        window.copy(this.pending!, this.pendingLen, start, nread);
        this.pendingLen += n;
        return !this.readStopped;
      }
      // The pending bytes go in front of the new ones, in the window.
      window.copyWithin(tail, start, nread);
      this.pending!.copy(window, 0, this.pendingOff, this.pendingLen);
      this.pendingOff = this.pendingLen = 0;
      len = tail + n;
    } else {
      if (start > 0) window.copyWithin(0, start, nread);
      len = n;
    }
    // binary: memcached reads the rest of a value straight into the item and answers before it
    // reads further, so the completed command's reply goes out on its own
    const answerFirst = this.binary === 1 && this.need > 0;
    this.need = 0;
    this.left = loop.reqsPerEvent + 1; // memcached runs one more than -R in a read event
    this.running = true;
    this.process(len, 0, answerFirst);
    this.running = false;
    if (!this.stalled && this.pendingLen === 0) this.shrinkPending();
    return !this.readStopped;
  }

  /** Room for `size` bytes from pending[0] (moving what is pending there), within the budget;
   *  false (and the connection closed) when the budget cannot give it. */
  private reserve(size: number, strict = true): boolean {
    const have = this.pending?.length ?? 0;
    const keep = this.pendingLen - this.pendingOff;
    if (size <= have) {
      if (this.pendingOff > 0) this.pending!.copyWithin(0, this.pendingOff, this.pendingLen);
      this.pendingOff = 0;
      this.pendingLen = keep;
      return true;
    }
    const budget = this.loop.budget;
    let cap = Math.max(size, this.need, 4096, Math.min(have * 2, this.loop.window.length));
    if (budget.used - have + cap > budget.limit) cap = Math.max(size, this.need);
    if (budget.used - have + cap > budget.limit) {
      if (!strict) return false;
      budget.closed++;
      log.warn({ conn: this.fd, peer: this.addr, pending: keep, want: cap, budget: budget.limit, used: budget.used },
        'input budget exhausted; closing the connection');
      this.kill();
      return false;
    }
    budget.used += cap - have;
    const big = cap > KEEP_PENDING ? this.bigFor(cap) : null;
    if (big && this.pending?.buffer === big) {
      if (this.pendingOff > 0) this.pending.copyWithin(0, this.pendingOff, this.pendingLen);
      big.resize(cap); // in place: what is pending stays where it is
      this.pending = Buffer.from(big, 0, cap);
    } else {
      if (big) big.resize(cap);
      const grown = big ? Buffer.from(big, 0, cap) : Buffer.allocUnsafe(cap);
      if (keep > 0) this.pending!.copy(grown, 0, this.pendingOff, this.pendingLen);
      this.release();
      this.pending = grown;
      if (big) this.big = big;
    }
    this.pendingOff = 0;
    this.pendingLen = keep;
    return true;
  }

  /** A resizable buffer that can hold `cap` bytes: this.big, or a new one of the window's size
   *  (reserved address space, no memory until it grows); null where V8 cannot reserve one. */
  private bigFor(cap: number): Resizable | null {
    if (this.big && this.big.maxByteLength >= cap) return this.big;
    try {
      return new Resizable(0, { maxByteLength: Math.max(cap, this.loop.window.length) });
    } catch {
      return null; // a plain Buffer then
    }
  }

  /** Let go of the pending buffer's memory: at once for a resizable one, else at the next GC. */
  private release(): void {
    const p = this.pending;
    if (!p) return;
    if (p.buffer === this.big) this.big.resize(0);
    else reclaimer.note(p.length);
  }

  /** Nothing is pending: forget offsets; give back a buffer grown for a burst. */
  private shrinkPending(): void {
    if (this.pendingOff < this.pendingLen) return;
    this.pendingOff = this.pendingLen = 0;
    if (this.pending && this.pending.length > KEEP_PENDING) this.dropPending();
  }

  private dropPending(): void {
    if (!this.pending) return;
    this.loop.budget.used -= this.pending.length;
    this.release();
    this.pending = null;
    this.pendingOff = this.pendingLen = 0;
  }

  /** window[from..len) is kept for later; false if the connection was closed for it. */
  private rest(from: number, len: number): boolean {
    if (this.fromPending) { this.pendingOff += from; return true; } // it is still in pending
    const n = len - from;
    if (n === 0) return true;
    if (!this.reserve(Math.max(n, this.need))) return false;
    this.loop.window.copy(this.pending!, 0, from, len);
    this.pendingLen = n;
    return true;
  }

  /** Execute what window[0..len) holds; `resume`: the first command is a multiget cut there. */
  private process(len: number, resume: number, answerFirst = false): void {
    const loop = this.loop;
    const res = loop.res;
    const desc = loop.desc;
    const out = loop.out;
    const text = loop.text;
    const binary = this.binary ? loop.binary : null;
    let start = 0;
    text.stacked = 0; // memcached writes its replies out at the end of each read event
    if (loop.verbose > 1) loop.vlog.event();
    if (loop.watch.flags) loop.watch.cfd = this.fd;
    if (loop.asciiAuth && !this.authenticated) {
      const g = loop.asciiAuth.gate(this, len);
      if (g !== Gate.AUTHED) { this.afterGate(g, len); return; }
      start = loop.asciiAuth.pos;
    }
    for (;;) {
      const st = native.parse(len, start, resume, this.fd, this.binary);
      loop.counters.parser_calls++;
      if (st < 0) { this.parserFailed(st); return; }
      const n = res[R_NDESC]!;
      if (n > 0) this.lastCmdTime = loop.now(); // bytes that complete no command are no activity (idle_timeout)
      for (let i = 0; i < n; i++) {
        // -vv is looked at before and after each command: `verbosity N` takes effect in between
        const mark = out.size;
        if (loop.verbose > 1) { if (binary) loop.vlog.binBefore(this.fd, i); else loop.vlog.textBefore(this.fd, i); }
        const a = binary ? binary.exec(this, i, len) : text.exec(this, i, len);
        if (loop.verbose > 1) {
          if (binary) loop.vlog.binAfter(this.fd, mark);
          else { loop.vlog.textAfter(this.fd, i, mark, a, this.afterSwallow, text.quiet); text.quiet = null; }
        }
        if (binary && (binary.flushNow || answerFirst)) { binary.flushNow = answerFirst = false; this.flush(); } // NOOP writes out
        if (a === After.CONTINUE) {
          // memcached yields after -R commands (a multiget is one), and runs no more commands
          // while its writes would block; keys of a multiget are not commands
          const b = i * WORDS;
          if ((binary !== null || (desc[b + D_FLAGS]! & REMC_DF_LAST_KEY) !== 0 || desc[b + D_OP]! < OP_GET ||
              desc[b + D_OP]! > OP_GATS || desc[b + D_ERR]! !== 0) && --this.left === 0) {
            loop.counters.conn_yields++;
            if (this.stopAfter(i, n, st, len)) return;
          } else if (out.size >= FLUSH_AT) {
            this.flush();
            if (this.blocked && this.stopAfter(i, n, st, len)) return;
          }
          continue;
        }
        if (a === After.WATCH) {
          if (loop.watch.add(this, this.watchFlags)) {
            out.bytes(R.OK);
            this.startWatching();
            return;
          }
          out.bytes(R.WATCHER_TOO_MANY);
          continue;
        }
        if (a === After.NEED) {
          this.need = this.amount;
          this.rest(res[R_CONSUMED]!, len);
        } else if (a === After.SWALLOW) {
          this.swallow = this.amount;
          if (this.fromPending) { this.pendingOff += len; this.swallowPending(); }
        }
        this.flush();
        if (a === After.CLOSE) {
          const op = desc[i * WORDS + D_OP];
          if (!binary) this.closeReason = op === OP.QUIT ? CLOSE_REASON.normal : op === OP.SHUTDOWN ? CLOSE_REASON.shutdown : CLOSE_REASON.error;
          this.close();
        }
        return;
      }
      if (st === REMC_PS_FULL) { start = res[R_CONSUMED]!; resume = res[R_RESUME]!; continue; }
      if (st === REMC_PS_CLOSE) {
        // memcached answers what came before a "quit". An HTTP request line or an over-long
        // line closes at once: what memcached had already written goes out (its text gets end
        // in a write, see Output.mark), the rest is dropped.
        if (res[R_CLOSE_REASON] !== REMC_CLOSE_QUIT) loop.out.rewindToMark();
        this.flush();
        this.close();
        return;
      }
      break;
    }
    this.rest(res[R_CONSUMED]!, len);
    this.flush();
  }

  /** Stop before the command after descriptor i: keep the input from there, write what is
   *  assembled, and continue later (next turn of the event loop, or once the client drains our
   *  output). False when there is nothing left to stop before. */
  private stopAfter(i: number, n: number, st: number, len: number): boolean {
    const d = this.loop.desc;
    let at: number, resume = 0;
    if (i + 1 < n) {
      const b = (i + 1) * WORDS;
      at = d[b + D_START]!;
      if (this.binary === 0 && at === d[i * WORDS + D_START]) resume = d[b + D_KEY_OFF]!; // inside a multiget
    } else if (st === REMC_PS_FULL) {
      at = this.loop.res[R_CONSUMED]!;
      resume = this.loop.res[R_RESUME]!;
    } else {
      return false;
    }
    // A yield over the input budget is skipped (-R is for fairness, the budget for memory); a
    // connection that does not read its replies and is over it is closed.
    if (!this.fromPending && !this.reserve(len - at, this.blocked)) return this.closing;
    if (!this.rest(at, len)) return true;
    this.resumeOff = resume ? resume - at : 0;
    this.lastCmdTime = this.loop.now();
    this.flush();
    this.stalled = true;
    this.stopReading();
    if (!this.blocked) setImmediate(this.goOn);
    return true;
  }

  private readonly goOn = (): void => this.continue();

  /** Run the commands left pending by a yield or a block, slice by slice. */
  private continue(): void {
    if (!this.stalled || this.blocked || this.closing) return;
    this.stalled = false;
    this.left = this.loop.reqsPerEvent;
    const window = this.loop.window;
    while (!this.stalled && !this.closing) {
      const avail = this.pendingLen - this.pendingOff;
      if (avail === 0 || avail < this.need) break;
      let n = avail;
      if (avail > this.sliceLen && this.resumeOff === 0 && !this.wide && this.need < this.sliceLen) n = this.slice();
      if (n > window.length) { this.overflow(); return; }
      this.pending!.copy(window, 0, this.pendingOff, this.pendingOff + n);
      const before = this.pendingOff;
      const answerFirst = this.binary === 1 && this.need > 0;
      const resume = this.resumeOff;
      this.need = this.resumeOff = 0;
      this.fromPending = this.running = true;
      this.process(n, resume, answerFirst);
      this.fromPending = this.running = false;
      const ran = this.pendingOff - before;
      if (ran > 0) this.sliceLen = Math.min(SLICE_MAX, Math.max(SLICE_MIN, 2 * ran));
      if (ran !== 0 || this.closing || this.stalled) this.wide = false;
      else if (n === avail) break; // an incomplete command: wait for more input
      else this.wide = true;
    }
    if (this.stalled || this.closing) return;
    if (this.pendingOff === this.pendingLen) this.pendingOff = this.pendingLen = 0; // buffer kept for the next yield
    this.startReading();
  }

  /** The length of a prefix of what is pending: about sliceLen bytes of whole lines or packets. */
  private slice(): number {
    const p = this.pending!, off = this.pendingOff, end = this.pendingLen;
    if (this.binary === 0) {
      const nl = p.lastIndexOf(10, off + this.sliceLen - 1);
      return nl >= off ? nl + 1 - off : end - off;
    }
    let q = off;
    while (q + 24 <= end && q - off < this.sliceLen) q += 24 + p.readUInt32BE(q + 8); // header + body
    return q > off && q <= end ? q - off : end - off;
  }

  /** A too-large value being discarded: what of it is already pending. */
  private swallowPending(): void {
    const take = Math.min(this.swallow, this.pendingLen - this.pendingOff);
    this.pendingOff += take;
    this.swallow -= take;
    if (this.swallow === 0 && this.afterSwallow) { this.loop.out.bytes(this.afterSwallow); this.afterSwallow = null; }
  }

  private stopReading(): void {
    if (this.readStopped) return;
    this.readStopped = true;
    if (this.rawReading) pauseRaw(this.raw!.handle);
    else this.socket.pause();
  }

  private startReading(): void {
    if (!this.readStopped || this.blocked || this.stalled || this.closing) return;
    this.readStopped = false;
    if (this.rawReading) resumeRaw(this.raw!.handle);
    else this.socket.resume();
  }

  /** -Y, not yet authenticated: what the gate left to do (server/ascii-auth.ts). */
  private afterGate(g: Gate, len: number): void {
    const auth = this.loop.asciiAuth!;
    if (g === Gate.FAILED) { this.parserFailed(auth.status); return; }
    if (g === Gate.CLOSE) { this.close(); return; }
    if (g === Gate.NEED) this.need = auth.need;
    if (auth.pos > 0) this.lastCmdTime = this.loop.now(); // a line was answered (idle_timeout)
    if (!this.rest(auth.pos, len)) return;
    this.flush();
  }

  /** A command or line longer than the window can hold. */
  private overflow(): void {
    log.info({ conn: this.fd, peer: this.addr, bytes: this.pendingLen - this.pendingOff }, 'request larger than the input window; closing');
    this.dropPending();
    this.close();
  }

  private parserFailed(st: number): void {
    const loop = this.loop;
    const res = loop.res;
    loop.out.discard();
    this.closing = true;
    // Counted first: the binding has already shut the socket down (the peer may be told at once),
    // and with -t N the peer's next connection can be on another worker, asking for stats.
    if (st === P_FAULT) countFault(loop.counters, res[R_FAULT_KIND]!, res[R_FAULT_NS]!);
    else countInvalid(loop.counters, abi.validateErrors[res[R_VALIDATE]!]);
    loop.onFault(this);
    this.destroy();
    if (st === P_FAULT) {
      const kind = res[R_FAULT_KIND]!;
      const name = abi.faultKinds[kind] ?? String(kind);
      if (faultLog.full(name)) log.warn({
        conn: this.fd, peer: this.addr, fault: name, signo: res[R_FAULT_SIGNO],
        code: res[R_FAULT_CODE], pkey: res[R_FAULT_PKEY], addr: `0x${res[R_FAULT_ADDR]!.toString(16)}`,
        rewind_ns: res[R_FAULT_NS], close_ns: Math.round(res[R_FAULT_CLOSE_NS]!),
      }, 'parser fault rewound; connection closed');
    } else {
      const violation = abi.validateErrors[res[R_VALIDATE]!] ?? String(res[R_VALIDATE]);
      if (faultLog.full(violation)) log.warn({ conn: this.fd, peer: this.addr, violation }, 'parser output failed validation; connection closed');
    }
  }

  private flush(): void {
    if (this.loop.watch.flags & LOG_EVICTIONS) this.loop.watch.drainEvictions();
    flushVerbose(); // (nothing to do unless -vv left lines; `verbosity 0` may just have turned it off)
    const out = this.loop.out;
    const counters = this.loop.counters;
    if (this.destroyed) { out.discard(); return; }
    // Fast path: the whole reply is in the output buffer and Node has nothing queued for this
    // socket: one write(2) from the buffer. What the kernel does not take goes the usual way.
    if (out.single && this.plainFd >= 0 && (this.sock === null || this.sock.writableLength === 0)) {
      const len = out.pos;
      if (len === 0) return;
      if (this.sock === null && !this.rawNoDelay) { this.rawNoDelay = true; this.raw?.handle.setNoDelay?.(true); } // as Node sets it
      const n = native.writeOut(this.plainFd, 0, len);
      if (n === len) { out.clear(); counters.bytes_written += len; return; }
      const rest = out.takeFrom(n > 0 ? n : 0);
      if (n > 0) counters.bytes_written += n;
      this.send([rest]);
      return;
    }
    const chunks = out.take();
    if (chunks) this.send(chunks);
  }

  private send(chunks: Buffer[]): void {
    const s = this.socket;
    let ok = true;
    if (chunks.length === 1) {
      this.loop.counters.bytes_written += chunks[0]!.length;
      ok = s.write(chunks[0]!);
      reclaimer.note(chunks[0]!.length);
    } else {
      s.cork();
      for (const c of chunks) { this.loop.counters.bytes_written += c.length; ok = s.write(c) && ok; reclaimer.note(c.length); }
      s.uncork();
    }
    if (!ok && !this.blocked) {
      // The client is not reading: run none of its commands and read nothing more from it until
      // it has taken what is queued (memcached stops a connection whose writes would block).
      this.blocked = true;
      this.stopReading();
      s.once('drain', this.onDrain);
    }
  }

  private readonly onDrain = (): void => {
    this.blocked = false;
    if (this.stalled) this.continue();
    else this.startReading();
  };

  /** Close after what has been written so far. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.dropPending();
    // raw: every byte went out in a direct write, so nothing is queued here; close(2) sends
    // the FIN after what the kernel holds, as memcached's conn_close
    if (!this.sock && this.raw) { this.closeRaw(); return; }
    this.socket.end();
    this.socket.destroySoon();
  }

  /** Close at once, dropping what is queued (over the input budget). */
  private kill(): void {
    this.closing = true;
    this.dropPending();
    this.loop.out.discard();
    this.destroy();
  }

  /** Shutdown: hang up once nothing is in flight. */
  endIdle(): void {
    if (this.pendingLen === this.pendingOff && this.swallow === 0 && !this.stalled) this.close();
  }
}
