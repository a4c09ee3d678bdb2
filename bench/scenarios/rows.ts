// From alternating rounds to report rows: a direct-vs-sidecar row (median, spread, paired
// difference, goal), and the marks that keep a figure honest (failed requests make it invalid).
import type { Row } from '../lib/report.ts';
import type { SystemRounds } from '../lib/rounds.ts';
import { agg, paired, type Agg } from '../lib/stats.ts';
import type { Ctx } from './context.ts';

export interface RowSpec {
  metric: string;
  unit: Row['unit'];
  key: string;
  /** Goal on the added figure (or on the sidecar figure when `on` says so). */
  goal?: { text: string; on: 'added' | 'sidecar'; ok: (x: number) => boolean };
  /** Multiply raw figures (ms) by this for display (1000: µs). */
  scale?: number;
}

/** System `b` against system `a` on one metric of `res`. */
export function row(res: Map<string, SystemRounds>, spec: RowSpec, a = 'direct', b = 'sidecar'): Row {
  const k = spec.scale ?? 1;
  const da = (res.get(a)?.metrics[spec.key] ?? []).map((x) => x * k);
  const db = (res.get(b)?.metrics[spec.key] ?? []).map((x) => x * k);
  const A = agg(da);
  const B = agg(db);
  const added = paired(da, db);
  const on = spec.goal?.on === 'added' ? added : B;
  const judged = spec.goal ? on.median : Number.NaN;
  const broken = brokenText(res, [a, b]);
  return {
    metric: spec.metric + broken,
    unit: spec.unit,
    direct: A,
    sidecar: B,
    added,
    ratio: B.median / A.median,
    goal: spec.goal?.text ?? '',
    pass: spec.goal ? (Number.isFinite(judged) && !broken ? spec.goal.ok(judged) : false) : null,
    crosses: spec.goal ? crosses(on, spec.goal.ok) : false,
  };
}

/** Do the round figures fall on both sides of the goal? */
export function crosses(a: Agg, ok: (x: number) => boolean): boolean {
  return Number.isFinite(a.min) && Number.isFinite(a.max) && ok(a.min) !== ok(a.max);
}

/** Measured requests that did not come back complete and correct (the warm-up is noted, not counted). */
export function failures(s: SystemRounds): number {
  let bad = 0;
  for (const [k, v] of Object.entries(s.outcomes)) if (k !== 'ok') bad += v ?? 0;
  return bad;
}

/** Figures from runs where requests failed measure the failures: say so next to them (and fail the goal). */
export function brokenText(res: Map<string, SystemRounds>, names: string[]): string {
  const parts: string[] = [];
  for (const n of names) {
    const s = res.get(n);
    if (!s) continue;
    const total = Object.values(s.outcomes).reduce<number>((x, y) => x + (y ?? 0), 0);
    const bad = failures(s);
    if (bad > 0 && bad >= 0.001 * total) parts.push(`${n}: ${bad} of ${total} requests failed`);
  }
  return parts.length ? ` (**invalid**: ${parts.join('; ')}; see the notes)` : '';
}

/** Notes any request that did not come back complete and correct. */
export function checkOutcomes(ctx: Ctx, scenario: string, res: Map<string, SystemRounds>): void {
  for (const [name, s] of res) {
    const bad = failures(s);
    if (bad > 0) ctx.note(`${scenario}, ${name}: ${bad} request(s) not ok ${JSON.stringify(s.outcomes)}; e.g. ${s.samples.slice(0, 2).join(' | ')}`);
  }
}
