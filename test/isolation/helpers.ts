// Shared by the isolation end-to-end tests: the fault-injection table (read from its one source,
// native/include/remc_fault_inject.h), stats, a key set with checksums, and a victim client that
// keeps pipelined traffic going and checks every reply byte for byte.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Conn, ROOT } from '../helpers/server.ts';

export interface Injection { name: string; id: number; pku: string; none: string; sfi: string }

/** REMC_FAULT_INJECTIONS: X(name, id, kind_pku, kind_none, kind_sfi) */
export const INJECTIONS: Injection[] = [
  ...readFileSync(join(ROOT, 'native/include/remc_fault_inject.h'), 'utf8')
    .matchAll(/^\s*X\((\w+),\s*(\d+),\s*(\w+),\s*(\w+),\s*(\w+)\)/gm),
].map((m) => ({ name: m[1]!, id: Number(m[2]), pku: m[3]!, none: m[4]!, sfi: m[5]! }));
if (INJECTIONS.length < 13) throw new Error('could not read the fault-injection table');

export async function stats(port: number, sub = ''): Promise<Map<string, string>> {
  const c = await Conn.open(port);
  // no group: memcached's general stats and remcached's own (`stats isolation`: parser_*,
  // faults per kind, fault_root_target, store_checksum) together
  c.send(sub ? `stats ${sub}\r\n` : 'stats\r\nstats isolation\r\n');
  const b = await c.until((r) => (sub ? /END\r\n$/ : /END\r\n[^]*(END|ERROR)\r\n$/).test(r.toString('latin1')));
  c.close();
  const m = new Map<string, string>();
  for (const line of b.toString('latin1').split('\r\n')) {
    const p = line.split(' ');
    if (p[0] === 'STAT' && p.length >= 3) m.set(p[1]!, p.slice(2).join(' '));
  }
  return m;
}

/** Keys stored before the faults, and their values (binary-safe, distinct lengths). */
export function makeItems(n: number, tag: string): Map<string, Buffer> {
  const items = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const v = Buffer.alloc(16 + ((i * 37) % 300));
    for (let j = 0; j < v.length; j++) v[j] = (i * 131 + j * 7) & 0xff;
    items.set(`${tag}:${i}`, v);
  }
  return items;
}

export async function storeItems(port: number, items: Map<string, Buffer>): Promise<void> {
  const c = await Conn.open(port);
  const parts: Buffer[] = [];
  for (const [k, v] of items) parts.push(Buffer.from(`set ${k} ${v.length & 0xffff} 0 ${v.length}\r\n`), v, Buffer.from('\r\n'));
  c.send(Buffer.concat(parts));
  const want = 'STORED\r\n'.repeat(items.size);
  const got = await c.until((b) => b.length >= want.length, 10_000);
  c.close();
  if (got.toString('latin1') !== want) throw new Error(`storing failed: ${got.toString('latin1').slice(0, 200)}`);
}

function expectedGet(k: string, v: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`VALUE ${k} ${v.length & 0xffff} ${v.length}\r\n`), v, Buffer.from('\r\nEND\r\n')]);
}

/** One multi-get of every key; returns the keys whose value is not what was stored. */
export async function changedItems(port: number, items: Map<string, Buffer>): Promise<string[]> {
  const c = await Conn.open(port);
  const keys = [...items.keys()];
  c.send(keys.map((k) => `get ${k}\r\n`).join(''));
  const want = Buffer.concat(keys.map((k) => expectedGet(k, items.get(k)!)));
  const got = await c.until((b) => b.length >= want.length, 10_000);
  c.close();
  if (got.equals(want)) return [];
  const bad: string[] = [];
  let off = 0;
  for (const k of keys) {
    const e = expectedGet(k, items.get(k)!);
    if (!got.subarray(off, off + e.length).equals(e)) bad.push(k);
    off += e.length;
  }
  return bad.length ? bad : ['<reply stream differs>'];
}

/** A digest of every stored item as seen by a client (the root's checksum may not be exported). */
export async function clientChecksum(port: number, items: Map<string, Buffer>): Promise<string> {
  const c = await Conn.open(port);
  const keys = [...items.keys()];
  c.send(keys.map((k) => `get ${k}\r\n`).join(''));
  const got = await c.until((b) => b.toString('latin1').split('END\r\n').length > keys.length, 10_000);
  c.close();
  return createHash('sha256').update(got).digest('hex');
}

/**
 * A well-behaved client that keeps pipelined batches going (gets of the stored items and
 * set/get of its own keys) and checks every reply exactly. stop() resolves with the count.
 */
export class Victim {
  batches = 0;
  errors: string[] = [];
  private running = true;
  private done: Promise<void>;
  private constructor(private conn: Conn, private items: Map<string, Buffer>) {
    this.done = this.loop();
  }
  static async start(port: number, items: Map<string, Buffer>): Promise<Victim> {
    return new Victim(await Conn.open(port), items);
  }
  private async loop(): Promise<void> {
    const keys = [...this.items.keys()];
    let n = 0;
    while (this.running) {
      const parts: Buffer[] = [];
      const want: Buffer[] = [];
      for (let i = 0; i < 16; i++) {
        const k = keys[(n * 16 + i) % keys.length]!;
        parts.push(Buffer.from(`get ${k}\r\n`));
        want.push(expectedGet(k, this.items.get(k)!));
      }
      const own = `victim:${n}`, val = Buffer.from(`value-${n}-`.padEnd(40 + (n % 50), 'x'));
      parts.push(Buffer.from(`set ${own} 7 0 ${val.length}\r\n`), val, Buffer.from(`\r\nget ${own}\r\n`));
      want.push(Buffer.from('STORED\r\n'), Buffer.concat([Buffer.from(`VALUE ${own} 7 ${val.length}\r\n`), val, Buffer.from('\r\nEND\r\n')]));
      const w = Buffer.concat(want);
      this.conn.send(Buffer.concat(parts));
      try {
        const got = await this.conn.until((b) => b.length >= w.length, 5000);
        if (!got.equals(w)) this.errors.push(`batch ${n}: ${JSON.stringify(got.toString('latin1').slice(0, 200))}`);
      } catch (e) {
        this.errors.push(`batch ${n}: ${(e as Error).message}`);
        break;
      }
      if (this.conn.closed) { this.errors.push(`victim connection closed at batch ${n}`); break; }
      n++;
      this.batches = n;
    }
  }
  /** Stop after `atLeast` batches (5 s at most): on a loaded machine the attacks can all end
   *  before the victim has made enough round trips to prove it was served meanwhile. */
  async stop(atLeast = 3): Promise<{ batches: number; errors: string[] }> {
    const until = Date.now() + 5000;
    while (this.batches < atLeast && this.errors.length === 0 && !this.conn.closed && Date.now() < until) await sleep(10);
    this.running = false;
    await this.done;
    this.conn.close();
    return { batches: this.batches, errors: this.errors };
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
