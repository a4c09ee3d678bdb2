// `npm run bench`: direct vs through the sidecar, in one run, alternating rounds after a
// warm-up. Three processes besides this one: a mock OpenAI-compatible upstream
// (bench/upstream.ts), the sidecar by its CLI contract, and a load generator (bench/loadgen.ts).
// Each figure is the median of the per-round figures, with the spread (min..max) beside it;
// "added" is the median of the per-round differences (sidecar minus direct, same round).
//
//   node bench/run.ts [--quick] [--rounds N] [--only a,b,...] [--pin auto|off|SPEC] ... (--help)
//
// This file opens the harness and runs the scenarios; each scenario is a module of
// bench/scenarios/. See bench/README.md for the scenarios, the method and how to add one.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ENTRY_FILE, KEY_ENV, startAiroute, writeConfig, type SidecarEntry } from './lib/airoute.ts';
import { MIB } from './lib/common.ts';
import { BENCH, RESULTS, ROOT, busyNote, listFlag, minutesFlag, openHarness, pinning, reviveLoadGen, roundsFlag, runScenarios, writeResults, type Harness } from './lib/harness.ts';
import { staleBuild } from './lib/meta.ts';
import { LoadGen, cpuSeconds, rss, startMock, type SidecarProc } from './lib/procs.ts';
import { addResult, finishReport, newReport, renderMarkdown, type Report } from './lib/report.ts';
import type { Ctx } from './scenarios/context.ts';
import { SCENARIOS, SCENARIO_IDS } from './scenarios/index.ts';
import { params } from './scenarios/params.ts';
import { sidecarConfig, type Variant } from './scenarios/sidecar.ts';

const USAGE = `usage: node bench/run.ts [options]     (npm run bench -- [options])
  --quick           about a minute: fewer rounds, shorter windows (default run: about 4 minutes)
  --rounds N        measured rounds per scenario (default 7, quick 3; some scenarios use fewer)
  --only LIST       comma-separated scenarios: ${SCENARIO_IDS.join(',')}
                    (default: all; e.g. --only rps runs that one alone)
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
    out: { type: 'string', default: RESULTS },
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
const ROUNDS = roundsFlag(flags.rounds, QUICK);
const MAX_MINUTES = minutesFlag(flags['max-minutes']);
const ONLY = listFlag('--only', flags.only, SCENARIO_IDS);
if (flags['sidecar-entry'] !== 'ts' && flags['sidecar-entry'] !== 'dist') throw new Error('--sidecar-entry: ts or dist');
const ENTRY: SidecarEntry = flags['sidecar-entry'];
const P = params(QUICK, ROUNDS);
const pin = pinning(flags.pin ?? 'auto', 'sidecar', 'sidecar');

/** A sidecar with the run's flags (entry, Node options, log file), on the run's CPU. */
function newSidecar(h: Harness, configFile: string, name = 'sidecar', v?: Variant): Promise<SidecarProc> {
  return startAiroute(h.nodeBin, configFile, {
    name,
    entry: ENTRY,
    cpus: pin.sidecar,
    nodeArgs: (flags['sidecar-node-args'] ?? '').split(/\s+/).filter(Boolean),
    ...(flags['sidecar-log'] ? { logFile: path.resolve(flags['sidecar-log']) } : {}),
    ...(v?.env ? { env: v.env } : {}),
    ...(v?.args ? { extraArgs: v.args } : {}),
  });
}

/** Notes on how far the figures can be trusted, from what the run knows before it starts. */
function setupNotes(report: Report): void {
  const cores = report.machine.cores;
  if (ENTRY === 'dist') {
    const stale = staleBuild(ROOT);
    if (stale.length) report.notes.push(`--sidecar-entry=dist: dist/ is older than ${stale.length} source file(s) (e.g. ${stale.slice(0, 3).join(', ')}): run npm run build first, or these figures are for old code.`);
  } else
    report.notes.push(
      "The sidecar ran from its TypeScript sources (node cli/airoute.ts): Node's type stripper costs it about 35 MiB of RSS and some start-up time that the deployed build (bin/airoute.js, --sidecar-entry=dist) does not have.",
    );
  const busy = busyNote(cores, pin.sidecar ? ', and a pinned sidecar cannot move away from them (--pin off lets the scheduler do that)' : '');
  if (busy) {
    report.notes.push(busy);
    console.error(`warning: ${busy}`);
  }
  if (cores <= 2)
    report.notes.push(
      `This machine has ${cores} cores: the load generator, the mock upstream and the sidecar share them, so every through-the-sidecar figure includes CPU contention that a real pod (app and sidecar on their own cores, the provider remote) would not have.`,
    );
}

/** The main sidecar's state at the end: its log's head and tail, and its RSS after serving every scenario. */
function endOfRun(ctx: Ctx, report: Report): void {
  // The sidecar logs failed requests at warn: the tail helps explain a bad figure.
  report.raw.sidecarLog = { head: ctx.sidecar.out.head.slice(0, 4000).split('\n'), tail: ctx.sidecar.out.text.slice(-4000).split('\n') };
  if (ctx.sidecar.child.exitCode !== null) return;
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

openHarness({ name: 'bench', tmpName: 'bench', maxMinutes: MAX_MINUTES }, async (h) => {
  const started = Date.now();
  const report = newReport({ root: ROOT, nodeBin: h.nodeBin, pinning: pin.text, sidecarEntry: ENTRY_FILE[ENTRY], quick: QUICK, rounds: ROUNDS, params: P });
  setupNotes(report);
  // The opening every scenario shares: mock upstream, load generator, main sidecar.
  const mock = await startMock(path.join(BENCH, 'upstream.ts'), pin.upstream);
  const configFile = path.join(h.tmp, 'sidecar.yaml');
  writeConfig(configFile, sidecarConfig(mock.origin, KEY_ENV));
  const newLoadGen = () => new LoadGen(path.join(BENCH, 'loadgen.ts'), pin.loadgen);
  let variants = 0;
  const ctx: Ctx = {
    params: P,
    quick: QUICK,
    rounds: ROUNDS,
    mock: { origin: mock.origin, pid: mock.pid },
    load: newLoadGen(),
    sidecar: await newSidecar(h, configFile),
    startVariant: (v) => {
      const file = path.join(h.tmp, `sidecar-${++variants}.yaml`);
      writeConfig(file, sidecarConfig(mock.origin, KEY_ENV, v));
      return newSidecar(h, file, `sidecar (${v.name})`, v);
    },
    note: (text) => report.notes.push(text),
  };
  console.error(`airoute bench: ${QUICK ? 'quick' : 'full'} run, ${ROUNDS} rounds; ${os.availableParallelism()} cores; pinning: ${pin.text}`);
  await runScenarios(
    SCENARIOS.filter((s) => !ONLY || ONLY.has(s.id)),
    h.stop,
    async (s) => {
      // A sidecar or load generator that died in one scenario is restarted for the next (the mock
      // upstream is not: its port is in the config), and the report says so.
      const c = ctx.sidecar.child;
      if (c.exitCode !== null || c.signalCode !== null) {
        ctx.note(`The sidecar exited (code ${c.exitCode}, signal ${c.signalCode}) and was restarted. Its stderr: ${ctx.sidecar.err.text.slice(-500)}`);
        ctx.sidecar = await newSidecar(h, configFile);
      }
      const lg = reviveLoadGen(ctx.load, newLoadGen);
      ctx.load = lg.load;
      if (lg.note) ctx.note(lg.note);
      addResult(report, s.id, await s.run(ctx));
    },
    (s, err) => report.errors.push(`${s.id}: ${err.stack ?? String(err)}`),
  );
  endOfRun(ctx, report);
  finishReport(report, started);
  // Interrupted: the results are partial and must not replace the last complete ones.
  if (h.stop.requested) return;
  const md = renderMarkdown(report);
  const written = writeResults(flags.out!, { 'latest.md': md, 'latest.json': `${JSON.stringify(report, null, 1)}\n` });
  process.stdout.write(md);
  console.error(`written: ${written}, latest.json (${report.elapsedS} s)`);
  if (report.errors.length) process.exitCode = 1;
});
