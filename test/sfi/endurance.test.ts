// --isolation=sfi over TCP, many times (issue 10, "Done means"): 30 000 parser faults after a warm-up, one
// connection after another, each connection first served a good request; the stored keys stay
// as they were, the PID stays, every fault is counted, and the server's memory does not grow.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Conn, startRemcached, type Server } from '../helpers/server.ts';
import { INJECTIONS, changedItems, makeItems, stats, storeItems } from '../isolation/helpers.ts';

const FAULTS = Number(process.env.SFI_FAULTS ?? 30_000);
const PARALLEL = 8;

const rssKb = (pid: number) => Number(/VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** One attacker connection: a good set/get first, then a fault; it must end closed, unanswered. */
async function attackOnce(port: number, n: number, id: number): Promise<string | null> {
  const c = await Conn.open(port);
  try {
    const v = `v${n}`;
    c.send(`set sfi:own:${n % 64} 0 0 ${v.length}\r\n${v}\r\nget sfi:own:${n % 64}\r\n`);
    const want = `STORED\r\nVALUE sfi:own:${n % 64} 0 ${v.length}\r\n${v}\r\nEND\r\n`;
    const got = (await c.until((b) => b.length >= want.length, 5000)).toString('latin1');
    if (got !== want) return `good request ${n}: ${JSON.stringify(got)}`;
    c.send(`debug_fault ${id}\r\n`);
    const after = await c.until(() => false, 5000).catch(() => null);
    if (!c.closed) return `fault ${id} (${n}): connection not closed`;
    if (after && after.length) return `fault ${id} (${n}): got ${JSON.stringify(after.toString('latin1'))}`;
    return null;
  } finally {
    c.close();
  }
}

async function attacks(port: number, count: number, first: number): Promise<string[]> {
  // every kind but the endless loop (a watchdog period each), which comes every 1000th
  const quick = INJECTIONS.filter((i) => i.sfi !== 'timeout').map((i) => i.id);
  const loop = INJECTIONS.find((i) => i.sfi === 'timeout')!.id;
  const errors: string[] = [];
  let next = first;
  const end = first + count;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < end && errors.length < 5) {
      const n = next++;
      const err = await attackOnce(port, n, n % 1000 === 999 ? loop : quick[n % quick.length]!);
      if (err) errors.push(err);
    }
  }));
  return errors;
}

test(`sfi: ${FAULTS} faults in a row, each after a good request: keys, PID, counters intact, no memory growth`, async () => {
  let srv: Server | null = null;
  try {
    srv = await startRemcached(['--isolation=sfi', '--enable-fault-injection', '--watchdog-ms=20']);
    const s0 = await stats(srv.port);
    assert.is(s0.get('isolation'), 'sfi');
    const pid = Number(s0.get('pid'));
    const items = makeItems(100, 'sfi-endurance');
    await storeItems(srv.port, items);
    // warm up until the JS heaps have grown to their working size, then measure. Measured with
    // 20 000-fault steps: one loop (-t 1) climbs for the first ~10 000 faults in every mode, then
    // stays; the default four workers, each seeing a quarter of the faults, climb for ~60 000
    // (sfi: 187, 210, 253 MB, then 249-253 MB up to 200 000).
    const WARM = 60_000;
    assert.equal(await attacks(srv.port, WARM, 0), []);
    // A leak grows in every window; a heap that settles late (seen once in CI: +22 MB in the first
    // window after the warm-up on a loaded machine; flat here from 60 000 to 200 000) grows in one.
    // So measure up to three windows and pass on the first that stays flat: a leak of 0.6 KiB per
    // fault fails all three.
    const windows: string[] = [];
    let done = WARM;
    let flat = false;
    for (let w = 0; w < 3 && !flat; w++) {
      const rss0 = rssKb(pid);
      const t0 = Date.now();
      assert.equal(await attacks(srv.port, FAULTS, done), []);
      done += FAULTS;
      const rss1 = rssKb(pid);
      windows.push(`${FAULTS} faults in ${Date.now() - t0} ms: RSS ${rss0} -> ${rss1} kB (${rss1 - rss0 >= 0 ? '+' : ''}${rss1 - rss0})`);
      console.log(`  ${windows.at(-1)}`);
      // The JS heap breathes with the garbage collector by up to ~10 MB (seen under load).
      flat = rss1 - rss0 < 16 * 1024;
    }
    assert.ok(flat, `RSS grew by 16 MB or more in each window: ${windows.join('; ')}`);
    const s1 = await stats(srv.port);
    assert.is(s1.get('pid'), String(pid));
    assert.is(Number(s1.get('parser_faults')) - Number(s0.get('parser_faults')), done);
    assert.equal(await changedItems(srv.port, items), []);
  } finally {
    await srv?.stop();
  }
}, { timeoutMs: 150_000 });

test.run();
