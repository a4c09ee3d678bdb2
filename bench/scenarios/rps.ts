// 3. Requests/s at fixed concurrency against a 20 ms upstream, the zero-delay capacity, and the
// sidecar's CPU time per request in those runs (user + system, from /proc).
import type { Target } from '../lib/common.ts';
import { cpuSeconds } from '../lib/procs.ts';
import type { Row } from '../lib/report.ts';
import { agg, percentile } from '../lib/stats.ts';
import type { JobResult } from '../loadgen.ts';
import { direct, expectText, measure, mode, perSystem, via, type Ctx, type PerSystem, type ScenarioResult } from './context.ts';
import { checkOutcomes, row } from './rows.ts';

/** Per concurrency (`c64`, `c256`) and `capacity`, per system; and the sidecar's CPU µs per request, per run. */
export type RpsRaw = Record<`c${number}` | 'capacity', PerSystem> & { sidecarCpuMicrosPerRequest: Record<string, number[]> };

export async function rps(ctx: Ctx): Promise<ScenarioResult<RpsRaw>> {
  const P = ctx.params;
  const cpu: Record<string, number[]> = {};
  // Only the sidecar's runs: its CPU seconds before and after, over the requests it completed.
  const measureCpu = (label: string) => {
    let before = 0;
    return {
      before: (t: Target) => {
        if (t.name === 'sidecar') before = cpuSeconds(ctx.sidecar.pid);
      },
      after: (t: Target, r: JobResult) => {
        if (t.name === 'sidecar' && r.completed) (cpu[label] ??= []).push(((cpuSeconds(ctx.sidecar.pid) - before) / r.completed) * 1e6);
      },
    };
  };
  const rows: Row[] = [];
  const raw: Record<`c${number}`, PerSystem> = {};
  for (const c of P.rps.concurrencies) {
    await mode(ctx, { delayMs: P.rps.delayMs });
    const res = await measure(
      ctx,
      [direct(ctx), via(ctx)],
      P.rps.rounds,
      (t, warm) => ({ kind: 'rate', target: t, stream: false, concurrency: c, warmMs: warm ? 0 : P.rps.warmMs, durationMs: warm ? (ctx.quick ? 500 : 1000) : P.rps.durationMs, expectText: expectText(ctx) }),
      (r) => ({ rps: r.rps ?? Number.NaN, p50: percentile(r.latency, 50), p99: percentile(r.latency, 99) }),
      measureCpu(`c${c}`),
    );
    checkOutcomes(ctx, `rps c=${c}`, res);
    const bound = Math.floor((c * 1000) / P.rps.delayMs);
    const reachable = bound >= 5000;
    rows.push(
      row(res, {
        metric: `requests/s, non-stream, c=${c}, ${P.rps.delayMs} ms upstream`,
        unit: 'req/s',
        key: 'rps',
        goal: { text: reachable ? '≥ 5,000 req/s' : `≥ 5,000 req/s (unreachable: c/latency bound is ${bound.toLocaleString('en-US')})`, on: 'sidecar', ok: (x) => x >= 5000 },
      }),
      row(res, { metric: `latency p99 under load, c=${c}, ${P.rps.delayMs} ms upstream`, unit: 'ms', key: 'p99' }),
    );
    raw[`c${c}`] = perSystem(res);
  }
  // Capacity: a zero-delay upstream, so the figure is what the processes can do, not what the upstream allows.
  await mode(ctx, {});
  const cap = await measure(
    ctx,
    [direct(ctx), via(ctx)],
    P.rps.rounds,
    (t, warm) => ({ kind: 'rate', target: t, stream: false, concurrency: 64, warmMs: warm ? 0 : 300, durationMs: warm ? 500 : P.rps.capacityMs, expectText: expectText(ctx) }),
    (r) => ({ rps: r.rps ?? Number.NaN }),
    measureCpu('capacity'),
  );
  checkOutcomes(ctx, 'capacity', cap);
  rows.push(row(cap, { metric: 'requests/s, non-stream, c=64, zero-delay upstream (capacity)', unit: 'req/s', key: 'rps' }));
  for (const [label, xs] of Object.entries(cpu))
    rows.push({
      metric: `sidecar CPU per request (${label === 'capacity' ? 'capacity run' : `c=${label.slice(1)}`})`,
      unit: 'µs',
      sidecar: agg(xs),
      goal: '',
      pass: null,
    });
  return { rows, raw: { ...raw, capacity: perSystem(cap), sidecarCpuMicrosPerRequest: cpu } };
}
