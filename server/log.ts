// One pino logger for the process, on stderr (memcached logs there too; stdout is for --help
// and --version). memcached's -v levels map onto pino levels; `verbosity N` changes it at run time.
import { pino, type Logger } from 'pino';

const LEVELS = ['warn', 'info', 'debug', 'trace'] as const;

export function levelFor(verbosity: number): string {
  return LEVELS[Math.max(0, Math.min(LEVELS.length - 1, verbosity))]!;
}

export const log: Logger = pino(
  { level: process.env.LOG_LEVEL ?? 'warn', base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
  pino.destination({ dest: 2, sync: true }),
);

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
