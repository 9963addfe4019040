// Errors of §1.7 that the text protocol can produce with default flags, admin commands (§1.6),
// and the quirks table §1.11 (with the reference's literal replies as expectations).
import { seq, one, set, type Sequence } from '../harness.ts';

export const errors: Sequence[] = [
  seq('unknown command', 'bogus\r\n'),
  seq('unknown command with arguments', 'bogus a b c\r\n'),
  seq('empty line', '\r\n'),
  seq('bare LF empty line', '\n'),
  seq('line of spaces', '     \r\n'),
  seq('line with only a CR', '\r\r\n'),
  seq('wrong token count for set', 'set k 0 0\r\n'),
  seq('stats unknown subcommand', 'stats bogus\r\n'),
  seq('shutdown not enabled', 'shutdown\r\n'),
  seq('shutdown graceful not enabled', 'shutdown graceful\r\n'),
  seq('shutdown with bad argument', 'shutdown now\r\n'),
  seq('delete usage error', set('d', '1'), 'delete d 1\r\n'),
  seq('bad data chunk', 'set k 0 0 1\r\nab\r\n'),
  seq('invalid exptime: touch, gat, gats, flush_all', 'touch k x\r\n', 'gat x k\r\n', 'gats x k\r\n', 'flush_all x\r\n'),
  seq('invalid numeric delta', set('n', '1'), 'incr n x\r\n', 'decr n 18446744073709551616\r\n'),
  seq('non-numeric value', set('n', 'x'), 'incr n 1\r\n'),
  seq('object too large', `set big 0 0 1048577\r\n${'b'.repeat(1048577)}\r\n`, 'get big\r\n'),
  seq('failed too-large set deletes the old item', set('big', 'old'), `set big 0 0 2000000\r\n${'b'.repeat(2000000)}\r\n`, 'get big\r\n'),
  seq('verbosity variants', 'verbosity\r\n', 'verbosity 1\r\n', 'verbosity 0\r\n', 'verbosity foo bar my\r\n', 'verbosity 1 2\r\n', 'verbosity -1\r\n', 'verbosity 99999999999\r\n', 'verbosity invalid\r\n', 'verbosity 0\r\n'),
  seq('cache_memlimit variants', 'cache_memlimit 100\r\n', 'cache_memlimit 0\r\n', 'cache_memlimit 7\r\n', 'cache_memlimit 8\r\n', 'cache_memlimit -1\r\n', 'cache_memlimit abc\r\n', 'cache_memlimit\r\n', 'cache_memlimit 1 2\r\n', 'cache_memlimit 64\r\n'),
  seq('version', 'version\r\n'),
  seq('case sensitivity of verbs', 'Get a\r\n', 'VERSION\r\n', 'Stats\r\n', 'DELETE a\r\n', 'INCR a 1\r\n'),
  seq('verb prefixes and suffixes', 'ge a\r\n', 'gett a\r\n', 'sets a 0 0 1\r\n', 'version2\r\n', 'stat\r\n', 'statss\r\n'),
  seq('meta-looking but not meta', 'm\r\n', 'mx a\r\n'),
];

export const admin: Sequence[] = [
  seq('stats names', 'stats\r\n'),
  seq('stats settings names', 'stats settings\r\n'),
  seq('stats items names', set('i1', 'x'), set('i2', 'y'.repeat(1000)), 'stats items\r\n'),
  seq('stats slabs names', set('s1', 'x'), set('s2', 'y'.repeat(5000)), 'stats slabs\r\n'),
  seq('stats conns names', { conn: 'other', send: 'version\r\n' }, 'stats conns\r\n'),
  // idle after a command, connected but silent, inside a value, and the one asking
  seq('stats conns states', { conn: 'idle', send: 'version\r\n' }, { conn: 'silent' }, { conn: 'value', send: 'set k 0 0 10\r\nab' },
    // each connection's block, in any order: the order is fd order, and which fd a new connection
    // gets depends on when the server finished closing the previous sequence's connections
    { send: 'stats conns\r\n', statsExact: ['<fd>:state'], summary: (r) => r.split(/(?=STAT <fd>:addr)/).sort().join('') }),
  seq('stats reset', 'stats reset\r\n', 'stats reset x\r\n'),
  seq('stats sizes', 'stats sizes\r\n'),
  seq('stats detail', 'stats detail on\r\n', 'stats detail dump\r\n', 'stats detail off\r\n', 'stats detail\r\n', 'stats detail bogus\r\n'),
  seq('stats cachedump argument errors', 'stats cachedump\r\n', 'stats cachedump x y\r\n', 'stats cachedump 9999 0\r\n', 'stats cachedump 1\r\n'),
  seq('stats with extra spaces', 'stats  \r\n', ' stats settings\r\n'),
  seq('stats settings extra args', 'stats settings x\r\n'),
  seq('lru commands (CVE-2019-11596)', 'lru mode\r\n', 'lru temp_ttl\r\n', 'lru\r\n', 'lru bogus\r\n', 'lru mode bogus\r\n', 'lru mode flat\r\n', 'lru mode segmented\r\n', 'lru temp_ttl 10\r\n', 'lru temp_ttl -1\r\n', 'lru tune 10 25 0.1 2\r\n', 'lru tune x\r\n'),
  seq('slabs commands', 'slabs automove x\r\n', 'slabs automove 3\r\n', 'slabs automove 0\r\n', 'slabs automove 1\r\n', 'slabs\r\n', 'slabs bogus\r\n', 'slabs reassign 1 2\r\n', 'slabs reassign x y\r\n', 'slabs reassign 1 1\r\n', 'slabs reassign 200 1\r\n'),
  seq('lru_crawler commands', 'lru_crawler\r\n', 'lru_crawler bogus\r\n', 'lru_crawler sleep x\r\n', 'lru_crawler tocrawl x\r\n', 'lru_crawler crawl x\r\n'),
  one('watch turns the connection into a log stream', 'watch\r\n', { wait: 'quiet' }),
  seq('watch with an unknown stream', 'watch bogus\r\n'),
  seq('misbehave / debugtime are debug-build only', 'misbehave\r\n', 'debugtime 10\r\n', 'debugitem a\r\n'),
  seq('extstore / refresh_certs without support', 'extstore\r\n', 'refresh_certs\r\n'),
];

// With the LRU maintainer and crawler off (same flags on both), nothing moves or reclaims items in
// the background, so per-class stats and dumps are deterministic; no flush between sequences.
const largestClass = (reply: string) => Math.max(...[...reply.matchAll(/items:(\d+):number /g)].map((m) => Number(m[1])));
export const statsQuiet: Sequence[] = [
  seq('quiet LRU: stats items names', set('q1', 'x'), set('q2', 'y'.repeat(1000), 5, 100), 'stats items\r\n'),
  seq('quiet LRU: stats items / slabs with extra args', 'stats items x\r\n', 'stats slabs x\r\n'),
  seq('quiet LRU: stats slabs names', set('q3', 'z'.repeat(5000)), 'stats slabs\r\n'),
  seq('quiet LRU: stats cachedump of one class', set('cd1', 'x'.repeat(20000)), set('cd2', 'y'.repeat(20001), 0, 100), 'stats items\r\n',
    { send: (x) => `stats cachedump ${largestClass(x.last())} 0\r\n` }, { send: (x) => `stats cachedump ${largestClass(x.last()) - 0} 1\r\n` }),
  seq('quiet LRU: stats cachedump of an empty class', 'stats cachedump 2 0\r\n'),
  seq('quiet LRU: stats names', 'stats\r\n'),
  seq('quiet LRU: stats settings names', 'stats settings\r\n'),
];

// Counters that exporters read, compared by value: a fresh pair, a known history, no flush between.
const COUNTERS = ['curr_items', 'total_items', 'cmd_get', 'cmd_set', 'cmd_flush', 'cmd_touch', 'get_hits', 'get_misses',
  'get_expired', 'get_flushed', 'delete_misses', 'delete_hits', 'incr_misses', 'incr_hits', 'decr_misses', 'decr_hits',
  'cas_misses', 'cas_hits', 'cas_badval', 'touch_hits', 'touch_misses', 'store_too_large', 'store_no_memory',
  'auth_cmds', 'auth_errors', 'curr_connections', 'rejected_connections', 'evictions', 'reclaimed', 'expired_unfetched',
  'evicted_unfetched', 'limit_maxbytes', 'threads', 'pointer_size', 'max_connections'];
export const counters: Sequence[] = [
  seq('counters after a known history',
    set('c1', '1'), set('c2', 'two'), set('c2', 'x', 0, 0, 'add'), set('c3', 'x', 0, 0, 'replace'), set('c1', '!', 0, 0, 'append'),
    'get c1 c2 nope1 nope2\r\n', 'gets c1\r\n', { send: (x) => `cas c1 0 0 1 ${x.cas('c1')}\r\n5\r\n` }, 'cas c1 0 0 1 1\r\n6\r\n',
    'cas nope 0 0 1 1\r\n7\r\n', 'incr c1 2\r\n', 'incr nope 1\r\n', 'decr c1 1\r\n', 'decr nope 1\r\n',
    'touch c2 100\r\n', 'touch nope 100\r\n', 'gat 100 c2 nope\r\n', 'delete c2\r\n', 'delete c2\r\n',
    `set big 0 0 2000000\r\n${'b'.repeat(2000000)}\r\n`, set('after', 'y'),
    { send: 'stats\r\n', statsExact: COUNTERS }),
  seq('counters after stats reset', 'stats reset\r\n', 'get after\r\n', { send: 'stats\r\n', statsExact: COUNTERS }),
  // Flushed and expired items are removed lazily or by memcached's background crawler, whichever
  // comes first, so only the flush count itself is compared here.
  seq('cmd_flush counts flush_all', 'flush_all\r\n', 'flush_all 0\r\n', 'flush_all noreply\r\n', { send: 'stats\r\n', statsExact: ['cmd_flush'] }),
];

// §1.11: each row, with the reference's reply as a literal expectation where it gives one.
export const quirks: Sequence[] = [
  seq('§1.11 ERROR rows',
    { send: 'bogus\r\n', expect: 'ERROR\r\n' }, { send: '\r\n', expect: 'ERROR\r\n' }, { send: 'GET foo\r\n', expect: 'ERROR\r\n' },
    { send: 'get\r\n', expect: 'ERROR\r\n' }, { send: 'set k 0 0\r\n', expect: 'ERROR\r\n' }, { send: 'stats bogus\r\n', expect: 'ERROR\r\n' },
    { send: 'stats noreply\r\n', expect: 'ERROR\r\n' }, { send: 'verbosity\r\n', expect: 'ERROR\r\n' }, { send: 'cache_memlimit abc\r\n', expect: 'ERROR\r\n' }),
  seq('§1.11 version bare LF / with args', { send: 'version\n', expect: 'VERSION <version>\r\n' }, { send: 'version foo bar\r\n', expect: 'VERSION <version>\r\n' }),
  seq('§1.11 get 251-byte key', { send: `get ${'a'.repeat(251)}\r\n`, expect: 'CLIENT_ERROR bad command line format\r\n' }),
  seq('§1.11 set 251-byte key', { send: `set ${'a'.repeat(251)} 0 0 1\r\nx\r\n`, expect: 'CLIENT_ERROR bad command line format\r\nERROR\r\n' }),
  seq('§1.11 bad data chunk', { send: 'set k 0 0 3\r\nabcd\r\n', expect: 'CLIENT_ERROR bad data chunk\r\nERROR\r\n' }),
  seq('§1.11 noreply suppresses bad data chunk', { send: 'set n 0 0 1 noreply\r\nxy\r\n', expect: 'ERROR\r\n' }),
  seq('§1.11 negative bytes, no swallow', { send: 'set k 0 0 -1\r\n', expect: 'CLIENT_ERROR bad command line format\r\n' }, { send: 'get k\r\n', expect: 'END\r\n' }),
  seq('§1.11 2 MiB value too large, swallowed', { send: `set big 0 0 2097152\r\n${'x'.repeat(2097152)}\r\nget big\r\n`, expect: 'SERVER_ERROR object too large for cache\r\nEND\r\n' }),
  seq('§1.11 control char key', { send: 'set a\x01b 0 0 1\r\nx\r\n', expect: 'STORED\r\n' }),
  seq('§1.11 delete d 0 / d 5', { send: 'delete d 0\r\n', expect: 'NOT_FOUND\r\n' },
    { send: 'delete d 5\r\n', expect: 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n' }),
  seq('§1.11 flush_all rows', { send: 'flush_all noreply\r\n', expect: '' }, { send: 'flush_all abc\r\n', expect: 'CLIENT_ERROR invalid exptime argument\r\n' },
    { send: 'flush_all -1\r\n', expect: 'OK\r\n' }),
  seq('§1.11 verbosity noreply rows', { send: 'verbosity 0 noreply\r\n', expect: '' }, { send: 'verbosity noreply\r\n', expect: '' }),
  seq('§1.11 shutdown without -A', { send: 'shutdown\r\n', expect: 'ERROR: shutdown not enabled\r\n' }),
  seq('§1.11 HTTP request line closes', { send: 'GET / HTTP/1.1\r\n', expect: '', expectClosed: true }),
  seq('§1.11 quit then version', { send: 'quit\r\nversion\r\n', expect: '', expectClosed: true, versions: 1 }),
  // (the incr/decr padding row is in arith.ts arithInPlace: it needs memcached's LRU background off)
];
