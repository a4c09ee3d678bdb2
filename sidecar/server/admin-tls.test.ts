// The injected sidecar's admin port: TLS; pushes and the identity token only for the operator's
// client certificate (issued by the push CA); probes and metrics for anyone.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSidecar, type RunningSidecar } from '../start.ts';
import pino from 'pino';
import { issueCertificate, type IssuedCertificate } from '../tls/x509.ts';

let sc: RunningSidecar;
let ca: IssuedCertificate;
let operator: IssuedCertificate;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'airoute-admin-tls-'));
  await writeFile(join(dir, 'token'), 'pod-bound-token\n');
  ca = issueCertificate({ commonName: 'airoute push CA', validityDays: 10, ca: true });
  operator = issueCertificate({ commonName: 'airoute-operator', validityDays: 1, usage: ['client'], issuer: ca });
  sc = await startSidecar({ waitForPush: true, port: 0, adminPort: 0, pushCa: ca.cert, identityTokenFile: join(dir, 'token'), logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await sc.close();
});

function call(method: string, path: string, client?: { cert: string; key: string }, body?: string): Promise<{ status: number; json: Record<string, unknown>; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(sc.adminURL);
    const req = request({ host: u.hostname, port: u.port, method, path, rejectUnauthorized: false, ...(client ?? {}), headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown>, fingerprint }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const push = JSON.stringify({ version: 1, config: { backends: [{ name: 'd', type: 'demo' }], routes: [{ model: 'm', backends: [{ backend: 'd' }] }] } });

test('the admin port speaks TLS with the sidecar’s own certificate; probes need no client certificate', async () => {
  expect(sc.adminURL).toMatch(/^https:\/\//);
  const r = await call('GET', '/readyz');
  expect(r.status).toBe(503);
  expect(r.fingerprint).toBe(sc.adminFingerprint);
  expect((await call('GET', '/healthz')).status).toBe(200);
});

test('PUT /config: no client certificate → 401; one from another CA → 401; the push CA but not the operator’s name → 403; nothing applied', async () => {
  expect((await call('PUT', '/config', undefined, push)).status).toBe(401);
  const otherCa = issueCertificate({ commonName: 'someone else', validityDays: 1, ca: true });
  const forged = issueCertificate({ commonName: 'airoute-operator', validityDays: 1, usage: ['client'], issuer: otherCa });
  const r = await call('PUT', '/config', forged, push);
  expect(r.status).toBe(401);
  expect((r.json.error as { message: string }).message).toMatch(/not issued by the push CA/);
  const wrongName = issueCertificate({ commonName: 'app', validityDays: 1, usage: ['client'], issuer: ca });
  expect((await call('PUT', '/config', wrongName, push)).status).toBe(403);
  expect(sc.sidecar.config).toBeUndefined();
});

test('GET /identity gives the pod’s token to the operator only; the operator’s push is applied', async () => {
  expect((await call('GET', '/identity')).status).toBe(401);
  const id = await call('GET', '/identity', operator);
  expect(id).toMatchObject({ status: 200, json: { token: 'pod-bound-token' } });
  const r = await call('PUT', '/config', operator, push);
  expect(r.status).toBe(200);
  expect(sc.sidecar.config!.version).toBe(1);
});
