// What every benchmark entry point shares: where processes are pinned, and a run that is bounded
// in time and cleans up its children whatever ends it (done, error, timeout, Ctrl-C).
import os from 'node:os';
import { hasTaskset } from './procs.ts';

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

/** Set once the run must stop early; long loops check it between steps. */
export interface StopSignal {
  requested: boolean;
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
