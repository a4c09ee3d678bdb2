// The failure-conduct scorecard's results: the report object (written as faults.json) and its
// Markdown (faults.md): systems, the scorecard with a column per system and shape, where airoute
// is not "pass" with the evidence, every cell with the checks its verdict is made of, and the rules.
import type { RequestLog } from './fault-upstream.ts';
import type { ANSWER, CellVerdict, CheckResult, FaultSystem, RULES, Shape, VERDICTS } from './faults-judge.ts';
import type { CONDUCT, SystemState } from './faults-systems.ts';
import { machineLine, type RunMeta } from './meta.ts';
import type { Transcript } from './transcript.ts';

export interface Cell {
  scenario: string;
  system: FaultSystem;
  shape: Shape;
  verdict: CellVerdict['verdict'] | 'not run';
  /** What decided the verdict, in one line. */
  reason: string;
  /** Every check, with its facts: what the verdict is made of. */
  checks: CheckResult[];
  /** The failed checks. */
  reasons: string[];
  story: string;
  /** Per client request: transcript, and for airoute the request's lifecycle events. */
  requests: { tr: Transcript; events?: string[] }[];
  primary: RequestLog[];
  fallback: RequestLog[];
  /** The healthy request on another route after the scenario, and the requests its model got upstream. */
  alive?: { tr: Transcript; upstream: number };
  /** airoute: its counters for the scenario's route after the cell. */
  metrics?: Record<string, number>;
}

export interface FaultsReport {
  meta: RunMeta;
  quick: boolean;
  limitMs: number;
  answer: typeof ANSWER;
  conduct: typeof CONDUCT;
  shapes: Shape[];
  systems: Omit<SystemState, 'proc'>[];
  scenarios: { id: string; title: string; setup: string; passMeans: string }[];
  rules: typeof RULES;
  verdicts: typeof VERDICTS;
  cells: Cell[];
  notes: string[];
  elapsedS: number;
}

const MARK: Record<Cell['verdict'], string> = { pass: 'pass', partial: 'partial', safe: 'safe', fail: '**FAIL**', 'not run': 'not run' };
const SHAPE_TEXT: Record<Shape, string> = {
  isolated: 'every scenario on upstream hosts (and airoute backends, nginx upstream blocks) of its own: nothing carries over from one scenario to the next',
  shared:
    "one upstream host serves every scenario as model names of its own (`<scenario>-primary`, `<scenario>-fallback`), each route's fallback another model on that same host (for airoute: one backend); all scenarios back to back in one process per system, no restart: whatever state a system keeps (circuits, budgets, passive health) carries over, as in production",
};

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const column = (s: { id: string; shape: Shape }) => (s.shape === 'isolated' ? s.id : `${s.id} (shared)`);

/** `✓ hang · ✗ alive: ... · – misreported`: what a verdict is made of. */
function checksLine(c: Cell): string {
  const mark = (x: CheckResult) => (x.status === 'ok' ? '✓' : x.status === 'failed' ? '✗' : '–');
  return c.checks
    .filter((x) => x.status !== 'n/a')
    .map((x) => `${mark(x)} ${x.id}${x.severity === 'advisory' ? ' (advisory)' : ''}${x.status === 'failed' ? `: ${x.detail}` : x.id === 'alive' || x.id === 'hammering' || x.severity === 'advisory' ? ` (${x.detail})` : ''}`)
    .join(' · ');
}

export function render(r: FaultsReport): string {
  const L: string[] = [];
  const cols = r.systems;
  L.push(`# Failure-conduct scorecard${r.quick ? ' (quick run)' : ''}`, '');
  L.push(`${machineLine(r.meta)} · client limit ${r.limitMs / 1000} s per request · ${r.elapsedS} s`, '');
  L.push(
    `Scripted mock upstreams on 127.0.0.1 (bench/lib/fault-upstream.ts), OpenAI-compatible, answering a ${r.answer.chunks}-token canonical text in streamed chunks ${r.answer.intervalMs} ms apart; each logs every request it gets (arrival time, model, prefill, what it answered). The client sends one streamed chat completion per cell (the outage scenario: a paced series), then one healthy request on another route (the **alive** check), and records everything it sees. Each verdict below is derived from those observations by the rules at the end, not from what a system claims; the rules follow the public failoverbench methodology (its sixteen scenarios; verdicts pass / partial / safe / fail from required and advisory checks), stricter where said. Each system gets the same conduct where it can express it: ${r.conduct.timeoutMs / 1000} s timeouts, ${r.conduct.attempts} attempts on the primary, a ${r.conduct.cooldownMs / 1000} s cool-down for a failed backend.`,
    '',
  );
  L.push('Two shapes, each a column per system:', '');
  for (const sh of r.shapes) L.push(`- **${sh}**: ${SHAPE_TEXT[sh]}.`);
  L.push('');
  L.push('## Systems', '', '| system | shape | version | fallback | configuration |', '|---|---|---|---|---|');
  for (const s of cols) L.push(`| ${s.id} | ${s.shape} | ${s.available ? esc(s.version ?? '') : `**not run**: ${esc(s.why ?? '')}`} | ${esc(s.fallback)} | ${esc(s.config)} |`);
  L.push('');
  L.push('## Scorecard', '', `| scenario | ${cols.map(column).join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`);
  const cellOf = (sc: string, s: { id: FaultSystem; shape: Shape }) => r.cells.find((x) => x.scenario === sc && x.system === s.id && x.shape === s.shape);
  for (const sc of r.scenarios) L.push(`| ${sc.title} | ${cols.map((s) => (s.available ? MARK[cellOf(sc.id, s)?.verdict ?? 'not run'] : 'not run')).join(' | ')} |`);
  const count = (s: { id: FaultSystem; shape: Shape }, v: Cell['verdict']) => r.cells.filter((c) => c.system === s.id && c.shape === s.shape && c.verdict === v).length;
  L.push(`| **totals** (pass / partial / safe / fail) | ${cols.map((s) => (s.available ? `${count(s, 'pass')} / ${count(s, 'partial')} / ${count(s, 'safe')} / ${count(s, 'fail')}` : '')).join(' | ')} |`, '');

  const airouteMisses = r.cells.filter((c) => c.system === 'airoute' && c.verdict !== 'pass');
  L.push('## Where airoute is not "pass"', '');
  if (!cols.some((s) => s.id === 'airoute' && s.available)) L.push('airoute did not run.', '');
  else if (!airouteMisses.length) L.push(`Nowhere: airoute passes every scenario in ${r.shapes.length === 2 ? 'both shapes' : `the ${r.shapes[0]} shape`}.`, '');
  else {
    for (const c of airouteMisses) {
      const sc = r.scenarios.find((x) => x.id === c.scenario)!;
      L.push(`### ${sc.title} (${c.shape}): ${MARK[c.verdict]}`, '', `- set-up: ${sc.setup}`, `- pass means: ${sc.passMeans}`, `- verdict: ${c.reason}`, `- made of: ${checksLine(c)}`);
      L.push(`- ${c.story}`);
      if (c.metrics && Object.keys(c.metrics).length) L.push(`- airoute counters for the route: ${Object.entries(c.metrics).map(([k, v]) => `${k.replace(/^airoute_|_total$/g, '')} ${v}`).join(', ')}`);
      const ev = c.requests[0]?.events;
      if (ev?.length) L.push('- airoute events of the request:', '', '  ```', ...ev.map((e) => `  ${e}`), '  ```');
      const tr = c.requests[0]!.tr;
      L.push('- client transcript (first and last events, ms since the request):', '', '  ```', ...tr.events.map((e) => `  ${String(e.t).padStart(8)}  ${e.what.slice(0, 200)}`), '  ```', '');
    }
  }

  L.push('## Every cell', '', 'Each verdict with what it is made of: ✓ a check that held, ✗ one that failed (with the facts); checks that do not apply are left out.', '');
  for (const sc of r.scenarios) {
    L.push(`### ${sc.title} (\`${sc.id}\`)`, '', `Set-up: ${sc.setup}. Pass means: ${sc.passMeans}.`, '', '| system | shape | verdict | made of | what happened |', '|---|---|---|---|---|');
    for (const s of cols) {
      const c = cellOf(sc.id, s);
      if (!c) continue;
      L.push(`| ${s.id} | ${s.shape} | ${MARK[c.verdict]}: ${esc(c.reason)} | ${esc(checksLine(c))} | ${esc(c.story)} |`);
    }
    L.push('');
  }
  L.push('## Rules', '', 'A cell is made of checks; how they make its verdict:', '', '| verdict | when |', '|---|---|');
  for (const v of r.verdicts) L.push(`| ${v.verdict} | ${esc(v.text)} |`);
  L.push('', '| check | severity | meaning |', '|---|---|---|');
  for (const x of r.rules) L.push(`| ${x.id} | ${x.severity} | ${esc(x.text)} |`);
  L.push('');
  if (r.notes.length) {
    L.push('## Notes', '');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  return `${L.join('\n')}\n`;
}
