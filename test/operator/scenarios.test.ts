// The operator end to end against the stand-in API server and real sidecars: what a platform team
// sees after `kubectl apply`, and what every sidecar runs.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { configHash } from '../../api/v1alpha1/validate.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { MockProvider } from '../support/mock-provider.ts';
import { airoute, chat, conditionOf, demoSpec, eventually, readyAt, secret, statusOf, testCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await c.close();
});

const ns = 'team-a';
const events = (reason?: string) =>
  c.api.list('events', ns).filter((e) => reason === undefined || e.reason === reason) as (JsonObject & { reason: string; message: string; type: string })[];

describe('create and update', () => {
  test('create → every selected sidecar runs version 1 and serves the route; status Ready 2/2 with all conditions', async () => {
    const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
    const b = await c.kubelet.addPod(ns, 'chat-b', { labels: { app: 'chat' } });
    const other = await c.kubelet.addPod(ns, 'other', { labels: { app: 'other' } });
    await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    const done = await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 2));
    const s = statusOf(done);
    expect(s).toMatchObject({ configVersion: 1, syncedPods: 2, targetPods: 2, syncedRatio: '2/2', observedGeneration: 1 });
    for (const type of ['Accepted', 'ResolvedRefs', 'Synced', 'Ready'])
      expect(conditionOf(done, type)).toMatchObject({ status: 'True', observedGeneration: 1, lastTransitionTime: expect.stringMatching(/Z$/) });
    expect(s.configHash).toBe(a.sidecar!.sidecar.config!.hash);
    for (const p of [a, b]) {
      const r = await chat(p.dataPort, 'chat');
      expect(r.status).toBe(200);
      expect(p.applied).toEqual([1]);
    }
    expect(other.applied).toEqual([]);
    expect(other.sidecar!.sidecar.config).toBeUndefined();
  });

  test('spec update → version 2 everywhere, one push per pod per version; lastTransitionTime moves only for conditions that flipped', async () => {
    const pods = await Promise.all(['p1', 'p2', 'p3'].map((n) => c.kubelet.addPod(ns, n, { labels: { app: 'chat' } })));
    const op = await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    const v1 = await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 3));
    const cur = c.api.get('airoutes', ns, 'chat')!;
    const spec = demoSpec('chat');
    spec.routes.push({ model: 'chat-2', backends: [{ backend: 'demo' }] });
    c.api.update('airoutes', { ...cur, spec: spec as unknown as JsonObject });
    const v2 = await c.api.waitFor('airoutes', ns, 'chat', readyAt(2, 3));
    expect((v2!.metadata as JsonObject).generation).toBe(2);
    // Accepted stayed True throughout: same transition time, new observedGeneration.
    expect(conditionOf(v2, 'Accepted')!.lastTransitionTime).toBe(conditionOf(v1, 'Accepted')!.lastTransitionTime);
    expect(conditionOf(v2, 'Accepted')!.observedGeneration).toBe(2);
    expect(conditionOf(v2, 'Ready')!.observedGeneration).toBe(2);
    for (const p of pods) {
      expect(p.applied).toEqual([1, 2]);
      expect((await chat(p.dataPort, 'chat-2')).status).toBe(200);
    }
    const pushes = await op.metrics.pushes.get();
    const by = Object.fromEntries(pushes.values.map((v) => [v.labels.outcome, v.value]));
    expect(by.applied).toBe(6);
    expect(by.stale ?? 0).toBe(0); // a second delivery of a version would have been answered 409
  });
});

describe('Secrets', () => {
  let provider: MockProvider;
  beforeEach(async () => {
    provider = await new MockProvider().start();
  });
  afterEach(async () => {
    await provider.stop();
  });

  const spec = () => ({
    podSelector: { matchLabels: { app: 'chat' } },
    backends: [{ name: 'primary', type: 'openai-compatible' as const, baseURL: `${provider.url}/v1`, apiKey: { secretKeyRef: { name: 'llm-keys', key: 'primary' } } }],
    routes: [{ model: 'chat', backends: [{ backend: 'primary', model: 'upstream-model' }] }],
  });

  test('missing Secret → ResolvedRefs=False naming it + Event; created → converges; rotated → new version carries the new key; keys never in status, Events or logs', async () => {
    const pod = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
    await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', spec()));
    const unresolved = await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'ResolvedRefs')?.status === 'False');
    expect(conditionOf(unresolved, 'ResolvedRefs')!.message).toBe('spec.backends[0].apiKey.secretKeyRef: Secret "llm-keys" not found');
    expect(conditionOf(unresolved, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretNotResolved' });
    await eventually(() => events('SecretNotResolved'), (e) => e.length === 1, 5000, 'the rejection Event');

    const KEY1 = 'sk-live-first-key-aaaaaaaaaaaa';
    const KEY2 = 'sk-live-rotated-key-bbbbbbbbbb';
    c.api.create('secrets', secret(ns, 'llm-keys', { primary: KEY1 }));
    await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
    expect((await chat(pod.dataPort, 'chat')).status).toBe(200);
    expect(provider.received.at(-1)!.headers.authorization).toBe(`Bearer ${KEY1}`);

    const s = c.api.get('secrets', ns, 'llm-keys')!;
    c.api.update('secrets', { ...s, data: { primary: Buffer.from(KEY2).toString('base64') } });
    const rotated = await c.api.waitFor('airoutes', ns, 'chat', readyAt(2, 1));
    expect(statusOf(rotated).configHash).not.toBe(statusOf(unresolved).configHash);
    expect((await chat(pod.dataPort, 'chat')).status).toBe(200);
    expect(provider.received.at(-1)!.headers.authorization).toBe(`Bearer ${KEY2}`);

    const everything = JSON.stringify({ routes: c.api.list('airoutes'), events: c.api.list('events'), logs: c.logs });
    for (const k of [KEY1, KEY2]) expect(everything).not.toContain(k);
  });
});

describe('a rollout', () => {
  test('a new pod still starting does not flap Ready: Progressing says so, 2/3, Ready keeps its transition time; Complete once it runs', async () => {
    await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
    await c.kubelet.addPod(ns, 'chat-b', { labels: { app: 'chat' } });
    await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    const ready = await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 2));
    // The ReplicaSet's new pod: admitted (injected), scheduled, not started yet.
    c.api.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'chat-c', namespace: ns, labels: { app: 'chat', 'airoute.dev/sidecar': 'injected' } }, spec: { containers: [{ name: 'app', image: 'x' }], initContainers: [{ name: 'airoute-sidecar', image: 'x', restartPolicy: 'Always' }] } });
    const rolling = await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'Progressing')?.status === 'True');
    expect(conditionOf(rolling, 'Progressing')!.message).toBe('2/3 pods run config version 1; starting: chat-c');
    expect(statusOf(rolling).syncedRatio).toBe('2/3');
    expect(conditionOf(rolling, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: conditionOf(ready, 'Ready')!.lastTransitionTime });
    c.api.delete('pods', ns, 'chat-c');
    const done = await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'Progressing')?.reason === 'Complete' && statusOf(o).targetPods === 2);
    expect(conditionOf(done, 'Ready')!.lastTransitionTime).toBe(conditionOf(ready, 'Ready')!.lastTransitionTime);
  });
});

describe('pods', () => {
  test('pod added later → pushed the current version; sidecar restarted (comes back empty, not ready) → pushed again', async () => {
    const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
    await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
    const b = await c.kubelet.addPod(ns, 'chat-b', { labels: { app: 'chat' } });
    await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 2));
    expect(b.applied).toEqual([1]);
    expect((await chat(b.dataPort, 'chat')).status).toBe(200);

    await c.kubelet.restartSidecar(ns, 'chat-a');
    expect(a.sidecar!.sidecar.config).toBeUndefined(); // not ready until pushed
    await eventually(() => a.applied, (v) => v.length === 2, 5000, 'the re-push to the restarted sidecar');
    expect(a.applied).toEqual([1, 1]); // the same version, to a new process
    expect((await chat(a.dataPort, 'chat')).status).toBe(200);
    await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 2));
  });

  test('unreachable sidecar → Progressing names it (Ready answers for the reachable pod), retried with backoff; converges when it returns', async () => {
    const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
    await c.kubelet.addPod(ns, 'chat-b', { labels: { app: 'chat' } });
    await c.kubelet.partition(ns, 'chat-b');
    const op = await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    const partial = await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'Progressing')?.message === '1/2 pods run config version 1; unreachable: chat-b');
    expect(conditionOf(partial, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
    expect(conditionOf(partial, 'Ready')!.status).toBe('True');
    expect(statusOf(partial)).toMatchObject({ syncedPods: 1, targetPods: 2, syncedRatio: '1/2' });
    expect(a.applied).toEqual([1]);
    // Backoff: a few attempts while it is down, not a tight loop.
    await new Promise((r) => setTimeout(r, 1200));
    const failed = (await op.metrics.pushes.get()).values.find((v) => v.labels.outcome === 'failed')?.value ?? 0;
    expect(failed).toBeLessThanOrEqual(6);
    await c.kubelet.heal(ns, 'chat-b');
    await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 2), 5000);
    expect(c.kubelet.pods.get(`${ns}/chat-b`)!.applied).toEqual([1]);
  });

  test('sidecar rejects the config → Synced=False Rejected with its reason, Warning Event, no retry of that version; key not leaked', async () => {
    const KEY = 'sk-revoked-cccccccccccccccc';
    c.api.create('secrets', secret(ns, 'keys', { k: KEY }));
    const picky = await c.kubelet.addPod(ns, 'picky', {
      labels: { app: 'chat' },
      // This sidecar's key policy refuses the key (as a sidecar build with a key denylist would).
      resolveSecrets: (ref, path) => ('value' in ref && ref.value === KEY ? { path: `${path}.value`, message: `key ${ref.value} is revoked` } : 'value' in ref ? ref.value : 'x'),
    });
    await c.operator();
    const spec = demoSpec('chat');
    spec.backends[0]!.apiKey = { secretKeyRef: { name: 'keys', key: 'k' } };
    c.api.create('airoutes', airoute(ns, 'chat', spec));
    const rejected = await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'Synced')?.reason === 'Rejected');
    expect(conditionOf(rejected, 'Synced')!.message).toBe('sidecar of pod picky rejected config version 1: config.backends[0].apiKey.value: key [redacted] is revoked');
    expect(conditionOf(rejected, 'Ready')).toMatchObject({ status: 'False', reason: 'Rejected' });
    const ev = await eventually(() => events('Rejected'), (e) => e.length === 1, 5000, 'the Rejected Event');
    expect(ev[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'AIRoute', name: 'chat', namespace: ns } });
    expect(picky.applied).toEqual([]);
    const everything = JSON.stringify({ routes: c.api.list('airoutes'), events: c.api.list('events'), logs: c.logs });
    expect(everything).not.toContain(KEY);
    // The next reconciles do not push version 1 to it again.
    const putsBefore = c.logs.filter((l) => l.includes('sidecar rejected config')).length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(c.logs.filter((l) => l.includes('sidecar rejected config')).length).toBe(putsBefore);
    expect(events('Rejected')).toHaveLength(1);
  });
});

test('drift: a sidecar that lost its config behind the operator\'s back (same incarnation) is re-pushed at the next resync', async () => {
  const pod = await c.kubelet.addPod(ns, 'p1', { labels: { app: 'chat' } });
  await c.operator({ resyncIntervalMs: 300 });
  c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
  await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
  // The process is replaced without the Pod object changing: only asking the sidecar reveals it.
  await c.kubelet.partition(ns, 'p1');
  await c.kubelet.heal(ns, 'p1');
  expect(pod.sidecar!.sidecar.config).toBeUndefined();
  await eventually(() => pod.applied, (a) => a.length === 2, 5000, 'the drift re-push');
  expect(pod.applied).toEqual([1, 1]);
  expect((await chat(pod.dataPort, 'chat')).status).toBe(200);
});

describe('operator restarts', () => {
  test('restart when converged → nothing re-pushed, status not rewritten, version unchanged', async () => {
    const pods = await Promise.all(['p1', 'p2'].map((n) => c.kubelet.addPod(ns, n, { labels: { app: 'chat' } })));
    const first = await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    const converged = await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 2));
    await first.stop();
    const writesBefore = c.api.audit.filter((a) => a.resource === 'airoutes' && a.verb === 'update').length;
    const second = await c.operator();
    await second.leading();
    // The new leader observes every sidecar (GET /config) before deciding: wait for that reconcile.
    await eventually(async () => (await second.metrics.reconcileDuration.get()).values.find((v) => v.metricName?.endsWith('_count') && v.labels.result === 'ok')?.value ?? 0, (n) => n >= 1, 5000, 'a reconcile');
    expect(pods.map((p) => p.applied)).toEqual([[1], [1]]);
    expect(c.api.audit.filter((a) => a.resource === 'airoutes' && a.verb === 'update').length).toBe(writesBefore);
    expect(statusOf(c.api.get('airoutes', ns, 'chat'))).toEqual(statusOf(converged));
  });

  test('AIRoute deleted and recreated (status lost) while sidecars run version 1 of other content → new version above it', async () => {
    const pod = await c.kubelet.addPod(ns, 'p1', { labels: { app: 'chat' } });
    await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    await c.api.waitFor('airoutes', ns, 'chat', readyAt(1, 1));
    c.api.delete('airoutes', ns, 'chat');
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('other-model')));
    const again = await c.api.waitFor('airoutes', ns, 'chat', readyAt(2, 1));
    expect(statusOf(again).configVersion).toBe(2);
    expect(pod.applied).toEqual([1, 2]);
    expect(pod.sidecar!.sidecar.config!.hash).toBe(configHash(pod.sidecar!.sidecar.config!.source));
  });
});

describe('two AIRoutes selecting the same pod', () => {
  test('the older keeps the pod; the younger reports Conflict naming it and is not Ready; deleting the older hands the pod over', async () => {
    const pod = await c.kubelet.addPod(ns, 'shared', { labels: { app: 'chat' } });
    await c.operator();
    c.api.create('airoutes', airoute(ns, 'first', demoSpec('first-model')));
    await c.api.waitFor('airoutes', ns, 'first', readyAt(1, 1));
    c.api.create('airoutes', airoute(ns, 'second', demoSpec('second-model')));
    const second = await c.api.waitFor('airoutes', ns, 'second', (o) => conditionOf(o, 'Conflict')?.status === 'True');
    expect(conditionOf(second, 'Conflict')).toMatchObject({ reason: 'PodsOwnedByOtherRoute', message: 'pods shared are also selected by AIRoute first, which is older and keeps them' });
    expect(conditionOf(second, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsOwnedByOtherRoute' });
    const first = await c.api.waitFor('airoutes', ns, 'first', (o) => conditionOf(o, 'Conflict')?.status === 'True');
    expect(conditionOf(first, 'Conflict')!.message).toBe('pods shared are also selected by AIRoute second; this AIRoute is older and keeps them');
    expect(conditionOf(first, 'Ready')!.status).toBe('True');
    expect((await chat(pod.dataPort, 'first-model')).status).toBe(200);
    await eventually(() => events('PodsOwnedByOtherRoute'), (e) => e.length >= 1, 5000, 'the Conflict Event');

    c.api.delete('airoutes', ns, 'first');
    await c.api.waitFor('airoutes', ns, 'second', readyAt(1, 1));
    await eventually(() => pod.sidecar!.sidecar.config?.routes.has('second-model') ?? false, Boolean, 5000, 'the handover');
    // The handed-over pod ran version 1 of first's content, so second mints above it.
    expect(pod.applied).toEqual([1, 2]);
  });
});
