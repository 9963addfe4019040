// The reply of one read event, assembled in one buffer that native code can also write into
// (values, incr results), then sent with one socket write.
import { native } from '../native/index.ts';

const INITIAL = 256 * 1024;
/** Past this, what is assembled so far is set aside as its own chunk (big multigets). */
const SPILL = 1024 * 1024;

export class Output {
  buf: Buffer;
  pos = 0;
  private chunks: Buffer[] = [];
  private markPos = 0;
  private markChunks = 0;

  constructor() {
    this.buf = Buffer.alloc(INITIAL);
    native.setOutput(this.buf);
  }

  /** Make room for n more bytes at pos. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos > 0) this.spill();
    if (n > this.buf.length) {
      this.buf = Buffer.alloc(Math.max(n, this.buf.length * 2));
      native.setOutput(this.buf);
    }
  }

  private spill(): void {
    this.chunks.push(Buffer.from(this.buf.subarray(0, this.pos)));
    this.pos = 0;
  }

  /** Where the reply stood when memcached would have written it out (see rewindToMark). */
  mark(): void { this.markPos = this.pos; this.markChunks = this.chunks.length; }

  /** Drop what was assembled since mark() (memcached drops its unwritten replies in one case). */
  rewindToMark(): void { if (this.chunks.length === this.markChunks) this.pos = this.markPos; }

  /** The reply was sent: start the next one. */
  clear(): void { this.pos = 0; this.markPos = 0; this.markChunks = 0; }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Copy n bytes of src at off (short copies by hand: cheaper than a subarray object). */
  copy(src: Uint8Array, off: number, n: number): void {
    this.ensure(n);
    const dst = this.buf;
    let p = this.pos;
    if (n <= 64) for (let i = 0; i < n; i++) dst[p++] = src[off + i]!;
    else { dst.set(src.subarray(off, off + n), p); p += n; }
    this.pos = p;
  }

  ascii(s: string): void {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, "latin1");
  }

  /** A non-negative integer below 2^53, in decimal. */
  uint(n: number): void {
    this.ensure(16);
    const b = this.buf;
    if (n < 10) { b[this.pos++] = 48 + n; return; }
    let digits = 0;
    for (let t = n; t >= 1; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    while (n >= 1) { const q = Math.floor(n / 10); b[--p] = 48 + (n - q * 10); n = q; }
  }

  space(): void { this.ensure(1); this.buf[this.pos++] = 32; }
  crlf(): void { this.ensure(2); this.buf[this.pos++] = 13; this.buf[this.pos++] = 10; }

  /** True when the whole reply is still in the registered buffer (no chunk set aside). */
  get single(): boolean { return this.chunks.length === 0; }

  /** Everything assembled since the last take(), as buffers the caller owns; resets. */
  take(): Buffer[] | null {
    if (this.pos === 0 && this.chunks.length === 0) return null;
    if (this.pos > 0) this.spill();
    const c = this.chunks;
    this.chunks = [];
    this.markPos = this.markChunks = 0;
    return c;
  }

  /** The reply from byte `from` on, as a buffer the caller owns; resets. */
  takeFrom(from: number): Buffer {
    const b = Buffer.from(this.buf.subarray(from, this.pos));
    this.clear();
    return b;
  }

  /** Forget everything assembled since the last take() (the connection is being closed). */
  discard(): void { this.clear(); this.chunks = []; }
}
