// What an idle connection holds: open COUNT connections that each send `version`, read the
// reply and stay open; report the server's RSS growth per connection, remcached (-t 1) beside
// memcached 1.6.18 (-t 1), same run.
//   node --import tsx bench/idle-memory.ts [--count=4000] [--rounds=2]
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startMemcached, startRemcached, type Server } from '../test/helpers/server.ts';

const { values: v } = parseArgs({ options: { count: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '2' } } });
const count = Number(v.count);
const rssKb = (pid: number) => Number(/VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

function openOne(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('version\r\n'));
    const t = setTimeout(() => { s.destroy(); reject(new Error('no reply to version')); }, 5000);
    s.once('data', () => { clearTimeout(t); resolve(s); });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

async function measure(name: string, srv: Server): Promise<void> {
  const pid = srv.proc.pid!;
  const before = rssKb(pid);
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < count; i += 100) socks.push(...await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => openOne(srv.port))));
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssKb(pid);
    console.log(`${name.padEnd(10)} ${count} idle connections: RSS ${before} -> ${after} kB, ${Math.round((after - before) * 1024 / count)} B per connection`);
  } finally {
    for (const s of socks) s.destroy();
    await srv.stop();
  }
}

const limit = ['-c', String(count + 100)];
for (let round = 0; round < Number(v.rounds); round++) {
  await measure('remcached', await startRemcached(['-t', '1', ...limit]));
  await measure('memcached', await startMemcached(limit));
}
