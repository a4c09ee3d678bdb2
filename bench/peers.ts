// `npm run bench:peers`: airoute next to what users would pick instead, in one run. One
// deterministic mock upstream (bench/upstream.ts), one load generator (bench/loadgen.ts) on a
// fixed core set, and these systems in turn, alternating rounds after a warm-up:
//   direct   the load generator talks to the mock itself (the baseline)
//   nginx    Debian's nginx as a plain reverse proxy (installed with apt-get if missing)
//   portkey  Portkey's open-source gateway, @portkey-ai/gateway from npm (into .tools/portkey)
//   airoute  the sidecar, compiled (`npm run build`), run as `node bin/airoute.js sidecar`
// A peer that cannot be installed or started is reported with the reason; nothing is estimated.
//
//   node bench/peers.ts [--quick] [--rounds N] [--systems a,b] [--pin auto|off|SPEC] ... (--help)
//
// Results: bench/results/peers.md, peers.json, peers.svg. See bench/README.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MIB, canonicalText, type MockMode, type Target } from './lib/common.ts';
import { guardedRun, pinning, type StopSignal } from './lib/harness.ts';
import { buildSidecar, finishMeta, projectNode, runMeta, staleBuild } from './lib/meta.ts';
import { ensureNginx, killNginxGroup, startNginx } from './lib/nginx.ts';
import { ensurePortkey, portkeyDirectHeaders, startPortkey, PORTKEY_OVERRIDES } from './lib/portkey.ts';
import { renderPeers, peersChart, SYSTEM_IDS, type PeersReport, type SystemId, type SystemInfo } from './lib/peers-report.ts';
import { LoadGen, killAll, startMock, startSidecar, treeCpuSeconds, treeRss, type Proc } from './lib/procs.ts';
import { notOk, rounds, type SystemRounds } from './lib/rounds.ts';
import { paired, percentile } from './lib/stats.ts';
import type { JobResult } from './loadgen.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const BENCH = path.join(ROOT, 'bench');

const USAGE = `usage: node bench/peers.ts [options]     (npm run bench:peers -- [options])
  --quick           a short run (fewer rounds, shorter windows): about 3 minutes instead of about 7
  --rounds N        measured rounds for the latency scenario (default 7, quick 3; others use fewer)
  --systems LIST    comma-separated subset of direct,nginx,portkey,airoute (default: all; direct
                    is always measured, every "added" figure needs it)
  --pin MODE        auto (default: the proxy under test on CPU 0, mock upstream and load generator
                    on the others), off, or "proxy=0,upstream=1,loadgen=1"
  --no-build        run bin/airoute.js as it is (default: npm run build first)
  --out DIR         where peers.md, peers.json, peers.svg go (default bench/results)
  --max-minutes N   stop everything after N minutes whatever happens (default 15)
  -h, --help`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    systems: { type: 'string' },
    pin: { type: 'string', default: 'auto' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH, 'results') },
    'max-minutes': { type: 'string', default: '15' },
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
const MAX_MINUTES = Number(flags['max-minutes']);
if (!(MAX_MINUTES > 0)) throw new Error(`--max-minutes: not a positive number: ${flags['max-minutes']}`);
const WANTED = new Set<string>(flags.systems ? ['direct', ...flags.systems.split(',').map((s) => s.trim())] : SYSTEM_IDS);
for (const s of WANTED) if (!(SYSTEM_IDS as readonly string[]).includes(s)) throw new Error(`--systems: unknown system "${s}" (one of ${SYSTEM_IDS.join(', ')})`);

/** Sizes of every scenario: the full run and `--quick`. */
const P = {
  chunks: 64,
  latency: { n: QUICK ? 500 : 2000, warm: QUICK ? 300 : 1000, rounds: ROUNDS },
  // 16 streams at a time, staggered over the interval; enough streams per round (96, quick 48)
  // that a round's p99 is not just its maximum.
  stream: { intervalMs: 20, concurrency: 16, perWorker: QUICK ? 3 : 6, rounds: Math.min(ROUNDS, QUICK ? 2 : 4) },
  rps: { concurrencies: [64, 256], delayMs: 20, warmMs: QUICK ? 300 : 500, durationMs: QUICK ? 1000 : 3000, warmRunMs: QUICK ? 500 : 1000, rounds: Math.min(ROUNDS, QUICK ? 2 : 3) },
  // Long, slow streams so that all 1,000 are open at once without the mock or the load generator
  // (one core between them) being the bottleneck: 2,500 chunks/s at most.
  rss: { streams: 1000, openConcurrency: 200, intervalMs: 400, chunks: QUICK ? 16 : 32, warm: QUICK ? 100 : 300 },
};

// ------------------------------------------------------------------ pinning

const pin = pinning(flags.pin ?? 'auto', 'proxy', 'every proxy');

// ------------------------------------------------------------------ systems

interface System extends SystemInfo {
  target?: Target;
  /** Root of the process tree whose CPU and RSS are the proxy's. */
  pid?: number;
  proc?: Proc;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'airoute-peers-'));
const KEY_ENV = 'AIROUTE_BENCH_KEY';
const nodeBin = projectNode(ROOT);
const EXPECT = canonicalText(P.chunks);
const log = (s: string) => process.stderr.write(`  ${s}\n`);

const systems = new Map<SystemId, System>(
  SYSTEM_IDS.map((id) => [id, { id, label: id, available: false, how: '', ...(WANTED.has(id) ? {} : { why: 'not selected (--systems)' }) }]),
);
let mockOrigin = '';
let nginxPid = 0;
let load: LoadGen;

function alive(s: System): boolean {
  if (!s.available) return false;
  if (!s.proc) return true;
  const c = s.proc.child;
  if (c.exitCode === null && c.signalCode === null) return true;
  s.available = false;
  s.failed = `the process exited during the run (code ${c.exitCode}, signal ${c.signalCode}): ${s.proc.err.text.slice(-400)}`;
  return false;
}

const measured = (): Target[] => SYSTEM_IDS.map((id) => systems.get(id)!).filter(alive).map((s) => s.target!);

async function setMode(mode: Partial<MockMode>): Promise<void> {
  const full: MockMode & { reset: boolean } = { delayMs: 0, chunks: P.chunks, intervalMs: 0, firstGapMs: 0, fault429: 0, faultDrop: 0, dropAt: 0.5, reset: true, ...mode };
  const res = await fetch(`${mockOrigin}/_mock/mode`, { method: 'PUT', body: JSON.stringify(full) });
  if (res.status !== 200) throw new Error(`mock mode: ${res.status}`);
  await res.arrayBuffer();
}

async function setUp(report: PeersReport): Promise<void> {
  // The mock first: every proxy's config names its port.
  const mock = await startMock(path.join(BENCH, 'upstream.ts'), pin.upstream);
  mockOrigin = mock.origin;
  const direct = systems.get('direct')!;
  Object.assign(direct, { available: true, how: 'the load generator sends to the mock upstream itself', target: { name: 'direct', origin: mock.origin, model: 'm' } });

  const nginx = systems.get('nginx')!;
  if (WANTED.has('nginx')) {
    const n = ensureNginx(log);
    if (!n.ok) nginx.why = n.why;
    else
      try {
        const dir = path.join(tmp, 'nginx');
        mkdirSync(dir, { recursive: true });
        const p = await startNginx(
          n.bin,
          dir,
          (port) => `  upstream mock {
    server 127.0.0.1:${mock.port};
    keepalive 1024;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /_airoute_ready { return 200 "ok\\n"; }
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 120s;
      proxy_send_timeout 120s;
    }
  }`,
          pin.proxy,
        );
        nginxPid = p.nginxPid;
        Object.assign(nginx, {
          available: true,
          version: `nginx ${n.version}${n.installed ? ' (installed by this run: apt-get install -y nginx)' : ''}`,
          how: `Debian package, \`nginx -p DIR -c nginx.conf\` in the foreground (daemon off), worker_processes 1, access_log off, proxy_http_version 1.1 with upstream keepalive 1024, proxy_buffering off, proxy_request_buffering off; CPU and RSS are master + worker`,
          target: { name: 'nginx', origin: p.origin, model: 'm' },
          pid: p.nginxPid,
          proc: p,
        });
      } catch (err) {
        nginx.why = `installed (${n.bin}) but could not start: ${(err as Error).message.slice(0, 600)}`;
      }
  }

  const portkey = systems.get('portkey')!;
  const originHeaders: Record<string, Record<string, string>> = {};
  if (WANTED.has('portkey')) {
    const k = ensurePortkey(ROOT, log);
    if (!k.ok) portkey.why = k.why;
    else
      try {
        const p = await startPortkey(nodeBin, k.entry, pin.proxy);
        originHeaders[p.origin] = portkeyDirectHeaders(`${mock.origin}/v1`);
        Object.assign(portkey, {
          available: true,
          version: `@portkey-ai/gateway ${k.version}${k.installed ? ' (installed by this run)' : ''}, @hono/node-server pinned to ${PORTKEY_OVERRIDES['@hono/node-server']}`,
          how: `\`node build/start-server.js --port=N --headless\` on Node ${process.versions.node.split('.')[0]} (project Node), NODE_ENV=production, bound to 127.0.0.1 by a preload (it has no address option); routed per request with \`x-portkey-provider: openai\` and \`x-portkey-custom-host\` (its docs' way for an OpenAI-compatible server)`,
          target: { name: 'portkey', origin: p.origin, model: 'm' },
          pid: p.pid,
          proc: p,
        });
      } catch (err) {
        portkey.why = `installed but could not start: ${(err as Error).message.slice(0, 600)}`;
      }
  }

  const airoute = systems.get('airoute')!;
  if (WANTED.has('airoute')) {
    const built = flags['no-build'] ? undefined : buildSidecar(ROOT, log);
    const stale = staleBuild(ROOT);
    if (built) airoute.why = built;
    else
      try {
        const configFile = path.join(tmp, 'airoute.json');
        writeFileSync(
          configFile,
          JSON.stringify({
            backends: [{ name: 'up', type: 'openai-compatible', baseURL: `${mock.origin}/v1`, apiKey: { env: KEY_ENV } }],
            routes: [{ model: 'bench', backends: [{ backend: 'up', model: 'm' }] }],
          }),
        );
        const p = await startSidecar('airoute', nodeBin, configFile, pin.proxy, {
          cwd: ROOT,
          entry: 'bin/airoute.js',
          // --log-level info is the CLI's default (startSidecar passes warn first; the last one counts).
          extraArgs: ['--log-level', 'info'],
          env: { ...process.env, [KEY_ENV]: 'sk-bench-not-a-real-key', NODE_ENV: 'production' },
        });
        Object.assign(airoute, {
          available: true,
          version: `airoute ${report.meta.commit}${flags['no-build'] ? ' (--no-build)' : ' (npm run build by this run)'}${stale.length ? `; dist/ older than ${stale.length} source file(s)` : ''}`,
          how: '`node bin/airoute.js sidecar --config FILE` (the compiled build, the deployed entry), NODE_ENV=production, log level info (the default), one openai-compatible backend and one route, every other setting at its default (resume prefill, journal in memory, metrics on)',
          target: { name: 'airoute', origin: p.origin, model: 'bench' },
          pid: p.pid,
          proc: p,
        });
      } catch (err) {
        airoute.why = `built but could not start: ${(err as Error).message.slice(0, 600)}`;
      }
  }

  // Idle RSS: every proxy started, nothing sent yet; a second to settle.
  await new Promise((r) => setTimeout(r, 1000));
  for (const s of systems.values()) if (s.available && s.pid) report.figures[s.id].rssIdle = [treeRss(s.pid) / MIB];

  loadgenHeaders = originHeaders;
  load = newLoadGen();
}

let loadgenHeaders: Record<string, Record<string, string>> = {};
/** The load generator, with Portkey's routing headers added to requests to Portkey's origin only (bench/lib/loadgen-headers.ts). */
function newLoadGen(): LoadGen {
  const preload = pathToFileURL(fileURLToPath(new URL('./lib/loadgen-headers.ts', import.meta.url))).href;
  return new LoadGen(path.join(BENCH, 'loadgen.ts'), pin.loadgen, {
    nodeArgs: [`--import=${preload}`],
    env: { ...process.env, AIROUTE_BENCH_ORIGIN_HEADERS: JSON.stringify(loadgenHeaders) },
  });
}

// ------------------------------------------------------------------ scenarios

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
async function rssScenario(report: PeersReport): Promise<void> {
  const r = P.rss;
  for (const t of measured()) {
    const s = systems.get(t.name as SystemId)!;
    if (!s.pid) continue;
    await setMode({});
    await load.run({ kind: 'reset' });
    const warm = await load.run({ kind: 'requests', target: t, stream: true, n: r.warm, concurrency: 8, expectText: EXPECT, maxMs: 60_000 });
    await new Promise((res) => setTimeout(res, 500));
    await setMode({ intervalMs: r.intervalMs, chunks: r.chunks });
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

async function latency(report: PeersReport): Promise<void> {
  await setMode({});
  const res = await rounds(
    () => load,
    measured(),
    P.latency.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: false, n: warm ? P.latency.warm : P.latency.n, concurrency: 1, expectText: EXPECT, maxMs: 180_000 }),
    (r) => ({ lat50: percentile(r.latency, 50), lat99: percentile(r.latency, 99) }),
  );
  keep(report, 'latency', res);
}

async function streamScenario(report: PeersReport): Promise<void> {
  const iv = P.stream.intervalMs;
  const c = P.stream.concurrency;
  await setMode({ intervalMs: iv });
  const res = await rounds(
    () => load,
    measured(),
    P.stream.rounds,
    (t, warm) => ({ kind: 'requests', target: t, stream: true, n: warm ? c : c * P.stream.perWorker, concurrency: c, staggerMs: iv / c, expectText: EXPECT, maxMs: 120_000 }),
    (r) => ({
      ttft50: percentile(r.ttft, 50),
      ttft99: percentile(r.ttft, 99),
      gap99: percentile(r.gaps, 99) * 1000,
      dev99: percentile(r.gapDev, 99) * 1000,
      stalls: r.gaps.filter((g) => g > 10 * iv).length,
      gapMax: Math.max(0, ...r.gaps),
    }),
  );
  keep(report, 'stream', res);
}

async function rps(report: PeersReport): Promise<void> {
  for (const c of P.rps.concurrencies) {
    await setMode({ delayMs: P.rps.delayMs });
    let cpu0 = 0;
    const cpu: Partial<Record<SystemId, number[]>> = {};
    const res = await rounds(
      () => load,
      measured(),
      P.rps.rounds,
      (t, warm) => ({ kind: 'rate', target: t, stream: false, concurrency: c, warmMs: warm ? 0 : P.rps.warmMs, durationMs: warm ? P.rps.warmRunMs : P.rps.durationMs, expectText: EXPECT }),
      (r) => ({ [`rps${c}`]: r.rps ?? Number.NaN, [`p99at${c}`]: percentile(r.latency, 99) }),
      {
        before: (t) => {
          const pid = systems.get(t.name as SystemId)!.pid;
          if (pid) cpu0 = treeCpuSeconds(pid);
        },
        after: (t, r) => {
          const pid = systems.get(t.name as SystemId)!.pid;
          if (pid && r.completed) (cpu[t.name as SystemId] ??= []).push(((treeCpuSeconds(pid) - cpu0) / r.completed) * 10_000);
        },
      },
    );
    keep(report, `rps c=${c}`, res);
    for (const [id, xs] of Object.entries(cpu)) report.figures[id as SystemId][`cpu10k${c}`] = xs;
  }
}

const SCENARIOS: { id: string; title: string; run: (r: PeersReport) => Promise<void> }[] = [
  // First, on fresh processes (as in bench/run.ts): what 1,000 open streams cost in memory.
  { id: 'rss', title: 'RSS with 1,000 open streams', run: rssScenario },
  { id: 'latency', title: 'added latency, non-stream, c=1', run: latency },
  { id: 'stream', title: 'TTFT and inter-chunk gaps, 64 chunks at 20 ms', run: streamScenario },
  { id: 'rps', title: 'requests/s at c=64 and c=256, 20 ms upstream; CPU per 10,000 requests', run: rps },
];

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const started = Date.now();
  const report: PeersReport = {
    meta: runMeta(ROOT),
    quick: QUICK,
    pinning: pin.text,
    params: P,
    systems: [],
    figures: { direct: {}, nginx: {}, portkey: {}, airoute: {} },
    added: { direct: {}, nginx: {}, portkey: {}, airoute: {} },
    errors: {},
    notes: [],
    failures: [],
    raw: { rss: {} },
    elapsedS: 0,
  };
  const cores = report.meta.machine.cores;
  const load1 = os.loadavg()[0] ?? 0;
  if (load1 > 0.25 * cores) report.notes.push(`The machine was busy when the run started (load average ${load1.toFixed(2)} on ${cores} cores): other processes share the cores, so these figures are noisy.`);
  if (cores <= 2)
    report.notes.push(
      `This machine has ${cores} cores: the proxy under test has CPU 0 to itself only as far as other work on the machine allows, and the mock upstream and the load generator share the other core. Absolute figures are those of this setup; the comparison is fair because every system meets the same client, upstream and core.`,
    );
  console.error(`airoute bench:peers: ${QUICK ? 'quick' : 'full'} run; ${cores} cores; pinning: ${pin.text}`);
  await setUp(report);
  for (const s of systems.values()) console.error(`  ${s.id}: ${s.available ? `ready${s.version ? ` (${s.version})` : ''}` : `NOT RUN: ${s.why}`}`);
  for (const sc of SCENARIOS) {
    if (stop.requested) break;
    const t0 = Date.now();
    process.stderr.write(`  ${sc.id}: ${sc.title} ... `);
    try {
      await sc.run(report);
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      report.failures.push(`${sc.id}: ${(err as Error).stack ?? String(err)}`);
      process.stderr.write(`FAILED (${(err as Error).message.split('\n')[0]})\n`);
      // A dead load generator fails only its scenario.
      const c = load.proc.child;
      if (c.exitCode !== null || c.signalCode !== null) {
        report.notes.push(`The load generator exited during ${sc.id} and was restarted: ${load.proc.err.text.slice(-400)}`);
        load = newLoadGen();
      }
    }
    for (const s of systems.values()) alive(s);
  }
  if (systems.get('portkey')!.available)
    report.notes.push(
      "Portkey 1.15.2's stream handler holds back the first chunk of every stream for 25 ms (a `setTimeout(…, 25)` before it forwards the first event, in build/start-server.js); that is most of its added TTFT.",
    );
  for (const s of systems.values()) {
    alive(s);
    report.systems.push({ id: s.id, label: s.label, available: s.available || s.failed !== undefined, how: s.how, ...(s.version ? { version: s.version } : {}), ...(s.why ? { why: s.why } : {}), ...(s.failed ? { failed: s.failed } : {}) });
  }
  finishMeta(report.meta);
  report.elapsedS = Math.round((Date.now() - started) / 100) / 10;
  if (stop.requested) return;
  const md = renderPeers(report);
  mkdirSync(flags.out!, { recursive: true });
  writeFileSync(path.join(flags.out!, 'peers.md'), md);
  writeFileSync(path.join(flags.out!, 'peers.json'), `${JSON.stringify(report, null, 1)}\n`);
  try {
    writeFileSync(path.join(flags.out!, 'peers.svg'), await peersChart(report));
  } catch (err) {
    console.error(`chart: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  process.stdout.write(md);
  console.error(`written: ${path.relative(process.cwd(), path.join(flags.out!, 'peers.md'))}, peers.json, peers.svg (${report.elapsedS} s)`);
  const errors = Object.values(report.errors).some((e) => e && (e.notOk > 0 || e.stalls > 0));
  if (errors || report.failures.length || report.systems.some((s) => s.failed)) process.exitCode = 1;
}

const stop: StopSignal = { requested: false };
const cleanup = async () => {
  await killAll();
  killNginxGroup(nginxPid);
  rmSync(tmp, { recursive: true, force: true });
};
guardedRun('bench:peers', { maxMinutes: MAX_MINUTES, stop, cleanup, main });
