// Signals as memcached 1.6.18 handles them. main.ts imports this module first of all, so the
// listeners exist before anything else loads: without a JS listener for SIGUSR1, Node opens its
// inspector on 127.0.0.1:9229 when one arrives, a way into the process for any local user. With
// one it never does.
//
//   SIGTERM, SIGINT  stop (memcached: "Exiting normally" with -v), exit 0
//   SIGUSR1          graceful stop (memcached: "Gracefully stopping", always printed), exit 0
//   SIGHUP           re-read the -Y file; nothing else (memcached keeps serving)
//   SIGUSR2          no handler, as in memcached: the default action ends the process
//
// Until main.ts has a server (`handlers` replaced), a stop signal exits at once (with -t N,
// once the worker threads have loaded: main.ts) and SIGHUP does nothing.
import inspector from 'node:inspector';

export const handlers = {
  stop(_sig: NodeJS.Signals): void { process.exit(0); },
  hup(): void {},
};

for (const sig of ['SIGTERM', 'SIGINT', 'SIGUSR1'] as const) process.on(sig, () => handlers.stop(sig));
process.on('SIGHUP', () => handlers.hup());

// Node installs its own SIGUSR1 handler while it boots, tens of milliseconds before this module
// runs. A SIGUSR1 that came in that window has started the inspector (or will, at the main
// thread's next interrupt): close it at once and do what the signal means here, a graceful stop.
// Left alone when the inspector was asked for (--inspect*).
const asked = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--inspect'));
function shutInspector(): void {
  if (asked || inspector.url() === undefined) return;
  inspector.close();
  process.stderr.write('SIGUSR1 during start-up opened the Node inspector: closed; stopping\n');
  handlers.stop('SIGUSR1');
}
shutInspector();
setImmediate(shutInspector);
setTimeout(shutInspector, 100).unref();
