// One worker thread of -t N (server/threads.ts starts them): its own event loop, connections,
// input window, output buffer and parser domain, over the store all workers share.
import { parentPort, workerData } from 'node:worker_threads';
import type { Settings } from './config.ts';
import { setVerbosity } from './log.ts';
import type { ListenFd } from './server.ts';
import type { SharedBuffers } from './shared.ts';
import { listenFailure } from './listen-error.ts';

interface Data { settings: Settings; shared: SharedBuffers; index: number; fds: ListenFd[] }
const { settings, shared, index, fds } = workerData as Data;
const port = parentPort!;
setVerbosity(settings.verbosity);

const { Server } = await import('./server.ts');
// Worker 0 creates the shared store and settles the isolation mode; the others load meanwhile
// (on another core) and attach to the store once the main thread says it is there. What worker 0
// broadcasts before that is dropped, as when the others were started only after it.
if (index > 0) {
  await new Promise<void>((go) => {
    const wait = (m: { type: string }) => { if (m.type === 'store') { port.off('message', wait); go(); } };
    port.on('message', wait);
  });
}
const server = new Server(settings, { shared, index, fds, post: (m) => port.postMessage(m) });

port.on('message', (m: { type: string; changes?: Record<string, unknown>; from?: number; lines?: Array<number | string> }) => {
  switch (m.type) {
    case 'log': server.watch.receive(m.lines!); break;
    case 'listen': void listen(); break;
    case 'udp': void udp(); break;
    case 'metrics': void metrics(); break;
    case 'gather': server.serveGather(); break;
    case 'settings': server.applySettings(m.changes!); break;
    case 'tick': server.tick(); break;
    case 'hup': server.reloadAuthFile(); break;
    case 'refresh_certs': server.certificatesRefreshed(); break;
    case 'stop': void server.stop().then(() => port.postMessage({ type: 'stopped' })); break;
    case 'save': server.saveRestart(); port.postMessage({ type: 'saved' }); break;
  }
});

// Listen only when every worker is loaded (the main thread says so): a worker listening alone
// would take every connection made meanwhile, and keep them.
async function listen(): Promise<void> {
  try {
    await server.start();
  } catch (e) {
    port.postMessage({ type: 'fatal', code: 71, message: listenFailure(e, settings) });
    process.exit(71);
  }
  port.postMessage({ type: 'ready', isolation: server.isolation, why: server.isolationWhy });
}
// -U: worker 0 binds the UDP sockets before any worker listens (the main thread waits for it)
async function udp(): Promise<void> {
  try {
    await server.listenUdp();
  } catch (e) {
    port.postMessage({ type: 'fatal', code: 71, message: listenFailure(e, settings) });
    process.exit(71);
  }
  port.postMessage({ type: 'udp', ports: server.udpPorts() });
}
// --metrics: served by worker 0, which reads the shared store and every worker's counters. The
// main thread asks for it before any worker listens, so that both answer once the cache port does.
async function metrics(): Promise<void> {
  try {
    await (await import('./metrics.ts')).serveMetrics(server, settings.metrics!);
  } catch (e) {
    port.postMessage({ type: 'fatal', code: 71, message: `failed to listen: ${(e as Error).message}` });
    process.exit(71);
  }
  port.postMessage({ type: 'metrics' });
}
port.postMessage({ type: 'loaded' });
