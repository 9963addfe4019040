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

export const lruGroups: Group[] = [
  { name: 'LRU: -o no_modern (flat, no maintainer or crawler)', args: ['-o', 'no_modern'], flushBefore: false, sequences: flat },
  { name: 'LRU: metadump', args: ['-o', 'no_modern'], flushBefore: false, sequences: dumps },
  { name: 'LRU: -o no_modern -m 8 evictions', args: ['-o', 'no_modern', '-m', '8'], flushBefore: false, sequences: flatEviction },
  { name: 'LRU: default maintainer', flushBefore: false, sequences: modern },
];
