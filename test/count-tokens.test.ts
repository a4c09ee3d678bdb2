// POST /v1/messages/count_tokens with the Anthropic SDK as the client: an Anthropic backend gets
// the body as sent (its headers too) and its answer comes back as it came; a Gemini backend counts
// with its own countTokens (docs: ai.google.dev/api/tokens#method:-models.counttokens), the whole
// generateContent request included; any other backend is a clear 400 naming it.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { ReplayProvider, type Recorded, type Replay } from './support/replay-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

let fail: Replay | undefined;

function script(r: Recorded): Replay {
  if (fail) return fail;
  if (r.path === '/v1/messages/count_tokens') return { json: { input_tokens: 42 }, headers: { 'request-id': 'req_count_1' } };
  if (r.path.endsWith(':countTokens')) return { json: { totalTokens: 37, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 37 }] } };
  return { status: 500, json: { error: { message: `unexpected ${r.path}` } } };
}

let upstream: ReplayProvider;
let sc: TestSidecar;

beforeAll(async () => {
  upstream = await new ReplayProvider(script).start();
  sc = await testSidecar({
    backends: [
      { name: 'an', type: 'anthropic', baseURL: upstream.url, apiKey: { value: 'sk-ant-TESTKEY-count' } },
      { name: 'ge', type: 'gemini', baseURL: upstream.url, apiKey: { value: 'AIzaTESTKEYcount0123456789' } },
      { name: 'oa', type: 'openai', baseURL: `${upstream.url}/v1`, apiKey: { value: 'sk-openai-count' } },
    ],
    routes: [
      { model: 'claude', backends: [{ backend: 'an', model: 'claude-sonnet-4-5' }] },
      { model: 'gemini', backends: [{ backend: 'ge', model: 'gemini-2.5-flash' }] },
      { model: 'gpt', backends: [{ backend: 'oa', model: 'gpt-5-mini' }, { backend: 'an', model: 'claude-sonnet-4-5' }] },
    ],
  });
});

afterAll(async () => {
  await sc?.close();
  await upstream?.stop();
});

beforeEach(() => {
  fail = undefined;
  upstream.received.length = 0;
});

/** The anthropic-beta header the SDK sent the sidecar last: the backend must get the same. */
let sdkBeta: string | null = null;
const client = () =>
  new Anthropic({
    baseURL: sc.dataURL,
    apiKey: 'unused',
    maxRetries: 0,
    fetch: (input, init) => {
      sdkBeta = new Headers(init?.headers).get('anthropic-beta');
      return fetch(input, init);
    },
  });
const question = {
  system: 'Be brief.',
  messages: [{ role: 'user' as const, content: 'How many tokens is this?' }],
  tools: [{ name: 'get_weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }],
};

test("Anthropic backend: the body as sent (model replaced), the SDK's betas with it; Anthropic's count and request id come back", async () => {
  const { data, response } = await client()
    .beta.messages.countTokens({ model: 'claude', ...question, betas: ['context-1m-2025-08-07'] })
    .withResponse();
  expect(data.input_tokens).toBe(42);
  expect(response.headers.get('request-id')).toBe('req_count_1');
  const got = upstream.received.at(-1)!;
  expect(got.path).toBe('/v1/messages/count_tokens');
  expect(got.body).toEqual({ model: 'claude-sonnet-4-5', ...question });
  expect(sdkBeta).toContain('context-1m-2025-08-07');
  expect([got.headers['x-api-key'], got.headers['anthropic-beta']]).toEqual(['sk-ant-TESTKEY-count', sdkBeta]);
});

test("Gemini backend: countTokens with the whole generateContent request, Gemini's totalTokens as input_tokens", async () => {
  const counted = await client().messages.countTokens({ model: 'gemini', ...question });
  expect(counted.input_tokens).toBe(37);
  const got = upstream.received.at(-1)!;
  expect(got.path).toBe('/v1beta/models/gemini-2.5-flash:countTokens');
  expect(got.headers['x-goog-api-key']).toBe('AIzaTESTKEYcount0123456789');
  expect(got.body).toEqual({
    generateContentRequest: {
      model: 'models/gemini-2.5-flash',
      contents: [{ role: 'user', parts: [{ text: 'How many tokens is this?' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } }] }],
    },
  });
});

test('a route whose first backend has no counting endpoint: a 400 naming it, never a count from the fallback\'s tokenizer', async () => {
  const err = await client()
    .messages.countTokens({ model: 'gpt', ...question })
    .then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.BadRequestError);
  const e = err as InstanceType<typeof Anthropic.BadRequestError>;
  expect(e.error).toEqual({
    type: 'error',
    error: { type: 'invalid_request_error', message: expect.stringContaining('backend "oa" (openai) has no counting endpoint') },
  });
  expect(upstream.received).toEqual([]);
});

test("Anthropic's own error comes back as it came, with its request id", async () => {
  fail = { status: 529, headers: { 'request-id': 'req_count_2' }, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_count_2' } };
  const err = await client()
    .messages.countTokens({ model: 'claude', ...question })
    .then(() => undefined, (e: unknown) => e);
  const e = err as InstanceType<typeof Anthropic.APIError>;
  expect([e.status, e.requestID, e.error]).toEqual([529, 'req_count_2', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_count_2' }]);
});
