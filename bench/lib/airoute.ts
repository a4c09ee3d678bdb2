// The airoute sidecar as every benchmark starts it: by its CLI contract (bench/lib/procs.ts's
// startSidecar), from its TypeScript sources or from the compiled build that is deployed, with a
// config file of the benchmark's own and a fake API key in the environment.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { ROOT } from './harness.ts';
import { buildSidecar, staleBuild } from './meta.ts';
import { startSidecar, type SidecarProc } from './procs.ts';

/** The environment variable the configs name for the backends' API key (`apiKey: {env: KEY_ENV}`). */
export const KEY_ENV = 'AIROUTE_BENCH_KEY';

/** `ts`: `node cli/airoute.ts` (type stripping); `dist`: `node bin/airoute.js`, the compiled build. */
export type SidecarEntry = 'ts' | 'dist';
export const ENTRY_FILE: Record<SidecarEntry, string> = { ts: 'cli/airoute.ts', dist: 'bin/airoute.js' };

export interface AirouteOptions {
  /** Its name in error messages (default `sidecar`). */
  name?: string;
  entry: SidecarEntry;
  cpus?: string | undefined;
  /** Node options before the entry, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** CLI arguments after the contract's own (the last of a repeated option counts). */
  extraArgs?: string[];
  /** Environment over this process's, the key and NODE_ENV=production. */
  env?: Record<string, string>;
  /** Append its stdout and stderr to this file. */
  logFile?: string;
}

/** Writes a sidecar config: JSON for a `.json` file, else YAML. */
export function writeConfig(file: string, config: unknown): void {
  writeFileSync(file, file.endsWith('.json') ? JSON.stringify(config) : stringify(config));
}

/** Starts a sidecar on `configFile`; resolves once `/readyz` answers 200. */
export function startAiroute(nodeBin: string, configFile: string, o: AirouteOptions): Promise<SidecarProc> {
  return startSidecar(o.name ?? 'sidecar', nodeBin, configFile, o.cpus, {
    cwd: ROOT,
    entry: ENTRY_FILE[o.entry],
    env: { ...process.env, [KEY_ENV]: 'sk-bench-not-a-real-key', NODE_ENV: 'production', ...o.env },
    ...(o.nodeArgs?.length ? { nodeArgs: o.nodeArgs } : {}),
    ...(o.extraArgs ? { extraArgs: o.extraArgs } : {}),
    ...(o.logFile ? { logFile: o.logFile } : {}),
  });
}

/**
 * The compiled build for a peer benchmark: `npm run build` unless `noBuild`. Returns why it
 * cannot run, or the version line the report prints (with a warning when dist/ is older than the sources).
 */
export function prepareDist(noBuild: boolean, commit: string, log: (s: string) => void): { why: string } | { version: string } {
  const why = noBuild ? undefined : buildSidecar(ROOT, log);
  if (why) return { why };
  const stale = staleBuild(ROOT);
  return { version: `airoute ${commit}${noBuild ? ' (--no-build)' : ' (npm run build by this run)'}${stale.length ? `; dist/ older than ${stale.length} source file(s)` : ''}` };
}
