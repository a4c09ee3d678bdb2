// The operator sends a config (it holds decrypted keys) only to the sidecar of the pod it means:
// the sidecar must show a ServiceAccount token the API server says is bound to that pod's uid,
// over the TLS connection whose certificate is then pinned. Faults: the pod's address answered by
// another pod's sidecar (an IP reused), and a TLS relay in front of the right sidecar.
// Never: a config (or any request beyond the identity check) reaching the wrong process.
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { issueCertificate } from '../../sidecar/tls/x509.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { airoute, conditionOf, demoSpec, eventually, testCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
beforeEach(async () => {
  c = await testCluster();
});
afterEach(async () => {
  await c.close();
});

const ns = 'team-a';

/** Points the Pod object's admin port somewhere else (what the operator dials). */
function repoint(name: string, port: number): void {
  const p = c.api.get('pods', ns, name)!;
  const m = p.metadata as JsonObject;
  c.api.update('pods', { ...p, metadata: { ...m, annotations: { ...(m.annotations as JsonObject), 'airoute.dev/admin-port': String(port) } } });
}

test('the pod’s address is answered by another pod’s sidecar → it proves to be that pod: nothing is pushed to it; Synced=False names the mismatch', async () => {
  const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
  const other = await c.kubelet.addPod(ns, 'other', { labels: { app: 'other' } });
  await a.sidecar!.close(); // chat-a's sidecar is gone; its address now leads to `other`
  repoint('chat-a', other.adminPort);
  const op = await c.operator();
  c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
  const st = await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'Synced')?.reason === 'Unreachable');
  expect(conditionOf(st, 'Synced')!.message).toBe('0/1 pods run config version 1; no running pod could be reached: chat-a');
  expect(conditionOf(st, 'Ready')!.status).toBe('False');
  await eventually(async () => (await op.metrics.pushes.get()).values.find((v) => v.labels.outcome === 'unverified')?.value ?? 0, (n) => n >= 1, 5000, 'an unverified sidecar');
  expect(other.applied).toEqual([]);
  expect(other.sidecar!.sidecar.config).toBeUndefined();
  expect(c.logs.some((l) => l.includes('is pod other') && l.includes('not chat-a'))).toBe(true);
});

test('a TLS relay in front of the right sidecar cannot obtain its identity (it cannot show the operator’s certificate): nothing goes through it', async () => {
  const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
  const seen: string[] = [];
  const own = issueCertificate({ commonName: 'relay', validityDays: 1, usage: ['server'] });
  const relay: Server = createHttpsServer({ key: own.key, cert: own.cert }, (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    // Forwards to the real sidecar as any client can: without the operator's certificate.
    const up = httpsRequest({ host: '127.0.0.1', port: a.adminPort, method: req.method, path: req.url, headers: req.headers, rejectUnauthorized: false }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  try {
    repoint('chat-a', (relay.address() as AddressInfo).port);
    await c.operator();
    c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
    await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'Synced')?.reason === 'Unreachable');
    await eventually(() => seen.length, (n) => n >= 1, 5000, 'the identity request through the relay');
    expect(seen.every((s) => s === 'GET /identity')).toBe(true);
    expect(a.applied).toEqual([]);
    expect(c.logs.some((l) => l.includes('GET /identity answered 401'))).toBe(true);
  } finally {
    relay.closeAllConnections();
    await new Promise((r) => relay.close(r));
  }
});

test('the right sidecar: proven once per incarnation with a TokenReview, then pushed over the pinned connection', async () => {
  const a = await c.kubelet.addPod(ns, 'chat-a', { labels: { app: 'chat' } });
  await c.operator();
  c.api.create('airoutes', airoute(ns, 'chat', demoSpec('chat')));
  await c.api.waitFor('airoutes', ns, 'chat', (o) => conditionOf(o, 'Ready')?.status === 'True');
  expect(a.applied).toEqual([1]);
  expect(c.api.audit.filter((x) => x.resource === 'tokenreviews')).toHaveLength(1);
  await c.kubelet.restartSidecar(ns, 'chat-a'); // a new incarnation: a new certificate, proven again
  await eventually(() => a.applied.length, (n) => n === 2, 5000, 'the push to the new incarnation');
  expect(c.api.audit.filter((x) => x.resource === 'tokenreviews')).toHaveLength(2);
});
