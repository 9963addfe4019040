// -o read_buf_mem_limit (memcached's t/conn-limits.t): 1 MiB over -t 2 threads is 32 buffers of
// 16 KiB a thread; one holds the connection's input, the others 13 replies each, so 403 replies
// fit before a reply is refused. -R 500: memcached writes its replies out every -R commands.
import { seq, type Group, type Sequence } from '../harness.ts';

const get = (n: number): string => `get ${Array(n).fill('foo').join(' ')}\r\n`;
const mg = (n: number): string => 'mg foo v\r\n'.repeat(n);
const oom = { send: 'stats\r\n', statsExact: ['response_obj_oom'] };

const sequences: Sequence[] = [
  seq('a multiget of 403 keys fits, 404 run out of response memory',
    { send: get(403), expect: 'END\r\n' }, { send: get(404), expect: 'SERVER_ERROR out of memory writing get response\r\n' },
    oom, 'get foo\r\n'),
  seq('replies stacked before the get are dropped with it', 'set foo 0 0 1\r\nx\r\n' + get(420), oom),
  // (the harness's `version` sentinel may come in the same read and stack one more reply)
  seq('400 stacked meta replies fit', mg(400), oom),
  seq('420 stacked meta replies close the connection, nothing written', { send: mg(420), expect: '', expectClosed: true }),
  seq('the refusal is counted, and zeroed by stats reset', oom, 'stats reset\r\n', oom),
];

export const respMemGroups: Group[] = [
  { name: 'response memory: -o read_buf_mem_limit=1 -t 2 -R 500', args: ['-o', 'read_buf_mem_limit=1', '-t', '2', '-R', '500'], sequences },
];
