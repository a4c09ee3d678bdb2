// Extension: what checkpointing costs, stream throughput with resume none vs prefill (same
// sidecar, same run), and the sidecar's CPU per chunk in those runs.
import { cpuSeconds } from '../lib/procs.ts';
import { agg } from '../lib/stats.ts';
import { expectText, measure, mode, perSystem, via, type Ctx, type PerSystem, type ScenarioResult } from './context.ts';
import { brokenText, checkOutcomes, crosses } from './rows.ts';

export async function checkpoint(ctx: Ctx): Promise<ScenarioResult<PerSystem>> {
  const P = ctx.params;
  await mode(ctx, {});
  const c = P.checkpoint.concurrency;
  let cpu0 = 0;
  const res = await measure(
    ctx,
    [via(ctx, 'bench-none', 'none'), via(ctx, 'bench-prefill', 'prefill')],
    P.checkpoint.rounds,
    (t, warm) => ({ kind: 'rate', target: t, stream: true, concurrency: c, warmMs: warm ? 0 : P.checkpoint.warmMs, durationMs: warm ? 800 : P.checkpoint.durationMs, expectText: expectText(ctx) }),
    (r) => ({ chunks: (r.rps ?? Number.NaN) * P.chunks, cpu: r.completed ? ((cpuSeconds(ctx.sidecar.pid) - cpu0) / (r.completed * P.chunks)) * 1e6 : Number.NaN }),
    {
      before: () => {
        cpu0 = cpuSeconds(ctx.sidecar.pid);
      },
    },
  );
  checkOutcomes(ctx, 'checkpoint', res);
  const none = res.get('none')!.metrics.chunks ?? [];
  const prefill = res.get('prefill')!.metrics.chunks ?? [];
  const cost = agg(none.map((x, i) => ((x - (prefill[i] ?? Number.NaN)) / x) * 100));
  const broken = brokenText(res, ['none', 'prefill']);
  const ca = res.get('none')!.metrics.cpu ?? [];
  const cb = res.get('prefill')!.metrics.cpu ?? [];
  return {
    comparisons: [
      {
        comparison: `stream throughput through the sidecar, resume none (A) vs prefill (B), chunks/s, c=${c}, ${P.chunks} chunks back to back${broken}`,
        unit: 'chunks/s',
        a: agg(none),
        b: agg(prefill),
        change: cost,
        changeUnit: '%',
        changeText: 'cost of B, % of A',
        goal: 'checkpointing costs < 5% of stream throughput',
        pass: Number.isFinite(cost.median) && !broken ? cost.median < 5 : false,
        crosses: crosses(cost, (x) => x < 5),
      },
      {
        comparison: 'sidecar CPU per chunk in the runs above, resume none (A) vs prefill (B)',
        unit: 'µs',
        a: agg(ca),
        b: agg(cb),
        change: agg(ca.map((x, i) => (((cb[i] ?? Number.NaN) - x) / x) * 100)),
        changeUnit: '%',
        changeText: 'more CPU for B, % of A',
        goal: '',
        pass: null,
      },
    ],
    raw: perSystem(res),
  };
}
