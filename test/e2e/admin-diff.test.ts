// Differential check of the admin commands' argument rules: seeded random lines of slabs, lru,
// lru_crawler, extstore, refresh_certs, stats detail/cachedump and cache_memlimit (up to 30
// tokens, numbers at and past every limit, noreply anywhere) go to remcached and to memcached
// 1.6.18 started with the same flags; every reply must be byte-identical, and so must the
// settings they changed (`stats settings`, values included). `watch` is left out: a valid one
// turns memcached's connection into a log stream. Bounded: a few seconds.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, NO_MEMCACHED, startMemcached, startRemcached, type Server } from '../helpers/server.ts';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMANDS = ['slabs', 'lru', 'lru_crawler', 'extstore', 'refresh_certs', 'stats detail', 'stats cachedump', 'cache_memlimit'];
const WORDS = ['', '0', '1', '2', '3', '-1', 'x', '63', '64', '1,2', ',', 'all', 'hash', '0.5', '1e3', 'nan', 'inf',
  'noreply', 'flat', 'segmented', '99999999999', '4294967296', '18446744073709551615', 'reassign', 'automove', 'ratio',
  'tune', 'mode', 'temp_ttl', 'crawl', 'metadump', 'mgdump', 'sleep', 'tocrawl', 'enable', 'disable', 'on', 'off',
  'dump', '80', '81', '-0', '+5', '1000001', '1000000', '7', '8', 'item_size', 'max_frag', 'drop_unread',
  'free_memchunks', 'max_sleep', 'low_ttl', '0.25', '\t1', '1\t'];
// values that differ between two servers by nature
const VOLATILE = new Set(['tcpport', 'maxconns_fast', 'hashpower_init', 'inter', 'evictions']);

function lines(seed: number, n: number): string[] {
  const r = prng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const count = r() < 0.85 ? Math.floor(r() * 7) : 18 + Math.floor(r() * 13);
    const args = Array.from({ length: count }, () => pick(WORDS));
    out.push(`${[pick(COMMANDS), ...args].join(' ').replace(/ +$/, '')}\r\n`);
  }
  return out;
}

async function replies(server: Server, input: string[]): Promise<string[]> {
  const c = await Conn.open(server.port);
  const got: string[] = [];
  try {
    for (const l of [...input, 'stats settings\r\n']) {
      c.send(`${l}version\r\n`);
      const b = (await c.untilEndsWith('VERSION 1.6.18\r\n')).toString('latin1');
      got.push(b.slice(0, -'VERSION 1.6.18\r\n'.length));
    }
  } finally {
    c.close();
  }
  // stats settings: memcached's names and values (remcached's own come after them)
  const settings = got.pop()!.split('\r\n').filter((l) => l.startsWith('STAT ') && !VOLATILE.has(l.split(' ')[1]!));
  got.push(settings.slice(0, settings.findIndex((l) => l.startsWith('STAT memory_file')) + 1).join('\n'));
  return got;
}

const GROUPS: Array<[string, string[]]> = [
  ['defaults', []],
  ['-o no_modern', ['-o', 'no_modern']],
  ['-X -W', ['-X', '-W']],
  ['-o no_lru_crawler,no_lru_maintainer', ['-o', 'no_lru_crawler,no_lru_maintainer']],
];

GROUPS.forEach(([name, args], g) => {
  test(`random admin lines (${name}): replies and settings as memcached 1.6.18`, async () => {
    const input = lines(1000 + g, 250);
    const [m, r] = await Promise.all([startMemcached(args), startRemcached(['-U', '0', '-t', '1', ...args])]);
    try {
      const [a, b] = await Promise.all([replies(m, input), replies(r, input)]);
      for (let i = 0; i < a.length; i++) {
        assert.is(b[i], a[i], `${i < input.length ? JSON.stringify(input[i]) : 'stats settings'}`);
      }
    } finally {
      await Promise.all([m.stop(), r.stop()]);
    }
  }, { skip: NO_MEMCACHED });
});

test.run();
