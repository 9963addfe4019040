import { runGroups } from './harness.ts';
import { regress } from './seq/regress.ts';

runGroups([{ name: 'regression inputs (§3)', sequences: regress }]);
