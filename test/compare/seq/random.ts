// Seeded random command streams (differential testing): each sequence is 25 commands drawn from a
// grammar of the classic text protocol, valid and malformed, over a small key pool so that commands
// interact. Only time-independent inputs: exptimes are 0, negative or far away (never a TTL that a
// clock tick could decide). COMPARE_RANDOM_SEED=n explores another set; the default is fixed.
import { type Sequence, type Step, type Ctx } from '../harness.ts';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'b', 'c', 'num', 'big', 'k'.repeat(250)];
const NUMBERS = ['0', '1', '7', '42', '-1', '4294967295', '4294967296', '18446744073709551615', '18446744073709551616', 'x', '1x', '+3', '007'];
const EXPTIMES = ['0', '0', '0', '-1', '100000', '2592000', '2592001', 'abc'];

function gen(seed: number, count: number): Step[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const key = () => (chance(0.03) ? 'k'.repeat(251) : pick(KEYS));
  const value = () => {
    const x = r();
    if (x < 0.3) return String(Math.floor(r() * 1000));
    if (x < 0.4) return '18446744073709551615';
    if (x < 0.5) return '';
    if (x < 0.9) return 'v'.repeat(Math.floor(r() * 50));
    return 'w'.repeat(Math.floor(r() * 200_000)); // crosses slab classes and the 16 KiB read size
  };
  const eol = () => (chance(0.1) ? '\n' : '\r\n');
  const nr = () => (chance(0.2) ? ' noreply' : '');
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r();
    let send: string | ((x: Ctx) => string);
    if (kind < 0.35) {
      const cmd = pick(['set', 'set', 'add', 'replace', 'append', 'prepend']);
      // A refused command line makes its data line a command of its own: keep that line short, or
      // it would hit the line-length rule, which depends on read sizes (a known difference).
      const malformed = chance(0.15);
      const v = malformed ? 'v'.repeat(Math.floor(r() * 20)) : value();
      const flags = malformed && chance(0.3) ? pick(NUMBERS) : String(Math.floor(r() * 70000));
      const exp = malformed && chance(0.3) ? 'abc' : pick(EXPTIMES.filter((e) => e !== 'abc'));
      // lengths that are refused outright (never one the server would wait for)
      const len = malformed && chance(0.3) ? pick(['-1', 'x', '1x', '2147483647', '4294967296', '18446744073709551616']) : String(v.length);
      const badChunk = malformed && chance(0.3);
      send = `${cmd} ${key()} ${flags} ${exp} ${len}${nr()}${eol()}${v}${badChunk ? 'XX' : ''}\r\n`;
    } else if (kind < 0.42) {
      const k = key();
      const v = 'c'.repeat(Math.floor(r() * 30));
      const mode = r();
      const odd = pick(NUMBERS); // drawn now: the function below runs once per server
      const tail = `${nr()}${eol()}${v}\r\n`;
      send = (x: Ctx) => {
        let unique = '1';
        try { unique = x.cas(k); } catch { /* not seen yet: a stale value */ }
        if (mode < 0.2) unique = String(BigInt(unique) + 1n);
        if (mode > 0.95) unique = odd;
        return `cas ${k} 0 0 ${v.length} ${unique}${tail}`;
      };
    } else if (kind < 0.62) {
      const n = 1 + Math.floor(r() * 5);
      send = `${pick(['get', 'get', 'gets', 'bget'])} ${Array.from({ length: n }, key).join(' ')}${eol()}`;
    } else if (kind < 0.68) {
      send = `${pick(['gat', 'gats'])} ${pick(EXPTIMES)} ${Array.from({ length: 1 + Math.floor(r() * 3) }, key).join(' ')}${eol()}`;
    } else if (kind < 0.8) {
      send = `${pick(['incr', 'decr'])} ${pick(['num', 'num', key()])} ${chance(0.8) ? String(Math.floor(r() * 100)) : pick(NUMBERS)}${nr()}${eol()}`;
    } else if (kind < 0.87) {
      send = `delete ${key()}${chance(0.1) ? ` ${pick(['0', '5', 'x'])}` : ''}${nr()}${eol()}`;
    } else if (kind < 0.93) {
      send = `touch ${key()} ${pick(EXPTIMES)}${nr()}${eol()}`;
    } else if (kind < 0.96) {
      send = pick(['flush_all\r\n', 'flush_all 0\r\n', 'flush_all noreply\r\n', 'flush_all -1\r\n', 'flush_all x\r\n']);
    } else {
      send = pick(['bogus\r\n', '\r\n', 'GET a\r\n', 'get\r\n', 'set a 0 0\r\n', 'verbosity 0\r\n', 'version\r\n', 'stats bogus\r\n', 'delete\r\n']);
    }
    // Several commands in one write now and then (pipelining), else one per step.
    if (typeof send === 'string' && steps.length > 0 && chance(0.25)) {
      const prev = steps[steps.length - 1]!;
      if (typeof prev.send === 'string') { prev.send += send; continue; }
    }
    steps.push({ send });
  }
  // End by reading every key back (values, flags, CAS relations).
  steps.push({ send: `gets ${KEYS.join(' ')}\r\n` });
  return steps;
}

const BASE = Number(process.env.COMPARE_RANDOM_SEED ?? 20261122);
export const random: Sequence[] = Array.from({ length: 80 }, (_, i) => ({
  name: `random stream #${i} (seed ${BASE + i})`,
  steps: gen(BASE + i, 25),
}));
