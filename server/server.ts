// The server: native init (domain + store), listeners, connections, the clock, the reclaimer,
// graceful shutdown. Implements the ServerContext the protocol layer sees.
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { chmodSync, unlinkSync, existsSync } from 'node:fs';
import { abi, native, ISO_SFI } from '../native/index.ts';
import { newCounters, type ConnInfo, type Counters, type ServerContext } from '../protocol/context.ts';
import { Output } from '../protocol/output.ts';
import type { Store } from '../protocol/store.ts';
import { crawls, lruArgs } from '../protocol/settings.ts';
import { drainingStore } from './reclaim.ts';
import { TextProtocol } from '../protocol/text.ts';
import { BinaryProtocol } from '../protocol/binary.ts';
import type { PrefixRow, PrefixStats } from '../protocol/admin.ts';
import { SaslPlain } from './sasl.ts';
import { AsciiAuth, AuthFileError } from './ascii-auth.ts';
import { R } from '../protocol/replies.ts';
import { DEFAULTS, REMCACHED_VERSION, listenSpecs, type Settings } from './config.ts';
import { tagged } from './listen-error.ts';
import { Connection, InputBudget, READ_SIZE, type Loop, type RawStart } from './connection.ts';
import { flushVerbose, slabTable, Verbose, verboseLine } from './verbose.ts';
import { log, setVerbosity } from './log.ts';
import { Offenders, type Admission, type Peer } from './offenders.ts';
import { GATHER_CLEAR_PREFIXES, GATHER_CONNS, GATHER_OFFENDER, GATHER_PREFIXES, Gather, allSlotCounters, slotCounters, type GatherKind, type SharedBuffers } from './shared.ts';
import type { OtherWorkers } from '../protocol/context.ts';
import { CLOSE_REASON, Watch, WATCHER_LIMIT, type WatchLink } from '../protocol/watch.ts';

/** A listening socket made by the main thread (-t N): one per worker per address; port and
 *  family for the port file; tls: -Z and no notls: prefix. */
export interface ListenFd { fd: number; label: string; port: number; ipv6: boolean; tls: boolean }

/** One worker thread of -t N: what it shares and how it talks to the main thread. */
export interface ThreadRole {
  shared: SharedBuffers;
  index: number;
  /** this worker's SO_REUSEPORT listeners (server/threads.ts) */
  fds: ListenFd[];
  /** a message to the main thread (server/threads.ts routes it) */
  post(msg: unknown): void;
}
import { bindAny, startUdp, type UdpService } from './udp.ts';
import { writePortFile } from './cli.ts';
import { Tls, TlsConfigError } from './tls.ts';
import { restoreOptions, saveRestart, type Saved } from './restart.ts';

const K = abi.K as Record<string, number>;
const ISOLATION_REQUEST: Record<Settings['isolation'], number> = {
  auto: K.REMC_ISO_AUTO!, pku: K.REMC_ISO_PKU!, 'pku-strict': K.REMC_ISO_PKU_STRICT!, sfi: ISO_SFI, none: K.REMC_ISO_NONE!,
};
const ISOLATION_NAME: Record<number, string> = {
  [K.REMC_ISO_NONE!]: 'none', [K.REMC_ISO_PKU!]: 'pku', [K.REMC_ISO_PKU_STRICT!]: 'pku-strict', [ISO_SFI]: 'sfi',
};
/** -t N: watchers anywhere see the events of every worker. The gid counter, the watcher slots
 *  and what each worker's watchers want are shared memory (a `watch` answered OK on one worker
 *  is seen by all); the lines go through the main thread (server/threads.ts), and only while
 *  someone watches. */
function threadLink(role: ThreadRole): WatchLink {
  const gid = new BigInt64Array(role.shared.watch, 0, 1);
  const words = new Int32Array(role.shared.watch, 8, 3 + role.shared.workers);
  const SLOTS = 0, LOCK = 1, ALL = 2, MINE = 3 + role.index;
  const others = (): number => {
    let f = 0;
    for (let i = 3; i < words.length; i++) if (i !== MINE) f |= Atomics.load(words, i);
    return f;
  };
  return {
    flags: () => Atomics.load(words, ALL),
    remoteFlags: others,
    flagsChanged: (flags) => {
      // mine, then the process's OR of all of them, under a lock (changes are rare: a `watch`
      // or a watcher's close), so that two workers changing at once leave the right OR
      while (Atomics.compareExchange(words, LOCK, 0, 1) !== 0) Atomics.wait(words, LOCK, 1, 1);
      Atomics.store(words, MINE, flags);
      Atomics.store(words, ALL, flags | others());
      Atomics.store(words, LOCK, 0);
      Atomics.notify(words, LOCK);
    },
    nextGid: () => Number(Atomics.add(gid, 0, 1n) + 1n),
    takeSlot: () => {
      if (Atomics.add(words, SLOTS, 1) < WATCHER_LIMIT) return true;
      Atomics.sub(words, SLOTS, 1);
      return false;
    },
    giveSlot: () => { Atomics.sub(words, SLOTS, 1); },
    slots: () => Atomics.load(words, SLOTS),
    publish: (lines) => role.post({ type: 'log', from: role.index, lines }),
  };
}

/** Expired items reclaimed per clock tick, at most (bounded work per second). */
const RECLAIM_PER_TICK = 10_000;
/** How long shutdown waits for clients to go before it cuts them off. */
const SHUTDOWN_GRACE_MS = 1500;

/**
 * -t N: an input budget whose over-budget closes make this worker collect its garbage soon (at
 * most every 100 ms). V8 collects a worker's dropped input buffers only after its own external
 * memory has grown by some 64 MB, so N isolates under a burst of oversized input would each hold
 * that much: N times what one loop holds.
 */
function collectingBudget(limit: number): InputBudget {
  const b = new InputBudget(limit);
  let closed = 0, timer: NodeJS.Timeout | null = null, gc: (() => void) | null = null;
  Object.defineProperty(b, 'closed', {
    get: () => closed,
    set: (v: number) => {
      closed = v;
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (!gc) { v8.setFlagsFromString('--expose-gc'); gc = vm.runInNewContext('gc') as () => void; }
        gc();
        native.trimMemory();
      }, 100);
      timer.unref();
    },
  });
  return b;
}

export class Server implements ServerContext {
  readonly counters: Counters;
  private readonly everyCounters: Counters[];
  readonly isolation: string;
  readonly isolationWhy: string;
  readonly startedAt: number;
  readonly store: Store = drainingStore(native, () => this.now(), () => crawls(this.settings));
  readonly storeStatsArray: Float64Array;
  readonly remcachedVersion = REMCACHED_VERSION;
  readonly watch: Watch;
  private clockOffset = 0;
  /** the clock, refreshed by the 1 s timer (reading Date.now() per event costs) */
  private clock = Math.floor(Date.now() / 1000);
  private readonly conns = new Set<Connection>();
  private readonly servers: Array<{ server: net.Server; addr: string; fd: number; port: { port: number; ipv6: boolean } | null }> = [];
  private readonly loop: Loop;
  private timer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  /** -Y; memcached re-reads the file on SIGHUP (keeping the old entries if that fails) */
  private readonly asciiAuth: AsciiAuth | null;
  private readonly offenders: Offenders;
  private udp: UdpService | null = null;
  /** -t N: the other workers' descriptors of each UDP socket (listed by stats conns) */
  private udpDups: Array<{ fd: number; of: UdpService['sockets'][number] }> = [];
  /** stats conns at -t N: the other workers' connections, gathered once for listeners() and connections() */
  private gathered: ConnInfo[] | null = null;
  /** -Z */
  readonly tls?: Tls;
  /** -t N: asks the other workers for their connections and prefix counts (server/shared.ts) */
  private readonly gather: Gather | null = null;
  /** this worker's `stats detail` counts */
  private readonly prefixes: PrefixStats | null;
  readonly others?: OtherWorkers;
  get workerIndex(): number { return this.role?.index ?? 0; }

  constructor(readonly settings: Settings, private readonly role: ThreadRole | null = null) {
    this.counters = role ? slotCounters(role.shared, role.index) : newCounters(abi.faultKinds.length);
    this.everyCounters = role ? allSlotCounters(role.shared) : [this.counters];
    this.clockShared = role ? new Float64Array(role.shared.clock) : null;
    // The largest command (a value of -I bytes plus its line) must fit beside one read.
    const windowCap = Math.max(4 << 20, settings.maxItemSize + (1 << 20) + READ_SIZE);
    const init = native.init({
      isolation: ISOLATION_REQUEST[settings.isolation],
      watchdogMs: settings.watchdogMs,
      windowCap,
      faultInjection: settings.enableFaultInjection,
      debugtime: settings.enableDebugtime,
      memLimit: settings.memoryLimitMb * 1024 * 1024,
      itemSizeMax: settings.maxItemSize,
      growthFactor: settings.growthFactor,
      chunkMin: settings.slabMinSize,
      slabSizes: settings.slabSizes ?? undefined,
      slabChunkMax: settings.slabChunkMax,
      evictions: !settings.disableEvictions,
      casEnabled: !settings.disableCas,
      hashpower: settings.hashpower || 16,
      // memcached's test-suite hook (slabs_init): pretend this much memory is already in use
      fakeMalloced: /^\d+$/.test(process.env.T_MEMD_INITIAL_MALLOC ?? '') ? Number(process.env.T_MEMD_INITIAL_MALLOC) : 0,
      crossCheck: settings.crossCheck,
      restore: restoreOptions(settings.restartFrom),
      workerIndex: role?.index ?? 0,
    });
    if (init.restored !== undefined) log.info({ memoryFile: settings.memoryFile, items: init.restored }, '[restart] cache restored');
    // PATH.meta was fine but PATH is not what it names: an empty cache, and why
    if (init.restoreError !== undefined) process.stderr.write(`[restart] ${init.restoreError}: ${settings.memoryFile}, starting with a clean cache\n`);
    if (init.pkeySharedFirst) {
      log.warn({ pkey: init.pkey, worker: role?.index ?? 0 },
        'no free protection key left: this worker thread (and any later one) uses the shared domain key; these parser domains are isolated from the rest of the process but not from each other (stats isolation: domain_pkey_shared)');
    }
    this.isolation = ISOLATION_NAME[init.mode] ?? String(init.mode);
    this.isolationWhy = init.why;
    this.storeStatsArray = init.stats;
    if (settings.verbosity > 1 && (!role || role.index === 0)) { // the thread that made the store
      slabTable(this.store, init.stats, abi.storeStats.length, abi.slabStats.indexOf('chunk_size'), abi.slabStats.indexOf('chunks_per_page'));
    }
    this.startedAt = Math.floor(Date.now() / 1000);
    this.watch = new Watch(this.store, () => this.now(), this.startedAt, role ? threadLink(role) : undefined);
    const out = new Output(native.setOutput);
    let asciiAuth: AsciiAuth | null = null;
    if (settings.authFile !== null) {
      try {
        asciiAuth = new AsciiAuth(settings.authFile, out, init.window, init.desc, init.res, this.counters);
      } catch (e) {
        if (!(e instanceof AuthFileError)) throw e;
        process.stderr.write(`${e.message}\n`); // memcached's words and exit status
        process.exit(e.exitCode);
      }
    }
    this.asciiAuth = asciiAuth;
    if (settings.enableSsl) {
      try {
        const counters = this.counters;
        this.tls = new Tls(settings.ssl, () => this.now(), {
          countHandshakeError: () => { counters.ssl_handshake_errors++; },
          refreshedAt: role ? new Float64Array(role.shared.tlsRefreshedAt) : new Float64Array(1),
          announce: () => role?.post({ type: 'refresh_certs' }),
          ticketKeys: role ? Buffer.from(role.shared.tlsTicketKeys) : randomBytes(48),
        });
      } catch (e) {
        if (!(e instanceof TlsConfigError)) throw e;
        process.stderr.write(`${e.message}\r\n`); // memcached's line, CRLF and all; its OpenSSL detail differs
        process.exit(e.exitCode);
      }
    }
    this.offenders = new Offenders(settings);
    if (role) {
      const gather = new Gather(role.shared.gather, role.shared.workers, role.index,
        (kind, req) => this.answerGather(kind, req), () => role.post({ type: 'gather' }));
      this.gather = gather;
      this.others = {
        prefixRows: () => gather.ask<PrefixRow[]>(GATHER_PREFIXES).flat(),
        clearPrefixes: () => { gather.ask(GATHER_CLEAR_PREFIXES); },
        prefixSeq: () => gather.nextPrefixSeq(),
      };
    }
    const text = new TextProtocol(this, out, init.window, init.desc, init.res);
    this.prefixes = (text as unknown as { admin?: { prefixes?: PrefixStats } }).admin?.prefixes ?? null;
    this.loop = {
      window: init.window,
      desc: init.desc,
      res: init.res,
      out,
      text,
      // `stats detail` prefix counts are shared: memcached records binary commands there too
      binary: new BinaryProtocol(this, out, init.window, init.desc, init.res, settings.enableSasl ? SaslPlain.fromEnv() : null,
        this.prefixes),
      counters: this.counters,
      binaryAllowed: settings.protocol !== 'ascii',
      binaryOnly: settings.protocol === 'binary',
      asciiAuth,
      watch: this.watch,
      now: () => this.now(),
      onClose: (c) => { this.conns.delete(c); this.counters.curr_connections--; },
      onFault: (c) => this.onFault(c),
      verbose: settings.verbosity,
      vlog: new Verbose(init.window, init.desc, init.res, out, this.store),
      reqsPerEvent: Math.max(1, settings.maxReqsPerEvent),
      // pending input of all connections together: room for a few of the largest commands;
      // -t N: the process's 64 MiB shared out, so that N workers hold no more than one loop
      budget: role ? collectingBudget(Math.max((64 << 20) / role.shared.workers, 2 * windowCap))
        : new InputBudget(Math.max(64 << 20, 2 * windowCap)),
    };
  }

  now(): number { return this.clock; }


  allCounters(): Counters[] { return this.everyCounters; }

  verboseLine(line: string): void { verboseLine(line); }

  /** the settings as other threads last heard of them (-t N) */
  private settingsSent = '';

  settingsChanged(): void {
    if (!this.role) return;
    const now = JSON.stringify(this.settings);
    if (now === this.settingsSent) return;
    const before = this.settingsSent ? JSON.parse(this.settingsSent) as Record<string, unknown> : {};
    const changes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.settings)) if (JSON.stringify(v) !== JSON.stringify(before[k])) changes[k] = v;
    this.settingsSent = now;
    this.role.post({ type: 'settings', changes });
  }

  /** Another worker changed settings (verbosity, stats detail, lru and slabs settings...). */
  applySettings(changes: Record<string, unknown>): void {
    Object.assign(this.settings, changes);
    this.settingsSent = JSON.stringify(this.settings);
    if ('verbosity' in changes) {
      setVerbosity(this.settings.verbosity);
      this.loop.verbose = this.settings.verbosity;
    }
  }

  /** -t N: [offset, paused-at or -1] shared by every worker (debugtime moves them all) */
  private readonly clockShared: Float64Array | null;

  tick(): void {
    if (this.clockShared) {
      this.clockOffset = this.clockShared[0]!;
      this.pausedAt = this.clockShared[1]! < 0 ? null : this.clockShared[1]!;
    }
    this.clock = (this.pausedAt ?? Math.floor(Date.now() / 1000)) + this.clockOffset;
    native.setTime(this.clock);
  }

  /** debugtime changed the clock: the other workers read it now, not at their next tick */
  private clockMoved(): void {
    if (!this.clockShared) { this.tick(); return; }
    this.clockShared[0] = this.clockOffset;
    this.clockShared[1] = this.pausedAt ?? -1;
    this.tick();
    this.role!.post({ type: 'tick' });
  }

  advanceClock(seconds: number): void {
    this.clockOffset += seconds;
    this.clockMoved();
  }

  /** set while `debugtime p` holds the clock: the wall time it was paused at */
  private pausedAt: number | null = null;

  pauseClock(paused: boolean): void {
    const wall = Math.floor(Date.now() / 1000);
    if (paused && this.pausedAt === null) this.pausedAt = wall;
    else if (!paused && this.pausedAt !== null) { this.clockOffset -= wall - this.pausedAt; this.pausedAt = null; }
    this.clockMoved();
  }

  setVerbosity(v: number): void {
    this.settings.verbosity = v;
    setVerbosity(v);
    this.loop.verbose = v;
  }

  private localConnections(): ConnInfo[] {
    return [...this.conns].map((c) => ({ fd: c.fd, addr: c.addr, listenAddr: c.listenAddr, state: c.state, lastCmdTime: c.lastCmdTime }));
  }

  listenConns(): number { return this.servers.length; }

  /** Every worker's connections, in fd order as memcached walks its connection table. */
  connections(): Iterable<ConnInfo> {
    const all = [...this.localConnections(), ...this.takeGathered().filter((c) => !c.udp)];
    return all.sort((a, b) => a.fd - b.fd);
  }

  /** the other workers' part of stats conns: asked once, by whichever of listeners() and connections() comes first */
  private takeGathered(): ConnInfo[] {
    if (this.gathered) { const g = this.gathered; this.gathered = null; return g; }
    const all: ConnInfo[] = [];
    if (this.gather) for (const part of this.gather.ask<ConnInfo[]>(GATHER_CONNS)) all.push(...part);
    return all;
  }

  /** this worker's UDP descriptors, as memcached's UDP conns */
  private udpConns(): ConnInfo[] {
    const socks = [...(this.udp?.sockets ?? []).map((u) => ({ fd: u.fd, of: u })), ...this.udpDups];
    return socks.map(({ fd, of }) => ({ fd, addr: of.addr, listenAddr: of.addr, state: 'conn_read', lastCmdTime: of.lastCmdTime, udp: true }));
  }

  /** Another worker gathers (stats conns, stats detail dump): this worker's part. */
  private answerGather(kind: GatherKind, req: unknown): unknown {
    if (kind === GATHER_CONNS) return [...this.localConnections(), ...this.udpConns()];
    if (kind === GATHER_OFFENDER) { this.offenderRecord(req as { peer: string; rec: Peer | null; now: number }); return null; }
    if (kind === GATHER_CLEAR_PREFIXES) { this.prefixes?.clear(); return []; }
    return this.prefixes?.rows() ?? [];
  }

  /** -t N: a gather message from the main thread */
  serveGather(): void { this.gather?.serve(); }

  *listeners(): Iterable<ConnInfo> {
    for (const l of this.servers) yield { fd: l.fd, addr: l.addr, listenAddr: l.addr, state: 'conn_listening', lastCmdTime: this.startedAt };
    // memcached: one UDP conn per socket per worker thread; -t N: worker 0 holds them all
    let udp = this.udpConns();
    if (this.gather && this.settings.udpPort !== 0) {
      this.gathered = this.takeGathered();
      udp = [...udp, ...this.gathered.filter((c) => c.udp)];
    }
    yield* udp.sort((a, b) => a.fd - b.fd);
  }

  shutdown(graceful: boolean): void {
    log.warn({ graceful }, 'shutdown command received');
    // memcached raises SIGUSR1 for `shutdown graceful`: the graceful stop, which saves an -e cache
    if (graceful) { process.kill(process.pid, 'SIGUSR1'); return; }
    if (this.role) { this.role.post({ type: 'shutdown' }); return; } // the main thread stops every worker
    void this.stop().then(() => process.exit(0));
  }

  /** Start listening; resolves once every listener is bound. */
  async start(): Promise<void> {
    const s = this.settings;
    this.tick();
    native.setAutomove(s.slabAutomove, s.slabAutomoveRatio, s.slabAutomoveWindow); // -o no_modern / slab_automove*=
    native.setLru(...lruArgs(s)); // -o no_modern / no_lru_maintainer: flat LRU; -o hot_lru_pct= ...
    const reclaims = !this.role || this.role.index === 0; // one thread does the store's background work
    this.timer = setInterval(() => {
      this.tick();
      if (reclaims) {
        native.reclaim(crawls(s) ? RECLAIM_PER_TICK : 0); // 0: housekeeping only
        this.watch.drainSlabMoves();
      }
      if (s.idleTimeout > 0) this.kickIdle(s.idleTimeout);
    }, 1000);
    this.timer.unref();
    if (this.role) {
      // -t N: the SO_REUSEPORT sockets made by the main thread; a unix socket on worker 0 alone
      for (const l of this.role.fds) await this.listen({ fd: l.fd, backlog: s.listenBacklog }, l.label, l.tls).catch(tagged('tcp'));
      if (s.unixSocket && this.role.index === 0) await this.listenUnix();
      return; // -U: worker 0 has bound the UDP sockets already (listenUdp, before any worker listens)
    }
    if (s.unixSocket) return this.listenUnix();
    // memcached's order: the TCP listeners, then the UDP sockets (port 0: TCP off)
    if (s.port !== 0) {
      for (const l of listenSpecs(s.listen)) {
        const port = s.port === -1 ? 0 : s.port;
        // notls: plain under -Z
        if (l) await this.listen({ host: l.host, port: l.port ?? port, backlog: s.listenBacklog }, '', !l.notls).catch(tagged('tcp'));
        else await bindAny((host) => this.listen({ host, port, backlog: s.listenBacklog, ipv6Only: host === '::' }, '', true)).catch(tagged('tcp'));
      }
    }
    if (s.udpPort !== 0) await this.listenUdp();
    // -t N: the main thread writes it once every worker listens (server/threads.ts)
    if (!this.role) writePortFile(this.servers.flatMap((l) => (l.port ? [l.port] : [])), this.udp?.sockets ?? []);
  }

  /** -U; -t N: worker 0 alone (Node 20's dgram has no SO_REUSEPORT to spread them), asked by
   *  the main thread before any worker listens, so a datagram sent once TCP answers is read */
  async listenUdp(): Promise<void> {
    const s = this.settings;
    if (s.udpPort === 0 || s.unixSocket) return;
    this.tick();
    this.udp = await startUdp(this.loop, s.listen, s.udpPort).catch(tagged('udp'));
    // -t N: as memcached's, one descriptor of each UDP socket per worker thread (stats conns
    // lists them all); worker 0 reads the socket, the other descriptors are only listed
    if (this.role) {
      for (const u of this.udp.sockets) {
        for (let i = 1; i < s.workerThreads; i++) {
          const fd = (native.dupFd as (fd: number) => number)(u.fd);
          if (fd >= 0) this.udpDups.push({ fd, of: u });
        }
      }
    }
    // memcached counts its UDP conns (one per socket per worker thread) as connections
    const n = this.udp.sockets.length * s.workerThreads;
    this.counters.curr_connections += n;
    this.counters.total_connections += n;
    this.counters.connection_structures += n;
  }

  /** -t N: this worker's UDP ports, for the port file the main thread writes */
  udpPorts(): Array<{ port: number; ipv6: boolean }> {
    return (this.udp?.sockets ?? []).map((u) => ({ port: u.port, ipv6: u.ipv6 }));
  }

  /** -s: memcached takes the path over (it unlinks a socket file left there) */
  private async listenUnix(): Promise<void> {
    const s = this.settings;
    const path = s.unixSocket!;
    if (existsSync(path)) unlinkSync(path);
    await this.listen({ path, backlog: s.listenBacklog }, `unix:${path}`).catch(tagged('unix'));
    chmodSync(path, s.unixMask);
  }

  private listen(opts: net.ListenOptions | { fd: number; backlog: number }, label: string, tlsWanted = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = tlsWanted ? this.tls : undefined;
      const server: net.Server = t
        ? tls.createServer({ ...t.serverOptions(), noDelay: true }, (sock) => { if (t.admit(sock)) this.accept(sock, server); })
        : net.createServer({ noDelay: true, pauseOnConnect: true }, (sock) => this.accept(sock, server));
      if (t) {
        t.track(server as tls.Server);
        // over -c, refuse in plain text before the TLS layer takes the socket, as memcached does
        // (tls.Server wraps sockets in its own 'connection' listener)
        const wrap = server.listeners('connection') as Array<(s: net.Socket) => void>;
        server.removeAllListeners('connection');
        server.on('connection', (raw: net.Socket) => {
          raw.on('error', () => {});
          if (this.stopping || this.refuseIfFull(raw)) { if (this.stopping) raw.destroy(); return; }
          for (const f of wrap) f.call(server, raw);
        });
      }
      server.maxConnections = Number.MAX_SAFE_INTEGER;
      server.once('error', reject);
      // the backlog also as an argument: Node reads it from there only when listening on an fd
      (server.listen as (o: net.ListenOptions, backlog: number, cb: () => void) => net.Server)(opts as net.ListenOptions, opts.backlog ?? DEFAULTS.listenBacklog, () => {
        server.off('error', reject);
        server.on('error', (err) => log.error({ err: err.message }, 'listener error'));
        const a = server.address();
        const inet = typeof a === 'object' && a ? { port: a.port, ipv6: a.family === 'IPv6' } : null;
        // memcached's conn_to_str: an IPv6 address in brackets
        const addr = label || (inet ? (inet.ipv6 ? `tcp6:[${(a as net.AddressInfo).address}]:${inet.port}` : `tcp:${(a as net.AddressInfo).address}:${inet.port}`) : String(a));
        const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
        this.servers.push({ server, addr, fd, port: label ? null : inet });
        if (!t) this.hookAccept(server, addr);
        if (this.loop.verbose > 1) { // memcached's prot_text
          const p = this.settings.protocol;
          verboseLine(`<${fd} server listening (${p === 'auto' ? 'auto-negotiate' : p})`);
          flushVerbose();
        }
        log.info({ addr }, 'listening');
        resolve();
      });
    });
  }

  /** memcached (maxconns_fast) answers one error line and closes connections over -c, on the
   *  bare socket (under -Z before any handshake, so a TLS client sees its handshake fail). Its
   *  limit counts the descriptors it holds for itself (listener, stdio, per-thread pipes and
   *  event bases: 8 + 4 per thread, measured on 1.6.18), so the same -c/-t admit as many
   *  clients here as there. */
  private refuseIfFull(sock: net.Socket): boolean {
    const c = this.counters;
    if (!this.full()) return false;
    c.rejected_connections++;
    // memcached write()s the line and close()s the fd at once. end() alone would keep the
    // fd until this paused socket read the peer's EOF: never.
    if (this.settings.maxconnsFast) sock.write(R.TOO_MANY_CONNECTIONS, () => sock.destroy());
    else sock.destroy();
    return true;
  }

  /** -c is reached (see refuseIfFull) */
  private full(): boolean {
    let open = this.counters.curr_connections;
    if (this.role) { open = 0; for (const w of this.everyCounters) open += w.curr_connections; } // -c counts every worker's
    return open >= this.settings.connLimit - (8 + 4 * this.settings.threads);
  }

  /** A raw connection whose socket Node is building (Connection.socket): accept() hands it over. */
  private adopting: Connection | null = null;

  /**
   * Node builds a net.Socket (a Duplex and its two stream states) for every connection it
   * accepts, before 'connection' is emitted: most of the server CPU a short connection costs.
   * The listening handle's `onconnection` is where it does so (node:net, unchanged since Node
   * 0.x; Node 20's emits 'connection' synchronously); wrapping it, a new TCP connection is first
   * tried raw (acceptRaw), and Node's own accept runs when that declines or the connection
   * outlives its first read. If the handle lacks it, every connection goes Node's way.
   */
  private hookAccept(server: net.Server, addr: string): void {
    type Accept = (err: number, handle: RawStart['handle'] | undefined) => void;
    const h = (server as unknown as { _handle?: { onconnection?: Accept } })._handle;
    const nodeAccept = h?.onconnection;
    if (!h || typeof nodeAccept !== 'function') return;
    h.onconnection = (err, handle) => {
      if (err || !handle || !this.acceptRaw(handle, addr, () => nodeAccept.call(h, 0, handle))) nodeAccept.call(h, err, handle);
    };
  }

  /** A TCP connection without a net.Socket, if nothing asks for one now; false: Node's way
   *  (nothing done yet). A judged peer, -c reached, or shutting down go Node's way. */
  private acceptRaw(handle: RawStart['handle'], listenAddr: string, nodeAccept: () => void): boolean {
    const h = handle as RawStart['handle'] & { getpeername?(out: object): number };
    if (this.stopping || typeof h.getpeername !== 'function' || !(h.fd >= 0)) return false;
    const peer: RawStart['peer'] = {};
    if (h.getpeername(peer) !== 0) return false;
    const key = this.offenders.key(peer.address);
    if (key && this.offenders.has(key)) return false;
    if (this.full()) return false;
    const c = this.counters;
    c.curr_connections++;
    c.total_connections++;
    c.connection_structures = Math.max(c.connection_structures, c.curr_connections);
    const upgrade = (conn: Connection) => { this.adopting = conn; nodeAccept(); this.adopting = null; };
    const conn = new Connection(null, this.loop, listenAddr, { handle, peer, upgrade });
    this.conns.add(conn);
    conn.start();
    return true;
  }

  private accept(sock: net.Socket, server: net.Server): void {
    if (this.adopting) { const conn = this.adopting; this.adopting = null; conn.attach(sock); return; }
    const c = this.counters;
    // A socket we never read reports its errors (a reset from a peer already gone) as events.
    sock.on('error', () => {});
    if (this.stopping) { sock.destroy(); return; }
    const peer = this.offenders.key(sock.remoteAddress);
    const admission = peer ? this.admit(peer) : null;
    if (admission?.kind === 'refuse') {
      c.offender_conns_refused++;
      sock.destroy();
      return;
    }
    if (this.refuseIfFull(sock)) {
      if (admission?.kind === 'delay') admission.done();
      return;
    }
    c.curr_connections++;
    c.total_connections++;
    c.connection_structures = Math.max(c.connection_structures, c.curr_connections);
    // memcached's listen_addr is the connection's own local address; Connection asks for it
    // when `stats conns` does (one system call less per connection), this is its fallback
    const listenAddr = this.servers.find((s) => s.server === server)?.addr ?? '';
    if (admission?.kind !== 'delay') { this.open(sock, listenAddr); return; }
    // a slowed peer: this connection waits, unread, for its turn (it holds its -c slot meanwhile)
    c.offender_conns_delayed++;
    setTimeout(() => {
      admission.done();
      if (this.stopping || sock.destroyed) { c.curr_connections--; sock.destroy(); return; }
      this.open(sock, listenAddr);
    }, admission.ms);
  }

  private open(sock: net.Socket, listenAddr: string): void {
    const conn = new Connection(sock, this.loop, listenAddr);
    this.conns.add(conn);
    conn.start();
  }

  /** A parser fault or invalid parser output on `conn`: judge its peer (server/offenders.ts). */
  private onFault(conn: Connection): void {
    const peer = this.offenders.key(conn.remoteAddress);
    if (!peer) return;
    let what = null as 'slowed' | 'refused' | null;
    this.offenderChange(peer, () => { what = this.offenders.fault(peer, this.clock); });
    this.judged(peer, what, conn, true);
  }

  /** Decide on a new connection of a judged peer; -t N: as one table for every worker. */
  private admit(peer: string): Admission {
    if (!this.gather || !this.offenders.has(peer)) return this.offenders.admit(peer, this.clock, Date.now());
    let a = { kind: 'ok' } as Admission;
    this.offenderChange(peer, () => { a = this.offenders.admit(peer, this.clock, Date.now()); });
    if (a.kind !== 'delay') return a;
    const done = a.done;
    return { ...a, done: () => this.offenderChange(peer, done) };
  }

  /** Change `peer`'s record; -t N: under the gather lock, and every worker has the new record
   *  before the lock is let go (so the peer's next connection, on any worker, sees it). */
  private offenderChange(peer: string, change: () => void): void {
    if (!this.gather) { change(); return; }
    this.gather.ask(GATHER_OFFENDER, () => { change(); return { peer, rec: this.offenders.record(peer), now: this.clock }; });
  }

  /** -t N: another worker's new record of `peer`; a newly refused peer's connections here go too */
  private offenderRecord(req: { peer: string; rec: Peer | null; now: number }): void {
    if (this.offenders.replace(req.peer, req.rec, req.now)) this.closePeer(req.peer, null);
  }

  /** What a fault changed for `peer`; the worker it happened on (`mine`) counts and logs it. */
  private judged(peer: string, what: 'slowed' | 'refused' | null, conn: Connection | null, mine: boolean): void {
    const s = this.settings;
    if (what === 'slowed' && mine) {
      this.counters.offender_slowed++;
      log.warn({ peer, faults: s.offenderSlow, window_s: s.offenderWindow }, 'repeat offender slowed: one new connection per second');
    } else if (what === 'refused') {
      // its other open connections go too: they could each fault (or hang the watchdog) once more
      const closed = this.closePeer(peer, conn);
      if (!mine) return;
      this.counters.offender_refused++;
      log.warn({ peer, faults: s.offenderRefuse, window_s: s.offenderWindow, backoff_s: s.offenderBackoff, closed },
        'repeat offender refused');
    }
  }

  private closePeer(peer: string, except: Connection | null): number {
    let closed = 0;
    for (const o of this.conns) {
      if (o !== except && !o.destroyed && this.offenders.key(o.remoteAddress) === peer) { o.destroy(); closed++; }
    }
    return closed;
  }


  /** memcached's idle_timeout (its conn_timeout thread): a TCP connection waiting for a command
   *  whose last command is more than `seconds` old is closed without a word and counted in
   *  idle_kicks. One in the middle of a value, or whose replies are not read, is left alone;
   *  bytes that do not complete a command do not count as activity (slowloris). */
  private kickIdle(seconds: number): void {
    for (const conn of this.conns) {
      if (conn.addr !== 'unix' && conn.awaitingCommand && this.clock - conn.lastCmdTime > seconds) {
        this.counters.idle_kicks++;
        conn.closeReason = CLOSE_REASON.idle_timeout;
        log.info({ conn: conn.fd, peer: conn.addr }, 'Closing idle fd');
        conn.close();
      }
    }
  }

  /** -e, after a graceful stop: the store's items to the memory file (server/restart.ts). */
  saveRestart(): void {
    saveRestart(this.settings, (path, id) => (native.restartSave as (p: string, i: bigint) => Saved)(path, id));
  }

  /** SIGHUP: re-read the -Y file, as memcached does; without -Y nothing happens. */
  reloadAuthFile(): void {
    if (this.asciiAuth) log.info({ ok: this.asciiAuth.reload() }, 'SIGHUP: auth file reloaded');
  }

  /** -t N: refresh_certs succeeded on another worker: load the same files for this one's listeners. */
  certificatesRefreshed(): void {
    const err = this.tls?.reload();
    if (err) log.warn({ err }, 'refresh_certs on another worker: the files no longer load here; this worker keeps its certificate');
  }

  /** Stop accepting, answer what is in flight, end idle clients, cut off the rest after a grace period. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.timer) clearInterval(this.timer);
      this.udp?.close();
      // the other descriptors of the UDP sockets stay open until the process exits: closing
      // them here (fs.closeSync, not ours to close in a worker) only draws Node's warning
      const closed = this.servers.map(({ server }) => new Promise<void>((r) => server.close(() => r())));
      for (const c of this.conns) c.endIdle();
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (this.conns.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        for (const c of this.conns) c.endIdle();
      }
      for (const c of this.conns) c.destroy();
      await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 200))]);
      if (this.settings.unixSocket && (!this.role || this.role.index === 0) && existsSync(this.settings.unixSocket)) unlinkSync(this.settings.unixSocket);
    })();
    return this.stopping;
  }
}
