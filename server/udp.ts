// memcached's UDP transport (-U). Each datagram is one read event: its 8-byte frame header is
// checked and stripped, its payload goes into the parser's window and through the same
// native.parse call, validation and protocol layer as a TCP read; the replies are then framed
// the way memcached 1.6.18 frames them (memcached.c: try_read_udp, build_udp_header,
// transmit_udp, _transmit_post).
//
// memcached sends each command's response object (one per key of a multiget) as its own run of
// datagrams: header = request id, sequence number within that response, datagram count of that
// response, 0; at most 1400 bytes a datagram with the header. A response with nothing to send
// but not suppressed (a missed key of a multiget, `quit`) still costs an 8-byte datagram whose
// count is 0, unless it follows a response that was just sent (then it is dropped with it).
// memcached transmits after each retrieval command, after `mn`, after `quit` and at the end of
// the datagram; that decides which empty responses become such datagrams, so it is kept here.
import dgram from 'node:dgram';
import { abi, native } from '../native/index.ts';
import {
  D_ERR, D_FLAGS, D_KEY_LEN, D_KEY_OFF, D_OP, OP, P_FAULT, PERR, REMC_CLOSE_QUIT, REMC_DF_LAST_KEY, REMC_PS_CLOSE,
  REMC_PS_FULL, R_CLOSE_REASON, R_CONSUMED, R_FAULT_KIND, R_FAULT_NS, R_NDESC, R_RESUME, R_VALIDATE, WORDS,
} from '../protocol/abi.ts';
import { After, type BinaryConn } from '../protocol/conn.ts';
import { countFault, countInvalid } from '../protocol/context.ts';
import type { Loop } from './connection.ts';
import { faultLog, log } from './log.ts';
import { flushVerbose, verboseLine } from './verbose.ts';
import { listenSpecs } from './config.ts';

/** the fd of a UDP socket (memcached's -vv lines name it): through dgram's internal state, as
 *  its `_handle` getter is deprecated (and warns) */
function udpFd(sock: dgram.Socket): number {
  const k = Object.getOwnPropertySymbols(sock).find((x) => x.description === 'state symbol');
  const st = k ? (sock as unknown as Record<symbol, { handle?: { fd?: number } }>)[k] : undefined;
  return st?.handle?.fd ?? -1;
}

const HEADER = 8;
/** memcached's UDP_MAX_PAYLOAD_SIZE: header included */
const MAX_PAYLOAD = 1400;
const DATA_SIZE = MAX_PAYLOAD - HEADER;
/** Replies assembled past this are sent before the datagram's next command runs. */
const FLUSH_AT = 256 * 1024;
/** Datagrams are dropped (UDP may drop them anyway) while Node holds more than this unsent:
 *  a 64 KiB request of repeated big keys could otherwise queue gigabytes. */
const QUEUE_LIMIT = 16 << 20;

interface Peer { address: string; port: number; family: string }
/** One bound UDP socket, listed by `stats conns` as memcached lists its UDP conns. */
interface UdpSocket { sock: dgram.Socket; addr: string; fd: number; port: number; ipv6: boolean; lastCmdTime: number }

/** One UDP socket per listen address; one shared state, as memcached's UDP conn is one object
 *  read by one thread (its state does not outlive a datagram here). */
export class UdpService implements BinaryConn {
  amount = 0;
  afterSwallow: Buffer | null = null;
  lastCmdTime = 0;
  /** `watch` over UDP: not a stream memcached can keep either; the datagram's rest is dropped */
  watchFlags = 0;
  /** never asked: -S refuses -U, and memcached serves UDP without -Y authentication */
  authenticated = false;
  readonly sockets: UdpSocket[] = [];
  /** responses of the current datagram not yet sent: end offset in the output, and whether
   *  memcached would have suppressed it (noreply, quiet) rather than sent it empty */
  private ends: number[] = [];
  private skips: boolean[] = [];
  /** the last transmit was ours (FLUSH_AT), not memcached's: it would still be sending the
   *  response before, so empty responses at the head are dropped with it */
  private absorb = false;
  private reqId = 0;
  private sock: dgram.Socket | null = null;
  private entry: UdpSocket | null = null;
  private peer: Peer | null = null;
  dropped = 0;

  constructor(private readonly loop: Loop) {}

  get addrs(): string[] { return this.sockets.map((s) => s.addr); }

  /** Bind host:port. IPv6 sockets are IPv6 only: memcached binds 0.0.0.0 and :: apart. */
  listen(host: string, port: number): Promise<void> {
    const ipv6 = host.includes(':');
    const sock = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', reuseAddr: true, ipv6Only: ipv6 });
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: host, port }, () => {
        sock.off('error', reject);
        sock.on('error', (err) => log.warn({ err: err.message }, 'udp socket error'));
        // memcached maximises SO_SNDBUF on its UDP sockets (maximize_sndbuf)
        try { sock.setSendBufferSize(4 << 20); } catch { /* the kernel's cap stays */ }
        const a = sock.address();
        const addr = ipv6 ? `udp6:[${a.address}]:${a.port}` : `udp:${a.address}:${a.port}`;
        const fd = udpFd(sock);
        const entry: UdpSocket = { sock, addr, fd, port: a.port, ipv6, lastCmdTime: this.loop.now() };
        this.sockets.push(entry);
        sock.on('message', (msg, rinfo) => this.onMessage(entry, msg, rinfo));
        log.info({ addr }, 'listening (udp)');
        if (this.loop.verbose > 1) { verboseLine(`<${fd} server listening (udp)`); flushVerbose(); }
        resolve();
      });
    });
  }

  close(): void {
    for (const { sock } of this.sockets) sock.close();
    this.sockets.length = 0;
  }

  private onMessage(entry: UdpSocket, msg: Buffer, rinfo: Peer): void {
    const loop = this.loop;
    if (msg.length <= HEADER) return; // memcached reads nothing from it
    loop.counters.bytes_read += msg.length;
    // a request spanning datagrams is dropped (CVE-2022-48571); the sequence number and the
    // reserved word are not looked at
    if (msg[4] !== 0 || msg[5] !== 1) return;
    const len = msg.length - HEADER;
    if (len > loop.window.length) return;
    loop.window.set(msg.subarray(HEADER), 0);
    this.sock = entry.sock;
    this.entry = entry;
    this.peer = rinfo;
    this.reqId = msg.readUInt16BE(0);
    this.ends.length = this.skips.length = 0;
    this.absorb = false;
    // memcached decides per datagram, from its first byte, whatever -B says (try_read_command_udp)
    if (loop.verbose > 1) loop.vlog.event();
    this.process(len, loop.window[0] === 0x80 ? 1 : 0);
    flushVerbose();
    this.sock = this.peer = this.entry = null;
  }

  private process(len: number, bin: number): void {
    const loop = this.loop;
    const res = loop.res, desc = loop.desc, out = loop.out;
    let start = 0, resume = 0;
    for (;;) {
      const st = native.parse(len, start, resume, -1, bin);
      loop.counters.parser_calls++;
      if (st < 0) { this.parserFailed(st); return; }
      const n = res[R_NDESC]!;
      if (n > 0) this.lastCmdTime = this.entry!.lastCmdTime = loop.now();
      for (let i = 0; i < n; i++) {
        const b = i * WORDS;
        const op = desc[b + D_OP]!;
        const before = out.size;
        // -vv: memcached's lines, with the UDP socket's fd
        const fd = this.entry!.fd;
        if (loop.verbose > 1) { if (bin) loop.vlog.binBefore(fd, i); else loop.vlog.textBefore(fd, i); }
        const a = bin ? loop.binary.exec(this, i, len) : loop.text.exec(this, i, len);
        if (loop.verbose > 1) {
          if (bin) loop.vlog.binAfter(fd, before);
          else { loop.vlog.textAfter(fd, i, before, a, this.afterSwallow, loop.text.quiet); loop.text.quiet = null; }
        }
        const getFamily = bin === 0 && op >= OP.GET && op <= OP.GATS;
        // text.ts dropped what memcached had not sent yet (since our last transmit) for this error
        if (getFamily && desc[b + D_ERR] === PERR.KEY_TOO_LONG) this.ends.length = this.skips.length = 0;
        const prev = this.ends.length > 0 ? this.ends[this.ends.length - 1]! : 0;
        const empty = out.size === prev;
        this.ends.push(out.size);
        // memcached suppresses (skips) an empty text reply, except a missed key of a multiget
        // and quit; a binary quiet command leaves an empty response that is not skipped
        this.skips.push(empty && bin === 0 && !(a === After.CLOSE && op === OP.QUIT) && !(getFamily && desc[b + D_ERR] === 0));
        if (a === After.CONTINUE) {
          // memcached's transmit points: after a retrieval command or mn (text); after NOOP and
          // any error status (binary: write_bin_error goes to conn_mwrite)
          const flush = bin === 0
            ? (getFamily && (desc[b + D_FLAGS]! & REMC_DF_LAST_KEY) !== 0) || op === OP.MN
            : loop.binary.flushNow || (!empty && this.binaryStatus(before) !== 0);
          loop.binary.flushNow = false;
          if (flush) this.transmit(false);
          else if (out.size >= FLUSH_AT) this.transmit(true);
          continue;
        }
        // CLOSE (quit, a binary protocol error): memcached sends what is assembled, then its
        // conn_cleanup drops the rest of the datagram. NEED / SWALLOW: the rest of the value
        // would come in the next datagram, which memcached would read as data; here the
        // incomplete command is dropped with the rest of the datagram.
        this.afterSwallow = null;
        this.transmit(false);
        return;
      }
      if (st === REMC_PS_FULL) { start = res[R_CONSUMED]!; resume = res[R_RESUME]!; continue; }
      if (st === REMC_PS_CLOSE && res[R_CLOSE_REASON] !== REMC_CLOSE_QUIT) {
        // an HTTP line, an over-long line, bad binary framing: memcached's conn_cleanup drops
        // the responses it has not sent yet
        out.discard();
        this.ends.length = this.skips.length = 0;
        return;
      }
      break;
    }
    // an incomplete command at the end is dropped: the next datagram overwrites it in memcached
    this.transmit(false);
  }

  /** The status word of the binary response that starts at output offset `at`. */
  private binaryStatus(at: number): number {
    const out = this.loop.out;
    const p = at - out.chunkBytes + 6;
    return p >= 6 && p + 2 <= out.pos ? out.buf.readUInt16BE(p) : 0;
  }

  /** Send the responses assembled so far as memcached's transmit_udp would, one response at a
   *  time. `ours`: not one of memcached's transmit points (see absorb). */
  private transmit(ours: boolean): void {
    const out = this.loop.out;
    const chunks = out.take();
    const buf = !chunks ? Buffer.alloc(0) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const ends = this.ends, skips = this.skips;
    let off = 0;
    let i = 0;
    if (this.absorb) { // what memcached's _transmit_post would drop after the response before
      while (i < ends.length && (skips[i] || ends[i] === off)) off = ends[i++]!;
    }
    while (i < ends.length) {
      if (skips[i]) { off = ends[i++]!; continue; }
      const size = ends[i]! - off;
      const total = Math.min(0xffff, Math.ceil(size / DATA_SIZE));
      let seq = 0;
      do {
        const n = Math.min(DATA_SIZE, ends[i]! - off);
        this.send(seq++, total, buf.subarray(off, off + n));
        off += n;
      } while (off < ends[i]!);
      i++;
      // responses with nothing (left) to send go with the one just sent
      while (i < ends.length && (skips[i] || ends[i] === off)) off = ends[i++]!;
    }
    this.ends.length = this.skips.length = 0;
    this.absorb = ours;
  }

  private send(seq: number, total: number, data: Buffer): void {
    const sock = this.sock!, peer = this.peer!;
    if (sock.getSendQueueSize() > QUEUE_LIMIT) {
      if (this.dropped++ % 10000 === 0) log.warn({ dropped: this.dropped }, 'udp replies dropped: send queue full');
      return;
    }
    const h = Buffer.allocUnsafe(HEADER);
    h.writeUInt16BE(this.reqId, 0);
    h.writeUInt16BE(seq & 0xffff, 2);
    h.writeUInt16BE(total, 4);
    h.writeUInt16BE(0, 6);
    this.loop.counters.bytes_written += HEADER + data.length;
    sock.send([h, data], peer.port, peer.address);
  }

  /** A parser fault or invalid output: the datagram is dropped, nothing is sent (there is no
   *  connection to close; the socket serves everyone). */
  private parserFailed(st: number): void {
    const loop = this.loop, res = loop.res;
    loop.out.discard();
    this.ends.length = this.skips.length = 0;
    if (st === P_FAULT) {
      const kind = res[R_FAULT_KIND]!;
      countFault(loop.counters, kind, res[R_FAULT_NS]!);
      const name = abi.faultKinds[kind] ?? String(kind);
      // bounded like TCP's: a datagram flood of faults is not also a flood of log writes
      if (faultLog.full(name)) log.warn({ peer: `udp:${this.peer!.address}:${this.peer!.port}`, fault: name },
        'parser fault rewound; udp datagram dropped');
    } else {
      countInvalid(loop.counters, abi.validateErrors[res[R_VALIDATE]!]);
      log.warn({ peer: `udp:${this.peer!.address}:${this.peer!.port}`, violation: abi.validateErrors[res[R_VALIDATE]!] ?? res[R_VALIDATE] },
        'parser output failed validation; udp datagram dropped');
    }
  }
}

/** -U: a UDP socket on each -l address, as memcached does; without -l, one on 0.0.0.0 and one
 *  on :: (memcached's getaddrinfo order), either of which may fail as long as one binds. */
export async function startUdp(loop: Loop, listen: string | null, port: number): Promise<UdpService> {
  const udp = new UdpService(loop);
  // memcached's UDP conns never ask for -Y's token (try_read_command_udp): neither does this
  if (loop.asciiAuth) log.warn('-Y does not cover UDP: as in memcached, UDP requests are served without authentication');
  for (const l of listenSpecs(listen)) {
    const p = port === -1 ? 0 : port; // -U -1: an ephemeral port, as memcached
    if (l) { await udp.listen(l.host, l.port ?? p); continue; } // host:port: that port, as memcached
    await bindAny((host) => udp.listen(host, p));
  }
  return udp;
}

/** Bind a listener without -l as memcached does: 0.0.0.0, then :: (IPv6 only); an address
 *  family the host lacks, or a port taken on one family, is passed over if the other binds. */
export async function bindAny(bind: (host: string) => Promise<void>): Promise<void> {
  let bound = 0;
  let first: unknown = null;
  for (const host of ['0.0.0.0', '::']) {
    try { await bind(host); bound++; } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL' && code !== 'EADDRINUSE') throw e;
      first ??= e;
    }
  }
  if (bound === 0) throw first;
}
