// Who frees expired and flushed items, and what it counts (memcached's t/issue_163.t,
// t/issue_183.t, t/lru-maintainer.t, t/lru-crawler.t): compared by value on a fresh pair, each
// sequence in a slab class of its own so that earlier items do not sit at its LRU tail.
import { seq, set, type Group, type Sequence } from '../harness.ts';

const RECLAIMS = ['reclaimed', 'crawler_reclaimed', 'expired_unfetched', 'get_flushed', 'get_expired'];
const stats = { send: 'stats\r\n', statsExact: RECLAIMS };
/** memcached's LRU tail check frees an item once its exptime is below the clock: 2 s after a
 *  1 s TTL at the latest, plus a tick of its 1 s clock (and of remcached's maintainer) */
const EXPIRED = 3100;

// -o no_modern: no maintainer, no crawler; each allocation frees expired tail items first
const flat: Sequence[] = [
  seq('flat LRU: a flushed old value is reclaimed by its own set (t/issue_183.t)',
    'stats reset\r\n', set('key', '1'), { ...stats, sleepMs: 2100 }, 'flush_all\r\n', set('key', '1'), stats, 'get key\r\n'),
  seq('flat LRU: an expired tail item is reclaimed by the next store in its class',
    'stats reset\r\n', set('a', 'x'.repeat(300), 0, 1), { ...stats, sleepMs: EXPIRED }, set('b', 'x'.repeat(300)), stats,
    'get a b\r\n'),
  seq('flat LRU: a live tail item stops the walk, the expired one above it stays until read',
    'stats reset\r\n', set('live', 'x'.repeat(600)), set('gone', 'x'.repeat(600), 0, 1), { ...stats, sleepMs: EXPIRED },
    set('new', 'x'.repeat(600)), stats, 'get gone\r\n', stats),
  seq('flat LRU: nothing in the background frees an expired item',
    'stats reset\r\n', set('idle', 'x'.repeat(1200), 0, 1), { ...stats, sleepMs: EXPIRED }, stats),
  // the crawler only runs when asked (lru_crawler enable, crawl), and counts its own reclaims
  seq('flat LRU: lru_crawler crawl counts crawler_reclaimed',
    'stats reset\r\n', set('imm', 'x'.repeat(2400)), set('c1', 'x'.repeat(2400), 0, 1), set('c2', 'x'.repeat(2400), 0, 1),
    { ...stats, sleepMs: EXPIRED }, 'lru_crawler enable\r\n', { send: 'lru_crawler crawl all\r\n', sleepMs: 0 },
    { ...stats, sleepMs: 1500 }, 'lru_crawler disable\r\n'),
];

// metadump: refused behind unwritten replies; classes interleaved item by item, each oldest first.
// memcached answers a command sent behind a metadump only when more input comes: no sentinel.
const dump = (send: string) => ({ send, wait: 'quiet' as const, quietMs: 1000, summary: keyAndClass });
const keyAndClass = (reply: string): string =>
  reply.split('\n').map((l) => l.replace(/^key=(\S+) .* cls=(\d+) .*$/, '$1 $2')).join('\n');
const dumps: Sequence[] = [
  seq('lru_crawler metadump behind a pipelined command',
    'lru_crawler enable\r\n', 'mg foo v\r\nlru_crawler metadump all\r\n', 'mg foo v\r\nlru_crawler metadump 1\r\n'),
  seq('lru_crawler metadump all interleaves classes',
    set('s1', 'a'), set('s2', 'b'), set('s3', 'c'), set('m1', 'x'.repeat(100)), set('m2', 'x'.repeat(100)),
    set('l1', 'x'.repeat(1000)), dump('lru_crawler metadump all\r\n'),
    dump('lru_crawler metadump 1,2,3,4,5,6,7,8,9,10,11,12\r\n'), 'lru_crawler disable\r\n'),
];

// flat LRU: a read just after the store does not save an item from eviction (t/lru.t, with -m 8)
const BIG = 'x'.repeat(1024 * 1024 - 250);
const flatEviction: Sequence[] = [
  seq('flat LRU: a fetched item is evicted in store order',
    set('big', BIG), 'get big\r\n', ...Array.from({ length: 12 }, (_, i) => set(`item_${i}`, BIG)),
    { send: 'stats\r\n', statsExact: ['evictions', 'curr_items'] }, 'mg big v\r\nmg item_0 s\r\nmg item_1 s\r\nmg item_11 s\r\n'),
  seq('flat LRU: an item overwritten in place goes back to the head',
    set('o1', 'x'.repeat(100)), set('o2', 'x'.repeat(100)), set('o1', 'y'.repeat(100)),
    'lru_crawler enable\r\n', { send: 'lru_crawler metadump 4\r\n', wait: 'quiet', quietMs: 1000, summary: (r) => r.replace(/ exp=.*/g, '') },
    'lru_crawler disable\r\n'),
];

// default (segmented LRU with its maintainer): an expired item at a tail is the maintainer's
const modern: Sequence[] = [
  seq('maintainer: an expired tail item is reclaimed in the background (t/issue_163.t, t/lru-maintainer.t)',
    'stats reset\r\n', set('m', 'x'.repeat(4000), 0, 1), { ...stats, sleepMs: EXPIRED }, 'get m\r\n'),
];

// The segmented LRU (memcached's default): which list an item is in and what moved it, compared
// by value where memcached's maintainer (which sleeps up to 1 s when idle) and remcached's (once a
// second) have both had their turn: MAINTAINED waits for that.
const MAINTAINED = 2500;
const items = (...names: string[]) => ({ send: 'stats items\r\n', statsExact: names });
const V = 'B'.repeat(66560); // class 31, as memcached's t/lru-maintainer.t
const segmented: Sequence[] = [
  seq('segmented: stats items and stats names with the maintainer', set('n1', 'x'), 'stats items\r\n', 'stats\r\n'),
  seq('segmented: HOT to COLD, read twice in COLD to WARM, WARM over its share back to COLD',
    'stats reset\r\n', set('k', 'v'.repeat(50)), { ...items('items:2:number_hot', 'items:2:number_cold', 'items:2:moves_to_cold'), sleepMs: MAINTAINED },
    'get k\r\n', 'get k\r\n',
    { ...items('items:2:number_hot', 'items:2:number_warm', 'items:2:number_cold', 'items:2:moves_to_cold',
      'items:2:moves_to_warm', 'items:2:hits_to_hot', 'items:2:hits_to_cold', 'items:2:hits_to_warm'), sleepMs: MAINTAINED },
    'get k\r\n', items('items:2:hits_to_cold', 'items:2:hits_to_warm', 'items:2:hits_to_temp')),
  // t/lru-maintainer.t's canary: read twice once it is in COLD, it survives a flood that evicts
  seq('segmented: a key read twice survives a flood of sets (t/lru-maintainer.t canary)',
    set('canary', V), ...Array.from({ length: 30 }, (_, i) => set(`key${i}`, V)),
    { send: 'get canary\r\n', sleepMs: MAINTAINED }, 'get canary\r\n',
    { ...items('items:31:number_warm', 'items:31:moves_to_warm'), sleepMs: MAINTAINED },
    ...Array.from({ length: 70 }, (_, i) => set(`key${30 + i}`, V)),
    { send: 'stats\r\n', summary: (r) => (/STAT evictions 0\r/.test(r) ? 'no evictions' : 'evictions') },
    'get canary\r\n', 'get key0\r\n'),
  // (right after a segmented store memcached's maintainer may or may not have moved it yet)
  seq('segmented: lru mode flat puts new items in COLD',
    'lru mode flat\r\n', set('f1', 'x'.repeat(200)), items('items:6:number_hot', 'items:6:number_cold'),
    'lru mode segmented\r\n', set('f2', 'x'.repeat(200)),
    { ...items('items:6:number_hot', 'items:6:number_cold', 'items:6:moves_to_cold'), sleepMs: MAINTAINED }),
  seq('segmented: lru tune and temp_ttl in stats settings; a short TTL goes to TEMP',
    'lru tune 10 25 0.1 2\r\n', 'lru temp_ttl 30\r\n',
    { send: 'stats settings\r\n', statsExact: ['hot_lru_pct', 'warm_lru_pct', 'hot_max_factor', 'warm_max_factor', 'temp_lru', 'temporary_ttl'] },
    set('t1', 'x'.repeat(400), 0, 20), set('t2', 'x'.repeat(400), 0, 100),
    items('items:8:number_temp'), 'get t1\r\n', items('items:8:hits_to_temp', 'items:8:number_temp'),
    'lru temp_ttl -1\r\n', 'stats items\r\n', 'lru tune 20 40 0.2 2\r\n'),
  // hostile tunes: a hot share that wraps memcached's uint32 sum check, huge and NaN factors, a
  // TTL past int range; the maintainer keeps running on them
  seq('segmented: hostile lru tune and temp_ttl values',
    'lru tune 4294967295 1 1e300 nan\r\n',
    { send: 'stats settings\r\n', statsExact: ['hot_lru_pct', 'warm_lru_pct', 'hot_max_factor', 'warm_max_factor'] },
    'lru tune 10 10 inf 2\r\n', { send: 'stats settings\r\n', statsExact: ['hot_max_factor'] },
    'lru tune 10 10 1e309 2\r\n', 'lru temp_ttl 99999999999999999999\r\n',
    'lru temp_ttl 9223372036854775807\r\n', set('h1', 'x'.repeat(3000), 0, 100),
    { send: 'get h1\r\n', sleepMs: MAINTAINED }, 'lru tune 20 40 0.2 2\r\n', 'lru temp_ttl -1\r\n'),
];

// TEMP LRU (t/lru-maintainer.t): a short-TTL item is never evicted, even unfetched
const temp: Sequence[] = [
  seq('TEMP LRU: settings, a short TTL skips HOT, survives a flood (t/lru-maintainer.t)',
    { send: 'stats settings\r\n', statsExact: ['temp_lru', 'temporary_ttl'] },
    set('canary', V, 0, 30), items('items:31:number_hot', 'items:31:number_temp'),
    ...Array.from({ length: 100 }, (_, i) => set(`key${i}`, V, 0, 3600)),
    { send: 'stats items\r\n', statsExact: ['items:31:number_temp'],
      summary: (r) => (/items:31:evicted 0\r/.test(r) ? 'no evictions' : 'evictions') +
        (/items:31:number_hot 0\r/.test(r) ? ', HOT empty' : ', HOT used') },
    'get canary\r\n'),
];

export const lruGroups: Group[] = [
  { name: 'LRU: segmented (default)', args: ['-m', '6'], flushBefore: false, sequences: segmented },
  { name: 'LRU: TEMP LRU -o temporary_ttl=61', args: ['-m', '2', '-o', 'temporary_ttl=61'], flushBefore: false, sequences: temp },
  { name: 'LRU: -o no_modern (flat, no maintainer or crawler)', args: ['-o', 'no_modern'], flushBefore: false, sequences: flat },
  { name: 'LRU: metadump', args: ['-o', 'no_modern'], flushBefore: false, sequences: dumps },
  { name: 'LRU: -o no_modern -m 8 evictions', args: ['-o', 'no_modern', '-m', '8'], flushBefore: false, sequences: flatEviction },
  { name: 'LRU: default maintainer', flushBefore: false, sequences: modern },
];
