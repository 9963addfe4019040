// What the bench compares: Debian's memcached 1.6.18 (-t 1) and remcached, possibly several
// remcached configurations (one per --isolation= mode) side by side.
import { startMemcached, startRemcached, Conn, type Server } from '../../test/helpers/server.ts';

export interface ServerSpec {
  kind: 'memcached' | 'remcached';
  /** unique column name, e.g. "memcached", "remcached[pku]", "memcached#2" */
  label: string;
  /** the --isolation= value for remcached, when asked for */
  isolation?: string;
  args: string[];
}

/**
 * Expand "--servers=memcached,remcached" and "--isolation=pku,none" into specs (a mode "X+cross"
 * is --isolation=X with --cross-check). A repeated
 * name gets "#2", "#3"... so that "memcached,memcached" (a harness self-check) has two columns.
 */
export function buildSpecs(names: string[], isolation: string[], memoryMb: number, extraRemcachedArgs: string[],
  serverThreads: number[] = [1]): ServerSpec[] {
  const specs: ServerSpec[] = [];
  const seen = new Map<string, number>();
  const unique = (label: string) => {
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label}#${n}`;
  };
  // --server-threads=1,2,4: every server once per -t N (labels "-tN" when more than one N)
  for (const t of serverThreads) {
  const common = ['-m', String(memoryMb), '-t', String(t)];
  const tl = serverThreads.length > 1 || t !== 1 ? `-t${t}` : '';
  for (const name of names) {
    if (name === 'memcached') {
      specs.push({ kind: 'memcached', label: unique(`memcached${tl}`), args: common });
    } else if (name === 'remcached') {
      const modes = isolation.length ? isolation : [undefined];
      for (const mode of modes) {
        // "none+cross": --isolation=none --cross-check (both parsers on every event)
        const cross = mode?.endsWith('+cross') ?? false;
        const iso = cross ? mode!.slice(0, -'+cross'.length) : mode;
        const args = [...common, ...extraRemcachedArgs, ...(iso ? [`--isolation=${iso}`] : []), ...(cross ? ['--cross-check'] : [])];
        specs.push({ kind: 'remcached', label: unique(mode ? `remcached${tl}[${mode}]` : `remcached${tl}`), isolation: mode, args });
      }
    } else {
      throw new Error(`unknown server "${name}" (expected memcached or remcached)`);
    }
  }
  }
  return specs;
}

export function start(spec: ServerSpec): Promise<Server> {
  // startMemcached already passes -t 1 -U 0 -l 127.0.0.1.
  return spec.kind === 'memcached' ? startMemcached(spec.args) : startRemcached(spec.args);
}

/** `stats` as a name -> value map, or null when the server does not answer it sensibly. */
export async function stats(port: number): Promise<Record<string, string> | null> {
  let c: Conn | undefined;
  try {
    c = await Conn.open(port);
    c.send('stats\r\n');
    const reply = (await c.until((b) => b.includes('END\r\n') || b.includes('ERROR'), 3000)).toString('latin1');
    const out: Record<string, string> = {};
    for (const m of reply.matchAll(/^STAT (\S+) (.*)\r$/gm)) out[m[1]!] = m[2]!;
    return Object.keys(out).length ? out : null;
  } catch {
    return null;
  } finally {
    c?.close();
  }
}

/** The first line the server answers to `version`, to check it serves before loading it. */
export async function version(port: number): Promise<string> {
  const c = await Conn.open(port);
  try {
    c.send('version\r\n');
    return (await c.until((b) => b.includes('\r\n'), 3000)).toString('latin1').trim();
  } finally {
    c.close();
  }
}
