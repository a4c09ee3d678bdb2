// 4. Sidecar RSS with 1,000 concurrent open streams, each on a fresh sidecar process (nothing
// retained from earlier scenarios): the default config, and (full run) the journal at its
// smallest retention, to show the journal's share.
import { MIB, canonicalText, type Target } from '../lib/common.ts';
import { rss as rssOf } from '../lib/procs.ts';
import type { Row } from '../lib/report.ts';
import type { JobResult, Outcome } from '../loadgen.ts';
import { expectText, mode, type Ctx, type ScenarioResult } from './context.ts';
import { VARIANTS, type Variant } from './sidecar.ts';

type Rss = ReturnType<typeof rssOf>;

/** One variant's figures (bytes); `atOpen` and `peak` sampled every 50 ms. */
export interface RssRun {
  idle: Rss;
  warm: Rss;
  atOpen: number;
  peak: number;
  after: Rss;
  open: number;
  streams: number;
  outcomes: Partial<Record<Outcome, number>>;
  holdElapsedMs: number;
  mockRss: number;
}

export async function rss(ctx: Ctx): Promise<ScenarioResult<Record<string, RssRun>>> {
  const rows: Row[] = [];
  const raw: Record<string, RssRun> = {};
  for (const v of ctx.quick ? [VARIANTS.default] : [VARIANTS.default, VARIANTS.journalMin]) raw[v.name] = await rssOnce(ctx, v, rows);
  return { rows, raw };
}

async function rssOnce(ctx: Ctx, v: Variant, rows: Row[]): Promise<RssRun> {
  const r = ctx.params.rss;
  const fresh = await ctx.startVariant(v);
  const label = v === VARIANTS.default ? '' : ` (${v.name})`;
  try {
    const idle = rssOf(fresh.pid);
    await mode(ctx, {});
    const t: Target = { name: 'sidecar', origin: fresh.origin, model: 'bench' };
    await ctx.load.run({ kind: 'reset' });
    // JIT warm-up, as in every other scenario, then let the heap settle.
    await ctx.load.run({ kind: 'requests', target: t, stream: true, n: r.warm, concurrency: 8, expectText: expectText(ctx), maxMs: 60_000 });
    await new Promise((res) => setTimeout(res, 500));
    const warm = rssOf(fresh.pid);
    await mode(ctx, { intervalMs: r.intervalMs, chunks: r.chunks });
    let peak = 0;
    let readyAt = -1;
    let open = 0;
    let atOpen = 0;
    const sampler = setInterval(() => {
      try {
        const x = rssOf(fresh.pid).rss;
        peak = Math.max(peak, x);
        if (readyAt >= 0 && performance.now() - readyAt < 1000) atOpen = Math.max(atOpen, x);
      } catch {
        // the process is gone; the outcomes say so
      }
    }, 50);
    let result: JobResult;
    try {
      result = await ctx.load.run({ kind: 'hold', target: t, n: r.streams, openConcurrency: r.openConcurrency, expectText: canonicalText(r.chunks), maxMs: 120_000 }, (o) => {
        readyAt = performance.now();
        open = o;
        atOpen = rssOf(fresh.pid).rss;
      });
    } finally {
      clearInterval(sampler);
    }
    const after = rssOf(fresh.pid);
    const bad = Object.entries(result.outcomes).filter(([k]) => k !== 'ok');
    if (bad.length) ctx.note(`rss${label}: ${JSON.stringify(result.outcomes)}; e.g. ${result.samples.slice(0, 2).join(' | ')}`);
    if (open < r.streams) ctx.note(`rss${label}: only ${open} of ${r.streams} streams were open at once (the first ones ended before the last one started); the RSS figure is for ${open}.`);
    const row = (metric: string, bytes: number, goal = false): Row => ({
      metric,
      unit: 'MiB',
      sidecar: { median: bytes / MIB, min: bytes / MIB, max: bytes / MIB, rounds: [bytes / MIB] },
      goal: goal ? '< 150 MiB with 1,000 open streams' : '',
      pass: goal ? (open >= r.streams ? bytes < 150 * MIB : false) : null,
    });
    if (v === VARIANTS.default) rows.push(row('sidecar RSS, idle after start', idle.rss), row(`sidecar RSS, after warm-up (${r.warm} streams)`, warm.rss));
    rows.push(
      row(`sidecar RSS${label}, ${open} of ${r.streams} streams open at once (max over 1 s)`, atOpen, v === VARIANTS.default),
      row(`sidecar RSS${label}, peak during the ${r.streams}-stream run (VmHWM)`, Math.max(peak, after.hwm)),
    );
    return { idle, warm, atOpen, peak, after, open, streams: r.streams, outcomes: result.outcomes, holdElapsedMs: result.elapsedMs, mockRss: rssOf(ctx.mock.pid).rss };
  } finally {
    fresh.child.kill('SIGTERM');
  }
}
