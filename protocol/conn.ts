// The contract between a connection (server/connection.ts) and the protocol layer: what a
// command may ask of the connection afterwards, and the per-connection facts it reads or sets.
// Its own module so that text.ts, meta.ts and binary.ts all depend on it and not on each other.

/** What the connection must do after a command. */
export const enum After {
  CONTINUE = 0,
  /** wait until the whole command (conn.amount bytes counted from D_START) is buffered */
  NEED = 1,
  /** discard the rest of a too-large value (conn.amount bytes counted from D_DATA_OFF) */
  SWALLOW = 2,
  CLOSE = 3,
  /** `watch`: the connection becomes a log stream with conn.watchFlags (protocol/watch.ts) */
  WATCH = 4,
}

/** The per-connection facts a text or meta command can read or change. */
export interface TextConn {
  /** set by exec for After.NEED / After.SWALLOW */
  amount: number;
  /** set by exec with After.SWALLOW: the reply to send once the swallowing is done (memcached
   *  answers a too-large value only after it has read all of it) */
  afterSwallow: Buffer | null;
  lastCmdTime: number;
  /** set by exec with After.WATCH: the events the connection watches */
  watchFlags: number;
}

/** The per-connection facts a binary command can read or change (root memory). */
export interface BinaryConn extends TextConn {
  /** -S: authenticated on this connection (reset by every SASL_AUTH attempt: CVE-2013-7239) */
  authenticated: boolean;
}

/** -S: what the binary protocol needs of SASL (server/sasl.ts implements it). */
export interface SaslCheck {
  /** a PLAIN token (authzid \0 user \0 password): true if the credentials hold */
  check(token: Buffer): boolean;
}
