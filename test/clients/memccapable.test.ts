// libmemcached's conformance suite: `memccapable` must print [pass] for each of its 54 tests,
// 27 text-protocol and 27 binary-protocol ones (memcached-1.6.md §2). It runs once against a server of its own
// (it flushes); each of its tests is then reported as one uvu test, with memccapable's own
// explanation (-v) when it fails.
import { needs, suite } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import type { Server } from '../helpers/server.ts';
import { startTarget, TARGET } from './target.ts';

/** memccapable's ASCII tests, in the order it runs them (libmemcached 1.1.4). */
const ASCII_TESTS = [
  'version', 'quit', 'verbosity', 'set', 'set noreply', 'get', 'gets', 'mget', 'flush', 'flush noreply',
  'add', 'add noreply', 'replace', 'replace noreply', 'cas', 'cas noreply', 'delete', 'delete noreply',
  'incr', 'incr noreply', 'decr', 'decr noreply', 'append', 'append noreply', 'prepend', 'prepend noreply', 'stat',
];
/** memccapable's binary tests, in the order it runs them. */
const BINARY_TESTS = [
  'noop', 'quit', 'quitq', 'set', 'setq', 'flush', 'flushq', 'add', 'addq', 'replace', 'replaceq', 'delete',
  'deleteq', 'get', 'getq', 'getk', 'getkq', 'incr', 'incrq', 'decr', 'decrq', 'version', 'append', 'appendq',
  'prepend', 'prependq', 'stat',
];
const ALL_TESTS = [...ASCII_TESTS.map((t) => `ascii ${t}`), ...BINARY_TESTS.map((t) => `binary ${t}`)];

const test = suite('', { skip: needs('memccapable', 'libmemcached-tools') });
let srv: Server;
let output = '';
let exitCode: number | null = null;
const verdicts = new Map<string, string>();

test.before(async () => {
  srv = await startTarget();
  await new Promise<void>((resolve) => {
    execFile('memccapable', ['-v', '-t', '5', '-h', '127.0.0.1', '-p', String(srv.port)], { timeout: 60_000 },
      (err, stdout, stderr) => {
        output = stdout + stderr;
        exitCode = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve();
      });
  });
  for (const m of output.matchAll(/^((?:ascii|binary) .+?)\s+\[(\w+)\]\s*$/gm)) verdicts.set(m[1]!, m[2]!);
});

test.after(async () => { await srv?.stop(); });

for (const name of ALL_TESTS) {
  test(`memccapable: ${name}`, () => {
    const v = verdicts.get(name);
    assert.ok(v !== undefined, `memccapable did not run "${name}" against ${TARGET}; output:\n${output.slice(-1500)}`);
    assert.is(v, 'pass', `"${name}": [${v}]; memccapable output:\n${output.slice(-1500)}`);
  });
}

test('memccapable ran exactly its 54 tests (27 ASCII, 27 binary) and exited 0', () => {
  assert.equal([...verdicts.keys()].sort(), [...ALL_TESTS].sort());
  assert.is(exitCode, 0, output.slice(-1500));
  assert.match(output, /All tests passed/);
});

test.run();
