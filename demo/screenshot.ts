// Headless Chromium (Debian's `chromium`) on the demo's report: a PNG screenshot, the DOM as the
// browser parsed it, and a small PNG decoder so a test can count the pixels each series drew.
//   node --import tsx demo/screenshot.ts report.html out.png
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import os from 'node:os';

export const WINDOW = { width: 1000, height: 2700 };

export function chromiumPath(): string | null {
  for (const c of ['chromium', 'chromium-browser']) {
    try { return execFileSync('sh', ['-c', `command -v ${c}`]).toString().trim() || null; } catch { /* next */ }
  }
  return null;
}

/** Run chromium headless with `args` on `html`; stdout as text. Bounded: killed after `ms`. */
function chromium(bin: string, html: string, args: string[], ms = 60_000): Promise<string> {
  const profile = mkdtempSync(join(os.tmpdir(), 'remc-chromium-')); // never share a profile with another run
  const p = spawn(bin, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run',
    `--user-data-dir=${profile}`, `--window-size=${WINDOW.width},${WINDOW.height}`, ...args, pathToFileURL(resolve(html)).href],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  return new Promise((res, rej) => {
    const t = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(`chromium did not finish in ${ms / 1000} s`)); }, ms);
    p.on('close', (code) => {
      clearTimeout(t); rmSync(profile, { recursive: true, force: true });
      if (code === 0) res(out); else rej(new Error(`chromium exited ${code}: ${err.slice(-500)}`));
    });
  });
}

export async function screenshot(bin: string, html: string, png: string): Promise<void> {
  await chromium(bin, html, [`--screenshot=${resolve(png)}`]);
}

export function dumpDom(bin: string, html: string): Promise<string> {
  return chromium(bin, html, ['--dump-dom']);
}

/** Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) to RGBA pixels. */
export function decodePng(buf: Buffer): { width: number; height: number; rgba: Uint8Array } {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8; let width = 0; let height = 0; let type = 0; const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off); const kind = buf.toString('latin1', off + 4, off + 8); const data = buf.subarray(off + 8, off + 8 + len);
    if (kind === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4); type = data[9]!;
      if (data[8] !== 8 || (type !== 2 && type !== 6) || data[12] !== 0) throw new Error(`unsupported PNG (depth ${data[8]}, type ${type}, interlace ${data[12]})`);
    } else if (kind === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const bpp = type === 6 ? 4 : 3; const stride = width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  const cur = new Uint8Array(stride); let prev = new Uint8Array(stride);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!; const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0; const b = prev[i]!; const c = i >= bpp ? prev[i - bpp]! : 0;
      let v = line[i]!;
      if (f === 1) v += a; else if (f === 2) v += b; else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) { const p = a + b - c; const pa = Math.abs(p - a); const pb = Math.abs(p - b); const pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      cur[i] = v & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      rgba[o] = cur[x * bpp]!; rgba[o + 1] = cur[x * bpp + 1]!; rgba[o + 2] = cur[x * bpp + 2]!; rgba[o + 3] = bpp === 4 ? cur[x * bpp + 3]! : 255;
    }
    prev = Uint8Array.from(cur);
  }
  return { width, height, rgba };
}

/** How many pixels are within `tol` (per channel) of `hex`. */
export function countColor(img: { rgba: Uint8Array }, hex: string, tol = 24): number {
  const r = parseInt(hex.slice(1, 3), 16); const g = parseInt(hex.slice(3, 5), 16); const b = parseInt(hex.slice(5, 7), 16);
  let n = 0;
  for (let i = 0; i < img.rgba.length; i += 4) {
    if (Math.abs(img.rgba[i]! - r) <= tol && Math.abs(img.rgba[i + 1]! - g) <= tol && Math.abs(img.rgba[i + 2]! - b) <= tol) n++;
  }
  return n;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const bin = chromiumPath();
  if (!bin) { console.error('chromium not found (apt-get install chromium)'); process.exit(3); }
  const [html, png] = process.argv.slice(2);
  if (!html || !png) { console.error('usage: screenshot.ts report.html out.png'); process.exit(2); }
  await screenshot(bin, html, png);
  const img = decodePng(readFileSync(png));
  console.log(`${png}: ${img.width}x${img.height}`);
}
