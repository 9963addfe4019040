// flush_all (with and without delay) and expiry. memcached's clock ticks once a second at a phase
// of its own, so only outcomes that hold for any phase are compared (see the comments), and the
// sleeps are few (two of 1.2 s in the whole suite).
import { seq, set, type Sequence } from '../harness.ts';

export const flush: Sequence[] = [
  seq('flush_all', set('a', '1'), 'flush_all\r\n', 'get a\r\n'),
  seq('flush_all 0', set('a', '1'), 'flush_all 0\r\n', 'get a\r\n'),
  seq('flush_all noreply', set('a', '1'), 'flush_all noreply\r\n', 'get a\r\n'),
  seq('flush_all 0 noreply', set('a', '1'), 'flush_all 0 noreply\r\n', 'get a\r\n'),
  seq('flush_all abc', set('a', '1'), 'flush_all abc\r\n', 'get a\r\n'),
  seq('flush_all abc noreply', 'flush_all abc noreply\r\n'),
  seq('flush_all -1', set('a', '1'), 'flush_all -1\r\n', 'get a\r\n'),
  seq('flush_all 1 acts at once', set('a', '1'), 'flush_all 1\r\n', 'get a\r\n'),
  // oldest_live = now+3: no clock phase can reach it within the few ms of this sequence.
  seq('flush_all 4: items stay until then', set('a', '1'), 'flush_all 4\r\n', 'get a\r\n', set('b', '2'), 'get b\r\n'),
  seq('flush_all absolute time in the past', set('a', '1'), 'flush_all 2592001\r\n', 'get a\r\n'),
  seq('flush_all extra tokens', 'flush_all 0 noreply x\r\n', 'flush_all 1 2\r\n'),
  seq('FLUSH_ALL upper case', 'FLUSH_ALL\r\n'),
  seq('items stored after flush_all are visible', set('a', '1'), 'flush_all\r\n', set('b', '2'), 'get a b\r\n'),
  seq('add after flush_all succeeds', set('a', '1'), 'flush_all\r\n', set('a', '2', 0, 0, 'add'), 'get a\r\n'),
  // oldest_live = now+1: after 1.2 s every phase has passed it, so items stored before are gone.
  seq('flush_all 2 takes effect after the delay', set('a', '1'), set('b', '2'), 'flush_all 2\r\n',
    { send: 'get a b\r\n', sleepMs: 1200 }),
];

export const expiry: Sequence[] = [
  // ttl 1 expires at the next tick (0..1 s); ttl 3 survives 1.2 s for any phase.
  seq('ttl, gat, touch after 1.2 s',
    set('t1', 'x', 0, 1), set('t3', 'x', 0, 3), set('g', 'x'), 'gat 1 g\r\n', set('tc', 'x'), 'touch tc 1\r\n',
    set('tp', 'x', 0, 3), 'touch tp 0\r\n', set('gs', 'x'), 'gats 1 gs\r\n', set('i', '5', 0, 1), 'incr i 1\r\n',
    set('ap', 'x', 0, 1), set('ap', 'y', 0, 0, 'append'),
    { send: 'get t1 t3 g tc tp gs i ap\r\n', sleepMs: 1200 },
    'touch t1 10\r\n', set('t1', 'z', 0, 0, 'add'), 'incr i 1\r\n', 'get t1\r\n'),
];
