// `npm run bench`: direct vs through the sidecar, in one run, alternating rounds after a
// warm-up. Three processes besides this one: a mock OpenAI-compatible upstream
// (bench/upstream.ts), the sidecar by its CLI contract, and a load generator (bench/loadgen.ts).
// Each figure is the median of the per-round figures, with the spread (min..max) beside it;
// "added" is the median of the per-round differences (sidecar minus direct, same round).
//
//   node bench/run.ts [--quick] [--rounds N] [--only a,b,...] [--pin auto|off|SPEC] ... (--help)
//
// See bench/README.md for the scenarios, the method and how to add one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { MIB, canonicalText, type MockMode, type MockStats, type Target } from './lib/common.ts';
import { LoadGen, cpuSeconds, killAll, rss, startMock, startSidecar, type SidecarProc } from './lib/procs.ts';
import { guardedRun, pinning, type StopSignal } from './lib/harness.ts';
import { projectNode, staleBuild } from './lib/meta.ts';
import { renderMarkdown, type FaultRow, type Report, type Row } from './lib/report.ts';
import { agg, paired, percentile, type Agg } from './lib/stats.ts';
import type { Job, JobResult, Outcome } from './loadgen.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const BENCH = path.join(ROOT, 'bench');

const USAGE = `usage: node bench/run.ts [options]     (npm run bench -- [options])
  --quick           about a minute: fewer rounds, shorter windows (default run: about 4 minutes)
  --rounds N        measured rounds per scenario (default 7, quick 3; some scenarios use fewer)
  --only LIST       comma-separated scenarios: latency,stream,paced,rps,checkpoint,
                    faults,journal,rss (default: all)
  --pin MODE        auto (default: sidecar on CPU 0, upstream and load generator on the others),
                    off, or an explicit spec like "sidecar=0,upstream=1,loadgen=1"
  --sidecar-entry=ts|dist
                    ts (default): node cli/airoute.ts (type stripping); dist: node bin/airoute.js,
                    the compiled build that is deployed (run npm run build first)
  --sidecar-node-args="ARGS"
                    extra Node options for the sidecar process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
                    (profiles are written when the sidecar exits at the end of the run) or "--trace-gc"
  --sidecar-log=FILE
                    append every sidecar's stdout and stderr to FILE (with --log-level warn it holds
                    failed requests; with --sidecar-node-args=--trace-gc, GC pauses)
  --out DIR         where latest.md and latest.json go (default bench/results)
  --max-minutes N   stop everything after N minutes whatever happens (default 15)
  -h, --help`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    pin: { type: 'string', default: 'auto' },
    out: { type: 'string', default: path.join(BENCH, 'results') },
    'sidecar-node-args': { type: 'string', default: '' },
    'sidecar-entry': { type: 'string', default: 'ts' },
    'max-minutes': { type: 'string', default: '15' },
    'sidecar-log': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

const QUICK = flags.quick === true;
const ROUNDS = flags.rounds ? Math.max(1, Math.floor(Number(flags.rounds))) : QUICK ? 3 : 7;
if (!Number.isFinite(ROUNDS)) throw new Error(`--rounds: not a number: ${flags.rounds}`);
if (!(Number(flags['max-minutes']) > 0)) throw new Error(`--max-minutes: not a positive number: ${flags['max-minutes']}`);
const ALL = ['latency', 'stream', 'paced', 'rps', 'checkpoint', 'faults', 'journal', 'rss'] as const;
type ScenarioId = (typeof ALL)[number];
const ONLY = new Set<string>(flags.only ? flags.only.split(',').map((s) => s.trim()) : ALL);
for (const s of ONLY) if (!(ALL as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario "${s}" (one of ${ALL.join(', ')})`);

/** Sizes of every scenario: the full run and `--quick`. */
const P = {
  chunks: 64,
  pacedIntervalMs: 20,
  latency: { n: QUICK ? 600 : 2000, warm: QUICK ? 600 : 2000 },
  stream: { n: QUICK ? 100 : 250, warm: QUICK ? 100 : 250, firstGapMs: 3 },
  paced: { concurrency: 16, perWorker: QUICK ? 1 : 2, rounds: Math.min(ROUNDS, QUICK ? 2 : 5) },
  rps: { concurrencies: [64, 256], delayMs: 20, warmMs: QUICK ? 300 : 500, durationMs: QUICK ? 800 : 3000, rounds: Math.min(ROUNDS, QUICK ? 2 : 3), capacityMs: QUICK ? 700 : 2000 },
  checkpoint: { concurrency: 16, warmMs: 200, durationMs: QUICK ? 700 : 1500, rounds: ROUNDS },
  faults: { n: QUICK ? 150 : 400, concurrency: 16, intervalMs: 1, fault429: 0.1, faultDrop: 0.1, rounds: 2 },
  journal: { streams: QUICK ? 80 : 150, requests: QUICK ? 400 : 800, rounds: Math.min(ROUNDS, QUICK ? 2 : 4) },
  // Long, slow streams: all 1,000 must be open at once, and the chunk rate (2,500/s) must not
  // make the load generator or the mock (one core between them) the bottleneck.
  rss: { streams: 1000, openConcurrency: 200, intervalMs: 400, chunks: QUICK ? 20 : 32, warm: QUICK ? 150 : 300 },
};

// ------------------------------------------------------------------ pinning


// ------------------------------------------------------------------ the run's processes

const pin = pinning(flags.pin ?? 'auto', 'sidecar', 'sidecar');
const nodeBin = projectNode(ROOT);
if (flags['sidecar-entry'] !== 'ts' && flags['sidecar-entry'] !== 'dist') throw new Error('--sidecar-entry: ts or dist');
const ENTRY = flags['sidecar-entry'] === 'dist' ? 'bin/airoute.js' : 'cli/airoute.ts';


const tmp = mkdtempSync(path.join(os.tmpdir(), 'airoute-bench-'));
const KEY_ENV = 'AIROUTE_BENCH_KEY';

/**
 * The sidecar config. The performance scenarios use backend `up`; each fault scenario route has a
 * backend of its own, so that circuit and retry-budget state never leaks between systems.
 */
function sidecarConfig(upstreamOrigin: string, variant: Variant = VARIANTS.default): Record<string, unknown> {
  const baseURL = `${upstreamOrigin}/v1`;
  const backend = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'openai-compatible', baseURL, apiKey: { env: KEY_ENV }, ...extra });
  // Short backoff so that the fault scenario stays short; the other retry settings are the defaults.
  const fast = { attempts: 3, backoff: { baseMs: 10, maxMs: 100 } };
  const relaxed = { circuit: { consecutiveFailures: 1000, failureRatePercent: 100, minimumRequests: 100000 } };
  return {
    backends: [backend('up'), backend('upf-none'), backend('upf-prefill'), backend('upf-relaxed', relaxed)],
    routes: [
      { model: 'bench', backends: [{ backend: 'up', model: 'm' }] },
      { model: 'bench-none', backends: [{ backend: 'up', model: 'm' }], resume: 'none' },
      { model: 'bench-prefill', backends: [{ backend: 'up', model: 'm' }], resume: 'prefill' },
      { model: 'faults-none', backends: [{ backend: 'upf-none', model: 'm' }], resume: 'none', retry: fast },
      { model: 'faults-prefill', backends: [{ backend: 'upf-prefill', model: 'm' }], resume: 'prefill', retry: fast },
      { model: 'faults-prefill-relaxed', backends: [{ backend: 'upf-relaxed', model: 'm' }], resume: 'prefill', retry: fast },
    ],
    ...variant.config,
  };
}

/**
 * Sidecar variants: the same routes with something switched. A variant is a config patch and/or
 * extra CLI arguments or environment; `startVariant` runs it as a separate sidecar process.
 * Metrics on/off needs a switch in the sidecar first (see bench/README.md).
 */
interface Variant {
  name: string;
  /** Top-level config keys merged into the document. */
  config?: Record<string, unknown>;
  args?: string[];
  env?: Record<string, string>;
}

const VARIANTS = {
  default: { name: 'default' },
  /**
   * The journal cannot be switched off; this keeps finished requests for 1 s instead of 15 min
   * (the schema's minimum), so it holds little more than the requests in flight. (Smaller
   * maxRequests/maxBytes make it evict in-flight requests on every event, which is no baseline.)
   */
  journalMin: { name: 'journal 1 s', config: { journal: { retention: { ttlMs: 1000 } } } },
} satisfies Record<string, Variant>;

interface Ctx {
  mockOrigin: string;
  /** Starts another sidecar (a variant) for this scenario; it is stopped with the run. */
  startVariant: (v: Variant) => Promise<SidecarProc>;
  load: LoadGen;
  configFile: string;
  sidecar: SidecarProc;
  report: Report;
}

async function newSidecar(configFile: string, name = 'sidecar', v?: Variant): Promise<SidecarProc> {
  return startSidecar(name, nodeBin, configFile, pin.sidecar, {
    cwd: ROOT,
    nodeArgs: (flags['sidecar-node-args'] ?? '').split(/\s+/).filter(Boolean),
    entry: ENTRY,
    ...(flags['sidecar-log'] ? { logFile: path.resolve(flags['sidecar-log']) } : {}),
    env: { ...process.env, [KEY_ENV]: 'sk-bench-not-a-real-key', NODE_ENV: 'production', ...v?.env },
    ...(v?.args ? { extraArgs: v.args } : {}),
  });
}

/** A sidecar that died in one scenario is restarted for the next, and the report says so. */
async function ensureSidecar(ctx: Ctx): Promise<void> {
  if (ctx.sidecar.child.exitCode === null && ctx.sidecar.child.signalCode === null) return;
  ctx.report.notes.push(`The sidecar exited (code ${ctx.sidecar.child.exitCode}, signal ${ctx.sidecar.child.signalCode}) and was restarted. Its stderr: ${ctx.sidecar.err.text.slice(-500)}`);
  ctx.sidecar = await newSidecar(ctx.configFile);
}

/** Likewise the load generator (the mock upstream is not restarted: its port is in the config). */
function ensureLoadGen(ctx: Ctx): void {
  const c = ctx.load.proc.child;
  if (c.exitCode === null && c.signalCode === null) return;
  ctx.report.notes.push(`The load generator exited (code ${c.exitCode}, signal ${c.signalCode}) and was restarted. Its stderr: ${ctx.load.proc.err.text.slice(-500)}`);
  const served = ctx.load.served;
  ctx.load = new LoadGen(path.join(BENCH, 'loadgen.ts'), pin.loadgen);
  for (const [k, v] of served) ctx.load.served.set(k, v);
}

async function setMode(ctx: Ctx, mode: Partial<MockMode>): Promise<void> {
  const full: MockMode & { reset: boolean } = { delayMs: 0, chunks: P.chunks, intervalMs: 0, firstGapMs: 0, fault429: 0, faultDrop: 0, dropAt: 0.5, reset: true, ...mode };
  const res = await fetch(`${ctx.mockOrigin}/_mock/mode`, { method: 'PUT', body: JSON.stringify(full) });
  if (res.status !== 200) throw new Error(`mock mode: ${res.status}`);
  await res.arrayBuffer();
}

async function mockStats(ctx: Ctx): Promise<MockStats & { attempts: number }> {
  const res = await fetch(`${ctx.mockOrigin}/_mock/stats`);
  return (await res.json()) as MockStats & { attempts: number };
}

const direct = (ctx: Ctx): Target => ({ name: 'direct', origin: ctx.mockOrigin, model: 'm' });
const via = (ctx: Ctx, route = 'bench', name = 'sidecar'): Target => ({ name, origin: ctx.sidecar.origin, model: route });

// ------------------------------------------------------------------ rounds

type Metrics = Record<string, number>;

interface SystemRounds {
  /** Per metric, one figure per round. */
  metrics: Record<string, number[]>;
  outcomes: Partial<Record<Outcome, number>>;
  samples: string[];
  results: JobResult[];
}

/**
 * Runs `job` for each system in every round, rotating the order each round so that no system
 * always goes first, after one unmeasured warm-up per system.
 */
async function rounds(
  ctx: Ctx,
  systems: Target[],
  n: number,
  job: (t: Target, warm: boolean) => Job,
  measure: (r: JobResult, t: Target) => Metrics,
  around?: { before?: (t: Target) => void | Promise<void>; after?: (t: Target, r: JobResult) => void | Promise<void>; warm?: boolean },
): Promise<Map<string, SystemRounds>> {
  await ctx.load.run({ kind: 'reset' });
  if (around?.warm !== false)
    for (const t of systems) {
      const w = await ctx.load.run(job(t, true));
      const bad = Object.entries(w.outcomes).filter(([k]) => k !== 'ok');
      if (bad.length) ctx.report.notes.push(`warm-up of ${t.name}: ${JSON.stringify(w.outcomes)}; e.g. ${w.samples.slice(0, 2).join(' | ')}`);
    }
  const out = new Map<string, SystemRounds>(systems.map((t) => [t.name, { metrics: {}, outcomes: {}, samples: [], results: [] }]));
  for (let r = 0; r < n; r++) {
    const order = systems.map((_, i) => systems[(i + r) % systems.length]!);
    for (const t of order) {
      await around?.before?.(t);
      const res = await ctx.load.run(job(t, false));
      await around?.after?.(t, res);
      const s = out.get(t.name)!;
      for (const [k, v] of Object.entries(measure(res, t))) (s.metrics[k] ??= []).push(v);
      for (const [k, v] of Object.entries(res.outcomes)) s.outcomes[k as Outcome] = (s.outcomes[k as Outcome] ?? 0) + (v ?? 0);
      for (const x of res.samples) if (s.samples.length < 8 && !s.samples.includes(x)) s.samples.push(x);
      s.results.push(res);
    }
  }
  return out;
}

function failures(s: SystemRounds): number {
  let bad = 0;
  for (const [k, v] of Object.entries(s.outcomes)) if (k !== 'ok') bad += v ?? 0;
  return bad;
}

/** Notes any request that did not come back complete and correct. */
function checkOutcomes(ctx: Ctx, scenario: string, res: Map<string, SystemRounds>): void {
  for (const [name, s] of res) {
    const bad = failures(s);
    if (bad > 0) ctx.report.notes.push(`${scenario}, ${name}: ${bad} request(s) not ok ${JSON.stringify(s.outcomes)}; e.g. ${s.samples.slice(0, 2).join(' | ')}`);
  }
}

interface RowSpec {
  metric: string;
  unit: Row['unit'];
  key: string;
  /** Goal on the added figure (or on the sidecar figure when `on` says so). */
  goal?: { text: string; on: 'added' | 'sidecar'; ok: (x: number) => boolean };
  /** Multiply raw figures (ms) by this for display (1000: µs). */
  scale?: number;
}

function row(res: Map<string, SystemRounds>, spec: RowSpec, a = 'direct', b = 'sidecar'): Row {
  const k = spec.scale ?? 1;
  const da = (res.get(a)?.metrics[spec.key] ?? []).map((x) => x * k);
  const db = (res.get(b)?.metrics[spec.key] ?? []).map((x) => x * k);
  const A = agg(da);
  const B = agg(db);
  const added = paired(da, db);
  const on = spec.goal?.on === 'added' ? added : B;
  const judged = spec.goal ? on.median : Number.NaN;
  const broken = brokenText(res, [a, b]);
  return {
    metric: spec.metric + broken,
    unit: spec.unit,
    direct: A,
    sidecar: B,
    added,
    ratio: B.median / A.median,
    goal: spec.goal?.text ?? '',
    pass: spec.goal ? (Number.isFinite(judged) && !broken ? spec.goal.ok(judged) : false) : null,
    crosses: spec.goal ? crosses(on, spec.goal.ok) : false,
  };
}

/** Do the round figures fall on both sides of the goal? */
function crosses(a: Agg, ok: (x: number) => boolean): boolean {
  return Number.isFinite(a.min) && Number.isFinite(a.max) && ok(a.min) !== ok(a.max);
}

/** Figures from runs where requests failed measure the failures: say so next to them (and fail the goal). */
function brokenText(res: Map<string, SystemRounds>, names: string[]): string {
  const parts: string[] = [];
  for (const n of names) {
    const s = res.get(n);
    if (!s) continue;
    const total = Object.values(s.outcomes).reduce<number>((x, y) => x + (y ?? 0), 0);
    const bad = failures(s);
    if (bad > 0 && bad >= 0.001 * total) parts.push(`${n}: ${bad} of ${total} requests failed`);
  }
  return parts.length ? ` (**invalid**: ${parts.join('; ')}; see the notes)` : '';
}

// ------------------------------------------------------------------ scenarios

const EXPECT = canonicalText(P.chunks);

/** 1. Added latency, non-streamed, concurrency 1, zero-delay upstream. */
async function latency(ctx: Ctx): Promise<void> {
  await setMode(ctx, {});
  const res = await rounds(
    ctx,
    [direct(ctx), via(ctx)],
    ROUNDS,
    (t, warm) => ({ kind: 'requests', target: t, stream: false, n: warm ? P.latency.warm : P.latency.n, concurrency: 1, expectText: EXPECT, maxMs: 120_000 }),
    (r) => ({ p50: percentile(r.latency, 50), p90: percentile(r.latency, 90), p99: percentile(r.latency, 99), max: Math.max(...r.latency) }),
  );
  checkOutcomes(ctx, 'latency', res);
  ctx.report.rows.push(
    row(res, { metric: 'latency p50, non-stream, c=1', unit: 'ms', key: 'p50', goal: { text: 'added < 0.3 ms', on: 'added', ok: (x) => x < 0.3 } }),
    row(res, { metric: 'latency p99, non-stream, c=1', unit: 'ms', key: 'p99', goal: { text: 'added < 1 ms', on: 'added', ok: (x) => x < 1 } }),
  );
  ctx.report.raw.latency = Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes }]));
}

/**
 * 2a. Added TTFT at concurrency 1, and the cost per chunk: the upstream sends its first content
 * chunk alone, then after a short gap the other 63 back to back, so one stream shows both the
 * time to a lone first token and how long a burst of chunks takes to get through.
 */
async function stream(ctx: Ctx): Promise<void> {
  const gap = P.stream.firstGapMs;
  await setMode(ctx, { firstGapMs: gap });
  const res = await rounds(
    ctx,
    [direct(ctx), via(ctx)],
    ROUNDS,
    (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? P.stream.warm : P.stream.n, concurrency: 1, expectText: EXPECT, maxMs: 120_000 }),
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
  ctx.report.rows.push(
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
  );
  ctx.report.raw.stream = Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes }]));
}

/** 2b. Inter-chunk gaps and TTFT against a paced upstream (64 chunks at 20 ms), streams staggered over the interval. */
async function paced(ctx: Ctx): Promise<void> {
  const iv = P.pacedIntervalMs;
  await setMode(ctx, { intervalMs: iv });
  const c = P.paced.concurrency;
  const res = await rounds(
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
      expectText: EXPECT,
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
  ctx.report.rows.push(
    row(res, { metric: `TTFT p50, stream, ${P.chunks}×${iv} ms upstream, ${c} staggered streams`, unit: 'ms', key: 'ttft50' }),
    row(res, { metric: `TTFT p99, stream, ${P.chunks}×${iv} ms upstream, ${c} staggered streams`, unit: 'ms', key: 'ttft99', goal: { text: 'added < 1 ms', on: 'added', ok: (x) => x < 1 } }),
    row(res, { metric: `inter-chunk gap p99 as the client sees it (${iv} ms upstream interval)`, unit: 'µs', key: 'gap99', scale: 1000 }),
    row(res, {
      metric: 'inter-chunk gap p99 minus the upstream\'s own gap (its timer jitter removed)',
      unit: 'µs',
      key: 'dev99',
      scale: 1000,
      goal: { text: 'added < 50 µs', on: 'added', ok: (x) => x < 50 },
    }),
    row(res, { metric: 'chunk transit p50, upstream write to client read (includes a constant clock offset)', unit: 'µs', key: 'transit50', scale: 1000 }),
    row(res, { metric: 'chunk transit p99, upstream write to client read (includes a constant clock offset)', unit: 'µs', key: 'transit99', scale: 1000 }),
  );
  ctx.report.notes.push(`paced: gaps over 10× the upstream interval (stalls): ${stalls}.`);
  ctx.report.raw.paced = Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes }]));
}

/** 3. Requests/s at fixed concurrency against a 20 ms upstream, and the zero-delay capacity. */
async function rps(ctx: Ctx): Promise<void> {
  const cpu: Record<string, number[]> = {};
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
  const raw: Record<string, unknown> = {};
  for (const c of P.rps.concurrencies) {
    await setMode(ctx, { delayMs: P.rps.delayMs });
    const res = await rounds(
      ctx,
      [direct(ctx), via(ctx)],
      P.rps.rounds,
      (t, warm) => ({ kind: 'rate', target: t, stream: false, concurrency: c, warmMs: warm ? 0 : P.rps.warmMs, durationMs: warm ? (QUICK ? 500 : 1000) : P.rps.durationMs, expectText: EXPECT }),
      (r) => ({ rps: r.rps ?? Number.NaN, p50: percentile(r.latency, 50), p99: percentile(r.latency, 99) }),
      measureCpu(`c${c}`),
    );
    checkOutcomes(ctx, `rps c=${c}`, res);
    const bound = Math.floor((c * 1000) / P.rps.delayMs);
    const reachable = bound >= 5000;
    const r = row(res, {
      metric: `requests/s, non-stream, c=${c}, ${P.rps.delayMs} ms upstream`,
      unit: 'req/s',
      key: 'rps',
      goal: { text: reachable ? '≥ 5,000 req/s' : `≥ 5,000 req/s (unreachable: c/latency bound is ${bound.toLocaleString('en-US')})`, on: 'sidecar', ok: (x) => x >= 5000 },
    });
    ctx.report.rows.push(r);
    ctx.report.rows.push(row(res, { metric: `latency p99 under load, c=${c}, ${P.rps.delayMs} ms upstream`, unit: 'ms', key: 'p99' }));
    raw[`c${c}`] = Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes }]));
  }
  // Capacity: a zero-delay upstream, so the figure is what the processes can do, not what the upstream allows.
  await setMode(ctx, {});
  const cap = await rounds(
    ctx,
    [direct(ctx), via(ctx)],
    P.rps.rounds,
    (t, warm) => ({ kind: 'rate', target: t, stream: false, concurrency: 64, warmMs: warm ? 0 : 300, durationMs: warm ? 500 : P.rps.capacityMs, expectText: EXPECT }),
    (r) => ({ rps: r.rps ?? Number.NaN }),
    measureCpu('capacity'),
  );
  checkOutcomes(ctx, 'capacity', cap);
  ctx.report.rows.push(row(cap, { metric: 'requests/s, non-stream, c=64, zero-delay upstream (capacity)', unit: 'req/s', key: 'rps' }));
  for (const [label, xs] of Object.entries(cpu)) {
    const a = agg(xs);
    ctx.report.rows.push({
      metric: `sidecar CPU per request (${label === 'capacity' ? 'capacity run' : `c=${label.slice(1)}`})`,
      unit: 'µs',
      sidecar: a,
      goal: '',
      pass: null,
    });
  }
  raw.capacity = Object.fromEntries([...cap].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes }]));
  raw.sidecarCpuMicrosPerRequest = cpu;
  ctx.report.raw.rps = raw;
}

/** Extension: what checkpointing costs, stream throughput with resume none vs prefill (same sidecar, same run). */
async function checkpoint(ctx: Ctx): Promise<void> {
  await setMode(ctx, {});
  const c = P.checkpoint.concurrency;
  let cpu0 = 0;
  const res = await rounds(
    ctx,
    [via(ctx, 'bench-none', 'none'), via(ctx, 'bench-prefill', 'prefill')],
    P.checkpoint.rounds,
    (t, warm) => ({ kind: 'rate', target: t, stream: true, concurrency: c, warmMs: warm ? 0 : P.checkpoint.warmMs, durationMs: warm ? 800 : P.checkpoint.durationMs, expectText: EXPECT }),
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
  ctx.report.comparisons.push({
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
  });
  const ca = res.get('none')!.metrics.cpu ?? [];
  const cb = res.get('prefill')!.metrics.cpu ?? [];
  ctx.report.comparisons.push({
    comparison: 'sidecar CPU per chunk in the runs above, resume none (A) vs prefill (B)',
    unit: 'µs',
    a: agg(ca),
    b: agg(cb),
    change: agg(ca.map((x, i) => (((cb[i] ?? Number.NaN) - x) / x) * 100)),
    changeUnit: '%',
    changeText: 'more CPU for B, % of A',
    goal: '',
    pass: null,
  });
  ctx.report.raw.checkpoint = Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes }]));
}

/** Extension: goodput under faults (20% of upstream attempts fail: half 429 before the first byte, half dropped mid-stream). */
async function faults(ctx: Ctx): Promise<void> {
  const f = P.faults;
  const mode: Partial<MockMode> = { intervalMs: f.intervalMs, fault429: f.fault429, faultDrop: f.faultDrop, dropAt: 0.5 };
  const systems = [
    direct(ctx),
    via(ctx, 'faults-none', 'sidecar, resume none'),
    via(ctx, 'faults-prefill', 'sidecar, resume prefill'),
    via(ctx, 'faults-prefill-relaxed', 'sidecar, resume prefill, circuit relaxed'),
  ];
  // Warm up without faults, so that no circuit or budget state carries into the measurement.
  await setMode(ctx, { intervalMs: f.intervalMs });
  await ctx.load.run({ kind: 'reset' });
  for (const t of systems) await ctx.load.run({ kind: 'requests', target: t, stream: true, n: 32, concurrency: f.concurrency, expectText: EXPECT, maxMs: 60_000 });
  await setMode(ctx, mode);
  const upstream = new Map<string, MockStats & { attempts: number }>();
  let before: MockStats & { attempts: number };
  const add = (name: string, a: MockStats & { attempts: number }, b: MockStats & { attempts: number }) => {
    const u = upstream.get(name) ?? { requests: 0, streams: 0, faults429: 0, drops: 0, prefills: 0, prefillMismatches: 0, aborted: 0, attempts: 0 };
    for (const k of Object.keys(u) as (keyof typeof u)[]) u[k] += b[k] - a[k];
    upstream.set(name, u);
  };
  const per = Math.ceil(f.n / f.rounds);
  const res = await rounds(
    ctx,
    systems,
    f.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? 32 : per, concurrency: f.concurrency, expectText: EXPECT, maxMs: 120_000 }),
    (r) => ({ p50: percentile(r.latency, 50), p99: percentile(r.latency, 99) }),
    {
      before: async () => {
        before = await mockStats(ctx);
      },
      after: async (t) => add(t.name, before, await mockStats(ctx)),
      warm: false,
    },
  );
  for (const t of systems) {
    const s = res.get(t.name)!;
    const o = s.outcomes;
    const total = Object.values(o).reduce<number>((a, b) => a + (b ?? 0), 0);
    const http = Object.entries(o).filter(([k]) => k.startsWith('http_')).reduce<number>((a, [, v]) => a + (v ?? 0), 0);
    const u = upstream.get(t.name);
    const row: FaultRow = {
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
    ctx.report.faults.push(row);
  }
  ctx.report.raw.faults = { mode, perSystem: Object.fromEntries([...res].map(([k, v]) => [k, { metrics: v.metrics, outcomes: v.outcomes, samples: v.samples }])), upstream: Object.fromEntries(upstream) };
}

/**
 * Extension: what the event journal costs. The journal cannot be switched off yet, so the
 * comparison is the default retention (15 min) against 1 s, on a second sidecar process (same
 * routes), alternating as usual.
 */
async function journal(ctx: Ctx): Promise<void> {
  const min = await ctx.startVariant(VARIANTS.journalMin);
  try {
    const sys: Target[] = [
      { name: 'short', origin: min.origin, model: 'bench' },
      { name: 'default', origin: ctx.sidecar.origin, model: 'bench' },
    ];
    const gap = P.stream.firstGapMs;
    await setMode(ctx, { firstGapMs: gap });
    const st = await rounds(
      ctx,
      sys,
      P.journal.rounds,
      (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? P.stream.warm : P.journal.streams, concurrency: 1, expectText: EXPECT, maxMs: 120_000 }),
      (r) => ({ ttft50: percentile(r.ttft, 50), ttft99: percentile(r.ttft, 99) }),
    );
    checkOutcomes(ctx, 'journal', st);
    await setMode(ctx, {});
    const ns = await rounds(
      ctx,
      sys,
      P.journal.rounds,
      (t, warm) => ({ kind: 'requests', target: t, stream: false, n: warm ? P.latency.warm : P.journal.requests, concurrency: 1, expectText: EXPECT, maxMs: 120_000 }),
      (r) => ({ p50: percentile(r.latency, 50), p99: percentile(r.latency, 99) }),
    );
    checkOutcomes(ctx, 'journal', ns);
    const cmp = (res: Map<string, SystemRounds>, key: string, what: string, goal = '', ok?: (x: number) => boolean) => {
      const a = res.get('short')!.metrics[key] ?? [];
      const b = res.get('default')!.metrics[key] ?? [];
      const change = paired(a, b);
      const broken = brokenText(res, ['short', 'default']);
      ctx.report.comparisons.push({
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
      });
    };
    cmp(st, 'ttft50', 'TTFT p50, stream, c=1', 'journaling adds < 0.2 ms to TTFT p50', (x) => x < 0.2);
    cmp(st, 'ttft99', 'TTFT p99, stream, c=1');
    cmp(ns, 'p50', 'latency p50, non-stream, c=1');
    cmp(ns, 'p99', 'latency p99, non-stream, c=1');
    const ra = rss(min.pid).rss;
    const rb = rss(ctx.sidecar.pid).rss;
    ctx.report.notes.push(
      `journal: RSS after the journal scenario ${(ra / MIB).toFixed(1)} MiB with 1 s retention vs ${(rb / MIB).toFixed(1)} MiB with the default (the default sidecar also served the scenarios before this one).`,
    );
    ctx.report.raw.journal = { stream: Object.fromEntries([...st].map(([k, v]) => [k, v.metrics])), nonStream: Object.fromEntries([...ns].map(([k, v]) => [k, v.metrics])), rss: { minimal: ra, default: rb } };
  } finally {
    min.child.kill('SIGTERM');
  }
}

/**
 * 4. Sidecar RSS with 1,000 concurrent open streams, each on a fresh sidecar process (nothing
 * retained from earlier scenarios): the default config, and (full run) the journal at its
 * smallest retention, to show the journal's share.
 */
async function rssScenario(ctx: Ctx): Promise<void> {
  const raw: Record<string, unknown> = {};
  for (const v of QUICK ? [VARIANTS.default] : [VARIANTS.default, VARIANTS.journalMin]) raw[v.name] = await rssOnce(ctx, v);
  ctx.report.raw.rss = raw;
}

async function rssOnce(ctx: Ctx, v: Variant): Promise<unknown> {
  const r = P.rss;
  const fresh = await ctx.startVariant(v);
  const label = v === VARIANTS.default ? '' : ` (${v.name})`;
  try {
    const idle = rss(fresh.pid);
    await setMode(ctx, {});
    const t: Target = { name: 'sidecar', origin: fresh.origin, model: 'bench' };
    await ctx.load.run({ kind: 'reset' });
    // JIT warm-up, as in every other scenario, then let the heap settle.
    await ctx.load.run({ kind: 'requests', target: t, stream: true, n: P.rss.warm, concurrency: 8, expectText: EXPECT, maxMs: 60_000 });
    await new Promise((res) => setTimeout(res, 500));
    const warm = rss(fresh.pid);
    await setMode(ctx, { intervalMs: r.intervalMs, chunks: r.chunks });
    const expect = canonicalText(r.chunks);
    let peak = 0;
    let readyAt = -1;
    let open = 0;
    let atOpen = 0;
    const sampler = setInterval(() => {
      try {
        const x = rss(fresh.pid).rss;
        peak = Math.max(peak, x);
        if (readyAt >= 0 && performance.now() - readyAt < 1000) atOpen = Math.max(atOpen, x);
      } catch {
        // the process is gone; the outcomes say so
      }
    }, 50);
    let result: JobResult;
    try {
      result = await ctx.load.run({ kind: 'hold', target: t, n: r.streams, openConcurrency: r.openConcurrency, expectText: expect, maxMs: 120_000 }, (o) => {
        readyAt = performance.now();
        open = o;
        atOpen = rss(fresh.pid).rss;
      });
    } finally {
      clearInterval(sampler);
    }
    const after = rss(fresh.pid);
    const bad = Object.entries(result.outcomes).filter(([k]) => k !== 'ok');
    if (bad.length) ctx.report.notes.push(`rss${label}: ${JSON.stringify(result.outcomes)}; e.g. ${result.samples.slice(0, 2).join(' | ')}`);
    if (open < r.streams) ctx.report.notes.push(`rss${label}: only ${open} of ${r.streams} streams were open at once (the first ones ended before the last one started); the RSS figure is for ${open}.`);
    const row = (metric: string, bytes: number, goal = false): Row => ({
      metric,
      unit: 'MiB',
      sidecar: { median: bytes / MIB, min: bytes / MIB, max: bytes / MIB, rounds: [bytes / MIB] },
      goal: goal ? '< 150 MiB with 1,000 open streams' : '',
      pass: goal ? (open >= r.streams ? bytes < 150 * MIB : false) : null,
    });
    if (v === VARIANTS.default) ctx.report.rows.push(row('sidecar RSS, idle after start', idle.rss), row(`sidecar RSS, after warm-up (${P.rss.warm} streams)`, warm.rss));
    ctx.report.rows.push(
      row(`sidecar RSS${label}, ${open} of ${r.streams} streams open at once (max over 1 s)`, atOpen, v === VARIANTS.default),
      row(`sidecar RSS${label}, peak during the ${r.streams}-stream run (VmHWM)`, Math.max(peak, after.hwm)),
    );
    return { idle, warm, atOpen, peak, after, open, streams: r.streams, outcomes: result.outcomes, holdElapsedMs: result.elapsedMs, mockRss: rss(mockPid).rss };
  } finally {
    fresh.child.kill('SIGTERM');
  }
}

let mockPid = 0;

const SCENARIOS: { id: ScenarioId; title: string; run: (ctx: Ctx) => Promise<void> }[] = [
  { id: 'latency', title: 'added latency, non-stream, c=1', run: latency },
  { id: 'stream', title: 'added TTFT and per-chunk cost, c=1', run: stream },
  { id: 'paced', title: 'inter-chunk gaps, paced upstream', run: paced },
  { id: 'rps', title: 'requests/s', run: rps },
  { id: 'checkpoint', title: 'checkpointing cost (resume none vs prefill)', run: checkpoint },
  { id: 'faults', title: 'goodput under faults', run: faults },
  { id: 'journal', title: 'journal cost (retention 15 min vs 1 s)', run: journal },
  { id: 'rss', title: 'RSS with 1,000 open streams', run: rssScenario },
];

// ------------------------------------------------------------------ main

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const cores = os.availableParallelism();
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'sidecar', 'api']) !== '';
  const report: Report = {
    date: new Date().toISOString(),
    commit: commit ? `${commit}${dirty ? ' (sidecar/ or api/ modified)' : ''}` : 'unknown',
    machine: {
      cores,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      sidecarNode: execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim(),
      loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
      loadavgEnd: [],
    },
    pinning: pin.text,
    sidecarEntry: ENTRY,
    quick: QUICK,
    rounds: ROUNDS,
    params: P,
    rows: [],
    comparisons: [],
    faults: [],
    notes: [],
    errors: [],
    raw: {},
    elapsedS: 0,
  };
  if (ENTRY === 'bin/airoute.js') {
    const stale = staleBuild(ROOT);
    if (stale.length) report.notes.push(`--sidecar-entry=dist: dist/ is older than ${stale.length} source file(s) (e.g. ${stale.slice(0, 3).join(', ')}): run npm run build first, or these figures are for old code.`);
  } else
    report.notes.push(
      'The sidecar ran from its TypeScript sources (node cli/airoute.ts): Node\'s type stripper costs it about 35 MiB of RSS and some start-up time that the deployed build (bin/airoute.js, --sidecar-entry=dist) does not have.',
    );
  const load1 = os.loadavg()[0] ?? 0;
  if (load1 > 0.25 * cores) {
    const busy = `The machine was busy when the run started (load average ${load1.toFixed(2)} on ${cores} cores): other processes share the cores, so these figures are noisy${pin.sidecar ? ', and a pinned sidecar cannot move away from them (--pin off lets the scheduler do that)' : ''}.`;
    report.notes.push(busy);
    console.error(`warning: ${busy}`);
  }
  if (cores <= 2)
    report.notes.push(
      `This machine has ${cores} cores: the load generator, the mock upstream and the sidecar share them, so every through-the-sidecar figure includes CPU contention that a real pod (app and sidecar on their own cores, the provider remote) would not have.`,
    );
  const configFile = path.join(tmp, 'sidecar.yaml');
  writeFileSync(configFile, stringify(sidecarConfig('http://127.0.0.1:1')));
  const mock = await startMock(path.join(BENCH, 'upstream.ts'), pin.upstream);
  mockPid = mock.pid;
  writeFileSync(configFile, stringify(sidecarConfig(mock.origin)));
  const load = new LoadGen(path.join(BENCH, 'loadgen.ts'), pin.loadgen);
  const sidecar = await newSidecar(configFile);
  let variants = 0;
  const startVariant = async (v: Variant): Promise<SidecarProc> => {
    const file = path.join(tmp, `sidecar-${++variants}.yaml`);
    writeFileSync(file, stringify(sidecarConfig(mock.origin, v)));
    return newSidecar(file, `sidecar (${v.name})`, v);
  };
  const ctx: Ctx = { mockOrigin: mock.origin, startVariant, load, configFile, sidecar, report };
  console.error(`airoute bench: ${QUICK ? 'quick' : 'full'} run, ${ROUNDS} rounds; ${cores} cores; pinning: ${pin.text}`);
  for (const s of SCENARIOS) {
    if (!ONLY.has(s.id)) continue;
    const t0 = Date.now();
    process.stderr.write(`  ${s.id}: ${s.title} ... `);
    try {
      await ensureSidecar(ctx);
      ensureLoadGen(ctx);
      await s.run(ctx);
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      const msg = (err as Error).stack ?? String(err);
      report.errors.push(`${s.id}: ${msg}`);
      process.stderr.write(`FAILED (${(err as Error).message.split('\n')[0]})\n`);
    }
  }
  // The sidecar logs failed requests at warn: the tail helps explain a bad figure.
  report.raw.sidecarLog = { head: ctx.sidecar.out.head.slice(0, 4000).split('\n'), tail: ctx.sidecar.out.text.slice(-4000).split('\n') };
  if (ctx.sidecar.child.exitCode === null) {
    const end = rss(ctx.sidecar.pid);
    report.raw.mainSidecarEnd = { rss: end.rss, hwm: end.hwm, cpuSeconds: cpuSeconds(ctx.sidecar.pid) };
    const mib = end.rss / MIB;
    report.rows.push({
      metric: `sidecar RSS at the end of the run (the process that served the other scenarios: ${(ctx.load.served.get(ctx.sidecar.origin) ?? 0).toLocaleString('en-US')} requests)`,
      unit: 'MiB',
      sidecar: { median: mib, min: mib, max: mib, rounds: [mib] },
      goal: '',
      pass: null,
    });
  }
  report.machine.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  report.elapsedS = Math.round((Date.now() - started) / 100) / 10;
  // Interrupted: the results are partial and must not replace the last complete ones.
  if (stop.requested) return;
  const md = renderMarkdown(report);
  mkdirSync(flags.out!, { recursive: true });
  writeFileSync(path.join(flags.out!, 'latest.md'), md);
  writeFileSync(path.join(flags.out!, 'latest.json'), `${JSON.stringify(report, null, 1)}\n`);
  process.stdout.write(md);
  console.error(`written: ${path.relative(process.cwd(), path.join(flags.out!, 'latest.md'))}, latest.json (${report.elapsedS} s)`);
  if (report.errors.length) process.exitCode = 1;
}

const stop: StopSignal = { requested: false };
const cleanup = async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
};
guardedRun('bench', { maxMinutes: Number(flags['max-minutes']), stop, cleanup, main });
