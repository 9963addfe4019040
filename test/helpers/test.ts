// uvu's test/suite with what the suite needs to tell the truth:
//  - a time limit on every test and hook (uvu has none: one lost wait used to hang `npm test`);
//  - skips that are skips: a test that needs what this host lacks (PKU, a tool) is registered
//    with uvu's skip (counted under "Skipped", never as passed), and its reason printed once;
//  - a failing `before` hook fails every test of its suite with the hook's error (uvu would
//    count them as not passed but print no reason at all).
// Import `test`/`suite` from here instead of from 'uvu'.
import { suite as uvuSuite } from 'uvu';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A reason to skip, or nothing (null/undefined/false/''): run. */
export type Why = string | null | undefined | false;

/** Time limit of one test (TEST_TIMEOUT_MS overrides), and of one hook. */
export const TEST_TIMEOUT_MS = Number(process.env.TEST_TIMEOUT_MS ?? 60_000);
const HOOK_TIMEOUT_MS = 60_000;

/** The CPU has protection keys and the kernel enabled them (cpuinfo flags `pku` and `ospke`). */
export function hostHasPku(): boolean {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'latin1'))?.[1]?.split(/\s+/) ?? [];
    return flags.includes('pku') && flags.includes('ospke');
  } catch {
    return false;
  }
}

/** Why a test that needs PKU cannot run here, or null. (An explicit --isolation=pku refuses to
 * start on such a host, exit 64, so these tests must not even try.) */
export const NO_PKU: string | null = hostHasPku() ? null : 'no PKU on this host (/proc/cpuinfo lacks pku/ospke)';

/** True when `cmd` is an executable on PATH. */
export function hasCommand(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try { accessSync(join(dir, cmd), constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/** Why a test that runs `cmd` (from Debian package `pkg`) cannot run here, or null. */
export function needs(cmd: string, pkg: string): string | null {
  return hasCommand(cmd) ? null : `${cmd} not installed (apt-get install ${pkg})`;
}

/** The first reason of several, or null. */
export function anyOf(...why: Why[]): string | null {
  for (const w of why) if (w) return w;
  return null;
}

/** After hooks that failed (uvu would abort the file on one; run-file.ts fails the run instead). */
export const afterHookFailures: string[] = [];

type Handler = (ctx: any) => unknown;
interface TestOpts { skip?: Why; timeoutMs?: number }
export interface Suite {
  (name: string, handler: Handler, opts?: TestOpts): void;
  /** Register a skipped test with its reason. */
  skip(name: string, reason: string): void;
  only(name: string, handler: Handler, opts?: TestOpts): void;
  before: ((fn: Handler) => void) & { each(fn: Handler): void };
  after: ((fn: Handler) => void) & { each(fn: Handler): void };
  run(): void;
}

/** Run fn, failing it if it takes longer than ms. */
async function limited(what: string, ms: number, fn: () => unknown): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s (the test's time limit)`)), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A uvu suite. With opts.skip (a reason), every test of it is registered as skipped and its
 * hooks never run (no servers started for nothing).
 */
export function suite(name = '', opts: { skip?: Why; timeoutMs?: number } = {}): Suite {
  const s = uvuSuite(name);
  const label = name ? `${name}: ` : '';
  const skipped = new Map<string, string[]>(); // reason -> test names
  let hookError: unknown = null;
  const addSkip = (t: string, reason: string) => {
    s.skip(); // uvu counts it under "Skipped"
    skipped.set(reason, [...(skipped.get(reason) ?? []), t]);
  };
  const wrap = (t: string, handler: Handler, o: TestOpts = {}) => async (ctx: unknown) => {
    if (hookError) throw new Error(`before hook failed: ${(hookError as Error)?.stack ?? hookError}`);
    const ms = o.timeoutMs ?? opts.timeoutMs ?? TEST_TIMEOUT_MS;
    const t0 = Date.now();
    await limited(`${label}${t}`, ms, () => handler(ctx));
    // near its limit: say so before it becomes a timeout on a busier machine
    if (process.env.TEST_TIMING) console.log(`\n  [${Date.now() - t0} ms] ${label}${t}`);
    if (Date.now() - t0 > ms / 3) console.log(`\n  (slow: ${label}${t}: ${((Date.now() - t0) / 1000).toFixed(1)} s of its ${ms / 1000} s)`);
  };
  const t = ((tn: string, handler: Handler, o: TestOpts = {}) => {
    const why = opts.skip || o.skip;
    if (why) addSkip(tn, why);
    else s(tn, wrap(tn, handler, o));
  }) as Suite;
  t.skip = (tn, reason) => addSkip(tn, reason);
  t.only = (tn, handler, o = {}) => {
    const why = opts.skip || o.skip;
    if (why) addSkip(tn, why);
    else s.only(tn, wrap(tn, handler, o));
  };
  // A failing before hook is remembered and reported by each test; a failing after hook is
  // printed and recorded (run-file.ts then exits non-zero): uvu would abort the whole file.
  const before = (fn: Handler) => {
    if (opts.skip) return;
    s.before(async (ctx: unknown) => {
      try { await limited(`${label}before`, HOOK_TIMEOUT_MS, () => fn(ctx)); } catch (e) { hookError ??= e; }
    });
  };
  before.each = (fn: Handler) => {
    if (opts.skip) return;
    s.before.each((ctx: unknown) => limited(`${label}before.each`, HOOK_TIMEOUT_MS, () => fn(ctx)));
  };
  const after = (fn: Handler) => {
    if (opts.skip) return;
    s.after(async (ctx: unknown) => {
      try {
        await limited(`${label}after`, HOOK_TIMEOUT_MS, () => fn(ctx));
      } catch (e) {
        console.error(`\n  FAIL ${label}after hook: ${(e as Error)?.stack ?? e}`);
        afterHookFailures.push(`${label}after`);
      }
    });
  };
  after.each = (fn: Handler) => {
    if (opts.skip) return;
    s.after.each((ctx: unknown) => limited(`${label}after.each`, HOOK_TIMEOUT_MS, () => fn(ctx)));
  };
  t.before = before;
  t.after = after;
  t.run = () => {
    for (const [reason, names] of skipped) {
      // the reason first: scripts/test.sh lists these lines, cut to a width
      const shown = names.slice(0, 3).map((n) => `"${n}"`).join(', ') + (names.length > 3 ? ', ...' : '');
      console.log(`  skipped ${names.length}: ${reason} | ${label}${shown}`);
    }
    s.run();
  };
  return t;
}

/** The default suite of a file, like uvu's `test`. */
export const test: Suite = suite();
