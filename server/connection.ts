// One client connection: its pending bytes and its "waiting for N bytes" / "discarding N bytes"
// state live here, in root, and are handed to the parser on each read event (DESIGN.md
// invariant 1). One native parse call per read event, one socket write per event.
import type net from 'node:net';
import { abi, native } from '../native/index.ts';
import { After, type TextConn, type TextProtocol } from '../protocol/text.ts';
import type { BinaryConn, BinaryProtocol } from '../protocol/binary.ts';
import type { Output } from '../protocol/output.ts';
import type { Counters } from '../protocol/context.ts';
import { readInto } from './fastread.ts';
import { Gate, type AsciiAuth } from './ascii-auth.ts';
import { log, safeKey } from './log.ts';

const K = abi.K as Record<string, number>;
const PS_FULL = K.REMC_PS_FULL!, PS_CLOSE = K.REMC_PS_CLOSE!, P_FAULT = K.P_FAULT!;
const R_CONSUMED = K.R_CONSUMED!, R_NDESC = K.R_NDESC!, R_RESUME = K.R_RESUME!;
const R_CLOSE_REASON = K.R_CLOSE_REASON!, CLOSE_QUIT = K.REMC_CLOSE_QUIT!;
const R_FAULT_KIND = K.R_FAULT_KIND!, R_FAULT_SIGNO = K.R_FAULT_SIGNO!, R_FAULT_CODE = K.R_FAULT_CODE!;
const R_FAULT_CLOSE_NS = K.R_FAULT_CLOSE_NS!, R_FAULT_PKEY = K.R_FAULT_PKEY!, R_FAULT_ADDR = K.R_FAULT_ADDR!, R_FAULT_NS = K.R_FAULT_NS!, R_VALIDATE = K.R_VALIDATE!;
const BINARY_MAGIC = 0x80;
const W = K.WORDS!, D_OP = K.D_OP!, D_KEY_OFF = K.D_KEY_OFF!, D_KEY_LEN = K.D_KEY_LEN!;
/** Most bytes one read takes; the window holds this plus the largest incomplete command. */
export const READ_SIZE = 256 * 1024;

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
  /** -vv and up: log every command (name and key, never values) */
  logCommands: boolean;
}

export class Connection implements TextConn, BinaryConn {
  /** bytes received but not yet parsed (an incomplete command), in pending[0..pendingLen) */
  private pending: Buffer | null = null;
  private pendingLen = 0;
  /** wait until this many bytes are pending before parsing again (a storage command's data) */
  private need = 0;
  /** discard this many more bytes (the rest of a too-large value) */
  private swallow = 0;
  private decided = false;
  /** 1 once the connection speaks the binary protocol (REMC_IN_BINARY for the parser) */
  private binary = 0;
  /** -S: SASL authentication succeeded on this connection; -Y: ASCII authentication did */
  authenticated = false;
  private closing = false;
  /** reading stopped until the client drains our output */
  private paused = false;
  amount = 0;
  afterSwallow: Buffer | null = null;
  lastCmdTime: number;
  readonly fd: number;
  readonly addr: string;
  readonly listenAddr: string;

  constructor(readonly socket: net.Socket, private readonly loop: Loop, listenAddr: string) {
    this.lastCmdTime = loop.now();
    this.fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    this.addr = socket.remoteFamily === 'IPv6' ? `tcp6:[${socket.remoteAddress}]:${socket.remotePort}`
      : socket.remoteAddress ? `tcp:${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    this.listenAddr = listenAddr;
    if (loop.binaryOnly) { this.decided = true; this.binary = 1; }
    socket.setNoDelay(true);
    if (!readInto(socket, loop.window.subarray(0, READ_SIZE), (n) => this.onRead(n))) {
      socket.on('data', (chunk: Buffer) => {
        if (chunk.length > loop.window.length) { this.overflow(); return; }
        loop.window.set(chunk, 0);
        this.onRead(chunk.length);
      });
    }
    socket.on('error', (err) => log.info({ conn: this.fd, err: err.message }, 'connection error'));
    socket.on('close', () => loop.onClose(this));
    socket.resume(); // accepted paused (pauseOnConnect), so that reads start only now
  }

  get state(): string { return this.closing ? 'conn_closing' : this.need ? 'conn_nread' : 'conn_parse_cmd'; }

  /** waiting for (the rest of) a command line: what memcached's idle_timeout may close */
  get awaitingCommand(): boolean { return !this.closing && !this.paused && this.need === 0 && this.swallow === 0; }

  /** A read event: `nread` new bytes are at window[0..nread). Returns false to stop reading. */
  private onRead(nread: number): boolean {
    const loop = this.loop;
    const window = loop.window;
    loop.counters.bytes_read += nread;
    if (this.closing) return false;
    let start = 0;
    if (this.swallow > 0) {
      if (nread < this.swallow) { this.swallow -= nread; return true; }
      start = this.swallow;
      this.swallow = 0;
      if (this.afterSwallow) { loop.out.bytes(this.afterSwallow); this.afterSwallow = null; }
      if (start === nread) { this.flush(); return !this.paused; }
    }
    if (!this.decided) {
      this.decided = true;
      // -B auto: the first byte decides for the life of the connection (memcached)
      if (window[start] === BINARY_MAGIC && loop.binaryAllowed) this.binary = 1;
    }
    let len: number;
    if (this.pendingLen > 0) {
      this.append(window, start, nread);
      if (this.pendingLen < this.need) return true;
      len = this.pendingLen;
      if (len > window.length) { this.overflow(); return false; }
      this.pending!.copy(window, 0, 0, len);
    } else {
      if (start > 0) window.copyWithin(0, start, nread);
      len = nread - start;
    }
    this.pendingLen = 0;
    // binary: memcached reads the rest of a value straight into the item and answers before it
    // reads further, so the completed command's reply goes out on its own
    const answerFirst = this.binary === 1 && this.need > 0;
    this.need = 0;
    this.process(len, answerFirst);
    return !this.paused;
  }

  /** Add src[from..to) to the pending bytes. */
  private append(src: Buffer, from: number, to: number): void {
    const want = this.pendingLen + (to - from);
    if (!this.pending || this.pending.length < want) {
      const grown = Buffer.allocUnsafe(Math.max(want, this.need, (this.pending?.length ?? 0) * 2, 4096));
      if (this.pending) this.pending.copy(grown, 0, 0, this.pendingLen);
      this.pending = grown;
    }
    src.copy(this.pending, this.pendingLen, from, to);
    this.pendingLen = want;
  }

  /** Keep window[from..len) for the next event. */
  private keep(from: number, len: number): void {
    const n = len - from;
    if (!this.pending || this.pending.length < Math.max(n, this.need)) {
      this.pending = Buffer.allocUnsafe(Math.max(n, this.need, 4096));
    }
    this.loop.window.copy(this.pending, 0, from, len);
    this.pendingLen = n;
    if (this.pending.length > 1 << 20 && n < 1 << 16 && this.need < 1 << 16) {
      this.pending = Buffer.from(this.pending.subarray(0, n)); // give back a big buffer
    }
  }

  private process(len: number, answerFirst = false): void {
    const loop = this.loop;
    const res = loop.res;
    const text = loop.text;
    const binary = this.binary ? loop.binary : null;
    let start = 0;
    let resume = 0;
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
        if (loop.logCommands) this.logCommand(i);
        const a = binary ? binary.exec(this, i, len) : text.exec(this, i, len);
        if (binary && (binary.flushNow || answerFirst)) { binary.flushNow = answerFirst = false; this.flush(); } // NOOP writes out
        if (a === After.CONTINUE) continue;
        if (a === After.NEED) {
          this.need = this.amount;
          this.keep(res[R_CONSUMED]!, len);
        } else if (a === After.SWALLOW) {
          this.swallow = this.amount;
        }
        this.flush();
        if (a === After.CLOSE) this.close();
        return;
      }
      if (st === PS_FULL) { start = res[R_CONSUMED]!; resume = res[R_RESUME]!; continue; }
      if (st === PS_CLOSE) {
        // memcached answers what came before a "quit", but an HTTP request line or an
        // over-long line closes at once, unanswered.
        if (res[R_CLOSE_REASON] === CLOSE_QUIT) this.flush();
        else loop.out.discard();
        this.close();
        return;
      }
      break;
    }
    const consumed = res[R_CONSUMED]!;
    if (consumed < len) this.keep(consumed, len);
    this.flush();
  }

  /** -Y, not yet authenticated: what the gate left to do (server/ascii-auth.ts). */
  private afterGate(g: Gate, len: number): void {
    const auth = this.loop.asciiAuth!;
    if (g === Gate.FAILED) { this.parserFailed(auth.status); return; }
    if (g === Gate.CLOSE) { this.close(); return; }
    if (g === Gate.NEED) this.need = auth.need;
    if (auth.pos < len) this.keep(auth.pos, len);
    if (auth.pos > 0) this.lastCmdTime = this.loop.now(); // a line was answered (idle_timeout)
    this.flush();
  }

  /** -vv: one debug line per command, like memcached's "<fd cmd" lines; keys escaped and cut. */
  private logCommand(i: number): void {
    const d = this.loop.desc;
    const b = i * W;
    const op = d[b + D_OP]!;
    log.debug({ conn: this.fd, cmd: this.binary ? `binary:${op}` : abi.commands[op] || 'unknown',
      key: d[b + D_KEY_LEN] ? safeKey(this.loop.window, d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!) : undefined }, 'command');
  }

  /** A command or line longer than the window can hold. */
  private overflow(): void {
    log.info({ conn: this.fd, peer: this.addr, bytes: this.pendingLen }, 'request larger than the input window; closing');
    this.pending = null;
    this.pendingLen = 0;
    this.close();
  }

  private parserFailed(st: number): void {
    const loop = this.loop;
    const res = loop.res;
    loop.out.discard();
    this.socket.destroy();
    this.closing = true;
    loop.onFault(this);
    if (st === P_FAULT) {
      const kind = res[R_FAULT_KIND]!;
      loop.counters.parser_faults++;
      loop.counters.faults_by_kind[kind] = (loop.counters.faults_by_kind[kind] ?? 0) + 1;
      log.warn({
        conn: this.fd, peer: this.addr, fault: abi.faultKinds[kind] ?? kind, signo: res[R_FAULT_SIGNO],
        code: res[R_FAULT_CODE], pkey: res[R_FAULT_PKEY], addr: `0x${res[R_FAULT_ADDR]!.toString(16)}`,
        rewind_ns: res[R_FAULT_NS], close_ns: Math.round(res[R_FAULT_CLOSE_NS]!),
      }, 'parser fault rewound; connection closed');
    } else {
      loop.counters.parser_invalid++;
      log.warn({ conn: this.fd, peer: this.addr, violation: abi.validateErrors[res[R_VALIDATE]!] ?? res[R_VALIDATE] },
        'parser output failed validation; connection closed');
    }
  }

  private flush(): void {
    const out = this.loop.out;
    const counters = this.loop.counters;
    const s = this.socket;
    // Fast path: the whole reply is in the output buffer and Node has nothing queued for this
    // socket: one write(2) from the buffer. What the kernel does not take goes the usual way.
    if (out.single && this.fd >= 0 && s.writableLength === 0 && !s.destroyed) {
      const len = out.pos;
      if (len === 0) return;
      const n = native.writeOut(this.fd, 0, len);
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
    } else {
      s.cork();
      for (const c of chunks) { this.loop.counters.bytes_written += c.length; ok = s.write(c) && ok; }
      s.uncork();
    }
    if (!ok && !this.paused) {
      // The client is not reading: stop reading from it until it does (bounded memory).
      this.paused = true;
      s.pause();
      s.once('drain', () => { this.paused = false; if (!this.closing) s.resume(); });
    }
  }

  /** Close after what has been written so far. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.end();
    this.socket.destroySoon();
  }

  /** Shutdown: hang up once nothing is in flight. */
  endIdle(): void {
    if (this.pendingLen === 0 && this.swallow === 0) this.close();
  }
}
