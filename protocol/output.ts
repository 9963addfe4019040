// The reply of one read event, assembled in a buffer that native code can also write into
// (values, incr results). Small replies go out with one socket write; the connection writes a
// big one out as it grows (server/connection.ts), so no read can build a giant buffer.

const INITIAL = 256 * 1024;

export class Output {
  buf: Buffer;
  pos = 0;
  private chunks: Buffer[] = [];
  /** bytes in chunks (set aside, not yet taken) */
  chunkBytes = 0;
  private markPos = 0;
  private markChunks = 0;

  /** register: tells the store where values go (Store.setOutput), again whenever buf changes */
  constructor(private readonly register: (buf: Uint8Array) => void) {
    this.buf = Buffer.alloc(INITIAL);
    register(this.buf);
  }

  /** Bytes assembled and not yet taken. */
  get size(): number { return this.pos + this.chunkBytes; }

  /** Make room for n more bytes at pos. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos > 0) this.spill();
    if (n > this.buf.length) this.replace(n); // one value larger than the buffer: a buffer of its own
  }

  private replace(size: number): void {
    this.buf = Buffer.allocUnsafe(size);
    this.register(this.buf);
  }

  /** Set aside what is assembled: a mostly full buffer is handed over as it is (no copy) and a
   *  fresh one registered; a mostly empty one is copied out and reused. */
  private spill(): void {
    const p = this.pos;
    if (p * 2 >= this.buf.length) {
      this.chunks.push(this.buf.subarray(0, p));
      this.replace(INITIAL);
    } else {
      this.chunks.push(Buffer.from(this.buf.subarray(0, p)));
    }
    this.chunkBytes += p;
    this.pos = 0;
  }

  /** Where the reply stood when memcached would have written it out (see rewindToMark). */
  mark(): void { this.markPos = this.pos; this.markChunks = this.chunks.length; }

  /** Drop what was assembled since mark() (memcached drops its unwritten replies in one case). */
  rewindToMark(): void { if (this.chunks.length === this.markChunks) this.pos = this.markPos; }

  /** The reply was sent: start the next one (and give back a buffer grown for one big value). */
  clear(): void {
    this.pos = 0; this.markPos = 0; this.markChunks = 0;
    if (this.buf.length > INITIAL) this.replace(INITIAL);
  }

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
    this.chunkBytes = 0;
    this.markPos = this.markChunks = 0;
    return c;
  }

  /** The reply from byte `from` on, as a buffer the caller owns; resets. */
  takeFrom(from: number): Buffer {
    let b: Buffer;
    if ((this.pos - from) * 2 >= this.buf.length) { b = this.buf.subarray(from, this.pos); this.replace(INITIAL); }
    else b = Buffer.from(this.buf.subarray(from, this.pos));
    this.clear();
    return b;
  }

  /** Forget everything assembled since the last take() (the connection is being closed). */
  discard(): void { this.clear(); this.chunks = []; this.chunkBytes = 0; }
}
