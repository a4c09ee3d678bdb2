// bench:peers results as Markdown (peers.md), JSON (peers.json, the report object itself) and a
// chart (peers.svg, vega-lite compiled to vega, rendered headless by vega's View.toSVG).
import { compile } from 'vega-lite';
import { View, parse } from 'vega';
import { machineLine, type RunMeta } from './meta.ts';
import { agg, type Agg } from './stats.ts';

export const SYSTEM_IDS = ['direct', 'nginx', 'portkey', 'airoute'] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];
const PROXIES = ['nginx', 'portkey', 'airoute'] as const;

export interface SystemInfo {
  id: SystemId;
  label: string;
  available: boolean;
  how: string;
  version?: string;
  /** Why it did not run. */
  why?: string;
  /** Why it stopped during the run. */
  failed?: string;
}

export interface PeersReport {
  meta: RunMeta;
  quick: boolean;
  pinning: string;
  params: unknown;
  systems: SystemInfo[];
  /** Per system, per metric, one figure per round. */
  figures: Record<SystemId, Record<string, number[]>>;
  /** Per proxy, per metric, the per-round difference to direct in the same round. */
  added: Record<SystemId, Record<string, number[]>>;
  errors: Partial<Record<SystemId, { notOk: number; stalls: number; examples: string[] }>>;
  notes: string[];
  failures: string[];
  raw: { rss: Partial<Record<SystemId, unknown>> };
  elapsedS: number;
}

type Unit = 'ms' | 'µs' | 'req/s' | 's' | 'MiB';

interface MetricDef {
  key: string;
  label: string;
  unit: Unit;
  better: 'lower' | 'higher';
  /** Has a per-round "added" figure (proxy minus direct). */
  added?: boolean;
  /** A property of the proxy process (no direct figure). */
  proxyOnly?: boolean;
  /** Depends on the upstream (the issue's "figures that do not depend on the upstream" exclude these). */
  upstreamBound?: boolean;
}

export const METRICS: MetricDef[] = [
  { key: 'lat50', label: 'latency p50, non-stream, c=1, zero-delay upstream', unit: 'ms', better: 'lower', added: true },
  { key: 'lat99', label: 'latency p99, non-stream, c=1, zero-delay upstream', unit: 'ms', better: 'lower', added: true },
  { key: 'ttft50', label: 'TTFT p50, stream of 64 chunks at 20 ms, 16 staggered streams', unit: 'ms', better: 'lower', added: true },
  { key: 'ttft99', label: 'TTFT p99, same streams', unit: 'ms', better: 'lower', added: true },
  { key: 'gap99', label: 'inter-chunk gap p99 as the client sees it (upstream: 20 ms)', unit: 'µs', better: 'lower', added: true },
  { key: 'dev99', label: "inter-chunk gap p99 minus the upstream's own gap (its timer jitter removed)", unit: 'µs', better: 'lower', added: true },
  { key: 'rps64', label: 'requests/s, non-stream, c=64, 20 ms upstream (bound: 3,200)', unit: 'req/s', better: 'higher', upstreamBound: true },
  { key: 'rps256', label: 'requests/s, non-stream, c=256, 20 ms upstream (bound: 12,800)', unit: 'req/s', better: 'higher' },
  { key: 'p99at64', label: 'latency p99 under load, c=64, 20 ms upstream', unit: 'ms', better: 'lower', added: true },
  { key: 'p99at256', label: 'latency p99 under load, c=256, 20 ms upstream', unit: 'ms', better: 'lower', added: true },
  { key: 'cpu10k64', label: 'proxy CPU seconds per 10,000 requests (c=64 runs)', unit: 's', better: 'lower', proxyOnly: true },
  { key: 'cpu10k256', label: 'proxy CPU seconds per 10,000 requests (c=256 runs)', unit: 's', better: 'lower', proxyOnly: true },
  { key: 'rssIdle', label: 'proxy RSS idle (started, nothing sent yet)', unit: 'MiB', better: 'lower', proxyOnly: true },
  { key: 'rss1000', label: 'proxy RSS with 1,000 streams open at once (max over 1 s)', unit: 'MiB', better: 'lower', proxyOnly: true },
];

function num(x: number, unit: Unit): string {
  if (!Number.isFinite(x)) return '—';
  switch (unit) {
    case 'ms':
      return Math.abs(x) < 10 ? x.toFixed(3) : x.toFixed(1);
    case 'µs':
      return Math.abs(x) < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US');
    case 'req/s':
      return Math.round(x).toLocaleString('en-US');
    case 's':
      return x < 1 ? x.toFixed(3) : x.toFixed(2);
    case 'MiB':
      return x.toFixed(1);
  }
}

function cell(a: Agg | undefined, unit: Unit): string {
  if (!a || !Number.isFinite(a.median)) return '—';
  if (a.rounds.length <= 1) return `${num(a.median, unit)} ${unit}`;
  return `${num(a.median, unit)} ${unit} <sub>(${num(a.min, unit)}..${num(a.max, unit)})</sub>`;
}

function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0 || a < 0) return '—';
  return `${(a / b).toFixed(2)}×`;
}

const fig = (r: PeersReport, id: SystemId, key: string): Agg | undefined => (r.figures[id]?.[key] ? agg(r.figures[id][key]!) : undefined);
const add = (r: PeersReport, id: SystemId, key: string): Agg | undefined => (r.added[id]?.[key] ? agg(r.added[id][key]!) : undefined);
const ran = (r: PeersReport, id: SystemId) => r.systems.find((s) => s.id === id)?.available === true;

/** A system's figures are void if any of its requests failed or stalled. */
function invalid(r: PeersReport, id: SystemId): boolean {
  const e = r.errors[id];
  return !!e && (e.notOk > 0 || e.stalls > 0);
}

interface Goal {
  goal: string;
  figure: string;
  pass: boolean | null;
}

export function goals(r: PeersReport): Goal[] {
  const out: Goal[] = [];
  const m = (id: SystemId, key: string) => add(r, id, key)?.median ?? Number.NaN;
  const better = (key: string, what: string, factor: number) => {
    const a = m('airoute', key);
    const p = m('portkey', key);
    const ok = ran(r, 'airoute') && ran(r, 'portkey') && Number.isFinite(a) && Number.isFinite(p) ? (a <= 0 ? p > 0 : p / a >= factor) : null;
    out.push({ goal: `airoute ≥ ${factor}× better than Portkey on ${what}`, figure: `Portkey +${num(p, 'ms')} ms vs airoute +${num(a, 'ms')} ms (${a > 0 ? `${(p / a).toFixed(2)}×` : 'airoute adds nothing measurable'})`, pass: ok });
  };
  better('lat99', 'added p99 latency', 3);
  better('ttft99', 'added TTFT p99', 3);
  for (const key of ['lat50', 'lat99']) {
    const a = m('airoute', key);
    const n = m('nginx', key);
    const ok = ran(r, 'airoute') && ran(r, 'nginx') && Number.isFinite(a) && Number.isFinite(n) ? a <= 2 * Math.max(n, 0) : null;
    out.push({ goal: `airoute within 2× of nginx's added latency (${key === 'lat50' ? 'p50' : 'p99'})`, figure: `airoute +${num(a, 'ms')} ms vs nginx +${num(n, 'ms')} ms (${n > 0 ? `${(a / n).toFixed(2)}×` : 'nginx adds nothing measurable'})`, pass: ok });
  }
  const rps = fig(r, 'airoute', 'rps256')?.median ?? Number.NaN;
  out.push({ goal: 'at least 5,000 requests/s per sidecar process (c=256, 20 ms upstream)', figure: `${num(rps, 'req/s')} req/s`, pass: ran(r, 'airoute') && Number.isFinite(rps) ? rps >= 5000 : null });
  if (invalid(r, 'airoute')) for (const g of out) if (g.pass === true) g.pass = false;
  return out;
}

export function renderPeers(r: PeersReport): string {
  const L: string[] = [];
  const ids = SYSTEM_IDS.filter((id) => r.systems.some((s) => s.id === id));
  L.push(`# airoute next to its peers${r.quick ? ' (quick run)' : ''}`, '');
  L.push(`${machineLine(r.meta)} · pinning: ${r.pinning} · ${r.elapsedS} s`, '');
  L.push(
    'One mock upstream (bench/upstream.ts), one load generator (bench/loadgen.ts), each system in turn: one unmeasured warm-up per system, then rounds in which every system runs the same job once, the order rotated every round. A cell is the **median of the round figures** with their min..max below it. **added** is the median of the per-round differences to direct (same round), which cancels slow drift of the machine. Requests are checked (status, exact text, `[DONE]`, usage); a system with any failed request or any stall (an inter-chunk gap over 10 × the upstream interval) is marked **invalid** and the run fails. Other engineers ran tests on the same 2 cores during runs: treat absolute figures as noisy, and rounds on both sides of a goal as unsettled.',
    '',
  );
  L.push('## Systems', '', '| system | ran | version | how |', '|---|---|---|---|');
  for (const s of r.systems)
    L.push(`| ${s.id} | ${s.available ? (s.failed ? `**stopped during the run**: ${esc(s.failed)}` : 'yes') : `**no**: ${esc(s.why ?? '')}`} | ${esc(s.version ?? '')} | ${esc(s.how)} |`);
  L.push('');

  L.push('## Figures', '', `| metric | ${ids.join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`);
  for (const m of METRICS) {
    const cells = ids.map((id) => (m.proxyOnly && id === 'direct' ? 'n/a' : ran(r, id) ? cell(fig(r, id, m.key), m.unit) + (invalid(r, id) ? ' **invalid**' : '') : 'not run'));
    L.push(`| ${m.label} | ${cells.join(' | ')} |`);
  }
  L.push('');

  const proxies = PROXIES.filter((id) => ids.includes(id));
  L.push('## Added by the proxy', '', 'Median of the per-round differences to direct (proxy − direct, same round), min..max of those differences below.', '');
  L.push(`| metric | ${proxies.join(' | ')} | least added |`, `|---|${proxies.map(() => '---').join('|')}|---|`);
  for (const m of METRICS.filter((x) => x.added)) {
    const vals = proxies.map((id) => ({ id, a: ran(r, id) ? add(r, id, m.key) : undefined }));
    const best = vals.filter((v) => v.a && Number.isFinite(v.a.median) && !invalid(r, v.id)).sort((x, y) => x.a!.median - y.a!.median)[0];
    L.push(`| ${m.label} | ${vals.map((v) => (ran(r, v.id) ? cell(v.a, m.unit) : 'not run')).join(' | ')} | ${best?.id ?? '—'} |`);
  }
  L.push('');

  L.push(
    '## Ratios',
    '',
    '"÷ direct" divides the figures (latency through the proxy ÷ latency direct; requests/s through the proxy ÷ direct). Between proxies, rows with an **added** figure divide the added figures (what the issue\'s goals compare), the others divide the figures. Medians throughout; — where a side is missing or an added figure is ≤ 0 (nothing measurable to divide by).',
    '',
  );
  const pairs: [SystemId, SystemId][] = [
    ['airoute', 'nginx'],
    ['airoute', 'portkey'],
    ['portkey', 'nginx'],
  ];
  L.push(
    `| metric | ${proxies.map((p) => `${p} ÷ direct`).join(' | ')} | ${pairs.map(([a, b]) => `${a} ÷ ${b}`).join(' | ')} |`,
    `|---|${proxies.map(() => '---').join('|')}|${pairs.map(() => '---').join('|')}|`,
  );
  for (const m of METRICS) {
    const d = fig(r, 'direct', m.key)?.median ?? Number.NaN;
    const toDirect = proxies.map((id) => (m.proxyOnly ? 'n/a' : ratio(fig(r, id, m.key)?.median ?? Number.NaN, d)));
    const between = pairs.map(([a, b]) => {
      const f = m.added ? add : fig;
      return ratio(f(r, a, m.key)?.median ?? Number.NaN, f(r, b, m.key)?.median ?? Number.NaN) + (m.added ? ' <sub>added</sub>' : '');
    });
    L.push(`| ${m.label} | ${toDirect.join(' | ')} | ${between.join(' | ')} |`);
  }
  L.push('', 'For "lower is better" rows a ratio below 1 means the first system is better; for requests/s, above 1.', '');

  L.push('## Goals (issue 9)', '', '| goal | figure | verdict |', '|---|---|---|');
  for (const g of goals(r)) L.push(`| ${g.goal} | ${g.figure} | ${g.pass === null ? 'not measured' : g.pass ? 'pass' : '**FAIL**'} |`);
  L.push('| a pass in every fault scenario | see [faults.md](faults.md) | |', '');

  L.push('## Errors and stalls', '', '| system | requests not ok | stalls (gap > 200 ms) | examples |', '|---|---|---|---|');
  for (const id of ids) {
    if (!ran(r, id)) continue;
    const e = r.errors[id] ?? { notOk: 0, stalls: 0, examples: [] };
    L.push(`| ${id} | ${e.notOk} | ${e.stalls} | ${esc(e.examples.slice(0, 3).join(' · ').slice(0, 400))} |`);
  }
  L.push('');
  if (r.notes.length) {
    L.push('## Notes', '');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  if (r.failures.length) {
    L.push('## Scenarios that failed', '');
    for (const f of r.failures) L.push('```', f.slice(0, 2000), '```');
    L.push('');
  }
  L.push('![peers chart](peers.svg)', '');
  return `${L.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The chart: one panel per headline figure, a bar per system (median) with a rule for min..max. */
export async function peersChart(r: PeersReport): Promise<string> {
  const panels: { key: string; title: string; unit: Unit; kind: 'added' | 'figure'; withDirect?: boolean }[] = [
    { key: 'lat50', title: 'added latency p50, c=1 (ms)', unit: 'ms', kind: 'added' },
    { key: 'lat99', title: 'added latency p99, c=1 (ms)', unit: 'ms', kind: 'added' },
    { key: 'ttft99', title: 'added TTFT p99, streams (ms)', unit: 'ms', kind: 'added' },
    { key: 'dev99', title: 'added inter-chunk gap p99 (µs, jitter removed)', unit: 'µs', kind: 'added' },
    { key: 'rps256', title: 'requests/s, c=256, 20 ms upstream', unit: 'req/s', kind: 'figure', withDirect: true },
    { key: 'cpu10k256', title: 'CPU seconds per 10,000 requests', unit: 's', kind: 'figure' },
    { key: 'rss1000', title: 'RSS with 1,000 open streams (MiB)', unit: 'MiB', kind: 'figure' },
    { key: 'rssIdle', title: 'RSS idle (MiB)', unit: 'MiB', kind: 'figure' },
  ];
  const values: { panel: string; system: string; median: number; min: number; max: number }[] = [];
  for (const p of panels)
    for (const id of SYSTEM_IDS) {
      if (id === 'direct' && !p.withDirect) continue;
      if (!ran(r, id)) continue;
      const a = p.kind === 'added' ? add(r, id, p.key) : fig(r, id, p.key);
      if (!a || !Number.isFinite(a.median)) continue;
      values.push({ panel: p.title, system: id, median: a.median, min: a.min, max: a.max });
    }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `airoute vs peers — ${r.meta.date.slice(0, 10)}, commit ${r.meta.commit.split(' ')[0]}, ${r.meta.machine.cores} cores, ${r.meta.machine.memoryGiB} GiB${r.quick ? ' (quick run)' : ''}`, subtitle: 'median over rounds; the line spans the rounds (min..max); lower is better except requests/s' },
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels.map((p) => p.title), header: { labelFontSize: 11, labelFontWeight: 'bold' } },
    columns: 4,
    spec: {
      width: 170,
      height: 150,
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'system', type: 'nominal', sort: [...SYSTEM_IDS], title: null, axis: { labelAngle: 0 } },
            y: { field: 'median', type: 'quantitative', title: null },
            color: { field: 'system', type: 'nominal', sort: [...SYSTEM_IDS], legend: { orient: 'top', title: null, direction: 'horizontal' }, scale: { domain: [...SYSTEM_IDS], range: ['#9e9e9e', '#2e7d32', '#6a1b9a', '#1565c0'] } },
          },
        },
        {
          mark: { type: 'rule', strokeWidth: 1.5 },
          encoding: { x: { field: 'system', type: 'nominal', sort: [...SYSTEM_IDS] }, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } },
        },
        {
          mark: { type: 'text', dy: -6, fontSize: 9 },
          encoding: {
            x: { field: 'system', type: 'nominal', sort: [...SYSTEM_IDS] },
            y: { field: 'max', type: 'quantitative' },
            text: { field: 'median', type: 'quantitative', format: ',.3~r' },
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent', x: 'independent' } },
  };
  const vg = compile(spec as Parameters<typeof compile>[0]).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
