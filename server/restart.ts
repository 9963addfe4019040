// -e PATH: memcached's restartable cache. At a graceful stop (SIGUSR1, `shutdown graceful`) the
// items go to PATH (native/store/store_persist.c) and the settings and clock to PATH.meta, in
// memcached's metadata format; the next start with the same settings reads PATH.meta as
// memcached's restart.c and memcached.c do (same checks, same messages, same refusals), deletes
// it, and has the store load PATH. memcached mmaps PATH as its slab memory; here it is a dump
// written once at the stop, which is why a stop by SIGTERM or a crash leaves nothing to restore.
import { closeSync, constants, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Settings } from './config.ts';
import { log } from './log.ts';

/** What the store needs to load PATH: what PATH.meta said (native/binding/persist_js.cc). */
export type RestartFrom = NonNullable<Settings['restartFrom']>;

/** What native restartSave returns: the store's state at the dump. */
export interface Saved {
  items: number; started: number; now: number; oldestLive: number; oldestCas: bigint; casCounter: bigint; hashpower: number;
}

const SLAB_PAGE_SIZE = 1024 * 1024;
/** memcached's RESTART_REQUIRED_META: lines it must see, else a missing line could pass */
const REQUIRED = 17;
/** read at most this much of PATH.meta (remcached's own is about 400 bytes) */
const META_MAX = 64 * 1024;

/** memcached's slab_config: the -f string (or -o slab_sizes'); compared as text */
const slabConfig = (s: Settings) => String(s.growthFactor);

/** The keys memcached's _mc_meta_save_cb writes, in its order, and remcached's one more. */
function metaLines(s: Settings, d: Saved, id: bigint): string {
  const kv: Array<[string, string | number | bigint]> = [
    ['slab_config', slabConfig(s)],
    ['maxbytes', s.memoryLimitMb * 1024 * 1024],
    ['chunk_size', s.slabMinSize],
    ['item_size_max', s.maxItemSize],
    ['slab_chunk_size_max', s.slabChunkMax],
    ['slab_page_size', SLAB_PAGE_SIZE],
    ['use_cas', s.disableCas ? 'false' : 'true'],
    ['slab_reassign', s.slabReassign ? 'true' : 'false'],
    ['current_time', d.now],
    ['process_started', d.started],
    ['stop_time', Math.floor(Date.now() / 1000)],
    ['current_cas', d.casCounter],
    ['oldest_cas', d.oldestCas],
    ['logger_gid', 0], // the watch gids start again from 0 (memcached carries them on)
    ['hashpower', d.hashpower],
    ['oldest_live', d.oldestLive],
    ['mmap_oldbase', '0x0'], // no mmap'd memory to fix pointers in
    ['remcached_dump', id.toString(16)], // pairs PATH.meta with the PATH written at this stop
  ];
  return `Tmain\n${kv.map(([k, v]) => `K${k} ${v}\n`).join('')}`;
}

/** native init's `restore` option (native/binding/persist_js.cc): 64-bit values as BigInt */
export function restoreOptions(r: RestartFrom | null): object | undefined {
  if (!r) return undefined;
  return { path: r.path, id: BigInt(r.id), started: r.started, oldestLive: r.oldestLive, oldestCas: BigInt(r.oldestCas), casCounter: BigInt(r.casCounter) };
}

/** Graceful stop: write PATH, then PATH.meta naming it. Called once nothing serves any more. */
export function saveRestart(s: Settings, save: (path: string, id: bigint) => Saved): void {
  const path = s.memoryFile!;
  const id = randomBytes(8).readBigUInt64LE();
  let d: Saved;
  try {
    d = save(path, id);
  } catch (e) {
    process.stderr.write(`[restart] failed to save metadata: ${(e as Error).message}\n`);
    return;
  }
  const meta = `${path}.meta`;
  try {
    // whole or not at all: a half-written metadata file would refuse the next start
    // O_EXCL: never through a link someone left at that name (memcached's fopen would follow it)
    rmSync(`${meta}.tmp`, { force: true });
    writeFileSync(`${meta}.tmp`, metaLines(s, d, id), { mode: 0o600, flag: 'wx' });
    renameSync(`${meta}.tmp`, meta);
  } catch (e) {
    rmSync(`${meta}.tmp`, { force: true });
    process.stderr.write(`failed to write metadata file: ${(e as Error).message}\n[restart] failed to save metadata\n`);
    return;
  }
  log.info({ memoryFile: path, items: d.items }, '[restart] cache saved');
}

/** memcached's bytes as they are (the metadata file is read as latin1) */
const say = (msg: string) => process.stderr.write(Buffer.from(msg, 'latin1'));

/** memcached aborts on these (SIGABRT, no clean-up): the metadata file stays for the next try. */
function abort(msg: string): never {
  say(`${msg}\n`);
  process.kill(process.pid, 'SIGABRT'); // no handler: the default action, as memcached's abort()
  process.exit(134); // not reached
}

const U32 = 0xffffffffn;
/** memcached's safe_strtoull/safe_strtoul/safe_strtol on a value: digits only, in range */
function unsigned(v: string, max: bigint): bigint | null {
  if (!/^\d{1,20}$/.test(v)) return null;
  const n = BigInt(v);
  return n <= max ? n : null;
}
function signed32(v: string): number | null {
  if (!/^[-+]?\d{1,10}$/.test(v)) return null;
  const n = Number(v);
  return n >= -(2 ** 31) && n < 2 ** 31 ? n : null;
}

/**
 * Start with -e PATH: open PATH as memcached does (refused as it refuses), then check PATH.meta.
 * Returns what the store must load, or null for an empty cache. Sets settings.hashpower to the
 * saved table size (memcached: hashpower_init). Malformed metadata aborts, as memcached's.
 */
export function checkRestart(s: Settings): RestartFrom | null {
  const path = s.memoryFile!;
  try {
    closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT, 0o700));
  } catch (e) {
    abort(`failed to open file for mmap: ${strerror(e)}`);
  }
  const meta = `${path}.meta`;
  let text: string;
  try {
    // what a metadata file can hold is a few hundred bytes: a bigger one is not read whole
    const fd = openSync(meta, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(META_MAX);
      text = buf.toString('latin1', 0, readSync(fd, buf, 0, META_MAX, 0));
    } finally { closeSync(fd); }
  } catch {
    say('[restart] no metadata save file, starting with a clean cache\n');
    return null;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the last newline ends the last line
  let at = 0;
  let done = false;
  type Kv = { kind: 'ok'; key: string; val: string } | { kind: 'done' } | { kind: 'bad' };
  /** memcached's restart_get_kv */
  const next = (): Kv => {
    if (at >= lines.length) { done = true; return { kind: 'done' }; }
    const line = lines[at++]!.split('\0')[0]!; // C strings: memcached sees up to the first NUL
    if (line[0] === 'T') {
      if (line.slice(1) !== 'main') {
        say(`[restart] internal handler for metadata tag not found: ${line.slice(1)}:\n`);
        return { kind: 'bad' };
      }
      tagged = true;
      return { kind: 'done' };
    }
    if (line[0] === 'K') {
      const sp = line.indexOf(' ');
      return sp < 0 ? { kind: 'ok', key: line.slice(1), val: '' } : { kind: 'ok', key: line.slice(1, sp), val: line.slice(sp + 1) };
    }
    say(`[restart] invalid metadata line:\n\n${line}\n`);
    return { kind: 'bad' };
  };
  let tagged = false;
  const first = next();
  if (first.kind !== 'done') abort('[restart] corrupt metadata file');
  if (!tagged) abort('[restart] Failed to read a tag from metadata file');

  const from: RestartFrom = { path, id: '', started: 0, oldestLive: 0, oldestCas: '0', casCounter: '0' };
  let hashpower = s.hashpower;
  /** memcached's _mc_meta_load_cb: 0 when the cache may be reused */
  const load = (): number => {
    let seen = 0;
    let rc = 0;
    for (let kv = next(); kv.kind === 'ok'; kv = next()) {
      const { key, val } = kv;
      let ok = true;
      const num = (max: bigint) => unsigned(val, max);
      const eq = (want: number) => { const n = signed32(val); ok = n !== null && n === want; };
      const bool = (want: boolean) => { ok = val === (want ? 'true' : 'false'); };
      switch (key) {
        case 'mmap_oldbase': ok = /^(0x)?[0-9a-f]{1,16}$/i.test(val); break;
        case 'maxbytes': { const n = /^[-+]?\d{1,19}$/.test(val) ? BigInt(val) : null; ok = n === BigInt(s.memoryLimitMb) * 1048576n; break; }
        case 'chunk_size': eq(s.slabMinSize); break;
        case 'item_size_max': eq(s.maxItemSize); break;
        case 'slab_chunk_size_max': eq(s.slabChunkMax); break;
        case 'slab_page_size': eq(SLAB_PAGE_SIZE); break;
        case 'slab_config': ok = val === slabConfig(s); break;
        case 'use_cas': bool(!s.disableCas); break;
        case 'slab_reassign': bool(s.slabReassign); break;
        case 'current_cas': { const n = num(2n ** 64n - 1n); ok = n !== null; if (ok) from.casCounter = String(n); break; }
        case 'oldest_cas': { const n = num(2n ** 64n - 1n); ok = n !== null; if (ok) from.oldestCas = String(n); break; }
        case 'oldest_live': { const n = num(U32); ok = n !== null; if (ok) from.oldestLive = Number(n); break; }
        case 'logger_gid': ok = num(2n ** 64n - 1n) !== null; break;
        case 'current_time': ok = num(U32) !== null; break;
        case 'stop_time': {
          const n = /^[-+]?\d{1,19}$/.test(val) ? Number(val) : null;
          // the clock must have moved on since the stop, as memcached's time_delta > 0
          ok = n !== null && Math.floor(Date.now() / 1000) - n > 0;
          break;
        }
        case 'process_started': { const n = num(2n ** 53n); ok = n !== null; if (ok) from.started = Number(n); break; }
        case 'hashpower': { const n = num(U32); ok = n !== null; if (ok) hashpower = Number(n); break; }
        case 'remcached_dump': { const n = /^[0-9a-f]{1,16}$/.test(val) ? BigInt(`0x${val}`) : null; ok = n !== null; if (ok) from.id = String(n); break; }
        default:
          say(`[restart] unknown/unhandled key: ${key}\n`);
          continue;
      }
      if (key !== 'remcached_dump') seen++; // remcached's own line: not one of memcached's 17
      if (!ok) {
        say(`[restart] restart incompatible due to setting for [${key}] [old value: ${val}]\n`);
        rc = -1;
        break;
      }
    }
    if (seen < REQUIRED) {
      say('[restart] missing some metadata lines\n');
      rc = -1;
    }
    return rc;
  };
  let failed = false;
  while (!done) {
    if (load() !== 0) { failed = true; break; }
  }
  rmSync(meta, { force: true }); // read once: a crash from here on must not restore this memory
  if (!failed && from.id === '') {
    say('[restart] metadata file names no remcached dump\n');
    failed = true;
  }
  if (failed) {
    say('[restart] failed to validate metadata, starting with a clean cache\n');
    return null;
  }
  // memcached sizes its hash table from the saved hash power (shown as hashpower_init)
  if (hashpower >= 1 && hashpower <= 32) s.hashpower = hashpower;
  return from;
}

function strerror(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory', EROFS: 'Read-only file system', ENOSPC: 'No space left on device',
  };
  return (err.code && words[err.code]) ?? err.message;
}
