import { runGroups } from './harness.ts';
import { random } from './seq/random.ts';

// memcached's LRU crawler and maintainer take item references in the background; an incr/decr
// that meets such a reference builds a new item instead of updating in place (no space padding),
// which made memcached-vs-memcached differ once in ~400 streams. Both off, on both servers.
runGroups([{ name: 'random streams', args: ['-o', 'no_lru_crawler,no_lru_maintainer'], sequences: random }]);
