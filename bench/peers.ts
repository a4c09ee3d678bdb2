// `npm run bench:peers`: airoute next to what users would pick instead, in one run. One
// deterministic mock upstream (bench/upstream.ts), one load generator (bench/loadgen.ts) on a
// fixed core set, and these systems in turn, alternating rounds after a warm-up:
//   direct   the load generator talks to the mock itself (the baseline)
//   nginx    Debian's nginx as a plain reverse proxy (installed with apt-get if missing)
//   portkey  Portkey's open-source gateway, @portkey-ai/gateway from npm (into .tools/portkey)
//   airoute  the sidecar, compiled (`npm run build`), run as `node bin/airoute.js sidecar`
// A peer that cannot be installed or started is reported with the reason; nothing is estimated.
//
//   node bench/peers.ts [--quick] [--rounds N] [--only a,b] [--systems a,b] [--pin auto|off|SPEC] ... (--help)
//
// This file opens the harness; the systems are bench/lib/peers-systems.ts, the scenarios
// bench/lib/peers-scenarios.ts. Results: bench/results/peers.md, peers.json, peers.svg. See bench/README.md.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH, RESULTS, ROOT, busyNote, listFlag, minutesFlag, openHarness, pinning, reviveLoadGen, roundsFlag, runScenarios, writeResults } from './lib/harness.ts';
import { finishMeta, runMeta } from './lib/meta.ts';
import { renderPeers, peersChart, SYSTEM_IDS, type PeersReport } from './lib/peers-report.ts';
import { PEERS_SCENARIOS, PEERS_SCENARIO_IDS, peersParams, type PeersCtx } from './lib/peers-scenarios.ts';
import { alive, openPeers } from './lib/peers-systems.ts';
import { startMock } from './lib/procs.ts';

const USAGE = `usage: node bench/peers.ts [options]     (npm run bench:peers -- [options])
  --quick           a short run (fewer rounds, shorter windows): about 3 minutes instead of about 7
  --rounds N        measured rounds for the latency scenario (default 7, quick 3; others use fewer)
  --only LIST       comma-separated scenarios: ${PEERS_SCENARIO_IDS.join(',')} (default: all)
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
    only: { type: 'string' },
    systems: { type: 'string' },
    pin: { type: 'string', default: 'auto' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: RESULTS },
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
const ROUNDS = roundsFlag(flags.rounds, QUICK);
const MAX_MINUTES = minutesFlag(flags['max-minutes']);
const ONLY = listFlag('--only', flags.only, PEERS_SCENARIO_IDS);
const WANTED = new Set<string>(['direct', ...(listFlag('--systems', flags.systems, SYSTEM_IDS, 'system') ?? SYSTEM_IDS)]);
const P = peersParams(QUICK, ROUNDS);
const pin = pinning(flags.pin ?? 'auto', 'proxy', 'every proxy');

openHarness({ name: 'bench:peers', tmpName: 'peers', maxMinutes: MAX_MINUTES }, async (h) => {
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
  const busy = busyNote(cores);
  if (busy) report.notes.push(busy);
  if (cores <= 2)
    report.notes.push(
      `This machine has ${cores} cores: the proxy under test has CPU 0 to itself only as far as other work on the machine allows, and the mock upstream and the load generator share the other core. Absolute figures are those of this setup; the comparison is fair because every system meets the same client, upstream and core.`,
    );
  console.error(`airoute bench:peers: ${QUICK ? 'quick' : 'full'} run; ${cores} cores; pinning: ${pin.text}`);
  // The opening every scenario shares: the mock first (every proxy's config names its port), then the systems, then the load generator.
  const mock = await startMock(path.join(BENCH, 'upstream.ts'), pin.upstream);
  const systems = await openPeers(h, report, { wanted: WANTED, mock, cpus: { proxy: pin.proxy, loadgen: pin.loadgen }, noBuild: flags['no-build'] === true });
  const ctx: PeersCtx = { params: P, report, mockOrigin: mock.origin, systems, load: systems.newLoadGen() };
  for (const s of systems.all()) console.error(`  ${s.id}: ${s.available ? `ready${s.version ? ` (${s.version})` : ''}` : `NOT RUN: ${s.why}`}`);
  await runScenarios(
    PEERS_SCENARIOS.filter((s) => !ONLY || ONLY.has(s.id)),
    h.stop,
    async (s) => {
      // A dead load generator fails only its scenario.
      const lg = reviveLoadGen(ctx.load, systems.newLoadGen);
      ctx.load = lg.load;
      if (lg.note) report.notes.push(lg.note);
      try {
        await s.run(ctx);
      } finally {
        for (const x of systems.all()) alive(x);
      }
    },
    (s, err) => report.failures.push(`${s.id}: ${err.stack ?? String(err)}`),
  );
  if (systems.get('portkey').available)
    report.notes.push(
      "Portkey 1.15.2's stream handler holds back the first chunk of every stream for 25 ms (a `setTimeout(…, 25)` before it forwards the first event, in build/start-server.js); that is most of its added TTFT.",
    );
  for (const s of systems.all()) {
    alive(s);
    report.systems.push({ id: s.id, label: s.label, available: s.available || s.failed !== undefined, how: s.how, ...(s.version ? { version: s.version } : {}), ...(s.why ? { why: s.why } : {}), ...(s.failed ? { failed: s.failed } : {}) });
  }
  finishMeta(report.meta);
  report.elapsedS = Math.round((Date.now() - started) / 100) / 10;
  if (h.stop.requested) return;
  const md = renderPeers(report);
  let chart = '';
  try {
    chart = await peersChart(report);
  } catch (err) {
    console.error(`chart: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  const written = writeResults(flags.out!, { 'peers.md': md, 'peers.json': `${JSON.stringify(report, null, 1)}\n`, ...(chart ? { 'peers.svg': chart } : {}) });
  process.stdout.write(md);
  console.error(`written: ${written}, peers.json, peers.svg (${report.elapsedS} s)`);
  const errors = Object.values(report.errors).some((e) => e && (e.notOk > 0 || e.stalls > 0));
  if (errors || report.failures.length || report.systems.some((s) => s.failed)) process.exitCode = 1;
});
