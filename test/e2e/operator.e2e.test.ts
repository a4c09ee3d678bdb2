// End to end on a real cluster: kind + helm, the chart in charts/airoute, the examples in
// examples/. Skips itself, saying why, where docker (a running engine), kind, helm or kubectl is
// missing, or where the chart or a Dockerfile is not in the repository yet.
//
//   AIROUTE_E2E_KEEP=1 keeps the kind cluster afterwards (for debugging).
//   AIROUTE_E2E_IMAGE=repo/airoute:tag uses a prebuilt operator image instead of `docker build .`;
//   AIROUTE_E2E_SIDECAR_IMAGE=repo/airoute-sidecar:tag a prebuilt sidecar image (`--target sidecar`).
// helm and kubectl: from PATH, else the pinned ones scripts/fetch-tools.ts downloads into .tools/.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureTools } from '../../scripts/fetch-tools.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLUSTER = 'airoute-e2e';
const IMAGE = process.env.AIROUTE_E2E_IMAGE ?? 'airoute:e2e';
const SIDECAR_IMAGE = process.env.AIROUTE_E2E_SIDECAR_IMAGE ?? 'airoute-sidecar:e2e';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', timeout: 5000 }).status === 0;
// Only worth fetching where the suite can run at all (docker and kind present).
const tools = has('docker') && has('kind') && (!has('helm') || !has('kubectl')) ? await ensureTools().catch(() => undefined) : undefined;
const BIN: Record<string, string> = { helm: has('helm') ? 'helm' : (tools?.helm ?? 'helm'), kubectl: has('kubectl') ? 'kubectl' : (tools?.kubectl ?? 'kubectl') };
function run(cmd: string, args: string[], timeoutMs = 300_000): SpawnSyncReturns<string> {
  return spawnSync(BIN[cmd] ?? cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
}
function must(cmd: string, args: string[], timeoutMs?: number): string {
  const r = run(cmd, args, timeoutMs);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function skipReason(): string | undefined {
  if (!has('docker')) return 'docker is not installed';
  if (run('docker', ['info'], 15_000).status !== 0) return '`docker info` failed: no running Docker engine';
  if (!has('kind')) return 'kind is not installed';
  for (const tool of ['helm', 'kubectl']) if (run(tool, tool === 'helm' ? ['version'] : ['version', '--client'], 30_000).status !== 0) return `${tool} is not installed and could not be fetched (npm run fetch-tools)`;
  if (!existsSync(`${ROOT}/charts/airoute/Chart.yaml`)) return 'charts/airoute is not in the repository yet';
  if (!process.env.AIROUTE_E2E_IMAGE && !existsSync(`${ROOT}/Dockerfile`)) return 'no Dockerfile to build the image (or set AIROUTE_E2E_IMAGE)';
  return undefined;
}

const reason = skipReason();
if (reason) console.warn(`[e2e] skipping the kind + helm suite: ${reason}`);

describe.skipIf(reason !== undefined)('on a kind cluster with the helm chart', () => {
  const kubectl = (...args: string[]) => must('kubectl', ['--context', `kind-${CLUSTER}`, ...args]);

  beforeAll(() => {
    if (!process.env.AIROUTE_E2E_IMAGE) must('docker', ['build', '--target', 'operator', '-t', IMAGE, '.'], 900_000);
    if (!process.env.AIROUTE_E2E_SIDECAR_IMAGE) must('docker', ['build', '--target', 'sidecar', '-t', SIDECAR_IMAGE, '.'], 900_000);
    if (run('kind', ['get', 'clusters']).stdout.split('\n').includes(CLUSTER) === false) must('kind', ['create', 'cluster', '--name', CLUSTER, '--wait', '120s'], 600_000);
    must('kind', ['load', 'docker-image', IMAGE, SIDECAR_IMAGE, '--name', CLUSTER], 600_000);
    const [repo, tag] = IMAGE.split(':');
    const [sidecarRepo, sidecarTag] = SIDECAR_IMAGE.split(':');
    must('helm', ['upgrade', '--install', 'airoute', 'charts/airoute', '--kube-context', `kind-${CLUSTER}`, '--namespace', 'airoute-system', '--create-namespace', '--set', `image.repository=${repo}`, '--set', `image.tag=${tag ?? 'latest'}`, '--set', 'image.pullPolicy=Never', '--set', `sidecar.image.repository=${sidecarRepo}`, '--set', `sidecar.image.tag=${sidecarTag ?? 'latest'}`, '--wait', '--timeout', '5m'], 600_000);
  }, 1_800_000);

  afterAll(() => {
    if (!process.env.AIROUTE_E2E_KEEP) run('kind', ['delete', 'cluster', '--name', CLUSTER], 300_000);
  });

  test('the CRD refuses a bad manifest naming the field (CEL on the real API server)', () => {
    const bad = JSON.stringify({
      apiVersion: 'airoute.dev/v1alpha1',
      kind: 'AIRoute',
      metadata: { name: 'bad', namespace: 'default' },
      spec: { podSelector: {}, backends: [{ name: 'a', type: 'demo' }], routes: [{ model: 'm', backends: [{ backend: 'nope' }] }] },
    });
    const r = spawnSync('kubectl', ['--context', `kind-${CLUSTER}`, 'apply', '-f', '-'], { input: bad, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('spec.routes');
    expect(r.stderr).toContain('must name a backend declared in spec.backends');
  });

  test('examples: injected pods go Ready only after the push; the AIRoute goes Ready n/n; the sidecar serves the demo route', () => {
    kubectl('apply', '-f', 'examples/deployment.yaml');
    kubectl('apply', '-f', 'examples/airoute.yaml');
    kubectl('wait', '--for=condition=Ready', 'airoute/chat', '-n', 'default', '--timeout=180s');
    kubectl('rollout', 'status', 'deployment/chat', '-n', 'default', '--timeout=180s');
    const status = JSON.parse(kubectl('get', 'airoute/chat', '-n', 'default', '-o', 'jsonpath={.status}')) as { syncedPods: number; targetPods: number };
    expect(status.syncedPods).toBe(status.targetPods);
    expect(status.targetPods).toBeGreaterThan(0);
    const out = kubectl('exec', 'deploy/chat', '-n', 'default', '-c', 'app', '--', 'curl', '-s', '127.0.0.1:4000/v1/chat/completions', '-H', 'content-type: application/json', '-d', '{"model":"demo","messages":[{"role":"user","content":"hi"}]}');
    expect(JSON.parse(out)).toHaveProperty('choices');
  }, 600_000);
});
