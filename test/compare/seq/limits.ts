// Groups that need their own server flags (given to both servers): -I sizes, -M/-m, -c, -F, -A,
// -C, -X, -W, -o no_modern, -Y.
import { unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seq, set, type Group, type Sequence, type Step } from '../harness.ts';

const val = (n: number, c = 'v') => c.repeat(n);
const K250 = 'K'.repeat(250);

/** set at the limit-1, limit, limit+1 (limit = largest value memcached stores for this key/flags) */
function around(name: string, limit: number, key = 'bv', flags = 0): Sequence {
  const steps: Step[] = [];
  for (const n of [limit - 1, limit, limit + 1]) {
    steps.push({ send: set(key, val(n, String(n % 10)), flags) }, { send: `get ${key}\r\n` });
  }
  return { name, steps };
}

const ITEM_OVERHEAD = 48 + 8 + 2; // header + cas + data CRLF; the key adds len+1, flags≠0 add 4

export function maxValue(itemMax: number, keyLen: number, flags: boolean): number {
  return itemMax - ITEM_OVERHEAD - (keyLen + 1) - (flags ? 4 : 0);
}

function sizeGroup(label: string, arg: string, itemMax: number): Group {
  return {
    name: `item size -I ${arg}`,
    args: ['-I', arg],
    sequences: [
      around(`${label}: 2-byte key, flags 0, around the -I limit`, maxValue(itemMax, 2, false)),
      around(`${label}: 250-byte key, flags 1, around the -I limit`, maxValue(itemMax, 250, true), K250, 1),
      seq(`${label}: value of exactly -I bytes`, set('bv', val(itemMax)), 'get bv\r\n'),
      seq(`${label}: too large replaces nothing and deletes the old value`, set('bv', 'old'), set('bv', val(itemMax + 10)), 'get bv\r\n'),
      seq(`${label}: too large with noreply`, set('bv', val(itemMax + 10), 0, 0, 'set', ' noreply'), 'get bv\r\n'),
      seq(`${label}: append past the limit`, set('bv', val(maxValue(itemMax, 2, false) - 5)), set('bv', val(10), 0, 0, 'append'), 'get bv\r\n'),
      seq(`${label}: prepend up to the limit`, set('bv', val(maxValue(itemMax, 2, false) - 5)), set('bv', val(5), 0, 0, 'prepend'), 'get bv\r\n'),
      seq(`${label}: incr on a value near the limit`, set('bv', '1'.padStart(maxValue(itemMax, 2, false), '0')), 'incr bv 1\r\n'),
      seq(`${label}: too large split in 64 KiB writes`, { send: set('bv', val(itemMax + 100)) + 'get bv\r\n', split: Array(Math.ceil((itemMax + 200) / 65536)).fill(65536), gapMs: 1 }),
    ],
  };
}

export const bigValues: Sequence[] = [
  seq('values around the 512 KiB chunk size', set('c1', val(524288 - 100)), set('c2', val(524288)), set('c3', val(524288 + 100)), 'get c1 c2 c3\r\n'),
  seq('many 100 KB values, read back in a multiget', ...Array.from({ length: 10 }, (_, i) => set(`m${i}`, val(100000, String(i)))), `get ${Array.from({ length: 10 }, (_, i) => `m${i}`).join(' ')}\r\n`),
  seq('1 MiB value in one write, byte-split read back', set('one', val(1048515 - 1)), 'get one one\r\n'),
];

/** `stats slabs` figures that follow from the allocations alone (no timing in them) */
const SLAB_FIGURES = ['chunk_size', 'chunks_per_page', 'total_pages', 'total_chunks', 'used_chunks', 'free_chunks',
  'free_chunks_end', 'cmd_set', 'get_hits'].map((n) => `<fd>:${n}`).concat(['active_slabs', 'total_malloced']);
const slabs = (): Step => ({ send: 'stats slabs\r\n', statsExact: SLAB_FIGURES });
const pattern = (n: number, seed: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(67 + (i * 7 + seed) % 24)).join('');

/** Items above slab_chunk_max, chunked by both servers: a header from a small class, pieces of
 *  slab_chunk_max bytes and a tail piece (the same classes, so `stats slabs` agrees) */
export const chunkedGroups: Group[] = [{
  name: 'chunked items -o slab_chunk_max=4096',
  args: ['-o', 'slab_chunk_max=4096'],
  sequences: [seq('11000-byte values: stored, read, appended, prepended, freed',
    ...[1, 2, 3, 4, 5].map((i) => set(`c${i}`, pattern(11000, i), 5)), 'get c1 c2 c3 c4 c5\r\n', slabs(),
    { send: 'stats items\r\n', statsExact: ['items:17:number', 'items:2:number'] },
    set('c1', pattern(3000, 9), 0, 0, 'append'), set('c2', pattern(100, 8), 0, 0, 'prepend'),
    set('s', pattern(100, 7)), set('s', pattern(5000, 6), 0, 0, 'append'), 'gets c1 c2 s\r\n', slabs(),
    'incr c3 1\r\n', 'decr s 1\r\n', 'delete c4\r\n', set('c5', 'x'), slabs(),
    set('c3', pattern(4096 - 48 - 8 - 2 - 3, 1)), set('c4', pattern(4096 - 48 - 8 - 2 - 3 + 1, 1)), 'get c3 c4\r\n', slabs())],
}, {
  name: 'chunked items at the default slab_chunk_max (512 KiB)',
  sequences: [seq('600 KB and 1000000-byte values',
    set('b1', pattern(600000, 1)), set('b2', pattern(1000000, 2), 3), 'get b1 b2\r\n', slabs(),
    set('b1', pattern(500000, 3), 0, 0, 'append'), 'get b1\r\n', 'delete b2\r\n', slabs())],
}];

export const sizeGroups: Group[] = [
  sizeGroup('-I 1m', '1m', 1048576),
  sizeGroup('-I 2m', '2m', 2 * 1048576),
  sizeGroup('-I 1536k', '1536k', 1536 * 1024),
];

const oom: Group = {
  name: 'out of memory -M -m 2',
  args: ['-M', '-m', '2'],
  sequences: [
    seq('-M: 50 x 100 KB into 2 MB', Array.from({ length: 50 }, (_, i) => set(`o${i}`, val(100000))).join(''), 'get o0 o49\r\n', set('small', 'x'), 'get small\r\n'),
    seq('-M: after flush_all there is room again', 'flush_all\r\n', set('o1', val(100000)), 'get o1\r\n'),
  ],
};

const evict: Group = {
  name: 'eviction -m 2',
  args: ['-m', '2'],
  sequences: [
    seq('eviction: 50 x 100 KB into 2 MB, old keys gone', Array.from({ length: 50 }, (_, i) => set(`e${i}`, val(100000))).join(''),
      `get ${Array.from({ length: 50 }, (_, i) => `e${i}`).join(' ')}\r\n`),
  ],
};

// -c 20: memcached reserves fds for itself, so only a few client connections fit; the next ones get
// the error and are closed; after a close there is room again.
const connSteps: Step[] = [];
for (let i = 1; i <= 10; i++) connSteps.push({ conn: `c${i}`, quietMs: 150, ...(i === 1 ? { sleepMs: 200 } : {}) });
connSteps[9]!.expect = 'ERROR Too many open connections\r\n';
connSteps[9]!.expectClosed = true;
for (let i = 1; i <= 3; i++) connSteps.push({ conn: `c${i}`, send: 'version\r\n' });
connSteps.push({ conn: 'c1', send: 'quit\r\n', closeAfter: true });
connSteps.push({ conn: 'c11', send: 'get x\r\n', sleepMs: 200 });
const connLimit: Group = {
  name: 'connection limit -c 20',
  // -t 1 always: the steps count memcached's reserved descriptors for one thread (8 + 4 per
  // thread), and memcached -t 4 does not even start with -c 20
  args: ['-c', '20', '-t', '1'],
  flushBefore: false,
  sequences: [{ name: '-c 20: connections up to the limit, then ERROR Too many open connections and close; room after a close', steps: connSteps }],
};

const noFlush: Group = {
  name: 'flush_all disabled -F',
  args: ['-F'],
  flushBefore: false,
  sequences: [
    seq('-F: flush_all refused', set('f1', 'x'), 'flush_all\r\n', 'flush_all 0\r\n', 'flush_all abc\r\n', 'flush_all noreply\r\n', 'get f1\r\n'),
    seq('-F: stats settings', 'stats settings\r\n'),
  ],
};

const shutdownOn: Group = {
  name: 'shutdown enabled -A',
  args: ['-A'],
  sequences: [
    seq('-A: shutdown with a bad argument', 'shutdown now\r\n', 'shutdown graceful x\r\n'),
    // memcached leaves its event loop at the next clock tick (up to 1 s): no connection after the
    // shutdown is compared, only that it closes and that the process exits (checked by `kills`).
    { name: '-A: shutdown closes and the server exits', kills: true, steps: [
      { conn: 'other', send: set('a', '1') },
      { send: 'shutdown\r\n', expectClosed: true },
    ] },
    { name: '-A: shutdown graceful', kills: true, steps: [
      { conn: 'other', send: 'version\r\n' },
      { send: 'shutdown graceful\r\n', expectClosed: true },
    ] },
  ],
};

const noCas: Group & { casExact: boolean } = {
  name: 'cas disabled -C',
  args: ['-C'],
  flushBefore: false,
  casExact: true,
  sequences: [
    seq('-C: gets returns cas 0', set('c1', 'x'), 'gets c1\r\n', set('c1', 'y', 0, 0, 'append'), 'gets c1\r\n'),
    seq('-C: cas command', set('c2', 'x'), 'cas c2 0 0 1 0\r\ny\r\n', 'cas c2 0 0 1 1\r\nz\r\n', 'cas nope2 0 0 1 0\r\nz\r\n', 'gets c2\r\n'),
    seq('-C: incr and touch keep cas 0', set('c3', '5'), 'incr c3 1\r\n', 'touch c3 100\r\n', 'gats 100 c3\r\n'),
    seq('-C: large value and multiget', set('c4', val(5000)), set('c5', ''), 'gets c4 c5 c6\r\n'),
    seq('-C: stats settings', 'stats settings\r\n'),
  ],
};

const noDump: Group = {
  name: 'dumping disabled -X',
  args: ['-X'],
  sequences: [
    seq('-X: cachedump and metadump refused', set('x', '1'), 'stats cachedump 1 1\r\n', 'lru_crawler metadump all\r\n', 'lru_crawler mgdump all\r\n', 'stats detail dump\r\n'),
  ],
};

const noWatch: Group = {
  name: 'watch disabled -W',
  args: ['-W'],
  sequences: [seq('-W: watch refused', 'watch\r\n', 'watch fetchers\r\n')],
};

const noModern: Group = {
  name: 'slab reassign off -o no_modern',
  args: ['-o', 'no_modern'],
  sequences: [seq('no_modern: slabs reassign disabled', 'slabs reassign 1 2\r\n', 'slabs automove 1\r\n', 'slabs automove 0\r\n', 'stats settings\r\n')],
};

const automoveTuned: Group = {
  name: 'automover tuned -o slab_automove_window=5,slab_automove_ratio=0.5',
  args: ['-o', 'slab_automove_window=5,slab_automove_ratio=0.5'],
  sequences: [seq('automover window and ratio in stats settings', 'stats settings\r\n', 'slabs automove ratio 0.25\r\n', 'slabs automove 0\r\n', 'stats settings\r\n')],
};

function authFile(): string {
  const f = join(tmpdir(), `remc-compare-auth-${process.pid}`);
  writeFileSync(f, 'user:pass\nother:secret\n', { mode: 0o644 });
  process.on('exit', () => { try { unlinkSync(f); } catch { /* already gone */ } });
  return f;
}

// ASCII auth (-Y); the sentinel (`version`) is refused before auth, so replies are read until quiet.
// Not here: a huge pre-auth token (`set x 0 0 2147483646`), which crashes
// memcached 1.6.18 (fixed in 1.6.42), so there is no reference answer to compare.
const asciiAuth: Group = {
  name: 'ascii auth -Y',
  args: ['-Y', authFile()],
  flushBefore: false,
  sequences: [
    seq('-Y: every command before auth is refused', 'get a\r\n', 'version\r\n', '\r\n', 'stats\r\n', 'bogus\r\n'),
    seq('-Y: good credentials, then commands work', 'set x 0 0 9\r\nuser pass\r\n', set('a', '1'), 'get a\r\n'),
    seq('-Y: second user', 'set x 0 0 12\r\nother secret\r\n', 'get a\r\n'),
    seq('-Y: wrong password', 'set x 0 0 9\r\nuser pasx\r\n', 'get a\r\n'),
    seq('-Y: no space in the token', 'set x 0 0 8\r\nuserpass\r\n', 'get a\r\n'),
    seq('-Y: bad data terminator', 'set x 0 0 9\r\nuser passXX\r\n', 'get a\r\n'),
    seq('-Y: auth with other storage verbs', 'add x 0 0 9\r\nuser pass\r\n', 'get a\r\n'),
    seq('-Y: bad command line before auth', 'set x 0 0\r\n', 'set x 0 0 abc\r\n'),
  ].map((s) => ({ ...s, wait: 'reply' as const, quietMs: 200 })), // every step is answered (or the connection closed)
};

// -B: protocol forced. A binary VERSION request (magic 0x80, opcode 0x0b, no body).
const BIN_VERSION = Buffer.concat([Buffer.from([0x80, 0x0b]), Buffer.alloc(22)]);
const asciiOnly: Group = {
  name: 'protocol forced -B ascii',
  args: ['-B', 'ascii'],
  sequences: [
    seq('-B ascii: text works', 'version\r\n', set('b', '1'), 'get b\r\n'),
    seq('-B ascii: a binary header is text (no LF yet)', { send: BIN_VERSION, wait: 'quiet' }, { send: 'version\r\n', versions: 0 }),
  ],
};
// The sentinel is text, which a binary-only server reads as a packet header: read until quiet.
const binaryOnly: Group = {
  name: 'protocol forced -B binary',
  args: ['-B', 'binary'],
  sequences: [
    seq('-B binary: a short text command waits for a full header', 'version\r\n'),
    seq('-B binary: 24 bytes of text close the connection', { send: 'get aaaaaaaaaaaaaaaaaaaaaa\r\n', expectClosed: true }),
    seq('-B binary: binary version answers', BIN_VERSION, Buffer.concat([BIN_VERSION, BIN_VERSION])),
  ].map((s) => ({ ...s, wait: 'quiet' as const, quietMs: 200 })),
};

export const limitGroups: Array<Group & { casExact?: boolean }> = [
  ...sizeGroups, oom, evict, connLimit, noFlush, shutdownOn, noCas, noDump, noWatch, noModern, automoveTuned, asciiAuth, asciiOnly, binaryOnly,
];
