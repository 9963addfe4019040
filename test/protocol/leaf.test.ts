// protocol/ is a leaf: it imports nothing but its own modules and node: builtins, so that each
// worker thread loads it as is and its code can be unit-tested without the addon (unit.test.ts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '../helpers/test.ts';

const DIR = join(import.meta.dirname, '..', '..', 'protocol');

test('protocol/ imports only protocol/ modules and node: builtins', () => {
  const bad: string[] = [];
  for (const f of readdirSync(DIR).filter((n) => n.endsWith('.ts'))) {
    const src = readFileSync(join(DIR, f), 'utf8');
    // static imports and re-exports (type-only too), and dynamic import()s
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      if (!(spec.startsWith('./') && !spec.slice(2).includes('/')) && !spec.startsWith('node:')) bad.push(`${f}: ${spec}`);
    }
  }
  assert.deepEqual(bad, [], `protocol/ must not import from outside itself:\n${bad.join('\n')}`);
});

test.run();
