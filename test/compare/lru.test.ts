import { runGroups } from './harness.ts';
import { lruGroups } from './seq/lru.ts';

runGroups(lruGroups);
