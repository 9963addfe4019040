// Docker HEALTHCHECK: asks the running server for its version where it really listens.
//   node docker/healthcheck.mjs [PID]
// The server's flags are read from /proc/PID/cmdline (default: PID 1, which the entrypoint's
// `exec` makes the server; else the first remcached process found) and parsed by the server's own
// parser (dist/server/config.js), so `-p`, `-l` (its first address, `host:port`, `notls:`), `-s`,
// `-U`, `-B`, `-S`, `-Y`, `-Z` and their long forms mean here exactly what they mean to the server.
// Probe: `version` over text; the binary VERSION request where the server speaks only binary
// (`-B binary`, `-S`; VERSION needs no SASL auth); `CLIENT_ERROR unauthenticated` from `-Y` counts
// as alive. Exit 0 healthy, 1 not; the reason on stderr. Bounded: 2 s.
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import dgram from 'node:dgram';

const { parseArgs, parseListenSpec } = await import(new URL('../dist/server/config.js', import.meta.url).href);

const fail = (why) => { process.stderr.write(`unhealthy: ${why}\n`); process.exit(1); };
const ok = (what) => { process.stdout.write(`healthy: ${what}\n`); process.exit(0); };
setTimeout(() => fail('no answer in 2 s'), 2000).unref();

/** The server's arguments (after main.js) from /proc/PID/cmdline. */
function serverArgs(pid) {
  const pids = pid ? [pid] : ['1', ...readdirSync('/proc').filter((d) => /^\d+$/.test(d) && d !== '1')];
  for (const p of pids) {
    let argv;
    try { argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').slice(0, -1); } catch { continue; }
    const i = argv.findIndex((a) => a.endsWith('/dist/server/main.js'));
    if (i >= 0) return argv.slice(i + 1);
  }
  return fail(pid ? `process ${pid} is not remcached` : 'no remcached process');
}

let s;
try { s = parseArgs(serverArgs(process.argv[2])).settings; } catch (e) { fail(`its flags do not parse: ${e.message}`); }

// VERSION in the binary protocol: magic 0x80, opcode 0x0b, everything else 0
const BIN_VERSION = Buffer.from([0x80, 0x0b, ...new Array(22).fill(0)]);
const binary = s.protocol === 'binary';
const alive = (b) => binary
  ? b.length >= 24 && b[0] === 0x81 && b[1] === 0x0b && b.readUInt16BE(6) === 0
  : /^(VERSION \S+|CLIENT_ERROR unauthenticated)\r\n/.test(b.toString('latin1'));

function probe(connect, where) {
  const sock = connect();
  let got = Buffer.alloc(0);
  sock.on('error', (e) => fail(`${where}: ${e.message}`));
  sock.on(sock instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => sock.write(binary ? BIN_VERSION : 'version\r\n'));
  sock.on('data', (d) => {
    got = Buffer.concat([got, d]);
    if (alive(got)) { sock.destroy(); ok(where); }
  });
  sock.on('close', () => fail(`${where}: closed after ${JSON.stringify(got.toString('latin1').slice(0, 80))}`));
}

// the first -l address (memcached's `notls:` prefix and `host:port` form); a wildcard is asked on loopback
const first = parseListenSpec((s.listen ?? '').split(',')[0]);
let host = first?.host ?? '';
if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
if (host === '::') host = '::1';
const hostText = host.includes(':') ? `[${host}]` : host;

if (s.unixSocket) {
  probe(() => net.connect(s.unixSocket), `unix:${s.unixSocket}`);
} else if (s.port > 0) {
  const port = first?.port ?? s.port;
  if (s.enableSsl && !first?.notls) {
    // liveness, not trust: any certificate; the server's own pair as client certificate, for
    // servers that require one (ssl_verify_mode 2 or 3)
    const pair = s.ssl.chainCert && s.ssl.key ? { cert: readFileSync(s.ssl.chainCert), key: readFileSync(s.ssl.key) } : {};
    probe(() => tls.connect({ host, port, rejectUnauthorized: false, ...pair }), `tls:${hostText}:${port}`);
  } else {
    probe(() => net.connect(port, host), `${hostText}:${port}`);
  }
} else if (s.udpPort > 0) {
  // UDP only (-p 0 -U N): one datagram, memcached's 8-byte frame header first
  const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  u.on('message', (d) => { if (d.length > 8 && alive(d.subarray(8))) ok(`udp:${hostText}:${s.udpPort}`); });
  u.on('error', (e) => fail(`udp:${hostText}:${s.udpPort}: ${e.message}`));
  u.send(Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0]), Buffer.from('version\r\n')]), s.udpPort, host);
} else {
  fail(`no port to ask (-p ${s.port})`);
}
