// The receiver behind a real HTTP server, fed by the sidecar's own webhook sender.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deliverWebhook } from '../../requests/webhooks.ts';
import { MAX_KEPT, WebhookReceiver, type ReceivedWebhook } from './receiver.ts';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const receiver = new WebhookReceiver(() => SECRET);
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^\/hooks(?:\/([^/?]+))?(?:\?wait=(\d+))?$/.exec(req.url ?? '');
    if (req.method === 'POST' && m && !m[1]) void receiver.receive(req, res);
    else if (req.method === 'GET' && m?.[1]) void receiver.serve(res, m[1], Number(m[2] ?? 0));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const payload = (id: string, type = 'request.completed') => ({ type, timestamp: new Date().toISOString(), data: { id, status: 'completed' } });
const send = (id: string, secret = SECRET) => deliverWebhook(url, payload(id), { secret, attempts: 1, timeoutMs: 2000 });

test('a webhook signed with the secret is answered 204 and kept as verified, with its headers', async () => {
  expect(await send('r1')).toMatchObject({ ok: true, status: 204 });
  const got = (await (await fetch(`${url}/r1`)).json()) as ReceivedWebhook;
  expect(got).toMatchObject({ requestId: 'r1', type: 'request.completed', verified: true, payload: { data: { id: 'r1' } } });
  expect(got.headers['webhook-id']).toMatch(/^msg_/);
  expect(got.headers['webhook-signature']).toMatch(/^v1,/);
});

test('a webhook signed with another secret is refused with 401, shown as not verified, and never replaces a verified one', async () => {
  const other = `whsec_${randomBytes(24).toString('base64')}`;
  expect(await send('r2', other)).toMatchObject({ ok: false, status: 401 });
  expect(await (await fetch(`${url}/r2`)).json()).toMatchObject({ requestId: 'r2', verified: false, reason: expect.stringMatching(/signature/i) });
  expect(await send('r1', other)).toMatchObject({ status: 401 });
  expect(await (await fetch(`${url}/r1`)).json()).toMatchObject({ verified: true });
});

test('a page waiting for a webhook gets it the moment it arrives; with none, 404 after the wait', async () => {
  const waiting = fetch(`${url}/r3?wait=5000`);
  await new Promise((r) => setTimeout(r, 50));
  await send('r3');
  expect(await (await waiting).json()).toMatchObject({ requestId: 'r3', verified: true });
  expect((await fetch(`${url}/never?wait=30`)).status).toBe(404);
});

test(`only the last ${MAX_KEPT} webhooks are kept`, async () => {
  for (let i = 0; i < MAX_KEPT + 1; i++) await send(`bulk-${i}`);
  expect((await fetch(`${url}/bulk-0`)).status).toBe(404);
  expect((await fetch(`${url}/bulk-${MAX_KEPT}`)).status).toBe(200);
});
