// Every reply line remcached sends, byte for byte as memcached 1.6.18 sends it, and which
// parser errors / store results map to which line. The only place these strings live.
import { abi } from './abi.ts';

const line = (s: string): Buffer => Buffer.from(`${s}\r\n`, 'latin1');

export const R = {
  STORED: line('STORED'),
  NOT_STORED: line('NOT_STORED'),
  EXISTS: line('EXISTS'),
  NOT_FOUND: line('NOT_FOUND'),
  DELETED: line('DELETED'),
  TOUCHED: line('TOUCHED'),
  END: line('END'),
  OK: line('OK'),
  RESET: line('RESET'),
  ERROR: line('ERROR'),
  TOO_MANY_CONNECTIONS: line('ERROR Too many open connections'),
  SHUTDOWN_DISABLED: line('ERROR: shutdown not enabled'),
  INVALID_SHUTDOWN_MODE: line('CLIENT_ERROR invalid shutdown mode'),
  BAD_FORMAT: line('CLIENT_ERROR bad command line format'),
  BAD_DATA_CHUNK: line('CLIENT_ERROR bad data chunk'),
  DELETE_USAGE: line('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]'),
  INVALID_EXPTIME: line('CLIENT_ERROR invalid exptime argument'),
  INVALID_DELTA: line('CLIENT_ERROR invalid numeric delta argument'),
  NON_NUMERIC: line('CLIENT_ERROR cannot increment or decrement non-numeric value'),
  FLUSH_DISABLED: line('CLIENT_ERROR flush_all not allowed'),
  CACHEDUMP_DISABLED: line('CLIENT_ERROR stats cachedump not allowed'),
  STATS_DETAIL_USAGE: line('CLIENT_ERROR usage: stats detail on|off|dump'),
  TOO_LARGE: line('SERVER_ERROR object too large for cache'),
  NO_MEMORY_STORING: line('SERVER_ERROR out of memory storing object'),
  NO_MEMORY: line('SERVER_ERROR out of memory'),
  NO_FAULT: line('CLIENT_ERROR no such fault kind'),
  // admin commands (protocol/admin.ts)
  CACHEDUMP_BAD_LINE: line('CLIENT_ERROR bad command line'),
  ILLEGAL_SLAB_ID: line('CLIENT_ERROR Illegal slab id'),
  MEMLIMIT_TOO_SMALL: line('MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m'),
  MEMLIMIT_NOT_BYTES: line('MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes'),
  MEMLIMIT_FAILED: line('MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust'),
  LRU_PCTS: line('ERROR hot and warm pcts must not exceed 80'),
  LRU_FACTORS: line('ERROR hot/warm age factors must be greater than 0'),
  SLAB_REASSIGN_DISABLED: line('CLIENT_ERROR slab reassignment disabled'),
  CRAWLER_DISABLED: line('CLIENT_ERROR lru crawler disabled'),
  CRAWLER_SLEEP: line('CLIENT_ERROR sleep must be one second or less'),
  CRAWLER_START_FAILED: line('ERROR failed to start lru crawler thread'),
  CRAWLER_BADCLASS: line('BADCLASS invalid class id'),
  CRAWLER_NOTSTARTED: line('NOTSTARTED no items to crawl'),
  METADUMP_DISABLED: line('ERROR metadump not allowed'),
  WATCH_DISABLED: line('CLIENT_ERROR watch commands not allowed'),
  WATCH_PIPELINE: line('ERROR cannot pipeline other commands before watch'),
  METADUMP_PIPELINE: line('ERROR cannot pipeline other commands before metadump'),
  OOM_GET: line('SERVER_ERROR out of memory writing get response'),
  WATCHER_TOO_MANY: line('WATCHER_TOO_MANY log watcher limit reached'),
  TLS_NOT_ENABLED: line('Error TLS not enabled'),
  // ASCII auth (-Y, server/ascii-auth.ts)
  UNAUTHENTICATED: line('CLIENT_ERROR unauthenticated'),
  AUTH_FAILURE: line('CLIENT_ERROR authentication failure'),
  AUTH_TOKEN_FORMAT: line('CLIENT_ERROR bad authentication token format'),
  AUTH_TOKEN_TOO_LONG: line('CLIENT_ERROR auth token too long'),
  BAD_LINE_TERMINATION: line('CLIENT_ERROR bad command line termination'),
  VALUE: Buffer.from('VALUE ', 'latin1'),
} as const;

/** Reply for a parse error (D_ERR), indexed by the error id. */
export const PARSE_ERROR_REPLY: Buffer[] = [];
{
  const P = abi.PERR;
  const map: Record<string, Buffer> = {
    ERROR: R.ERROR, BAD_FORMAT: R.BAD_FORMAT, BAD_DATA_CHUNK: R.BAD_DATA_CHUNK,
    DELETE_USAGE: R.DELETE_USAGE, INVALID_EXPTIME: R.INVALID_EXPTIME,
    INVALID_DELTA: R.INVALID_DELTA, KEY_TOO_LONG: R.BAD_FORMAT,
  };
  for (const [name, id] of Object.entries(P)) {
    if (name === 'NONE') continue;
    const reply = map[name];
    if (!reply) throw new Error(`protocol/replies.ts: no reply for parse error ${name}`);
    PARSE_ERROR_REPLY[id] = reply;
  }
}

/** `slabs reassign` replies by store result (abi.REASSIGN). */
export const REASSIGN_REPLY: Buffer[] = [];
{
  const map: Record<string, Buffer> = {
    OK: R.OK, BUSY: line('BUSY currently processing reassign request'),
    BADCLASS: line('BADCLASS invalid src or dst class id'),
    NOSPARE: line('NOSPARE source class has no spare pages'), SAME: line('SAME src and dst class are identical'),
  };
  for (const [name, id] of Object.entries(abi.REASSIGN)) {
    const reply = map[name];
    if (!reply) throw new Error(`protocol/replies.ts: no reply for slabs reassign result ${name}`);
    REASSIGN_REPLY[id] = reply;
  }
}

/** Reply for a store result of a storage command, indexed by result id. */
export const STORE_REPLY: Buffer[] = [];
{
  const S = abi.STORE;
  STORE_REPLY[S.STORED] = R.STORED;
  STORE_REPLY[S.NOT_STORED] = R.NOT_STORED;
  STORE_REPLY[S.EXISTS] = R.EXISTS;
  STORE_REPLY[S.NOT_FOUND] = R.NOT_FOUND;
  STORE_REPLY[S.DELETED] = R.DELETED;
  STORE_REPLY[S.TOUCHED] = R.TOUCHED;
  STORE_REPLY[S.TOO_LARGE] = R.TOO_LARGE;
  STORE_REPLY[S.NO_MEMORY] = R.NO_MEMORY_STORING;
  STORE_REPLY[S.NON_NUMERIC] = R.NON_NUMERIC;
}

/**
 * Binary protocol response statuses and the exact error bodies memcached 1.6.18 sends with them
 * (proto_bin.c write_bin_error; reference §1.9). AUTH_CONTINUE has no fixed body.
 */
export const BIN_STATUS = {
  SUCCESS: 0x0000,
  KEY_ENOENT: 0x0001,
  KEY_EEXISTS: 0x0002,
  E2BIG: 0x0003,
  EINVAL: 0x0004,
  NOT_STORED: 0x0005,
  DELTA_BADVAL: 0x0006,
  AUTH_ERROR: 0x0020,
  AUTH_CONTINUE: 0x0021,
  UNKNOWN_COMMAND: 0x0081,
  ENOMEM: 0x0082,
  /** memcached never sends it; remcached's debug_fault does when no isolation caught the fault */
  EINTERNAL: 0x0084,
} as const;

/** Error body by status. */
export const BIN_ERROR_BODY: Record<number, Buffer> = {
  [BIN_STATUS.KEY_ENOENT]: Buffer.from('Not found', 'latin1'),
  [BIN_STATUS.KEY_EEXISTS]: Buffer.from('Data exists for key.', 'latin1'),
  [BIN_STATUS.E2BIG]: Buffer.from('Too large.', 'latin1'),
  [BIN_STATUS.EINVAL]: Buffer.from('Invalid arguments', 'latin1'),
  [BIN_STATUS.NOT_STORED]: Buffer.from('Not stored.', 'latin1'),
  [BIN_STATUS.DELTA_BADVAL]: Buffer.from('Non-numeric server-side value for incr or decr', 'latin1'),
  [BIN_STATUS.AUTH_ERROR]: Buffer.from('Auth failure.', 'latin1'),
  [BIN_STATUS.UNKNOWN_COMMAND]: Buffer.from('Unknown command', 'latin1'),
  [BIN_STATUS.ENOMEM]: Buffer.from('Out of memory', 'latin1'),
};

/**
 * debug_fault <id> whose fault nothing caught (isolation none): what really happened, by id
 * (the root and store kinds really wrote or read their target). Unknown ids have no entry: they
 * answer NO_FAULT.
 */
export const FAULT_NOT_CAUGHT: Map<number, { text: Buffer; binaryBody: Buffer }> = new Map(
  [...Object.entries(abi.faultInjections), ...Object.entries(abi.peerFaultInjections)].map(([name, [id]]) => {
    const what = name === 'root_write' ? ': root memory was overwritten'
      : name === 'store_write' ? ': the cache was overwritten'
      : name === 'store_read' ? ': the cache was read'
      // the peer kinds with a shared key (or none): another worker thread's parser memory
      : name === 'peer_write' ? ": another worker's domain memory was overwritten"
      : name === 'peer_read' ? ": another worker's domain memory was read" : '';
    const msg = `fault ${name} was committed and not caught (no isolation)${what}`;
    return [id, { text: line(`SERVER_ERROR ${msg}`), binaryBody: Buffer.from(msg, 'latin1') }];
  }));

/** Binary success bodies. */
export const BIN_BODY = {
  AUTHENTICATED: Buffer.from('Authenticated', 'latin1'),
  /** remcached's fault-injection opcode when the kind committed no fault (REMC_BIN_DEBUG_FAULT) */
  NO_FAULT: Buffer.from('no such fault kind', 'latin1'),
} as const;

/** Meta commands (protocol/meta.ts): return codes, and every error line they can send. */
export const META = {
  HD: Buffer.from('HD', 'latin1'),
  NS: Buffer.from('NS', 'latin1'),
  EX: Buffer.from('EX', 'latin1'),
  NF: Buffer.from('NF', 'latin1'),
  EN: Buffer.from('EN', 'latin1'),
  VA: Buffer.from('VA ', 'latin1'),
  ME: Buffer.from('ME ', 'latin1'),
  MN: line('MN'),
  EN_LINE: line('EN'),
  OPAQUE_TOO_LONG: line('CLIENT_ERROR opaque token too long'),
  INVALID_MODE_MS: line('CLIENT_ERROR invalid mode for ms M token'),
  INVALID_MODE_MA: line('CLIENT_ERROR invalid mode for ma M token'),
  REFCOUNT_OVERFLOW: line('SERVER_ERROR refcount overflow during fetch'),
  VIVIFY_NO_MEMORY: line('SERVER_ERROR Out of memory allocating new item'),
  DECODE_KEY: line('CLIENT_ERROR error decoding key'),
} as const;

/** Reply for a meta parse error (D_ERR of a meta op), indexed by the error id (abi.MERR). */
export const META_ERROR_REPLY: Buffer[] = [];
{
  const map: Record<string, Buffer> = {
    ERROR: R.ERROR, BAD_FORMAT: R.BAD_FORMAT, BAD_DATA_CHUNK: R.BAD_DATA_CHUNK,
    FLAGS_TOO_LONG_MG: line('CLIENT_ERROR options flags are too long'),
    FLAGS_TOO_LONG: line('CLIENT_ERROR options flags too long'),
    INVALID_FLAG: line('CLIENT_ERROR invalid flag'),
    DUP_FLAG: line('CLIENT_ERROR duplicate flag'),
    BAD_TOKEN: line('CLIENT_ERROR bad token in command line format'),
    DECODE_KEY: META.DECODE_KEY,
    M_LENGTH: line('CLIENT_ERROR incorrect length for M token'),
    INVALID_INITIAL: line('CLIENT_ERROR invalid numeric initial value'),
    INVALID_DELTA: line('CLIENT_ERROR invalid numeric delta value'),
    INVALID_OR_DUP: line('CLIENT_ERROR invalid or duplicate flag'),
  };
  for (const [name, id] of Object.entries(abi.MERR)) {
    if (name === 'NONE') continue;
    const reply = map[name];
    if (!reply) throw new Error(`protocol/replies.ts: no reply for meta parse error ${name}`);
    META_ERROR_REPLY[id] = reply;
  }
}
