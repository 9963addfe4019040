import { runGroups } from './harness.ts';
import { respMemGroups } from './seq/respmem.ts';

runGroups(respMemGroups);
