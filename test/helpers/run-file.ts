// Runs uvu test files in this process, like uvu's own CLI (uvu/run), then ends it: a server or
// child a timed-out test left behind would otherwise keep the event loop, and `npm test`, alive.
//   node --import tsx test/helpers/run-file.ts test/e2e/meta.test.ts [...]
// scripts/test.sh runs each file this way, under `timeout`, and sums uvu's Total/Passed/Skipped.
import { readdirSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const files = process.argv.slice(2);
if (!files.length) { console.error('usage: run-file.ts <test file>...'); process.exit(2); }

(globalThis as any).UVU_DEFER = 1; // collect the suites; exec() below runs them
const uvu = await import('uvu');
let idx = 0;
for (const f of files) {
  (globalThis as any).UVU_INDEX = idx++;
  (globalThis as any).UVU_QUEUE.push([relative(process.cwd(), f)]);
  await import(pathToFileURL(resolve(f)).href);
}
await uvu.exec(false);
const { afterHookFailures } = await import('./test.ts');
if (afterHookFailures.length) {
  console.log(`  after hooks failed: ${afterHookFailures.join(', ')}`);
  process.exitCode = 1;
}

/** Our direct children still alive (servers, tools): a test did not stop them. */
function children(): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push({ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, 'latin1').replace(/\0/g, ' ').trim() });
    } catch { /* gone */ }
  }
  return out;
}
for (const c of children()) {
  // a zombie (already exited, not yet reaped) has an empty cmdline; esbuild is tsx's own
  if (!c.cmd || /\/esbuild /.test(c.cmd)) continue;
  console.log(`  (killing a child the tests left running: ${c.pid} ${c.cmd.slice(0, 120)})`);
  try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
}
process.exit(process.exitCode ?? 0);
