// Comparison harness: runs the same request sequences against Debian's memcached 1.6.18 (the spec)
// and against a subject server (remcached from dist/, or a second memcached when
// COMPARE_AGAINST=memcached, which proves the normalisation hides no behaviour), and asserts
// byte-identical replies and identical close behaviour.
//
// Normalised, and nothing else (issue 2 "Done means"):
//   - CAS numbers in VALUE lines: the n-th distinct non-zero CAS seen in a sequence becomes
//     `<cas#n>`, so equal/different CAS relations are still compared; 0 (-C) stays 0;
//   - STAT values (names kept; in `stats conns` the fd prefix of the name is a value too: `<fd>:`);
//     the time in `stats cachedump` ITEM lines;
//   - the version string in `VERSION ...` lines.
import { test as uvuTest, suite } from '../helpers/test.ts';
import { appendFileSync } from 'node:fs';
import { Conn, NO_MEMCACHED, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

export type Bytes = string | Buffer;

/** What a step's `send` function can read: results of earlier steps on the same server. */
export interface Ctx {
  /** the CAS of `key` from the latest gets/gats VALUE line seen on this server (raw number) */
  cas(key: string): string;
  /** the raw reply of the previous step (on any connection) of this run */
  last(): string;
  /** the port of the server this run talks to */
  port: number;
}

export interface Step {
  /** connection name; a name is opened (fresh) on first use; default 'main' */
  conn?: string;
  /** bytes to send (latin1 string or Buffer), or built from earlier replies (e.g. a CAS) */
  send?: Bytes | ((ctx: Ctx) => Bytes);
  /** write in chunks: an array of chunk sizes (the rest goes in a last chunk), or 'bytes' = one byte per write */
  split?: number[] | 'bytes';
  /** delay between chunks, ms (default 3: enough for the server to see separate reads) */
  gapMs?: number;
  /**
   * How the reply is known to be complete:
   *  - 'sentinel' (default): send `version\r\n` after the step and read up to its reply (or a close);
   *  - 'quiet': read until nothing arrives for quietMs (or close) — for steps that leave the server
   *    waiting for data, where a sentinel would be read as data;
   *  - 'reply': as 'quiet', but quiet counts only after the first byte (steps that are always
   *    answered, where the sentinel cannot be used);
   *  - 'none': do not read; whatever comes is attributed to the next step on that connection.
   */
  wait?: 'sentinel' | 'quiet' | 'reply' | 'none';
  quietMs?: number;
  /** VERSION lines the step itself produces (auto-counted from `version` command lines if omitted) */
  versions?: number;
  /** sleep before this step (expiry tests; keep rare) */
  sleepMs?: number;
  /**
   * Only where memcached itself is not deterministic (the refcount cap of a 70 000-key multiget
   * depends on how fast the client reads): compare summary(normalised reply) instead of the bytes.
   */
  summary?: (reply: string) => string;
  /** STAT names whose values are compared exactly in this step (counters on a fresh server pair;
   *  `<fd>:state` for a value of every connection in `stats conns`) */
  statsExact?: string[];
  /** the client closes this connection after the step */
  closeAfter?: boolean;
  /** a literal expectation for the normalised reply: checked against memcached too (documents the spec) */
  expect?: Bytes;
  /** the connection must (true) / must not (false) be closed by the server after this step; checked on memcached too */
  expectClosed?: boolean;
}

export interface Sequence {
  name: string;
  steps: Step[];
  /** per-step wait timeout (ms), default DEFAULT_TIMEOUT */
  timeoutMs?: number;
  /** default `wait` for its steps (e.g. 'quiet' where the sentinel itself is refused, as under -Y) */
  wait?: Step['wait'];
  quietMs?: number;
  /** the sequence makes the servers exit (shutdown): compare that both exit, then restart them */
  kills?: boolean;
}

export interface StepResult { conn: string; request: string; reply: string; closed: boolean; note?: string }

export interface Group {
  name: string;
  /** extra server arguments, given to both servers (same -I/-m/-c/… on both) */
  args?: string[];
  /** `flush_all` on both servers before each sequence (default true; off for -F, and for -C where a
   *  flush makes items stored in the same second invisible) */
  flushBefore?: boolean;
  sequences: Sequence[];
}

export const SENTINEL = 'version\r\n';
const VERSION_LINE = /(?<=^|\n)VERSION [^\r\n]*\r\n/g;
const DEFAULT_TIMEOUT = 10_000; // a sentinel or quiet wait ends as soon as the reply is complete: only a slow server waits it out

export const subjectKind = (): 'remcached' | 'memcached' =>
  process.env.COMPARE_AGAINST === 'memcached' ? 'memcached' : 'remcached';

/** REMC_TEST_ISOLATION=sfi|pku|pku-strict|none runs remcached in that mode (unset: its default),
 *  REMC_TEST_CROSS_CHECK=1 with --cross-check. CI runs the whole suite once in the default mode
 *  and once with REMC_TEST_ISOLATION=sfi. */
export const isolationArgs = (): string[] => [
  ...(process.env.REMC_TEST_ISOLATION ? [`--isolation=${process.env.REMC_TEST_ISOLATION}`] : []),
  ...(process.env.REMC_TEST_CROSS_CHECK === '1' ? ['--cross-check'] : []),
];

/** This pass re-runs the comparison in another mode (scripts/test.sh): tests of the worker
 *  threads' plumbing rather than of parsing need only the first pass. */
export const rerunPass = (): boolean => Boolean(process.env.REMC_TEST_ISOLATION) || process.env.REMC_TEST_CROSS_CHECK === '1';

export function startSubject(args: string[]): Promise<Server> {
  return subjectKind() === 'memcached' ? startMemcached(args) : startRemcached(['-U', '0', '-t', process.env.REMC_TEST_THREADS ?? '1', ...isolationArgs(), ...args]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Show bytes readably: printable ASCII as is, the rest escaped; long runs are cut. */
export function show(s: string, max = 600): string {
  let out = '';
  for (let i = 0; i < s.length && out.length < max; i++) {
    const c = s.charCodeAt(i);
    if (c === 13) out += '\\r';
    else if (c === 10) out += '\\n';
    else if (c === 92) out += '\\\\';
    else if (c >= 32 && c < 127) out += s[i];
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return s.length > 0 && out.length >= max ? `${out}… (${s.length} bytes)` : out;
}

/** Compact display of a long repetitive request. */
export function showRequest(s: string): string {
  return s.length > 300 ? `${show(s.slice(0, 200), 300)} … ${show(s.slice(-60), 100)} (${s.length} bytes)` : show(s);
}

const toLatin1 = (b: Bytes): string => (typeof b === 'string' ? b : b.toString('latin1'));

/** Count `version` command lines in what a step sends (the sentinel's reply comes after theirs). */
function countVersionCommands(s: string): number {
  let n = 0;
  for (const line of s.split('\n')) if (/^version( [^\r]*)?\r?$/.test(line)) n++;
  return n;
}

/**
 * Walk a reply stream line by line, skipping VALUE data blocks (which are opaque bytes), and call
 * `line` for every protocol line. Returns the rebuilt stream.
 */
function mapLines(raw: string, line: (l: string) => string): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const nl = raw.indexOf('\n', i);
    if (nl < 0) { out += raw.slice(i); break; }
    const hasCr = nl > i && raw[nl - 1] === '\r';
    const text = raw.slice(i, hasCr ? nl - 1 : nl);
    out += line(text) + (hasCr ? '\r\n' : '\n');
    i = nl + 1;
    const m = /^VALUE \S+ \d+ (\d+)( \d+)?$/.exec(text);
    if (m) {
      const n = Number(m[1]) + 2;
      out += raw.slice(i, i + n);
      i += n;
    }
  }
  return out;
}

/** Per-sequence, per-server normaliser state (CAS numbering). */
export class Normaliser {
  private casIds = new Map<string, number>();
  constructor(private readonly casExact = false) {}

  casName(cas: string): string {
    if (this.casExact || /^0+$/.test(cas)) return cas;
    let id = this.casIds.get(cas);
    if (id === undefined) { id = this.casIds.size + 1; this.casIds.set(cas, id); }
    return `<cas#${id}>`;
  }

  /** `keepStats`: STAT names whose values are compared too (counters a test makes deterministic) */
  normalise(raw: string, keepStats?: ReadonlySet<string>): string {
    return mapLines(raw, (l) => {
      let m = /^(VALUE \S+ \d+ \d+) (\d+)$/.exec(l);
      if (m) return `${m[1]} ${this.casName(m[2]!)}`;
      m = /^STAT (\S+)(?: (.*))?$/.exec(l);
      if (m && keepStats?.has(m[1]!)) return l;
      const name = m?.[1]!.replace(/^\d+:/, '<fd>:');
      if (m && keepStats?.has(name!)) return `STAT ${name} ${m[2] ?? ''}`; // `<fd>:state`: per connection
      if (m) return `STAT ${name}`;
      if (l.startsWith('VERSION ')) return 'VERSION <version>';
      m = /^(ITEM \S+ \[\d+ b; )\d+( s\])$/.exec(l);
      if (m) return `${m[1]}<t>${m[2]}`;
      return l;
    });
  }
}

/** Record CAS values from VALUE lines (gets/gats) into `into`. */
function harvestCas(raw: string, into: Map<string, string>): void {
  mapLines(raw, (l) => {
    const m = /^VALUE (\S+) \d+ \d+ (\d+)$/.exec(l);
    if (m) into.set(m[1]!, m[2]!);
    return l;
  });
}

/** Remove the sentinel's reply (the last VERSION line) when it is there beyond the step's own. */
function stripSentinel(raw: string, own: number): { reply: string; seen: boolean } {
  const m = /VERSION [^\r\n]*\r\n$/.exec(raw);
  if (!m) return { reply: raw, seen: false };
  const count = (raw.match(VERSION_LINE) ?? []).length;
  if (count <= own) return { reply: raw, seen: false };
  return { reply: raw.slice(0, m.index), seen: true };
}

function sentinelDone(own: number) {
  return (b: Buffer): boolean => {
    if (b.length < 10) return false;
    const tail = b.toString('latin1', Math.max(0, b.length - 200));
    if (!/VERSION [^\r\n]*\r\n$/.test(tail)) return false;
    const all = b.toString('latin1');
    return (all.match(VERSION_LINE) ?? []).length > own;
  };
}

async function writeChunks(c: Conn, data: Buffer, split: Step['split'], gapMs: number): Promise<void> {
  if (!split) { c.send(data); return; }
  const sizes = split === 'bytes' ? new Array(data.length).fill(1) : split;
  let off = 0;
  for (const n of sizes) {
    if (off >= data.length) break;
    c.send(data.subarray(off, off + n));
    off += n;
    if (c.closed) return;
    await sleep(gapMs);
  }
  if (off < data.length) c.send(data.subarray(off));
}

/** Run one sequence on one server; returns raw step results (not yet normalised). */
export async function runSequence(port: number, seq: Sequence): Promise<StepResult[]> {
  const conns = new Map<string, Conn>();
  const cas = new Map<string, string>();
  const ctx: Ctx = {
    port,
    cas: (key) => {
      const v = cas.get(key);
      if (v === undefined) throw new Error(`no CAS seen for key ${key}`);
      return v;
    },
    last: () => results[results.length - 1]?.reply ?? '',
  };
  const results: StepResult[] = [];
  try {
    for (const step of seq.steps) {
      if (step.sleepMs) await sleep(step.sleepMs);
      const name = step.conn ?? 'main';
      let c = conns.get(name);
      let note: string | undefined;
      if (!c) {
        try {
          c = await Conn.open(port);
        } catch (e) {
          results.push({ conn: name, request: '', reply: '', closed: true, note: `connect failed (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
          continue;
        }
        conns.set(name, c);
      }
      const data = step.send === undefined ? Buffer.alloc(0)
        : Buffer.from(toLatin1(typeof step.send === 'function' ? step.send(ctx) : step.send), 'latin1');
      await writeChunks(c, data, step.split, step.gapMs ?? 3);
      // A sentinel sent after bytes that end without LF would complete their line: read until quiet.
      // Nothing sent (just connected): read until quiet too.
      // And where the server is expected to close: bytes it has not read when it closes turn its FIN
      // into a RST, which can drop the last reply bytes before the client reads them.
      const wait = step.wait ?? seq.wait ??
        (data.length === 0 || data[data.length - 1] !== 10 || step.expectClosed ? 'quiet' : 'sentinel');
      const timeout = seq.timeoutMs ?? DEFAULT_TIMEOUT;
      let raw = '';
      if (wait === 'sentinel') {
        const own = step.versions ?? countVersionCommands(data.toString('latin1'));
        if (!c.closed) c.send(SENTINEL);
        let got: Buffer;
        try {
          got = await c.until(sentinelDone(own), timeout);
        } catch {
          got = c.take();
          note = 'timeout waiting for the reply';
        }
        const s = stripSentinel(got.toString('latin1'), own);
        raw = s.reply;
        if (!s.seen && !c.closed && !note) note = 'sentinel reply missing';
      } else if (wait === 'quiet' || wait === 'reply') {
        raw = (await c.settle(step.quietMs ?? seq.quietMs ?? 150, timeout, wait === 'reply')).toString('latin1');
        // a close that comes after the quiet (a loaded machine) is still this step's
        if (step.expectClosed && !c.closed && await c.closesWithin(timeout)) raw += c.take().toString('latin1');
      }
      harvestCas(raw, cas);
      results.push({ conn: name, request: data.toString('latin1'), reply: raw, closed: c.closed, ...(note ? { note } : {}) });
      if (step.closeAfter) { c.close(); conns.delete(name); }
    }
  } finally {
    for (const c of conns.values()) c.close();
  }
  return results;
}

/** A server pair for one group: memcached (reference) and the subject, restarted if it dies. */
export class Pair {
  ref!: Server;
  sub!: Server;
  /** set when the subject died during the previous sequence */
  subjectDied: string | null = null;
  constructor(readonly args: string[]) {}

  async start(): Promise<void> {
    // If one of the two does not start, the other must not outlive the run (its pipes would keep
    // the test process alive): kill it and report the failure.
    const [ref, sub] = await Promise.allSettled([startMemcached(this.args), startSubject(this.args)]);
    if (ref.status === 'rejected' || sub.status === 'rejected') {
      for (const r of [ref, sub]) {
        if (r.status === 'fulfilled') { r.value.proc.kill('SIGKILL'); await r.value.stop(); }
      }
      throw (ref.status === 'rejected' ? ref.reason : (sub as PromiseRejectedResult).reason) as Error;
    }
    this.ref = ref.value;
    this.sub = sub.value;
  }

  async ensureAlive(): Promise<void> {
    for (const which of ['ref', 'sub'] as const) {
      const s = this[which];
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) {
        if (which === 'sub') this.subjectDied = `subject exited (${s.proc.exitCode ?? s.proc.signalCode}); stderr tail: ${s.stderr().slice(-400)}`;
        this[which] = which === 'ref' ? await startMemcached(this.args) : await startSubject(this.args);
      }
    }
  }

  async stop(): Promise<void> {
    // memcached leaves its loop on SIGTERM only at its next clock tick (up to 1 s); the reference's
    // shutdown is not under test, so it is killed outright. The subject gets the normal SIGTERM.
    const kill = (s: Server | undefined) => {
      if (s && s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    };
    kill(this.ref);
    if (subjectKind() === 'memcached') kill(this.sub);
    await Promise.all([this.ref?.stop(), this.sub?.stop()]);
  }
}

async function flushBoth(pair: Pair): Promise<void> {
  await Promise.all([pair.ref.port, pair.sub.port].map(async (port) => {
    const c = await Conn.open(port);
    c.send('flush_all\r\n');
    await c.untilEndsWith('\r\n', 3000).catch(() => undefined);
    c.close();
  }));
}

export interface Comparison {
  ok: boolean;
  message: string;
  ref: StepResult[];
  sub: StepResult[];
}

/** Normalise both transcripts and compare them; check literal expectations against the reference. */
export function compareResults(seq: Sequence, refRaw: StepResult[], subRaw: StepResult[], casExact = false): Comparison {
  const nr = new Normaliser(casExact);
  const ns = new Normaliser(casExact);
  const view = (n: Normaliser, r: StepResult, i: number) => {
    const keep = seq.steps[i]?.statsExact;
    const reply = n.normalise(r.reply, keep ? new Set(keep) : undefined);
    const f = seq.steps[i]?.summary;
    return { ...r, reply: f ? f(reply) : reply };
  };
  const ref = refRaw.map((r, i) => view(nr, r, i));
  const sub = subRaw.map((r, i) => view(ns, r, i));
  const problems: string[] = [];
  seq.steps.forEach((step, i) => {
    const r = ref[i];
    if (!r) return;
    if (step.expect !== undefined && r.reply !== toLatin1(step.expect)) {
      problems.push(`step ${i} [${r.conn}] reference (memcached) differs from the literal expectation\n  request:  ${showRequest(r.request)}\n  expected: ${show(toLatin1(step.expect))}\n  memcached: ${show(r.reply)}`);
    }
    if (step.expectClosed !== undefined && r.closed !== step.expectClosed) {
      problems.push(`step ${i} [${r.conn}] reference (memcached) closed=${r.closed}, expected closed=${step.expectClosed}`);
    }
    if (r.note) problems.push(`step ${i} [${r.conn}] reference (memcached): ${r.note}`);
  });
  // `stats` and `stats settings` hold exactly memcached's fields (remcached's own are in
  // `stats isolation`): compared byte for byte like everything else.
  const n = Math.max(ref.length, sub.length);
  for (let i = 0; i < n; i++) {
    const r = ref[i], s = sub[i];
    if (!r || !s) { problems.push(`step ${i}: missing result`); continue; }
    if (r.reply !== s.reply || r.closed !== s.closed || (s.note && !r.note)) {
      let where = '';
      if (r.reply !== s.reply) {
        let k = 0;
        while (k < r.reply.length && r.reply[k] === s.reply[k]) k++;
        const from = Math.max(0, k - 40);
        where = r.reply.length > 600 || s.reply.length > 600
          ? `\n  first difference at byte ${k}: memcached …${show(r.reply.slice(from, k + 200), 300)} | ${subjectKind()} …${show(s.reply.slice(from, k + 200), 300)}`
          : '';
      }
      problems.push(
        `step ${i} [${r.conn}] differs\n  request:   ${showRequest(r.request)}\n` +
        `  memcached: ${show(r.reply)}${r.closed ? ' <closed>' : ''}\n` +
        `  ${subjectKind().padEnd(9)}: ${show(s.reply)}${s.closed ? ' <closed>' : ''}${s.note ? ` (${s.note})` : ''}${where}`);
    }
  }
  return { ok: problems.length === 0, message: problems.join('\n'), ref, sub };
}

function logDiscrepancy(group: string, seq: Sequence, cmp: Comparison): void {
  const file = process.env.COMPARE_LOG;
  if (!file) return;
  appendFileSync(file, JSON.stringify({ group, sequence: seq.name, message: cmp.message }) + '\n');
}

/** COMPARE_DUMP=file: write memcached's normalised transcript of every sequence (to read the spec). */
function dumpTranscript(group: string, seq: Sequence, cmp: Comparison): void {
  const file = process.env.COMPARE_DUMP;
  if (!file) return;
  let out = `## ${group} / ${seq.name}\n`;
  cmp.ref.forEach((r, i) => {
    out += `  [${i} ${r.conn}] > ${showRequest(r.request)}\n  [${i} ${r.conn}] < ${show(r.reply, 2000)}${r.closed ? ' <closed>' : ''}${r.note ? ` (${r.note})` : ''}\n`;
  });
  appendFileSync(file, out);
}

/** Run a sequence on both servers of a pair (in parallel) and compare. */
export async function compareOnPair(pair: Pair, seq: Sequence, flushBefore: boolean, casExact: boolean): Promise<Comparison> {
  await pair.ensureAlive();
  if (flushBefore) await flushBoth(pair);
  const [ref, sub] = await Promise.all([runSequence(pair.ref.port, seq), runSequence(pair.sub.port, seq)]);
  const cmp = compareResults(seq, ref, sub, casExact);
  if (seq.kills) {
    const exited = async (s: Server) => {
      const deadline = Date.now() + 3000;
      while (s.proc.exitCode === null && s.proc.signalCode === null && Date.now() < deadline) await sleep(20);
      return s.proc.exitCode !== null || s.proc.signalCode !== null;
    };
    const [re, se] = await Promise.all([exited(pair.ref), exited(pair.sub)]);
    if (re !== se) {
      cmp.ok = false;
      cmp.message += `\nserver exit differs: memcached exited=${re}, ${subjectKind()} exited=${se}`;
    }
    await pair.ensureAlive();
    pair.subjectDied = null;
  }
  await pair.ensureAlive();
  if (pair.subjectDied) {
    cmp.ok = false;
    cmp.message = `${pair.subjectDied}\n${cmp.message}`;
    pair.subjectDied = null;
  }
  return cmp;
}

/** Define a uvu suite for a group: one test per sequence. */
export function compareGroup(group: Group, opts: { casExact?: boolean } = {}): ReturnType<typeof suite> {
  const s = suite(`compare: ${group.name}`, { skip: NO_MEMCACHED });
  const pair = new Pair(group.args ?? []);
  // A start failure is reported by every test of the group (uvu hides errors thrown in hooks).
  let startError: Error | null = null;
  s.before(async () => { await pair.start().catch((e: Error) => { startError = e; }); });
  s.after(async () => { if (!startError) await pair.stop(); });
  const seen = new Set<string>();
  for (const seq of group.sequences) {
    if (seen.has(seq.name)) throw new Error(`duplicate sequence name ${seq.name}`);
    seen.add(seq.name);
    s(seq.name, async () => {
      if (startError) {
        const message = `servers did not start: ${(startError as Error).message}`;
        if (process.env.COMPARE_LOG) appendFileSync(process.env.COMPARE_LOG, JSON.stringify({ group: group.name, sequence: seq.name, message }) + '\n');
        throw new Error(`${group.name}: ${message}`);
      }
      const t0 = Date.now();
      const cmp = await compareOnPair(pair, seq, group.flushBefore ?? true, opts.casExact ?? false);
      if (process.env.COMPARE_TIMING && Date.now() - t0 > 300) console.log(`\n  [${Date.now() - t0} ms] ${group.name} / ${seq.name}`);
      dumpTranscript(group.name, seq, cmp);
      if (!cmp.ok) {
        logDiscrepancy(group.name, seq, cmp);
        throw new Error(`${group.name} / ${seq.name}\n${cmp.message}`);
      }
    });
  }
  return s;
}

/** Run several groups in one file. */
export function runGroups(groups: Array<Group & { casExact?: boolean }>): void {
  for (const g of groups) compareGroup(g, { casExact: g.casExact ?? false }).run();
}

// ---- small builders, so that sequence files read like the protocol -------------------------------

/** A one-step sequence: send `req`, compare the reply. */
export const one = (name: string, req: Bytes, extra: Partial<Step> = {}): Sequence => ({ name, steps: [{ send: req, ...extra }] });

/** A sequence of plain send steps (each compared separately), on one connection. */
export const seq = (name: string, ...reqs: Array<Bytes | Step>): Sequence => ({
  name,
  steps: reqs.map((r) => (typeof r === 'string' || Buffer.isBuffer(r) ? { send: r } : r)),
});

/** `set` request bytes. */
export const set = (key: string, value: Bytes, flags = 0, exptime = 0, cmd = 'set', tail = ''): string =>
  `${cmd} ${key} ${flags} ${exptime} ${Buffer.byteLength(toLatin1(value), 'latin1')}${tail}\r\n${toLatin1(value)}\r\n`;

export { uvuTest };
