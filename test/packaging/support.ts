// Shared by the packaging tests: the real helm binary (fetched once by scripts/fetch-tools.ts),
// rendering the chart with a scenario's values, and reading multi-document YAML.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ensureTools, type Tools } from '../../scripts/fetch-tools.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHART = 'charts/airoute';
export const RELEASE = 'airoute';
export const NAMESPACE = 'airoute-system';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };
export interface Manifest extends Obj {
  apiVersion: string;
  kind: string;
  metadata: Obj & { name: string; namespace?: string };
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Named sets of values the chart is rendered with. `files` are relative to the repository. */
export interface Scenario {
  name: string;
  files: string[];
  set?: string[];
}
export const SCENARIOS: Scenario[] = [
  { name: 'default values', files: [] },
  { name: 'every optional feature on', files: ['test/packaging/values-all-on.yaml'] },
  { name: 'cert-manager, one watched namespace, images by digest', files: ['test/packaging/values-cert-manager.yaml'] },
  { name: 'webhook off, single replica without leader election', files: [], set: ['webhook.enabled=false', 'replicaCount=1', 'operator.leaderElection.enabled=false', 'dashboards.enabled=false'] },
];

let tools: Promise<Tools> | undefined;
/** helm and kubectl, downloaded on first use (cached under .tools/). */
export function getTools(): Promise<Tools> {
  tools ??= ensureTools();
  return tools;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm without blocking the event loop (a test may serve an API the helm process calls). */
export async function helm(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const { helm: bin } = await getTools();
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        // No user config or cache of the developer's leaks in (repositories, plugins, contexts).
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', HELM_CONFIG_HOME: `${ROOT}.tools/helm/config`, HELM_CACHE_HOME: `${ROOT}.tools/helm/cache`, HELM_DATA_HOME: `${ROOT}.tools/helm/data`, KUBECONFIG: '/dev/null', ...opts.env },
      },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stripInfo(stderr) }),
    );
  });
}

/** Helm logs an INFO line for the crds/ symlink on every command; it is expected, not news. */
function stripInfo(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/level=INFO msg="found symbolic link in path/.test(l))
    .join('\n')
    .trim();
}

export function valueArgs(s: Pick<Scenario, 'files' | 'set'>): string[] {
  return [...s.files.flatMap((f) => ['-f', f]), ...(s.set ?? []).flatMap((x) => ['--set', x])];
}

/** `helm template` (with the CRDs from crds/) → the manifests, in order. Throws with helm's stderr. */
export async function render(s: Pick<Scenario, 'files' | 'set'>, extra: string[] = []): Promise<Manifest[]> {
  const r = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '--include-crds', ...valueArgs(s), ...extra]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}):\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (!isObj(v)) throw new Error(`a document is not an object: ${JSON.stringify(v).slice(0, 200)}`);
    out.push(v as Manifest);
  }
  return out;
}

export function readManifests(path: string): Manifest[] {
  return parseManifests(readFileSync(`${ROOT}${path}`, 'utf8'));
}

export const id = (m: Manifest) => `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;

export function find(ms: Manifest[], kind: string, name?: string): Manifest {
  const m = ms.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!m) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among: ${ms.map(id).join(', ')}`);
  return m;
}

/** The pod template (or pod spec holder) of a workload, if it has one. */
export function podTemplate(m: Manifest): { metadata?: Obj; spec: Obj } | undefined {
  if (m.kind === 'Pod') return { metadata: m.metadata, spec: m.spec as Obj };
  const spec = m.spec as Obj | undefined;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(m.kind)) return spec?.template as { metadata?: Obj; spec: Obj };
  if (m.kind === 'CronJob') return ((spec?.jobTemplate as Obj)?.spec as Obj)?.template as { metadata?: Obj; spec: Obj };
  return undefined;
}
