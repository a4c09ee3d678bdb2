// The request lifecycle as events: ordering and gaplessness across retries, fallbacks and
// resumes; replay from any point over SSE and WebSocket; async submit/poll/cancel; retention.
import OpenAI from 'openai';
import WebSocket from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import { MockProvider, chunkText, sleep, resetMocks } from '../support/mock-provider.ts';
import { streamWith } from '../support/clients.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const TEXT = 'Events tell the frontend what really happened, in order, with nothing lost and nothing repeated on reconnect.';
let a: MockProvider;
let b: MockProvider;
let sc: TestSidecar;
const noCircuit = { consecutiveFailures: 1000, minimumRequests: 100000 };

beforeAll(async () => {
  a = await new MockProvider().start();
  b = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'a', type: 'openai-compatible', baseURL: `${a.url}/v1`, circuit: noCircuit },
      { name: 'b', type: 'anthropic', baseURL: b.url, circuit: noCircuit },
    ],
    routes: [
      {
        model: 'chat',
        backends: [{ backend: 'a', model: 'ma' }, { backend: 'b', model: 'mb' }],
        retry: { attempts: 2, backoff: { baseMs: 1, maxMs: 5 } },
        timeouts: { firstTokenMs: 500, idleMs: 300, totalMs: 20000 },
        resume: 'prefill',
      },
    ],
    async: { maxInFlight: 3 },
  });
});
afterAll(async () => {
  await sc?.close();
  await a?.stop();
  await b?.stop();
});
beforeEach(() => resetMocks({ text: TEXT }, a, b));

/** Reads an SSE response to its end: the events, and the `id:` of each. */
async function readSse(res: Response): Promise<{ events: LifecycleEvent[]; ids: number[] }> {
  const text = await res.text();
  const events: LifecycleEvent[] = [];
  const ids: number[] = [];
  for (const block of text.split('\n\n')) {
    const id = /^id: (\d+)$/m.exec(block);
    const data = /^data: (.*)$/m.exec(block);
    if (id && data) {
      ids.push(Number(id[1]));
      events.push(JSON.parse(data[1]!) as LifecycleEvent);
    }
  }
  return { events, ids };
}

const eventsUrl = (id: string, q = '') => `${sc.dataURL}/airoute/v1/requests/${id}/events${q}`;
const deltasText = (evs: LifecycleEvent[]) => evs.filter((e) => e.type === 'content.delta').map((e) => e.data.text as string).join('');

function expectWellFormed(evs: LifecycleEvent[], id: string) {
  expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
  expect(evs.every((e) => e.requestId === id)).toBe(true);
  const terminals = evs.filter((e) => ['request.completed', 'request.failed', 'request.cancelled'].includes(e.type));
  expect(terminals).toHaveLength(1);
  expect(evs.at(-1)).toBe(terminals[0]);
  expect(evs[0]!.type).toBe('request.accepted');
  for (let i = 1; i < evs.length; i++) expect(evs[i]!.ts).toBeGreaterThanOrEqual(evs[i - 1]!.ts);
}

describe('ordering', () => {
  test('a sync stream with a 429, then a mid-stream drop resumed on the fallback: gapless seq, one terminal event, the story in order', async () => {
    a.faults = [{ status: 429, retryAfterMs: '1' }, { dropAfter: 4 }, { status: 500 }, { status: 500 }];
    const t = await streamWith('openai', sc.dataURL, { model: 'chat' });
    expect(t.text).toBe(TEXT);
    const id = t.headers!.get('x-airoute-request-id')!;
    const { events, ids } = await readSse(await fetch(eventsUrl(id)));
    expect(ids).toEqual(events.map((e) => e.seq));
    expectWellFormed(events, id);
    const story = events.map((e) => e.type).filter((ty) => ty !== 'content.delta');
    expect(story).toEqual([
      'request.accepted',
      'attempt.started', // a: 429
      'attempt.failed',
      'retry.scheduled',
      'attempt.started', // a: streams, then drops
      'attempt.failed',
      'checkpoint',
      'attempt.started', // a: continuation, 500
      'attempt.failed',
      'retry.scheduled',
      'attempt.started', // a: 500 again
      'attempt.failed',
      'fallback',
      'attempt.started', // b continues with the prefix
      'stream.resumed',
      'request.completed',
    ]);
    expect(deltasText(events)).toBe(TEXT);
    const completed = events.at(-1)!;
    expect(completed.data).toMatchObject({ backend: 'b', model: 'mb', attempts: 5 });
    expect(events.find((e) => e.type === 'stream.resumed')!.data).toMatchObject({ backend: 'b', mode: 'prefill', fromChars: chunkText(TEXT).slice(0, 4).join('').length });
    expect(events.find((e) => e.type === 'fallback')!.data).toMatchObject({ from: 'a', to: 'b', reason: 'retries_exhausted' });
    // attempt numbers only go up
    const attempts = events.map((e) => e.attempt);
    expect([...attempts].sort((x, y) => x - y)).toEqual(attempts);
  });

  test('a failed request ends with exactly one request.failed carrying the error', async () => {
    a.faults = [{ status: 400, message: 'bad prompt' }];
    const res = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
    expect(res.status).toBe(400);
    const id = res.headers.get('x-airoute-request-id')!;
    const { events } = await readSse(await fetch(eventsUrl(id)));
    expectWellFormed(events, id);
    expect(events.at(-1)).toMatchObject({ type: 'request.failed', data: { error: { code: 'invalid_request', status: 400, message: 'bad prompt' } } });
  });
});

describe('replay', () => {
  async function slowStream() {
    a.answer = { text: TEXT, intervalMs: 25 };
    const res = await fetch(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  }

  test('a subscriber that joins mid-stream gets everything from the start, then follows live to the end', async () => {
    const id = await slowStream();
    await sleep(120);
    const { events } = await readSse(await fetch(eventsUrl(id)));
    expectWellFormed(events, id);
    expect(deltasText(events)).toBe(TEXT);
  });

  test('Last-Event-ID and ?after= replay exactly the events after it; a subscriber after completion gets the whole story', async () => {
    const id = await slowStream();
    const all = await readSse(await fetch(eventsUrl(id)));
    const cut = Math.floor(all.events.length / 2);
    const viaHeader = await readSse(await fetch(eventsUrl(id), { headers: { 'last-event-id': String(cut) } }));
    expect(viaHeader.events).toEqual(all.events.slice(cut));
    const viaQuery = await readSse(await fetch(eventsUrl(id, `?after=${cut}`)));
    expect(viaQuery.events).toEqual(all.events.slice(cut));
    const status = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string; result: { choices: { message: { content: string } }[] } };
    expect(status.status).toBe('completed');
    // content deltas concatenated equal the final result
    expect(deltasText(all.events)).toBe(status.result.choices[0]!.message.content);
  });

  test('WebSocket on the same path with ?after=SEQ: the same events, JSON per message, closed after the terminal event', async () => {
    const id = await slowStream();
    await sleep(60);
    const got: LifecycleEvent[] = [];
    const code = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${sc.dataURL.replace('http', 'ws')}/airoute/v1/requests/${id}/events?after=2`);
      ws.on('message', (m) => got.push(JSON.parse(m.toString()) as LifecycleEvent));
      ws.on('close', (c) => resolve(c));
      ws.on('error', reject);
    });
    expect(code).toBe(1000);
    const all = await readSse(await fetch(eventsUrl(id)));
    expect(got).toEqual(all.events.slice(2));
  });

  test('unknown id -> 404 over SSE, status and WebSocket', async () => {
    expect((await fetch(eventsUrl('nope'))).status).toBe(404);
    expect((await fetch(`${sc.dataURL}/airoute/v1/requests/nope`)).status).toBe(404);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${sc.dataURL.replace('http', 'ws')}/airoute/v1/requests/nope/events`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(404);
  });

  test('sync requests have their events too: a plain chat completion can be replayed by its x-airoute-request-id', async () => {
    const client = new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'x', maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    const id = response.headers.get('x-airoute-request-id')!;
    const { events } = await readSse(await fetch(eventsUrl(id)));
    expectWellFormed(events, id);
    expect(deltasText(events)).toBe(TEXT);
    expect(((await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string }).status).toBe('completed');
  });
});

describe('async', () => {
  const submit = (body: object, headers: Record<string, string> = {}) =>
    fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async', ...headers }, body: JSON.stringify(body) });

  test('Prefer: respond-async -> 202 with Location and {id, status}; polling gives the result in the endpoint format', async () => {
    const res = await submit({ model: 'chat', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBe('respond-async');
    const body = (await res.json()) as { id: string; status: string };
    expect(res.headers.get('location')).toBe(`/airoute/v1/requests/${body.id}`);
    expect(body.status).toBe('running');
    let status: { status: string; attempts: number; result?: { object: string; choices: { message: { content: string } }[] } };
    do {
      await sleep(10);
      status = (await (await fetch(`${sc.dataURL}${res.headers.get('location')}`)).json()) as typeof status;
    } while (status.status === 'running');
    expect(status).toMatchObject({ status: 'completed', attempts: 1 });
    expect(status.result!.object).toBe('chat.completion');
    expect(status.result!.choices[0]!.message.content).toBe(TEXT);
  });

  test('the Anthropic endpoint answers async in its own format', async () => {
    const res = await fetch(`${sc.dataURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ model: 'chat', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const { id } = (await res.json()) as { id: string };
    await readSse(await fetch(eventsUrl(id)));
    const status = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { result: { type: string; content: { text: string }[] } };
    expect(status.result.type).toBe('message');
    expect(status.result.content[0]!.text).toBe(TEXT);
  });

  test('Idempotency-Key: a repeated submission returns the same id and runs once; the same key with another body is 422', async () => {
    const body = { model: 'chat', messages: [{ role: 'user', content: 'once' }] };
    const first = (await (await submit(body, { 'idempotency-key': 'k-123' })).json()) as { id: string };
    const again = await submit(body, { 'idempotency-key': 'k-123' });
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).toBe(first.id);
    const other = await submit({ ...body, messages: [{ role: 'user', content: 'twice' }] }, { 'idempotency-key': 'k-123' });
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_conflict');
    await readSse(await fetch(eventsUrl(first.id)));
    expect(a.received).toHaveLength(1);
  });

  test('cancel aborts the upstream at once and ends the events with request.cancelled', async () => {
    a.answer = { text: TEXT, intervalMs: 40 };
    const { id } = (await (await submit({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] })).json()) as { id: string };
    await sleep(100);
    const cancelledAt = Date.now();
    const res = await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('cancelled');
    while (a.received[0]!.closedAt === undefined) await sleep(5);
    expect(a.received[0]!.closedAt! - cancelledAt).toBeLessThan(100);
    const { events } = await readSse(await fetch(eventsUrl(id)));
    expectWellFormed(events, id);
    expect(events.at(-1)!.type).toBe('request.cancelled');
    expect((await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/cancel`, { method: 'POST' })).status).toBe(409);
  });

  test('async concurrency limit: past maxInFlight, a clear 429 with Retry-After', async () => {
    a.answer = { text: TEXT, intervalMs: 30 };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await (await submit({ model: 'chat', stream: true, messages: [{ role: 'user', content: `n${i}` }] })).json()) as { id: string }).id);
    const full = await submit({ model: 'chat', messages: [{ role: 'user', content: 'one too many' }] });
    expect(full.status).toBe(429);
    expect(full.headers.get('retry-after')).toBe('1');
    expect(((await full.json()) as { error: { code: string } }).error.code).toBe('async_capacity');
    for (const id of ids) await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/cancel`, { method: 'POST' });
    expect((await submit({ model: 'chat', messages: [{ role: 'user', content: 'room again' }] })).status).toBe(202);
  });
});

test('retention: past its TTL a request is gone (410), not unknown (404)', async () => {
  const short = await testSidecar({
    backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${a.url}/v1` }],
    routes: [{ model: 'chat', backends: [{ backend: 'a' }] }],
    journal: { retention: { ttlMs: 1000 } },
  });
  try {
    const res = await fetch(`${short.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
    const id = res.headers.get('x-airoute-request-id')!;
    expect((await fetch(`${short.dataURL}/airoute/v1/requests/${id}/events`)).status).toBe(200);
    await sleep(1600);
    const gone = await fetch(`${short.dataURL}/airoute/v1/requests/${id}/events`);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { message: string } }).error.message).toContain('past retention');
  } finally {
    await short.close();
  }
});
