import { runGroups } from './harness.ts';
import { pipeline } from './seq/pipeline.ts';

runGroups([{ name: 'pipelines and splits', sequences: pipeline }]);
