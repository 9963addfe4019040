// Meta commands against memcached 1.6.18 (sequences in seq/meta.ts).
import { runGroups } from './harness.ts';
import { meta } from './seq/meta.ts';

runGroups([{ name: 'meta', sequences: meta }]);
