// Meta commands (mg ms md ma mn me; reference §1.5, §1.7, §3) against memcached 1.6.18.
//
// Normalised beyond the harness (memcached's own meta replies carry them): the CAS in meta
// return flags (`c<n>`, me's `cas=<n>`) and time values (mg/ma `t<n>`, `l<n>`, me's `exp=` and
// `la=`), which are rounded so that a second ticking between two steps does not matter. Every
// other byte is compared.
import type { Bytes, Sequence, Step } from '../harness.ts';

const META_LINE = /^(VA|HD|EN|NF|NS|EX|ME) /;
const round10 = (n: number): number => Math.round(n / 10) * 10;

/** Meta CAS and time values out of meta reply lines (not out of data lines). */
export function metaNorm(reply: string): string {
  return reply.split('\r\n').map((l) => {
    if (!META_LINE.test(l)) return l;
    return l
      .replace(/ c\d+/g, ' c<cas>')
      .replace(/ t(\d+)/g, (_m, n: string) => ` t~${round10(Number(n))}`)
      .replace(/ l(\d+)/g, (_m, n: string) => ` l~${Number(n) <= 2 ? 0 : n}`)
      .replace(/ cas=\d+/g, ' cas=<cas>')
      .replace(/ exp=(-?\d+)/g, (_m, n: string) => ` exp=~${Number(n) === -1 ? -1 : round10(Number(n))}`)
      .replace(/ la=(\d+)/g, (_m, n: string) => ` la=~${Number(n) <= 2 ? 0 : n}`);
  }).join('\r\n');
}

/** A sequence whose every step is compared after metaNorm. */
const m = (name: string, ...reqs: Array<Bytes | Step>): Sequence => ({
  name,
  steps: reqs.map((r) => (typeof r === 'string' || Buffer.isBuffer(r) ? { send: r, summary: metaNorm } : { summary: metaNorm, ...r })),
});

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
/** A flag token as a client would send it alone: letters that take a token get a valid one. */
const TOKEN: Record<string, string> = { N: 'N30', R: 'R30', T: 'T30', C: 'C1', F: 'F7', J: 'J5', D: 'D3', M: 'MI', O: 'O123', E: 'E5', S: 'S5' };
const tok = (c: string): string => TOKEN[c] ?? c;
const LETTERS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'];
const HIT = 'set hk 5 100 5\r\nhello\r\n';

export const meta: Sequence[] = [
  // ---- mg: every letter alone, on a hit and on a miss (unknown letters: invalid flag)
  ...LETTERS.map((c) => m(`mg ${tok(c)} on a hit`, HIT, c === 'b' ? `mg ${b64('hk')} b\r\n` : `mg hk ${tok(c)}\r\n`, 'mg hk v\r\n')),
  ...LETTERS.map((c) => m(`mg ${tok(c)} on a miss`, c === 'b' ? `mg ${b64('nokey')} b\r\n` : `mg nokey ${tok(c)}\r\n`, 'mg nokey s v\r\n')),

  // ---- mg combinations clients send
  m('mg no flags hit/miss', HIT, 'mg hk\r\n', 'mg nope\r\n'),
  m('mg v f s t k O', 'set m 3 0 2\r\nhi\r\n', 'mg m v f s t k O123\r\n'),
  m('mg k O echoed on EN', 'mg nokey k O1 v\r\n', 'mg nokey O1 k\r\n'),
  m('mg q hides EN only', HIT, 'mg nope v q\r\nmg hk v q\r\nmg hk q\r\nmn\r\n'),
  m('mg pipeline of q gets closed by mn', HIT, 'set b 0 0 1\r\nB\r\n', 'mg hk v q k\r\nmg x v q k\r\nmg b v q k\r\nmg y v q k\r\nmn\r\n'),
  m('mg flags in request order', HIT, 'mg hk k f s v c\r\nmg hk c s f k v\r\nmg hk O9 v k\r\n'),
  m('mg h and l before and after a fetch', 'set f 0 100 1\r\nx\r\n', 'mg f c h l t v\r\n', 'mg f h\r\n', 'mg f h l\r\n'),
  m('mg u does not mark fetched', 'set f 0 0 1\r\nx\r\n', 'mg f u v\r\n', 'mg f h\r\n', 'mg f h\r\n'),
  m('mg T updates the TTL, order matters for t', HIT, 'mg hk t T30 t\r\n', 'mg hk t\r\n', 'mg hk T0 t\r\n'),
  m('mg T on a miss', 'mg nope T30 v\r\n', 'mg nope v\r\n'),
  m('mg T-1 expires', HIT, 'mg hk T-1\r\n', 'mg hk v\r\n'),
  m('mg N vivifies: W then Z', 'mg viv N30 s t v\r\n', 'mg viv N30 s t v\r\n', 'mg viv s t v c\r\n'),
  m('mg N with k and O on a vivified item', 'mg vv N30 k O5 v\r\n', 'mg vv k O6\r\n'),
  m('mg N on a hit does nothing', HIT, 'mg hk N30 t v\r\n'),
  m('mg R wins when the TTL is below', 'set r 0 20 1\r\nx\r\n', 'mg r R30 v\r\n', 'mg r R30 v\r\n', 'mg r v\r\n'),
  m('mg R no win when TTL above or infinite', 'set r 0 100 1\r\nx\r\n', 'set i 0 0 1\r\nx\r\n', 'mg r R30 v t\r\n', 'mg i R30 v t\r\n'),
  m('md I marks stale: X W then X Z', 'ms st 1\r\nx\r\n', 'md st I T30\r\n', 'mg st v c\r\n', 'mg st v c\r\n', 'mg st s t\r\n'),
  m('md I then ms I with a lower CAS stores stale', 'ms s 1\r\na\r\n', { send: 'mg s c\r\n' },
    'md s I\r\n', 'ms s 1 I C1\r\nb\r\n', 'mg s v\r\n', 'ms s 1\r\nc\r\n', 'mg s v\r\n'),
  m('stale-while-revalidate flow', 'ms sw 3 T100\r\nold\r\n', 'md sw I T30 q\r\n', 'mg sw v c t\r\n', 'mg sw v c t\r\n',
    'ms sw 3 T100\r\nnew\r\n', 'mg sw v t\r\n'),
  m('mg base64 key, k echoes base64', `ms ${b64('foo')} 3 b\r\nbar\r\n`, 'get foo\r\n', `mg ${b64('foo')} b k v\r\n`, 'mg foo k v\r\n'),
  m('mg base64 key of a plain item echoes it raw', 'set foo 0 0 1\r\nx\r\n', `mg ${b64('foo')} b k v\r\n`),
  m('mg base64 binary key bytes', `ms ${b64('a\x00\x01 b')} 2 b\r\nhi\r\n`, `mg ${b64('a\x00\x01 b')} b k v s\r\n`, `me ${b64('a\x00\x01 b')} b\r\n`),
  m('mg base64 miss echoes base64 k', `mg ${b64('nope')} b k O1\r\n`, `mg ${b64('nope')} b q k\r\nmn\r\n`),
  m('mg base64 quirks: skipped bytes and padding', 'set foo 0 0 1\r\nx\r\n', 'mg Z!m9v b v k\r\n', 'mg Zm9v==== b v\r\n', 'mg Zg== b v k\r\n', 'mg Zm8= b v k\r\n'),
  m('mg opaque 31 and 32 bytes', HIT, `mg hk O${'x'.repeat(30)}\r\n`, `mg hk O${'x'.repeat(31)}\r\n`, `mg hk O${'x'.repeat(32)}\r\n`),
  m('mg opaque too long on a miss', `mg nope O${'x'.repeat(32)}\r\n`, `mg nope q O${'x'.repeat(40)}\r\n`),
  m('mg opaque too long after T: TTL changed, no reply line', HIT, `mg hk T30 O${'x'.repeat(40)} v\r\n`, 'mg hk t v\r\n'),
  m('mg opaque too long vivifies first', `mg nv N30 O${'x'.repeat(40)}\r\n`, 'mg nv v t\r\n'),
  m('mg 17 flags is the limit', HIT, 'mg hk v f s t c h l O1 k q u P L T1 N1 R1 I\r\n', 'mg hk v f s t c h l O1 k q u P L T1 N1 R1 I C1\r\n'),
  m('mg flags after the 23rd token', HIT, `mg hk ${'v '.repeat(30)}\r\n`),
  m('mg TAB is part of a token', HIT, 'mg hk v\tk\r\n', 'mg\thk v\r\n'),
  m('mg bare LF', HIT, 'mg hk v\n', 'mn\n'),
  m('mg spaces between flags', HIT, 'mg   hk    v     s   \r\n'),
  m('mg value with binary data', 'ms bin 4\r\n\x00\r\n\x01\r\n', 'mg bin v s\r\n'),
  m('mg empty value', 'ms e 0\r\n\r\n', 'mg e v s f\r\n'),
  m('mg after text set with flags', 'set fl 4294967295 0 1\r\nx\r\n', 'mg fl f v\r\n'),

  // ---- mg errors (§1.7)
  m('mg errors', 'mg\r\n', 'mg hk !\r\n', 'mg hk v v\r\n', 'mg hk v \x80\r\n', 'mg hk Tx\r\n', 'mg hk T\r\n', 'mg hk Cx\r\n',
    'mg hk Mxx\r\n', 'mg hk Jx\r\n', 'mg hk Dx\r\n', 'mg hk Nx\r\n', 'mg hk Rx\r\n'),
  m('mg error message precedence', 'mg k Jx Dx\r\n', 'mg k Dx Fx\r\n', 'mg k Tx !\r\n', 'mg k ! Tx\r\n', 'mg k Fx\r\n', 'mg k Tx Fx\r\n'),
  m('mg bad base64 keys', 'mg ! b\r\n', 'mg abc b\r\n', 'mg ==== b\r\n', 'mg A=== b\r\n', 'mg !!!! b v\r\n'),
  m('mg key 250 and 251 bytes', `mg ${'k'.repeat(250)} v\r\n`, `mg ${'k'.repeat(251)} v\r\n`, `ms ${'k'.repeat(250)} 1\r\nx\r\n`, `mg ${'k'.repeat(250)} v k\r\n`),

  // ---- ms: every known flag alone, on a new and on an existing key
  ...[...'bcfhklqstuvCDFIJLMNOPRT'].map((c) => m(`ms ${tok(c)} alone`, HIT,
    c === 'b' ? `ms ${b64('hk')} 2 b\r\nhi\r\n` : `ms hk 2 ${tok(c)}\r\nhi\r\n`,
    c === 'b' ? `ms ${b64('new')} 2 b\r\nhi\r\n` : `ms new 2 ${tok(c)}\r\nhi\r\n`,
    'mg hk v f t\r\nmg new v f t\r\n')),
  ...['E', 'A', 'P', 'R', 'S', 'Z', 'e', 'a'].map((c) => m(`ms mode M${c}`, HIT, `ms hk 2 M${c}\r\nhi\r\n`, `ms nk 2 M${c}\r\nhi\r\n`, 'mg hk v\r\nmg nk v\r\n')),
  m('ms basic and return flags in order', 'ms k 2 T0 c k O99\r\nhi\r\n', 'mg k v c\r\n', 'ms k 2 O1 c k\r\nhi\r\n'),
  m('ms q hides HD only', 'ms k 2 q\r\nhi\r\n', 'ms k 2 q ME\r\nhi\r\n', 'ms n 2 q MR\r\nhi\r\n', 'mn\r\n'),
  m('ms F and T', 'ms k 2 F77 T100\r\nhi\r\n', 'mg k f t v\r\n', 'get k\r\n'),
  m('ms append/prepend keep flags', 'ms k 1 F5 T100\r\na\r\n', 'ms k 1 MA F9 T0\r\nb\r\n', 'ms k 1 MP\r\nc\r\n', 'mg k v f t\r\n'),
  m('ms add/replace', 'ms k 1 ME\r\na\r\n', 'ms k 1 ME\r\nb\r\n', 'ms k 1 MR\r\nc\r\n', 'ms n 1 MR\r\nc\r\n', 'mg k v\r\n'),
  m('ms C compare and swap', 'ms c 1 c\r\na\r\n', { send: (ctx) => `ms c 1 C${/c(\d+)/.exec(ctx.last())![1]} c\r\nb\r\n` }, 'ms c 1 C1\r\nb\r\n', 'ms nocas 1 C1\r\nb\r\n', 'mg c v\r\n'),
  m('ms C0 on an item', 'ms c 1\r\na\r\n', 'ms c 1 C0\r\nb\r\n', 'mg c v\r\n'),
  m('ms C with ME/MA/MP', 'ms c 1\r\na\r\n', 'ms c 1 ME C1\r\nb\r\n', 'ms c 1 MA C1\r\nb\r\n', 'ms c 1 MP C0\r\nb\r\n', 'mg c v\r\n'),
  m('ms I without C', 'ms c 1\r\na\r\n', 'ms c 1 I\r\nz\r\n', 'mg c v\r\n'),
  m('ms I with a matching CAS', 'ms c 1\r\na\r\n', { send: 'mg c c\r\n' }, { send: (ctx) => `ms c 1 I C${/c(\d+)/.exec(ctx.last())![1]}\r\nb\r\n` }, 'mg c v\r\n'),
  m('ms I with a higher CAS', 'ms c 1\r\na\r\n', 'ms c 1 I C99999999\r\nb\r\n', 'mg c v\r\n'),
  m('ms c on failure is c0', 'ms n 1 MR c\r\nx\r\n', 'ms n 1 C5 c k\r\nx\r\n'),
  m('ms b with append/prepend does not mark the key binary', 'set a 0 0 1\r\nx\r\n', 'ms YQ== 1 b MP c\r\n5\r\n', 'me a\r\n', 'mg a k v\r\n',
    'ms YQ== 1 b MA\r\n6\r\n', 'me a\r\n', 'ms YQ== 1 b\r\n7\r\n', 'me a\r\n', 'ms YQ== 1 b MA\r\n6\r\n', 'me a\r\n', 'ma YQ== b k\r\n', 'ma a k\r\n'),
  m('ms base64 key with k and c', `ms ${b64('kk')} 1 b k c\r\nx\r\n`, `ms ${b64('kk')} 1 b k MR\r\nx\r\n`, 'mg kk v k\r\n', 'me kk\r\n'),
  m('ms zero-length and binary values', 'ms z 0\r\n\r\n', 'ms b 3\r\n\r\n\x00\r\n', 'mg z v s\r\nmg b v s\r\n'),
  m('ms value of 100 KB', `ms big 102400 T0\r\n${'v'.repeat(102400)}\r\n`, 'mg big s\r\n'),
  m('ms errors without swallow', 'ms\r\n', 'ms k\r\n', 'ms k x\r\nhi\r\n', 'ms k -1\r\n', 'ms k 2147483646\r\n', `ms ${'k'.repeat(251)} 1\r\nx\r\n`),
  m('ms errors that swallow the data', 'ms k 2 !\r\nhi\r\nmn\r\n', 'ms k 2 Tx\r\nhi\r\n', 'ms ! 2 b\r\nhi\r\n', 'ms k 2 Fabc\r\nhi\r\n',
    'ms k 2 v v\r\nhi\r\n', 'ms k 2 Mxx\r\nhi\r\n', 'mg k v\r\n'),
  m('ms opaque too long swallows', `ms k 2 O${'x'.repeat(32)}\r\nhi\r\n`, `ms k 2 MZ O${'x'.repeat(32)}\r\nhi\r\n`, 'mg k v\r\n'),
  m('ms bad mode swallows', 'ms ms1 2 MZ\r\nhi\r\nmn\r\n'),
  m('ms flags too long', 'ms k 2 a b c d e f g h i j k l m n o p q\r\nhi\r\n', 'ms k 2 T1 F1 c k O1 q MS I C1 v s t f h l u\r\nhi\r\n'),
  m('ms bad data chunk', 'ms k 2\r\nabc\r\n', 'ms k 1 q\r\nxy\r\n', 'ms k 2\r\nhi\n\n', 'mg k v\r\n'),
  m('ms data in a later write', { send: 'ms k 5 T0\r\nhe', wait: 'quiet', quietMs: 150 }, { send: 'llo\r\nmg k v\r\n' }),
  m('ms line and data byte by byte', { send: 'ms k 3 c k\r\nabc\r\nmg k v s\r\n', split: 'bytes', gapMs: 1 }),
  m('ms too large swallows and deletes', 'ms tl 1\r\nx\r\n', { send: `ms tl 1100000\r\n${'z'.repeat(1100000)}\r\n` }, 'mg tl v\r\n'),
  m('ms too large in pieces', 'ms tl 1\r\nx\r\n', { send: `ms tl 2000000\r\n${'z'.repeat(1000)}`, wait: 'quiet', quietMs: 150 },
    { send: `${'z'.repeat(1999000)}\r\nmg tl v\r\n` }),
  m('ms error swallow in pieces', { send: 'ms k 10 !\r\nabc', wait: 'quiet', quietMs: 150 }, { send: 'defghij\r\nmn\r\n' }),

  // ---- md
  m('md hit, miss, q', 'ms d 1\r\nx\r\n', 'md d\r\n', 'md d\r\n', 'ms d 1\r\nx\r\n', 'md d q\r\n', 'md d q\r\nmn\r\n'),
  m('md k and O', 'ms d 1\r\nx\r\n', 'md d k O5\r\n', 'md d O6 k\r\n'),
  m('md C match and mismatch', 'ms d 1\r\nx\r\n', 'md d C1\r\n', { send: 'mg d c\r\n' }, { send: (ctx) => `md d C${/c(\d+)/.exec(ctx.last())![1]}\r\n` }, 'mg d v\r\n'),
  m('md C0', 'ms d 1\r\nx\r\n', 'md d C0\r\n', 'mg d v\r\n'),
  m('md I keeps the item, new CAS, T', 'ms d 1 T100\r\nx\r\n', 'md d I\r\n', 'mg d v t\r\n', 'md d I T30\r\n', 'mg d v t\r\n'),
  m('md I q', 'ms d 1\r\nx\r\n', 'md d I q\r\nmn\r\n', 'mg d v\r\n'),
  m('md T without I is ignored', 'ms d 1 T100\r\nx\r\n', 'md d T30\r\n', 'mg d v\r\n'),
  m('md base64', `ms ${b64('dd')} 1 b\r\nx\r\n`, `md ${b64('dd')} b k\r\n`, `md ${b64('dd')} b k\r\n`),
  m('md other known flags are accepted', 'ms d 1\r\nx\r\n', 'md d v s t f h l u P L\r\n'),
  m('md errors', 'md\r\n', 'md k Cx\r\n', 'md k zz\r\n', 'md ! b\r\n', 'md k v v\r\n', 'md k a b c d e f g h i j k l m n o p q r\r\n',
    `md ${'k'.repeat(251)}\r\n`, `md k O${'x'.repeat(32)}\r\n`),

  // ---- ma
  m('ma miss, N, J, D, v', 'ma n\r\n', 'ma n N0\r\n', 'ma n\r\n', 'ma n v\r\n', 'ma n MD v\r\n', 'ma n D10 MD v t c\r\n'),
  m('ma q hides HD/VA only', 'ma n q\r\n', 'ma n N0 q\r\n', 'ma n q\r\nma n v q\r\nmn\r\n', 'mg n v\r\n'),
  m('ma N J with t and order', 'ma x N100 J42 v t\r\n', 'ma x v t\r\n', 'ma y t N100 J5 v\r\n', 'ma y v t T30 t\r\n'),
  m('ma modes', 'set n 0 0 2\r\n10\r\n', 'ma n MI v\r\n', 'ma n M+ v\r\n', 'ma n MD v\r\n', 'ma n M- v\r\n', 'ma n MX\r\n', 'ma n Mi\r\n'),
  m('ma wraps and floors', 'set n 0 0 20\r\n18446744073709551615\r\n', 'ma n v\r\n', 'ma n MD D5 v\r\n', 'mg n v\r\n'),
  m('ma shrinking value is space padded', 'set n 0 0 3\r\n100\r\n', 'ma n MD D91 v\r\n', 'mg n v s\r\n', 'get n\r\n'),
  m('ma non-numeric', 'set z 0 0 2\r\nab\r\n', 'ma z\r\n', 'ma z q\r\n', 'ms e 0\r\n\r\n', 'ma e\r\n'),
  m('ma C', 'set n 0 0 1\r\n5\r\n', 'ma n C1 v\r\n', { send: 'mg n c\r\n' }, { send: (ctx) => `ma n C${/c(\d+)/.exec(ctx.last())![1]} v c\r\n` }, 'ma n C0 v\r\n'),
  m('ma k O on hit, miss, EX', 'set n 0 0 1\r\n5\r\n', 'ma n k O1 v\r\n', 'ma nn k O2\r\n', 'ma n C1 k O3\r\n'),
  m('ma base64', `ma ${b64('cnt')} b N0 J7 v k\r\n`, `ma ${b64('cnt')} b v k\r\n`, 'mg cnt v k\r\n'),
  m('ma C against empty and non-numeric values', 'set a 0 0 5\r\nhello\r\n', 'ma a C99999\r\n', 'ma a C0\r\n', 'set e 0 0 0\r\n\r\n', 'ma e C99999\r\n'),
  m('ma keeps or loses the stale mark', 'set foo 0 0 2\r\n10\r\n', 'md foo k I\r\n', 'gets foo\r\n', 'incr foo 1\r\n', 'mg foo R1\r\n', 'mg foo\r\n'),
  m('ma in place keeps fetched', 'set a 0 0 2\r\n10\r\n', 'get a\r\n', 'ma a O1\r\n', 'mg a h\r\n', 'set b 0 0 1\r\n9\r\n', 'get b\r\n', 'ma b\r\n', 'mg b h\r\n'),
  m('ma T on a hit', 'set n 0 0 1\r\n5\r\n', 'ma n T100 t\r\n', 'mg n t v\r\n'),
  m('ma opaque too long after the increment', 'set n 0 0 1\r\n5\r\n', `ma n O${'x'.repeat(32)}\r\n`, 'mg n v\r\n', `ma nope O${'x'.repeat(32)}\r\n`),
  m('ma errors', 'ma\r\n', 'ma k J1a\r\n', 'ma k Dx\r\n', 'ma k Mxx\r\n', 'ma k !\r\n', 'ma ! b\r\n', 'ma k a b c d e f g h i j k l m n o p q r\r\n',
    `ma ${'k'.repeat(251)}\r\n`),
  m('ma other known flags', 'set n 0 0 1\r\n5\r\n', 'ma n s f h l u P L R30 I F5\r\n', 'mg n v\r\n'),
  m('incr and ma share the value', 'set n 0 0 1\r\n5\r\n', 'incr n 5\r\n', 'ma n v\r\n', 'decr n 1\r\n', 'ma n MD v\r\n'),

  // ---- mn, me
  m('mn', 'mn\r\n', 'mn foo bar\r\n', 'mn\n'),
  m('me hit and miss', 'set e 0 0 1\r\nx\r\n', 'me e\r\n', 'me nope\r\n'),
  m('me after a fetch and with TTL and flags', 'set e 5 100 3\r\nabc\r\n', 'get e\r\n', 'me e\r\n'),
  m('me base64', `ms ${b64('ee')} 1 b\r\nx\r\n`, `me ${b64('ee')} b\r\n`, 'me ee\r\n', 'set pl 0 0 1\r\nx\r\n', `me ${b64('pl')} b\r\n`),
  m('me errors and ignored tokens', 'me\r\n', 'me ! b\r\n', `me ${'k'.repeat(251)}\r\n`, 'set e 0 0 1\r\nx\r\n', 'me e bx\r\n', 'me e v b\r\n', 'me e x y z\r\n'),
  m('me on a stale and a vivified item', 'mg v N30\r\n', 'me v\r\n', 'set s 0 0 1\r\nx\r\n', 'md s I\r\n', 'me s\r\n'),
  m('me size by class', `set big 0 0 5000\r\n${'b'.repeat(5000)}\r\n`, 'me big\r\n', 'set f 123 0 10\r\n0123456789\r\n', 'me f\r\n'),

  // ---- what meta clients send
  m('client: q never hides an error', 'mg k q !\r\n', 'ms k 2 q Tx\r\nhi\r\n', 'md k q Cx\r\n', 'ma k q MZ\r\n', 'ms k 2 q\r\nhix\r\n', 'mn\r\n'),
  m('client: anti-dogpile get (N R c v t)', 'mg dp c v N30 R10 t\r\n', 'mg dp c v N30 R10 t\r\n', 'ms dp 3 T100\r\nval\r\n', 'mg dp c v N30 R10 t\r\n'),
  m('client: recache win on a short TTL', 'ms rc 3 T5\r\nval\r\n', 'mg rc c v N30 R10 t\r\n', 'mg rc c v N30 R10 t\r\n', 'ms rc 3 T100\r\nnew\r\n', 'mg rc v R10 t\r\n'),
  m('client: hot-key probe (h l t)', 'ms hot 1\r\nx\r\n', 'mg hot h l t\r\n', 'mg hot h l t v\r\n'),
  m('client: proxy-style set/get/delete with opaques', 'ms px 5 T0 F0 O1\r\nhello\r\n', 'mg px s t v f O2\r\n', 'md px O3\r\n', 'mg px s t v f O4\r\n'),
  m('client: quiet set batch then mn', 'ms q1 1 q T0\r\na\r\nms q2 1 q ME\r\nb\r\nms q1 1 q ME\r\nc\r\nmd q3 q\r\nmn\r\n', 'mg q1 v\r\nmg q2 v\r\n'),
  m('client: counter with autovivify', 'ma ctr N0 J100 v\r\n', 'ma ctr N0 J100 v\r\n', 'ma ctr N0 J100 D10 MD v\r\n', 'ma ctr q\r\nmg ctr v\r\n'),
  m('client: get-and-touch via mg T', 'ms gt 1 T100\r\nx\r\n', 'mg gt T300 v t\r\n', 'mg gt t\r\n'),
  m('client: compare-and-delete', 'ms cd 1\r\nx\r\n', { send: 'mg cd c\r\n' }, { send: (ctx) => `md cd q C${/c(\d+)/.exec(ctx.last())![1]}\r\nmn\r\n` }, 'mg cd v\r\n'),

  // ---- other 2-byte m names, and meta next to text commands
  m('unknown m commands', 'mz k\r\n', 'mget k\r\n', 'm\r\n', 'mg_ k\r\n'),
  m('meta and text commands interleaved', 'set a 0 0 1\r\nA\r\nmg a v\r\nms b 1\r\nB\r\nget a b\r\nmd a\r\ndelete b\r\nmg a v\r\nmn\r\n'),
  m('gets CAS equals mg c', 'set a 0 0 1\r\nA\r\n', 'gets a\r\nmg a c\r\n'),
  m('meta pipeline in one write', 'ms p1 1 q\r\na\r\nms p2 1 q\r\nb\r\nmg p1 v q k\r\nmg p2 v q k\r\nmg p3 v q k\r\nmd p1 q\r\nmd p3 q\r\nma p4 N0 q\r\nmn\r\n'),
  m('meta pipeline split at every byte', { send: 'mg a v\r\nms a 2 c\r\nhi\r\nmg a v s\r\nmd a q\r\nmn\r\n', split: 'bytes', gapMs: 1 }),
  m('flush_all hides meta items', 'ms a 1\r\nx\r\n', 'flush_all\r\n', 'mg a v\r\n', 'me a\r\n'),
  m('noreply text then meta', 'set a 0 0 1 noreply\r\nx\r\nmg a v\r\n'),

  // ---- §3 regression rows: a clear error, nothing lost
  m('§3 mg k Fabc', 'set keep 0 0 4\r\nsafe\r\n', 'mg k Fabc\r\n', 'mg keep v\r\n', 'mg k Fabc v\r\nmg keep v\r\n'),
  m('§3 mg k + 21 flags', 'set keep 0 0 4\r\nsafe\r\n', 'mg k a b c d e f g h i j k l m n o p q r s t u\r\n', 'mg keep v\r\n'),
  m('§3 mg k + 21 valid flags', 'set keep 0 0 4\r\nsafe\r\n', `mg keep ${'v f s t c h l k q u P L O1 T1 N1 R1 I C1 F1 J1 D1'}\r\n`, 'mg keep v\r\n'),
  m('§3 mg k O<40 chars>', 'set keep 0 0 4\r\nsafe\r\n', `mg k O${'x'.repeat(40)}\r\n`, `mg keep O${'y'.repeat(40)} v\r\n`, 'mg keep v\r\n'),
  m('§3 mg <bad base64> b', 'set keep 0 0 4\r\nsafe\r\n', 'mg !!!! b\r\n', 'mg a*b b v\r\n', 'mg ==== b\r\n', 'mg keep v\r\n'),
  m('§3 ms/md/ma with bad base64', 'set keep 0 0 4\r\nsafe\r\n', 'ms !!!! 2 b\r\nhi\r\n', 'md !!!! b\r\n', 'ma !!!! b\r\n', 'me !!!! b\r\n', 'mg keep v\r\n'),
  m('§3 meta line of 64 KiB with LF', 'set keep 0 0 4\r\nsafe\r\n', `mg keep ${'v '.repeat(32768)}\r\n`, 'mg keep v\r\n'),
  m('§3 meta line without LF over 2048 closes', { send: `mg k ${'v'.repeat(3000)}`, expectClosed: true }),
  m('§3 meta with NUL bytes', 'set keep 0 0 4\r\nsafe\r\n', 'mg keep v\x00junk\r\n', 'mg k\x00eep v\r\n', 'ms k\x00 1\r\nx\r\n', 'mg keep v\r\n'),
  m('§3 CVE-2023-46853 bare LF meta', 'mg foo v\n', 'md foo q\n', 'ms foo 1\nx\r\n', 'mg foo v\n'),
  m('§3 ms negative and huge datalen', 'ms k -1\r\n', 'ms k 4294967295\r\n', 'ms k 2147483647\r\n', 'ms k 18446744073709551615\r\n', 'mg k v\r\n'),
];
