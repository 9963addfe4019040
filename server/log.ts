// One pino logger for the process, on stderr (memcached logs there too; stdout is for --help
// and --version). memcached's -v levels map onto pino levels; `verbosity N` changes it at run time.
// pino is loaded on the first line logged at the level in force, not at start: loading it costs
// some 30 ms of CPU in each isolate, and -t N starts N of them that mostly never log.
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

const LEVELS = ['warn', 'info', 'debug', 'trace'] as const;
/** pino's level numbers */
const VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export function levelFor(verbosity: number): string {
  return LEVELS[Math.max(0, Math.min(LEVELS.length - 1, verbosity))]!;
}

let real: Logger | null = null;
let level = process.env.LOG_LEVEL ?? 'warn';
function pinoLogger(): Logger {
  if (real) return real;
  const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
  real = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }));
  return real;
}
const skip = (): void => {};
/** Load pino now: a thread that will log anyway does it while it would otherwise wait. */
export function loadLogger(): void { pinoLogger(); }
if (!(level in VALUES)) pinoLogger(); // a LOG_LEVEL pino does not know is refused at start, by pino

export const log: Logger = new Proxy({} as Logger, {
  get(_, k) {
    if (!real) {
      if (k === 'level') return level;
      if (k === 'levelVal') return VALUES[level] ?? 40;
      // a line below the level in force: nothing to write, nothing to load
      if (typeof k === 'string' && k in VALUES && VALUES[k]! < (VALUES[level] ?? 40)) return skip;
    }
    const r = pinoLogger();
    const v = Reflect.get(r, k) as unknown;
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(r) : v;
  },
  set(_, k, v) {
    if (k === 'level' && !real) { level = String(v); return true; }
    return Reflect.set(pinoLogger(), k, v);
  },
});

export function setVerbosity(v: number): void {
  if (!process.env.LOG_LEVEL) log.level = levelFor(v);
}

/** A client key for debug logs: length-bounded, non-printable bytes escaped. Never values. */
export function safeKey(buf: Uint8Array, off: number, len: number): string {
  const n = Math.min(len, 64);
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = buf[off + i]!;
    s += c >= 0x21 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return len > n ? `${s}…(${len} bytes)` : s;
}

/** Fault warnings logged in full per second (per event loop) before they are only counted. */
export const FAULT_LINES_PER_SECOND = 10;

/**
 * Per-fault warnings, bounded: an attacker committing thousands of faults a second would
 * otherwise make the server format and write(2) a JSON line for each, a cost of its own. The
 * first FAULT_LINES_PER_SECOND of each second are logged in full; the rest are counted by
 * kind and told in one summary line when the second is over. At -v and up every fault is
 * logged. Exact totals are always in `stats isolation` (parser_faults, parser_invalid,
 * fault_<kind>).
 */
class FaultLog {
  private since = 0;
  private lines = 0;
  private unlogged = 0;
  private byKind: Record<string, number> = {};
  private timer: NodeJS.Timeout | null = null;
  private readonly flush = (): void => { this.timer = null; this.roll(Date.now()); };

  /** true: log this fault in full now; false: it is counted for the summary line. */
  full(kind: string): boolean {
    if (log.levelVal <= 30) return true; // -v (info) and up
    const now = Date.now();
    if (now - this.since >= 1000) this.roll(now);
    if (this.lines < FAULT_LINES_PER_SECOND) { this.lines++; return true; }
    this.unlogged++;
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    if (!this.timer) {
      this.timer = setTimeout(this.flush, this.since + 1000 - now);
      this.timer.unref();
    }
    return false;
  }

  private roll(now: number): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.unlogged > 0) {
      log.warn({ unlogged: this.unlogged, by_kind: this.byKind, logged: this.lines, window_ms: now - this.since },
        'more parser faults than are logged one by one; counted here (totals: stats isolation)');
      this.unlogged = 0;
      this.byKind = {};
    }
    this.since = now;
    this.lines = 0;
  }
}
export const faultLog = new FaultLog();
