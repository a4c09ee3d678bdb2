// The failure-conduct scorecard's results: the report object (written as faults.json) and its
// Markdown (faults.md): systems, scorecard, where airoute is not "pass" with the evidence, every
// cell, and the rules.
import type { RequestLog } from './fault-upstream.ts';
import type { ANSWER, CellVerdict, FaultSystem, RULES } from './faults-judge.ts';
import type { CONDUCT, SystemState } from './faults-systems.ts';
import { machineLine, type RunMeta } from './meta.ts';
import type { Transcript } from './transcript.ts';

export interface Cell {
  scenario: string;
  system: FaultSystem;
  verdict: CellVerdict['verdict'] | 'not run';
  reasons: string[];
  story: string;
  /** Per client request: transcript, and for airoute the request's lifecycle events. */
  requests: { tr: Transcript; events?: string[] }[];
  primary: RequestLog[];
  fallback: RequestLog[];
  /** airoute: its counters for the scenario's route after the cell. */
  metrics?: Record<string, number>;
}

export interface FaultsReport {
  meta: RunMeta;
  quick: boolean;
  limitMs: number;
  answer: typeof ANSWER;
  conduct: typeof CONDUCT;
  systems: Omit<SystemState, 'proc'>[];
  scenarios: { id: string; title: string; setup: string; passMeans: string }[];
  rules: typeof RULES;
  cells: Cell[];
  notes: string[];
  elapsedS: number;
}

const MARK: Record<Cell['verdict'], string> = { pass: 'pass', safe: 'safe', fail: '**FAIL**', 'not run': 'not run' };

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function render(r: FaultsReport): string {
  const L: string[] = [];
  const ids = r.systems.map((s) => s.id);
  L.push(`# Failure-conduct scorecard${r.quick ? ' (quick run)' : ''}`, '');
  L.push(`${machineLine(r.meta)} · client limit ${r.limitMs / 1000} s per request · ${r.elapsedS} s`, '');
  L.push(
    `Two scripted mock upstreams on 127.0.0.1 (bench/lib/fault-upstream.ts): a **primary** and a **fallback**, OpenAI-compatible, answering a ${r.answer.chunks}-token canonical text in streamed chunks ${r.answer.intervalMs} ms apart; each logs every request it gets (arrival time, model, prefill, what it answered). The client sends one streamed chat completion per cell (the outage scenario: a paced series) and records everything it sees. Each verdict below is derived from those observations by the rules at the end, not from what a system claims. Each system gets the same conduct where it can express it: ${r.conduct.timeoutMs / 1000} s timeouts, ${r.conduct.attempts} attempts on the primary, a ${r.conduct.cooldownMs / 1000} s cool-down for a failed backend.`,
    '',
  );
  L.push('## Systems', '', '| system | version | fallback | configuration |', '|---|---|---|---|');
  for (const s of r.systems) L.push(`| ${s.id} | ${s.available ? esc(s.version ?? '') : `**not run**: ${esc(s.why ?? '')}`} | ${esc(s.fallback)} | ${esc(s.config)} |`);
  L.push('');
  L.push('## Scorecard', '', `| scenario | ${ids.join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`);
  for (const sc of r.scenarios) {
    const cells = ids.map((id) => {
      const c = r.cells.find((x) => x.scenario === sc.id && x.system === id);
      return c ? MARK[c.verdict] : 'not run';
    });
    L.push(`| ${sc.title} | ${cells.join(' | ')} |`);
  }
  const count = (id: FaultSystem, v: Cell['verdict']) => r.cells.filter((c) => c.system === id && c.verdict === v).length;
  L.push(`| **totals** (pass / safe / fail) | ${ids.map((id) => `${count(id, 'pass')} / ${count(id, 'safe')} / ${count(id, 'fail')}`).join(' | ')} |`, '');

  const airouteMisses = r.cells.filter((c) => c.system === 'airoute' && c.verdict !== 'pass');
  L.push('## Where airoute is not "pass"', '');
  if (!r.systems.some((s) => s.id === 'airoute' && s.available)) L.push('airoute did not run.', '');
  else if (!airouteMisses.length) L.push('Nowhere: airoute passes every scenario.', '');
  else {
    for (const c of airouteMisses) {
      const sc = r.scenarios.find((x) => x.id === c.scenario)!;
      L.push(`### ${sc.title}: ${MARK[c.verdict]}`, '', `- set-up: ${sc.setup}`, `- pass means: ${sc.passMeans}`);
      for (const x of c.reasons) L.push(`- rule ${x}`);
      L.push(`- ${c.story}`);
      if (c.metrics && Object.keys(c.metrics).length) L.push(`- airoute counters for the route: ${Object.entries(c.metrics).map(([k, v]) => `${k.replace(/^airoute_|_total$/g, '')} ${v}`).join(', ')}`);
      const ev = c.requests[0]?.events;
      if (ev?.length) L.push('- airoute events of the request:', '', '  ```', ...ev.map((e) => `  ${e}`), '  ```');
      const tr = c.requests[0]!.tr;
      L.push('- client transcript (first and last events, ms since the request):', '', '  ```', ...tr.events.map((e) => `  ${String(e.t).padStart(8)}  ${e.what.slice(0, 200)}`), '  ```', '');
    }
  }

  L.push('## Every cell', '');
  for (const sc of r.scenarios) {
    L.push(`### ${sc.title} (\`${sc.id}\`)`, '', `Set-up: ${sc.setup}. Pass means: ${sc.passMeans}.`, '', '| system | verdict | why | what happened |', '|---|---|---|---|');
    for (const id of ids) {
      const c = r.cells.find((x) => x.scenario === sc.id && x.system === id);
      if (!c) continue;
      L.push(`| ${id} | ${MARK[c.verdict]} | ${esc(c.reasons.join('; '))} | ${esc(c.story)} |`);
    }
    L.push('');
  }
  L.push('## Rules', '', 'Applied in this order; the first group decides **fail**, then **pass**, then **safe**.', '', '| rule | verdict | meaning |', '|---|---|---|');
  for (const x of r.rules) L.push(`| ${x.id} | ${x.verdict} | ${esc(x.text)} |`);
  L.push('');
  if (r.notes.length) {
    L.push('## Notes', '');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  return `${L.join('\n')}\n`;
}
