// memcached's words when a listener cannot be made (memcached.c, server_socket and its callers),
// exit status 71 (EX_OSERR). Observed on 1.6.18: a port in use gives one line; any other bind
// error is reported by perror("bind()") first, and the line after it names the errno left
// then: the same error when stderr is a terminal or a socket, "Invalid argument" when it is a
// regular file or a pipe (glibc's perror leaves EINVAL behind there); an unknown host name:
// getaddrinfo's message, then EINVAL.
import { existsSync, fstatSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Settings } from './config.ts';

/** Which of memcached's listeners failed: its message names it. */
export type ListenerKind = 'tcp' | 'udp' | 'unix';

/** Tag an error with the listener it came from (thrown on). */
export function onListener(kind: ListenerKind, e: unknown): unknown {
  if (e && typeof e === 'object') (e as { listener?: ListenerKind }).listener ??= kind;
  return e;
}

/** For a promise's catch: rethrow tagged with the listener. */
export const tagged = (kind: ListenerKind) => (e: unknown): never => { throw onListener(kind, e); };

// glibc's strerror for what bind and listen can answer here
const STRERROR: Record<string, string> = {
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ENAMETOOLONG: 'File name too long',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EINVAL: 'Invalid argument',
};
// gai_strerror for what Node's lookup reports (dns error codes)
const GAI: Record<string, string> = {
  ENOTFOUND: 'Name or service not known',
  EAI_NONAME: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EAI_FAIL: 'Non-recoverable failure in name resolution',
  EAI_NODATA: 'No address associated with hostname',
};

function stderrIsFile(): boolean {
  try { const st = fstatSync(2); return st.isFile() || st.isFIFO(); } catch { return false; }
}

/** The lines memcached writes to stderr before exit 71 for this listener error. */
export function listenFailure(e: unknown, s: Settings): string {
  const err = e as NodeJS.ErrnoException & { listener?: ListenerKind };
  if (!err?.listener && !err?.code) return `failed to listen: ${(e as Error)?.message ?? String(e)}`; // not a socket's error
  const kind = err.listener ?? (s.unixSocket ? 'unix' : 'tcp');
  const where = kind === 'unix' ? `failed to listen on UNIX socket: ${s.unixSocket}`
    : s.listen !== null ? `failed to listen on one of interface(s) ${s.listen}`
    : `failed to listen on ${kind === 'udp' ? 'UDP' : 'TCP'} port ${kind === 'udp' ? s.udpPort : s.port}`;
  let code = err.code ?? '';
  if (GAI[code]) return `getaddrinfo(): ${GAI[code]}\n${where}: Invalid argument`;
  // libuv reports a unix socket path whose directory is missing as EACCES
  if (kind === 'unix' && code === 'EACCES' && s.unixSocket && !existsSync(dirname(s.unixSocket))) code = 'ENOENT';
  if (code === 'EADDRINUSE' && kind !== 'unix') return `${where}: ${STRERROR[code]}`;
  const why = STRERROR[code] ?? err.message;
  return `bind(): ${why}\n${where}: ${stderrIsFile() ? STRERROR.EINVAL : why}`;
}
