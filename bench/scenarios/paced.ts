// 2b. Inter-chunk gaps and TTFT against a paced upstream (64 chunks at 20 ms), streams staggered
// over the interval.
import { percentile } from '../lib/stats.ts';
import { direct, expectText, measure, mode, perSystem, via, type Ctx, type PerSystem, type ScenarioResult } from './context.ts';
import { checkOutcomes, row } from './rows.ts';

export async function paced(ctx: Ctx): Promise<ScenarioResult<PerSystem>> {
  const P = ctx.params;
  const iv = P.pacedIntervalMs;
  await mode(ctx, { intervalMs: iv });
  const c = P.paced.concurrency;
  const res = await measure(
    ctx,
    [direct(ctx), via(ctx)],
    P.paced.rounds,
    (t, warm) => ({
      kind: 'requests',
      target: t,
      stream: true,
      n: warm ? c : c * P.paced.perWorker,
      concurrency: c,
      staggerMs: iv / c,
      expectText: expectText(ctx),
      maxMs: 120_000,
    }),
    (r) => ({
      ttft50: percentile(r.ttft, 50),
      ttft99: percentile(r.ttft, 99),
      gap50: percentile(r.gaps, 50),
      gap99: percentile(r.gaps, 99),
      gap999: percentile(r.gaps, 99.9),
      dev99: percentile(r.gapDev, 99),
      transit50: percentile(r.transit, 50),
      transit99: percentile(r.transit, 99),
      stalls: r.gaps.filter((g) => g > 10 * iv).length,
    }),
  );
  checkOutcomes(ctx, 'paced', res);
  const stalls = [...res].map(([k, v]) => `${k} ${(v.metrics.stalls ?? []).reduce((a, b) => a + b, 0)}`).join(', ');
  ctx.note(`paced: gaps over 10× the upstream interval (stalls): ${stalls}.`);
  return {
    rows: [
      row(res, { metric: `TTFT p50, stream, ${P.chunks}×${iv} ms upstream, ${c} staggered streams`, unit: 'ms', key: 'ttft50' }),
      row(res, { metric: `TTFT p99, stream, ${P.chunks}×${iv} ms upstream, ${c} staggered streams`, unit: 'ms', key: 'ttft99', goal: { text: 'added < 1 ms', on: 'added', ok: (x) => x < 1 } }),
      row(res, { metric: `inter-chunk gap p99 as the client sees it (${iv} ms upstream interval)`, unit: 'µs', key: 'gap99', scale: 1000 }),
      row(res, {
        metric: "inter-chunk gap p99 minus the upstream's own gap (its timer jitter removed)",
        unit: 'µs',
        key: 'dev99',
        scale: 1000,
        goal: { text: 'added < 50 µs', on: 'added', ok: (x) => x < 50 },
      }),
      row(res, { metric: 'chunk transit p50, upstream write to client read (includes a constant clock offset)', unit: 'µs', key: 'transit50', scale: 1000 }),
      row(res, { metric: 'chunk transit p99, upstream write to client read (includes a constant clock offset)', unit: 'µs', key: 'transit99', scale: 1000 }),
    ],
    raw: perSystem(res),
  };
}
