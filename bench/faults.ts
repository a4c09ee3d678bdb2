// `npm run bench:faults`: the failure-conduct scorecard. Scripted mock upstreams
// (bench/lib/fault-upstream.ts) misbehave in failoverbench's sixteen scenarios; each system is
// configured with the fallback it can express and runs every scenario, in two shapes: isolated
// (a primary and a fallback host per scenario, nothing carries over) and shared (one host serving
// every scenario as different models, the fallback another model on it, all scenarios back to back
// in one process). After every scenario a healthy request on another route checks that nothing
// was left behind. A verdict per cell is derived from what was observed (the client's transcript,
// the requests each upstream logged and when), by the rules in bench/lib/faults-judge.ts, which
// the output prints.
//   direct   the client talks to the primary: no fallback
//   nginx    proxy_next_upstream to a backup server (a replica of the same model: nginx cannot
//            rename the model), passive health (max_fails=1 fail_timeout=1s); isolated shape only
//   portkey  Portkey's fallback strategy over two targets, retries on the primary
//   airoute  a route with the primary and the fallback target
//
//   node bench/faults.ts [--quick] [--only id,id] [--systems a,b] [--shapes isolated,shared] ... (--help)
//
// This file opens the harness and runs the cells. The scenarios are bench/lib/faults-scenarios.ts,
// the systems and their configs bench/lib/faults-systems.ts, one cell bench/lib/faults-cell.ts,
// the output bench/lib/faults-report.ts. Results: bench/results/faults.md, faults.json. See bench/README.md.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareDist } from './lib/airoute.ts';
import { runCell } from './lib/faults-cell.ts';
import { ANSWER, FAULT_SYSTEMS, RULES, SHAPES, VERDICTS, type Shape } from './lib/faults-judge.ts';
import { render, type FaultsReport } from './lib/faults-report.ts';
import { scenarios } from './lib/faults-scenarios.ts';
import { CONDUCT, openFaultSystems, type ShapeMocks, type SystemState } from './lib/faults-systems.ts';
import { BENCH, RESULTS, ROOT, listFlag, minutesFlag, openHarness, writeResults } from './lib/harness.ts';
import { finishMeta, runMeta } from './lib/meta.ts';
import { startMock } from './lib/procs.ts';

const USAGE = `usage: node bench/faults.ts [options]     (npm run bench:faults -- [options])
  --quick           shorter limits and a shorter outage scenario (about 3 minutes instead of about 5)
  --only LIST       comma-separated scenario ids (default: all; see the table in faults.md)
  --systems LIST    comma-separated subset of direct,nginx,portkey,airoute (default: all)
  --shapes LIST     comma-separated subset of isolated,shared (default: both)
  --no-build        run bin/airoute.js as it is (default: npm run build first)
  --out DIR         where faults.md and faults.json go (default bench/results)
  --max-minutes N   stop everything after N minutes whatever happens (default 20)
  -h, --help`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    systems: { type: 'string' },
    shapes: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: RESULTS },
    'max-minutes': { type: 'string', default: '20' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const QUICK = flags.quick === true;
const MAX_MINUTES = minutesFlag(flags['max-minutes']);
const ALL_SCENARIOS = scenarios(QUICK);
const ONLY = listFlag('--only', flags.only, ALL_SCENARIOS.map((s) => s.id));
const SCENARIOS = ALL_SCENARIOS.filter((s) => !ONLY || ONLY.has(s.id));
const WANTED = listFlag('--systems', flags.systems, FAULT_SYSTEMS, 'system') ?? new Set<string>(FAULT_SYSTEMS);
const WANTED_SHAPES = listFlag('--shapes', flags.shapes, SHAPES, 'shape') ?? new Set<string>(SHAPES);
const RUN_SHAPES = SHAPES.filter((s) => WANTED_SHAPES.has(s));

/** The client gives up on a request after this long: a longer wait is a hang. */
const LIMIT_MS = QUICK ? 8000 : 10_000;

openHarness({ name: 'bench:faults', tmpName: 'faults', maxMinutes: MAX_MINUTES }, async (h) => {
  const started = Date.now();
  const report: FaultsReport = {
    meta: runMeta(ROOT),
    quick: QUICK,
    limitMs: LIMIT_MS,
    answer: ANSWER,
    conduct: CONDUCT,
    shapes: RUN_SHAPES,
    systems: [],
    scenarios: SCENARIOS.map((s) => ({ id: s.id, title: s.title, setup: s.setup, passMeans: s.passMeans })),
    rules: RULES,
    verdicts: VERDICTS,
    cells: [],
    notes: [],
    elapsedS: 0,
  };
  console.error(`airoute bench:faults: ${SCENARIOS.length} scenarios x ${RUN_SHAPES.join(', ')}; client limit ${LIMIT_MS / 1000} s`);
  const dist = WANTED.has('airoute') ? prepareDist(flags['no-build'] === true, report.meta.commit, h.log) : undefined;
  const opened: SystemState[] = [];
  // Shapes run one after the other, each with every scenario back to back: nothing of the other
  // shape runs in between, so a cool-down never hides what the shared shape carries over.
  for (const shape of RUN_SHAPES) {
    if (h.stop.requested) break;
    const mocks = await openMocks(shape);
    const systems = await openFaultSystems(h, {
      wanted: WANTED,
      scenarios: SCENARIOS,
      limitMs: LIMIT_MS,
      shape,
      mocks,
      noBuild: flags['no-build'] === true,
      commit: report.meta.commit,
      ...(dist ? { dist } : {}),
      reuse: opened,
    });
    opened.push(...systems);
    console.error(`  ${shape}:`);
    for (const s of systems) console.error(`    ${s.id}: ${s.available ? `ready${s.version ? ` (${s.version})` : ''}` : `NOT RUN: ${s.why}`}`);
    const run = { limitMs: LIMIT_MS, shape, mocks: { primary: mocks.primary.origin, fallback: mocks.fallback.origin } };
    for (const sc of SCENARIOS) {
      if (h.stop.requested) break;
      process.stderr.write(`    ${sc.id}:`);
      for (const sys of systems) {
        if (!sys.available || h.stop.requested) continue;
        const c = sys.proc?.child;
        if (c && (c.exitCode !== null || c.signalCode !== null)) {
          sys.available = false;
          sys.why = `exited during the run (code ${c.exitCode}, signal ${c.signalCode}): ${sys.proc!.err.text.slice(-400)}`;
          report.notes.push(`${sys.id} (${shape}) ${sys.why}`);
          continue;
        }
        try {
          const cell = await runCell(sys, sc, run);
          report.cells.push(cell);
          process.stderr.write(` ${sys.id} ${cell.verdict}`);
        } catch (err) {
          report.notes.push(`${sc.id}, ${sys.id} (${shape}): the cell could not run: ${(err as Error).message}`);
          process.stderr.write(` ${sys.id} ERROR`);
        }
      }
      process.stderr.write('\n');
    }
  }
  report.systems = opened.map(({ proc: _p, ...rest }) => rest);
  report.notes.push(
    'Verdicts are as observed in this run, on a shared 2-core machine; timing-dependent rules (Retry-After, outage counts) have tolerances (50 ms; the outage window is counted from when the scripts were set).',
  );
  finishMeta(report.meta);
  report.elapsedS = Math.round((Date.now() - started) / 100) / 10;
  if (h.stop.requested) return;
  const md = render(report);
  const written = writeResults(flags.out!, { 'faults.md': md, 'faults.json': `${JSON.stringify(report, null, 1)}\n` });
  process.stdout.write(md);
  console.error(`written: ${written}, faults.json (${report.elapsedS} s)`);
  // The scorecard's own goal: airoute passes every scenario in every shape (a fallback exists in all of them).
  if (report.cells.some((c) => c.system === 'airoute' && c.verdict !== 'pass') || opened.some((s) => s.id === 'airoute' && !s.available)) process.exitCode = 1;
});

/** Isolated: a primary and a fallback host; shared: one host serving both (and every scenario). */
async function openMocks(shape: Shape): Promise<ShapeMocks> {
  const script = path.join(BENCH, 'lib', 'fault-upstream.ts');
  const primary = await startMock(script, undefined);
  return { primary, fallback: shape === 'isolated' ? await startMock(script, undefined) : primary };
}
