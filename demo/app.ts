// The application under test: a small node:http service doing cache-aside through memjs (a real
// memcached client from npm) in front of a simulated database. The demo runs two copies, one per
// cache server; they differ only in --cache.
//
//   GET  /item/<id>   cache hit -> value; miss or cache error -> database read, then cache set
//   PUT  /item/<id>   database write (new version), then cache set
//   GET  /metrics     counters as JSON (the orchestrator polls it once a second)
//
// Started by demo/run.ts as: node --import tsx demo/app.ts --port=P --cache=127.0.0.1:C [...]
// It prints "listening <port>" on stdout when ready.
import http from 'node:http';
import { parseArgs } from 'node:util';
import memjs from 'memjs';
import { Database } from './db.ts';

const { values: a } = parseArgs({
  options: {
    port: { type: 'string' }, cache: { type: 'string' },
    'db-latency': { type: 'string', default: '20' }, 'db-pool': { type: 'string', default: '4' },
    'db-queue': { type: 'string', default: '64' }, 'value-size': { type: 'string', default: '512' },
  },
});
const db = new Database({
  latencyMs: Number(a['db-latency']), pool: Number(a['db-pool']), maxQueue: Number(a['db-queue']),
  valueSize: Number(a['value-size']),
});
// retries: 1 = one attempt: a cache that does not answer in 0.5 s is treated as a miss, as
// production cache-aside code does; memjs reconnects by itself on the next request.
const cache = memjs.Client.create(a.cache!, {
  retries: 1, timeout: 0.5, conntimeout: 0.5, logger: { log() {} },
});

const m = { hits: 0, misses: 0, cacheErrors: 0, dbReads: 0, dbWrites: 0, dbRejected: 0, writes: 0 };

async function cacheGet(key: string): Promise<Buffer | null | 'error'> {
  try { return (await cache.get(key)).value; } catch { return 'error'; }
}
async function cacheSet(key: string, v: Buffer): Promise<void> {
  try { await cache.set(key, v, { expires: 0 }); } catch { m.cacheErrors++; }
}

function reply(res: http.ServerResponse, code: number, body: string | Buffer): void {
  res.writeHead(code, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/metrics') return reply(res, 200, JSON.stringify({ ...m, dbQueued: db.queued, dbBusy: db.busy }));
  const id = /^\/item\/(\d+)$/.exec(url)?.[1];
  if (!id) return reply(res, 404, 'not found');
  const key = `item:${id}`;
  req.resume();
  const handle = async () => {
    if (req.method === 'PUT') {
      m.writes++;
      const v = await db.write(Number(id));
      m.dbWrites++;
      await cacheSet(key, v);
      return reply(res, 200, 'ok');
    }
    const c = await cacheGet(key);
    if (c instanceof Buffer) { m.hits++; return reply(res, 200, c); }
    if (c === 'error') m.cacheErrors++; else m.misses++;
    const v = await db.read(Number(id));
    m.dbReads++;
    await cacheSet(key, v);
    reply(res, 200, v);
  };
  handle().catch((e: Error) => {
    // The only expected failure is the database refusing work (pool and queue full).
    if (e.message === 'db overloaded') m.dbRejected++;
    if (!res.headersSent) reply(res, 503, e.message);
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(a.port), '127.0.0.1', () => console.log(`listening ${a.port}`));
process.on('SIGTERM', () => { cache.close(); server.close(); process.exit(0); });
