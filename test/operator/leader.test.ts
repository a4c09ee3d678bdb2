// Two operator replicas on one Lease: exactly one reconciles; when it dies the other takes over
// within the lease duration (plus one retry period) and converges what changed meanwhile.
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { JsonObject } from '../k8s/schema.ts';
import { airoute, demoSpec, readyAt, testCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await c.close();
});

const LEASE_MS = 2000;
const RETRY_MS = 200;
const lease = () => c.api.get('leases', 'airoute-system', 'airoute-operator')!.spec as JsonObject;
const pushesBy = async (op: { metrics: { pushes: { get(): Promise<{ values: { value: number }[] }> } } }) => (await op.metrics.pushes.get()).values.reduce((n, v) => n + v.value, 0);

test('two replicas: one leader pushes, the other does not; leader crashes → follower leads within leaseDuration + retryPeriod and converges the change made meanwhile', async () => {
  const pod = await c.kubelet.addPod('ns', 'p', { labels: { app: 'chat' } });
  const a = await c.operator();
  await a.leading();
  const b = await c.operator();
  c.api.create('airoutes', airoute('ns', 'chat', demoSpec('chat')));
  await c.api.waitFor('airoutes', 'ns', 'chat', readyAt(1, 1));
  expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
  expect(await pushesBy(b)).toBe(0);
  expect(lease()).toMatchObject({ holderIdentity: expect.stringMatching(/^operator-/), leaseDurationSeconds: 2, renewTime: expect.stringMatching(/\.\d{6}Z$/) });
  const holderA = lease().holderIdentity;
  const transitions = lease().leaseTransitions as number;

  // The leader dies without releasing the Lease; the follower must wait it out, and no longer.
  await a.stop({ crash: true });
  const died = Date.now();
  const cur = c.api.get('airoutes', 'ns', 'chat')!;
  c.api.update('airoutes', { ...cur, spec: demoSpec('chat-after-failover') as unknown as JsonObject });
  await b.leading();
  const tookOver = Date.now() - died;
  // Slack for a loaded CI machine; the bound itself is leaseDuration + retryPeriod.
  expect(tookOver).toBeLessThanOrEqual(LEASE_MS + RETRY_MS + 1000);
  expect(lease().holderIdentity).not.toBe(holderA);
  expect(lease().leaseTransitions).toBe(transitions + 1);
  await c.api.waitFor('airoutes', 'ns', 'chat', readyAt(2, 1));
  expect(pod.applied).toEqual([1, 2]);
});

test('a clean shutdown releases the Lease: the follower takes over at its next retry, not after the lease duration', async () => {
  const a = await c.operator();
  await a.leading();
  const b = await c.operator();
  const stopped = Date.now();
  await a.stop();
  await b.leading();
  expect(Date.now() - stopped).toBeLessThan(LEASE_MS);
});
