// Headers and error bodies across the sidecar, with the official SDKs as clients: a provider's
// protocol headers reach a backend of the same format (and only the allow-listed ones, never the
// client's credentials), the upstream's request id comes back under the provider's own name beside
// x-airoute-request-id, and a same-format error body arrives as the provider wrote it, secrets
// redacted.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider } from './support/mock-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';
import { fakeKey } from './support/fake-keys.ts';

const OPENAI_KEY = fakeKey('sk', 'proj', 'TESTKEY', 'headers', '0123456789');
let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  const once = { attempts: 1 };
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1`, apiKey: { value: OPENAI_KEY } },
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1`, apiKey: { value: 'compat-key-0123456789' } },
      { name: 'an', type: 'anthropic', baseURL: mock.url, apiKey: { value: 'sk-ant-TESTKEY-headers' } },
    ],
    routes: [
      { model: 'gpt', backends: [{ backend: 'oa', model: 'gpt-5-mini' }], retry: once },
      { model: 'local', backends: [{ backend: 'co', model: 'llama' }], retry: once },
      { model: 'claude', backends: [{ backend: 'an', model: 'claude-sonnet-4-5' }], retry: once },
    ],
  });
});

afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});

beforeEach(() => {
  mock.reset();
  mock.answer = { text: 'Hello there.' };
});

const openai = (extra: ConstructorParameters<typeof OpenAI>[0] = {}) => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'sk-client-own-key', maxRetries: 0, ...extra });
const anthropic = (extra: ConstructorParameters<typeof Anthropic>[0] = {}) => new Anthropic({ baseURL: sc.dataURL, apiKey: 'sk-ant-client-own-key', maxRetries: 0, ...extra });
const hi = [{ role: 'user' as const, content: 'Hi' }];

describe('protocol headers go to a backend of the same format', () => {
  test("Anthropic SDK with betas → the Anthropic backend gets the SDK's anthropic-version and every beta; never the client's key", async () => {
    await anthropic().beta.messages.create({ model: 'claude', max_tokens: 64, messages: hi, betas: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'] });
    const got = mock.received.at(-1)!.headers;
    expect(got['anthropic-beta']).toBe('interleaved-thinking-2025-05-14,context-1m-2025-08-07');
    expect(got['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(got['x-api-key']).toBe('sk-ant-TESTKEY-headers');
    expect(JSON.stringify(got)).not.toContain('client-own-key');
  });

  test('OpenAI SDK with organization and project → OpenAI gets them; a self-hosted server and an Anthropic backend do not', async () => {
    const client = openai({ organization: 'org-test', project: 'proj_test', defaultHeaders: { 'OpenAI-Beta': 'assistants=v2' } });
    await client.chat.completions.create({ model: 'gpt', messages: hi });
    expect(mock.received.at(-1)!.headers).toMatchObject({ 'openai-organization': 'org-test', 'openai-project': 'proj_test', 'openai-beta': 'assistants=v2', authorization: `Bearer ${OPENAI_KEY}` });
    await client.chat.completions.create({ model: 'local', messages: hi });
    expect(mock.received.at(-1)!.headers['openai-organization']).toBeUndefined();
    await client.chat.completions.create({ model: 'claude', messages: hi });
    const toAnthropic = mock.received.at(-1)!.headers;
    expect([toAnthropic['openai-organization'], toAnthropic['anthropic-version']]).toEqual([undefined, '2023-06-01']);
  });

  test('an Anthropic client on an OpenAI backend: its anthropic-beta has no meaning there and is not sent', async () => {
    await anthropic({ defaultHeaders: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } }).messages.create({ model: 'gpt', max_tokens: 64, messages: hi });
    const got = mock.received.at(-1)!.headers;
    expect([got['anthropic-beta'], got['anthropic-version']]).toEqual([undefined, undefined]);
  });
});

describe("the upstream's request id comes back under the provider's name, beside x-airoute-request-id", () => {
  test("OpenAI SDK: request_id is OpenAI's x-request-id, streamed or not", async () => {
    const { data, response, request_id } = await openai().chat.completions.create({ model: 'gpt', messages: hi }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello there.');
    expect(request_id).toBe('req_mock_openai_1');
    expect(response.headers.get('x-airoute-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const streamed = await openai().chat.completions.create({ model: 'gpt', messages: hi, stream: true }).withResponse();
    for await (const _ of streamed.data);
    expect(streamed.request_id).toBe('req_mock_openai_2');
  });

  test("Anthropic SDK: _request_id is Anthropic's request-id", async () => {
    const m = await anthropic().messages.create({ model: 'claude', max_tokens: 64, messages: hi });
    expect(m._request_id).toBe('req_mock_anthropic_1');
  });

  test("translated: an OpenAI client on an Anthropic backend gets Anthropic's request-id under Anthropic's name", async () => {
    const { response } = await openai().chat.completions.create({ model: 'claude', messages: hi }).withResponse();
    expect([response.headers.get('request-id'), response.headers.get('x-request-id')]).toEqual(['req_mock_anthropic_1', null]);
  });
});

describe('a same-format error arrives as the provider wrote it, secrets redacted', () => {
  test('OpenAI 503 with code null: the SDK raises it with code null and the request id; the raw body is the provider\'s, with the key redacted', async () => {
    mock.faults = [{ status: 503, message: `The engine is currently overloaded (key ${OPENAI_KEY})` }];
    const err = await openai()
      .chat.completions.create({ model: 'gpt', messages: hi })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect([e.status, e.code, e.type, e.requestID]).toEqual([503, null, 'server_error', 'req_mock_openai_1']);
    mock.faults = [{ status: 503, message: `The engine is currently overloaded (key ${OPENAI_KEY})` }];
    const raw = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt', messages: hi }) });
    expect(raw.status).toBe(503);
    expect(await raw.json()).toEqual({ error: { message: 'The engine is currently overloaded (key [redacted])', type: 'server_error', param: null, code: null } });
  });

  test("Anthropic 529: the SDK raises Anthropic's overloaded_error with Anthropic's request id", async () => {
    mock.faults = [{ status: 529, message: 'Overloaded' }];
    const err = await anthropic()
      .messages.create({ model: 'claude', max_tokens: 64, messages: hi })
      .then(() => undefined, (e: unknown) => e);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    // the body's own request_id survives: the sidecar passed Anthropic's body through rather than rewording it
    expect([e.status, e.requestID, e.error]).toEqual([529, 'req_mock_anthropic_1', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_mock_anthropic_1' }]);
  });

  test('translated: an OpenAI client on an Anthropic backend gets the error in its own shape, with the provider\'s message', async () => {
    mock.faults = [{ status: 529, message: 'Overloaded' }];
    const raw = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'claude', messages: hi }) });
    expect([raw.status, raw.headers.get('request-id')]).toEqual([529, 'req_mock_anthropic_1']);
    expect(await raw.json()).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'upstream_overloaded' } });
  });
});
