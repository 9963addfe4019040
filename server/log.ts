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
