import { runGroups } from './harness.ts';
import { admin, counters, errors, quirks, statsQuiet } from './seq/admin.ts';

// admin first on a fresh pair: the stats sequences then see a short, known history.
runGroups([
  { name: 'stats and admin', sequences: admin },
  { name: 'errors (§1.7)', sequences: errors },
  { name: 'quirks (§1.11)', sequences: quirks },
  { name: 'stats counters by value (fresh pair)', flushBefore: false, sequences: counters },
  { name: 'stats with LRU maintainer/crawler off', args: ['-o', 'no_lru_crawler,no_lru_maintainer'], flushBefore: false, sequences: statsQuiet },
]);
