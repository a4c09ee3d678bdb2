// A backend of the client's own format gets the client's body as the client wrote it (spacing, key
// order, escapes, fields the sidecar does not know), with only the model and the stream flags
// changed: the sidecar splices those into the text instead of serialising a parsed copy.
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { MockProvider } from './support/mock-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1`, apiKey: { value: 'compat-key-0123456789' } },
      { name: 'an', type: 'anthropic', baseURL: mock.url, apiKey: { value: 'anthropic-key-0123456789' } },
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1`, apiKey: { value: 'openai-key-0123456789' } },
    ],
    routes: [
      { model: 'local', backends: [{ backend: 'co', model: 'llama' }], retry: { attempts: 1 } },
      { model: 'claude', backends: [{ backend: 'an', model: 'claude-sonnet-4-5' }], retry: { attempts: 1 } },
      { model: 'gpt', backends: [{ backend: 'oa', model: 'gpt-5-mini' }], retry: { attempts: 1 } },
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

async function post(path: string, text: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sc.dataURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
}

test('Chat Completions: the upstream receives the client text byte for byte, the model replaced in place and stream:false appended', async () => {
  const text = '{\n  "messages": [ { "role": "user", "content": "caf\\u00e9 \\"model\\": x" } ],\n  "model" : "local",\n  "x_vendor_flag": {"deep": [1, 2.50, 1e3]}\n}';
  const res = await post('/v1/chat/completions', text);
  expect(res.status).toBe(200);
  expect(mock.received.at(-1)!.text).toBe(text.replace('"model" : "local"', '"model" : "llama"').replace(/\n}$/, '\n,"stream":false}'));
});

test('Chat Completions stream: include_usage is appended for the metrics, the rest as sent', async () => {
  const text = '{"model":"local","stream":true,"messages":[{"role":"user","content":"Hi"}]}';
  const res = await post('/v1/chat/completions', text);
  await res.text();
  expect(mock.received.at(-1)!.text).toBe('{"model":"llama","stream":true,"messages":[{"role":"user","content":"Hi"}],"stream_options":{"include_usage":true}}');
});

test('Messages: the upstream receives the client text with only the model replaced', async () => {
  const text = '{"model": "claude", "max_tokens": 32,  "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "stream": false}';
  const res = await post('/v1/messages', text, { 'anthropic-version': '2023-06-01' });
  expect(res.status).toBe(200);
  expect(mock.received.at(-1)!.text).toBe(text.replace('"claude"', '"claude-sonnet-4-5"'));
});

test('Responses: the upstream receives the client text with only the model replaced and stream:false appended', async () => {
  const text = '{"model": "gpt", "input": [{"role": "user", "content": "Hi"}],  "store": false, "metadata": {"team": "a"}}';
  const res = await post('/v1/responses', text);
  expect(res.status).toBe(200);
  const got = mock.received.at(-1)!;
  expect(got.path).toMatch(/\/v1\/responses$/);
  expect(got.text).toBe(text.replace('"gpt"', '"gpt-5-mini"').replace(/}$/, ',"stream":false}'));
});

test('Embeddings: the upstream receives the client text with only the model replaced', async () => {
  const text = '{"input": ["a", "b"],  "model": "local", "encoding_format": "float"}';
  const res = await post('/v1/embeddings', text);
  expect(res.status).toBe(200);
  const got = mock.received.at(-1)!;
  expect(got.path).toMatch(/\/v1\/embeddings$/);
  expect(got.text).toBe(text.replace('"local"', '"llama"'));
});

test('a body naming the model twice is served by the route of the name JSON reads (the last), and the upstream never sees the other name', async () => {
  const res = await post('/v1/chat/completions', '{"model":"gpt-5-pro","model":"local","messages":[{"role":"user","content":"Hi"}]}');
  expect(res.status).toBe(200);
  const got = mock.received.at(-1)!.text;
  expect(got).not.toContain('gpt-5-pro');
  expect(JSON.parse(got)).toMatchObject({ model: 'llama' });
});
