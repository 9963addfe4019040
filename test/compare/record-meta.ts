// Records (does not assert) what memcached 1.6.18 answers to meta commands, for the later meta
// issue: `node --import tsx test/compare/record-meta.ts > test/compare/meta-1.6.18.txt`.
// The output uses the comparison suite's normalisation (CAS numbers, versions).
import { startMemcached } from '../helpers/server.ts';
import { Normaliser, runSequence, seq, show, type Sequence } from './harness.ts';

const sequences: Sequence[] = [
  seq('mn', 'mn\r\n'),
  seq('ms / mg basic', 'ms m 2 F3\r\nhi\r\n', 'mg m v f s t k O123\r\n', 'mg m\r\n', 'mg nokey k O1 v\r\n'),
  seq('mg miss with q then mn', 'mg nope v q\r\nmn\r\n'),
  seq('mg flags', 'ms f 1 T100\r\nx\r\n', 'mg f c h l t v\r\n', 'mg f h\r\n', 'mg f u v\r\n'),
  seq('mg errors', 'mg m !\r\n', 'mg m v v\r\n', `mg m ${'v '.repeat(21)}\r\n`, `mg m O${'x'.repeat(32)}\r\n`, `mg m O${'x'.repeat(31)}\r\n`,
    'mg m Fabc\r\n', 'mg\r\n', `mg ${'k'.repeat(251)} v\r\n`),
  seq('mg base64 keys', 'ms Zm9v 1 b\r\nx\r\n', 'mg Zm9v b v k\r\n', 'mg foo v\r\n', 'mg !!!! b v\r\n'),
  seq('ms modes', 'ms s1 1 ME\r\na\r\n', 'ms s1 1 ME\r\nb\r\n', 'ms s1 1 MA\r\nc\r\n', 'ms s1 1 MP\r\nd\r\n', 'ms s1 1 MR\r\ne\r\n',
    'ms nope 1 MR\r\ne\r\n', 'ms nope 1 MA\r\ne\r\n', 'ms s1 2 MZ\r\nzz\r\n', 'mg s1 v\r\n'),
  seq('ms cas', 'ms c 1 c\r\na\r\n', 'ms c 1 C1\r\nb\r\n', 'ms nocas 1 C1\r\nb\r\n', 'ms c 1 I\r\nz\r\n'),
  seq('ms errors', 'ms k 2\r\nabc\r\n', 'ms k x\r\nab\r\n', 'ms k\r\n', 'ms k -1\r\n', 'ms k 1 q\r\nx\r\n', 'ms k 1 q\r\nxy\r\n'),
  seq('md', 'ms d 1\r\nx\r\n', 'md d\r\n', 'md d\r\n', 'md d q\r\n', 'ms d 1\r\nx\r\n', 'md d I T30\r\n', 'mg d v c\r\n', 'md d C1\r\n'),
  seq('ma', 'ma n\r\n', 'ma n N0 J10 v\r\n', 'ma n D5 v\r\n', 'ma n MD D100 v\r\n', 'ma n MX\r\n', 'ma n Dx\r\n', 'ma n Jx N0\r\n',
    'ms t 1\r\nx\r\n', 'ma t\r\n', 'ma n q\r\nmn\r\n', 'ma n t c v k O9\r\n'),
  seq('me', 'ms e 1\r\nx\r\n', 'me e\r\n', 'me nope\r\n', 'me\r\n'),
  seq('meta vivify and stale', 'mg viv N30 s t v\r\n', 'mg viv N30 s t v\r\n', 'ms st 1\r\nx\r\n', 'md st I T30\r\n', 'mg st v c\r\n'),
  seq('meta with bare LF', 'mg m v\n', 'mn\n'),
];

const s = await startMemcached();
try {
  for (const sq of sequences) {
    const n = new Normaliser();
    const res = await runSequence(s.port, sq);
    console.log(`## ${sq.name}`);
    for (const r of res) {
      console.log(`> ${show(r.request, 400)}`);
      console.log(`< ${show(n.normalise(r.reply), 800)}${r.closed ? ' <closed>' : ''}${r.note ? ` (${r.note})` : ''}`);
    }
    const c = await import('../helpers/server.ts').then((m) => m.Conn.open(s.port));
    c.send('flush_all\r\n');
    await c.untilEndsWith('\r\n');
    c.close();
  }
} finally {
  s.proc.kill('SIGKILL');
  await s.stop();
}
