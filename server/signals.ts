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
// Until main.ts has a server (`handlers` replaced), a stop signal exits at once and SIGHUP
// does nothing.
export const handlers = {
  stop(_sig: NodeJS.Signals): void { process.exit(0); },
  hup(): void {},
};

for (const sig of ['SIGTERM', 'SIGINT', 'SIGUSR1'] as const) process.on(sig, () => handlers.stop(sig));
process.on('SIGHUP', () => handlers.hup());
