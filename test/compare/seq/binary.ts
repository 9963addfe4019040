// Binary-protocol request sequences compared byte for byte with memcached 1.6.18 (CAS numbered,
// STAT values and the version blanked). Every opcode with hits, misses, quiet variants and CAS;
// the header rules of proto_bin.c; the binary rows of the §3 regression checklist (marked §3);
// splits at every byte; pipelines.
import { arith, bseq, cat, get, noop, OP, pkt, set, touch, u32, u64, type BinSequence } from './binary_harness.ts';

const ext8 = (flags = 0, exptime = 0) => cat(u32(flags), u32(exptime));
/** remcached's answer to bodylen > 1 GiB (rendered as the harness does) */
const BODY_TOO_LARGE = (op: number) => ({
  why: 'bodylen > 1 GiB is refused (0x04, close) as in memcached 1.6.42; 1.6.18 is undefined there',
  expect: [`magic=81 op=${op.toString(16)} status=4 kl=0 el=0 dt=0 bl=17 opaque=deadbeef cas=0 ext= key= value=Invalid arguments`],
  closed: true,
});
const incr = (key: string, delta: bigint, initial = 0n, exptime = 0, op: number = OP.INCR) => arith(key, delta, initial, exptime, op);

/** Storage/retrieval semantics of every opcode. */
export const semantics: BinSequence[] = [
  bseq('noop', noop()),
  bseq('version', pkt(OP.VERSION)),
  bseq('version opaque echoed', pkt(OP.VERSION, { opaque: 0x01020304 })),
  bseq('get miss', get('nx')),
  bseq('getk miss (key in body)', get('nx', OP.GETK)),
  bseq('getq / getkq miss are silent', cat(get('nx', OP.GETQ), get('nx', OP.GETKQ), noop())),
  bseq('set then get/getk/getq/getkq', set('a', 'val', 7), get('a'), get('a', OP.GETK), cat(get('a', OP.GETQ), get('a', OP.GETKQ), noop())),
  bseq('set flags max', set('f', 'x', 0xffffffff), get('f')),
  bseq('set empty value', set('e', ''), get('e', OP.GETK)),
  bseq('set binary value', set('b', Buffer.from([0, 1, 2, 0x80, 0xff, 13, 10])), get('b')),
  bseq('setq silent on success', cat(set('q', 'v', 0, 0, OP.SETQ), noop()), get('q')),
  bseq('set overwrite', set('a', 'one'), set('a', 'two'), get('a')),
  bseq('add new / exists', set('a', 'v', 0, 0, OP.ADD), set('a', 'w', 0, 0, OP.ADD), get('a')),
  bseq('addq exists is an error', set('a', 'v'), cat(set('a', 'v', 0, 0, OP.ADDQ), noop())),
  bseq('replace missing / existing', set('r', 'v', 0, 0, OP.REPLACE), set('r', 'v'), set('r', 'w', 3, 0, OP.REPLACE), get('r')),
  bseq('replaceq missing', cat(set('r', 'v', 0, 0, OP.REPLACEQ), noop())),
  bseq('append / prepend', set('c', 'mid', 5), pkt(OP.APPEND, { key: 'c', value: '>' }), pkt(OP.PREPEND, { key: 'c', value: '<' }), get('c')),
  bseq('append / prepend missing', pkt(OP.APPEND, { key: 'nx', value: 'x' }), pkt(OP.PREPEND, { key: 'nx', value: 'x' })),
  bseq('appendq / prependq', set('c', 'm'), cat(pkt(OP.APPENDQ, { key: 'c', value: 'a' }), pkt(OP.PREPENDQ, { key: 'c', value: 'p' }), noop()), get('c')),
  bseq('appendq missing is an error', cat(pkt(OP.APPENDQ, { key: 'nx', value: 'a' }), noop())),
  bseq('append with extras is invalid', set('c', 'm'), { send: pkt(OP.APPEND, { key: 'c', value: 'x', extras: ext8() }), expectClosed: true }),
  bseq('delete hit / miss', set('d', 'v'), pkt(OP.DELETE, { key: 'd' }), pkt(OP.DELETE, { key: 'd' })),
  bseq('deleteq hit silent, miss error', set('d', 'v'), cat(pkt(OP.DELETEQ, { key: 'd' }), pkt(OP.DELETEQ, { key: 'd' }), noop())),
  bseq('delete with matching cas', set('d', 'v'), { send: (c) => pkt(OP.DELETE, { key: 'd', cas: c.lastCas() }) }, get('d')),
  bseq('delete with wrong cas', set('d', 'v'), pkt(OP.DELETE, { key: 'd', cas: 1n }), get('d')),
  bseq('set with matching cas', set('s', 'v'), { send: (c) => set('s', 'w', 0, 0, OP.SET, c.lastCas()) }, get('s')),
  bseq('set with wrong cas', set('s', 'v'), set('s', 'w', 0, 0, OP.SET, 12345n), get('s')),
  bseq('set with cas on missing key', set('nx', 'w', 0, 0, OP.SET, 7n)),
  bseq('add with cas', set('s', 'v'), set('s', 'w', 0, 0, OP.ADD, 7n), set('t', 'w', 0, 0, OP.ADD, 7n)),
  bseq('replace with cas', set('s', 'v'), { send: (c) => set('s', 'w', 0, 0, OP.REPLACE, c.lastCas()) }, set('s', 'x', 0, 0, OP.REPLACE, 3n)),
  bseq('append with wrong cas', set('s', 'v'), pkt(OP.APPEND, { key: 's', value: 'x', cas: 99n }), get('s')),
  bseq('append with matching cas', set('s', 'v'), { send: (c) => pkt(OP.APPEND, { key: 's', value: 'x', cas: c.lastCas() }) }, get('s')),
  bseq('incr creates with initial', incr('n', 1n, 10n), incr('n', 5n, 10n), get('n')),
  bseq('decr floors at 0', incr('n', 0n, 3n), incr('n', 10n, 0n, 0, OP.DECR), get('n')),
  bseq('incr wraps at 2^64', incr('n', 0n, 18446744073709551615n), incr('n', 2n), get('n')),
  bseq('incr exptime 0xffffffff: no create', incr('m', 1n, 10n, 0xffffffff), get('m')),
  bseq('incr on existing text number', set('n', '41'), incr('n', 1n), get('n')),
  bseq('incr on non-numeric', set('n', 'abc'), incr('n', 1n)),
  bseq('incr keeps length (space padded)', set('n', '100'), incr('n', 91n, 0n, 0, OP.DECR), get('n')),
  bseq('incrq / decrq silent', cat(incr('n', 1n, 5n, 0, OP.INCRQ), incr('n', 1n, 5n, 0, OP.DECRQ), noop()), get('n')),
  bseq('incrq error is sent', set('n', 'x'), cat(incr('n', 1n, 0n, 0, OP.INCRQ), noop())),
  bseq('incr with wrong cas', set('n', '5'), arith('n', 1n, 0n, 0, OP.INCR, 77n), get('n')),
  bseq('incr with matching cas', set('n', '5'), { send: (c) => arith('n', 1n, 0n, 0, OP.INCR, c.lastCas()) }),
  bseq('incr initial max u64', incr('big', 1n, 18446744073709551615n), get('big')),
  bseq('touch hit / miss', set('t', 'v', 9), touch('t', 100), touch('nx', 100)),
  bseq('gat / gatk hit', set('t', 'val', 4), touch('t', 100, OP.GAT), touch('t', 100, OP.GATK)),
  bseq('gat / gatk miss', touch('nx', 0, OP.GAT), touch('nx', 0, OP.GATK)),
  bseq('gatq / gatkq hit and miss', set('t', 'v'), cat(touch('t', 0, OP.GATQ), touch('t', 0, OP.GATKQ), touch('nx', 0, OP.GATQ), touch('nx', 0, OP.GATKQ), noop())),
  bseq('touch expires item', set('t', 'v'), touch('t', 0xfffffff0 >>> 0), get('t')),
  bseq('flush', set('a', 'v'), pkt(OP.FLUSH), get('a')),
  bseq('flushq silent', set('a', 'v'), cat(pkt(OP.FLUSHQ), noop()), get('a')),
  bseq('flush with delay 0', set('a', 'v'), pkt(OP.FLUSH, { extras: u32(0) }), get('a')),
  bseq('flush with delay 100', set('a', 'v'), pkt(OP.FLUSH, { extras: u32(100) }), get('a')),
  bseq('flush extlen 2 invalid', { send: pkt(OP.FLUSH, { extras: Buffer.alloc(2) }), expectClosed: true }),
  bseq('flush with a key invalid', { send: pkt(OP.FLUSH, { key: 'k' }), expectClosed: true }),
  bseq('quit answers and closes', { send: pkt(OP.QUIT), expectClosed: true }),
  bseq('quitq closes silently', { send: pkt(OP.QUITQ), expectClosed: true }),
  bseq('quit after a pipeline', { send: cat(set('a', 'v'), get('a'), pkt(OP.QUIT), get('a')), expectClosed: true }),
  bseq('stat group unknown', pkt(OP.STAT, { key: 'bogus' })),
  bseq('stat detail', pkt(OP.STAT, { key: 'detail' }), pkt(OP.STAT, { key: 'detail on' }), pkt(OP.STAT, { key: 'detail off' })),
  bseq('stat reset', pkt(OP.STAT, { key: 'reset' })),
  bseq('stat groups by prefix (reset…, settings…) and exact (items, slabs)', pkt(OP.STAT, { key: 'reset junk' }), pkt(OP.STAT, { key: 'settings x' }),
    pkt(OP.STAT, { key: 'items junk' }), pkt(OP.STAT, { key: 'slabsx' }), pkt(OP.STAT, { key: 'conns' })),
  bseq('stat detail dump records binary commands', pkt(OP.STAT, { key: 'detail dump' }), pkt(OP.STAT, { key: 'detail on' }),
    set('pa:1', 'v'), get('pa:1'), get('pa:2', OP.GETK), touch('pb:1', 0, OP.GAT), pkt(OP.DELETE, { key: 'pa:1' }),
    pkt(OP.STAT, { key: 'detail dump' }), pkt(OP.STAT, { key: 'detail off' }), pkt(OP.STAT, { key: 'detail junk' }), pkt(OP.STAT, { key: 'reset' }),
    pkt(OP.STAT, { key: 'detail dump' })),
  bseq('stat sizes', pkt(OP.STAT, { key: 'sizes' })),
  bseq('stat settings', pkt(OP.STAT, { key: 'settings' })),
  bseq('stat (general)', pkt(OP.STAT)),
  bseq('stat with extras invalid', { send: pkt(OP.STAT, { extras: u32(1) }), expectClosed: true }),
  bseq('datatype and vbucket ignored', pkt(OP.NOOP, { datatype: 1, vbucket: 7 }), set('a', 'v'), pkt(OP.GET, { key: 'a', datatype: 0xff, vbucket: 0xffff })),
  bseq('request cas on get ignored', set('a', 'v'), pkt(OP.GET, { key: 'a', cas: 5n })),
  bseq('250-byte key', set('k'.repeat(250), 'v'), get('k'.repeat(250), OP.GETK)),
  bseq('key with NUL and spaces', set('a b\0c', 'v'), get('a b\0c', OP.GETK)),
  bseq('sasl opcodes without -S are unknown', pkt(OP.SASL_LIST), pkt(OP.SASL_AUTH, { key: 'PLAIN', value: '\0u\0p' }), pkt(OP.SASL_STEP, { key: 'PLAIN', value: 'x' }), noop()),
  bseq('verbosity opcode unknown (extras swallowed twice)', cat(pkt(OP.VERBOSITY, { extras: u32(1) }), noop(1), noop(2))),
  bseq('text after binary closes', { send: cat(noop(), Buffer.from('version\r\n' + 'x'.repeat(20))), expectClosed: true }),
];

/** Header validation and the binary rows of the §3 regression checklist. */
export const hostile: BinSequence[] = [
  bseq('§3 bad magic closes silently', noop(), { send: pkt(OP.GET, { key: 'a', magic: 0x81 }), expectClosed: true }),
  bseq('first byte not 0x80: a text connection', { send: pkt(OP.GET, { key: 'a', magic: 0x81 }), wait: 'quiet' }),
  bseq('§3 bad magic after a pipeline (replies lost)', set('a', 'v'), { send: cat(get('a'), Buffer.from([0x00]), Buffer.alloc(23)), expectClosed: true }),
  bseq('bad magic after noop (noop written first)', { send: cat(noop(7), pkt(OP.NOOP, { magic: 0x18 })), expectClosed: true }),
  bseq('§3 extlen 0xff on GET (CVE-2020-10931)', { send: pkt(OP.GET, { extras: Buffer.alloc(255, 0x41) }), expectClosed: true }),
  bseq('§3 extlen 0xff on unknown opcode', { send: cat(pkt(0x55, { extras: Buffer.alloc(255, 0x41) }), noop()), wait: 'quiet' }),
  bseq('§3 keylen > bodylen (GET)', { send: cat(pkt(OP.GET, { keylen: 10, bodylen: 0 }), Buffer.from('x'.repeat(10))), expectClosed: true }),
  bseq('keylen > bodylen waits for the key bytes', { send: pkt(OP.GET, { keylen: 10, bodylen: 0 }), wait: 'quiet' }),
  bseq('§3 keylen + extlen > bodylen (SET)', { send: cat(pkt(OP.SET, { key: 'k', extras: ext8(), bodylen: 8 })), expectClosed: true }),
  bseq('§3 CVE-2016-8704 append keylen 250 bodylen 0', { send: cat(pkt(OP.APPEND, { keylen: 0xfa, bodylen: 0 }), Buffer.alloc(0xfa, 0x61)), expectClosed: true }),
  bseq('§3 CVE-2016-8704 prependq keylen > bodylen', { send: cat(pkt(OP.PREPENDQ, { keylen: 0x20, bodylen: 0x10 }), Buffer.alloc(0x40, 0x62)), expectClosed: true }),
  bseq('§3 CVE-2016-8705 set bodylen < keylen + 8', { send: cat(pkt(OP.SET, { keylen: 5, extlen: 8, bodylen: 10 }), Buffer.alloc(40, 0x63)), expectClosed: true }),
  bseq('§3 CVE-2016-8705 setq bodylen = keylen', { send: cat(pkt(OP.SETQ, { keylen: 4, extlen: 8, bodylen: 4 }), Buffer.alloc(30, 0x63)), expectClosed: true }),
  // bodylen > 1 GiB: 1.6.18 computes a negative int value length (answers "Too large." and then
  // reads with a negative count: closes on the next bytes) or swallows up to 2 GiB; remcached
  // refuses it like 1.6.42 does (0x04 and close).
  bseq('§3 CVE-2011-4971 addq bodylen 0xffffffe8', { send: cat(pkt(OP.ADDQ, { key: 'k', extras: ext8(), bodylen: 0xffffffe8 }), noop()), wait: 'quiet', deviation: BODY_TOO_LARGE(0x12) }),
  bseq('§3 CVE-2017-9951 set bodylen 0xfffffff0', { send: cat(pkt(OP.SET, { key: 'k', extras: ext8(), bodylen: 0xfffffff0 }), Buffer.alloc(9)), wait: 'quiet', deviation: BODY_TOO_LARGE(0x01) }),
  bseq('§3 set bodylen 0x80000000', { send: cat(pkt(OP.SET, { key: 'k', extras: ext8(), bodylen: 0x80000000 }), Buffer.alloc(100)), wait: 'quiet', deviation: BODY_TOO_LARGE(0x01) }),
  bseq('§3 unknown opcode bodylen 0x80000000', { send: cat(pkt(0x55, { bodylen: 0x80000000 }), noop()), wait: 'quiet', deviation: BODY_TOO_LARGE(0x55) }),
  bseq('set bodylen 1 GiB + 1', { send: pkt(OP.SET, { key: 'k', extras: ext8(), bodylen: (1 << 30) + 1 }), wait: 'quiet', deviation: BODY_TOO_LARGE(0x01) }),
  bseq('set bodylen 1.1 MB (too large, swallowed)', { send: cat(set('k', Buffer.alloc(1100000, 0x78)), noop(4)) }),
  bseq('§3 keylen 251 closes', { send: get('k'.repeat(251)), expectClosed: true }),
  bseq('§3 keylen 251 on set closes', { send: set('k'.repeat(251), 'v'), expectClosed: true }),
  // (Longer keys: memcached answers 0x04 too, but closes with the client's next bytes unread, so
  // the client may get a TCP reset instead of the answer: test/e2e/binary_hostile.test.ts.)
  bseq('keylen 16360: invalid arguments', { send: pkt(OP.GET, { key: Buffer.alloc(16360, 0x6b) }), expectClosed: true }),
  bseq('unknown opcode with a 16360-byte key: invalid arguments', { send: pkt(0x55, { key: Buffer.alloc(16360, 0x6b) }), expectClosed: true }),
  bseq('keylen 20000 header alone waits', { send: pkt(OP.GET, { keylen: 20000, bodylen: 20000 }), wait: 'quiet' }),
  bseq('§3 unknown opcode, connection kept', pkt(0x55), pkt(0xff), pkt(0x30), noop()),
  bseq('unknown opcode swallows bodylen after the key', { send: cat(pkt(0x55, { key: 'abc', bodylen: 3 }), noop()), wait: 'quiet' }),
  bseq('unknown opcode with key and value', cat(pkt(0x55, { key: 'abc', value: 'defg' }), Buffer.alloc(7), noop())),
  bseq('§3 SET with extlen 0 closes', { send: pkt(OP.SET, { key: 'k', value: 'v' }), expectClosed: true }),
  bseq('§3 INCR with extlen 0 closes', { send: pkt(OP.INCR, { key: 'k' }), expectClosed: true }),
  bseq('INCR with bodylen > key + 20 closes', { send: pkt(OP.INCR, { key: 'k', extras: Buffer.alloc(20), value: 'x' }), expectClosed: true }),
  bseq('GET with a value closes', { send: pkt(OP.GET, { key: 'k', value: 'x' }), expectClosed: true }),
  bseq('GET without key closes', { send: pkt(OP.GET), expectClosed: true }),
  bseq('DELETE with extras closes', { send: pkt(OP.DELETE, { key: 'k', extras: u32(0) }), expectClosed: true }),
  bseq('NOOP with a body closes', { send: pkt(OP.NOOP, { value: 'x' }), expectClosed: true }),
  bseq('VERSION with a key closes', { send: pkt(OP.VERSION, { key: 'x' }), expectClosed: true }),
  bseq('QUIT with a body closes', { send: pkt(OP.QUIT, { extras: u32(0) }), expectClosed: true }),
  bseq('TOUCH without extras closes', { send: pkt(OP.TOUCH, { key: 'k' }), expectClosed: true }),
  bseq('TOUCH without key closes', { send: pkt(OP.TOUCH, { extras: u32(0) }), expectClosed: true }),
  bseq('GAT surplus body is read as the next packet', set('k', 'v'), cat(pkt(OP.GAT, { key: 'k', extras: u32(0), bodylen: 5 + 24 }), noop(1), noop(2))),
  bseq('STAT surplus body is read as the next packet', cat(pkt(OP.STAT, { key: 'sizes', bodylen: 5 + 24 }), noop(3))),
  bseq('§3 SASL_STEP before AUTH (no -S)', pkt(OP.SASL_STEP, { key: 'PLAIN', value: 'x' })),
  bseq('§3 SASL_AUTH keylen 33 (no -S)', pkt(OP.SASL_AUTH, { key: 'M'.repeat(33), value: 'x' })),
  bseq('§3 SASL_AUTH bodylen < keylen (CVE-2016-8706)', { send: cat(pkt(OP.SASL_AUTH, { keylen: 5, bodylen: 2 }), Buffer.from('PLAINxx')), expectClosed: true }),
  bseq('§3 DELETE key running to the end of the buffer (CVE-2013-0179)', set('zz', 'v'), pkt(OP.DELETE, { key: 'zz' })),
  bseq('value too large (-I 1m) refused and swallowed', { send: cat(set('big', Buffer.alloc(2 << 20, 0x61)), get('big')) }),
  bseq('value too large, old item dropped', set('big', 'old'), { send: set('big', Buffer.alloc(1100000, 0x61)) }, get('big')),
  bseq('add too large keeps the old item', set('big', 'old'), { send: set('big', Buffer.alloc(1100000, 0x61), 0, 0, OP.ADD) }, get('big')),
  bseq('append too large', set('big', 'old'), { send: pkt(OP.APPEND, { key: 'big', value: Buffer.alloc(1100000, 0x61) }) }, get('big')),
  bseq('value exactly at the limit', set('lim', Buffer.alloc(1048000, 0x62)), get('lim', OP.GETQ)),
  { ...bseq('§3 70 000 pipelined GETQ of one key', set('z', 'z'), { send: cat(...Array.from({ length: 70000 }, () => get('z', OP.GETQ))) }), timeoutMs: 20000 },
  bseq('garbage: 24 zero bytes (a text connection: first byte not 0x80)', { send: Buffer.alloc(24), wait: 'quiet' }),
  bseq('garbage: 0x80 then zeros (GET, keylen 0)', { send: cat(Buffer.from([0x80]), Buffer.alloc(23)), expectClosed: true }),
  bseq('truncated header waits', { send: pkt(OP.GET, { key: 'a' }).subarray(0, 23), wait: 'quiet' }),
  bseq('truncated key waits', { send: pkt(OP.GET, { key: 'abcdef' }).subarray(0, 27), wait: 'quiet' }),
  bseq('truncated value waits', set('a', 'vvvv'), { send: set('a', 'hello').subarray(0, 35), wait: 'quiet' }, { send: Buffer.from('llo'), wait: 'quiet' }, get('a')),
  // memcached reads the rest of a value straight into the item, answers, and only then reads on
  bseq('value completed in the same read as a bad packet', { send: set('a', 'hello').subarray(0, 35), wait: 'quiet' }, { send: Buffer.from('lloXXXXXXXXXXXXXXXXXXXXXXXX'), expectClosed: true }),
];

/** The same requests split into single bytes and odd chunks. */
const pipeline = cat(set('p', 'value', 3), get('p', OP.GETK), incr('c', 1n, 7n), get('nx', OP.GETQ), pkt(OP.APPEND, { key: 'p', value: '+' }), get('p'), noop(9));
export const splits: BinSequence[] = [
  bseq('pipeline in one write', pipeline),
  bseq('pipeline split at every byte', { send: pipeline, split: 'bytes', gapMs: 1 }),
  bseq('pipeline split 23/1/9', { send: pipeline, split: [23, 1, 9, 24, 25, 3, 100] }),
  bseq('set split inside the value', { send: set('s', 'abcdefghij'), split: [30, 3, 3] }, get('s')),
  bseq('header split byte by byte then bad magic', { send: cat(noop(), Buffer.from([0x81]), Buffer.alloc(23)), split: 'bytes', gapMs: 1, expectClosed: true }),
  bseq('large value across many reads', set('L', Buffer.alloc(600000, 0x4c)), get('L', OP.GETK)),
  bseq('multiget by getkq + noop', set('a', '1'), set('b', '2'), cat(get('a', OP.GETKQ), get('x', OP.GETKQ), get('b', OP.GETKQ), noop())),
  bseq('two connections interleaved', { conn: 'A', send: set('shared', 'A') }, { conn: 'B', send: get('shared') }, { conn: 'B', send: set('shared', 'B', 0, 0, OP.ADD) }, { conn: 'A', send: get('shared', OP.GETK) }),
];

export const binaryAll: BinSequence[] = [...semantics, ...hostile, ...splits];

/** -I 1k: small item limit */
export const smallItems: BinSequence[] = [
  bseq('-I 1k: set 2000 bytes refused', set('a', Buffer.alloc(2000, 0x61)), get('a')),
  bseq('-I 1k: incomplete too-large value swallowed', { send: set('a', Buffer.alloc(5000, 0x61)).subarray(0, 100), wait: 'quiet' }, { send: Buffer.alloc(4933, 0x61), wait: 'quiet' }, get('a')),
  bseq('-I 1k: set 900 bytes stored', set('a', Buffer.alloc(900, 0x61)), get('a', OP.GETQ)),
];

/** -F: flush disabled */
export const noFlush: BinSequence[] = [
  bseq('-F: binary flush is refused', set('a', 'v'), pkt(OP.FLUSH), get('a')),
];

/** -B ascii: binary bytes are text */
export const asciiOnly: BinSequence[] = [
  bseq('-B ascii: a binary NOOP is text', { send: noop(), wait: 'quiet' }),
];

/** -B binary: every connection is binary, whatever its first byte */
export const binaryOnly: BinSequence[] = [
  bseq('-B binary: binary works', set('a', 'v'), get('a')),
  bseq('-B binary: a text command is a bad magic once 24 bytes are in', { send: Buffer.from('get a\r\nget b\r\nget c\r\nget d\r\n'), expectClosed: true }),
  bseq('-B binary: a short text command waits for a header', { send: Buffer.from('version\r\n'), wait: 'quiet' }),
];

/** -C: CAS disabled */
export const noCas: BinSequence[] = [
  bseq('-C: responses carry cas 0', set('a', 'v'), get('a'), incr('n', 1n, 1n)),
];

/** -S (SASL). memjs's sequence: LIST_MECHS, then AUTH PLAIN. */
const plain = (user: string, pass: string, authz = '') => pkt(OP.SASL_AUTH, { key: 'PLAIN', value: `${authz}\0${user}\0${pass}` });
export const sasl: BinSequence[] = [
  bseq('-S: list mechs', { send: pkt(OP.SASL_LIST), wait: 'quiet' }),
  bseq('-S: get before auth closes', { send: get('a'), expectClosed: true }),
  bseq('-S: noop before auth closes', { send: noop(), expectClosed: true }),
  bseq('-S: version before auth is allowed', pkt(OP.VERSION)),
  bseq('-S: auth ok then set/get', plain('testuser', 'testpass'), set('a', 'v'), get('a')),
  bseq('§3 -S: wrong password, then SET closes (CVE-2013-7239)', plain('testuser', 'wrong'), { send: set('a', 'v'), expectClosed: true }),
  bseq('-S: unknown user', plain('nobody', 'testpass'), { send: get('a'), expectClosed: true }),
  bseq('-S: auth ok, then a failed auth drops it', plain('testuser', 'testpass'), plain('testuser', 'nope'), { send: get('a'), expectClosed: true }),
  bseq('§3 -S: SASL_STEP before AUTH', pkt(OP.SASL_STEP, { key: 'PLAIN', value: '\0testuser\0testpass' }), { send: get('a'), expectClosed: true }),
  bseq('§3 -S: SASL_AUTH keylen 33', pkt(OP.SASL_AUTH, { key: 'M'.repeat(33), value: '\0testuser\0testpass' }), pkt(OP.VERSION)),
  bseq('-S: unknown mechanism', pkt(OP.SASL_AUTH, { key: 'FOO', value: '\0testuser\0testpass' }), { send: get('a'), expectClosed: true }),
  bseq('-S: keylen 251 before auth is invalid args', { send: get('k'.repeat(251)), expectClosed: true }),
  bseq('-S: bad framing before auth', { send: cat(pkt(OP.GET, { keylen: 4, bodylen: 1 }), Buffer.from('abcd')), expectClosed: true }),
  bseq('-S: unknown opcode before auth closes', { send: pkt(0x55), expectClosed: true }),
];
