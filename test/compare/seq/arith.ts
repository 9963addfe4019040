// delete / incr / decr / touch (§1.4).
import { seq, set, type Sequence } from '../harness.ts';

export const arith: Sequence[] = [
  seq('delete hit then miss', set('d', 'x'), 'delete d\r\n', 'delete d\r\n', 'get d\r\n'),
  seq('delete legacy 0 argument', set('d', 'x'), 'delete d 0\r\n', 'delete d 0\r\n'),
  seq('delete nonzero time', set('d', 'x'), 'delete d 5\r\n', 'get d\r\n'),
  seq('delete non-numeric time', set('d', 'x'), 'delete d abc\r\n', 'get d\r\n'),
  seq('delete 0 noreply', set('d', 'x'), 'delete d 0 noreply\r\n', 'get d\r\n'),
  seq('delete 5 noreply', set('d', 'x'), 'delete d 5 noreply\r\n', 'get d\r\n'),
  seq('delete with 4 args', 'delete d 0 noreply x\r\n'),
  seq('delete with no key', 'delete\r\n'),
  seq('delete 251-byte key', `delete ${'d'.repeat(251)}\r\n`),
  seq('delete expired item', set('d', 'x', 0, -1), 'delete d\r\n'),
  seq('incr and decr basic', set('n', '10'), 'incr n 5\r\n', 'decr n 3\r\n', 'get n\r\n'),
  seq('incr missing', 'incr nope 1\r\n', 'decr nope 1\r\n'),
  seq('incr by max u64', set('n', '2'), 'incr n 18446744073709551615\r\n'),
  seq('decr floors at 0', set('n', '5'), 'decr n 100\r\n', 'get n\r\n'),
  seq('incr grows the length', set('n', '99'), 'incr n 1\r\n', 'get n\r\n'),
  seq('incr non-numeric value', set('n', 'abc'), 'incr n 1\r\n', 'decr n 1\r\n'),
  seq('incr value with trailing garbage', set('n', '12abc'), 'incr n 1\r\n'),
  seq('incr value with leading spaces', set('n', '  12'), 'incr n 1\r\n', 'get n\r\n'),
  seq('incr value with trailing spaces', set('n', '12  '), 'incr n 1\r\n', 'get n\r\n'),
  seq('incr empty value', set('n', ''), 'incr n 1\r\n'),
  seq('incr value of 20 digits (> u64)', set('n', '99999999999999999999'), 'incr n 1\r\n'),
  seq('incr value of 21 digits', set('n', '000000000000000000001'), 'incr n 1\r\n'),
  seq('incr value -5', set('n', '-5'), 'incr n 1\r\n'),
  seq('incr delta non-numeric', set('n', '1'), 'incr n abc\r\n', 'decr n x1\r\n'),
  seq('incr delta negative', set('n', '1'), 'incr n -1\r\n', 'decr n -1\r\n'),
  seq('incr delta 2^64', set('n', '1'), 'incr n 18446744073709551616\r\n'),
  seq('incr delta +1', set('n', '1'), 'incr n +1\r\n'),
  seq('incr delta 0', set('n', '7'), 'incr n 0\r\n', 'get n\r\n'),
  seq('incr missing delta', set('n', '1'), 'incr n\r\n', 'incr\r\n'),
  seq('incr extra tokens', set('n', '1'), 'incr n 1 2\r\n', 'incr n 1 noreply x\r\n'),
  seq('incr keeps flags, bumps cas', set('n', '1', 77), 'gets n\r\n', 'incr n 1\r\n', 'gets n\r\n'),
  seq('incr 251-byte key', `incr ${'n'.repeat(251)} 1\r\n`),
  seq('incr on a large value', set('n', '1'.padStart(100, '0')), 'incr n 1\r\n'),
  seq('touch hit and miss', set('t', 'x'), 'touch t 100\r\n', 'touch nope 100\r\n', 'get t\r\n'),
  seq('touch negative expires', set('t', 'x'), 'touch t -1\r\n', 'get t\r\n'),
  seq('touch bad exptime', set('t', 'x'), 'touch t abc\r\n', 'touch t 1.5\r\n'),
  seq('touch missing exptime', 'touch t\r\n'),
  seq('touch extra tokens', set('t', 'x'), 'touch t 1 2\r\n'),
  seq('touch does not change cas', set('t', 'x'), 'gets t\r\n', 'touch t 100\r\n', 'gets t\r\n'),
  seq('touch 251-byte key', `touch ${'t'.repeat(251)} 0\r\n`),
];

// incr/decr that shorten a value: memcached updates in place (space padding) only when nothing else
// holds the item; its LRU crawler/maintainer briefly do, so these run with both off (see
// compare/items.test.ts) to be deterministic.
export const arithInPlace: Sequence[] = [
  seq('incr wraps at 2^64', set('n', '18446744073709551615'), 'incr n 1\r\n', 'get n\r\n'),
  seq('decr shrinks: space padding quirk', set('n', '99'), 'incr n 1\r\n', 'decr n 91\r\n', 'get n\r\n', 'incr n 1\r\n', 'get n\r\n'),
  seq('§1.11 incr/decr padding', set('p', '99'), { send: 'incr p 1\r\n', expect: '100\r\n' }, { send: 'decr p 91\r\n', expect: '9\r\n' },
    { send: 'get p\r\n', expect: 'VALUE p 0 3\r\n9  \r\nEND\r\n' }),
  seq('decr of a 20-digit value to 1 digit', set('n', '10000000000000000000'), 'decr n 9999999999999999999\r\n', 'get n\r\n', 'incr n 5\r\n', 'get n\r\n'),
];
