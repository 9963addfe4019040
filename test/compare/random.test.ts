import { runGroups } from './harness.ts';
import { random } from './seq/random.ts';

runGroups([{ name: 'random streams', sequences: random }]);
