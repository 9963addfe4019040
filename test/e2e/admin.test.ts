// The admin commands against remcached alone (protocol/admin.ts): what they change (per-prefix
// stats, cachedump listings, settings and the stats they list, the clock, the memory limit), and
// hostile argument lines: one reply line per command, the server alive, stored keys intact.
// memcached's exact replies for the same commands are compared in test/compare (admin, limits).
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, startRemcached, type Server } from '../helpers/server.ts';

let server: Server;
let c: Conn;

const END = 'END\r\n';
async function ask(cmd: string, until = '\r\n'): Promise<string> {
  c.send(cmd);
  return (await c.untilEndsWith(until)).toString('latin1');
}
const statsOf = (reply: string) => new Map([...reply.matchAll(/^STAT (\S+) (.*)\r$/gm)].map((m) => [m[1]!, m[2]!]));

test.before(async () => {
  server = await startRemcached(['-U', '0', '-t', '1', '--enable-debugtime', '-D', '/']);
  c = await Conn.open(server.port);
});
test.after(async () => {
  c?.close();
  await server?.stop();
});

test('stats detail: counts per prefix (-D /) only while on; dump in hash order; reset clears', async () => {
  assert.is(await ask('stats detail dump\r\n', END), END);
  assert.is(await ask('stats detail on\r\n'), 'OK\r\n');
  assert.is(statsOf(await ask('stats settings\r\n', END)).get('detail_enabled'), 'yes');
  await ask('set u/1 0 0 1\r\nx\r\n');
  await ask('get u/1 u/2 nodelim\r\n', END);
  await ask('delete u/2\r\n');
  await ask('set :no 0 0 1\r\nx\r\n'); // ':' is not the delimiter here
  assert.is(await ask('stats detail dump\r\n', END), 'PREFIX u get 2 hit 1 set 1 del 1\r\nEND\r\n');
  assert.is(await ask('stats detail off\r\n'), 'OK\r\n');
  await ask('get u/1\r\n', END);
  assert.is(await ask('stats detail dump\r\n', END), 'PREFIX u get 2 hit 1 set 1 del 1\r\nEND\r\n');
  assert.is(await ask('stats reset\r\n'), 'RESET\r\n');
  assert.is(await ask('stats detail dump\r\n', END), END);
  assert.is(await ask('stats detail maybe\r\n'), 'CLIENT_ERROR usage: stats detail on|off|dump\r\n');
});

test('stats detail counts like memcached: a set once (also split), gets and gat; not meta, touch, incr', async () => {
  assert.is(await ask('stats detail on\r\n'), 'OK\r\n');
  c.send('set w/1 0 0 5\r\nab');
  await new Promise((r) => setTimeout(r, 50));
  assert.is(await ask('cde\r\n'), 'STORED\r\n');
  await ask('gets w/1\r\n', END);
  await ask('gat 10 w/2\r\n', END);
  assert.is(await ask('cas w/1 0 0 1 1\r\nx\r\n'), 'EXISTS\r\n');
  assert.is(await ask('mg w/1\r\n'), 'HD\r\n');
  await ask('touch w/1 10\r\n');
  await ask('incr w/1 1\r\n');
  assert.is(await ask('md w/3\r\n'), 'NF\r\n');
  assert.is(await ask('set w/4 0 0 -1\r\n'), 'CLIENT_ERROR bad command line format\r\n');
  assert.is(await ask('stats detail dump\r\n', END), 'PREFIX w get 2 hit 1 set 2 del 0\r\nEND\r\n');
  await ask('stats detail off\r\n');
  await ask('stats reset\r\n');
});

test('stats cachedump: the class of a key, most recent first, limit, absolute exptime', async () => {
  const v = 'v'.repeat(3000);
  await ask(`set cd/a 0 0 ${v.length}\r\n${v}\r\n`);
  await ask(`set cd/b 0 1000 ${v.length}\r\n${v}\r\n`);
  const cls = /cls=(\d+)/.exec(await ask('me cd/a\r\n'))![1];
  const now = Number(statsOf(await ask('stats\r\n', END)).get('time'));
  const all = await ask(`stats cachedump ${cls} 0\r\n`, END);
  const m = /^ITEM cd\/b \[3000 b; (\d+) s\]\r\nITEM cd\/a \[3000 b; 0 s\]\r\nEND\r\n$/.exec(all);
  assert.ok(m, all);
  assert.ok(Math.abs(Number(m![1]) - (now + 1000)) <= 2, `exptime ${m![1]} vs now ${now}`);
  assert.match(await ask(`stats cachedump ${cls} 1\r\n`, END), /^ITEM cd\/b \[3000 b; \d+ s\]\r\nEND\r\n$/);
  assert.is(await ask('stats cachedump 63 0\r\n', END), END);
  assert.is(await ask('stats cachedump 64 0\r\n'), 'CLIENT_ERROR Illegal slab id\r\n');
  assert.is(await ask('stats cachedump 1 x\r\n'), 'CLIENT_ERROR bad command line format\r\n');
});

test('lru_crawler metadump: one line per live item (uri-encoded key, times, cas, fetched, class, size)', async () => {
  assert.is(await ask('set md/\xe9 7 100 2\r\nhi\r\n'), 'STORED\r\n'); // a latin1 byte: %E9
  await ask('get md/\xe9\r\n', END);
  const now = Number(statsOf(await ask('stats\r\n', END)).get('time'));
  const dump = await ask('lru_crawler metadump all\r\n', END);
  const m = /^key=md%2F%E9 exp=(\d+) la=(\d+) cas=\d+ fetch=yes cls=(\d+) size=(\d+)$/m.exec(dump);
  assert.ok(m, dump);
  assert.ok(Math.abs(Number(m![1]) - (now + 100)) <= 2 && Math.abs(Number(m![2]) - now) <= 2, dump);
  assert.ok(/\n$/.test(dump.slice(0, -5)) && !/\r\n(?!$)/.test(dump.slice(0, -5)), 'lines end in LF, END in CRLF');
  assert.is(await ask('lru_crawler metadump 64\r\n'), 'BADCLASS invalid class id\r\n');
  await ask('delete md/\xe9\r\n');
});

test('lru mode / lru_crawler / slabs automove change settings and the stats listed', async () => {
  assert.is(await ask('lru mode flat\r\n'), 'OK\r\n');
  let s = statsOf(await ask('stats settings\r\n', END));
  assert.is(s.get('lru_segmented'), 'no');
  // memcached keeps listing the segmented LRU's fields (they follow the maintainer)
  let items = await ask('stats items\r\n', END);
  assert.match(items, /number_hot/);
  assert.not.match(items, /number_temp/);
  assert.is(await ask('lru mode segmented\r\n'), 'OK\r\n');
  assert.is(await ask('lru tune 10 25 0.1 2\r\n'), 'OK\r\n');
  assert.is(await ask('lru temp_ttl 30\r\n'), 'OK\r\n');
  items = await ask('stats items\r\n', END);
  assert.match(items, /number_cold \d+\r\nSTAT items:\d+:number_temp 0\r\n/);
  s = statsOf(await ask('stats settings\r\n', END));
  assert.equal([s.get('hot_lru_pct'), s.get('warm_lru_pct'), s.get('hot_max_factor'), s.get('warm_max_factor'), s.get('temp_lru'), s.get('temporary_ttl')],
    ['10', '25', '0.10', '2.00', 'yes', '30']);
  assert.is(await ask('lru_crawler disable\r\n'), 'OK\r\n');
  assert.not.ok(statsOf(await ask('stats\r\n', END)).has('lru_crawler_running'));
  assert.is(await ask('lru_crawler crawl all\r\n'), 'CLIENT_ERROR lru crawler disabled\r\n');
  assert.is(await ask('lru_crawler enable\r\n'), 'OK\r\n');
  assert.is(await ask('lru_crawler enable\r\n'), 'ERROR failed to start lru crawler thread\r\n');
  assert.ok(statsOf(await ask('stats\r\n', END)).has('lru_crawler_running'));
  assert.is(await ask('lru_crawler sleep 5000\r\n'), 'OK\r\n');
  assert.is(await ask('slabs automove 0\r\n'), 'OK\r\n');
  s = statsOf(await ask('stats settings\r\n', END));
  assert.equal([s.get('lru_crawler_sleep'), s.get('slab_automove')], ['5000', '0']);
  assert.is(await ask('slabs automove 1\r\n'), 'OK\r\n');
});

test('slabs reassign moves a spare page (OK), then the class has none to give', async () => {
  // ~5 pages of 100 KB items in one class, then most of them deleted: pages to spare
  const v = 'p'.repeat(100_000);
  for (let i = 0; i < 50; i++) await ask(`set pg/${i} 0 0 ${v.length}\r\n${v}\r\n`);
  const slabs = await ask('stats slabs\r\n', END);
  const cls = [...slabs.matchAll(/^STAT (\d+):total_pages (\d+)\r$/gm)].find((m) => Number(m[2]) >= 3)![1];
  for (let i = 0; i < 50; i++) await ask(`delete pg/${i}\r\n`);
  const r = await ask(`slabs reassign ${cls} 0\r\n`);
  assert.ok(r === 'OK\r\n' || r === 'BUSY currently processing reassign request\r\n', r);
  assert.is(await ask(`slabs reassign ${cls} ${cls}\r\n`), 'SAME src and dst class are identical\r\n');
  assert.is(await ask('slabs reassign 1 99\r\n'), 'BADCLASS invalid src or dst class id\r\n');
});

test('cache_memlimit: limits under 8 MB refused, others change maxbytes', async () => {
  assert.is(await ask('cache_memlimit 7\r\n'), 'MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n');
  assert.is(statsOf(await ask('stats settings\r\n', END)).get('maxbytes'), String(64 * 1024 * 1024));
  assert.is(await ask('cache_memlimit 4000000000\r\n'), 'MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n');
  assert.is(await ask('cache_memlimit 32\r\n'), 'OK\r\n');
  assert.is(statsOf(await ask('stats settings\r\n', END)).get('maxbytes'), String(32 * 1024 * 1024));
  c.send('cache_memlimit 7 noreply\r\ncache_memlimit 64\r\n');
  assert.is((await c.untilEndsWith('\r\n')).toString(), 'OK\r\n');
});

test('debugtime p holds the clock, r lets it run on from there, <n> moves it', async () => {
  const time = async () => Number(statsOf(await ask('stats\r\n', END)).get('time'));
  assert.is(await ask('debugtime p\r\n'), 'OK\r\n');
  const t0 = await time();
  await new Promise((r) => setTimeout(r, 2100));
  assert.is(await time(), t0);
  assert.is(await ask('debugtime 100\r\n'), 'OK\r\n');
  assert.is(await time(), t0 + 100);
  assert.is(await ask('debugtime r\r\n'), 'OK\r\n');
  await new Promise((r) => setTimeout(r, 1100));
  const t1 = await time();
  assert.ok(t1 >= t0 + 100 && t1 <= t0 + 103, `${t1} vs ${t0}`);
  assert.is(await ask('debugtime -100\r\n'), 'OK\r\n');
});

test('extstore sets the ext_* settings; a bad number answers ERROR and leaves 0 (memcached)', async () => {
  const ext = async (n: string) => statsOf(await ask('stats settings\r\n', END)).get(n);
  assert.is(await ask('extstore item_size 100\r\n'), 'OK\r\n');
  assert.is(await ext('ext_item_size'), '100');
  assert.is(await ask('extstore item_size x\r\n'), 'ERROR\r\n');
  assert.is(await ext('ext_item_size'), '0');
  assert.is(await ask('extstore max_frag 0.5\r\n'), 'OK\r\n');
  assert.is(await ext('ext_max_frag'), '0.50');
  assert.is(await ask('extstore drop_unread 7\r\n'), 'OK\r\n');
  assert.is(await ext('ext_drop_unread'), 'yes');
  assert.is(await ask('extstore free_memchunks 64 1\r\n'), 'ERROR\r\n');
  assert.is(await ask('extstore free_memchunks 1 1\r\n'), 'OK\r\n');
  assert.is(await ask('extstore\r\n'), 'ERROR\r\n');
  c.send('extstore bogus 1 noreply\r\nextstore low_ttl 5\r\n');
  assert.is((await c.untilEndsWith('\r\n')).toString(), 'OK\r\n');
});

test('hostile admin lines: one reply line each, nothing else changes', async () => {
  await ask('set keep/1 0 0 5\r\nhello\r\n');
  const junk = [
    'slabs', 'slabs reassign', 'slabs reassign 1', 'slabs reassign 99999999999999999999 1',
    'slabs reassign -2147483649 1', 'slabs reassign 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25',
    'slabs automove 18446744073709551616', 'slabs automove ratio', 'slabs automove ratio x', 'slabs automove ratio 1e999',
    'lru', 'lru mode', 'lru temp_ttl', 'lru tune', 'lru tune 1 2 3', 'lru tune 4294967295 2 1 1', 'lru tune 1 1 nan 1',
    'lru tune 1 1 -inf 1', 'lru temp_ttl 99999999999999999999', `lru mode ${'x'.repeat(2000)}`,
    'lru_crawler', 'lru_crawler crawl', 'lru_crawler crawl ,,,', 'lru_crawler crawl 1,,64', `lru_crawler crawl ${'1,'.repeat(900)}1`,
    'lru_crawler metadump', 'lru_crawler metadump 0', 'lru_crawler sleep 1000001', 'lru_crawler tocrawl -0',
    'watch bogus', 'watch fetchers bogus', 'extstore free', 'extstore max_frag 1e999', 'extstore item_size -1',
    'extstore free_memchunks 99999999999 1', 'refresh_certs now',
    'stats detail', 'stats detail on off', 'stats cachedump', 'stats cachedump 1', 'stats cachedump -1 -1',
    'stats cachedump 4294967296 1', 'cache_memlimit', 'cache_memlimit -8', 'cache_memlimit 18446744073709551615',
    'lru\tmode flat', 'slabs\0reassign 1 2', 'lru_crawler\tcrawl 1',
  ];
  for (const line of junk) {
    const r = await ask(`${line}\r\n`);
    assert.ok(/^[^\r\n]*\r\n$/.test(r), `${JSON.stringify(line.slice(0, 60))} -> ${JSON.stringify(r)}`);
  }
  // the same lines in one write, split at odd places, in a pipeline: one line each, in order
  const all = junk.map((l) => `${l}\r\n`).join('');
  for (let i = 0; i < all.length; i += 7) c.sock.write(all.slice(i, i + 7));
  c.send('version\r\n');
  const piped = (await c.until((b) => b.toString('latin1').includes('VERSION '))).toString('latin1');
  assert.is(piped.split('\r\n').length - 1, junk.length + 1);
  assert.is(await ask('get keep/1\r\n', END), 'VALUE keep/1 0 5\r\nhello\r\nEND\r\n');
});

test.run();
