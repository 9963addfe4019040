import { runGroups } from './harness.ts';
import { bigValues, chunkedGroups, limitGroups } from './seq/limits.ts';

runGroups([{ name: 'big values', sequences: bigValues }, ...chunkedGroups, ...limitGroups]);
