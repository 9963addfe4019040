// The per-fault warning is bounded (server/log.ts): a flood of faults is logged as the first
// lines of each second in full plus one summary line per second with the rest counted by kind,
// so the log still accounts for every fault; stats keep the exact totals; -v logs every one.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { Conn, startRemcached, type Server } from '../helpers/server.ts';
import { sleep, stats } from './helpers.ts';

const FAULTS = 60;
const NULL_DEREF = 7; // caught in every mode, --isolation=none included (native/include/remc_fault_inject.h)

async function flood(port: number): Promise<void> {
  for (let i = 0; i < FAULTS; i++) {
    const c = await Conn.open(port);
    c.send(`debug_fault ${NULL_DEREF}\r\n`);
    await c.closedWithin(3000);
    c.close();
  }
}

function lines(log: string): Array<Record<string, unknown>> {
  return log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('a flood of faults: some lines in full, the rest in per-second summaries; every fault accounted for', async () => {
  let srv: Server | null = null;
  try {
    srv = await startRemcached(['--isolation=none', '--enable-fault-injection']);
    await flood(srv.port);
    const s = await stats(srv.port, 'isolation');
    assert.is(s.get('parser_faults'), String(FAULTS), 'stats count every fault');
    // the last summary is written when its second is over (each worker's own timer): wait for
    // every fault to be accounted for, 5 s at most
    const account = () => {
      const log = lines(srv!.stderr());
      const full = log.filter((l) => l.msg === 'parser fault rewound; connection closed');
      const summaries = log.filter((l) => typeof l.unlogged === 'number');
      return { full, summaries, unlogged: summaries.reduce((a, l) => a + (l.unlogged as number), 0) };
    };
    await sleep(1100);
    for (const until = Date.now() + 4000; Date.now() < until; await sleep(100)) {
      const a = account();
      if (a.full.length + a.unlogged >= FAULTS) break;
    }
    const { full, summaries, unlogged } = account();
    assert.is(full.length + unlogged, FAULTS, `logged ${full.length} + counted ${unlogged}`);
    for (const l of summaries) {
      const byKind = l.by_kind as Record<string, number>;
      assert.is(Object.values(byKind).reduce((a, n) => a + n, 0), l.unlogged, 'by_kind adds up');
      assert.ok(Object.keys(byKind).every((k) => k === 'segv'), `kinds: ${JSON.stringify(byKind)}`);
    }
    if (full.length === FAULTS) console.log('  (the faults were slower than 10 a second here: nothing to summarise)');
    else assert.ok(summaries.length > 0, 'a summary line');
  } finally {
    await srv?.stop();
  }
});

test('-v: every fault logged in full', async () => {
  let srv: Server | null = null;
  try {
    srv = await startRemcached(['--isolation=none', '--enable-fault-injection', '-v']);
    await flood(srv.port);
    const rewound = (l: Record<string, unknown>) => l.msg === 'parser fault rewound; connection closed';
    for (const until = Date.now() + 5000; Date.now() < until; await sleep(50)) {
      if (lines(srv.stderr()).filter(rewound).length >= FAULTS) break;
    }
    await sleep(200); // nothing more (no summary) comes after
    const log = lines(srv.stderr());
    assert.is(log.filter(rewound).length, FAULTS);
    assert.is(log.filter((l) => typeof l.unlogged === 'number').length, 0);
  } finally {
    await srv?.stop();
  }
});

test.run();
