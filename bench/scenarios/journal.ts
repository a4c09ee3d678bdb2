// Extension: what the event journal costs. The journal cannot be switched off yet, so the
// comparison is the default retention (15 min) against 1 s, on a second sidecar process (same
// routes), alternating as usual.
import { MIB, type Target } from '../lib/common.ts';
import { rss } from '../lib/procs.ts';
import type { Comparison } from '../lib/report.ts';
import type { SystemRounds } from '../lib/rounds.ts';
import { agg, paired, percentile } from '../lib/stats.ts';
import { expectText, measure, mode, type Ctx, type ScenarioResult } from './context.ts';
import { brokenText, checkOutcomes, crosses } from './rows.ts';
import { VARIANTS } from './sidecar.ts';

export interface JournalRaw {
  stream: Record<string, Record<string, number[]>>;
  nonStream: Record<string, Record<string, number[]>>;
  /** Bytes, after the scenario. */
  rss: { minimal: number; default: number };
}

export async function journal(ctx: Ctx): Promise<ScenarioResult<JournalRaw>> {
  const P = ctx.params;
  const min = await ctx.startVariant(VARIANTS.journalMin);
  try {
    const sys: Target[] = [
      { name: 'short', origin: min.origin, model: 'bench' },
      { name: 'default', origin: ctx.sidecar.origin, model: 'bench' },
    ];
    await mode(ctx, { firstGapMs: P.stream.firstGapMs });
    const st = await measure(
      ctx,
      sys,
      P.journal.rounds,
      (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? P.stream.warm : P.journal.streams, concurrency: 1, expectText: expectText(ctx), maxMs: 120_000 }),
      (r) => ({ ttft50: percentile(r.ttft, 50), ttft99: percentile(r.ttft, 99) }),
    );
    checkOutcomes(ctx, 'journal', st);
    await mode(ctx, {});
    const ns = await measure(
      ctx,
      sys,
      P.journal.rounds,
      (t, warm) => ({ kind: 'requests', target: t, stream: false, n: warm ? P.latency.warm : P.journal.requests, concurrency: 1, expectText: expectText(ctx), maxMs: 120_000 }),
      (r) => ({ p50: percentile(r.latency, 50), p99: percentile(r.latency, 99) }),
    );
    checkOutcomes(ctx, 'journal', ns);
    const comparisons = [
      compare(st, 'ttft50', 'TTFT p50, stream, c=1', 'journaling adds < 0.2 ms to TTFT p50', (x) => x < 0.2),
      compare(st, 'ttft99', 'TTFT p99, stream, c=1'),
      compare(ns, 'p50', 'latency p50, non-stream, c=1'),
      compare(ns, 'p99', 'latency p99, non-stream, c=1'),
    ];
    const ra = rss(min.pid).rss;
    const rb = rss(ctx.sidecar.pid).rss;
    ctx.note(
      `journal: RSS after the journal scenario ${(ra / MIB).toFixed(1)} MiB with 1 s retention vs ${(rb / MIB).toFixed(1)} MiB with the default (the default sidecar also served the scenarios before this one).`,
    );
    const metrics = (res: Map<string, SystemRounds>) => Object.fromEntries([...res].map(([k, v]) => [k, v.metrics]));
    return { comparisons, raw: { stream: metrics(st), nonStream: metrics(ns), rss: { minimal: ra, default: rb } } };
  } finally {
    min.child.kill('SIGTERM');
  }
}

/** Short retention (A) against the default (B) on one metric, paired per round. */
function compare(res: Map<string, SystemRounds>, key: string, what: string, goal = '', ok?: (x: number) => boolean): Comparison {
  const a = res.get('short')!.metrics[key] ?? [];
  const b = res.get('default')!.metrics[key] ?? [];
  const change = paired(a, b);
  const broken = brokenText(res, ['short', 'default']);
  return {
    comparison: `${what}, journal retention 1 s (A) vs default 15 min (B)${broken}`,
    unit: 'ms',
    a: agg(a),
    b: agg(b),
    change,
    changeUnit: 'ms',
    changeText: 'added by B',
    goal,
    pass: ok ? (Number.isFinite(change.median) && !broken ? ok(change.median) : false) : null,
    crosses: ok ? crosses(change, ok) : false,
  };
}
