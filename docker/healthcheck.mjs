// Docker HEALTHCHECK without nc: ask `version`, then `quit` so the check never hangs.
import net from 'node:net';
const port = Number(process.env.REMCACHED_PORT ?? 11211);
const sock = net.connect(port, '127.0.0.1');
const fail = () => process.exit(1);
sock.setTimeout(2000, fail);
sock.on('error', fail);
sock.on('connect', () => sock.write('version\r\nquit\r\n'));
let got = '';
sock.on('data', (d) => { got += d; if (got.startsWith('VERSION ')) process.exit(0); });
sock.on('close', () => process.exit(got.startsWith('VERSION ') ? 0 : 1));
