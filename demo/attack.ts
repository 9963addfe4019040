// The attacker: real parser faults against remcached (debug_fault, --enable-fault-injection), and
// against memcached 1.6.18 an input that crashes it for real.
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../test/helpers/server.ts';

/** name -> id, read from the header the native code is built from (the one source of truth). */
export function faultKinds(): Map<string, number> {
  const h = readFileSync(join(ROOT, 'native', 'include', 'remc_fault_inject.h'), 'utf8');
  return new Map([...h.matchAll(/^\s*X\((\w+),\s*(\d+),/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** Caught by the real mechanism in every mode, --isolation=none included (see the header). */
export const SAFE_KINDS = ['null_deref', 'wild_pointer', 'illegal_insn', 'div_zero', 'abort', 'stack_smash',
  'stack_exhaust', 'heap_overrun', 'heap_exhaust', 'endless_loop'];
/** Caught only by PKU: with --isolation=none they really write root memory / the cache. */
export const PKU_ONLY_KINDS = ['root_write', 'store_write', 'store_read'];

/**
 * One fault on a fresh connection, as an attacker would send it. Resolves with how it ended:
 * 'closed' (the server rewound and closed this connection: the fault was survived), 'reply' (the
 * server answered: nothing caught it), 'refused' (no server), 'timeout' (bounded at 3 s).
 */
export function commitFault(port: number, id: number): Promise<'closed' | 'reply' | 'refused' | 'timeout'> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(`debug_fault ${id}\r\n`));
    const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000);
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(t); resolve(e.code === 'ECONNREFUSED' ? 'refused' : 'closed'); });
    s.on('close', () => { clearTimeout(t); resolve(got ? 'reply' : 'closed'); });
  });
}

/**
 * The crash input for memcached 1.6.18 (fixed upstream in 1.6.42, 32ea7d8b5 "proto: fix crash in
 * binary protocol"; not backported in Debian's 1.6.18-1+deb12u1): one connection runs
 * `watch mutations` (allowed by default: no -W), another sends a binary SET whose value is too
 * large. The failed allocation is logged for the watcher through ITEM_clsid(NULL): SIGSEGV.
 * 32 + 1 bytes of header, extras and key are enough; the 2 MiB value is never sent.
 */
export const CRASH_INPUT = {
  name: 'watch mutations + binary SET too large (NULL deref in LOGGER_LOG; fixed in memcached 1.6.42, commit 32ea7d8b5)',
  async send(port: number): Promise<void> {
    const watcher = net.connect(port, '127.0.0.1');
    watcher.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('watch: no answer')), 2000);
        watcher.once('connect', () => watcher.write('watch mutations\r\n'));
        watcher.once('data', () => { clearTimeout(t); resolve(); });
        watcher.once('close', () => { clearTimeout(t); reject(new Error('watch: closed')); });
      });
      const key = Buffer.from('k');
      const h = Buffer.alloc(24);
      h[0] = 0x80; h[1] = 0x01; h.writeUInt16BE(key.length, 2); h[4] = 8;
      h.writeUInt32BE(8 + key.length + 2 * 1024 * 1024, 8);
      const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.concat([h, Buffer.alloc(8), key])));
      s.on('error', () => {});
      await new Promise((r) => { s.once('close', r); setTimeout(r, 1000); });
      s.destroy();
    } finally {
      watcher.destroy();
    }
  },
};

/** `stats` over a fresh text connection, bounded at 2 s; null when the server does not answer. */
export function stats(port: number, sub = ''): Promise<Record<string, string> | null> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(`stats${sub ? ' ' + sub : ''}\r\n`));
    const done = (v: Record<string, string> | null) => { clearTimeout(t); s.destroy(); resolve(v); };
    const t = setTimeout(() => done(null), 2000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.endsWith('END\r\n')) {
        done(Object.fromEntries([...got.matchAll(/^STAT (\S+) (.*)\r$/gm)].map((m) => [m[1]!, m[2]!])));
      }
    });
    s.on('error', () => done(null));
    s.on('close', () => done(null));
  });
}

/** Pipelined text sets (warm-up, canaries); resolves when every STORED has come back. */
export function setMany(port: number, items: Array<[string, Buffer]>): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let stored = 0; let tail = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error(`warm-up timed out (${stored}/${items.length})`)); }, 30_000);
    s.on('connect', () => {
      for (const [k, v] of items) { s.write(`set ${k} 0 0 ${v.length}\r\n`); s.write(v); s.write('\r\n'); }
    });
    s.on('data', (d) => {
      const text = tail + d.toString('latin1');
      const lines = text.split('\r\n'); tail = lines.pop()!;
      for (const l of lines) {
        if (l === 'STORED') stored++; else { clearTimeout(t); s.destroy(); return reject(new Error(`warm-up: ${l}`)); }
      }
      if (stored === items.length) { clearTimeout(t); s.end(); resolve(); }
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** How many of `items` the server still holds with exactly that value (text multi-gets of 100). */
export async function countIntact(port: number, items: Array<[string, Buffer]>): Promise<number | null> {
  let intact = 0;
  for (let i = 0; i < items.length; i += 100) {
    const batch = items.slice(i, i + 100);
    const got = await new Promise<Buffer | null>((resolve) => {
      const chunks: Buffer[] = [];
      const s = net.connect(port, '127.0.0.1', () => s.write(`get ${batch.map(([k]) => k).join(' ')}\r\n`));
      const done = (v: Buffer | null) => { clearTimeout(t); s.destroy(); resolve(v); };
      const t = setTimeout(() => done(null), 3000);
      s.on('data', (d) => { chunks.push(d); const b = Buffer.concat(chunks); if (b.subarray(-5).toString() === 'END\r\n') done(b); });
      s.on('error', () => done(null));
    });
    if (!got) return null;
    const text = got.toString('latin1');
    for (const [k, v] of batch) {
      const at = text.indexOf(`VALUE ${k} 0 ${v.length}\r\n`);
      if (at >= 0) {
        const start = text.indexOf('\r\n', at) + 2;
        if (text.slice(start, start + v.length) === v.toString('latin1')) intact++;
      }
    }
  }
  return intact;
}
