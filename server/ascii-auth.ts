// ASCII authentication (-Y / --auth-file), as memcached 1.6.18 does it (proto_text.c
// try_read_command_asciiauth, authfile.c), with the later fixes of its crashes:
//   - before a connection authenticates, every command line is answered
//     `CLIENT_ERROR unauthenticated`, except `set <any> <any> <any> <n>\r\n<user> <pass>\r\n`:
//     `STORED` (and the connection is authenticated), `CLIENT_ERROR authentication failure`,
//     `CLIENT_ERROR bad authentication token format` (no second token) or `CLIENT_ERROR bad
//     command line termination` (the n bytes are not followed by \r\n);
//   - n > 16384: `CLIENT_ERROR auth token too long` (1.6.42; 1.6.18 crashes on 2147483646);
//   - runs of empty lines are plain unauthenticated lines (1.6.44 fixed a short read there; no
//     such read exists here);
//   - the file: 1.6.18's authfile.c rules, without its off-by-one (CVE-2021-37519 and the chopped
//     last byte of a final entry without '\n').
// The bytes are parsed inside the domain like any other command (native.parse); this module
// only reads the descriptors, and decides. Where memcached accepts a `set` line that its normal
// parser (and so the domain's) refuses (any key, flags, exptime; extra tokens), root reads the
// fifth token of that one line with memcached's safe_strtoul (setLineSize below).
//
// memcached keeps one response object for the pre-auth replies of one read event and overwrites
// it (out_string -> resp_reset): only the last of them is sent ("get a\r\nget b\r\n" in one
// packet answers once). `reply` below is that object.
import { readFileSync } from 'node:fs';
import { abi, native } from '../native/index.ts';
import type { Counters } from '../protocol/context.ts';
import type { Output } from '../protocol/output.ts';
import { R } from '../protocol/replies.ts';
import { matchCredentials } from './sasl.ts';

const K = abi.K as Record<string, number>;
const OP = abi.OP as Record<string, number>;
const PERR = abi.PERR as Record<string, number>;
const W = K.WORDS!;
const D_OP = K.D_OP!, D_ERR = K.D_ERR!, D_FLAGS = K.D_FLAGS!, D_START = K.D_START!, D_END = K.D_END!;
const D_DATA_OFF = K.D_DATA_OFF!, D_DATA_LEN = K.D_DATA_LEN!;
const DF_DATA_INCOMPLETE = K.REMC_DF_DATA_INCOMPLETE!;
const R_CONSUMED = K.R_CONSUMED!, R_NDESC = K.R_NDESC!, R_CLOSE_REASON = K.R_CLOSE_REASON!;
const PS_FULL = K.REMC_PS_FULL!, PS_CLOSE = K.REMC_PS_CLOSE!;
const CLOSE_HTTP = K.REMC_CLOSE_HTTP!, CLOSE_LINE_TOO_LONG = K.REMC_CLOSE_LINE_TOO_LONG!;

/** The longest token accepted (memcached 1.6.42). */
export const AUTH_TOKEN_MAX = 16384;
/** memcached closes a pre-auth connection holding more than this without a '\n'. */
const LINE_MAX = 2048;
// authfile.c: at most 8 entries; fgets reads 255 bytes of a line at a time.
const MAX_ENTRIES = 8;
const MAX_ENTRY_LEN = 256;

export class AuthFileError extends Error {
  constructor(message: string, readonly exitCode = 1) { super(message); }
}

type Entry = readonly [user: Buffer, pass: Buffer];

/** authfile_load: `user:password` lines. A line without ':' (an empty line too) makes the file
 *  malformed. The password ends at '\n', '\r' or NUL; a NUL, or a line cut at 255 bytes, ends
 *  the file. Entries past the 8th are ignored, as memcached does. */
export function parseAuthFile(data: Buffer): Entry[] {
  const entries: Entry[] = [];
  let pos = 0;
  while (pos < data.length && entries.length < MAX_ENTRIES) {
    // what one fgets() returns: up to 255 bytes, through the first '\n'
    let end = Math.min(pos + MAX_ENTRY_LEN - 1, data.length);
    const nl = data.indexOf(10, pos);
    if (nl >= 0 && nl < end) end = nl + 1;
    const at = (x: number) => (pos + x < end ? data[pos + x]! : 0);
    let colon = -1, x = 0;
    for (; x < MAX_ENTRY_LEN; x++) {
      const c = at(x);
      if (colon < 0) {
        if (c === 0) break;
        if (c === 0x3a) colon = x;
      } else if (c === 10 || c === 13 || c === 0) break;
    }
    if (colon < 0) throw new AuthFileError('malformed');
    entries.push([data.subarray(pos, pos + colon), data.subarray(pos + colon + 1, pos + x)]);
    if (at(x) === 0) break; // NUL, end of file, or a line cut at 255 bytes
    pos = end;
  }
  return entries;
}

export function loadAuthFile(path: string): Entry[] {
  let data: Buffer;
  try {
    if (path === '') throw Object.assign(new Error(), { code: 'ENOENT' });
    data = readFileSync(path);
  } catch (e) {
    const msg = strerror((e as NodeJS.ErrnoException).code);
    throw new AuthFileError(`Could not open authfile [${path}] for reading, error ${msg}: ${msg}`);
  }
  try {
    return parseAuthFile(data);
  } catch {
    throw new AuthFileError(`Authfile [${path}] has a malformed entry. Should be 'user:password'`);
  }
}

function strerror(code: string | undefined): string {
  switch (code) {
    case 'ENOENT': return 'No such file or directory';
    case 'EACCES': return 'Permission denied';
    case 'EISDIR': return 'Is a directory';
    default: return code ?? 'Unknown error';
  }
}

/** memcached's tokenizer on the token: the string ends at its first NUL; tokens are runs of
 *  non-spaces; user and password are the first two. */
export function splitToken(token: Buffer): [Buffer, Buffer] | null {
  const z = token.indexOf(0);
  const s = z < 0 ? token : token.subarray(0, z);
  const out: Buffer[] = [];
  let i = 0;
  while (out.length < 2 && i < s.length) {
    while (i < s.length && s[i] === 0x20) i++;
    const b = i;
    while (i < s.length && s[i] !== 0x20) i++;
    if (i > b) out.push(s.subarray(b, i));
  }
  return out.length === 2 ? [out[0]!, out[1]!] : null;
}

const isSpace = (c: number) => c === 0x20 || (c >= 9 && c <= 13);

/** memcached's safe_strtoul (strtoul base 10 into a uint32): null when it refuses. */
function safeStrtoul(w: Buffer, b: number, e: number): number | null {
  let i = b;
  while (i < e && isSpace(w[i]!)) i++;
  let neg = false;
  if (i < e && (w[i] === 0x2b || w[i] === 0x2d)) { neg = w[i] === 0x2d; i++; }
  const d0 = i;
  let v = 0n;
  for (; i < e && w[i]! >= 0x30 && w[i]! <= 0x39; i++) v = v * 10n + BigInt(w[i]! - 0x30);
  if (i === d0) return null;
  if (v > 0xffffffffffffffffn) return null; // ERANGE
  if (i < e && !isSpace(w[i]!)) return null;
  if (neg) v = (0x10000000000000000n - v) & 0xffffffffffffffffn;
  if (v >= 0x8000000000000000n && neg) return null; // "negative" only when the '-' made it so
  return Number(v & 0xffffffffn);
}

/** The pre-auth `set` line as memcached reads it: line [b, nl) (without its '\n'; a '\r' stays),
 *  up to its first NUL; >= 5 space-separated tokens, the first "set", the fifth a number.
 *  Returns that number, or -1. */
export function setLineSize(w: Buffer, b: number, nl: number): number {
  let e = b;
  while (e < nl && w[e] !== 0) e++;
  let i = b, n = 0, sizeB = -1, sizeE = -1;
  let first = true;
  while (i < e && n < 5) {
    while (i < e && w[i] === 0x20) i++;
    if (i >= e) break;
    const tb = i;
    while (i < e && w[i] !== 0x20) i++;
    if (first && !(i - tb === 3 && w[tb] === 0x73 && w[tb + 1] === 0x65 && w[tb + 2] === 0x74)) return -1;
    first = false;
    if (++n === 5) sizeB = tb, sizeE = i;
  }
  if (n < 5) return -1;
  const v = safeStrtoul(w, sizeB, sizeE);
  return v === null ? -1 : v;
}

/** What the connection does after gate(). */
export const enum Gate {
  /** all complete lines answered; keep window[pos..len) for the next read */
  WAIT = 0,
  /** an auth `set` waits for its token: keep window[pos..len), wait until `need` bytes */
  NEED = 1,
  /** authenticated: execute window[pos..len) as usual */
  AUTHED = 2,
  /** close without a reply (a line too long) */
  CLOSE = 3,
  /** the parser failed (fault or invalid output): status in `status` */
  FAILED = 4,
}

export interface AuthConn { authenticated: boolean; readonly fd: number }

export class AsciiAuth {
  private entries: Entry[];
  /** where gate() stopped, and (NEED) how many bytes from there it waits for */
  pos = 0;
  need = 0;
  status = 0;

  constructor(
    readonly path: string,
    private readonly out: Output,
    private readonly window: Buffer,
    private readonly desc: Uint32Array,
    private readonly res: Float64Array,
    private readonly counters: Counters,
  ) {
    this.entries = loadAuthFile(path);
  }

  /** memcached re-reads the file on SIGHUP and keeps the old entries when that fails. */
  reload(): boolean {
    try { this.entries = loadAuthFile(this.path); return true; } catch { return false; }
  }

  /** Check a token; the password is never logged or kept. */
  private check(token: Buffer): Buffer {
    const up = splitToken(token);
    if (!up) return R.AUTH_TOKEN_FORMAT;
    this.counters.auth_cmds++;
    if (matchCredentials(this.entries, up[0], up[1])) return R.STORED;
    this.counters.auth_errors++;
    return R.AUTH_FAILURE;
  }

  /** Answer the pre-auth lines in window[0..len) (one read event). */
  gate(conn: AuthConn, len: number): Gate {
    const w = this.window, d = this.desc, res = this.res;
    let pos = 0, stuck = -1, reply: Buffer | null = null, g = Gate.WAIT;
    outer:
    for (;;) {
      if (len - pos < 2) break; // memcached looks at nothing shorter than two bytes
      if (pos === stuck) { this.out.discard(); return Gate.CLOSE; } // never: every pass moves on
      stuck = pos;
      const st = native.parse(len, pos, 0, conn.fd, 0);
      this.counters.parser_calls++;
      if (st < 0) { this.status = st; return Gate.FAILED; }
      const n = res[R_NDESC]!;
      let lastStart = -1;
      for (let i = 0; i < n; i++) {
        const b = i * W;
        const start = d[b + D_START]!;
        if (start === lastStart) continue; // the other keys of a get line already answered
        lastStart = start;
        if (len - start < 2) { pos = start; break outer; }
        const nl = w.indexOf(10, start);
        if (nl < 0 || nl >= len) { this.out.discard(); return Gate.CLOSE; } // never: lines end in the window
        const lineEnd = nl + 1;
        let off: number, size: number, termOk: boolean | undefined;
        if (d[b + D_OP] === OP.SET && (d[b + D_ERR] === 0 || d[b + D_ERR] === PERR.BAD_DATA_CHUNK)) {
          off = d[b + D_DATA_OFF]!, size = d[b + D_DATA_LEN]!;
          if (!(d[b + D_FLAGS]! & DF_DATA_INCOMPLETE)) termOk = d[b + D_ERR] === 0;
        } else {
          off = lineEnd, size = setLineSize(w, start, nl);
          if (size < 0) {
            reply = R.UNAUTHENTICATED;
            pos = lineEnd;
            if (lineEnd !== d[b + D_END]) continue outer; // the rest of the line was data to the parser
            continue;
          }
        }
        if (size > AUTH_TOKEN_MAX) { reply = R.AUTH_TOKEN_TOO_LONG; pos = lineEnd; continue outer; }
        if (len - off < size + 2) { pos = start; this.need = off - start + size + 2; g = Gate.NEED; break outer; }
        termOk ??= w[off + size] === 13 && w[off + size + 1] === 10;
        pos = off + size + 2;
        reply = termOk ? this.check(w.subarray(off, off + size)) : R.BAD_LINE_TERMINATION;
        if (reply === R.STORED) { conn.authenticated = true; g = Gate.AUTHED; break outer; }
        if (pos !== d[b + D_END]) continue outer;
      }
      if (st === PS_CLOSE) {
        const why = res[R_CLOSE_REASON];
        if (why === CLOSE_LINE_TOO_LONG) { this.out.discard(); return Gate.CLOSE; }
        if (why === CLOSE_HTTP) { reply = R.UNAUTHENTICATED; pos = res[R_CONSUMED]!; }
        continue; // QUIT was answered as a line like any other
      }
      if (st === PS_FULL) continue;
      pos = Math.max(pos, res[R_CONSUMED]!);
      if (len - pos > LINE_MAX) { this.out.discard(); return Gate.CLOSE; }
      break;
    }
    if (reply) this.out.bytes(reply);
    this.pos = pos;
    return g;
  }
}
