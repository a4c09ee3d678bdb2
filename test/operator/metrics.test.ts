// Operator metrics on /metrics: reconcile duration/errors, queue depth, push latency/outcomes,
// pods synced per route, leadership.
import { request } from 'undici';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { airoute, demoSpec, eventually, readyAt, testCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await c.close();
});

test('/metrics exposes reconcile, queue, push and per-route sync metrics; /readyz once caches synced', async () => {
  await c.kubelet.addPod('ns', 'p1', { labels: { app: 'chat' } });
  await c.kubelet.addPod('ns', 'p2', { labels: { app: 'chat' } });
  const op = await c.operator({ http: { host: '127.0.0.1', port: 0 } });
  c.api.create('airoutes', airoute('ns', 'chat', demoSpec('chat')));
  await c.api.waitFor('airoutes', 'ns', 'chat', readyAt(1, 2));
  const scrape = async () => (await request(`http://127.0.0.1:${op.httpPort}/metrics`)).body.text();
  // Status is written inside the reconcile; its duration is observed when it returns.
  // The gauges are set when the reconcile that wrote Ready returns.
  const text = await eventually(scrape, (t) => t.includes('airoute_operator_reconcile_duration_seconds_count{result="ok"}') && t.includes('airoute_operator_route_pods_synced{namespace="ns",route="chat"} 2'), 5000, 'a finished reconcile');
  for (const name of ['airoute_operator_reconcile_duration_seconds_bucket', 'airoute_operator_reconcile_errors_total', 'airoute_operator_queue_depth', 'airoute_operator_push_duration_seconds_bucket', 'airoute_operator_is_leader 1'])
    expect(text, name).toContain(name);
  expect(text).toContain('airoute_operator_pushes_total{outcome="applied"} 2');
  expect(text).toContain('airoute_operator_route_pods_synced{namespace="ns",route="chat"} 2');
  expect(text).toContain('airoute_operator_route_pods_targeted{namespace="ns",route="chat"} 2');
  expect((await request(`http://127.0.0.1:${op.httpPort}/readyz`)).statusCode).toBe(200);
});
