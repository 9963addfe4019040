// CPU accounting from /proc, used to turn a benchmark window into "server CPU seconds per
// million ops". /proc/<pid>/stat sums every thread of the process (for node: the main thread,
// libuv's pool and V8's GC threads), which is what a fair per-op cost must include.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 0;
/** Clock ticks per second for /proc times (100 on Linux/x86-64, but ask rather than assume). */
export function ticksPerSecond(): number {
  if (!clkTck) {
    try { clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { clkTck = 100; }
  }
  return clkTck;
}

/** Fields of /proc/<pid>/stat after the parenthesised comm (which may itself contain spaces). */
function statFields(pid: number | 'self'): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return s.slice(s.lastIndexOf(')') + 2).trim().split(' ');
}

/** utime+stime of a live process, in seconds (fields 14 and 15 of proc(5)). */
export function processCpuSeconds(pid: number): number {
  const f = statFields(pid); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

/** cutime+cstime of this process: CPU of children already waited for (memaslap once it exits). */
export function reapedChildrenCpuSeconds(): number {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) / ticksPerSecond();
}

/** CPU seconds of every user-space process (kernel threads excluded), keyed by pid. */
export function allProcessesCpu(): Map<number, { name: string; cpu: number }> {
  const out = new Map<number, { name: string; cpu: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'latin1');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).trim().split(' ');
      if (Number(f[1]) === 2 || Number(d) === 2) continue; // kthreadd and its children
      out.set(Number(d), { name, cpu: (Number(f[11]) + Number(f[12])) / ticksPerSecond() });
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/**
 * CPU used between two snapshots by processes other than `exclude` (processes that exited in
 * between are missed; ones that started count in full). Returns the total and the top users.
 */
export function otherCpu(before: ReturnType<typeof allProcessesCpu>, after: ReturnType<typeof allProcessesCpu>,
  exclude: number[]): { seconds: number; top: Array<{ pid: number; name: string; seconds: number }> } {
  const users: Array<{ pid: number; name: string; seconds: number }> = [];
  for (const [pid, a] of after) {
    if (exclude.includes(pid)) continue;
    const d = a.cpu - (before.get(pid)?.cpu ?? 0);
    if (d > 0) users.push({ pid, name: a.name, seconds: d });
  }
  users.sort((x, y) => y.seconds - x.seconds);
  return { seconds: users.reduce((t, u) => t + u.seconds, 0), top: users.slice(0, 3) };
}
