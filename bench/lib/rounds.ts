// Alternating rounds over several systems, the method every load benchmark here shares: one
// unmeasured warm-up per system, then `n` rounds in which every system runs the same job once,
// the order rotated every round so that no system always goes first. A round yields one figure
// per metric per system; bench/lib/stats.ts aggregates them (median and spread).
import type { Job, JobResult, Outcome } from '../loadgen.ts';
import type { Target } from './common.ts';
import type { LoadGen } from './procs.ts';

export type Metrics = Record<string, number>;

/** Examples of requests that were not ok kept per system. */
const MAX_SAMPLES = 8;

export interface SystemRounds {
  /** Per metric, one figure per round. */
  metrics: Record<string, number[]>;
  outcomes: Partial<Record<Outcome, number>>;
  /** A few examples of requests that were not ok. */
  samples: string[];
  /** Not-ok outcomes of the warm-up (not in `outcomes`, but they count as errors too). */
  warmOutcomes: Partial<Record<Outcome, number>>;
}

export interface RoundsOptions {
  /** false: no warm-up. */
  warm?: boolean;
  /** Sees each system's warm-up result (e.g. to note its failures). */
  onWarm?: (t: Target, r: JobResult) => void;
  before?: (t: Target) => void | Promise<void>;
  after?: (t: Target, r: JobResult) => void | Promise<void>;
}

export async function rounds(
  load: () => LoadGen,
  systems: Target[],
  n: number,
  job: (t: Target, warm: boolean) => Job,
  measure: (r: JobResult, t: Target) => Metrics,
  opts: RoundsOptions = {},
): Promise<Map<string, SystemRounds>> {
  const out = new Map<string, SystemRounds>(systems.map((t) => [t.name, { metrics: {}, outcomes: {}, samples: [], warmOutcomes: {} }]));
  await load().run({ kind: 'reset' });
  if (opts.warm !== false)
    for (const t of systems) {
      const w = await load().run(job(t, true));
      opts.onWarm?.(t, w);
      const s = out.get(t.name)!;
      for (const [k, v] of Object.entries(w.outcomes)) if (k !== 'ok') s.warmOutcomes[k as Outcome] = (s.warmOutcomes[k as Outcome] ?? 0) + (v ?? 0);
      for (const x of w.samples) if (s.samples.length < MAX_SAMPLES && !s.samples.includes(x)) s.samples.push(`warm-up: ${x}`);
    }
  for (let r = 0; r < n; r++) {
    const order = systems.map((_, i) => systems[(i + r) % systems.length]!);
    for (const t of order) {
      await opts.before?.(t);
      const res = await load().run(job(t, false));
      await opts.after?.(t, res);
      const s = out.get(t.name)!;
      for (const [k, v] of Object.entries(measure(res, t))) (s.metrics[k] ??= []).push(v);
      for (const [k, v] of Object.entries(res.outcomes)) s.outcomes[k as Outcome] = (s.outcomes[k as Outcome] ?? 0) + (v ?? 0);
      for (const x of res.samples) if (s.samples.length < MAX_SAMPLES && !s.samples.includes(x)) s.samples.push(x);
    }
  }
  return out;
}

/** Requests that did not come back complete and correct (warm-up included). */
export function notOk(s: SystemRounds): number {
  let bad = 0;
  for (const o of [s.outcomes, s.warmOutcomes]) for (const [k, v] of Object.entries(o)) if (k !== 'ok') bad += v ?? 0;
  return bad;
}
