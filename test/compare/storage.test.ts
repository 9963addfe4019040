import { runGroups } from './harness.ts';
import { storage } from './seq/storage.ts';
import { retrieval } from './seq/retrieval.ts';

runGroups([{ name: 'storage', sequences: storage }, { name: 'retrieval', sequences: retrieval }]);
