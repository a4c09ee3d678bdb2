// `npm run bench`'s results: the report object (written as latest.json), filled from what each
// scenario returns, and rendered as Markdown (stdout and bench/results/latest.md).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Agg } from './stats.ts';

export interface Row {
  metric: string;
  unit: 'ms' | 'µs' | 'req/s' | 'MiB' | 'chunks/s' | '%';
  direct?: Agg;
  sidecar?: Agg;
  /** Median of per-round differences, sidecar minus direct. */
  added?: Agg;
  ratio?: number;
  goal: string;
  /** null: no goal for this row. */
  pass: boolean | null;
  /** The judged figure's round spread lies on both sides of the goal: the verdict is the median's, but noisy. */
  crosses?: boolean;
}

/** A within-sidecar comparison (A vs B), for the extensions: checkpointing, metrics, journaling. */
export interface Comparison {
  comparison: string;
  unit: Row['unit'];
  a: Agg;
  b: Agg;
  change: Agg;
  changeUnit: Row['unit'];
  changeText: string;
  goal: string;
  pass: boolean | null;
  crosses?: boolean;
}

export interface FaultRow {
  system: string;
  requests: number;
  ok: number;
  wrongText: number;
  explicitError: number;
  truncated: number;
  httpError: number;
  other: number;
  goodput: number;
  latencyP50: number;
  latencyP99: number;
  upstream: string;
  goal: string;
  pass: boolean | null;
  examples: string[];
}

export interface Report {
  date: string;
  commit: string;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; sidecarNode: string; loadavgStart: number[]; loadavgEnd: number[] };
  pinning: string;
  sidecarEntry: string;
  quick: boolean;
  rounds: number;
  params: unknown;
  rows: Row[];
  comparisons: Comparison[];
  faults: FaultRow[];
  notes: string[];
  errors: string[];
  raw: Record<string, unknown>;
  elapsedS: number;
}

function git(root: string, args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** An empty report: where, when and how the run is made; the scenarios fill it. */
export function newReport(o: { root: string; nodeBin: string; pinning: string; sidecarEntry: string; quick: boolean; rounds: number; params: unknown }): Report {
  const commit = git(o.root, ['rev-parse', '--short', 'HEAD']);
  const dirty = git(o.root, ['status', '--porcelain', '--', 'sidecar', 'api']) !== '';
  return {
    date: new Date().toISOString(),
    commit: commit ? `${commit}${dirty ? ' (sidecar/ or api/ modified)' : ''}` : 'unknown',
    machine: {
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      sidecarNode: execFileSync(o.nodeBin, ['--version'], { encoding: 'utf8' }).trim(),
      loadavgStart: loadavg(),
      loadavgEnd: [],
    },
    pinning: o.pinning,
    sidecarEntry: o.sidecarEntry,
    quick: o.quick,
    rounds: o.rounds,
    params: o.params,
    rows: [],
    comparisons: [],
    faults: [],
    notes: [],
    errors: [],
    raw: {},
    elapsedS: 0,
  };
}

/** What one scenario measured, in the report's shapes. */
export interface Measured {
  rows?: Row[];
  comparisons?: Comparison[];
  faults?: FaultRow[];
  raw: unknown;
}

/** Adds a scenario's results; its `raw` goes under its id. */
export function addResult(r: Report, id: string, m: Measured): void {
  r.rows.push(...(m.rows ?? []));
  r.comparisons.push(...(m.comparisons ?? []));
  r.faults.push(...(m.faults ?? []));
  r.raw[id] = m.raw;
}

/** The end of the run: load average and elapsed time. */
export function finishReport(r: Report, startedMs: number): void {
  r.machine.loadavgEnd = loadavg();
  r.elapsedS = Math.round((Date.now() - startedMs) / 100) / 10;
}

function num(x: number, unit: Row['unit']): string {
  if (!Number.isFinite(x)) return '—';
  switch (unit) {
    case 'ms':
      return Math.abs(x) < 10 ? x.toFixed(3) : x.toFixed(1);
    case 'µs':
      return Math.abs(x) < 100 ? x.toFixed(1) : x.toFixed(0);
    case 'req/s':
    case 'chunks/s':
      return Math.round(x).toLocaleString('en-US');
    case 'MiB':
      return x.toFixed(1);
    case '%':
      return x.toFixed(2);
  }
}

function cell(a: Agg | undefined, unit: Row['unit']): string {
  if (!a || !Number.isFinite(a.median)) return '—';
  if (a.rounds.length <= 1) return `${num(a.median, unit)} ${unit}`;
  return `${num(a.median, unit)} ${unit} <sub>(${num(a.min, unit)}..${num(a.max, unit)})</sub>`;
}

const mark = (p: boolean | null, crosses?: boolean) => (p === null ? '' : (p ? 'pass' : '**FAIL**') + (crosses ? ' (rounds on both sides)' : ''));

export function renderMarkdown(r: Report): string {
  const L: string[] = [];
  L.push(`# airoute sidecar benchmark${r.quick ? ' (quick)' : ''}`, '');
  L.push(
    `${r.date} · commit ${r.commit} · ${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.memoryGiB} GiB · sidecar \`${r.sidecarEntry}\` on ${r.machine.sidecarNode}, harness on ${r.machine.node} · ${r.rounds} rounds · pinning: ${r.pinning} · load average ${r.machine.loadavgStart.join(' ')} at start, ${r.machine.loadavgEnd.join(' ')} at end · ${r.elapsedS} s`,
    '',
  );
  L.push(
    'Direct and through-the-sidecar runs alternate within each round (order rotated every round) after an unmeasured warm-up. Each cell is the median of the per-round figures with their min..max below it; **added** is the median of the per-round differences (sidecar − direct, same round); **ratio** is sidecar / direct. A verdict marked *(rounds on both sides)* follows the median, but some rounds fell on the other side of the goal. Mock upstream, sidecar and load generator are separate processes on 127.0.0.1.',
    '',
  );
  if (r.rows.length) {
    L.push('| metric | direct | sidecar | added | ratio | goal | pass |', '|---|---|---|---|---|---|---|');
    for (const x of r.rows)
      L.push(
        `| ${x.metric} | ${cell(x.direct, x.unit)} | ${cell(x.sidecar, x.unit)} | ${cell(x.added, x.unit)} | ${x.ratio !== undefined && Number.isFinite(x.ratio) ? `${x.ratio.toFixed(2)}×` : '—'} | ${x.goal} | ${mark(x.pass, x.crosses)} |`,
      );
    L.push('');
  }
  if (r.comparisons.length) {
    L.push('## Sidecar variants', '', '| comparison | A | B | change | goal | pass |', '|---|---|---|---|---|---|');
    for (const c of r.comparisons) L.push(`| ${c.comparison} | ${cell(c.a, c.unit)} | ${cell(c.b, c.unit)} | ${cell(c.change, c.changeUnit)} ${c.changeText} | ${c.goal} | ${mark(c.pass, c.crosses)} |`);
    L.push('');
  }
  if (r.faults.length) {
    L.push(
      '## Goodput under faults',
      '',
      '20% of upstream attempts fail: half answer 429 before the first byte, half are cut mid-stream. A request is good only if its stream ends with `[DONE]`, carries usage, and its text is exactly the canonical answer.',
      '',
      '| system | requests | good | wrong text | explicit error | truncated | HTTP error | other | goodput | latency p50 / p99 | upstream saw | goal | pass |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const f of r.faults)
      L.push(
        `| ${f.system} | ${f.requests} | ${f.ok} | ${f.wrongText} | ${f.explicitError} | ${f.truncated} | ${f.httpError} | ${f.other} | ${Number.isFinite(f.goodput) ? `${f.goodput.toFixed(1)}%` : '—'} | ${num(f.latencyP50, 'ms')} / ${num(f.latencyP99, 'ms')} ms | ${f.upstream} | ${f.goal} | ${mark(f.pass)} |`,
      );
    const ex = r.faults.filter((f) => f.examples.length);
    if (ex.length) {
      L.push('', 'Examples of requests that were not good:');
      for (const f of ex) for (const e of f.examples) L.push(`- ${f.system}: ${e.replace(/\|/g, '\\|').slice(0, 300)}`);
    }
    L.push('');
  }
  if (r.notes.length) {
    L.push('## Notes', '');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  if (r.errors.length) {
    L.push('## Scenarios that failed', '');
    for (const e of r.errors) L.push('```', e.slice(0, 3000), '```');
    L.push('');
  }
  return `${L.join('\n')}\n`;
}
