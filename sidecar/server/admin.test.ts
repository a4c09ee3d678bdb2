// The admin router's middleware: readiness while draining, the body limit after authentication,
// and one error shape for everything it refuses.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Sidecar } from '../sidecar.ts';
import { adminServer, MAX_CONFIG_BYTES } from './admin.ts';

let server: Server;
let url = '';
let draining = false;
const pushes: string[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'airoute-admin-unit-'));
  await writeFile(join(dir, 'token'), 't0ken');
  const sc = new Sidecar(pino({ level: 'silent' }));
  server = createServer(adminServer(sc, { tokenFile: join(dir, 'token'), draining: () => draining, onPush: (o) => pushes.push(o) }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('readiness: 503 without a config; 503 "draining" from the first moment of a drain', async () => {
  expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'not ready', reasons: ['no configuration loaded'] });
  draining = true;
  const r = await fetch(`${url}/readyz`);
  expect(r.status).toBe(503);
  expect(await r.json()).toEqual({ status: 'draining', reasons: ['the sidecar is shutting down'] });
  draining = false;
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
});

test('the body limit applies after authentication: no token → 401 without the body read; too large → 413; not JSON → 400', async () => {
  const big = 'x'.repeat(MAX_CONFIG_BYTES + 1);
  const anon = await fetch(`${url}/config`, { method: 'PUT', body: big });
  expect(anon.status).toBe(401);
  expect(await anon.json()).toEqual({ error: { code: 'unauthorized', message: 'missing or invalid bearer token' } });
  const tooBig = await fetch(`${url}/config`, { method: 'PUT', headers: { authorization: 'Bearer t0ken' }, body: big });
  expect(tooBig.status).toBe(413);
  expect(((await tooBig.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
  const notJson = await fetch(`${url}/config`, { method: 'PUT', headers: { authorization: 'Bearer t0ken' }, body: '{nope' });
  expect(notJson.status).toBe(400);
  expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid_body');
  expect(pushes).toEqual(['unauthorized', 'invalid', 'invalid']);
});

test('unknown endpoints and methods → 404 in the same shape; no express banner', async () => {
  const r = await fetch(`${url}/nope`, { method: 'POST' });
  expect(r.status).toBe(404);
  expect(r.headers.get('x-powered-by')).toBeNull();
  expect(await r.json()).toEqual({ error: { code: 'not_found', message: 'no such endpoint: POST /nope' } });
});
