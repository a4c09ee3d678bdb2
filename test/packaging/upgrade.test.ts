// The webhook certificate generated at install is kept on upgrade: the chart reads the existing
// Secret back with `lookup`. `lookup` needs a cluster, so helm renders here against the stand-in
// API server (test/k8s/api-server.ts), behind a small front that adds what helm asks for and the
// stand-in does not serve (/version, discovery for every kind the chart renders) and the bearer
// token (client-go sends none over plain HTTP).
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { StandInApiServer } from '../k8s/api-server.ts';
import { plural } from './rbac-derive.ts';
import { CHART, NAMESPACE, RELEASE, ROOT, find, getTools, helm, parseManifests, render, type Manifest } from './support.ts';

const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'CustomResourceDefinition', 'Namespace']);

let api: StandInApiServer;
let front: Server;
let kubeconfig: string;

beforeAll(async () => {
  await getTools();
  const kinds = new Map((await render({ files: [] })).map((m) => [m.kind, m.apiVersion]));
  kinds.set('Namespace', 'v1');
  const gvs = [...new Set(kinds.values())];
  api = await StandInApiServer.start();
  const up = new URL(api.url);
  front = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const json = (b: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    if (req.method === 'GET') {
      if (path === '/version') return json({ major: '1', minor: '35', gitVersion: 'v1.35.0', platform: 'linux/amd64' });
      if (path === '/api') return json({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      if (path === '/apis')
        return json({ kind: 'APIGroupList', apiVersion: 'v1', groups: gvs.filter((g) => g.includes('/')).map((gv) => ({ name: gv.split('/')[0], versions: [{ groupVersion: gv, version: gv.split('/')[1] }], preferredVersion: { groupVersion: gv, version: gv.split('/')[1] } })) });
      const d = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(path);
      if (d) {
        const gv = d[1] ?? d[2]!;
        const resources = [...kinds].filter(([, v]) => v === gv).map(([kind]) => ({ name: plural(kind), singularName: kind.toLowerCase(), namespaced: !CLUSTER_SCOPED.has(kind), kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }));
        return json({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources });
      }
    }
    const p = request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: { ...req.headers, host: up.host, authorization: 'Bearer stand-in-token' } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    p.on('error', () => res.writeHead(502).end());
    req.pipe(p);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
  kubeconfig = `${ROOT}.tools/upgrade-test-${process.pid}.kubeconfig`;
  const server = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  writeFileSync(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 's', cluster: { server } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 's', context: { cluster: 's', user: 'u', namespace: NAMESPACE } }], 'current-context': 's' }));
}, 600_000);

afterAll(async () => {
  await new Promise<void>((r) => (front ? front.close(() => r()) : r()));
  await api?.close();
  if (kubeconfig) rmSync(kubeconfig, { force: true });
});

async function renderAgainstCluster(): Promise<Manifest[]> {
  const r = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=server', '--disable-openapi-validation', '--kubeconfig', kubeconfig], { env: { KUBECONFIG: kubeconfig } });
  if (r.code !== 0) throw new Error(`helm template --dry-run=server failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

const tls = (ms: Manifest[]) => ({
  data: find(ms, 'Secret', 'airoute-webhook-tls').data as Record<string, string>,
  caBundle: ((find(ms, 'MutatingWebhookConfiguration').webhooks as { clientConfig: { caBundle: string } }[])[0]!).clientConfig.caBundle,
});

test('an upgrade keeps the webhook certificate the install generated (lookup), where a render without a cluster makes a new one', async () => {
  // Install: nothing in the cluster yet, so a new CA and certificate.
  const first = tls(await renderAgainstCluster());
  expect(first.caBundle).toBe(first.data['ca.crt']);
  // Helm created the Secret (owned by the release); put it where the next render looks.
  await api.kubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: NAMESPACE, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'airoute-webhook-tls', namespace: NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'Helm' }, annotations: { 'meta.helm.sh/release-name': RELEASE, 'meta.helm.sh/release-namespace': NAMESPACE } }, type: 'kubernetes.io/tls', data: first.data } });
  // Upgrade: the same certificate, key and CA, and the same caBundle on the webhook.
  const second = tls(await renderAgainstCluster());
  expect(second.data).toEqual(first.data);
  expect(second.caBundle).toBe(first.caBundle);
  expect(api.audit.some((a) => a.verb === 'get' && a.resource === 'secrets' && a.name === 'airoute-webhook-tls' && a.code === 200)).toBe(true);
  // Without a cluster (`helm template`), lookup finds nothing: each render generates afresh.
  const a = tls(await render({ files: [] }));
  const b = tls(await render({ files: [] }));
  expect(a.caBundle).not.toBe(b.caBundle);
  expect(a.caBundle).not.toBe(first.caBundle);
});
