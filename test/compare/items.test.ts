import { runGroups } from './harness.ts';
import { arith } from './seq/arith.ts';
import { noreply } from './seq/noreply.ts';
import { flush, expiry } from './seq/flush_expiry.ts';

runGroups([
  { name: 'delete/incr/decr/touch', sequences: arith },
  { name: 'noreply', sequences: noreply },
  { name: 'flush_all', sequences: flush },
  { name: 'expiry', sequences: expiry },
]);
