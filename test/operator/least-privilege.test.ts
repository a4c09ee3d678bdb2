// What the operator asks of the API server, read from the stand-in's audit log: Secrets only by
// name (the ones AIRoutes reference, the admin token), never the cluster's Secrets as a whole;
// every list paged.
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { AIRouteSpec } from '../../api/v1alpha1/airoute.ts';
import { PAGE_SIZE } from '../../operator/kube/paged-list.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { airoute, demoSpec, eventually, readyAt, secret, testCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await c.close();
});

const ns = 'team-a';

test('unreferenced Secrets (a Helm release’s) are never listed or watched; a referenced one is, by name, until no AIRoute refers to it', async () => {
  // 30 × 100 KiB of release Secrets: what used to sit in every operator replica's heap.
  for (let i = 0; i < 30; i++) c.api.create('secrets', secret(ns, `sh.helm.release.v1.app.v${i}`, { release: 'x'.repeat(100 * 1024) }));
  c.api.create('secrets', secret(ns, 'llm-keys', { k: 'sk-test-referenced' }));
  const pod = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
  await c.operator();
  const spec: AIRouteSpec = demoSpec('chat');
  spec.backends[0]!.apiKey = { secretKeyRef: { name: 'llm-keys', key: 'k' } };
  c.api.create('airoutes', airoute(ns, 'chat', spec));
  await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
  expect(pod.applied).toEqual([1]);

  const secretReads = c.api.audit.filter((a) => a.resource === 'secrets' && (a.verb === 'list' || a.verb === 'watch' || a.verb === 'get'));
  expect(secretReads.length).toBeGreaterThan(0);
  for (const r of secretReads) {
    // The push CA, by name, in the operator's own namespace; else only what an AIRoute refers to.
    if (r.verb === 'get') expect([r.namespace, r.name], JSON.stringify(r)).toEqual(['airoute-system', 'airoute-push-ca']);
    else expect([r.namespace, r.fieldSelector], JSON.stringify(r)).toEqual([ns, 'metadata.name=llm-keys']);
  }
  expect(secretReads.some((r) => r.fieldSelector === 'metadata.name=llm-keys' && r.verb === 'watch')).toBe(true);

  // The route stops referring to it: its watch ends (no new watch of it after this point).
  const before = c.api.audit.length;
  const cur = c.api.get('airoutes', ns, 'chat')!;
  c.api.update('airoutes', { ...cur, spec: demoSpec('chat') as unknown as JsonObject });
  await c.api.waitFor('airoutes', ns, 'chat', readyAt(2, 1));
  c.api.dropWatches(); // every informer reconnects: only the wanted ones come back
  await eventually(() => c.api.audit.slice(before).filter((a) => a.verb === 'watch' && a.resource === 'pods').length, (n) => n >= 1, 5000, 'the pod watch back');
  await new Promise((r) => setTimeout(r, 300));
  expect(c.api.audit.slice(before).filter((a) => a.fieldSelector === 'metadata.name=llm-keys' && a.verb === 'watch')).toEqual([]);
});

test('every list is paged: 1,200 pods arrive in pages of at most 500 and all are targets', async () => {
  // Pods straight into the store (no sidecars): enough to need three pages at the operator's start.
  for (let i = 0; i < 1200; i++)
    c.api.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, namespace: ns, labels: { 'airoute.dev/sidecar': 'injected', app: 'chat' } }, spec: { containers: [{ name: 'app', image: 'x' }], initContainers: [{ name: 'airoute-sidecar', image: 'x', restartPolicy: 'Always' }] } });
  await c.operator();
  c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
  await c.api.waitFor('airoutes', ns, 'chat', (o) => (o?.status as { targetPods?: number } | undefined)?.targetPods === 1200, 15_000);
  const lists = c.api.audit.filter((a) => a.verb === 'list');
  for (const l of lists) expect(l.limit, JSON.stringify(l)).toBe(PAGE_SIZE);
  expect(lists.filter((l) => l.resource === 'pods').length).toBe(3); // 500 + 500 + 200
}, 30_000);
