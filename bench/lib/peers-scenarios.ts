// The scenarios of `npm run bench:peers`, in the order they run: each measures every running
// system (direct, nginx, Portkey, airoute) by alternating rounds (bench/lib/rounds.ts) and keeps
// its per-round figures, and the per-round differences to direct, in the report.
import { MIB, canonicalText, type MockMode } from './common.ts';
import { setMode } from './mock-client.ts';
import type { PeersReport, SystemId } from './peers-report.ts';
import type { PeerSystems } from './peers-systems.ts';
import { treeCpuSeconds, treeRss, type LoadGen } from './procs.ts';
import { notOk, rounds, type SystemRounds } from './rounds.ts';
import { paired, percentile } from './stats.ts';
import type { JobResult } from '../loadgen.ts';

/** Sizes of every scenario: the full run and `--quick`. */
export function peersParams(quick: boolean, rounds: number) {
  return {
    chunks: 64,
    latency: { n: quick ? 500 : 2000, warm: quick ? 300 : 1000, rounds },
    // 16 streams at a time, staggered over the interval; enough streams per round (96, quick 48)
    // that a round's p99 is not just its maximum.
    stream: { intervalMs: 20, concurrency: 16, perWorker: quick ? 3 : 6, rounds: Math.min(rounds, quick ? 2 : 4) },
    rps: { concurrencies: [64, 256], delayMs: 20, warmMs: quick ? 300 : 500, durationMs: quick ? 1000 : 3000, warmRunMs: quick ? 500 : 1000, rounds: Math.min(rounds, quick ? 2 : 3) },
    // Long, slow streams so that all 1,000 are open at once without the mock or the load generator
    // (one core between them) being the bottleneck: 2,500 chunks/s at most.
    rss: { streams: 1000, openConcurrency: 200, intervalMs: 400, chunks: quick ? 16 : 32, warm: quick ? 100 : 300 },
  };
}
export type PeersParams = ReturnType<typeof peersParams>;

export interface PeersCtx {
  readonly params: PeersParams;
  readonly report: PeersReport;
  readonly mockOrigin: string;
  readonly systems: PeerSystems;
  /** The load generator (replaced between scenarios if it died). */
  load: LoadGen;
}

const mode = (ctx: PeersCtx, m: Partial<MockMode>) => setMode(ctx.mockOrigin, { chunks: ctx.params.chunks, ...m });
const expectText = (ctx: PeersCtx) => canonicalText(ctx.params.chunks);

/** Keeps a scenario's round figures per system, the added figures against direct, and every request that was not ok. */
function keep(report: PeersReport, scenario: string, res: Map<string, SystemRounds>): void {
  for (const [name, s] of res) {
    const id = name as SystemId;
    for (const [k, v] of Object.entries(s.metrics)) report.figures[id][k] = v;
    const e = (report.errors[id] ??= { notOk: 0, stalls: 0, examples: [] });
    const bad = notOk(s);
    e.notOk += bad;
    if (bad) e.examples.push(...s.samples.slice(0, 3).map((x) => `${scenario}: ${x}`));
    if (s.metrics.stalls) e.stalls += s.metrics.stalls.reduce((a, b) => a + b, 0);
  }
  const direct = res.get('direct');
  if (!direct) return;
  for (const [name, s] of res) {
    if (name === 'direct') continue;
    for (const [k, v] of Object.entries(s.metrics)) if (direct.metrics[k]) report.added[name as SystemId][k] = paired(direct.metrics[k]!, v).rounds;
  }
}

/** RSS with 1,000 streams open at once, per proxy, on the fresh process after a short warm-up. */
async function rss(ctx: PeersCtx): Promise<void> {
  const r = ctx.params.rss;
  const { report, load } = ctx;
  for (const t of ctx.systems.measured()) {
    const s = ctx.systems.get(t.name as SystemId);
    if (!s.pid) continue;
    await mode(ctx, {});
    await load.run({ kind: 'reset' });
    const warm = await load.run({ kind: 'requests', target: t, stream: true, n: r.warm, concurrency: 8, expectText: expectText(ctx), maxMs: 60_000 });
    await new Promise((res) => setTimeout(res, 500));
    await mode(ctx, { intervalMs: r.intervalMs, chunks: r.chunks });
    const pid = s.pid;
    let readyAt = -1;
    let atOpen = 0;
    let open = 0;
    const sampler = setInterval(() => {
      if (readyAt >= 0 && performance.now() - readyAt < 1000) atOpen = Math.max(atOpen, treeRss(pid));
    }, 50);
    let res: JobResult;
    try {
      res = await load.run({ kind: 'hold', target: t, n: r.streams, openConcurrency: r.openConcurrency, expectText: canonicalText(r.chunks), maxMs: 120_000 }, (o) => {
        readyAt = performance.now();
        open = o;
        atOpen = Math.max(atOpen, treeRss(pid));
      });
    } finally {
      clearInterval(sampler);
    }
    report.figures[s.id].rss1000 = [atOpen / MIB];
    report.raw.rss[s.id] = { open, streams: r.streams, outcomes: res.outcomes, warmOutcomes: warm.outcomes, holdMs: Math.round(res.elapsedMs) };
    const e = (report.errors[s.id] ??= { notOk: 0, stalls: 0, examples: [] });
    for (const x of [res, warm])
      for (const [k, v] of Object.entries(x.outcomes))
        if (k !== 'ok') {
          e.notOk += v ?? 0;
          e.examples.push(`rss: ${k} ×${v}: ${x.samples[0] ?? ''}`);
        }
    if (open < r.streams) report.notes.push(`rss, ${s.id}: only ${open} of ${r.streams} streams were open at once when the last one started; the RSS figure is for ${open}.`);
  }
}

async function latency(ctx: PeersCtx): Promise<void> {
  const P = ctx.params;
  await mode(ctx, {});
  const res = await rounds(
    () => ctx.load,
    ctx.systems.measured(),
    P.latency.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: false, n: warm ? P.latency.warm : P.latency.n, concurrency: 1, expectText: expectText(ctx), maxMs: 180_000 }),
    (r) => ({ lat50: percentile(r.latency, 50), lat99: percentile(r.latency, 99) }),
  );
  keep(ctx.report, 'latency', res);
}

async function stream(ctx: PeersCtx): Promise<void> {
  const P = ctx.params;
  const iv = P.stream.intervalMs;
  const c = P.stream.concurrency;
  await mode(ctx, { intervalMs: iv });
  const res = await rounds(
    () => ctx.load,
    ctx.systems.measured(),
    P.stream.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? c : c * P.stream.perWorker, concurrency: c, staggerMs: iv / c, expectText: expectText(ctx), maxMs: 120_000 }),
    (r) => ({
      ttft50: percentile(r.ttft, 50),
      ttft99: percentile(r.ttft, 99),
      gap99: percentile(r.gaps, 99) * 1000,
      dev99: percentile(r.gapDev, 99) * 1000,
      stalls: r.gaps.filter((g) => g > 10 * iv).length,
      gapMax: Math.max(0, ...r.gaps),
    }),
  );
  keep(ctx.report, 'stream', res);
}

/** Requests/s at c=64 and c=256 against a 20 ms upstream, and each proxy's CPU seconds per 10,000 requests (its process tree). */
async function rps(ctx: PeersCtx): Promise<void> {
  const P = ctx.params;
  for (const c of P.rps.concurrencies) {
    await mode(ctx, { delayMs: P.rps.delayMs });
    let cpu0 = 0;
    const cpu: Partial<Record<SystemId, number[]>> = {};
    const pidOf = (name: string) => ctx.systems.get(name as SystemId).pid;
    const res = await rounds(
      () => ctx.load,
      ctx.systems.measured(),
      P.rps.rounds,
      (t, warm) => ({ kind: 'rate', target: t, stream: false, concurrency: c, warmMs: warm ? 0 : P.rps.warmMs, durationMs: warm ? P.rps.warmRunMs : P.rps.durationMs, expectText: expectText(ctx) }),
      (r) => ({ [`rps${c}`]: r.rps ?? Number.NaN, [`p99at${c}`]: percentile(r.latency, 99) }),
      {
        before: (t) => {
          const pid = pidOf(t.name);
          if (pid) cpu0 = treeCpuSeconds(pid);
        },
        after: (t, r) => {
          const pid = pidOf(t.name);
          if (pid && r.completed) (cpu[t.name as SystemId] ??= []).push(((treeCpuSeconds(pid) - cpu0) / r.completed) * 10_000);
        },
      },
    );
    keep(ctx.report, `rps c=${c}`, res);
    for (const [id, xs] of Object.entries(cpu)) ctx.report.figures[id as SystemId][`cpu10k${c}`] = xs;
  }
}

export const PEERS_SCENARIOS = [
  // First, on fresh processes (as in bench/run.ts): what 1,000 open streams cost in memory.
  { id: 'rss', title: 'RSS with 1,000 open streams', run: rss },
  { id: 'latency', title: 'added latency, non-stream, c=1', run: latency },
  { id: 'stream', title: 'TTFT and inter-chunk gaps, 64 chunks at 20 ms', run: stream },
  { id: 'rps', title: 'requests/s at c=64 and c=256, 20 ms upstream; CPU per 10,000 requests', run: rps },
] as const;

export const PEERS_SCENARIO_IDS: readonly string[] = PEERS_SCENARIOS.map((s) => s.id);
