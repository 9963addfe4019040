// The one loader of the native addon, and its types. Resolved from the package root so that it
// works from native/ (tsx) and from dist/native/ (compiled) alike.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../server/package.ts';
import { createSfiParser, type SfiParser } from './sfi.ts';
import { log } from '../server/log.ts';
import type { Store } from '../protocol/store.ts';
import { abi as generatedAbi } from '../protocol/abi.ts';

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
  /** -o slab_sizes: the classes' chunk sizes instead of -f's table */
  slabSizes?: number[];
  /** -o slab_chunk_max: the class after slab_sizes' */
  slabChunkMax?: number;
  evictions: boolean;
  casEnabled: boolean;
  hashpower: number;
  /** total_malloced to start from (memcached's T_MEMD_INITIAL_MALLOC test hook); 0 normally */
  fakeMalloced?: number;
  /** --cross-check: the wasm parser parses every event too; any difference closes the connection */
  crossCheck?: boolean;
  /** -e: load the store from the memory file (server/restart.ts restoreOptions) */
  restore?: object;
  /** -t N: this worker's index (its slot in `stats isolation` domain_pkeys; peer faults) */
  workerIndex?: number;
}

export interface InitResult {
  mode: number;             // abi.K.REMC_ISO_* or ISO_SFI
  why: string;
  window: Buffer;
  desc: Uint32Array;
  res: Float64Array;
  stats: Float64Array;
  /** -e: items loaded from the memory file, or why it was refused (an empty store then) */
  restored?: number;
  restoreError?: string;
  /** this domain's protection key (-1: mode none) */
  pkey: number;
  /** it is the shared key: no key of its own was left for this worker thread */
  pkeyShared: boolean;
  /** the first worker of the process to take the shared key (it logs that, once) */
  pkeySharedFirst: boolean;
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
  /** peer fault kinds (-t N): name -> [id, kind with a key per worker, with the shared key] */
  peerFaultInjections: Record<string, [number, string, string]>;
  validateErrors: string[];
  /** binary protocol opcodes and parse errors (remc_abi.h REMC_BIN_OPS, REMC_BIN_ERRORS) */
  BIN_OP: Record<string, number>;
  BERR: Record<string, number>;
  K: Record<string, number>;
}

/** The addon. Its store functions are the protocol layer's Store (protocol/store.ts). */
export interface Native extends Store {
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
  /** slabs automove 0|1|2, slab_automove_ratio, slab_automove_window (remc_store_set_automove) */
  setAutomove(mode: number, ratio: number, window: number): void;
  /** the LRU flags (1 maintainer, 2 flat) and the segmented LRU's tune: remc_store_set_lru */
  setLru(flags: number, hotPct: number, warmPct: number, hotMaxFactor: number,
         warmMaxFactor: number, tempTtl: number): void;
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
  /** recv(MSG_DONTWAIT) of up to len bytes into window[0..): n, 0 at EOF, or -errno */
  readIn(fd: number, len: number): number;
  /** malloc_trim(0): give freed heap memory back to the kernel (after a burst) */
  trimMemory(): number;
  /** the wasm parser (native/sfi.ts): its memory, and one call in three steps */
  setForeign(mem: Uint8Array, io: number, window: number, heap: number, heapSize: number): number;
  foreignPrepare(len: number, start: number, resumeOff: number, binary?: number): void;
  foreignFinish(): number;
  foreignFault(fd: number, kind: number, rewindNs: number): number;
  crossPrepare(): void;
  crossCompare(fd: number, wasmFaultKind: number): number;
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

// protocol/ reads these constants from protocol/abi.ts, generated from a built addon: the two
// must be the same, or every descriptor would be misread.
if (JSON.stringify(generatedAbi) !== JSON.stringify(abi)) {
  throw new Error('remcached: protocol/abi.ts does not match the built native addon; run `node scripts/gen-abi.mjs`');
}

/** The wasm parser, when one runs (sfi, --cross-check); tests and benchmarks reach it here. */
export let sfi: SfiParser | null = null;

/** --cross-check: events on which this thread's two variants disagreed (the fuzzer's count;
 *  stats parser_divergences counts every worker's, as connections close on them). */
export const crossStats = { divergences: 0 };
const CROSS_DIFF = ['same', 'the wasm variant trapped', 'status', 'consumed', 'descriptor count',
  'resume point', 'close reason', 'descriptor words'];

/** Native parse, then the wasm parser on the same request, compared before root acts on either
 *  (multi-variant execution). A native fault or invalid output is reported as usual; a
 *  difference is P_INVALID with the violation "DIVERGED" (the socket already shut down). */
function crossParser(nativeParse: Native['parse'], w: SfiParser): Native['parse'] {
  const K = abi.K;
  const P_INVALID = K.P_INVALID!;
  const prepare = native.crossPrepare, compare = native.crossCompare;
  // Tests only: REMCACHED_TEST_CROSS_TAMPER=<op id> makes the wasm variant's D_AUX of that op one
  // more, as a corrupted variant that does not crash would (test/sfi/cross-check.test.ts).
  const tamper = Number(process.env.REMCACHED_TEST_CROSS_TAMPER ?? -1);
  const u32 = new Uint32Array(w.memory.buffer);
  const io32 = w.layout.io / 4, W = K.WORDS!;
  return (len, start, resumeOff, fd, binary) => {
    const st = nativeParse(len, start, resumeOff, fd, binary);
    if (st < 0) return st;
    prepare();
    const kind = w.run();
    if (tamper >= 0 && kind === 0) {
      for (let i = 0, n = u32[io32 + 20]!; i < n; i++) if (u32[io32 + 24 + i * W]! === tamper) u32[io32 + 24 + i * W + K.D_AUX!]!++;
    }
    const diff = compare(fd, kind);
    if (diff === 0) return st;
    crossStats.divergences++;
    log.warn({ conn: fd, divergence: CROSS_DIFF[diff] ?? diff, wasm_fault: kind ? abi.faultKinds[kind] : undefined },
      'parser variants diverged (native and wasm); connection closed');
    return P_INVALID;
  };
}

// The parse implementation is chosen once, here, at init: native.parse stays the one call site
// of the server (server/connection.ts) and is replaced by the wasm parser's in sfi. Without a
// mode given (REMC_ISO_AUTO) the order is pku (the runtime's self-test holds), else sfi, else none.
const nativeInit = native.init;
native.init = (o: InitOptions): InitResult => {
  const K = abi.K;
  const askedSfi = o.isolation === ISO_SFI;
  const r = nativeInit({ ...o, isolation: askedSfi ? K.REMC_ISO_NONE! : o.isolation });
  if (o.crossCheck && !askedSfi) {
    // the native variant in its pku or none domain, the wasm one beside it; no wasm: exit 64
    try {
      sfi = createSfiParser(native as never, r.window.length, r.desc.length / K.WORDS!, o.watchdogMs);
    } catch (e) {
      throw new Error(`--cross-check: the WebAssembly parser cannot run: ${(e as Error).message}`);
    }
    native.parse = crossParser(native.parse, sfi);
  } else if (askedSfi || (o.isolation === K.REMC_ISO_AUTO && r.mode === K.REMC_ISO_NONE)) {
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
