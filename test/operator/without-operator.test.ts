// The data plane does not depend on the operator: a pod restarted, or created, while no operator
// runs starts from the config snapshot the operator left in its namespace (the ConfigMap
// airoute-config) with the keys from its mounted Secrets, and serves. The operator, back, finds
// every sidecar on the version it would push and pushes nothing.
// Never: a key in the snapshot; a pod that waits for the operator to serve.
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { AIRouteSpec } from '../../api/v1alpha1/airoute.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { MockProvider } from '../support/mock-provider.ts';
import { airoute, chat, eventually, probe, readyAt, secret, statusOf, testCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
let provider: MockProvider;
beforeEach(async () => {
  c = await testCluster();
  provider = await new MockProvider().start();
});
afterEach(async () => {
  await c.close();
  await provider.stop();
});

const ns = 'team-a';
const KEY = 'sk-live-snapshot-key-aaaaaaaa';

test('operator down: a restarted pod and a new pod start from the snapshot and serve with the mounted key; the operator, back, pushes nothing', async () => {
  c.api.create('secrets', secret(ns, 'llm-keys', { primary: KEY }));
  const spec: AIRouteSpec = {
    podSelector: { matchLabels: { app: 'chat' } },
    backends: [{ name: 'primary', type: 'openai-compatible', baseURL: `${provider.url}/v1`, apiKey: { secretKeyRef: { name: 'llm-keys', key: 'primary' } } }],
    routes: [{ model: 'chat', backends: [{ backend: 'primary', model: 'upstream-model' }] }],
  };
  c.api.create('airoutes', airoute(ns, 'chat', spec));
  const first = await c.operator();
  // Admitted after the AIRoute exists: the webhook mounts its snapshot and its Secret.
  const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
  const ready = await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
  const status = statusOf(ready);

  const cm = c.api.get('configmaps', ns, 'airoute-config')!;
  const snap = JSON.parse(((cm.data as JsonObject)['chat.json'] as string)) as { version: number; config: { backends: JsonObject[] } };
  expect(snap.version).toBe(1);
  expect(snap.config.backends[0]!.apiKey).toEqual({ secretKeyRef: { name: 'llm-keys', key: 'primary' } });
  expect(JSON.stringify(cm)).not.toContain(KEY);

  await first.stop({ crash: true });

  // The sidecar process restarts: ready at once, on the operator's version and hash.
  await c.kubelet.restartSidecar(ns, 'chat-a');
  expect(a.sidecar!.sidecar.config).toMatchObject({ version: status.configVersion, hash: status.configHash });
  expect(await probe(a.adminPort)).toBe(200);
  expect((await chat(a.dataPort, 'chat')).status).toBe(200);
  expect(provider.received.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);

  // A new pod (a scale-up) while the operator is still down.
  const b = await c.kubelet.addPod(ns, 'chat-b', { labels: { app: 'chat' } });
  expect(b.sidecar!.sidecar.config).toMatchObject({ version: 1, hash: status.configHash });
  expect((await chat(b.dataPort, 'chat')).status).toBe(200);

  const second = await c.operator();
  await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 2));
  await eventually(async () => (await second.metrics.reconcileDuration.get()).values.find((v) => v.metricName?.endsWith('_count') && v.labels.result === 'ok')?.value ?? 0, (n) => n >= 1, 5000, 'a reconcile');
  expect((await second.metrics.pushes.get()).values.filter((v) => v.value > 0)).toEqual([]);
  expect(a.applied).toEqual([1, 1]); // the push before, the snapshot after the restart
  expect(b.applied).toEqual([1]);
});

test('a spec change reaches the snapshot with the push: a pod restarted afterwards starts on the new version', async () => {
  c.api.create('airoutes', airoute(ns, 'chat', { podSelector: { matchLabels: { app: 'chat' } }, backends: [{ name: 'demo', type: 'demo', demo: { tokens: 3, tokensPerSecond: 1000 } }], routes: [{ model: 'chat', backends: [{ backend: 'demo' }] }] }));
  const op = await c.operator();
  const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
  await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
  const cur = c.api.get('airoutes', ns, 'chat')!;
  const spec = structuredClone(cur.spec) as unknown as AIRouteSpec;
  spec.routes.push({ model: 'chat-2', backends: [{ backend: 'demo' }] });
  c.api.update('airoutes', { ...cur, spec: spec as unknown as JsonObject });
  await c.api.waitFor('airoutes', ns, 'chat', readyAt(2, 1));
  await op.stop({ crash: true });
  await c.kubelet.restartSidecar(ns, 'chat-a');
  expect(a.sidecar!.sidecar.config!.version).toBe(2);
  expect((await chat(a.dataPort, 'chat-2')).status).toBe(200);
});

test('deleting the AIRoute removes its snapshot: a pod restarted afterwards waits (not ready) until an AIRoute selects it', async () => {
  c.api.create('airoutes', airoute(ns, 'chat', { podSelector: { matchLabels: { app: 'chat' } }, backends: [{ name: 'demo', type: 'demo' }], routes: [{ model: 'chat', backends: [{ backend: 'demo' }] }] }));
  await c.operator();
  const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
  await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
  c.api.delete('airoutes', ns, 'chat');
  await eventually(() => (c.api.get('configmaps', ns, 'airoute-config')?.data as JsonObject | undefined)?.['chat.json'], (v) => v === undefined, 5000, 'the snapshot removed');
  await c.kubelet.restartSidecar(ns, 'chat-a');
  expect(a.sidecar!.sidecar.config).toBeUndefined();
  expect(await probe(a.adminPort)).toBe(503);
});
