// Bad input gets a clear error in the endpoint's own provider shape, and nothing leaks: the
// configured keys appear in no response and no log line, even when a provider echoes one back.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider } from './support/mock-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';
import { fakeKey } from './support/fake-keys.ts';

const OPENAI_KEY = fakeKey('sk', 'proj', 'LEAKCHECK0123456789abcdefXYZ');
const ANTHROPIC_KEY = fakeKey('sk', 'ant', 'api03', 'LEAKCHECK01');
let mock: MockProvider;
let sc: TestSidecar;
const bodies: string[] = [];

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1`, apiKey: { value: OPENAI_KEY } },
      { name: 'an', type: 'anthropic', baseURL: mock.url, apiKey: { value: ANTHROPIC_KEY } },
    ],
    routes: [
      { model: 'gpt', backends: [{ backend: 'oa', model: 'gpt-4o-mini' }], retry: { attempts: 1 } },
      { model: 'claude', backends: [{ backend: 'an', model: 'claude-haiku-4-5' }], retry: { attempts: 1 } },
    ],
    limits: { maxBodyBytes: 4096 },
  });
});
afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});
beforeEach(() => mock.reset());

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${sc.dataURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, body: JSON.parse(text) as Record<string, any>, headers: res.headers };
}

const openaiShape = (b: Record<string, any>) => expect(b).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: expect.toSatisfy((p: unknown) => p === null || typeof p === 'string'), code: expect.any(String) } });
const anthropicShape = (b: Record<string, any>) => expect(b).toEqual({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });

describe('OpenAI-shaped endpoint', () => {
  test('invalid JSON -> 400 invalid_request_error with code invalid_json', async () => {
    const r = await post('/v1/chat/completions', '{"model": "gpt", "messages": [');
    expect(r.status).toBe(400);
    openaiShape(r.body);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
    expect(r.headers.get('x-airoute-request-id')).toBeTruthy();
  });

  test('missing model -> 400 naming the model parameter', async () => {
    const r = await post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(r.status).toBe(400);
    openaiShape(r.body);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'model' });
  });

  test('missing messages -> 400 naming the messages parameter', async () => {
    const r = await post('/v1/chat/completions', JSON.stringify({ model: 'gpt' }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' });
  });

  test('unknown model -> 404 model_not_found, raised by the official SDK as NotFoundError', async () => {
    const client = new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'x', maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    expect(mock.received).toHaveLength(0);
  });

  test('body over the configured limit -> 413, with and without content-length', async () => {
    const big = JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
    const r = await post('/v1/chat/completions', big);
    expect(r.status).toBe(413);
    openaiShape(r.body);
    expect(r.body.error.code).toBe('body_too_large');
    // chunked (no content-length): the limit is enforced while reading
    const chunked = await fetch(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(big));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(mock.received).toHaveLength(0);
  });

  test('a parameter the chosen backend cannot express -> 400 unsupported_parameter naming it; nothing sent upstream', async () => {
    const r = await post('/v1/chat/completions', JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], logprobs: true }));
    expect(r.status).toBe(400);
    openaiShape(r.body);
    expect(r.body.error).toMatchObject({ code: 'unsupported_parameter', param: 'logprobs' });
    expect(r.body.error.message).toContain('logprobs');
    const n = await post('/v1/chat/completions', JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], n: 2 }));
    expect(n.status).toBe(400);
    expect(n.body.error.param).toBe('n');
    expect(mock.received).toHaveLength(0);
  });

  test('an upstream Anthropic 429 reaches an OpenAI client as a 429 in OpenAI shape with the provider message', async () => {
    mock.faults = [{ status: 429, message: 'Number of request tokens has exceeded your per-minute rate limit' }];
    const r = await post('/v1/chat/completions', JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }));
    expect(r.status).toBe(429);
    openaiShape(r.body);
    expect(r.body.error).toMatchObject({ type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' });
  });

  test('unknown endpoint -> 404, wrong method -> 405, both in OpenAI shape', async () => {
    const a = await fetch(`${sc.dataURL}/v1/completions/legacy`, { method: 'POST', body: '{}' });
    expect(a.status).toBe(404);
    openaiShape((await a.json()) as Record<string, any>);
    const b = await fetch(`${sc.dataURL}/v1/chat/completions`);
    expect(b.status).toBe(405);
  });
});

describe('Anthropic-shaped endpoint', () => {
  test('invalid JSON -> 400 in Anthropic shape', async () => {
    const r = await post('/v1/messages', '{not json');
    expect(r.status).toBe(400);
    anthropicShape(r.body);
    expect(r.body.error.type).toBe('invalid_request_error');
  });

  test('missing max_tokens / messages -> 400 naming the field', async () => {
    const a = await post('/v1/messages', JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }));
    expect(a.status).toBe(400);
    expect(a.body.error.message).toBe('max_tokens: Field required');
    const b = await post('/v1/messages', JSON.stringify({ model: 'claude', max_tokens: 10 }));
    expect(b.body.error.message).toBe('messages: Field required');
  });

  test('unknown model -> 404 not_found_error, raised by the official SDK as NotFoundError', async () => {
    const client = new Anthropic({ baseURL: sc.dataURL, apiKey: 'x', maxRetries: 0 });
    const err = await client.messages.create({ model: 'nope', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
  });

  test('body over the limit -> 413 request_too_large', async () => {
    const r = await post('/v1/messages', JSON.stringify({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'y'.repeat(5000) }] }));
    expect(r.status).toBe(413);
    anthropicShape(r.body);
    expect(r.body.error.type).toBe('request_too_large');
  });

  test('an upstream OpenAI 400 reaches an Anthropic client as a 400 in Anthropic shape with the provider message', async () => {
    mock.faults = [{ status: 400, message: "Invalid value for 'temperature': must be at most 2.", type: 'invalid_request_error' }];
    const r = await post('/v1/messages', JSON.stringify({ model: 'gpt', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 }));
    expect(r.status).toBe(400);
    anthropicShape(r.body);
    expect(r.body.error).toEqual({ type: 'invalid_request_error', message: "Invalid value for 'temperature': must be at most 2." });
  });

  test('Anthropic 529 overloaded reaches an Anthropic client unchanged (type overloaded_error)', async () => {
    mock.faults = [{ status: 529, message: 'Overloaded' }];
    const r = await post('/v1/messages', JSON.stringify({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
    expect(r.status).toBe(529);
    expect(r.body).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_mock_anthropic_1' });
  });
});

describe('nothing leaks', () => {
  test('a provider 401 that echoes the key reaches the client redacted, with status 401', async () => {
    mock.faults = [{ status: 401, message: `Incorrect API key provided: ${OPENAI_KEY}. You can find your API key at https://platform.openai.com/account/api-keys.`, code: 'invalid_api_key' }];
    const r = await post('/v1/chat/completions', JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }));
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_api_key');
    expect(r.body.error.message).toContain('Incorrect API key provided: [redacted]');
    mock.faults = [{ status: 401, message: `invalid x-api-key ${ANTHROPIC_KEY}` }];
    const a = await post('/v1/messages', JSON.stringify({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }));
    expect(a.status).toBe(401);
    expect(a.body.error.type).toBe('authentication_error');
  });

  test('no response body and no log line anywhere in this file contains a configured key', async () => {
    // exercise the success paths too, so their logs are in the capture
    mock.answer = { text: 'fine' };
    await post('/v1/chat/completions', JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }));
    await post('/v1/messages', JSON.stringify({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }));
    const everything = [...bodies, ...sc.logs].join('\n');
    expect(bodies.length).toBeGreaterThan(10);
    expect(sc.logs.length).toBeGreaterThan(5);
    for (const key of [OPENAI_KEY, ANTHROPIC_KEY, 'LEAKCHECK']) expect(everything).not.toContain(key);
    // and the keys did reach the provider, so the test would have seen them had they leaked
    expect(mock.received.some((r) => r.headers.authorization === `Bearer ${OPENAI_KEY}`)).toBe(true);
  });
});
