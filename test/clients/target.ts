// The server under test for test/clients and the memory/shutdown e2e tests: remcached from dist/
// by default. REMC_TEST_TARGET=memcached runs the same tests against Debian's memcached 1.6.18,
// which is how each test is first shown to be right (it must pass against the reference).
import { readFileSync } from 'node:fs';
import { startMemcached, startRemcached, type Server } from '../helpers/server.ts';

export const TARGET = process.env.REMC_TEST_TARGET === 'memcached' ? 'memcached' : 'remcached';

/** Start the target with memcached-style arguments. */
export function startTarget(args: string[] = []): Promise<Server> {
  return TARGET === 'memcached' ? startMemcached(args) : startRemcached(args);
}

/** Resident set size of a process in bytes (VmRSS in /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
