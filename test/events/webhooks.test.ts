// Completion webhooks per the Standard Webhooks spec, only to allow-listed URLs, retried on
// failure; and the backend-in-the-loop pattern where completion waits for the app's backend.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import { MockProvider, sleep } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const SECRET_BYTES = randomBytes(24);
const SECRET = `whsec_${SECRET_BYTES.toString('base64')}`;

interface Delivery {
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

class Receiver {
  readonly got: Delivery[] = [];
  /** Status to answer per delivery, in order; then 200. */
  statuses: number[] = [];
  onDelivery?: (d: Delivery) => void;
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const d = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      this.got.push(d);
      res.writeHead(this.statuses.shift() ?? 200);
      res.end();
      this.onDelivery?.(d);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** The spec's signature, computed by hand: base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)). */
function specSignature(secret: Buffer, id: string, ts: string, body: string): string {
  return `v1,${createHmac('sha256', secret).update(`${id}.${ts}.${body}`).digest('base64')}`;
}

let mock: MockProvider;
let receiver: Receiver;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  receiver = await new Receiver().start();
  sc = await testSidecar({
    backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${mock.url}/v1` }],
    routes: [{ model: 'chat', backends: [{ backend: 'a' }] }],
    webhooks: { allow: [`${receiver.url}/hooks/`], secret: { value: SECRET }, attempts: 3, awaitTimeoutMs: 600 },
  });
});
afterAll(async () => {
  await sc?.close();
  await receiver?.stop();
  await mock?.stop();
});
beforeEach(() => {
  mock.reset();
  mock.answer = { text: 'The answer, delivered by webhook.' };
  receiver.got.length = 0;
  receiver.statuses = [];
  receiver.onDelivery = undefined;
});

const submit = (headers: Record<string, string>) =>
  fetch(`${sc.dataURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'respond-async', ...headers },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }),
  });

async function until<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

describe('webhook', () => {
  test('on completion the receiver gets a signed request.completed; the signature verifies with the spec algorithm and not with a wrong secret', async () => {
    const res = await submit({ 'airoute-callback-url': `${receiver.url}/hooks/done` });
    const { id } = (await res.json()) as { id: string };
    const d = await until(() => receiver.got[0]);
    const wid = d.headers['webhook-id'] as string;
    const ts = d.headers['webhook-timestamp'] as string;
    const sig = d.headers['webhook-signature'] as string;
    expect(wid).toMatch(/^msg_/);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    expect(sig).toBe(specSignature(SECRET_BYTES, wid, ts, d.body));
    expect(sig).not.toBe(specSignature(randomBytes(24), wid, ts, d.body));
    expect(() => new Webhook(SECRET).verify(d.body, d.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(d.body, d.headers as Record<string, string>)).toThrow();
    const payload = JSON.parse(d.body) as { type: string; data: { id: string; status: string; result: { choices: { message: { content: string } }[] } } };
    expect(payload.type).toBe('request.completed');
    expect(payload.data).toMatchObject({ id, status: 'completed' });
    expect(payload.data.result.choices[0]!.message.content).toBe('The answer, delivered by webhook.');
    const view = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { callback: { delivery: { status: string; attempts: number } } };
    expect(view.callback.delivery).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  test('a receiver answering 500 gets the same message again after a backoff; the final outcome shows in the status', async () => {
    receiver.statuses = [500, 503];
    const { id } = (await (await submit({ 'airoute-callback-url': `${receiver.url}/hooks/flaky` })).json()) as { id: string };
    await until(() => receiver.got[2]);
    expect(new Set(receiver.got.map((g) => g.headers['webhook-id'])).size).toBe(1); // one message, redelivered
    expect(receiver.got[1]!.at - receiver.got[0]!.at).toBeGreaterThanOrEqual(150);
    await sleep(50);
    const view = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { callback: { delivery: { status: string; attempts: number; lastStatus: number } } };
    expect(view.callback.delivery).toMatchObject({ status: 'delivered', attempts: 3, lastStatus: 200 });
  });

  test.each([
    ['a URL outside the allow-list', 'http://127.0.0.1:1/hooks/'],
    ['a private address not named in the allow-list', 'http://10.0.0.5/hooks/'],
    ['link-local metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['not http(s)', 'file:///etc/passwd'],
  ])('refused at submission: %s -> 400 callback_not_allowed, nothing runs', async (_n, url) => {
    const res = await submit({ 'airoute-callback-url': url });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('callback_not_allowed');
    expect(mock.received).toHaveLength(0);
  });
});

describe('backend in the loop', () => {
  async function events(id: string): Promise<LifecycleEvent[]> {
    const text = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/events`)).text();
    return text.split('\n\n').flatMap((b) => (/^data: (.*)$/m.exec(b) ? [JSON.parse(/^data: (.*)$/m.exec(b)![1]!) as LifecycleEvent] : []));
  }

  test('subscribers see request.completed only after the backend calls /complete, carrying its payload', async () => {
    receiver.onDelivery = (d) => {
      const p = JSON.parse(d.body) as { type: string; data: { id: string } };
      if (p.type !== 'request.awaiting_callback') return;
      // the app's backend stores the result, then completes the request, signing its call
      setTimeout(() => {
        const body = JSON.stringify({ payload: { stored: true, docId: 'doc-42' } });
        const now = new Date();
        void fetch(`${sc.dataURL}/airoute/v1/requests/${p.data.id}/complete`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'webhook-id': 'msg_backend1', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(SECRET).sign('msg_backend1', now, body) },
          body,
        });
      }, 150);
    };
    const started = Date.now();
    const { id } = (await (await submit({ 'airoute-callback-url': `${receiver.url}/hooks/loop`, 'airoute-await-callback': 'true' })).json()) as { id: string };
    const evs = await events(id); // follows live until the terminal event
    const done = evs.at(-1)!;
    if (done.type !== 'request.completed') throw new Error(`expected request.completed, got ${done.type}`);
    expect(done.data.callback).toEqual({ stored: true, docId: 'doc-42' });
    expect(done.ts - started).toBeGreaterThanOrEqual(150);
    const awaiting = JSON.parse(receiver.got[0]!.body) as { type: string; data: { result: { choices: { message: { content: string } }[] } } };
    expect(awaiting.type).toBe('request.awaiting_callback');
    expect(awaiting.data.result.choices[0]!.message.content).toBe('The answer, delivered by webhook.');
  });

  test('an unsigned /complete is refused with 401 and completes nothing', async () => {
    const { id } = (await (await submit({ 'airoute-callback-url': `${receiver.url}/hooks/loop`, 'airoute-await-callback': 'true' })).json()) as { id: string };
    await until(() => receiver.got[0]);
    const res = await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/complete`, { method: 'POST', body: '{"payload":1}' });
    expect(res.status).toBe(401);
    const evs = await events(id);
    expect(evs.at(-1)!.type).toBe('request.failed'); // the timeout, since nobody completed it properly
  });

  test('a backend that never answers -> an explicit request.failed naming the callback timeout, never a silent hang', async () => {
    const started = Date.now();
    const { id } = (await (await submit({ 'airoute-callback-url': `${receiver.url}/hooks/silent`, 'airoute-await-callback': 'true' })).json()) as { id: string };
    const evs = await events(id);
    const failed = evs.at(-1)!;
    if (failed.type !== 'request.failed') throw new Error(`expected request.failed, got ${failed.type}`);
    expect(failed.data.error).toMatchObject({ code: 'request_timeout', reason: 'callback_timeout' });
    expect(failed.data.error.message).toContain('/complete');
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(evs.some((e) => e.type === 'request.completed')).toBe(false);
  });
});
