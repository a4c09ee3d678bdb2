// Extension (scenario id `faults`): goodput under faults. 20% of upstream attempts fail: half 429
// before the first byte, half dropped mid-stream. Direct, and through the sidecar with resume
// none, prefill, and prefill with the circuit breaker relaxed.
import type { MockMode } from '../lib/common.ts';
import type { MockCounters } from '../lib/mock-client.ts';
import type { FaultRow } from '../lib/report.ts';
import type { SystemRounds } from '../lib/rounds.ts';
import { agg, percentile } from '../lib/stats.ts';
import { counters, direct, expectText, measure, mode, via, type Ctx, type ScenarioResult } from './context.ts';

export interface GoodputRaw {
  mode: Partial<MockMode>;
  perSystem: Record<string, Pick<SystemRounds, 'metrics' | 'outcomes' | 'samples'>>;
  /** What the mock saw during each system's rounds. */
  upstream: Record<string, MockCounters>;
}

export async function goodput(ctx: Ctx): Promise<ScenarioResult<GoodputRaw>> {
  const f = ctx.params.faults;
  const expect = expectText(ctx);
  const faulty: Partial<MockMode> = { intervalMs: f.intervalMs, fault429: f.fault429, faultDrop: f.faultDrop, dropAt: 0.5 };
  const systems = [
    direct(ctx),
    via(ctx, 'faults-none', 'sidecar, resume none'),
    via(ctx, 'faults-prefill', 'sidecar, resume prefill'),
    via(ctx, 'faults-prefill-relaxed', 'sidecar, resume prefill, circuit relaxed'),
  ];
  // Warm up without faults, so that no circuit or budget state carries into the measurement.
  await mode(ctx, { intervalMs: f.intervalMs });
  await ctx.load.run({ kind: 'reset' });
  for (const t of systems) await ctx.load.run({ kind: 'requests', target: t, stream: true, n: 32, concurrency: f.concurrency, expectText: expect, maxMs: 60_000 });
  await mode(ctx, faulty);
  const upstream = new Map<string, MockCounters>();
  let before: MockCounters;
  const add = (name: string, a: MockCounters, b: MockCounters) => {
    const u = upstream.get(name) ?? { requests: 0, streams: 0, faults429: 0, drops: 0, prefills: 0, prefillMismatches: 0, aborted: 0, attempts: 0 };
    for (const k of Object.keys(u) as (keyof typeof u)[]) u[k] += b[k] - a[k];
    upstream.set(name, u);
  };
  const per = Math.ceil(f.n / f.rounds);
  const res = await measure(
    ctx,
    systems,
    f.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? 32 : per, concurrency: f.concurrency, expectText: expect, maxMs: 120_000 }),
    (r) => ({ p50: percentile(r.latency, 50), p99: percentile(r.latency, 99) }),
    {
      before: async () => {
        before = await counters(ctx);
      },
      after: async (t) => add(t.name, before, await counters(ctx)),
      warm: false,
    },
  );
  const faults: FaultRow[] = systems.map((t) => {
    const s = res.get(t.name)!;
    const o = s.outcomes;
    const total = Object.values(o).reduce<number>((a, b) => a + (b ?? 0), 0);
    const http = Object.entries(o).filter(([k]) => k.startsWith('http_')).reduce<number>((a, [, v]) => a + (v ?? 0), 0);
    const u = upstream.get(t.name);
    return {
      system: t.name,
      requests: total,
      ok: o.ok ?? 0,
      wrongText: (o.wrong_text ?? 0) + (o.no_usage ?? 0),
      explicitError: o.error_event ?? 0,
      truncated: o.truncated ?? 0,
      httpError: http,
      other: (o.net_error ?? 0) + (o.timeout ?? 0),
      goodput: total ? ((o.ok ?? 0) / total) * 100 : Number.NaN,
      latencyP50: agg(s.metrics.p50 ?? []).median,
      latencyP99: agg(s.metrics.p99 ?? []).median,
      upstream: u ? `${u.attempts} attempts, ${u.faults429} × 429, ${u.drops} drops, ${u.prefills} prefills${u.prefillMismatches ? ` (${u.prefillMismatches} not a prefix!)` : ''}` : '',
      goal: t.name.includes('prefill') ? '≥ 99% with prefill' : '',
      pass: t.name.includes('prefill') ? (total ? (o.ok ?? 0) / total >= 0.99 : false) : null,
      examples: s.samples.slice(0, 4),
    };
  });
  return {
    faults,
    raw: { mode: faulty, perSystem: Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes, samples: v.samples }])), upstream: Object.fromEntries(upstream) },
  };
}
