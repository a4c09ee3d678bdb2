// Retry-After, the retry budget, circuit breaking, fallback conduct and cancellation, each
// asserting what the client sees and what the providers saw (counts and timing).
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider, sleep, type Fault, resetMocks } from '../support/mock-provider.ts';
import { streamWith } from '../support/clients.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

let a: MockProvider;
let b: MockProvider;
let sc: TestSidecar;
const noCircuit = { consecutiveFailures: 1000, minimumRequests: 100000 };
const fast = { connectMs: 500, firstTokenMs: 400, idleMs: 300, totalMs: 20000 };

beforeAll(async () => {
  a = await new MockProvider().start();
  b = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'a', type: 'openai-compatible', baseURL: `${a.url}/v1`, circuit: noCircuit },
      { name: 'b', type: 'anthropic', baseURL: b.url, circuit: noCircuit },
      { name: 'a-breaker', type: 'openai-compatible', baseURL: `${a.url}/v1`, circuit: { consecutiveFailures: 3, cooldownMs: 400 } },
      { name: 'a-budget', type: 'openai-compatible', baseURL: `${a.url}/v1`, circuit: noCircuit },
    ],
    routes: [
      { model: 'retry', backends: [{ backend: 'a', model: 'small' }], retry: { attempts: 3, backoff: { baseMs: 1, maxMs: 5 } }, timeouts: fast },
      { model: 'chain', backends: [{ backend: 'a', model: 'small' }, { backend: 'b', model: 'large' }], retry: { attempts: 3, backoff: { baseMs: 1, maxMs: 5 } }, timeouts: fast },
      { model: 'slow-retry', backends: [{ backend: 'a', model: 'small' }], retry: { attempts: 2, backoff: { baseMs: 5000, maxMs: 5000 } }, timeouts: fast },
      { model: 'breaker', backends: [{ backend: 'a-breaker', model: 'small' }, { backend: 'b', model: 'large' }], retry: { attempts: 1 }, timeouts: fast },
      { model: 'budget', backends: [{ backend: 'a-budget', model: 'small' }], retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 }, budgetPercent: 0 }, timeouts: fast },
      {
        model: 'chain-retry-timeouts',
        // a deployment of its own, so the other cases' retries never spend its retry budget
        backends: [{ backend: 'a', model: 'patient' }, { backend: 'b', model: 'large' }],
        retry: { attempts: 2, backoff: { baseMs: 1, maxMs: 5 }, onTimeout: 'retry' },
        timeouts: fast,
      },
    ],
  });
});
afterAll(async () => {
  await sc?.close();
  await a?.stop();
  await b?.stop();
});
beforeEach(() => resetMocks({ text: 'All good here.' }, a, b));

const openai = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'x', maxRetries: 0 });
const ask = (model: string) => openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('Retry-After', () => {
  test.each<[string, Fault, number]>([
    ['retry-after in seconds', { status: 429, retryAfter: '1' }, 1000],
    ['retry-after-ms', { status: 429, retryAfterMs: '350' }, 350],
    ['retry-after as an HTTP-date', { status: 503, retryAfter: new Date(Date.now() + 2000).toUTCString() }, 500],
  ])('429/503 with %s -> the retry waits at least that long, then succeeds; exactly one retry', async (_n, fault, minGap) => {
    if ('retryAfter' in fault && fault.retryAfter && fault.retryAfter.includes('GMT')) fault.retryAfter = new Date(Date.now() + 1500).toUTCString();
    a.faults = [fault];
    const r = await ask('retry');
    expect(r.choices[0]!.message.content).toBe('All good here.');
    expect(a.received).toHaveLength(2);
    expect(a.received[1]!.at - a.received[0]!.at).toBeGreaterThanOrEqual(minGap);
  });

  test('a Retry-After longer than the time left -> no retry on that backend; the fallback answers at once', async () => {
    a.faults = [{ status: 429, retryAfter: '60' }];
    const started = Date.now();
    const r = await ask('chain');
    expect(r.model).toBe('large');
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

test('retries stop at the configured attempts: three 500s -> the client gets the 500 in its own format, three upstream calls', async () => {
  a.faults = [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }];
  const err = await ask('retry').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.InternalServerError);
  expect(a.received).toHaveLength(3);
});

test('retry budget exhausted -> no further retries: the 11th and 12th failing requests reach the backend once each', async () => {
  a.faults = Array.from({ length: 40 }, () => ({ status: 503, message: 'down' }));
  for (let i = 0; i < 12; i++) await ask('budget').catch(() => undefined);
  // the floor allows 10 retries per window at budgetPercent 0: 10 requests x 2 calls + 2 x 1 call
  expect(a.received).toHaveLength(22);
});

describe('never retried', () => {
  test('400 context_length_exceeded -> never retried on the same model; moves to the larger-context backend', async () => {
    a.faults = [{ status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 8192 tokens." }];
    const r = await ask('chain');
    expect(r.model).toBe('large');
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
  });

  test('400 content-policy rejection -> reaches the client unchanged; no retry, no fallback', async () => {
    a.faults = [{ status: 400, code: 'content_policy_violation', message: 'Your request was rejected as a result of our safety system.' }];
    const err = (await ask('chain').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain('Your request was rejected as a result of our safety system.');
    expect(err.code).toBe('content_policy_violation');
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(0);
  });

  test.each([400, 401, 403, 404, 422])('%i is not retried on the same backend', async (status) => {
    a.faults = [{ status, message: `no (${status})` }];
    await ask('retry').catch(() => undefined);
    expect(a.received).toHaveLength(1);
  });

  test('401 on the primary -> the fallback with its own key answers (auth is a fallback condition, not a retry)', async () => {
    a.faults = [{ status: 401, message: 'Incorrect API key provided' }];
    const r = await ask('chain');
    expect(r.model).toBe('large');
    expect(a.received).toHaveLength(1);
  });
});

/** firstTokenMs of these routes, less a little: Node fires a timer up to a millisecond early against another process's Date.now(). */
const AFTER_FIRST_TOKEN_TIMEOUT = fast.firstTokenMs - 10;

test('a silent upstream (no headers) is abandoned at firstTokenMs and the route moves on instead of retrying it', async () => {
  a.faults = [{ hang: 'before-headers' }];
  const started = Date.now();
  const t = await streamWith('openai', sc.dataURL, { model: 'chain' });
  expect(t.completed).toBe(true);
  expect(t.model).toBe('large');
  expect(a.received).toHaveLength(1);
  expect(Date.now() - started).toBeGreaterThanOrEqual(AFTER_FIRST_TOKEN_TIMEOUT);
  expect(Date.now() - started).toBeLessThan(1500);
});

test.each<[string, Fault]>([
  ['no response headers', { hang: 'before-headers' }],
  ['headers, then no first token', { slowFirstTokenMs: 700 }],
])('a silent upstream (%s) with onTimeout: retry -> the same target is asked again after the first timeout, and answers', async (_n, fault) => {
  a.faults = [fault];
  const started = Date.now();
  const t = await streamWith('openai', sc.dataURL, { model: 'chain-retry-timeouts' });
  expect(t.completed).toBe(true);
  expect(t.model).toBe('patient');
  expect(a.received).toHaveLength(2);
  // the retry went out only once the first attempt had been abandoned (its connection closed by the
  // sidecar), and that took the first-token timeout: ordering, not a gap between two receive times
  // (the first request's own send time would eat into such a gap on a loaded machine)
  expect(a.received[0]!.closedAt).toBeDefined();
  expect(a.received[1]!.at).toBeGreaterThanOrEqual(a.received[0]!.closedAt!);
  expect(Date.now() - started).toBeGreaterThanOrEqual(AFTER_FIRST_TOKEN_TIMEOUT);
  expect(b.received).toHaveLength(0);
});

test('a silent upstream (headers, then no first token) with the default onTimeout: next -> the fallback answers after one timeout; the silent model is never asked twice', async () => {
  a.faults = [{ slowFirstTokenMs: 700 }];
  const t = await streamWith('openai', sc.dataURL, { model: 'chain' });
  expect(t.completed).toBe(true);
  expect(t.model).toBe('large');
  expect(a.received).toHaveLength(1);
  expect(b.received).toHaveLength(1);
});

test('after a fallback the client sees the fallback model name and its usage', async () => {
  a.faults = [{ status: 500 }, { status: 500 }, { status: 500 }];
  b.answer = { text: 'From the fallback.', inputTokens: 5, outputTokens: 4 };
  const r = await ask('chain');
  expect(r.model).toBe('large');
  expect(r.choices[0]!.message.content).toBe('From the fallback.');
  expect(r.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 4 });
});

test('circuit: opens after 3 consecutive failures, then requests skip the dead backend at no cost; after the cool-down one probe closes it again', async () => {
  a.faults = [{ status: 500 }, { status: 500 }, { status: 500 }];
  for (let i = 0; i < 3; i++) expect((await ask('breaker')).model).toBe('large');
  expect(a.received).toHaveLength(3);
  const started = Date.now();
  const r = await ask('breaker');
  expect(r.model).toBe('large');
  expect(a.received).toHaveLength(3); // open: the primary was not called
  expect(Date.now() - started).toBeLessThan(200);
  await sleep(450); // cool-down; the primary has recovered (no faults left)
  expect((await ask('breaker')).model).toBe('small'); // the half-open probe
  expect((await ask('breaker')).model).toBe('small'); // closed again: traffic is back
  expect(a.received).toHaveLength(5);
});

describe('cancellation', () => {
  test('client abort during a backoff -> no further upstream attempt is ever made', async () => {
    // Retry-After pins the wait (full jitter alone could pick a few ms, and the retry would beat the abort).
    a.faults = [{ status: 503, retryAfter: '5' }];
    const ac = new AbortController();
    const p = openai()
      .chat.completions.create({ model: 'slow-retry', messages: [{ role: 'user', content: 'hi' }] }, { signal: ac.signal })
      .catch((e: unknown) => e);
    while (a.received.length === 0) await sleep(5);
    await sleep(100);
    ac.abort();
    await p;
    await sleep(300);
    const log = sc.logs.filter((l) => l.includes('"route":"slow-retry"')).at(-1)!;
    expect(JSON.parse(log)).toMatchObject({ outcome: 'cancelled', attempts: 1 });
    expect(a.received).toHaveLength(1);
  });

  test('client abort during a mid-stream recovery -> the continuation request upstream is closed within 100 ms', async () => {
    a.answer = { text: 'one two three four five six seven eight nine ten eleven twelve' };
    a.faults = [{ dropAfter: 3 }, { hang: 'before-headers' }];
    const ac = new AbortController();
    const p = streamWith('openai', sc.dataURL, { model: 'retry', signal: ac.signal });
    while (a.received.length < 2) await sleep(5);
    await sleep(50);
    const abortedAt = Date.now();
    ac.abort();
    const t = await p;
    expect(t.completed).toBe(false);
    expect(t.text).toBe('one two three');
    while (a.received[1]!.closedAt === undefined) await sleep(5);
    expect(a.received[1]!.closedAt! - abortedAt).toBeLessThan(100);
  });
});
