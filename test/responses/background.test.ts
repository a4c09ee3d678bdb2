// Background responses through the official `openai` SDK, on any backend: `background: true`
// answers at once, `retrieve` polls it, a dropped stream resumes with `starting_after` (no gap, no
// duplicate), `cancel` stops the upstream, `delete` forgets; on the async machinery, so the same
// idempotency keys, capacity limit, signed webhooks and lifecycle events apply.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import { MockProvider, chunkText, sleep } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const TEXT = 'Background mode runs the answer on the sidecar, and a client that lost its stream picks it up where it left off.';
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const KINDS = ['openai', 'anthropic', 'openai-compatible'] as const;

let mock: MockProvider;
let sc: TestSidecar;
let hooks: Server;
let hookUrl = '';
const delivered: { headers: Record<string, string>; body: string }[] = [];

beforeAll(async () => {
  mock = await new MockProvider().start();
  hooks = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    delivered.push({ headers: req.headers as Record<string, string>, body });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks`;
  const retry = { attempts: 2, backoff: { baseMs: 5, maxMs: 10 } };
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1` },
      { name: 'an', type: 'anthropic', baseURL: mock.url },
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1` },
    ],
    routes: [
      { model: 'via-openai', backends: [{ backend: 'oa', model: 'gpt-4o' }], retry },
      { model: 'via-anthropic', backends: [{ backend: 'an', model: 'claude-haiku-4-5' }], retry },
      { model: 'via-openai-compatible', backends: [{ backend: 'co', model: 'llama' }], retry },
    ],
    async: { maxInFlight: 3 },
    webhooks: { allow: [hookUrl], privateNetworks: ['127.0.0.1/32'], secret: { value: SECRET } },
  });
});

afterAll(async () => {
  await sc?.close();
  await mock?.stop();
  hooks?.closeAllConnections();
  await new Promise<void>((r) => hooks?.close(() => r()));
});

beforeEach(async () => {
  // each test starts with no background response of an earlier one still running
  while (sc.requests.inFlight > 0) await sleep(10);
  mock.reset();
  mock.answer = { text: TEXT, inputTokens: 14, outputTokens: chunkText(TEXT).length, intervalMs: 15 };
  delivered.length = 0;
});

const client = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });

async function settled(id: string): Promise<OpenAI.Responses.Response> {
  for (;;) {
    const r = await client().responses.retrieve(id);
    if (r.status !== 'queued' && r.status !== 'in_progress') return r;
    await sleep(20);
  }
}

describe.each(KINDS)('%s backend', (kind) => {
  const model = `via-${kind}`;

  test('background: true answers at once, queued or in progress; polling reaches the completed answer with usage', async () => {
    const r = await client().responses.create({ model, input: 'Explain background mode.', instructions: 'Be precise.', background: true });
    // answered before the answer exists: the response says so itself
    expect(r).toMatchObject({ object: 'response', background: true, instructions: 'Be precise.' });
    expect(['queued', 'in_progress']).toContain(r.status);
    expect(r.id).toMatch(/^resp_[0-9a-f]{32}$/);
    const done = await settled(r.id);
    expect(done).toMatchObject({ id: r.id, status: 'completed', background: true, usage: { input_tokens: 14, output_tokens: chunkText(TEXT).length } });
    expect(done.output_text).toBe(TEXT);
  });

  test('a dropped stream resumes with retrieve(id, {stream, starting_after}): the rest, numbered on from the cut, never a gap or a repeat', async () => {
    const first = await client().responses.create({ model, input: 'Explain background mode.', background: true, stream: true });
    let id = '';
    let cursor = -1;
    let text = '';
    for await (const ev of first) {
      expect(ev.sequence_number).toBe(cursor + 1);
      cursor = ev.sequence_number;
      if (ev.type === 'response.created') id = ev.response.id;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (text.length > 20) break; // the connection drops mid-answer
    }
    expect(text.length).toBeLessThan(TEXT.length);
    const rest = await client().responses.retrieve(id, { stream: true, starting_after: cursor });
    let last: OpenAI.Responses.ResponseStreamEvent | undefined;
    for await (const ev of rest) {
      expect(ev.sequence_number).toBe(cursor + 1);
      cursor = ev.sequence_number;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      last = ev;
    }
    expect(text).toBe(TEXT);
    expect(last).toMatchObject({ type: 'response.completed', response: { id, status: 'completed' } });
    // the SDK's own helper replays from the start and skips what the caller already has
    const again = client().responses.stream({ response_id: id, starting_after: 5 });
    const seqs: number[] = [];
    for await (const ev of again) seqs.push(ev.sequence_number);
    expect(seqs[0]).toBe(6);
    expect((await again.finalResponse()).output_text).toBe(TEXT);
  });
});

describe('cancel, delete, errors', () => {
  test('cancel mid-answer: the upstream is let go, the response is cancelled, its stream ends with it; cancelling again changes nothing', async () => {
    mock.answer = { ...mock.answer, intervalMs: 50 };
    const r = await client().responses.create({ model: 'via-anthropic', input: 'Long one.', background: true });
    while (mock.received.length === 0) await sleep(10);
    await sleep(120);
    const c = await client().responses.cancel(r.id);
    expect(c.status).toBe('cancelled');
    // the upstream connection is let go, not read to its end
    while (mock.received[0]!.closedAt === undefined) await sleep(10);
    expect(mock.received[0]!.sent).not.toContain('message_stop');
    expect((await client().responses.retrieve(r.id)).status).toBe('cancelled');
    expect((await client().responses.cancel(r.id)).status).toBe('cancelled');
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const ev of await client().responses.retrieve(r.id, { stream: true })) events.push(ev);
    expect(events.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'cancelled' } });
  });

  test('delete forgets a response: then it is not found, and neither is an id that never was', async () => {
    const r = await client().responses.create({ model: 'via-openai-compatible', input: 'x', background: true });
    await settled(r.id);
    const res = await fetch(`${sc.dataURL}/v1/responses/${r.id}`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ id: r.id, object: 'response', deleted: true });
    const err = await client().responses.retrieve(r.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as Error).message).toContain(`Response with id '${r.id}' not found.`);
    expect(await client().responses.delete('resp_00000000000000000000000000000000').catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
  });

  test('every attempt rate-limited: the response fails with the error; its stream ends with response.failed and an error the SDK raises', async () => {
    mock.faults = [{ status: 429 }, { status: 429 }];
    const r = await client().responses.create({ model: 'via-openai', input: 'x', background: true });
    const done = await settled(r.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'upstream_rate_limited' });
    const stream = client().responses.stream({ response_id: r.id });
    const err = await stream.finalResponse().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(mock.received).toHaveLength(2);
  });

  test('background with store: false is refused as OpenAI refuses it', async () => {
    const err = await client()
      .responses.create({ model: 'via-openai', input: 'x', background: true, store: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(mock.received).toEqual([]);
  });
});

describe('the async machinery underneath', () => {
  test('its request id is the response id; the lifecycle is at /airoute/v1/requests/{id}/events', async () => {
    const res = await fetch(`${sc.dataURL}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'via-openai', input: 'x', background: true }) });
    const body = (await res.json()) as { id: string };
    const requestId = res.headers.get('x-airoute-request-id')!;
    expect(body.id).toBe(`resp_${requestId.replaceAll('-', '')}`);
    await settled(body.id);
    const sse = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${requestId}/events`)).text();
    const events = [...sse.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as LifecycleEvent);
    expect(events[0]!.type).toBe('request.accepted');
    expect(events.at(-1)!.type).toBe('request.completed');
    expect(events.filter((e) => e.type === 'content.delta').map((e) => (e.data as { text?: string }).text ?? '').join('')).toBe(TEXT);
  });

  test('an Idempotency-Key makes create safe to retry: the same response again; another body with it is a 422', async () => {
    const key = `k-${randomBytes(6).toString('hex')}`;
    const headers = { 'idempotency-key': key };
    const a = await client().responses.create({ model: 'via-openai', input: 'once', background: true }, { headers });
    const b = await client().responses.create({ model: 'via-openai', input: 'once', background: true }, { headers });
    expect(b.id).toBe(a.id);
    const err = await client()
      .responses.create({ model: 'via-openai', input: 'other', background: true }, { headers })
      .catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(422);
    await settled(a.id);
    expect(mock.received).toHaveLength(1);
  });

  test('past the async capacity a background create is a 429 with Retry-After; nothing is sent upstream for it', async () => {
    mock.answer = { ...mock.answer, intervalMs: 40 };
    const running = await Promise.all([1, 2, 3].map(() => client().responses.create({ model: 'via-openai', input: 'x', background: true })));
    const res = await fetch(`${sc.dataURL}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'via-openai', input: 'x', background: true }) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    await Promise.all(running.map((r) => settled(r.id)));
    expect(mock.received).toHaveLength(3);
  });

  test('with Airoute-Callback-Url, completion is a signed Standard Webhook carrying the response object', async () => {
    const r = await client().responses.create({ model: 'via-anthropic', input: 'x', background: true }, { headers: { 'airoute-callback-url': hookUrl } });
    await settled(r.id);
    while (delivered.length === 0) await sleep(10);
    const d = delivered[0]!;
    const payload = new Webhook(SECRET).verify(d.body, d.headers) as { type: string; data: { status: string; result: { id: string; output: unknown[] } } };
    expect(payload.type).toBe('request.completed');
    expect(payload.data.result).toMatchObject({ id: r.id, object: 'response', status: 'completed' });
  });
});
