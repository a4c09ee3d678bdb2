// What every benchmark entry point shares: where the repository is, the flags they all have, where
// processes are pinned, a run that is bounded in time and cleans up its children whatever ends it
// (done, error, timeout, Ctrl-C), the scenario loop, and writing the results.
//
//   openHarness({ name, tmpName, maxMinutes }, async (h) => { ...start processes, run scenarios... })
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectNode } from './meta.ts';
import { hasTaskset, killAll, type LoadGen } from './procs.ts';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BENCH = path.join(ROOT, 'bench');
export const RESULTS = path.join(BENCH, 'results');

// ------------------------------------------------------------------ flags

/** `--rounds N` (at least 1), else the default for a full or a quick run. */
export function roundsFlag(value: string | undefined, quick: boolean): number {
  const n = value ? Math.max(1, Math.floor(Number(value))) : quick ? 3 : 7;
  if (!Number.isFinite(n)) throw new Error(`--rounds: not a number: ${value}`);
  return n;
}

/** `--max-minutes N`: a positive number. */
export function minutesFlag(value: string | undefined): number {
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--max-minutes: not a positive number: ${value}`);
  return n;
}

/** A comma-separated list (`--only`, `--systems`), each item one of `known`; undefined when not given. */
export function listFlag(flag: string, value: string | undefined, known: readonly string[], what = 'scenario'): Set<string> | undefined {
  if (!value) return undefined;
  const items = new Set(value.split(',').map((s) => s.trim()));
  for (const s of items) if (!known.includes(s)) throw new Error(`${flag}: unknown ${what} "${s}" (one of ${known.join(', ')})`);
  return items;
}

// ------------------------------------------------------------------ pinning

export type Pinning<K extends string> = Partial<Record<K | 'upstream' | 'loadgen', string>> & { text: string };

/**
 * `--pin auto|off|KEY=CPUS,upstream=CPUS,loadgen=CPUS`. `auto`: the measured process on CPU 0, the
 * mock upstream and the load generator on the others, so they never take the measured one's core.
 */
export function pinning<K extends string>(mode: string, key: K, label: string): Pinning<K> {
  const cores = os.availableParallelism();
  const none = (why: string) => ({ text: `none (${why})` }) as Pinning<K>;
  if (mode === 'off') return none('the scheduler places every process');
  if (!hasTaskset()) return none('taskset is not available');
  const p = { text: `taskset: ${mode}` } as Pinning<K>;
  const set = (k: string, v: string) => ((p as Record<string, string>)[k] = v);
  if (mode === 'auto') {
    if (cores < 2) return none('one core');
    const rest = cores === 2 ? '1' : `1-${cores - 1}`;
    set(key, '0');
    set('upstream', rest);
    set('loadgen', rest);
    p.text = `taskset: ${label} on CPU 0, mock upstream and load generator on CPU ${rest}`;
    return p;
  }
  for (const part of mode.split(',')) {
    const [k, v] = part.split('=');
    if ((k !== key && k !== 'upstream' && k !== 'loadgen') || !v) throw new Error(`--pin: cannot read "${part}" (want ${key}=CPUS,upstream=CPUS,loadgen=CPUS)`);
    set(k, v);
  }
  return p;
}

// ------------------------------------------------------------------ the run

/** Set once the run must stop early; long loops check it between steps. */
export interface StopSignal {
  requested: boolean;
}

/** What a benchmark's main function gets: the run's temp dir, its stop signal, and its clean-up. */
export interface Harness {
  /** A temp dir of this run's own (configs, nginx's files), removed at the end. */
  readonly tmp: string;
  readonly stop: StopSignal;
  /** The project's Node (Node 24) for every process the benchmark measures. */
  readonly nodeBin: string;
  /** A progress line on stderr, indented under the run's heading. */
  log(line: string): void;
  /** Runs at the end, after every child process is killed (e.g. nginx's whole process group). */
  onCleanup(fn: () => void): void;
}

/**
 * Runs `main` with a harness, bounded by `maxMinutes`; on timeout, SIGINT or SIGTERM it stops
 * (`h.stop.requested`; no results may be written then), and in every case every child process is
 * killed and the temp dir removed.
 */
export function openHarness(o: { name: string; tmpName: string; maxMinutes: number }, main: (h: Harness) => Promise<void>): void {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `airoute-${o.tmpName}-`));
  const stop: StopSignal = { requested: false };
  const atEnd: (() => void)[] = [];
  const h: Harness = {
    tmp,
    stop,
    nodeBin: projectNode(ROOT),
    log: (line) => process.stderr.write(`  ${line}\n`),
    onCleanup: (fn) => atEnd.push(fn),
  };
  const cleanup = async () => {
    await killAll();
    for (const fn of atEnd) fn();
    rmSync(tmp, { recursive: true, force: true });
  };
  guardedRun(o.name, { maxMinutes: o.maxMinutes, stop, cleanup, main: () => main(h) });
}

/**
 * Runs `main`, bounded by `maxMinutes`; on timeout, SIGINT or SIGTERM it stops (no results are
 * written) and `cleanup` runs in every case.
 */
export function guardedRun(name: string, o: { maxMinutes: number; stop: StopSignal; cleanup: () => Promise<void>; main: () => Promise<void> }): void {
  setTimeout(
    () => {
      o.stop.requested = true;
      console.error(`\n${name}: still running after ${o.maxMinutes} minutes; stopping`);
      void o.cleanup().finally(() => process.exit(1));
    },
    o.maxMinutes * 60_000,
  ).unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      o.stop.requested = true;
      console.error(`\n${sig}: stopping (no results written)`);
      void o.cleanup().finally(() => process.exit(130));
    });
  o.main()
    .catch((err: unknown) => {
      console.error(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      process.exitCode = 1;
    })
    .finally(o.cleanup);
}

// ------------------------------------------------------------------ scenarios

/**
 * Runs each scenario in turn with its progress on stderr (`  id: title ... 12.3 s`). A scenario
 * that throws is reported through `failed` and the next one runs; after a stop none starts.
 */
export async function runScenarios<S extends { id: string; title: string }>(list: readonly S[], stop: StopSignal, run: (s: S) => Promise<void>, failed: (s: S, err: Error) => void): Promise<void> {
  for (const s of list) {
    if (stop.requested) break;
    const t0 = Date.now();
    process.stderr.write(`  ${s.id}: ${s.title} ... `);
    try {
      await run(s);
      process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      failed(s, err as Error);
      process.stderr.write(`FAILED (${(err as Error).message.split('\n')[0]})\n`);
    }
  }
}

/** The load generator, replaced when it has exited (its per-origin counts carried over); the note says so. */
export function reviveLoadGen(load: LoadGen, make: () => LoadGen): { load: LoadGen; note?: string } {
  const c = load.proc.child;
  if (c.exitCode === null && c.signalCode === null) return { load };
  const fresh = make();
  for (const [k, v] of load.served) fresh.served.set(k, v);
  return { load: fresh, note: `The load generator exited (code ${c.exitCode}, signal ${c.signalCode}) and was restarted. Its stderr: ${load.proc.err.text.slice(-500)}` };
}

// ------------------------------------------------------------------ notes and results

/** The note for a run that starts on a busy machine (load average over a quarter of the cores), else undefined. */
export function busyNote(cores: number, more = ''): string | undefined {
  const load1 = os.loadavg()[0] ?? 0;
  if (load1 <= 0.25 * cores) return undefined;
  return `The machine was busy when the run started (load average ${load1.toFixed(2)} on ${cores} cores): other processes share the cores, so these figures are noisy${more}.`;
}

/** Writes `files` (name → text) into `dir`; returns the first one's path relative to the working directory. */
export function writeResults(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return path.relative(process.cwd(), path.join(dir, Object.keys(files)[0] ?? ''));
}
