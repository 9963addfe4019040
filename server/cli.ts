// memcached's start-up behaviour that is not option parsing: what it refuses with a low -c,
// -V, and -d (daemonise, with -P). Kept apart from config.ts's option table.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { PROTOCOL_VERSION, REMCACHED_VERSION } from './config.ts';

/** memcached sets RLIMIT_NOFILE to -c and then opens its event bases: with too low a -c it
 *  fails there, or at its "reserved fds" check, and exits 1. Observed with 1.6.18 (t/ threads):
 *  started with only stdin/stdout/stderr open (a service manager, a container), the main base
 *  needs -c 10, each worker thread after the first 4 more (eventfd, epoll, a pipe), and
 *  curr_conns + reserved_fds (~5 per thread) must stay below -c minus 1.
 *  Returns memcached's message, or null when it would start. */
export function lowConnLimit(conns: number, threads: number): string | null {
  const emfile = 'Too many open files';
  const pipe = `[warn] evutil_make_internal_pipe_: pipe: ${emfile}\n[err] evsig_init_: socketpair: ${emfile}`;
  if (conns <= 9) return pipe;
  if (conns <= 9 + 4 * (threads - 1)) {
    const r = (conns - 10) % 4; // each worker thread after the first: eventfd, epoll, a pipe
    if (r === 0) return `failed creating eventfd for worker thread: ${emfile}`;
    if (r === 1) return `[warn] epoll_create: ${emfile}\n${pipe}`;
    return pipe;
  }
  if (5 * threads >= conns - 1) return 'Maxconns setting is too low, use -c to increase.';
  return null;
}

/** -V: exactly memcached's line (scripts parse it); --version adds remcached's own after it. */
export function versionText(long: boolean): string {
  return `memcached ${PROTOCOL_VERSION}\n${long ? `remcached ${REMCACHED_VERSION}\n` : ''}`;
}

const DAEMON_ENV = 'REMCACHED_DAEMON_CHILD';
/** the daemon's end of the pipe the command waits on */
const READY_FD = 3;
/** how long the command waits for its daemon to listen */
const DAEMON_START_MS = 30_000;
let daemonChild = false;

/** -d: as memcached's daemonize(): the server goes on in a new session with stdio on
 *  /dev/null and cwd / (from daemonReady on: the TLS files, which memcached loads before it
 *  daemonises, are read where the command was started), and the command returns 0. Node
 *  cannot fork, so the same command line is started again, detached. memcached's daemon
 *  listens within a millisecond of the command's return, and callers connect as soon as it has
 *  returned (memcached's own t/daemonize.t gives it half a second); this daemon needs a Node
 *  start first, so the command returns once it listens (daemonReady), or has died, or after
 *  DAEMON_START_MS. Resolves true in the command (which should exit), false in the daemon. */
export async function daemonize(): Promise<boolean> {
  if (process.env[DAEMON_ENV] === '1') {
    delete process.env[DAEMON_ENV];
    daemonChild = true;
    return false;
  }
  const devnull = openSync('/dev/null', 'r+');
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true, // setsid()
    stdio: [devnull, devnull, devnull, 'pipe'], // READY_FD
    env: { ...process.env, [DAEMON_ENV]: '1' },
  });
  const ready = child.stdio[READY_FD]!;
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    ready.once('data', done).once('end', done).once('error', done);
    child.once('exit', done);
    setTimeout(done, DAEMON_START_MS).unref();
  });
  ready.destroy();
  child.unref();
  return true;
}

/** In the daemon, once it listens: cwd / (the -P pid file is written after, relative to it, as
 *  memcached's), and the command that started it may return. */
export function daemonReady(writePid: () => void): void {
  if (!daemonChild) { writePid(); return; }
  daemonChild = false;
  process.chdir('/');
  writePid();
  try {
    writeSync(READY_FD, 'R');
    closeSync(READY_FD);
  } catch { /* the command has gone already */ }
}

interface BoundPort { port: number; ipv6: boolean }

/** memcached's MEMCACHED_PORT_FILENAME (scripts and its test suite find ephemeral ports by it):
 *  a line per bound TCP then UDP socket, "TCP INET: 11211", "UDP INET6: 11211", written to
 *  NAME.lck and renamed to NAME once every socket is bound. Not with -s (memcached neither). */
export function writePortFile(tcp: readonly BoundPort[], udp: readonly BoundPort[]): void {
  const name = process.env.MEMCACHED_PORT_FILENAME;
  if (!name) return;
  const lines = [...tcp.map((p) => ['TCP', p] as const), ...udp.map((p) => ['UDP', p] as const)]
    .map(([t, p]) => `${t} ${p.ipv6 ? 'INET6' : 'INET'}: ${p.port}\n`).join('');
  try {
    appendFileSync(`${name}.lck`, lines); // memcached opens it "a"
    renameSync(`${name}.lck`, name);
  } catch (e) {
    process.stderr.write(`Failed to open "${name}.lck": ${(e as Error).message}\n`);
  }
}
