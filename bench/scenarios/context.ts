// What every scenario of `npm run bench` gets and gives back. The entry point (bench/run.ts) opens
// the harness once: the mock upstream, the load generator and the main sidecar, all started before
// the first scenario; a scenario sets the mock's mode, runs alternating rounds through `measure`,
// and returns typed results that bench/lib/report.ts renders.
import { canonicalText, type MockMode, type Target } from '../lib/common.ts';
import { mockStats, setMode, type MockCounters } from '../lib/mock-client.ts';
import type { LoadGen, SidecarProc } from '../lib/procs.ts';
import type { Measured } from '../lib/report.ts';
import { rounds, type Metrics, type RoundsOptions, type SystemRounds } from '../lib/rounds.ts';
import type { Job, JobResult } from '../loadgen.ts';
import type { Params } from './params.ts';
import type { Variant } from './sidecar.ts';

export interface Ctx {
  readonly params: Params;
  readonly quick: boolean;
  /** Measured rounds (`--rounds`; some scenarios use fewer, see params.ts). */
  readonly rounds: number;
  readonly mock: { origin: string; pid: number };
  /** The load generator (replaced between scenarios if it died). */
  load: LoadGen;
  /** The main sidecar: the default config, serving every scenario (restarted between scenarios if it died). */
  sidecar: SidecarProc;
  /** Starts another sidecar (a variant) for this scenario; stop it when done (the run stops any left). */
  startVariant(v: Variant): Promise<SidecarProc>;
  /** Adds a note to the report at once (kept even if the scenario fails later). */
  note(text: string): void;
}

/** What a scenario measured, in the report's shapes; `raw` goes to latest.json under the scenario's id. */
export interface ScenarioResult<Raw = unknown> extends Measured {
  raw: Raw;
}

export interface Scenario {
  id: string;
  title: string;
  run(ctx: Ctx): Promise<ScenarioResult>;
}

/** Per system, its per-round figures and outcomes: the `raw` most scenarios keep. */
export type PerSystem = Record<string, Pick<SystemRounds, 'metrics' | 'outcomes'>>;

export function perSystem(res: Map<string, SystemRounds>): PerSystem {
  return Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes }]));
}

/** The complete answer every response must carry (the mock's canonical text). */
export const expectText = (ctx: Ctx): string => canonicalText(ctx.params.chunks);

/** The mock directly. */
export const direct = (ctx: Ctx): Target => ({ name: 'direct', origin: ctx.mock.origin, model: 'm' });
/** A route of the main sidecar. */
export const via = (ctx: Ctx, route = 'bench', name = 'sidecar'): Target => ({ name, origin: ctx.sidecar.origin, model: route });

/** The mock's mode for the next phase (the scenario's chunk count unless `mode` says otherwise). */
export const mode = (ctx: Ctx, m: Partial<MockMode>): Promise<void> => setMode(ctx.mock.origin, { chunks: ctx.params.chunks, ...m });
export const counters = (ctx: Ctx): Promise<MockCounters> => mockStats(ctx.mock.origin);

/**
 * Alternating rounds (bench/lib/rounds.ts) on the run's load generator; a warm-up that did not
 * come back all ok is noted.
 */
export function measure(
  ctx: Ctx,
  systems: Target[],
  n: number,
  job: (t: Target, warm: boolean) => Job,
  metrics: (r: JobResult, t: Target) => Metrics,
  opts: RoundsOptions = {},
): Promise<Map<string, SystemRounds>> {
  return rounds(() => ctx.load, systems, n, job, metrics, {
    ...opts,
    onWarm: (t, w) => {
      if (Object.keys(w.outcomes).some((k) => k !== 'ok')) ctx.note(`warm-up of ${t.name}: ${JSON.stringify(w.outcomes)}; e.g. ${w.samples.slice(0, 2).join(' | ')}`);
    },
  });
}
