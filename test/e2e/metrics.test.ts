// --metrics=HOST:PORT: a real remcached (one event loop, and -t 2) is scraped after traffic and
// injected parser faults. The whole exposition is parsed with a strict line grammar (text format
// 0.0.4: HELP/TYPE once per family and before its samples, samples of a family together, label
// and value syntax, histogram buckets cumulative up to +Inf = _count), and the values are checked
// against `stats`, `stats settings`, `stats items`, `stats slabs` and `stats isolation` taken just
// before the scrape. Then hostile HTTP: wrong paths and methods, oversized and garbage heads, a
// slow head, a body never sent, more sockets than allowed, a pipelined flood; the cache answers
// throughout. Last, the option's own errors (bad value: exit 64, port taken: exit 71).
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import http from 'node:http';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { execPath } from 'node:process';
import { Conn, REMCACHED_MAIN, freePort, startRemcached, type Server } from '../helpers/server.ts';
import { INJECTIONS } from '../isolation/helpers.ts';

// ---- the exposition format, strictly -------------------------------------------------------
interface Sample { name: string; labels: Record<string, string>; value: number }
interface Fam { type: string; help: string | null; samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{((?:${LABEL_NAME}=${LABEL_VALUE})(?:,${LABEL_NAME}=${LABEL_VALUE})*)?\\})? (\\S+)$`);
const FLOAT = /^(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const unescape = (s: string) => s.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));

function parseExposition(text: string): Map<string, Fam> {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const fams = new Map<string, Fam>();
  const series = new Set<string>();
  let current: string | null = null; // the family whose lines we are in
  const family = (name: string): Fam => {
    if (current !== name) {
      assert.not.ok(fams.has(name) && fams.get(name)!.samples.length > 0, `family ${name}: its lines are not together`);
      current = name;
    }
    let f = fams.get(name);
    if (!f) fams.set(name, (f = { type: 'untyped', help: null, samples: [] }));
    return f;
  };
  const lines = text.slice(0, -1).split('\n');
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line.slice(0, 120))}`;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      assert.ok(m, `${where}: only HELP and TYPE comments`);
      assert.match(m![2]!, NAME, `${where}: metric name`);
      const f = family(m![2]!);
      if (m![1] === 'HELP') {
        assert.is(f.help, null, `${where}: a second HELP`);
        assert.not.match(m![3]!.replace(/\\[\\n]/g, ''), /\\/, `${where}: HELP escapes`);
        f.help = unescape(m![3]!);
      } else {
        assert.ok(TYPES.has(m![3]!), `${where}: type`);
        assert.is(f.samples.length, 0, `${where}: TYPE after samples`);
        assert.is(f.type, 'untyped', `${where}: a second TYPE`);
        f.type = m![3]!;
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `${where}: sample syntax`);
    assert.match(m![3]!, FLOAT, `${where}: value`);
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').matchAll(new RegExp(`(${LABEL_NAME})=(${LABEL_VALUE})`, 'g'))) {
      assert.not.ok(l[1]! in labels, `${where}: label ${l[1]} twice`);
      labels[l[1]!] = unescape(l[2]!.slice(1, -1));
    }
    const name = m![1]!;
    // the family: the name itself, or a histogram's (summary's) name before its suffix
    const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
    const famName = base && fams.get(base) && ['histogram', 'summary'].includes(fams.get(base)!.type) ? base : name;
    const f = family(famName);
    if (f.type === 'histogram') assert.ok(name !== famName, `${where}: a histogram sample needs _bucket, _sum or _count`);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    assert.not.ok(series.has(key), `${where}: series repeated`);
    series.add(key);
    f.samples.push({ name, labels, value: Number(m![3]!.replace(/^\+?Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity')) });
  }
  for (const [name, f] of fams) {
    assert.ok(f.help !== null && f.type !== 'untyped', `${name}: HELP and TYPE`);
    if (f.type !== 'histogram') continue;
    const buckets = f.samples.filter((s) => s.name === `${name}_bucket`);
    const count = f.samples.find((s) => s.name === `${name}_count`);
    assert.ok(count && f.samples.some((s) => s.name === `${name}_sum`), `${name}: _sum and _count`);
    assert.is(buckets.at(-1)?.labels.le, '+Inf', `${name}: the last bucket is +Inf`);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(Number(buckets[i]!.labels.le!.replace('+Inf', 'Infinity')) > Number(buckets[i - 1]!.labels.le), `${name}: le increasing`);
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name}: buckets cumulative`);
    }
    assert.is(buckets.at(-1)!.value, count!.value, `${name}: +Inf bucket = _count`);
  }
  return fams;
}

/** The one sample of `name` whose labels include `labels`. */
function val(fams: Map<string, Fam>, name: string, labels: Record<string, string> = {}): number {
  const fam = fams.get(name.replace(/_(bucket|sum|count)$/, '')) ?? fams.get(name);
  assert.ok(fam, `no family for ${name}`);
  const hits = fam!.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.is(hits.length, 1, `${name}${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0]!.value;
}

// ---- HTTP and memcached clients ------------------------------------------------------------
interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }
function request(port: number, path = '/metrics', method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function scrape(port: number): Promise<Map<string, Fam>> {
  const r = await request(port);
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(r.body);
}

/** `STAT name value` lines of a reply. */
function statLines(b: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of b.split('\r\n')) {
    const p = line.split(' ');
    if (p[0] === 'STAT' && p.length >= 3) m.set(p[1]!, p.slice(2).join(' '));
  }
  return m;
}

const ends = (n: number) => (b: Buffer) => (b.toString('latin1').match(/^END\r\n/gm) ?? []).length >= n;

/** Raw socket from `localAddress`: resolves with what came back once the server closed it. */
function raw(port: number, data: string | null, opts: { localAddress?: string; ms?: number } = {}): Promise<{ got: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    let got = '';
    const t = setTimeout(() => { s.destroy(); resolve({ got, closed: false }); }, opts.ms ?? 5000);
    s.on('connect', () => { if (data !== null) s.write(data); });
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve({ got, closed: true }); });
  });
}

// faults every isolation mode catches (root/store writes are not faults under none)
const KINDS = ['null_deref', 'illegal_insn', 'div_zero', 'stack_smash', 'abort', 'endless_loop'];

async function scrapeAfterTraffic(threads: number): Promise<void> {
  const mport = await freePort();
  // -t 1: the offender table judges loopback peers, and refuses one after 2 faults
  const offender = threads === 1 ? ['--offender-loopback', '--offender-slow=0', '--offender-refuse=2'] : [];
  let srv: Server | null = null;
  try {
    srv = await startRemcached(['--enable-fault-injection', '--watchdog-ms=50', `--metrics=127.0.0.1:${mport}`,
      ...offender, '-t', String(threads), ...(threads > 1 ? ['-v'] : [])]);
    const port = srv.port;
    if (threads > 1) {
      // worker 0 answers first; the others join the port's SO_REUSEPORT group when they are up
      const until = Date.now() + 15_000;
      while (!srv.stderr().includes('worker threads serving')) {
        assert.ok(Date.now() < until, 'the workers did not all start within 15 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    // traffic: stores of three sizes (three slab classes), hits and misses of every command
    const c = await Conn.open(port);
    let cmds = '';
    for (let i = 0; i < 20; i++) {
      const v = 'v'.repeat([10, 600, 5000][i % 3]!);
      cmds += `set k${i} ${i} 0 ${v.length}\r\n${v}\r\n`;
    }
    cmds += 'set n 0 0 2\r\n10\r\nget k1 k2 nope\r\nincr n 5\r\nincr nope 1\r\ndecr n 1\r\ndecr nope 1\r\n';
    cmds += 'delete k3\r\ndelete nope\r\ntouch k4 100\r\ntouch nope 100\r\ncas k5 0 0 1 12345\r\nx\r\ncas nope 0 0 1 1\r\nx\r\n';
    cmds += 'gets k6\r\nversion\r\n';
    c.send(cmds);
    await c.untilEndsWith('VERSION 1.6.18\r\n', 10_000);
    c.close();

    // faults, each from its own loopback address (one fault each: never an offender)
    const iso = statLines((await (async () => {
      const s = await Conn.open(port); s.send('stats isolation\r\n');
      const b = await s.until(ends(1)); s.close(); return b;
    })()).toString('latin1'));
    const mode = iso.get('isolation')!;
    const column = (mode.startsWith('pku') ? 'pku' : mode) as 'pku' | 'none' | 'sfi';
    const expected = new Map<string, number>();
    for (const [i, name] of [...KINDS, ...(threads > 1 ? KINDS : [])].entries()) {
      const inj = INJECTIONS.find((x) => x.name === name)!;
      const r = await raw(port, `debug_fault ${inj.id}\r\n`, { localAddress: threads === 1 ? `127.0.1.${i + 1}` : undefined });
      assert.ok(r.closed && r.got === '', `${name}: the attacker's connection closed without a reply`);
      expected.set(inj[column], (expected.get(inj[column]) ?? 0) + 1);
    }
    if (threads === 1) {
      // 127.0.0.2 faults twice: refused; its next connection is refused at once
      const inj = INJECTIONS.find((x) => x.name === 'null_deref')!;
      for (let i = 0; i < 2; i++) assert.ok((await raw(port, `debug_fault ${inj.id}\r\n`, { localAddress: '127.0.0.2' })).closed);
      expected.set(inj[column], (expected.get(inj[column]) ?? 0) + 2);
      const r = await raw(port, 'version\r\n', { localAddress: '127.0.0.2' });
      assert.ok(r.closed && r.got === '', 'the refused peer got nothing');
    }

    // one connection for the stats, alone: wait until the server has closed every other one
    const s = await Conn.open(port);
    const deadline = Date.now() + 10_000;
    for (;;) {
      s.send('stats\r\n');
      if (statLines((await s.until(ends(1))).toString('latin1')).get('curr_connections') === '1') break;
      assert.ok(Date.now() < deadline, 'other connections still counted after 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    s.send('stats settings\r\nstats items\r\nstats slabs\r\nstats isolation\r\n');
    const groups = (await s.until(ends(4))).toString('latin1').split(/^END\r\n/m);
    const [settings, items, slabs, isolation] = groups.map(statLines) as [Map<string, string>, Map<string, string>, Map<string, string>, Map<string, string>];
    s.send('stats\r\n');
    const last = await s.until(ends(1));
    const st = statLines(last.toString('latin1'));
    let fams = await scrape(mport);
    // -t N: the worker that sent that reply counts its bytes just after the write; on a loaded
    // host the scrape, served by another worker, can come first (seen once in ~15 runs)
    const written = Number(st.get('bytes_written')) + last.length;
    for (const until = Date.now() + 2000; val(fams, 'memcached_written_bytes_total') !== written && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 20));
      fams = await scrape(mport);
    }
    s.close();

    const n = (m: Map<string, string>, k: string) => { assert.ok(m.has(k), `stat ${k} listed`); return Number(m.get(k)); };
    // memcached's stats under memcached_exporter's names
    assert.is(val(fams, 'memcached_up'), 1);
    assert.is(val(fams, 'memcached_version', { version: st.get('version')! }), 1);
    assert.is(val(fams, 'memcached_read_bytes_total'), n(st, 'bytes_read'), 'bytes read: nothing since the stats');
    assert.is(val(fams, 'memcached_written_bytes_total'), n(st, 'bytes_written') + last.length, 'bytes written: the stats reply since');
    for (const [metric, key] of [['memcached_current_connections', 'curr_connections'], ['memcached_connections_total', 'total_connections'],
      ['memcached_connections_rejected_total', 'rejected_connections'], ['memcached_connections_yielded_total', 'conn_yields'],
      ['memcached_connections_listener_disabled_total', 'listen_disabled_num'], ['memcached_current_bytes', 'bytes'],
      ['memcached_limit_bytes', 'limit_maxbytes'], ['memcached_current_items', 'curr_items'], ['memcached_items_total', 'total_items'],
      ['memcached_items_evicted_total', 'evictions'], ['memcached_items_reclaimed_total', 'reclaimed'],
      ['memcached_item_too_large_total', 'store_too_large'], ['memcached_item_no_memory_total', 'store_no_memory'],
      ['memcached_accepting_connections', 'accepting_conns']] as const) {
      assert.is(val(fams, metric), n(st, key), `${metric} = stats ${key}`);
    }
    assert.is(val(fams, 'memcached_current_items'), 20 + 1 - 1, 'the items stored');
    for (const op of ['get', 'delete', 'incr', 'decr', 'cas', 'touch']) {
      assert.is(val(fams, 'memcached_commands_total', { command: op, status: 'hit' }), n(st, `${op}_hits`), `${op} hits`);
      assert.is(val(fams, 'memcached_commands_total', { command: op, status: 'miss' }), n(st, `${op}_misses`), `${op} misses`);
      if (op !== 'cas') assert.ok(n(st, `${op}_hits`) > 0 && n(st, `${op}_misses`) > 0, `the traffic had ${op} hits and misses`);
    }
    assert.is(val(fams, 'memcached_commands_total', { command: 'cas', status: 'badval' }), n(st, 'cas_badval'));
    assert.ok(n(st, 'cas_badval') === 1 && n(st, 'cas_misses') === 1, 'one cas badval, one cas miss');
    assert.is(val(fams, 'memcached_commands_total', { command: 'flush', status: 'hit' }), n(st, 'cmd_flush'));
    assert.is(val(fams, 'memcached_commands_total', { command: 'set', status: 'hit' }),
      n(st, 'cmd_set') - n(st, 'cas_misses') - n(st, 'cas_hits') - n(st, 'cas_badval'), 'set: cmd_set less the cas commands');
    assert.is(val(fams, 'memcached_max_connections'), n(settings, 'maxconns'));
    assert.is(val(fams, 'memcached_lru_crawler_enabled'), settings.get('lru_crawler') === 'yes' ? 1 : 0);
    assert.is(val(fams, 'memcached_lru_crawler_hot_percent'), n(settings, 'hot_lru_pct'));
    assert.is(val(fams, 'memcached_lru_crawler_warm_max_factor'), n(settings, 'warm_max_factor'));
    assert.is(val(fams, 'memcached_malloced_bytes'), n(slabs, 'total_malloced'));
    // per slab class: the same classes as the stats, the same values
    const classes = (m: Map<string, string>, re: RegExp) => [...new Set([...m.keys()].map((k) => re.exec(k)?.[1]).filter(Boolean))].sort();
    const itemClasses = classes(items, /^items:(\d+):/);
    const slabClasses = classes(slabs, /^(\d+):/);
    assert.is(itemClasses.length, 3, 'three slab classes hold items');
    const labelled = (name: string) => [...new Set(fams.get(name)!.samples.map((x) => x.labels.slab))].sort();
    assert.equal(labelled('memcached_slab_current_items'), itemClasses);
    assert.equal(labelled('memcached_slab_chunk_size_bytes'), slabClasses);
    for (const cls of itemClasses) {
      assert.is(val(fams, 'memcached_slab_current_items', { slab: cls! }), n(items, `items:${cls}:number`));
      assert.is(val(fams, 'memcached_slab_mem_requested_bytes', { slab: cls! }), n(items, `items:${cls}:mem_requested`));
      assert.is(val(fams, 'memcached_slab_lru_hits_total', { slab: cls!, lru: 'warm' }), n(items, `items:${cls}:hits_to_warm`));
      assert.is(val(fams, 'memcached_slab_hot_items', { slab: cls! }), n(items, `items:${cls}:number_hot`));
    }
    for (const cls of slabClasses) {
      assert.is(val(fams, 'memcached_slab_chunk_size_bytes', { slab: cls! }), n(slabs, `${cls}:chunk_size`));
      assert.is(val(fams, 'memcached_slab_chunks_used', { slab: cls! }), n(slabs, `${cls}:used_chunks`));
      assert.is(val(fams, 'memcached_slab_current_pages', { slab: cls! }), n(slabs, `${cls}:total_pages`));
      assert.is(val(fams, 'memcached_slab_commands_total', { slab: cls!, command: 'get', status: 'hit' }), n(slabs, `${cls}:get_hits`));
      assert.is(val(fams, 'memcached_slab_commands_total', { slab: cls!, command: 'set', status: 'hit' }),
        n(slabs, `${cls}:cmd_set`) - n(slabs, `${cls}:cas_hits`) - n(slabs, `${cls}:cas_badval`));
    }

    // remcached's own
    assert.is(val(fams, 'remcached_isolation_info', { mode: isolation.get('isolation')! }), 1);
    assert.is(fams.get('remcached_isolation_info')!.samples.length, 1);
    assert.is(val(fams, 'remcached_build_info', { version: isolation.get('remcached_version')! }), 1);
    let faults = 0;
    for (const s of fams.get('remcached_parser_faults_total')!.samples) {
      const kind = s.labels.kind!;
      assert.is(s.value, n(isolation, `parser_faults_${kind}`), `faults of kind ${kind} = stats isolation`);
      assert.is(s.value, expected.get(kind) ?? 0, `faults of kind ${kind}: as injected`);
      faults += s.value;
    }
    assert.is(faults, n(isolation, 'parser_faults'));
    assert.is(fams.get('remcached_parser_faults_total')!.samples.length, [...isolation.keys()].filter((k) => /^parser_faults_/.test(k)).length, 'every kind listed');
    assert.is(val(fams, 'remcached_watchdog_interrupts_total'), n(isolation, 'parser_faults_timeout'));
    assert.ok(n(isolation, 'parser_faults_timeout') >= 1, 'the endless loop was interrupted');
    assert.is(val(fams, 'remcached_parser_rewind_seconds_count'), faults, 'one rewind time per fault');
    assert.ok(val(fams, 'remcached_parser_rewind_seconds_sum') > 0, 'rewinds take time');
    assert.ok(val(fams, 'remcached_parser_calls_total') >= n(isolation, 'parser_calls'));
    assert.is(val(fams, 'remcached_parser_invalid_total'), n(isolation, 'parser_invalid'));
    assert.is(val(fams, 'remcached_parser_divergences_total'), n(isolation, 'parser_divergences'));
    for (const [metric, key] of [['remcached_offender_peers_slowed_total', 'offender_slowed'], ['remcached_offender_peers_refused_total', 'offender_refused'],
      ['remcached_offender_connections_delayed_total', 'offender_conns_delayed'], ['remcached_offender_connections_refused_total', 'offender_conns_refused']] as const) {
      assert.is(val(fams, metric), n(isolation, key), `${metric} = stats isolation ${key}`);
    }
    if (threads === 1) {
      assert.is(val(fams, 'remcached_offender_peers_refused_total'), 1, 'one peer refused');
      assert.is(val(fams, 'remcached_offender_connections_refused_total'), 1, 'one connection refused');
    }
  } finally {
    await srv?.stop();
  }
}

test('scraped after traffic and faults (one event loop): the exporter\'s names, values as stats', () => scrapeAfterTraffic(1));
test('scraped after traffic and faults (-t 2): every worker\'s counters summed', () => scrapeAfterTraffic(2));

test('hostile HTTP gets 404/405/4xx and a closed connection; the cache keeps answering', async () => {
  const mport = await freePort();
  let srv: Server | null = null;
  try {
    srv = await startRemcached([`--metrics=127.0.0.1:${mport}`]);
    const cache = await Conn.open(srv.port);
    const alive = async (what: string) => {
      cache.send('version\r\n');
      assert.is((await cache.untilEndsWith('\r\n', 5000)).toString(), 'VERSION 1.6.18\r\n', `${what}: the cache answers`);
    };

    for (const path of ['/', '/nope', '/metrics/x', '/metricsx']) assert.is((await request(mport, path)).status, 404, path);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await request(mport, '/metrics', method);
      assert.is(r.status, 405, method);
      assert.is(r.headers.allow, 'GET, HEAD');
    }
    const head = await request(mport, '/metrics', 'HEAD');
    assert.is(head.status, 200);
    assert.is(head.body, '');
    assert.is((await request(mport, '/metrics?name[]=memcached_up')).status, 200, 'a query string is ignored');

    // raw requests: each is answered with its status and closed
    const big = await raw(mport, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.ok(big.closed && big.got.startsWith('HTTP/1.1 431 '), `oversized head: ${big.got.slice(0, 40)}`);
    const junk = await raw(mport, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n');
    assert.ok(junk.closed && junk.got.startsWith('HTTP/1.1 400 '), `garbage: ${junk.got.slice(0, 40)}`);
    const post = await raw(mport, 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n');
    assert.ok(post.closed && post.got.startsWith('HTTP/1.1 405 '), `a body never sent: ${post.got.slice(0, 40)}`);
    const nohost = await raw(mport, 'GET /metrics HTTP/1.1\r\n\r\n');
    assert.ok(nohost.closed && nohost.got.startsWith('HTTP/1.1 400 '), 'HTTP/1.1 without Host');
    await alive('after bad requests');

    // a head that never ends is cut off (headers timeout 5 s, checked every second)
    const slow = await raw(mport, 'GET /metrics HTTP/1.1\r\nHost: x\r\n', { ms: 20_000 });
    assert.ok(slow.closed, 'a slow head is closed');
    assert.ok(slow.got === '' || slow.got.startsWith('HTTP/1.1 408 '), `slow head: ${slow.got.slice(0, 40)}`);

    // more sockets than the endpoint keeps (16): the rest are closed at once
    const socks = await Promise.all(Array.from({ length: 40 }, () => new Promise<net.Socket & { gone?: boolean }>((resolve) => {
      const s = net.connect(mport, '127.0.0.1') as net.Socket & { gone?: boolean };
      s.on('error', () => {});
      s.on('close', () => { s.gone = true; });
      s.once('connect', () => resolve(s));
      s.once('close', () => resolve(s));
    })));
    const until = Date.now() + 5000;
    while (socks.filter((s) => s.gone).length < 40 - 16 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.ok(socks.filter((s) => s.gone).length >= 40 - 16, `sockets over the limit closed: ${socks.filter((s) => s.gone).length}`);
    await alive('with the endpoint full');
    for (const s of socks) s.destroy();

    // once those sockets are gone, a normal scrape works again
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try { ok = (await request(mport)).status === 200; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.ok(ok, 'scrape after the sockets closed');

    // a pipelined flood on one socket: at most 100 answered per socket, renderings spaced out
    const flood = await raw(mport, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(300), { ms: 30_000 });
    const oks = flood.got.match(/^HTTP\/1\.1 200 /gm)?.length ?? 0;
    assert.ok(flood.closed && oks >= 1 && oks <= 100, `flood: ${oks} answered, closed ${flood.closed}`);
    await alive('after the flood');
    assert.is((await request(mport)).status, 200, 'scrape after the flood');
    cache.close();
    assert.is(srv.proc.exitCode, null, 'the server still runs');
  } finally {
    await srv?.stop();
  }
});

// Debian's python3-prometheus-client: the official Python client's parser, from the system python
const PY = '/usr/bin/python3';
const NO_PY_CLIENT = spawnSync(PY, ['-c', 'import prometheus_client.parser'], { timeout: 10_000 }).status === 0
  ? null : 'python3-prometheus-client not installed (apt-get install python3-prometheus-client)';
const PY_PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append([f.name, f.type, s.name, s.labels, s.value])
print(json.dumps(out))
`;

test('the Prometheus Python client parses the page to the same samples', async () => {
  const mport = await freePort();
  let srv: Server | null = null;
  try {
    srv = await startRemcached(['--enable-fault-injection', `--metrics=127.0.0.1:${mport}`]);
    const c = await Conn.open(srv.port);
    c.send('set a 0 0 1\r\nx\r\nget a b\r\n');
    await c.untilEndsWith('END\r\n');
    c.close();
    assert.ok((await raw(srv.port, 'debug_fault 7\r\n')).closed);
    const r = await request(mport);
    const mine = parseExposition(r.body);
    const py = spawnSync(PY, ['-c', PY_PARSE], { input: r.body, encoding: 'utf8', timeout: 20_000 });
    assert.is(py.status, 0, `the python parser failed: ${py.stderr}`);
    const theirs = JSON.parse(py.stdout) as Array<[string, string, string, Record<string, string>, number]>;
    const key = (name: string, labels: Record<string, string>) => `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    const mineByKey = new Map<string, number>();
    for (const f of mine.values()) for (const x of f.samples) mineByKey.set(key(x.name, x.labels), x.value);
    assert.is(theirs.length, mineByKey.size, 'as many samples');
    for (const [, type, got, labels, v] of theirs) {
      // the client names every counter sample <family>_total, even where the page has no _total
      // (memcached_exporter's memcached_uptime_seconds, memcached_slab_items_moves_to_cold, …)
      const name = type === 'counter' && !mineByKey.has(key(got, labels)) ? got.replace(/_total$/, '') : got;
      const fam = mine.get(name) ?? mine.get(name.replace(/_(bucket|sum|count)$/, ''));
      assert.ok(fam, `${name}: a family of mine`);
      assert.is(type, fam!.type, `${name}: type`);
      assert.is(mineByKey.get(key(name, labels)), v, `${name}${JSON.stringify(labels)}`);
    }
  } finally {
    await srv?.stop();
  }
}, { skip: NO_PY_CLIENT });

test('--metrics: a bad value exits 64, a taken port 71; --help lists it', async () => {
  const run = (args: string[]) => spawnSync(execPath, [REMCACHED_MAIN, '-p', '0', '-U', '0', ...args], { encoding: 'latin1', timeout: 10_000 });
  for (const bad of ['9150', 'localhost', 'host:port', '127.0.0.1:70000', '[::1:9150']) {
    const r = run([`--metrics=${bad}`]);
    assert.is(r.status, 64, `--metrics=${bad}`);
    assert.match(r.stderr, /--metrics/);
  }
  const blocker = net.createServer();
  const port = await freePort();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
  try {
    // -p 0: no memcached port, the metrics one alone
    const r = run(['-l', '127.0.0.1', `--metrics=127.0.0.1:${port}`]);
    assert.is(r.status, 71, 'port taken');
    assert.match(r.stderr, /--metrics 127\.0\.0\.1:\d+: listen EADDRINUSE/);
  } finally {
    blocker.close();
  }
  assert.match(run(['--help']).stdout, /--metrics=<host:port>/);
});

test.run();
