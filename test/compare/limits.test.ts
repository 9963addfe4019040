import { runGroups } from './harness.ts';
import { bigValues, limitGroups } from './seq/limits.ts';

runGroups([{ name: 'big values', sequences: bigValues }, ...limitGroups]);
