// `/complete` is bound to its request: the signed body names the request id, so a signature made
// for request A never completes request B, and a signed message is accepted once (a replay is
// refused even to the request it was made for).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { chatCompletion, json, ScriptedUpstream, sleep } from './upstream.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
let up: ScriptedUpstream;
let sc: TestSidecar;
let hooks: Server;
const awaiting = new Set<string>();

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  up.fallback = (res) => json(res, 200, chatCompletion('a result for the backend'));
  hooks = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += String(c);
    const p = JSON.parse(body) as { type: string; data: { id: string } };
    if (p.type === 'request.awaiting_callback') awaiting.add(p.data.id);
    res.end();
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', () => r()));
  const port = (hooks.address() as AddressInfo).port;
  sc = await testSidecar({
    backends: [{ name: 'up', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: 'sk-complete-0123456789' } }],
    routes: [{ model: 'chat', backends: [{ backend: 'up' }] }],
    webhooks: { allow: [`http://127.0.0.1:${port}/`], privateNetworks: ['127.0.0.1/32'], secret: { value: SECRET }, awaitTimeoutMs: 20_000 },
  });
});
afterAll(async () => {
  await sc?.close();
  await up?.stop();
  hooks?.closeAllConnections();
  await new Promise((r) => hooks?.close(r));
});

async function awaitingRequest(): Promise<string> {
  const port = (hooks.address() as AddressInfo).port;
  const r = await fetch(`${sc.dataURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'respond-async', 'airoute-callback-url': `http://127.0.0.1:${port}/loop`, 'airoute-await-callback': 'true' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const { id } = (await r.json()) as { id: string };
  for (let i = 0; i < 200 && !awaiting.has(id); i++) await sleep(10);
  expect(awaiting.has(id)).toBe(true);
  return id;
}

function signed(msgId: string, body: object): { headers: Record<string, string>; body: string } {
  const text = JSON.stringify(body);
  const now = new Date();
  return {
    headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(SECRET).sign(msgId, now, text) },
    body: text,
  };
}

const complete = (id: string, m: { headers: Record<string, string>; body: string }) => fetch(`${sc.dataURL}/airoute/v1/requests/${id}/complete`, { method: 'POST', ...m });
const statusOf = async (id: string) => ((await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string; callback?: { payload?: unknown } });

test('a /complete signed for request A, sent to request B → 401 callback_unauthorized; B keeps waiting; the same message completes A', async () => {
  const a = await awaitingRequest();
  const b = await awaitingRequest();
  const forA = signed('msg_for_a', { requestId: a, payload: { stored: 'A' } });
  const wrong = await complete(b, forA);
  expect(wrong.status).toBe(401);
  expect(await wrong.json()).toMatchObject({ error: { code: 'callback_unauthorized' } });
  expect((await statusOf(b)).status).toBe('awaiting_callback');
  const right = await complete(a, forA);
  expect(right.status).toBe(200);
  expect(await statusOf(a)).toMatchObject({ status: 'completed', callback: { payload: { stored: 'A' } } });
  expect((await statusOf(b)).status).toBe('awaiting_callback');
});

test('a replay of an accepted message is refused (409 callback_replayed), and a message without the request id in its signed body is refused (401)', async () => {
  const c = await awaitingRequest();
  const msg = signed('msg_once', { requestId: c, payload: 1 });
  expect((await complete(c, msg)).status).toBe(200);
  const again = await complete(c, msg);
  expect(again.status).toBe(409);
  expect(await again.json()).toMatchObject({ error: { code: 'callback_replayed' } });
  const d = await awaitingRequest();
  const reused = await complete(d, signed('msg_once', { requestId: d, payload: 2 }));
  expect(reused.status).toBe(409);
  const bare = await complete(d, signed('msg_bare', { payload: 3 }));
  expect(bare.status).toBe(401);
  expect(((await bare.json()) as { error: { message: string } }).error.message).toContain(`"requestId": "${d}"`);
  expect((await statusOf(d)).status).toBe('awaiting_callback');
});
