// Two sidecars behind one Redis: a request submitted to one is followed live, polled, cancelled
// and completed (backend in the loop) through the other; an Idempotency-Key holds across them;
// two sidecar processes started by the CLI replay the same events.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import WebSocket from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import { MockProvider } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { RedisServer, hasRedis, readSse, spawnSidecar, storedEvents, until, wellFormed, writeConfig, type ChildSidecar } from './support.ts';

const TEXT = 'One request, two replicas, and the story is the same on both.';
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let redis: RedisServer;
let mock: MockProvider;
let A: TestSidecar;
let B: TestSidecar;
/** The app backend's webhook receiver (backend in the loop): allow-listed by its exact port. */
let hook: Server;

const config = () => ({
  backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${mock.url}/v1` }],
  routes: [{ model: 'chat', backends: [{ backend: 'a' }], timeouts: { idleMs: 5000 } }],
  journal: { type: 'redis', url: redis.url, keyPrefix: 'rep:', ownerLeaseMs: 2000 },
  webhooks: { allow: [`http://127.0.0.1:${(hook.address() as { port: number }).port}/`], privateNetworks: ['127.0.0.1/32'], secret: { value: SECRET }, awaitTimeoutMs: 5000 },
});

const submit = (sc: TestSidecar, body: object, headers: Record<string, string> = {}) =>
  fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async', ...headers }, body: JSON.stringify(body) });
const chat = (content = 'x', stream = true) => ({ model: 'chat', stream, messages: [{ role: 'user', content }] });
const deltas = (evs: LifecycleEvent[]) => evs.filter((e) => e.type === 'content.delta').map((e) => e.data.text as string).join('');

describe.skipIf(!hasRedis)('two replicas, one Redis', () => {
  beforeAll(async () => {
    redis = await new RedisServer().start();
    mock = await new MockProvider().start();
    hook = createServer((req, res) => {
      req.resume();
      res.end();
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    A = await testSidecar(config());
    B = await testSidecar(config());
  });
  afterAll(async () => {
    await A?.close();
    await B?.close();
    await mock?.stop();
    await redis?.stop();
    hook?.closeAllConnections();
    await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
  });
  beforeEach(() => {
    mock.reset();
    mock.answer = { text: TEXT, intervalMs: 40 };
  });

  test('a subscriber on B follows a request running on A live (SSE), event by event, to the same end A reports', async () => {
    const res = await submit(A, chat());
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const arrivals: { seq: number; at: number }[] = [];
    const body = (await fetch(`${B.dataURL}/airoute/v1/requests/${id}/events`)).body!;
    let text = '';
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      text += Buffer.from(chunk).toString('utf8');
      for (const m of text.matchAll(/^id: (\d+)$/gm)) if (!arrivals.some((a) => a.seq === Number(m[1]))) arrivals.push({ seq: Number(m[1]), at: Date.now() });
    }
    const { events } = await readSse(new Response(text));
    expect(wellFormed(events, id)).toBeUndefined();
    expect(deltas(events)).toBe(TEXT);
    // live: B had the first content long before A finished the request
    const firstDelta = events.find((e) => e.type === 'content.delta')!;
    const done = events.at(-1)!;
    expect(done.ts - arrivals.find((a) => a.seq === firstDelta.seq)!.at).toBeGreaterThan(200);
    const onA = (await (await fetch(`${A.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string; result: { choices: { message: { content: string } }[] } };
    const onB = (await (await fetch(`${B.dataURL}/airoute/v1/requests/${id}`)).json()) as typeof onA;
    expect(onB).toEqual(onA);
    expect(onB.status).toBe('completed');
    expect(onB.result.choices[0]!.message.content).toBe(TEXT);
  });

  test('the same over a WebSocket on B with ?after=SEQ; unknown ids are 404 on B too', async () => {
    const { id } = (await (await submit(A, chat())).json()) as { id: string };
    const got: LifecycleEvent[] = [];
    const code = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${B.dataURL.replace('http', 'ws')}/airoute/v1/requests/${id}/events?after=1`);
      ws.on('message', (m) => got.push(JSON.parse(m.toString()) as LifecycleEvent));
      ws.on('close', (c) => resolve(c));
      ws.on('error', reject);
    });
    expect(code).toBe(1000);
    const all = await readSse(await fetch(`${A.dataURL}/airoute/v1/requests/${id}/events`));
    expect(got).toEqual(all.events.slice(1));
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${B.dataURL.replace('http', 'ws')}/airoute/v1/requests/nope/events`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(404);
    expect((await fetch(`${B.dataURL}/airoute/v1/requests/nope/events`)).status).toBe(404);
    expect((await fetch(`${B.dataURL}/airoute/v1/requests/nope`)).status).toBe(404);
  });

  test('Idempotency-Key across replicas: the same key sent to A and B at once is one request, run once; another body on B is 422', async () => {
    mock.answer = { text: TEXT };
    const body = chat('once', false);
    const [ra, rb] = await Promise.all([submit(A, body, { 'idempotency-key': 'cross-1' }), submit(B, body, { 'idempotency-key': 'cross-1' })]);
    expect([ra.status, rb.status]).toEqual([202, 202]);
    const [ja, jb] = (await Promise.all([ra.json(), rb.json()])) as { id: string }[];
    expect(ja!.id).toBe(jb!.id);
    expect([ra.headers.get('idempotent-replayed'), rb.headers.get('idempotent-replayed')].filter(Boolean)).toHaveLength(1);
    const other = await submit(B, chat('twice', false), { 'idempotency-key': 'cross-1' });
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_conflict');
    await readSse(await fetch(`${B.dataURL}/airoute/v1/requests/${ja!.id}/events`));
    expect(mock.received).toHaveLength(1);
    const later = await submit(A, body, { 'idempotency-key': 'cross-1' });
    expect(((await later.json()) as { id: string; status: string }).id).toBe(ja!.id);
  });

  test('cancel on B of a request running on A: A aborts upstream, both see cancelled, one request.cancelled', async () => {
    mock.answer = { text: TEXT, intervalMs: 100 };
    const { id } = (await (await submit(A, chat())).json()) as { id: string };
    await until('streaming', () => mock.received.length === 1);
    await new Promise((r) => setTimeout(r, 150));
    const res = await fetch(`${B.dataURL}/airoute/v1/requests/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('cancelled');
    await until('upstream aborted', () => mock.received[0]!.closedAt !== undefined, 3000);
    const { events } = await readSse(await fetch(`${B.dataURL}/airoute/v1/requests/${id}/events`));
    expect(wellFormed(events, id)).toBeUndefined();
    expect(events.at(-1)!.type).toBe('request.cancelled');
    expect(((await (await fetch(`${A.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string }).status).toBe('cancelled');
    expect((await fetch(`${B.dataURL}/airoute/v1/requests/${id}/cancel`, { method: 'POST' })).status).toBe(409);
  });

  test('backend in the loop across replicas: the signed /complete reaches B, the request on A completes with its payload', async () => {
    mock.answer = { text: TEXT };
    {
      const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}/done`;
      const { id } = (await (await submit(A, chat('loop', false), { 'airoute-callback-url': url, 'airoute-await-callback': 'true' })).json()) as { id: string };
      await until('awaiting_callback on B', async () => ((await (await fetch(`${B.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string }).status === 'awaiting_callback');
      const body = JSON.stringify({ requestId: id, payload: { stored: 'on-B' } });
      const now = new Date();
      const res = await fetch(`${B.dataURL}/airoute/v1/requests/${id}/complete`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': 'msg_b', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(SECRET).sign('msg_b', now, body) },
        body,
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('completed');
      const { events } = await readSse(await fetch(`${B.dataURL}/airoute/v1/requests/${id}/events`));
      expect(events.at(-1)).toMatchObject({ type: 'request.completed', data: { callback: { stored: 'on-B' } } });
    }
  });
});

describe.skipIf(!hasRedis)('two sidecar processes (CLI), one Redis', () => {
  let r2: RedisServer;
  let m2: MockProvider;
  let p1: ChildSidecar | undefined;
  let p2: ChildSidecar | undefined;
  beforeAll(async () => {
    r2 = await new RedisServer().start();
    m2 = await new MockProvider().start();
    m2.answer = { text: TEXT, intervalMs: 30 };
    const file = writeConfig({
      backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${m2.url}/v1` }],
      routes: [{ model: 'chat', backends: [{ backend: 'a' }] }],
      journal: { type: 'redis', url: r2.url },
    });
    [p1, p2] = await Promise.all([spawnSidecar(file), spawnSidecar(file)]);
  });
  afterAll(async () => {
    await p1?.kill('SIGTERM');
    await p2?.kill('SIGTERM');
    await m2?.stop();
    await r2?.stop();
  });

  test('replay across processes: a sync stream on one, its events replayed in full from the other, as stored', async () => {
    const res = await fetch(`${p1!.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat()) });
    const id = res.headers.get('x-airoute-request-id')!;
    const streamed = await res.text();
    expect(streamed).toContain('[DONE]');
    const other = await until('the last event on the other process', async () => {
      const r = await readSse(await fetch(`${p2!.url}/airoute/v1/requests/${id}/events`));
      return r.events.at(-1)?.type === 'request.completed' ? r : undefined;
    });
    expect(wellFormed(other.events, id)).toBeUndefined();
    expect(deltas(other.events)).toBe(TEXT);
    const same = await readSse(await fetch(`${p1!.url}/airoute/v1/requests/${id}/events?after=3`));
    expect(same.events).toEqual(other.events.slice(3));
    expect((await storedEvents(r2.client(), id)).events).toEqual(other.events);
    expect((await (await fetch(`${p2!.adminURL}/readyz`)).json())).toMatchObject({ status: 'ready' });
  });
});
