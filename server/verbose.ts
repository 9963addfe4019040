// memcached's -vv lines on stderr (memcached.c, proto_text.c, proto_bin.c at verbose > 1): each
// text command line as `<fd line`, its one-line reply as `>fd reply` (`>fd NOREPLY reply`), get
// hits as `>fd sending key k` and `>fd END`, binary request and response headers in hex, and the
// connection events (`<fd new auto-negotiating client connection`, `fd: Client using the ascii
// protocol`, `<fd connection closed.`). Values are never printed. Unlike memcached, bytes of a
// command line outside printable ASCII are written as \xNN, so a key cannot put control
// characters on the operator's terminal. Lines of one read event go out in one write.
// Nothing here runs below -vv: the connection tests one number per command first.
import { writeSync } from 'node:fs';
import {
  BIN_OP, D_ERR, D_FLAGS, D_KEY_LEN, D_KEY_OFF, D_N0_HI, D_N0_LO, D_N1_LO, D_N2_HI, D_N2_LO, D_OP, D_START, OP,
  REMC_DF_LAST_KEY, REMC_DF_NOREPLY, R_CAS, WORDS,
} from '../protocol/abi.ts';
import { After } from '../protocol/conn.ts';
import type { Output } from '../protocol/output.ts';
import type { Store } from '../protocol/store.ts';

let pending = '';

/** write what the event produced (called once per event, and at close) */
export function flushVerbose(): void {
  if (pending === '') return;
  const s = pending;
  pending = '';
  try { writeSync(2, s, null, 'latin1'); } catch { /* stderr gone: nothing to tell */ }
}

export function verboseLine(s: string): void { pending += `${s}\n`; }

/** -vv at start (memcached's slabs_init): the store's slab classes, one line each, memcached's
 *  table up to slab_chunk_max (larger items are chunked). */
export function slabTable(store: Store, stats: Float64Array, slabStatsAt: number, chunkSize: number, perSlab: number): void {
  const pad = (n: number, w: number) => String(n).padStart(w);
  for (let cls = 1, n = store.classCount(); cls <= n; cls++) {
    store.classStats(cls); // fills chunk_size and chunks_per_page whether the class has pages or not
    verboseLine(`slab class ${pad(cls, 3)}: chunk size ${pad(stats[slabStatsAt + chunkSize]!, 9)} perslab ${pad(stats[slabStatsAt + perSlab]!, 7)}`);
  }
  flushVerbose();
}

/** bytes as memcached prints them, but printable ASCII only */
function printable(buf: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/** the 24-byte header at buf[at..] as memcached dumps it, four bytes a line */
function dumpHeader(fd: number, buf: Uint8Array, at: number, dir: '<' | '>', title: string): void {
  let s = `${dir}${fd} ${title}`;
  for (let i = 0; i < 24; i++) {
    if (i % 4 === 0) s += dir === '<' ? `\n<${fd}   ` : `\n>${fd}  `;
    s += ` ${hex(buf[at + i]!)}`;
  }
  verboseLine(s);
}

const GET_FAMILY = (op: number) => op >= OP.GET && op <= OP.GATS;
const startsWith = (buf: Uint8Array, at: number, end: number, word: string) => {
  if (end - at < word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[at + i] !== word.charCodeAt(i)) return false;
  return true;
};

/** One event loop's -vv state (one per connection loop; the window and descriptors are its). */
export class Verbose {
  /** the command line already shown (a storage command waiting for its data, a cut multiget) */
  private shownStart = -1;
  private lastStart = -1;

  constructor(private readonly window: Buffer, private readonly desc: Uint32Array, private readonly res: Float64Array,
    private readonly out: Output, private readonly store: Store) {}

  /** a new event's commands: forget the previous event's positions */
  event(): void { this.lastStart = -1; }

  /** before text command i: `<fd line` once per line */
  textBefore(fd: number, i: number): void {
    const d = this.desc, b = i * WORDS;
    const start = d[b + D_START]!;
    if (start === this.lastStart) return; // the next key of a multiget
    this.lastStart = start;
    if (this.shownStart === 0 && i === 0) { this.shownStart = -1; return; } // shown when it waited for data
    const w = this.window;
    let end = w.indexOf(10, start);
    if (end < 0) end = start;
    const lineEnd = end > start && w[end - 1] === 13 ? end - 1 : end;
    verboseLine(`<${fd} ${printable(w, start, lineEnd)}`);
  }

  /** after text command i: what memcached's out_string (and the get loop) print */
  textAfter(fd: number, i: number, mark: number, a: After, afterSwallow: Buffer | null, quiet: Buffer | null): void {
    const d = this.desc, b = i * WORDS;
    const op = d[b + D_OP]!;
    const out = this.out;
    const grew = out.size - mark;
    const avail = grew <= out.pos; // the reply is still in the buffer (not set aside in chunks)
    const from = out.pos - grew;
    if (a === After.NEED) { this.shownStart = 0; return; }
    if (GET_FAMILY(op)) {
      const last = (d[b + D_FLAGS]! & REMC_DF_LAST_KEY) !== 0;
      if (d[b + D_ERR]!) {
        verboseLine(`>${fd} END`);
        if (avail && grew > 0) this.firstLine(fd, from, '');
        return;
      }
      if (grew > (last ? 5 : 0)) verboseLine(`>${fd} sending key ${printable(this.window, d[b + D_KEY_OFF]!, d[b + D_KEY_OFF]! + d[b + D_KEY_LEN]!)}`);
      if (last) verboseLine(`>${fd} END`);
      return;
    }
    if (a === After.SWALLOW) { if (afterSwallow) this.lineOf(fd, afterSwallow, 0, afterSwallow.length, ''); return; }
    if (op === OP.QUIT || a === After.WATCH) return;
    if ((d[b + D_FLAGS]! & REMC_DF_NOREPLY) !== 0) {
      if (quiet) this.lineOf(fd, quiet, 0, quiet.length, 'NOREPLY ');
      return;
    }
    if (!avail || grew === 0) return;
    const buf = out.buf;
    if (op >= OP.MG) {
      // meta replies are built in place; only errors (and mn) go through out_string
      if (op === OP.MN || startsWith(buf, from, out.pos, 'CLIENT_ERROR') || startsWith(buf, from, out.pos, 'SERVER_ERROR') ||
          startsWith(buf, from, out.pos, 'ERROR')) this.firstLine(fd, from, '');
      return;
    }
    // multi-line replies (stats, dumps) are written without out_string
    const nl = buf.indexOf(10, from);
    if (nl >= 0 && nl + 1 < out.pos) return;
    if (op === OP.STATS && (startsWith(buf, from, out.pos, 'END') || startsWith(buf, from, out.pos, 'STAT '))) return;
    if (op === OP.CAS && startsWith(buf, from, out.pos, 'EXISTS')) this.casFailure(b);
    this.firstLine(fd, from, '');
  }

  private casFailure(b: number): void {
    const d = this.desc;
    if (this.store.metaGet(d[b + D_KEY_OFF]!, d[b + D_KEY_LEN]!, 0) < 0) return;
    const have = this.res[R_CAS]!;
    this.store.unpin();
    const want = (BigInt(d[b + D_N2_HI]!) << 32n) | BigInt(d[b + D_N2_LO]!);
    verboseLine(`CAS:  failure: expected ${have}, got ${want}`);
  }

  private firstLine(fd: number, from: number, prefix: string): void {
    this.lineOf(fd, this.out.buf, from, this.out.pos, prefix);
  }

  private lineOf(fd: number, buf: Uint8Array, from: number, to: number, prefix: string): void {
    let end = from;
    while (end < to && buf[end] !== 10) end++;
    if (end > from && buf[end - 1] === 13) end--;
    verboseLine(`>${fd} ${prefix}${printable(buf, from, end)}`);
  }

  /** before binary command i: the request header, then the command's own line */
  binBefore(fd: number, i: number): void {
    const d = this.desc, b = i * WORDS, w = this.window;
    const start = d[b + D_START]!;
    dumpHeader(fd, w, start, '<', 'Read binary protocol data:');
    const op = w[start + 1]!;
    const key = () => printable(w, d[b + D_KEY_OFF]!, d[b + D_KEY_OFF]! + d[b + D_KEY_LEN]!);
    switch (op) {
      case BIN_OP.GET: case BIN_OP.GETQ: case BIN_OP.GETK: case BIN_OP.GETKQ:
        verboseLine(`<${fd} GET ${key()}`); break;
      case BIN_OP.TOUCH: case BIN_OP.GAT: case BIN_OP.GATQ: case BIN_OP.GATK: case BIN_OP.GATKQ:
        verboseLine(`<${fd} TOUCH ${key()}`); break;
      case BIN_OP.SET: case BIN_OP.SETQ: case BIN_OP.ADD: case BIN_OP.ADDQ: case BIN_OP.REPLACE: case BIN_OP.REPLACEQ: {
        const name = op === BIN_OP.ADD || op === BIN_OP.ADDQ ? 'ADD' : op === BIN_OP.SET || op === BIN_OP.SETQ ? 'SET' : 'REPLACE';
        const bodyLen = w.readUInt32BE(start + 8), extLen = w[start + 4]!;
        verboseLine(`<${fd} ${name} ${key()} Value len is ${bodyLen - extLen - d[b + D_KEY_LEN]!}`);
        break;
      }
      case BIN_OP.DELETE: case BIN_OP.DELETEQ: verboseLine(`Deleting ${key()}`); break;
      case BIN_OP.INCREMENT: case BIN_OP.INCREMENTQ: case BIN_OP.DECREMENT: case BIN_OP.DECREMENTQ: {
        const delta = BigInt.asIntN(64, (BigInt(d[b + D_N0_HI]!) << 32n) | BigInt(d[b + D_N0_LO]!));
        const initial = (BigInt(d[b + D_N2_HI]!) << 32n) | BigInt(d[b + D_N2_LO]!);
        verboseLine(`incr ${key()} ${delta}, ${initial}, ${d[b + D_N1_LO]! | 0}`);
        break;
      }
      case BIN_OP.STAT: verboseLine(`<${fd} STATS ${key()}`); break;
    }
  }

  /** after binary command i: each response header written, errors with their text first */
  binAfter(fd: number, mark: number): void {
    const out = this.out;
    const grew = out.size - mark;
    if (grew === 0 || grew > out.pos) return;
    const buf = out.buf;
    for (let p = out.pos - grew; p + 24 <= out.pos;) {
      const status = (buf[p + 6]! << 8) | buf[p + 7]!;
      const bodyLen = ((buf[p + 8]! << 24) | (buf[p + 9]! << 16) | (buf[p + 10]! << 8) | buf[p + 11]!) >>> 0;
      if (status !== 0 && buf[p + 4] === 0 && buf[p + 2] === 0 && buf[p + 3] === 0 && p + 24 + bodyLen <= out.pos) {
        verboseLine(`>${fd} Writing an error: ${printable(buf, p + 24, p + 24 + bodyLen)}`);
      }
      dumpHeader(fd, buf, p, '>', 'Writing bin response:');
      p += 24 + bodyLen;
    }
  }
}
