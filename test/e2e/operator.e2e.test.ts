// End to end on a real cluster: kind + helm, the chart in charts/airoute, the examples in
// examples/. What the stand-in API server cannot show: the real API server admits the CRD (its
// CEL cost limits) and enforces it, the kubelet runs the native sidecar before the app and stops it
// after, a Job completes, a sidecar restarted while the operator is down serves from its snapshot,
// and the chart's NetworkPolicy keeps a default-deny namespace closed but for the operator.
//
// Skips itself, saying why, where docker (a running engine) or kind is missing, or where the chart
// or a Dockerfile is not in the repository. helm and kubectl are always the pinned ones
// scripts/fetch-tools.ts resolves (never whatever is on PATH).
//
//   AIROUTE_E2E_KEEP=1 keeps the kind cluster afterwards (for debugging).
//   AIROUTE_E2E_IMAGE=repo/airoute:tag uses a prebuilt operator image instead of `docker build .`;
//   AIROUTE_E2E_SIDECAR_IMAGE=repo/airoute-sidecar:tag a prebuilt sidecar image (`--target sidecar`).
//   AIROUTE_E2E_NODE_IMAGE=kindest/node:v1.33.x the Kubernetes version (1.30 or newer).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureTools, type Tools } from '../../scripts/fetch-tools.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLUSTER = 'airoute-e2e';
const CONTEXT = `kind-${CLUSTER}`;
const IMAGE = process.env.AIROUTE_E2E_IMAGE ?? 'airoute:e2e';
const SIDECAR_IMAGE = process.env.AIROUTE_E2E_SIDECAR_IMAGE ?? 'airoute-sidecar:e2e';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', timeout: 5000 }).status === 0;
const run = (cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });

function skipReason(): string | undefined {
  if (!has('docker')) return 'docker is not installed';
  if (run('docker', ['info'], { timeoutMs: 15_000 }).status !== 0) return '`docker info` failed: no running Docker engine';
  if (!has('kind')) return 'kind is not installed';
  if (!existsSync(`${ROOT}/charts/airoute/Chart.yaml`)) return 'charts/airoute is not in the repository yet';
  if (!process.env.AIROUTE_E2E_IMAGE && !existsSync(`${ROOT}/Dockerfile`)) return 'no Dockerfile to build the image (or set AIROUTE_E2E_IMAGE)';
  return undefined;
}

const reason = skipReason();
if (reason) console.warn(`[e2e] skipping the kind + helm suite: ${reason}`);
// Only fetched where the suite runs at all.
const tools: Tools | undefined = reason ? undefined : await ensureTools();

function must(bin: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): string {
  const r = run(bin, args, opts);
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}
const kubectl = (...args: string[]) => must(tools!.kubectl, ['--context', CONTEXT, ...args]);
const kubectlIn = (input: string, ...args: string[]) => run(tools!.kubectl, ['--context', CONTEXT, ...args], { input });
const apply = (manifest: unknown) => must(tools!.kubectl, ['--context', CONTEXT, 'apply', '-f', '-'], { input: JSON.stringify(manifest) });
const helm = (...args: string[]) => must(tools!.helm, ['--kube-context', CONTEXT, ...args], { timeoutMs: 600_000 });
const json = <T>(...args: string[]) => JSON.parse(kubectl(...args, '-o', 'json')) as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T, ok: (v: T) => boolean, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = probe();
      if (ok(last)) return last;
    } catch {
      // not there yet
    }
    await sleep(2000);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const [imageRepo, imageTag] = IMAGE.split(':') as [string, string | undefined];
const [sidecarRepo, sidecarTag] = SIDECAR_IMAGE.split(':') as [string, string | undefined];
const chartArgs = (extra: string[] = []) => [
  'upgrade', '--install', 'airoute', 'charts/airoute', '--namespace', 'airoute-system', '--create-namespace',
  '--set', `image.repository=${imageRepo}`, '--set', `image.tag=${imageTag ?? 'latest'}`, '--set', 'image.pullPolicy=Never',
  '--set', `sidecar.image.repository=${sidecarRepo}`, '--set', `sidecar.image.tag=${sidecarTag ?? 'latest'}`,
  '--wait', '--timeout', '5m', ...extra,
];

/** A demo-only AIRoute (no provider keys) for the pods labelled app=<app> in a namespace. */
const demoRoute = (namespace: string, app: string, tokensPerSecond = 1000) => ({
  apiVersion: 'airoute.dev/v1alpha1',
  kind: 'AIRoute',
  metadata: { name: app, namespace },
  spec: { podSelector: { matchLabels: { app } }, backends: [{ name: 'demo', type: 'demo', demo: { tokens: 48, tokensPerSecond } }], routes: [{ model: 'demo', backends: [{ backend: 'demo' }] }] },
});

/** The restricted pod template of examples/deployment.yaml, for other apps and namespaces. */
const appPod = (app: string, extra: Record<string, unknown> = {}) => ({
  metadata: { labels: { app }, annotations: { 'airoute.dev/inject': 'true' } },
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'app',
        image: 'curlimages/curl:8.11.1',
        command: ['sleep', 'infinity'],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      },
    ],
    ...extra,
  },
});
const deployment = (namespace: string, app: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: app, namespace },
  spec: { replicas: 1, selector: { matchLabels: { app } }, template: appPod(app, extra) },
});
const chatCurl = (model = 'demo', stream = false) => ['curl', '-sS', '--max-time', '60', '127.0.0.1:4000/v1/chat/completions', '-H', 'content-type: application/json', '-d', JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] })];
const podOf = (namespace: string, app: string) => kubectl('get', 'pods', '-n', namespace, '-l', `app=${app}`, '-o', 'jsonpath={.items[0].metadata.name}');
const readyRoute = (namespace: string, name: string) =>
  until(`AIRoute ${namespace}/${name} Ready`, () => json<{ status?: { conditions?: { type: string; status: string }[]; syncedPods?: number; targetPods?: number } }>('get', 'airoute', name, '-n', namespace), (r) =>
    (r.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') && (r.status?.syncedPods ?? 0) === (r.status?.targetPods ?? -1) && (r.status?.targetPods ?? 0) > 0,
  );

describe.skipIf(reason !== undefined)('on a kind cluster with the helm chart', () => {
  beforeAll(() => {
    if (!process.env.AIROUTE_E2E_IMAGE) must('docker', ['build', '--target', 'operator', '-t', IMAGE, '.'], { timeoutMs: 900_000 });
    if (!process.env.AIROUTE_E2E_SIDECAR_IMAGE) must('docker', ['build', '--target', 'sidecar', '-t', SIDECAR_IMAGE, '.'], { timeoutMs: 900_000 });
    if (!run('kind', ['get', 'clusters']).stdout.split('\n').includes(CLUSTER))
      must('kind', ['create', 'cluster', '--name', CLUSTER, '--wait', '120s', ...(process.env.AIROUTE_E2E_NODE_IMAGE ? ['--image', process.env.AIROUTE_E2E_NODE_IMAGE] : [])], { timeoutMs: 600_000 });
    must('kind', ['load', 'docker-image', IMAGE, SIDECAR_IMAGE, '--name', CLUSTER], { timeoutMs: 600_000 });
    // `helm install` creates the CRD first: a CRD over the API server's CEL cost budget fails here.
    helm(...chartArgs());
  }, 1_800_000);

  afterAll(() => {
    if (!process.env.AIROUTE_E2E_KEEP) run('kind', ['delete', 'cluster', '--name', CLUSTER], { timeoutMs: 300_000 });
  });

  test('the CRD is installed and enforced by the real API server: an undeclared backend (CEL), a duplicate name (list-type map), a header with a newline (pattern)', () => {
    const crd = json<{ status: { conditions: { type: string; status: string }[] } }>('get', 'crd', 'airoutes.airoute.dev');
    expect(crd.status.conditions).toContainEqual(expect.objectContaining({ type: 'Established', status: 'True' }));
    const bad = (spec: unknown) => kubectlIn(JSON.stringify({ apiVersion: 'airoute.dev/v1alpha1', kind: 'AIRoute', metadata: { name: 'bad', namespace: 'default' }, spec }), 'apply', '-f', '-');
    const base = { podSelector: {}, backends: [{ name: 'a', type: 'demo' }], routes: [{ model: 'm', backends: [{ backend: 'a' }] }] };
    const undeclared = bad({ ...base, routes: [{ model: 'm', backends: [{ backend: 'nope' }] }] });
    expect(undeclared.status).not.toBe(0);
    expect(undeclared.stderr).toContain('must name a backend declared in spec.backends');
    const duplicate = bad({ ...base, backends: [{ name: 'a', type: 'demo' }, { name: 'a', type: 'demo' }] });
    expect(duplicate.status).not.toBe(0);
    expect(duplicate.stderr).toContain('Duplicate value');
    const header = bad({ ...base, backends: [{ name: 'a', type: 'demo', headers: { 'x-team': 'a\r\nx-injected: 1' } }] });
    expect(header.status).not.toBe(0);
    expect(header.stderr).toContain('spec.backends[0].headers[x-team]');
  });

  test('examples: the native sidecar starts before the app (startup probe), the AIRoute goes Ready n/n, the sidecar serves the demo route', async () => {
    kubectl('apply', '-f', 'examples/deployment.yaml');
    kubectl('apply', '-f', 'examples/airoute.yaml');
    kubectl('rollout', 'status', 'deployment/chat', '-n', 'default', '--timeout=300s');
    await readyRoute('default', 'chat');
    const pod = json<{ spec: { initContainers: { name: string; restartPolicy?: string }[] }; status: { initContainerStatuses: { name: string; started?: boolean; state: { running?: { startedAt: string } } }[]; containerStatuses: { name: string; state: { running?: { startedAt: string } } }[] } }>(
      'get', 'pod', podOf('default', 'chat'), '-n', 'default',
    );
    expect(pod.spec.initContainers[0]).toMatchObject({ name: 'airoute-sidecar', restartPolicy: 'Always' });
    const sidecarStarted = Date.parse(pod.status.initContainerStatuses.find((c) => c.name === 'airoute-sidecar')!.state.running!.startedAt);
    const appStarted = Date.parse(pod.status.containerStatuses.find((c) => c.name === 'app')!.state.running!.startedAt);
    expect(appStarted).toBeGreaterThanOrEqual(sidecarStarted);
    const out = kubectl('exec', 'deploy/chat', '-n', 'default', '-c', 'app', '--', ...chatCurl());
    expect(JSON.parse(out)).toHaveProperty('choices');
  }, 600_000);

  test('a pod deleted mid-stream: the app (still finishing its work) gets the whole stream and [DONE]; the sidecar stops only after it', async () => {
    kubectl('create', 'namespace', 'drain');
    apply(demoRoute('drain', 'slow', 8)); // 48 tokens at 8/s: a 6 s stream
    // The app keeps its in-flight call going on SIGTERM (as a well-behaved app finishing its work).
    const d = deployment('drain', 'slow', { terminationGracePeriodSeconds: 60 });
    d.spec.template.spec.containers[0]!.command = ['sh', '-c', 'trap "" TERM; sleep infinity & wait'];
    apply(d);
    kubectl('rollout', 'status', 'deployment/slow', '-n', 'drain', '--timeout=300s');
    await readyRoute('drain', 'slow');
    const pod = podOf('drain', 'slow');
    kubectl('exec', pod, '-n', 'drain', '-c', 'app', '--', 'sh', '-c', `(${chatCurl('demo', true).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')} > /tmp/stream.txt 2>&1 &)`);
    await sleep(2000);
    kubectl('delete', 'pod', pod, '-n', 'drain', '--wait=false');
    await sleep(6000);
    const stream = kubectl('exec', pod, '-n', 'drain', '-c', 'app', '--', 'cat', '/tmp/stream.txt');
    expect(stream.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(stream.match(/"content":"/g)?.length).toBe(48);
  }, 600_000);

  test('a Job with the sidecar completes (the native sidecar does not hold its pod)', async () => {
    kubectl('create', 'namespace', 'jobs');
    apply(demoRoute('jobs', 'batch'));
    const tpl = appPod('batch', { restartPolicy: 'Never' });
    tpl.spec.containers[0]!.command = ['sh', '-c', `${chatCurl().map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')} | grep -q choices`];
    apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'batch', namespace: 'jobs' }, spec: { backoffLimit: 0, template: tpl } });
    kubectl('wait', '--for=condition=Complete', 'job/batch', '-n', 'jobs', '--timeout=300s');
    const job = json<{ status: { succeeded?: number } }>('get', 'job', 'batch', '-n', 'jobs');
    expect(job.status.succeeded).toBe(1);
  }, 600_000);

  test('operator down: a sidecar that restarts starts from its snapshot and serves; the operator, back, finds it synced', async () => {
    kubectl('create', 'namespace', 'standalone');
    apply(demoRoute('standalone', 'steady'));
    // shareProcessNamespace + the sidecar's uid lets the test stop the sidecar from the app container.
    apply(deployment('standalone', 'steady', { shareProcessNamespace: true }));
    kubectl('rollout', 'status', 'deployment/steady', '-n', 'standalone', '--timeout=300s');
    await readyRoute('standalone', 'steady');
    kubectl('scale', 'deployment/airoute-operator', '-n', 'airoute-system', '--replicas=0');
    kubectl('wait', '--for=delete', 'pod', '-n', 'airoute-system', '-l', 'app.kubernetes.io/component=operator', '--timeout=120s');
    const pod = podOf('standalone', 'steady');
    const restarts = () => json<{ status: { initContainerStatuses: { name: string; restartCount: number; ready: boolean }[] } }>('get', 'pod', pod, '-n', 'standalone').status.initContainerStatuses.find((c) => c.name === 'airoute-sidecar')!;
    const before = restarts().restartCount;
    kubectl('exec', pod, '-n', 'standalone', '-c', 'app', '--', 'sh', '-c', 'kill $(pgrep -f "airoute.* sidecar")');
    await until('the sidecar restarted and Ready', restarts, (s) => s.restartCount > before && s.ready);
    const out = kubectl('exec', pod, '-n', 'standalone', '-c', 'app', '--', ...chatCurl());
    expect(JSON.parse(out)).toHaveProperty('choices');
    kubectl('scale', 'deployment/airoute-operator', '-n', 'airoute-system', '--replicas=2');
    kubectl('rollout', 'status', 'deployment/airoute-operator', '-n', 'airoute-system', '--timeout=300s');
    await readyRoute('standalone', 'steady');
  }, 600_000);

  test('a default-deny namespace with the chart’s policy on: the operator reaches the admin port, nobody else does, and nothing else was opened', async () => {
    kubectl('create', 'namespace', 'locked');
    apply({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'locked' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    helm(...chartArgs(['--reuse-values', '--set', 'networkPolicy.enabled=true', '--set', 'networkPolicy.namespaces={locked}']));
    apply(demoRoute('locked', 'private'));
    apply(deployment('locked', 'private'));
    kubectl('rollout', 'status', 'deployment/private', '-n', 'locked', '--timeout=300s');
    await readyRoute('locked', 'private'); // the operator got through
    const ip = kubectl('get', 'pod', podOf('locked', 'private'), '-n', 'locked', '-o', 'jsonpath={.status.podIP}');
    kubectl('create', 'namespace', 'outside');
    apply(deployment('outside', 'prober'));
    kubectl('rollout', 'status', 'deployment/prober', '-n', 'outside', '--timeout=300s');
    const probe = (port: number) => run(tools!.kubectl, ['--context', CONTEXT, 'exec', 'deploy/prober', '-n', 'outside', '-c', 'app', '--', 'curl', '-sk', '--max-time', '5', `https://${ip}:${port}/readyz`]);
    expect(probe(4001).status).not.toBe(0); // the admin port: closed to others
    expect(probe(8080).status).not.toBe(0); // and no other port was opened
  }, 600_000);
});
