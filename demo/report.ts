// The demo's report: one self-contained HTML file, charts as inline SVG (no script, no network),
// and the summary figures computed here (also printed by run.ts).

export interface Second {
  t: number;
  /** HTTP responses 2xx, and errors (non-2xx, connection errors, timeouts) completed in this second */
  ok: number; errors: number;
  /** latencies (ms) of the 2xx responses */
  lat: number[];
  /** from the app's counters: cache hits, misses, cache errors (counted as misses), DB queries */
  hits: number; misses: number; cacheErrors: number; dbq: number;
  /** the cache server's curr_items at the end of this second (null: it did not answer) */
  items: number | null;
}
export interface Side { seconds: Second[] }
export interface DemoData {
  date: string;
  options: { duration: number; attackAt: number; rate: number; faultRate: number; crashEvery: number; faultKinds: string[]; crash: string; [k: string]: unknown };
  isolation: string; isolationWhy: string;
  versions: Record<string, string>;
  commands: Record<string, string>;
  sides: { remcached: Side; memcached: Side };
  crashes: Array<{ t: number; how: 'real' | 'simulated'; pid: number | undefined; input: string }>;
  faults: { sent: number; closed: number; other: Record<string, number>; byKind: Record<string, number>; serverCounted: number | null; remcachedAlive: boolean; remcachedPid: number };
  canaries: { total: number; intact: { remcached: number | null; memcached: number | null } };
  memcachedRestarts: number;
  autocannon: Record<string, { requests: number; errors: number; timeouts: number; non2xx: number; p50: number; p99: number }>;
}

export const COLORS = { remcached: '#1565c0', memcached: '#e65100', crash: '#6a1b9a' };

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]!));
const quantile = (xs: number[], q: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
export const hitRatio = (s: Second): number | null => { const n = s.hits + s.misses + s.cacheErrors; return n ? s.hits / n : null; };

/** Keys the cache lost: the sum of every fall of curr_items (the workload never deletes, -m never fills). */
export function keysLost(side: Side): number {
  let lost = 0; let last: number | null = null;
  for (const s of side.seconds) {
    if (s.items === null) continue;
    if (last !== null && s.items < last) lost += last - s.items;
    last = s.items;
  }
  return lost;
}

/** Seconds from each disruption until the hit ratio is back to 95 % of its pre-attack level. */
export function recovery(d: DemoData, side: Side, moments: number[]): Array<{ at: number; seconds: number | null; until: number }> {
  const a = d.options.attackAt;
  const before = side.seconds.slice(Math.max(0, a - 5), a).map(hitRatio).filter((x): x is number => x !== null);
  const base = before.length ? before.reduce((x, y) => x + y, 0) / before.length : 1;
  const ok = (s: Second | undefined) => { const h = s && hitRatio(s); return h === null || h === undefined || h >= 0.95 * base; };
  return moments.map((m, i) => {
    const until = i + 1 < moments.length ? moments[i + 1]! : d.options.duration;
    let dropped = false;
    for (let t = Math.floor(m); t < Math.min(until, side.seconds.length); t++) {
      if (!ok(side.seconds[t])) dropped = true;
      else if (dropped) return { at: m, seconds: t + 1 - m, until };
    }
    return { at: m, seconds: dropped ? null : 0, until };
  });
}

export function summaryRows(d: DemoData): Array<[string, string, string]> {
  const r = d.sides.remcached; const m = d.sides.memcached;
  const sum = (side: Side, f: (s: Second) => number) => side.seconds.reduce((a, s) => a + f(s), 0);
  const attackLat = (side: Side) => side.seconds.slice(d.options.attackAt).flatMap((s) => s.lat);
  const rec = (side: Side, moments: number[]) => {
    const xs = recovery(d, side, moments);
    if (!xs.length) return '—';
    return xs.map((x) => (x.seconds === null ? `> ${(x.until - x.at).toFixed(0)} s` : `${x.seconds.toFixed(0)} s`)).join(', ');
  };
  const minHit = (side: Side) => {
    const xs = side.seconds.slice(d.options.attackAt, d.options.duration).map(hitRatio).filter((x): x is number => x !== null);
    return xs.length ? `${(100 * Math.min(...xs)).toFixed(0)} %` : '—';
  };
  const real = d.crashes.filter((c) => c.how === 'real').length;
  const pct = (x: number | null) => (x === null ? '—' : `${x}`);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const q = (xs: number[], p: number) => { const v = quantile(xs, p); return v === null ? '—' : `${v.toFixed(1)} ms`; };
  return [
    ['keys lost', fmt(keysLost(r)), fmt(keysLost(m))],
    ['canary keys intact', `${pct(d.canaries.intact.remcached)} / ${d.canaries.total}`, `${pct(d.canaries.intact.memcached)} / ${d.canaries.total}`],
    ['requests served (2xx)', fmt(sum(r, (s) => s.ok)), fmt(sum(m, (s) => s.ok))],
    ['requests failed (HTTP clients)', fmt(sum(r, (s) => s.errors)), fmt(sum(m, (s) => s.errors))],
    ['p50 / p99 latency under attack', `${q(attackLat(r), 0.5)} / ${q(attackLat(r), 0.99)}`, `${q(attackLat(m), 0.5)} / ${q(attackLat(m), 0.99)}`],
    ['lowest hit ratio under attack', minHit(r), minHit(m)],
    ['time to recover hit ratio', rec(r, d.options.faultRate > 0 ? [d.options.attackAt] : []), rec(m, d.crashes.map((c) => c.t))],
    ['database queries', fmt(sum(r, (s) => s.dbq)), fmt(sum(m, (s) => s.dbq))],
    ['faults survived', `${d.faults.closed} / ${d.faults.sent}${d.faults.remcachedAlive ? ' (same process)' : ' (PROCESS LOST)'}`,
      `0 / ${d.crashes.length} (${real} real crash${real === 1 ? '' : 'es'}${d.crashes.length - real ? `, ${d.crashes.length - real} simulated` : ''})`],
  ];
}

interface Series { name: 'remcached' | 'memcached'; points: Array<number | null> }

function chart(title: string, unit: string, series: Series[], d: DemoData, opts: { max?: number; pct?: boolean } = {}): string {
  const W = 920; const H = 190; const L = 56; const R = 12; const T = 26; const B = 26;
  const n = d.options.duration;
  const vals = series.flatMap((s) => s.points.filter((p): p is number => p !== null));
  let max = opts.max ?? Math.max(1, ...vals);
  if (!opts.max) { const mag = 10 ** Math.floor(Math.log10(max)); max = Math.ceil(max / mag) * mag; }
  const x = (t: number) => L + (t / n) * (W - L - R);
  const y = (v: number) => T + (1 - v / max) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<text x="${L}" y="16" class="title">${esc(title)}</text>`);
  // remcached under attack: a light band from the attack's start to the end.
  if (d.options.faultRate > 0) {
    parts.push(`<rect x="${x(d.options.attackAt)}" y="${T}" width="${x(n) - x(d.options.attackAt)}" height="${H - T - B}" fill="${COLORS.remcached}" fill-opacity="0.07"/>`);
  }
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`,
      `<text x="${L - 6}" y="${y(v) + 4}" class="ax" text-anchor="end">${opts.pct ? `${Math.round(v * 100)}%` : max < 4 ? v.toFixed(2) : Math.round(v).toLocaleString('en-US')}</text>`);
  }
  for (let t = 0; t <= n; t += 10) parts.push(`<text x="${x(t)}" y="${H - 8}" class="ax" text-anchor="middle">${t} s</text>`);
  for (const c of d.crashes) {
    parts.push(`<line x1="${x(c.t)}" x2="${x(c.t)}" y1="${T}" y2="${H - B}" stroke="${COLORS.crash}" stroke-dasharray="4 3" stroke-width="1.5"/>`,
      `<text x="${x(c.t) + 3}" y="${T + 10}" class="mark">${c.how === 'real' ? 'crash' : 'SIGSEGV (sim.)'}</text>`);
  }
  for (const s of series) {
    // A second with no data breaks the line instead of drawing a false zero.
    const segs: string[][] = [[]];
    s.points.forEach((p, t) => { if (p === null) segs.push([]); else segs[segs.length - 1]!.push(`${x(t + 0.5).toFixed(1)},${y(Math.min(p, max)).toFixed(1)}`); });
    for (const seg of segs) {
      if (seg.length > 1) parts.push(`<polyline data-series="${s.name}" points="${seg.join(' ')}" fill="none" stroke="${COLORS[s.name]}" stroke-width="2"/>`);
      else if (seg.length === 1) { const [px, py] = seg[0]!.split(','); parts.push(`<circle data-series="${s.name}" cx="${px}" cy="${py}" r="2" fill="${COLORS[s.name]}"/>`); }
    }
  }
  parts.push(`<text x="${W - R}" y="16" class="ax" text-anchor="end">${esc(unit)}</text>`);
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

export function renderReport(d: DemoData): string {
  const n = d.options.duration;
  const per = (side: Side, f: (s: Second) => number | null): Array<number | null> => side.seconds.slice(0, n).map(f);
  const both = (f: (s: Second) => number | null): Series[] => [
    // memcached first: where the lines coincide, remcached's is drawn on top and stays visible.
    { name: 'memcached', points: per(d.sides.memcached, f) }, { name: 'remcached', points: per(d.sides.remcached, f) }];
  const rows = summaryRows(d);
  const sim = d.crashes.some((c) => c.how === 'simulated');
  const real = d.crashes.find((c) => c.how === 'real');
  const tableRows = rows.map(([k, r, m]) => {
    const id = k.replace(/[^a-z0-9]+/gi, '-').toLowerCase().replace(/-$/, '');
    return `<tr><th>${esc(k)}</th><td data-k="${id}-remcached">${esc(r)}</td><td data-k="${id}-memcached">${esc(m)}</td></tr>`;
  }).join('\n');
  const kv = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join('\n');
  const legend = `<p class="legend"><span style="color:${COLORS.remcached}">━━ remcached (--isolation=${esc(d.isolation)})</span>
    <span style="color:${COLORS.memcached}">━━ memcached 1.6.18</span>
    <span style="color:${COLORS.crash}">┆ memcached crash${sim ? ' (SIGSEGV marks are a simulation)' : ''}</span>
    <span class="band">▇ remcached under attack (${d.options.faultRate} faults/s)</span></p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>remcached vs memcached under parser faults</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; max-width: 960px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 6px; }
table { border-collapse: collapse; margin: 6px 0; } th, td { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: left; vertical-align: top; }
td { font-variant-numeric: tabular-nums; } code { font-size: 12px; word-break: break-all; }
.chart { display: block; margin: 4px 0 10px; } .title { font-weight: 600; font-size: 13px; }
.ax { font-size: 11px; fill: #555; } .grid { stroke: #e6e6e6; } .mark { font-size: 10px; fill: ${COLORS.crash}; }
.legend span { margin-right: 16px; font-size: 13px; } .band { color: #c9d8ee; } .note { color: #555; font-size: 13px; }
.sim { background: #fff3cd; padding: 6px 10px; border-left: 4px solid #e0a800; }
</style></head><body>
<h1>remcached vs memcached 1.6.18 under parser faults</h1>
<p class="note">${esc(d.date)} · ${d.options.duration} s · ${d.options.rate} HTTP req/s offered to each app (autocannon) · attacker from ${d.options.attackAt} s ·
remcached <b>--isolation=${esc(d.isolation)}</b>${d.isolationWhy && d.isolationWhy !== '-' ? ` (${esc(d.isolationWhy.replace(/_/g, ' '))})` : ''}</p>
${sim ? `<p class="sim"><b>Simulation:</b> ${d.crashes.filter((c) => c.how === 'simulated').length} memcached crash(es) were <b>kill -SEGV</b>, not a crash input.</p>` : ''}
${real ? `<p class="note">memcached crash input (real, reproduced on this binary): ${esc(real.input)}</p>` : ''}
<h2>Summary</h2>
<table id="summary"><tr><th></th><th style="color:${COLORS.remcached}">remcached</th><th style="color:${COLORS.memcached}">memcached</th></tr>
${tableRows}
</table>
<p class="note">Keys lost: the sum of every fall of the server's <code>curr_items</code> sampled each second (the workload never deletes and -m never fills).
Canary keys: 1,000 items written before the run that the app never touches, read back at the end. Time to recover: from each disruption until the per-second
hit ratio is back to 95 % of its level in the 5 s before the attack. Faults survived: remcached: parser faults after which only the attacker's connection was
closed and the process (pid ${d.faults.remcachedPid}) kept serving; the server counted ${d.faults.serverCounted ?? '?'} parser faults.</p>
<h2>Over time</h2>
${legend}
${chart('HTTP requests/s served (2xx)', 'req/s', both((s) => s.ok), d)}
${chart('p50 latency of served requests', 'ms', both((s) => quantile(s.lat, 0.5)), d)}
${chart('p99 latency of served requests', 'ms', both((s) => quantile(s.lat, 0.99)), d)}
${chart('errors seen by the HTTP clients (non-2xx, timeouts, resets)', 'errors/s', both((s) => s.errors), d)}
${chart('cache hit ratio', 'hits / lookups', both(hitRatio), d, { max: 1, pct: true })}
${chart('database queries/s', 'queries/s', both((s) => s.dbq), d)}
<h2>Attack</h2>
<table>
<tr><th>remcached</th><td>${d.faults.sent} parser faults (${Object.entries(d.faults.byKind).map(([k, v]) => `${esc(k)} ×${v}`).join(', ')}), one connection each;
${d.faults.closed} closed by the server after the rewind${Object.keys(d.faults.other).length ? `; other outcomes: ${esc(JSON.stringify(d.faults.other))}` : ''}.</td></tr>
<tr><th>memcached</th><td>${d.crashes.map((c) => `${c.t.toFixed(1)} s: ${c.how === 'real' ? 'crashed by input' : '<b>kill -SEGV (simulation)</b>'} (pid ${c.pid})`).join('<br>') || 'no crash'}<br>
restarted ${d.memcachedRestarts} time(s) by the supervisor, each time with an empty cache.</td></tr>
</table>
<h2>Commands</h2>
<table>${kv(d.commands)}</table>
<h2>Versions and machine</h2>
<table>${kv(d.versions)}</table>
<p class="note">Figures from a shared machine: other work may run at the same time; compare the two columns, which ran side by side in the same run.</p>
</body></html>
`;
}
