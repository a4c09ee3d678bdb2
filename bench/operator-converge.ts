// Benchmark: how fast the operator converges 1,000 sidecars after one AIRoute change.
//
//   node bench/operator-converge.ts [--pods 1000] [--concurrency 64]
//
// The operator is the real one, talking to the stand-in API server (test/k8s) through
// @kubernetes/client-node. Each "sidecar" is a lightweight admin endpoint on its own loopback port
// that follows the admin contract as an injected sidecar does (TLS; GET /identity with a token
// bound to its pod, which the operator has reviewed; PUT /config only with the operator's client
// certificate; 409 on a stale or equal version) and counts the PUTs it receives per version. Reported: time from the spec change
// until status.syncedPods == targetPods at the new version, pushes/s, and the most PUTs any pod got
// for one version (must be 1). Goal: under 10 s for 1,000 pods.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startOperator } from '../operator/operator.ts';
import { ADMIN_PORT_ANNOTATION, SIDECAR_CONTAINER, SIDECAR_LABEL } from '../operator/reconcile/pods.ts';
import { PushIdentity } from '../operator/push/identity.ts';
import { IDENTITY_AUDIENCE, SIDECAR_TLS_NAME } from '../api/v1alpha1/push.ts';
import { issueCertificate } from '../sidecar/tls/x509.ts';
import { StandInApiServer } from '../test/k8s/api-server.ts';
import type { JsonObject } from '../test/k8s/schema.ts';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '64' } } });
const PODS = Number(values.pods);
const NS = 'bench';

interface FakeSidecar {
  server: Server;
  port: number;
  version: number;
  hash: string | null;
  putsByVersion: Map<number, number>;
  /** Its pod's ServiceAccount token (what the kubelet projects). */
  token?: string;
}

const api = await StandInApiServer.start({ bookmarkIntervalMs: 1000 });
// The push CA the operator will find (it creates it when missing; created first so the fake
// sidecars can trust it), and one server certificate all fake sidecars share.
const identity = new PushIdentity({ core: api.kubeConfig().makeApiClient(CoreV1Api), namespace: 'airoute-system', logger: pino({ level: 'silent' }) });
await identity.ensure();
const serverCert = issueCertificate({ commonName: SIDECAR_TLS_NAME, validityDays: 1, usage: ['server'], altNames: [SIDECAR_TLS_NAME] });

function fakeSidecar(): Promise<FakeSidecar> {
  const sc: FakeSidecar = { server: createServer({ key: serverCert.key, cert: serverCert.cert, ca: identity.caCert, requestCert: true, rejectUnauthorized: false }), port: 0, version: 0, hash: null, putsByVersion: new Map() };
  sc.server.on('request', (req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const operator = (req.socket as TLSSocket).authorized;
    if (req.method === 'GET' && req.url === '/identity') return operator ? send(200, { token: sc.token }) : send(401, {});
    if (req.method === 'GET' && req.url === '/config') return send(200, { version: sc.version, hash: sc.hash });
    if (req.method !== 'PUT' || req.url !== '/config') return send(404, {});
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!operator) return send(401, { error: { message: 'unauthorized' } });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version: number; config: unknown };
      sc.putsByVersion.set(body.version, (sc.putsByVersion.get(body.version) ?? 0) + 1);
      if (body.version <= sc.version) return send(409, { error: { message: 'stale' }, version: sc.version, hash: sc.hash });
      sc.version = body.version;
      // The real sidecar answers with configHash(config); the operator compares against its own.
      sc.hash = hashes.get(body.version) ?? null;
      send(200, { version: sc.version, hash: sc.hash });
    });
  });
  return new Promise((r) =>
    sc.server.listen(0, '127.0.0.1', () => {
      sc.port = (sc.server.address() as AddressInfo).port;
      r(sc);
    }),
  );
}

/** version → the hash the operator put in status for it (what a real sidecar would compute). */
const hashes = new Map<number, string>();
api.store.subscribe('airoutes', (ev) => {
  const st = ev.object.status as { configVersion?: number; configHash?: string } | undefined;
  if (st?.configVersion && st.configHash) hashes.set(st.configVersion, st.configHash);
});

const sidecars: FakeSidecar[] = [];
for (let i = 0; i < PODS; i++) sidecars.push(await fakeSidecar());
for (let i = 0; i < PODS; i++) {
  const sc = sidecars[i]!;
  api.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: NS, labels: { app: 'bench', [SIDECAR_LABEL]: 'injected' }, annotations: { [ADMIN_PORT_ANNOTATION]: String(sc.port) } },
    spec: { containers: [{ name: 'app', image: 'app' }], initContainers: [{ name: SIDECAR_CONTAINER, image: 'airoute', restartPolicy: 'Always' }] },
  });
  const uid = String((api.get('pods', NS, `pod-${i}`)!.metadata as JsonObject).uid);
  sc.token = api.issueToken({ namespace: NS, serviceAccount: 'default', audiences: [IDENTITY_AUDIENCE], expirationSeconds: 3600, pod: { name: `pod-${i}`, uid } });
  api.update(
    'pods',
    { ...api.get('pods', NS, `pod-${i}`)!, status: { phase: 'Running', podIP: '127.0.0.1', initContainerStatuses: [{ name: SIDECAR_CONTAINER, restartCount: 0, ready: false, state: { running: {} } }] } },
    { subresource: 'status' },
  );
}

const operator = await startOperator({
  kubeConfig: api.kubeConfig(),
  identity: 'bench',
  logger: pino({ level: 'warn' }),
  leaderElection: { enabled: false, namespace: 'airoute-system', name: 'airoute-operator', leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 2000 },
  workers: 4,
  push: { concurrency: Number(values.concurrency), timeoutMs: 5000, backoff: { baseMs: 200, maxMs: 5000 } },
  resyncIntervalMs: 600_000,
  pendingRequeueMs: 5000,
});

const spec = (model: string) => ({
  podSelector: { matchLabels: { app: 'bench' } },
  backends: [{ name: 'demo', type: 'demo' }],
  routes: [{ model, backends: [{ backend: 'demo' }] }],
});
const converged = (version: number) => (o: JsonObject | undefined) => {
  const s = (o?.status ?? {}) as { configVersion?: number; syncedPods?: number; targetPods?: number };
  return s.configVersion === version && s.targetPods === PODS && s.syncedPods === PODS;
};

let t = performance.now();
api.create('airoutes', { apiVersion: 'airoute.dev/v1alpha1', kind: 'AIRoute', metadata: { name: 'bench', namespace: NS }, spec: spec('first') as unknown as JsonObject });
await api.waitFor('airoutes', NS, 'bench', converged(1), 120_000);
const initialMs = performance.now() - t;

const pushesBefore = (await operator.metrics.pushes.get()).values.reduce((n, v) => n + v.value, 0);
const cur = api.get('airoutes', NS, 'bench')!;
t = performance.now();
api.update('airoutes', { ...cur, spec: spec('second') as unknown as JsonObject });
await api.waitFor('airoutes', NS, 'bench', converged(2), 120_000);
const changeMs = performance.now() - t;
const pushes = (await operator.metrics.pushes.get()).values.reduce((n, v) => n + v.value, 0) - pushesBefore;

let maxPerVersion = 0;
for (const sc of sidecars) for (const n of sc.putsByVersion.values()) maxPerVersion = Math.max(maxPerVersion, n);

const result = {
  pods: PODS,
  pushConcurrency: Number(values.concurrency),
  initialConvergeMs: Math.round(initialMs),
  changeConvergeMs: Math.round(changeMs),
  pushesAfterChange: pushes,
  pushesPerSecond: Math.round(pushes / (changeMs / 1000)),
  maxPutsPerPodPerVersion: maxPerVersion,
  goal: changeMs < 10_000 && maxPerVersion <= 1 ? 'met (< 10 s, <= 1 push per pod per version)' : 'MISSED',
};
console.log(JSON.stringify(result, null, 2));

await operator.stop();
await Promise.all(sidecars.map((sc) => new Promise<void>((r) => sc.server.close(() => r()))));
await api.close();
process.exit(result.goal.startsWith('met') ? 0 : 1);
