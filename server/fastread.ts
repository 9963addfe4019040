// Socket reads straight into the parser's input window, with no Buffer allocated per read.
// Node offers this for client sockets (`new net.Socket({ onread })`) but not for accepted ones;
// the same two internal fields are set here on accepted sockets (created paused, before their
// first read). If a Node version lacks them, `readInto` says so and the caller uses 'data'.
import net from 'node:net';

// @types/node lacks `onread` in the constructor options, though Node 20 documents it.
const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as net.SocketConstructorOpts);
const symbols = Object.getOwnPropertySymbols(probe);
const kBuffer = symbols.find((s) => s.description === 'kBuffer');
const kBufferCb = symbols.find((s) => s.description === 'kBufferCb');
probe.destroy();

interface Handle { useUserBuffer?(buf: Uint8Array): void }

/** Make `sock` read into `buffer` and call `onRead(nread)` instead of emitting 'data'.
 *  Returning false from onRead stops reading (resume() restarts it). */
export function readInto(sock: net.Socket, buffer: Uint8Array, onRead: (nread: number) => boolean): boolean {
  const handle = (sock as unknown as { _handle?: Handle })._handle;
  if (!kBuffer || !kBufferCb || typeof handle?.useUserBuffer !== 'function') return false;
  const s = sock as unknown as Record<symbol, unknown>;
  s[kBuffer] = buffer;
  s[kBufferCb] = onRead;
  handle.useUserBuffer(buffer);
  return true;
}
