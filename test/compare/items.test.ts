import { runGroups } from './harness.ts';
import { arith, arithInPlace } from './seq/arith.ts';
import { noreply } from './seq/noreply.ts';
import { flush, expiry } from './seq/flush_expiry.ts';

runGroups([
  { name: 'delete/incr/decr/touch', sequences: arith },
  { name: 'incr/decr in place (LRU crawler/maintainer off)', args: ['-o', 'no_lru_crawler,no_lru_maintainer'], sequences: arithInPlace },
  { name: 'noreply', sequences: noreply },
  { name: 'flush_all', sequences: flush },
  { name: 'expiry', sequences: expiry },
]);
