// Runs Debian's memaslap (`memcaslap`) against one server for a bounded time and parses its
// summary. The workload (key/value sizes, 1:9 set:get) lives in bench/memaslap.cfg.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const MEMASLAP = 'memcaslap';
export const WORKLOAD = join(dirname(fileURLToPath(import.meta.url)), '..', 'memaslap.cfg');

export interface MemaslapOptions {
  port: number;
  seconds: number;
  concurrency: number;
  threads: number;
  binary: boolean;
  /** fraction of gets whose value memaslap checks (its -v); 0 = off */
  verify: number;
  /** passed through verbatim (e.g. ['-d', '10'] for 10-key multi-gets) */
  extra: string[];
}

export interface MemaslapResult {
  ok: boolean;
  /** why the run is unusable (timeout, exit code, no summary line) */
  error?: string;
  seconds: number;
  ops: number;
  tps: number;
  cmdGet: number;
  cmdSet: number;
  getMisses: number;
  readBytes: number;
  /** gets whose value memaslap checked and found wrong (-v) */
  verifyFailed: number;
  /** lines memaslap printed about failed reads/writes or closed connections (none in a clean run) */
  connErrors: number;
  /** the last lines of output, kept for the JSON report when something went wrong */
  tail: string;
}

export function memaslapArgs(o: MemaslapOptions): string[] {
  return [
    '-s', `127.0.0.1:${o.port}`, '-F', WORKLOAD,
    '-T', String(o.threads), '-c', String(o.concurrency), '-t', `${o.seconds}s`,
    ...(o.binary ? ['-B'] : []), ...(o.verify > 0 ? ['-v', String(o.verify)] : []), ...o.extra,
  ];
}

const num = (out: string, re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);

/** Parse memaslap's final summary ("Run time: 10.0s Ops: 1090522 TPS: 218086 Net_rate: ..."). */
export function parseMemaslap(out: string): Omit<MemaslapResult, 'ok' | 'error' | 'tail'> | null {
  // The last "Run time" line is the whole-run total (with -S, earlier ones are periodic).
  const runs = [...out.matchAll(/Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+)/g)];
  const last = runs[runs.length - 1];
  if (!last) return null;
  return {
    seconds: Number(last[1]), ops: Number(last[2]), tps: Number(last[3]),
    cmdGet: num(out, /^cmd_get: (\d+)/m), cmdSet: num(out, /^cmd_set: (\d+)/m),
    getMisses: num(out, /^get_misses: (\d+)/m), readBytes: num(out, /^read_bytes: (\d+)/m),
    verifyFailed: num(out, /^verify_failed: (\d+)/m) || 0,
    connErrors: out.split('\n').filter((l) => /fail|error|closed|reconn/i.test(l) && !/^verify_failed:/.test(l)).length,
  };
}

/** Run memaslap; never takes longer than seconds + 20 s (then it is killed and reported). */
export function runMemaslap(o: MemaslapOptions): Promise<MemaslapResult> {
  return new Promise((resolve) => {
    const p = spawn(MEMASLAP, memaslapArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => { out += d.toString('latin1'); if (out.length > 1 << 20) out = out.slice(-(1 << 16)); };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, (o.seconds + 20) * 1000);
    const fail = (error: string): MemaslapResult =>
      ({ ok: false, error, seconds: 0, ops: 0, tps: 0, cmdGet: 0, cmdSet: 0, getMisses: 0, readBytes: 0, verifyFailed: 0, connErrors: 0, tail: out.slice(-2000) });
    p.once('error', (e) => { clearTimeout(timer); resolve(fail(`cannot run ${MEMASLAP}: ${e.message}`)); });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      const parsed = parseMemaslap(out);
      if (timedOut) return resolve(fail(`memaslap did not finish within ${o.seconds + 20} s`));
      if (code !== 0 || !parsed) return resolve(fail(`memaslap exited ${code ?? signal}${parsed ? '' : ' without a summary'}`));
      // memaslap counts requests it sent; with a server that closes or never answers it still
      // reports a few ops, so no bytes read means no measurement.
      if (parsed.ops === 0 || parsed.readBytes === 0) return resolve({ ...fail('the server answered nothing'), ...parsed, ok: false });
      if (parsed.verifyFailed > 0) return resolve({ ...fail(`${parsed.verifyFailed} gets returned a wrong value`), ...parsed, ok: false });
      resolve({ ok: true, ...parsed, tail: out.slice(-2000) });
    });
  });
}
