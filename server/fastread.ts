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

// ---- A bare handle's reads: an accepted connection Node has built no net.Socket for ----
// Node hands a stream handle's reads to `handle.onread` (its onStreamRead), which takes the
// byte count from Node's own state and gives the bytes to the handle's owner: with a user
// buffer owner[kBufferCb](nread), at end of stream owner.push(null), on an error
// owner.destroy(err). Here the owner is a small object in the socket's place, so a
// connection that reads and answers without ever queueing output never gets a socket and its
// two streams (most of what a short connection costs). Node's own accept, run later on the
// same handle, makes its new socket the owner and stops the reads until that is resumed.
// A socket built on a stand-in handle shows what initSocketHandle puts on a handle.
export interface StreamHandle { onread?: unknown; reading?: boolean; readStart(): number; readStop(): number; useUserBuffer?(buf: Uint8Array): void }

const handleInternals = (() => {
  const standIn: Record<string | symbol, unknown> = { readStart: () => 0, readStop: () => 0, close: (cb?: () => void) => cb?.(), getAsyncId: () => -1, reading: false };
  let onread: unknown;
  try {
    const s = new net.Socket({ handle: standIn, pauseOnCreate: true, manualStart: true } as unknown as net.SocketConstructorOpts);
    onread = standIn.onread; // (destroy() replaces it with a no-op)
    s.destroy();
  } catch { return null; }
  const owner = Object.getOwnPropertySymbols(standIn).find((s) => s.description === 'owner_symbol');
  const kUpdateTimer = Object.getOwnPropertySymbols(net.Socket.prototype).find((s) => s.description === 'kUpdateTimer');
  const kBufferGen = symbols.find((s) => s.description === 'kBufferGen');
  if (!owner || !kUpdateTimer || !kBufferGen || !kBuffer || !kBufferCb || typeof onread !== 'function' || onread.name !== 'onStreamRead') return null;
  return { owner, kUpdateTimer, kBufferGen, onread };
})();

export interface RawReader {
  /** `nread` new bytes in the buffer; false stops reading (resumeRaw restarts it) */
  data(nread: number): boolean;
  /** the peer closed its side */
  end(): void;
  /** a read failed (a reset) */
  error(err: Error): void;
}

/** Read `handle` into `buffer` without a net.Socket, from now on. False when this Node lacks
 *  what it takes (nothing done: the caller builds the socket); a read that cannot start is
 *  reported as an error. */
export function readRaw(handle: StreamHandle, buffer: Uint8Array, r: RawReader): boolean {
  const k = handleInternals;
  if (!k || typeof handle.useUserBuffer !== 'function') return false;
  const state = { endEmitted: false };
  const owner: Record<string | symbol, unknown> = {
    destroyed: false,
    _readableState: state,
    [k.kUpdateTimer]: () => {},
    [kBuffer!]: buffer,
    [kBufferCb!]: (nread: number) => r.data(nread),
    [k.kBufferGen]: null,
    push: (chunk: unknown) => { if (chunk === null && !state.endEmitted) { state.endEmitted = true; r.end(); } return false; },
    read: () => null,
    on: () => owner,
    destroy: (err: Error) => { owner.destroyed = true; r.error(err); },
  };
  (handle as unknown as Record<symbol, unknown>)[k.owner] = owner;
  handle.onread = k.onread;
  handle.useUserBuffer(buffer);
  handle.reading = true;
  const err = handle.readStart();
  if (err) r.error(new Error(`readStart: ${err}`));
  return true;
}

export function pauseRaw(handle: StreamHandle): void {
  handle.reading = false;
  handle.readStop();
}

export function resumeRaw(handle: StreamHandle): void {
  handle.reading = true;
  handle.readStart();
}
