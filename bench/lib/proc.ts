// CPU accounting from /proc, used to turn a benchmark window into "server CPU seconds per
// million ops". /proc/<pid>/stat sums every thread of the process (for node: the main thread,
// libuv's pool and V8's GC threads), which is what a fair per-op cost must include.
import { readFileSync } from 'node:fs';
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

/** Busy and total CPU seconds of the whole machine (first line of /proc/stat). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  // guest/guest_nice (v[8], v[9]) are already counted in user/nice.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / ticksPerSecond(), total: total / ticksPerSecond() };
}
