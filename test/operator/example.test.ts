// Done-when: `kubectl apply -f examples/airoute.yaml` against the stand-in goes Ready, with every
// selected sidecar serving the example's routes. Applied through client-node's generic object API
// (discovery → create), the way kubectl applies a new manifest.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { request } from 'undici';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { JsonObject } from '../k8s/schema.ts';
import { chat, conditionOf, readyAt, statusOf, testCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await c.close();
});

test('examples/airoute.yaml → Ready n/n; every selected sidecar lists the routes and answers a real request', async () => {
  const pods = await Promise.all(['chat-1', 'chat-2'].map((n) => c.kubelet.addPod('default', n, { labels: { app: 'chat' } })));
  const bystander = await c.kubelet.addPod('default', 'web', { labels: { app: 'web' } });
  await c.operator();

  const text = await readFile(fileURLToPath(new URL('../../examples/airoute.yaml', import.meta.url)), 'utf8');
  const client = KubernetesObjectApi.makeApiClient(c.api.kubeConfig());
  for (const doc of parseAllDocuments(text)) await client.create(doc.toJS() as KubernetesObject);

  const done = await c.api.waitFor('airoutes', 'default', 'chat', readyAt(1, 2));
  expect(statusOf(done)).toMatchObject({ configVersion: 1, syncedPods: 2, targetPods: 2, syncedRatio: '2/2' });
  expect(conditionOf(done, 'ResolvedRefs')!.status).toBe('True');
  for (const p of pods) {
    const models = (await (await request(`http://127.0.0.1:${p.dataPort}/v1/models`)).body.json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id).sort()).toEqual(['chat', 'demo']);
    const r = await chat(p.dataPort, 'demo');
    expect(r.status).toBe(200);
    expect(((r.body.choices as JsonObject[])[0]!.message as JsonObject).content).toEqual(expect.any(String));
    expect(p.sidecar!.sidecar.config!.hash).toBe(statusOf(done).configHash);
  }
  expect(bystander.sidecar!.sidecar.config).toBeUndefined();
});
