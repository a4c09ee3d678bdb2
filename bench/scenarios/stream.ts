// 2a. Added TTFT at concurrency 1, and the cost per chunk: the upstream sends its first content
// chunk alone, then after a short gap the other 63 back to back, so one stream shows both the
// time to a lone first token and how long a burst of chunks takes to get through.
import { agg, percentile } from '../lib/stats.ts';
import { direct, expectText, measure, mode, perSystem, via, type Ctx, type PerSystem, type ScenarioResult } from './context.ts';
import { checkOutcomes, row } from './rows.ts';

export async function stream(ctx: Ctx): Promise<ScenarioResult<PerSystem>> {
  const P = ctx.params;
  const gap = P.stream.firstGapMs;
  await mode(ctx, { firstGapMs: gap });
  const res = await measure(
    ctx,
    [direct(ctx), via(ctx)],
    ctx.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? P.stream.warm : P.stream.n, concurrency: 1, expectText: expectText(ctx), maxMs: 120_000 }),
    (r) => ({
      ttft50: percentile(r.ttft, 50),
      ttft99: percentile(r.ttft, 99),
      burst50: percentile(
        r.last.map((l, i) => l - (r.ttft[i] ?? l) - gap),
        50,
      ),
      total50: percentile(r.latency, 50),
    }),
  );
  checkOutcomes(ctx, 'stream', res);
  const burst = row(res, { metric: `rest of the stream: ${P.chunks - 1} chunks sent back to back, p50 (time to the last one)`, unit: 'ms', key: 'burst50' });
  return {
    rows: [
      row(res, { metric: 'TTFT p50, stream, c=1 (first chunk alone)', unit: 'ms', key: 'ttft50' }),
      row(res, { metric: 'TTFT p99, stream, c=1 (first chunk alone)', unit: 'ms', key: 'ttft99', goal: { text: 'added < 1 ms', on: 'added', ok: (x) => x < 1 } }),
      burst,
      {
        metric: 'added time per chunk (the burst above ÷ chunks)',
        unit: 'µs',
        added: agg((burst.added?.rounds ?? []).map((x) => (x * 1000) / (P.chunks - 1))),
        goal: '',
        pass: null,
      },
    ],
    raw: perSystem(res),
  };
}
