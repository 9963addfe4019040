// The one loader of the native addon, and its types. Resolved from the package root so that it
// works from native/ (tsx) and from dist/native/ (compiled) alike.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../server/package.ts';
import { createSfiParser, type SfiParser } from './sfi.ts';

export interface InitOptions {
  isolation: number;        // abi.K.REMC_ISO_*, or ISO_SFI
  watchdogMs: number;
  windowCap: number;
  faultInjection: boolean;
  debugtime: boolean;
  memLimit: number;
  itemSizeMax: number;
  growthFactor: number;
  chunkMin: number;
  evictions: boolean;
  casEnabled: boolean;
  hashpower: number;
}

export interface InitResult {
  mode: number;             // abi.K.REMC_ISO_* or ISO_SFI
  why: string;
  window: Buffer;
  desc: Uint32Array;
  res: Float64Array;
  stats: Float64Array;
}

export interface Abi {
  commands: string[];
  OP: Record<string, number>;
  PERR: Record<string, number>;
  STORE: Record<string, number>;
  MODE: Record<string, number>;
  /** slabs reassign results (remc_store.h REMC_STORE_REASSIGN) */
  REASSIGN: Record<string, number>;
  storeStats: string[];
  slabStats: string[];
  itemStats: string[];
  faultKinds: string[];
  closeReasons: string[];
  /** fault injection kinds: name -> [id, fault kind under pku, under none, under sfi] */
  faultInjections: Record<string, [number, string, string, string]>;
  validateErrors: string[];
  /** binary protocol opcodes and parse errors (remc_abi.h REMC_BIN_OPS, REMC_BIN_ERRORS) */
  BIN_OP: Record<string, number>;
  BERR: Record<string, number>;
  K: Record<string, number>;
}

export interface Native {
  abi: Abi;
  init(o: InitOptions): InitResult;
  setOutput(out: Uint8Array): void;
  /** fd: the connection's socket, shut down at once if the parser faults (-1: none) */
  /** binary: 1 on a binary-protocol connection (REMC_IN_BINARY) */
  parse(len: number, start: number, resumeOff: number, fd: number, binary?: number): number;
  get(keyOff: number, keyLen: number, bump: number, touch: number, exptime: number): number;
  copyValue(outPos: number): void;
  store(mode: number, keyOff: number, keyLen: number, valOff: number, valLen: number,
        flags: number, exptime: number, casHi: number, casLo: number): number;
  del(keyOff: number, keyLen: number, casHi: number, casLo: number): number;
  arith(keyOff: number, keyLen: number, incr: number, deltaHi: number, deltaLo: number, outPos: number): number;
  touch(keyOff: number, keyLen: number, exptime: number): number;
  flush(exptime: number): void;
  setTime(unixNow: number): void;
  reclaim(max: number): number;
  setMemLimit(bytes: number): number;
  /** slabs reassign: an abi.REASSIGN id */
  slabsReassign(src: number, dst: number): number;
  /** slabs automove 0|1|2 */
  setAutomove(mode: number): void;
  /** stats cachedump: flat [key, value length, exptime (Unix s, 0 = never)] triples, most recent first */
  cachedump(cls: number, limit: number): Array<Buffer | number>;
  /** lru_crawler metadump (cls 0 = all): flat [key, exptime, last access, cas, fetched, class, size] */
  metadump(cls: number): Array<Buffer | number | bigint>;
  itemSize(keyLen: number, valueLen: number, flags: number): number;
  storeStats(): void;
  storeStatsReset(): void;
  storeTooLarge(mode: number, keyOff: number, keyLen: number, valueLen: number, flags: number): number;
  classStats(cls: number): number;
  classCount(): number;
  checksum(): bigint;
  domainStats(): number[];
  rootTarget(): bigint;
  writeOut(fd: number, from: number, to: number): number;
  /** the wasm parser (native/sfi.ts): its memory, and one call in three steps */
  setForeign(mem: Uint8Array, io: number, window: number, heap: number, heapSize: number): number;
  foreignPrepare(len: number, start: number, resumeOff: number, binary?: number): void;
  foreignFinish(): number;
  foreignFault(fd: number, kind: number, rewindNs: number): number;
  [extra: string]: unknown;
}

/** --isolation=sfi: a mode of this loader, not of the C runtime (which then runs NONE: it still
 *  provides the window, the io area, the store and root's validation). */
export const ISO_SFI = 16;

function load(): Native {
  const require = createRequire(import.meta.url);
  const root = PACKAGE_ROOT;
  const candidates = [process.env.REMCACHED_ADDON, join(root, 'build', 'Release', 'remcached.node'),
    join(root, 'build', 'Debug', 'remcached.node')].filter((p): p is string => !!p);
  for (const p of candidates) if (existsSync(p)) return require(p) as Native;
  throw new Error(`remcached: native addon not built (looked in ${candidates.join(', ')}); run \`npm run build:native\``);
}

export const native: Native = load();
export const abi: Abi = native.abi;

/** The wasm parser, when one runs (sfi); tests and benchmarks reach it here. */
export let sfi: SfiParser | null = null;

// The parse implementation is chosen once, here, at init: native.parse stays the one call site
// of the server (server/connection.ts) and is replaced by the wasm parser's in sfi. Without a
// mode given (REMC_ISO_AUTO) the order is pku (the runtime's self-test holds), else sfi, else none.
const nativeInit = native.init;
native.init = (o: InitOptions): InitResult => {
  const K = abi.K;
  const askedSfi = o.isolation === ISO_SFI;
  const r = nativeInit({ ...o, isolation: askedSfi ? K.REMC_ISO_NONE! : o.isolation });
  if (askedSfi || (o.isolation === K.REMC_ISO_AUTO && r.mode === K.REMC_ISO_NONE)) {
    try {
      sfi = createSfiParser(native as never, r.window.length, r.desc.length / K.WORDS!, o.watchdogMs);
      native.parse = sfi.parse;
      r.mode = ISO_SFI;
      if (askedSfi) r.why = '';
    } catch (e) {
      // stays none; an explicit sfi then refuses to start (server/main.ts)
      const msg = `sfi: the WebAssembly parser cannot run: ${(e as Error).message}`;
      r.why = askedSfi || !r.why ? msg : `${r.why}; ${msg}`;
    }
  }
  return r;
};
