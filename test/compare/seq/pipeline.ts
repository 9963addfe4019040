// Pipelining, several connections, and requests split at every byte / sent one byte per write.
import { seq, set, type Sequence, type Step } from '../harness.ts';

const keys = (n: number, p = 'k') => Array.from({ length: n }, (_, i) => `${p}${i}`);

/**
 * One sequence per request: step i sends the request in two writes split after byte i, on a fresh
 * connection, and the concatenated output of that connection is compared. `setup` runs first.
 */
function splitEverywhere(name: string, req: string, setup: string[] = [], extra: Partial<Step> = {}): Sequence {
  const steps: Step[] = setup.map((s) => ({ conn: 'setup', send: s }));
  for (let i = 1; i < req.length; i++) {
    steps.push({ conn: `split${i}`, send: req, split: [i], gapMs: 2, closeAfter: true, ...extra });
  }
  return { name: `split at every byte: ${name}`, steps };
}

const PIPE_STORE = 'set a 0 0 5\r\nhello\r\nget a b\r\ngets a\r\nappend a 0 0 1\r\n!\r\ndelete a\r\nincr n 1\r\ndecr n 2\r\n';
const PIPE_NOREPLY = 'set x 0 0 2 noreply\r\nab\r\nappend x 0 0 1 noreply\r\nc\r\nget x\r\ndelete x noreply\r\nget x\r\n';
const PIPE_ERRORS = 'bogus\r\nset k 0 0 1\r\nxy\r\nget k\r\n\r\nincr k x\r\ndelete k 5\r\nflush_all abc\r\n';
const PIPE_BARE_LF = 'set k 0 0 1\nx\r\nget k\nversion\ntouch k 10\ndelete k\n';
const PIPE_TOUCH = 'touch a 10\r\ngat 10 a\r\ngats 0 a b\r\nincr n 5\r\ndecr n 2\r\nget n\r\n';
// Nothing after `quit` when split: bytes the server has not read when it closes make a RST that
// may drop the reply (for memcached too); the one-write form below has them in the same read.
const PIPE_QUIT = 'get a\r\ngets a\r\nquit\r\n';

export const pipeline: Sequence[] = [
  seq('100 sets then a multiget in one write', keys(100).map((k, i) => set(k, `value-${i}`, i)).join('') + `get ${keys(100).join(' ')}\r\n`),
  seq('interleaved set/get/delete in one write', set('a', '1') + 'get a\r\n' + 'delete a\r\n' + 'get a\r\n' + set('a', '2') + 'gets a\r\n'),
  seq('errors in the middle of a pipeline do not desync', 'set a 0 0 1\r\nxx\r\nget a\r\n' + set('b', 'ok') + 'bogus\r\n' + 'get b\r\n'),
  seq('1000 get misses in one write', 'get miss\r\n'.repeat(1000)),
  seq('5000 incr in one write', set('n', '0'), 'incr n 1\r\n'.repeat(5000), 'get n\r\n'),
  seq('empty lines in a pipeline', '\r\n\r\n\n' + 'get a\r\n'),
  seq('quit in the middle of a pipeline', set('a', '1'), { send: 'get a\r\nquit\r\nget a\r\n', expectClosed: true }),
  seq('quit with arguments', 'quit now\r\n'),
  seq('QUIT upper case', 'QUIT\r\n'),
  seq('version with arguments', 'version foo bar\r\n', 'version\n'),
  seq('pipeline mixing bare LF and CRLF', PIPE_BARE_LF),
  seq('command split across writes after the verb', { send: 'get', wait: 'none' }, { send: ' a\r\n' }),
  seq('data block split across writes', { send: 'set a 0 0 10\r\n01234', wait: 'none' }, { send: '56789\r\n' }, 'get a\r\n'),
  seq('data block CR and LF in separate writes', { send: 'set a 0 0 1\r\nx\r', wait: 'none' }, { send: '\nget a\r\n' }),
  seq('two connections see each other\'s writes', { conn: 'a', send: set('s', 'A') }, { conn: 'b', send: 'get s\r\n' },
    { conn: 'b', send: set('s', 'B') }, { conn: 'a', send: 'get s\r\n' }),
  seq('half a set on one connection while another sets the key', { conn: 'a', send: 'set h 0 0 3\r\nxy', wait: 'none' },
    { conn: 'b', send: set('h', 'bbb') }, { conn: 'a', send: 'z\r\nget h\r\n' }, { conn: 'b', send: 'get h\r\n' }),
  seq('cas race between two connections', { conn: 'a', send: set('c', '0') }, { conn: 'a', send: 'gets c\r\n' },
    { conn: 'b', send: 'gets c\r\n' }, { conn: 'b', send: (x) => `cas c 0 0 1 ${x.cas('c')}\r\nb\r\n` },
    { conn: 'a', send: (x) => `cas c 0 0 1 ${x.cas('c')}\r\na\r\n` }, { conn: 'a', send: 'get c\r\n' }),
  seq('one byte per write: set/get', { send: set('slow', 'loris') + 'get slow\r\n', split: 'bytes', gapMs: 1 }),
  seq('one byte per write: noreply, errors, bare LF', { send: PIPE_NOREPLY + 'bogus\n' + 'get x\n', split: 'bytes', gapMs: 1 }),
  splitEverywhere('storage pipeline', PIPE_STORE, [set('n', '10')]),
  splitEverywhere('noreply pipeline', PIPE_NOREPLY),
  splitEverywhere('error pipeline', PIPE_ERRORS),
  splitEverywhere('bare-LF pipeline', PIPE_BARE_LF),
  splitEverywhere('touch/gat/incr pipeline', PIPE_TOUCH, [set('a', 'A'), set('n', '7')]),
  splitEverywhere('quit pipeline', PIPE_QUIT, [set('a', 'A')], { wait: 'quiet', quietMs: 50 }),
  splitEverywhere('multiget of 30 keys', `get ${keys(30).join(' ')}\r\n`, [keys(30).map((k) => set(k, k)).join('')]),
];
