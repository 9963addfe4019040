// `npm run demo`, short: runs it for 15 s, opens the report in headless Chromium (Debian's
// `chromium`), and checks what a reader would see: six charts each drawn with both series (in the
// DOM Chromium parsed, and as pixels of each series' colour in a screenshot), and 0 keys lost for
// remcached in the summary. Without chromium (and no way to install it) the test is skipped,
// never passed. Every wait is bounded.
import { test } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { ROOT } from '../helpers/server.ts';
import { chromiumPath, screenshot, dumpDom, decodePng, countColor } from '../../demo/screenshot.ts';
import { COLORS } from '../../demo/report.ts';

/** chromium, installed with apt when missing and we are root (as scripts/test.sh does for its tools). */
function findChromium(): { bin: string | null; why: string } {
  let bin = chromiumPath();
  if (bin) return { bin, why: '' };
  if (process.getuid?.() !== 0) return { bin: null, why: 'chromium is not installed (apt-get install chromium) and we are not root' };
  try {
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: 'ignore', timeout: 600_000 });
  } catch (e) { return { bin: null, why: `apt-get install chromium failed: ${(e as Error).message.slice(0, 200)}` }; }
  bin = chromiumPath();
  return bin ? { bin, why: '' } : { bin: null, why: 'chromium still missing after apt-get install' };
}

function runDemo(out: string, args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'demo', 'run.ts'), `--out=${out}`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = ''; let stderr = '';
  p.stdout.on('data', (d) => { stdout += d; });
  p.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGINT'), ms);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

const memcached = (() => { try { execFileSync('sh', ['-c', 'command -v memcached'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const chromium = memcached ? findChromium() : { bin: null, why: 'memcached is not installed (apt-get install memcached)' };
const name = 'npm run demo (15 s): report renders both series in Chromium, remcached loses 0 keys';

if (!chromium.bin) {
  test.skip(name, chromium.why ?? 'chromium not available');
} else {
  test(name, async () => {
    const out = mkdtempSync(join(os.tmpdir(), 'remc-demo-'));
    const r = await runDemo(out, ['--duration=15', '--attack-at=5', '--crash-every=5', '--rate=150', '--keys=5000'], 120_000);
    assert.is(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr.slice(-2000)}`);
    const html = join(out, 'report.html');
    assert.ok(existsSync(html) && existsSync(join(out, 'demo.log')), 'report.html and demo.log written');
    assert.match(r.stdout, /keys lost/);

    // The DOM as Chromium parsed it: six charts, each with a line of each backend.
    const dom = await dumpDom(chromium.bin!, html);
    const svgs = dom.split('<svg').slice(1);
    assert.is(svgs.length, 6, 'six charts');
    for (const s of svgs) {
      assert.match(s, /<polyline data-series="remcached" points="[^"]+"/);
      assert.match(s, /<polyline data-series="memcached" points="[^"]+"/);
    }
    const cell = (k: string) => new RegExp(`data-k="${k}">([^<]*)<`).exec(dom)?.[1];
    assert.is(cell('keys-lost-remcached'), '0', 'remcached lost no key');
    assert.ok(Number(cell('keys-lost-memcached')!.replace(/,/g, '')) > 0, 'memcached lost its cache');
    assert.match(cell('faults-survived-remcached')!, /^(\d+) \/ \1 \(same process\)$/);

    // The pixels: both series' colours really drawn, in quantity (a legend swatch is a few dozen px).
    const png = join(out, 'report.png');
    await screenshot(chromium.bin!, html, png);
    const img = decodePng(readFileSync(png));
    const rem = countColor(img, COLORS.remcached); const mem = countColor(img, COLORS.memcached);
    assert.ok(rem > 1500 && mem > 1500, `series pixels: remcached ${rem}, memcached ${mem}`);
    if (process.env.DEMO_SCREENSHOT) copyFileSync(png, process.env.DEMO_SCREENSHOT);
  }, { timeoutMs: 150_000 }); // the demo itself is bounded at 120 s
}

test.run();
