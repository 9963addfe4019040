// noreply on every command that takes it, on every outcome, followed by a command that shows the
// effect (and that nothing was left unsent).
import { seq, set, type Sequence } from '../harness.ts';

const nr = (key: string, value: string, cmd = 'set', flags = 0, exp = 0) => set(key, value, flags, exp, cmd, ' noreply');

export const noreply: Sequence[] = [
  seq('set noreply', nr('a', '1'), 'get a\r\n'),
  seq('add noreply stored / not stored', nr('a', '1', 'add'), nr('a', '2', 'add'), 'get a\r\n'),
  seq('replace noreply stored / not stored', nr('r', '1', 'replace'), set('r', '1'), nr('r', '2', 'replace'), 'get r\r\n'),
  seq('append/prepend noreply', set('a', 'm'), nr('a', '>', 'append'), nr('a', '<', 'prepend'), nr('zz', 'x', 'append'), 'get a zz\r\n'),
  seq('cas noreply: stored, exists, not found', set('c', '1'), 'gets c\r\n',
    { send: (x) => `cas c 0 0 1 ${x.cas('c')} noreply\r\n2\r\n` },
    { send: (x) => `cas c 0 0 1 ${x.cas('c')} noreply\r\n3\r\n` },
    'cas nope 0 0 1 1 noreply\r\nx\r\n', 'get c\r\n'),
  seq('delete noreply hit and miss', set('d', '1'), 'delete d noreply\r\n', 'delete d noreply\r\n', 'get d\r\n'),
  seq('incr/decr noreply', set('n', '5'), 'incr n 3 noreply\r\n', 'decr n 1 noreply\r\n', 'incr nope 1 noreply\r\n', 'get n\r\n'),
  seq('incr noreply on non-numeric value', set('n', 'x'), 'incr n 1 noreply\r\n', 'get n\r\n'),
  seq('incr noreply with bad delta', set('n', '1'), 'incr n abc noreply\r\n', 'get n\r\n'),
  seq('touch noreply hit and miss', set('t', '1'), 'touch t 100 noreply\r\n', 'touch nope 100 noreply\r\n', 'get t\r\n'),
  seq('touch noreply bad exptime', 'touch t abc noreply\r\n'),
  seq('flush_all noreply then get', set('a', '1'), 'flush_all noreply\r\n', 'get a\r\n'),
  seq('verbosity noreply', 'verbosity noreply\r\n', 'verbosity 1 noreply\r\n', 'verbosity 0 noreply\r\n'),
  seq('verbosity bad value noreply', 'verbosity x noreply\r\n'),
  seq('cache_memlimit noreply', 'cache_memlimit 64 noreply\r\n', 'cache_memlimit 1 noreply\r\n', 'cache_memlimit 64\r\n'),
  seq('get noreply is a key', 'get a noreply\r\n'),
  seq('stats noreply', 'stats noreply\r\n'),
  seq('version noreply', 'version noreply\r\n'),
  seq('bad data chunk with noreply is silent', 'set n 0 0 1 noreply\r\nxy\r\n', 'get n\r\n'),
  seq('bad command line with noreply', 'set n abc 0 1 noreply\r\nx\r\n'),
  seq('negative bytes with noreply', 'set n 0 0 -1 noreply\r\n'),
  seq('too large with noreply', `set big 0 0 2097152 noreply\r\n${'b'.repeat(2097152)}\r\n`, 'get big\r\n'),
  seq('251-byte key with noreply', `set ${'k'.repeat(251)} 0 0 1 noreply\r\nx\r\n`),
  seq('delete bad time with noreply', set('d', '1'), 'delete d 5 noreply\r\n', 'get d\r\n'),
  seq('noreply misspelled', 'set a 0 0 1 norepl\r\nx\r\n', 'set a 0 0 1 NOREPLY\r\nx\r\n', 'set a 0 0 1 noreplyx\r\nx\r\n'),
  seq('noreply pipeline: only the get answers', nr('a', '1') + nr('b', '2') + 'delete a noreply\r\n' + 'incr b 1 noreply\r\n' + 'get a b\r\n'),
];
