#!/usr/bin/env node
// remcached: parse the command line like memcached, start the server, stop cleanly on signals.
import { handlers } from './signals.ts'; // first: its listeners must exist before anything else loads
import { rmSync, writeFileSync } from 'node:fs';
import { helpText, noEffectOptions, parseArgs, UsageError, type Parsed } from './config.ts';
import { log, setVerbosity } from './log.ts';
import { daemonize, daemonReady, lowConnLimit, versionText } from './cli.ts';
import { listenFailure } from './listen-error.ts';

let parsed: Parsed;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    if (e.message) process.stderr.write(`${e.message}\n`); // memcached refuses `-o slab_sizes=` silently
    process.exit(e.exitCode);
  }
  throw e;
}

if (parsed.action === 'help') { process.stdout.write(helpText()); process.exit(0); }
if (parsed.action === 'version') { process.stdout.write(versionText(process.argv.includes('--version'))); process.exit(0); }
if (parsed.action === 'license') { process.stdout.write('remcached is distributed under the BSD 3-Clause license.\n'); process.exit(0); }

const settings = parsed.settings;
// memcached refuses a -c too low for its own descriptors (exit 1, its message)
const low = lowConnLimit(settings.connLimit, settings.threads);
if (low) { process.stderr.write(`${low}\n`); process.exit(1); }
if (settings.daemon && await daemonize()) process.exit(0);
setVerbosity(settings.verbosity);
for (const o of noEffectOptions(parsed)) log.warn({ option: o }, 'option accepted for compatibility; it has no effect here');

// Loaded only now, so that --help and bad options work without the native addon.
// -t 1: one event loop, in this thread. -t N: N worker threads (server/threads.ts).
let isolation: string, isolationWhy: string;
let stop: (sig: NodeJS.Signals) => Promise<void> | void;
let hup: () => void;
let startSingle: (() => Promise<void>) | null = null;
// -e: PATH.meta is checked (and refused, as memcached refuses it) before anything loads the store
if (settings.memoryFile) settings.restartFrom = (await import('./restart.ts')).checkRestart(settings);
settings.workerThreads = settings.threads; // -t, 4 by default as memcached
// A stop signal while the worker threads load is acted on once they have: process.exit() under a
// worker still loading the addon can abort the process (SIGABRT; seen once, SIGUSR1 400 ms into a
// start-up). A second signal meanwhile exits at once.
let stopWhileStarting: NodeJS.Signals | null = null;
if (settings.workerThreads > 1) handlers.stop = (sig) => { if (stopWhileStarting) process.exit(0); stopWhileStarting = sig; };
if (settings.workerThreads > 1) {
  const { startThreads } = await import('./threads.ts');
  let t;
  try {
    t = await startThreads(settings);
  } catch (e) {
    process.stderr.write(`${listenFailure(e, settings)}\n`);
    process.exit(71); // EX_OSERR, as memcached
  }
  ({ isolation, why: isolationWhy } = t);
  stop = (sig) => t.stop(sig);
  hup = t.hup;
} else {
  const { Server } = await import('./server.ts');
  const server = new Server(settings);
  ({ isolation, isolationWhy } = server);
  stop = (sig) => server.stop().then(() => {
    if (sig === 'SIGUSR1' && settings.memoryFile) server.saveRestart(); // -e: only a graceful stop saves
    process.exit(0);
  });
  hup = () => server.reloadAuthFile();
  startSingle = async () => {
    // --metrics first: once the cache port answers, so does the metrics one
    if (settings.metrics) await (await import('./metrics.ts')).serveMetrics(server, settings.metrics);
    await server.start();
  };
}
if (settings.isolation !== 'auto' && isolation !== settings.isolation) {
  // An explicit mode that cannot hold here refuses to start: never a silent downgrade.
  process.stderr.write(`--isolation=${settings.isolation} cannot hold on this host: ${isolationWhy}\n`);
  process.exit(64); // EX_USAGE, as memcached for options it cannot honour
}
if (isolation === 'none') {
  log.warn({ isolation: 'none', why: isolationWhy || 'requested with --isolation=none' },
    'UNPROTECTED: the request parser runs without hardware isolation; a parser memory-corruption bug can corrupt the cache or crash the server');
} else if (isolation === 'sfi') {
  log.warn({ isolation: 'sfi', why: isolationWhy || 'requested with --isolation=sfi' },
    'request parser isolated in a WebAssembly sandbox (software fault isolation): it can address nothing outside its own memory');
} else {
  log.warn({ isolation, selfTest: 'a fault inside the domain was caught and rewound' },
    'request parser isolated in a PKU domain');
}
if (settings.workerThreads > 1) log.info({ threads: settings.workerThreads }, 'worker threads serving, one parser domain each');

if (settings.crossCheck) {
  log.warn({ isolation, crossCheck: 'wasm' },
    'cross-check: every event is also parsed by the WebAssembly parser; a difference closes the connection (parser_divergences)');
}

if (startSingle) {
  try {
    await startSingle();
  } catch (e) {
    process.stderr.write(`${listenFailure(e, settings)}\n`);
    process.exit(71); // EX_OSERR, as memcached
  }
}

// -d: the daemon listens now; the pid file is written, and the command that started it returns
daemonReady(() => { if (settings.pidfile) writeFileSync(settings.pidfile, `${process.pid}\n`); });
// memcached removes its pid file on exit when it daemonised
if (settings.daemon && settings.pidfile) process.on('exit', () => rmSync(settings.pidfile!, { force: true }));
if (settings.user && process.getuid?.() === 0) {
  try { process.setgid!(settings.user); } catch { /* no group of that name: keep the user's primary group */ }
  process.setuid!(settings.user);
}

let exiting = false;
handlers.stop = (sig) => {
  if (exiting) return;
  exiting = true;
  // memcached prints "Gracefully stopping" for SIGUSR1 always, "Exiting normally" only with -v
  if (sig === 'SIGUSR1') log.warn({ signal: sig }, 'Gracefully stopping');
  else log.info({ signal: sig }, 'Exiting normally');
  void stop(sig);
};
handlers.hup = () => hup();
if (stopWhileStarting) handlers.stop(stopWhileStarting);
