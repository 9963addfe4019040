// Retrieval (§1.3): get/gets/gat/gats/bget, multigets, key limits.
import { seq, set, type Sequence } from '../harness.ts';

const keys = (n: number, p = 'k') => Array.from({ length: n }, (_, i) => `${p}${i}`);
const setMany = (ks: string[]) => ks.map((k, i) => set(k, `v${i}`, i)).join('');

export const retrieval: Sequence[] = [
  seq('get miss', 'get nope\r\n'),
  seq('get with no key', 'get\r\n'),
  seq('get with only a space', 'get \r\n'),
  seq('gets with no key', 'gets\r\n'),
  seq('get hit and miss mixed', set('a', '1'), set('c', '3'), 'get a b c d\r\n'),
  seq('get same key repeated', set('a', '1'), 'get a a a\r\n'),
  seq('get 100 keys (re-tokenised past 24 tokens)', setMany(keys(100)), `get ${keys(100).join(' ')}\r\n`),
  seq('gets 30 keys', setMany(keys(30)), `gets ${keys(30).join(' ')}\r\n`),
  seq('get 23, 24, 25 keys (tokenizer window)', setMany(keys(26)),
    `get ${keys(23).join(' ')}\r\n`, `get ${keys(24).join(' ')}\r\n`, `get ${keys(25).join(' ')}\r\n`),
  seq('get with double spaces between keys', set('a', '1'), set('b', '2'), 'get  a   b\r\n'),
  seq('get with trailing spaces', set('a', '1'), 'get a   \r\n'),
  seq('get with leading spaces', set('a', '1'), '   get a\r\n'),
  seq('get 250-byte key', set('x'.repeat(250), 'v'), `get ${'x'.repeat(250)}\r\n`),
  seq('get 251-byte key', `get ${'x'.repeat(251)}\r\n`),
  seq('251-byte key in the middle of a multiget', set('a', '1'), set('b', '2'), `get a ${'x'.repeat(251)} b\r\n`),
  seq('251-byte key as the 30th key of a multiget', setMany(keys(40)), `get ${keys(29).join(' ')} ${'x'.repeat(251)} k30\r\n`),
  seq('gets returns cas, equal for unchanged items', set('a', '1'), set('b', '2'), 'gets a b\r\n', 'gets b a\r\n'),
  seq('get after get does not change cas', set('a', '1'), 'gets a\r\n', 'get a\r\n', 'gets a\r\n'),
  seq('bget (legacy alias)', set('a', '1'), 'bget a\r\n', 'bget a b\r\n'),
  seq('GETS upper case', 'GETS a\r\n'),
  seq('get keys "noreply" is a key', set('noreply', 'n'), 'get noreply\r\n', 'get a noreply\r\n'),
  seq('gat hit and miss', set('a', '1', 3), 'gat 100 a b\r\n', 'get a\r\n'),
  seq('gats returns cas, gat does not bump it', set('a', '1'), 'gets a\r\n', 'gats 100 a\r\n', 'gat 0 a\r\n', 'gets a\r\n'),
  seq('gat with no keys', set('a', '1'), 'gat 0\r\n'),
  seq('gat with nothing', 'gat\r\n'),
  seq('gats with nothing', 'gats\r\n'),
  seq('gat non-numeric exptime', set('a', '1'), 'gat abc a\r\n'),
  seq('gats non-numeric exptime', set('a', '1'), 'gats 1x a\r\n'),
  seq('gat negative exptime expires the item', set('a', '1'), 'gat -1 a\r\n', 'get a\r\n'),
  seq('gat exptime past int32', set('a', '1'), 'gat 99999999999 a\r\n', 'get a\r\n'),
  seq('gat 251-byte key', `gat 0 ${'y'.repeat(251)}\r\n`),
  seq('gat many keys', setMany(keys(40, 'g')), `gat 0 ${keys(40, 'g').join(' ')} miss\r\n`),
  // memcached 1.6.18 quirk: a too-long key in get/gets/gat drops the replies already queued from
  // the same read (the commands before it ran, their answers are lost); later commands answer.
  seq('too-long key in a multiget drops earlier replies of the same read', { send: `version\r\nget ${'x'.repeat(251)}\r\nversion\r\n`, versions: 1 }),
  seq('too-long key after a set in the same read', `set a 0 0 1\r\n1\r\nget a ${'x'.repeat(251)}\r\nget a\r\n`),
  seq('two too-long-key multigets in one read', `delete nope\r\ngets ${'x'.repeat(251)}\r\ngets ${'x'.repeat(251)} a\r\n`),
  seq('too-long key in gat after touch in the same read', set('a', '1'), `touch a 0\r\ngat 0 ${'x'.repeat(251)}\r\nget a\r\n`),
  seq('too-long key in a multiget, earlier reply in an earlier read', 'version\r\n', `get ${'x'.repeat(251)}\r\n`),
  seq('get key that contains a TAB', set('a\tb', 'v'), 'get a\tb\r\n'),
  seq('get with a NUL inside the key', set('a', '1'), 'get a\0b\r\n', 'get a\0\r\n'),
];
