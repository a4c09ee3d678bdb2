// 1. Added latency, non-streamed, concurrency 1, zero-delay upstream.
import { percentile } from '../lib/stats.ts';
import { direct, expectText, measure, mode, perSystem, via, type Ctx, type PerSystem, type ScenarioResult } from './context.ts';
import { checkOutcomes, row } from './rows.ts';

export async function latency(ctx: Ctx): Promise<ScenarioResult<PerSystem>> {
  const P = ctx.params;
  await mode(ctx, {});
  const res = await measure(
    ctx,
    [direct(ctx), via(ctx)],
    ctx.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: false, n: warm ? P.latency.warm : P.latency.n, concurrency: 1, expectText: expectText(ctx), maxMs: 120_000 }),
    (r) => ({ p50: percentile(r.latency, 50), p90: percentile(r.latency, 90), p99: percentile(r.latency, 99), max: Math.max(...r.latency) }),
  );
  checkOutcomes(ctx, 'latency', res);
  return {
    rows: [
      row(res, { metric: 'latency p50, non-stream, c=1', unit: 'ms', key: 'p50', goal: { text: 'added < 0.3 ms', on: 'added', ok: (x) => x < 0.3 } }),
      row(res, { metric: 'latency p99, non-stream, c=1', unit: 'ms', key: 'p99', goal: { text: 'added < 1 ms', on: 'added', ok: (x) => x < 1 } }),
    ],
    raw: perSystem(res),
  };
}
