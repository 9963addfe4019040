// memcached's TLS (-Z, -o ssl_*): the certificate, key and client-CA files, the client
// verification modes, the minimum version, `refresh_certs`, and the numbers `stats settings`
// shows (memcached.c, tls.c of 1.6.18). Node's tls does the TLS; decrypted bytes reach the
// connection through its 'data' path (server/connection.ts), one parse call per read event.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { SslSettings } from '../protocol/settings.ts';

export class TlsConfigError extends Error {
  constructor(message: string, readonly exitCode = 64) { super(message); }
}

// OpenSSL's SSL_VERIFY_* flags: memcached stores and shows these, not the 0..3 it was given
const VERIFY_PEER = 1, VERIFY_FAIL_IF_NO_PEER_CERT = 2, VERIFY_CLIENT_ONCE = 4;
const VERIFY_MODES = [0, VERIFY_PEER, VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT | VERIFY_CLIENT_ONCE];
const MIN_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

export const SSL_DEFAULTS: Readonly<SslSettings> = Object.freeze({
  chainCert: null, key: null, caCert: null, verifyMode: 0, keyformat: 1, ciphers: null,
  wbufSize: 16 * 1024, sessionCache: false, kernelTls: false, minVersion: 2,
});

const strtol = (v: string): number | null => (/^\s*[-+]?\d+$/.test(v) ? Number.parseInt(v, 10) : null);

/** The ssl_* -o suboptions, with memcached's messages (exit status 1, as its subopts errors). */
export const SSL_SUBOPTIONS: Record<string, (s: { ssl: SslSettings }, v: string | undefined) => void> = {
  ssl_chain_cert: (s, v) => { s.ssl.chainCert = need(v, 'ssl_chain_cert'); },
  ssl_key: (s, v) => { s.ssl.key = need(v, 'ssl_key'); },
  ssl_ca_cert: (s, v) => { s.ssl.caCert = need(v, 'ssl_ca_cert'); },
  ssl_ciphers: (s, v) => { s.ssl.ciphers = need(v, 'ssl_ciphers'); },
  ssl_verify_mode: (s, v) => {
    const n = strtol(need(v, 'ssl_verify_mode'));
    if (n === null) throw new TlsConfigError('could not parse argument to ssl_verify_mode', 1);
    if (n < 0 || n > 3) throw new TlsConfigError('Invalid ssl_verify_mode. Use help to see valid options.', 1);
    s.ssl.verifyMode = VERIFY_MODES[n]!;
  },
  ssl_keyformat: (s, v) => {
    const n = strtol(need(v, 'ssl_keyformat'));
    if (n === null) throw new TlsConfigError('could not parse argument to ssl_keyformat', 1);
    s.ssl.keyformat = n;
  },
  ssl_wbuf_size: (s, v) => {
    const n = strtol(need(v, 'ssl_wbuf_size'));
    if (n === null || n < 0) throw new TlsConfigError('could not parse argument to ssl_wbuf_size', 1);
    s.ssl.wbufSize = n * 1024;
  },
  ssl_session_cache: (s) => { s.ssl.sessionCache = true; },
  ssl_kernel_tls: (s) => { s.ssl.kernelTls = true; },
  ssl_min_version: (s, v) => {
    const n = strtol(need(v, 'ssl_min_version'));
    if (n === null) throw new TlsConfigError('could not parse argument to ssl_min_version', 1);
    if (n < 0 || n > 3) throw new TlsConfigError('Invalid ssl_min_version. Use help to see valid options.', 1);
    s.ssl.minVersion = n;
  },
};

function need(v: string | undefined, name: string): string {
  if (v === undefined) throw new TlsConfigError(`Missing ${name} argument`, 1);
  return v;
}

/** Why a PEM file did not load, in a line (OpenSSL's own words are not reachable from Node). */
function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { reason?: string };
  return err.code === 'ENOENT' ? 'No such file or directory' : err.reason ?? err.message;
}

/** memcached's load_server_certificates: the first failure, in its words, or the options. */
function load(ssl: SslSettings): tls.SecureContextOptions {
  let cert: Buffer, key: Buffer;
  try { cert = readFileSync(ssl.chainCert ?? ''); tls.createSecureContext({ cert }); }
  catch (e) { throw new TlsConfigError(`Error loading the certificate chain: ${ssl.chainCert ?? '(null)'} : ${why(e)}`); }
  try { key = readFileSync(ssl.key ?? ''); tls.createSecureContext({ key }); }
  catch (e) { throw new TlsConfigError(`Error loading the key: ${ssl.key ?? '(null)'} : ${why(e)}`); }
  try { tls.createSecureContext({ cert, key }); }
  catch (e) { throw new TlsConfigError(`Error validating the certificate: ${why(e)}`); }
  // memcached trusts no CA but ssl_ca_cert's (OpenSSL's default store is never loaded): without
  // one, every client certificate fails verification. An empty list does the same here.
  let ca: Buffer[] = [];
  if (ssl.caCert !== null) {
    try { ca = [readFileSync(ssl.caCert)]; tls.createSecureContext({ ca }); }
    catch (e) { throw new TlsConfigError(`Error loading the CA certificate: ${ssl.caCert} : ${why(e)}`); }
  }
  return { cert, key, ca, ciphers: ssl.ciphers ?? undefined, minVersion: MIN_VERSIONS[ssl.minVersion] };
}

/** What the TLS state reports to, and with -t N shares with every worker's. */
export interface TlsLinks {
  /** a failed handshake (ssl_handshake_errors: a counter, summed over workers by `stats`) */
  countHandshakeError(): void;
  /** [0]: server clock time of the last (re)load of the certificates; -t N: one slot for all */
  refreshedAt: Float64Array;
  /** tell the other workers to load the files again (a refresh_certs on this one) */
  announce(): void;
  /** 48 bytes: the session ticket keys of every listener of every worker, so that a session
   *  resumes wherever the client's next connection lands (memcached has one SSL_CTX) */
  ticketKeys: Buffer;
}

/** The server's TLS state: options for new listeners, refresh_certs, the stats it adds. */
export class Tls {
  private readonly servers: tls.Server[] = [];

  constructor(private readonly ssl: SslSettings, private readonly now: () => number, private readonly links: TlsLinks) {
    this.options = load(ssl); // throws TlsConfigError: startup refuses, as memcached (exit 64)
    links.refreshedAt[0] = now();
  }

  private options: tls.SecureContextOptions;

  get lastRefresh(): number { return this.links.refreshedAt[0]!; }

  /** Options of tls.createServer for a -Z listener. */
  serverOptions(): tls.TlsOptions {
    const mode = this.ssl.verifyMode;
    return {
      ...this.options,
      // SSL_VERIFY_PEER: ask for a certificate; FAIL_IF_NO_PEER_CERT: require one
      requestCert: (mode & VERIFY_PEER) !== 0,
      rejectUnauthorized: (mode & VERIFY_FAIL_IF_NO_PEER_CERT) !== 0,
      // memcached sets SSL_OP_NO_RENEGOTIATION; session resumption only with ssl_session_cache
      ...(this.ssl.sessionCache ? { ticketKeys: this.links.ticketKeys } : { sessionTimeout: 0 }),
    };
  }

  /** A new listener: its handshake failures count in ssl_handshake_errors. */
  track(server: tls.Server): void {
    this.servers.push(server);
    server.on('tlsClientError', () => this.links.countHandshakeError());
  }

  /** memcached 1.6 mode 1 (request): a certificate, if one is sent, must verify; none is fine.
   *  Node verifies after the handshake, so the connection is dropped here. */
  admit(sock: tls.TLSSocket): boolean {
    const mode = this.ssl.verifyMode;
    if ((mode & VERIFY_PEER) === 0 || (mode & VERIFY_FAIL_IF_NO_PEER_CERT) !== 0) return true;
    if (sock.authorized || !sock.getPeerCertificate() || Object.keys(sock.getPeerCertificate()).length === 0) return true;
    this.links.countHandshakeError();
    sock.destroy();
    return false;
  }

  /** `refresh_certs`: reload the files; null on success, else memcached's error line. With -t N
   *  the other workers load them too (reloaded()) and every worker reports the new time. */
  refresh(): string | null {
    const err = this.reload();
    if (err) return `${err}\r\n`;
    this.links.refreshedAt[0] = this.now();
    this.links.announce();
    return null;
  }

  /** Load the files again for this worker's listeners (also when another worker's refresh_certs
   *  succeeded): null, or why they did not load (the certificate in use stays). */
  reload(): string | null {
    try {
      this.options = load(this.ssl);
    } catch (e) {
      return (e as Error).message;
    }
    const opts = this.serverOptions();
    for (const s of this.servers) s.setSecureContext(opts);
    return null;
  }
}

/** -t N: the main thread refuses bad certificate files, in memcached's words, before any worker
 *  starts (throws TlsConfigError), as the one loop does in its constructor. */
export function checkCertificates(ssl: SslSettings): void { load(ssl); }
