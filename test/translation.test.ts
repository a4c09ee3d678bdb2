// The translation matrix: {OpenAI SDK, Anthropic SDK} x {openai, azure-openai, anthropic, gemini,
// openai-compatible} x {stream, non-stream}. Each cell asserts the exact text, tool call, finish
// reason and usage the client sees, and what the provider received (path, auth, model, shape).
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider } from './support/mock-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

const KEYS = {
  openai: 'sk-openai-TESTKEY-0123456789abcdef',
  azure: 'azure-TESTKEY-0123456789abcdef',
  anthropic: 'sk-ant-TESTKEY-012345',
  gemini: 'AIzaTESTKEY0123456789abcdef',
  compat: 'compat-TESTKEY-0123456789abcdef',
};

const BACKENDS = ['openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible'] as const;
type BackendKind = (typeof BACKENDS)[number];

const UPSTREAM_MODEL: Record<BackendKind, string> = {
  openai: 'gpt-4o-mini',
  'azure-openai': 'my-gpt4o-deployment',
  anthropic: 'claude-haiku-4-5',
  gemini: 'gemini-2.5-flash',
  'openai-compatible': 'meta-llama/Llama-3.1-8B-Instruct',
};

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1`, apiKey: { value: KEYS.openai } },
      { name: 'az', type: 'azure-openai', baseURL: mock.url, apiKey: { value: KEYS.azure }, apiVersion: '2024-10-21' },
      { name: 'an', type: 'anthropic', baseURL: mock.url, apiKey: { value: KEYS.anthropic } },
      { name: 'ge', type: 'gemini', baseURL: mock.url, apiKey: { value: KEYS.gemini } },
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1`, apiKey: { value: KEYS.compat } },
    ],
    routes: [
      { model: 'via-openai', backends: [{ backend: 'oa', model: UPSTREAM_MODEL.openai }] },
      { model: 'via-azure-openai', backends: [{ backend: 'az', model: UPSTREAM_MODEL['azure-openai'] }] },
      { model: 'via-anthropic', backends: [{ backend: 'an', model: UPSTREAM_MODEL.anthropic }] },
      { model: 'via-gemini', backends: [{ backend: 'ge', model: UPSTREAM_MODEL.gemini }] },
      { model: 'via-openai-compatible', backends: [{ backend: 'co', model: UPSTREAM_MODEL['openai-compatible'] }] },
    ],
  });
});

afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});

beforeEach(() => mock.reset());

const TEXT = 'The capital of France is Paris, of course.';
const TOOL = { id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' };
const WEATHER_TOOL_OPENAI = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] } },
};
const WEATHER_TOOL_ANTHROPIC = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
};

/** The anthropic-version header the Anthropic SDK sent the sidecar last (a same-format backend must get the same). */
let sdkAnthropicVersion: string | null = null;
const recordingFetch: typeof fetch = (input, init) => {
  sdkAnthropicVersion = new Headers(init?.headers).get('anthropic-version');
  return fetch(input, init);
};

function expectUpstreamShape(kind: BackendKind, client: 'openai' | 'anthropic' = 'openai') {
  const got = mock.received.at(-1)!;
  const auth = got.headers;
  switch (kind) {
    case 'openai':
      expect(got.path).toBe('/v1/chat/completions');
      expect(auth.authorization).toBe(`Bearer ${KEYS.openai}`);
      expect(got.body.model).toBe(UPSTREAM_MODEL.openai);
      break;
    case 'openai-compatible':
      expect(got.path).toBe('/v1/chat/completions');
      expect(auth.authorization).toBe(`Bearer ${KEYS.compat}`);
      expect(got.body.model).toBe(UPSTREAM_MODEL['openai-compatible']);
      break;
    case 'azure-openai':
      expect(got.path).toBe(`/openai/deployments/${UPSTREAM_MODEL['azure-openai']}/chat/completions?api-version=2024-10-21`);
      expect(auth['api-key']).toBe(KEYS.azure);
      expect(auth.authorization).toBeUndefined();
      break;
    case 'anthropic':
      expect(got.path).toBe('/v1/messages');
      expect(auth['x-api-key']).toBe(KEYS.anthropic);
      // the SDK's own API version on same-format traffic; the pinned one when the request was translated
      expect(auth['anthropic-version']).toBe(client === 'anthropic' ? sdkAnthropicVersion : '2023-06-01');
      expect(got.body.model).toBe(UPSTREAM_MODEL.anthropic);
      expect(got.body.system).toBe('Answer briefly.');
      break;
    case 'gemini':
      expect(got.path).toMatch(new RegExp(`^/v1beta/models/${UPSTREAM_MODEL.gemini}:(streamGenerateContent\\?alt=sse|generateContent)$`));
      expect(auth['x-goog-api-key']).toBe(KEYS.gemini);
      expect(got.body.systemInstruction).toEqual({ parts: [{ text: 'Answer briefly.' }] });
      break;
  }
}

describe.each(BACKENDS)('OpenAI SDK client -> %s backend', (kind) => {
  const client = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused-by-airoute', maxRetries: 0 });

  test('non-stream text: exact text, finish_reason stop, usage', async () => {
    mock.answer = { text: TEXT, inputTokens: 11, outputTokens: 7 };
    const r = await client().chat.completions.create({
      model: `via-${kind}`,
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
      max_tokens: 64,
    });
    expect(r.choices[0]!.message.content).toBe(TEXT);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    expectUpstreamShape(kind);
  });

  test('stream text with include_usage: chunks concatenate to the exact text, then usage, then [DONE]', async () => {
    mock.answer = { text: TEXT, inputTokens: 11, outputTokens: 7 };
    const stream = await client().chat.completions.create({
      model: `via-${kind}`,
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(TEXT);
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
    expectUpstreamShape(kind);
  });

  test('stream without include_usage: no usage chunk reaches the client', async () => {
    mock.answer = { text: TEXT };
    const stream = await client().chat.completions.create({ model: `via-${kind}`, messages: [{ role: 'user', content: 'hi' }], stream: true });
    let sawUsage = false;
    let text = '';
    for await (const chunk of stream) {
      if (chunk.usage) sawUsage = true;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(TEXT);
    expect(sawUsage).toBe(false);
  });

  test.each([false, true])('tool call (stream=%s): name, id, arguments and finish_reason tool_calls', async (stream) => {
    mock.answer = { text: '', toolCalls: [TOOL], inputTokens: 20, outputTokens: 9 };
    const params = {
      model: `via-${kind}`,
      messages: [{ role: 'user' as const, content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL_OPENAI],
    };
    let name = '';
    let args = '';
    let id = '';
    let finish: string | null = null;
    if (stream) {
      const s = await client().chat.completions.create({ ...params, stream: true });
      for await (const chunk of s) {
        for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
          if (tc.id) id = tc.id;
          if (tc.function?.name) name = tc.function.name;
          args += tc.function?.arguments ?? '';
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } else {
      const r = await client().chat.completions.create(params);
      const tc = r.choices[0]!.message.tool_calls![0]!;
      if (tc.type !== 'function') throw new Error('not a function tool call');
      id = tc.id;
      name = tc.function.name;
      args = tc.function.arguments;
      finish = r.choices[0]!.finish_reason;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'Paris', unit: 'celsius' });
    expect(finish).toBe('tool_calls');
    // Gemini does not give calls ids; the sidecar makes a stable one.
    if (kind === 'gemini') expect(id).toMatch(/^call_/);
    else expect(id).toBe(TOOL.id);
    const sent = mock.received.at(-1)!.body;
    if (kind === 'anthropic') expect(sent.tools).toEqual([{ name: 'get_weather', description: 'Weather for a city', input_schema: WEATHER_TOOL_OPENAI.function.parameters }]);
    if (kind === 'gemini')
      expect(sent.tools).toEqual([{ functionDeclarations: [{ name: 'get_weather', description: 'Weather for a city', parametersJsonSchema: WEATHER_TOOL_OPENAI.function.parameters }] }]);
  });
});

describe.each(BACKENDS)('Anthropic SDK client -> %s backend', (kind) => {
  const client = () => new Anthropic({ baseURL: sc.dataURL, apiKey: 'unused-by-airoute', maxRetries: 0, fetch: recordingFetch });

  test('non-stream text: exact text, stop_reason end_turn, usage', async () => {
    mock.answer = { text: TEXT, inputTokens: 11, outputTokens: 7 };
    const m = await client().messages.create({
      model: `via-${kind}`,
      max_tokens: 64,
      system: 'Answer briefly.',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
    });
    expect(m.content).toEqual([expect.objectContaining({ type: 'text', text: TEXT })]);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    expectUpstreamShape(kind, 'anthropic');
    if (kind !== 'anthropic' && kind !== 'gemini') {
      const sent = mock.received.at(-1)!.body;
      expect(sent.messages).toEqual([
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'What is the capital of France?' },
      ]);
      // OpenAI's reasoning models refuse max_tokens; OpenAI-compatible servers know max_tokens
      if (kind === 'openai-compatible') expect(sent.max_tokens).toBe(64);
      else expect([sent.max_completion_tokens, sent.max_tokens]).toEqual([64, undefined]);
    }
  });

  test('stream text: the SDK assembles the exact text, end_turn and usage from the events', async () => {
    mock.answer = { text: TEXT, inputTokens: 11, outputTokens: 7 };
    const stream = client().messages.stream({
      model: `via-${kind}`,
      max_tokens: 64,
      system: 'Answer briefly.',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
    });
    let deltas = '';
    stream.on('text', (t) => (deltas += t));
    const m = await stream.finalMessage();
    expect(deltas).toBe(TEXT);
    expect(m.content).toEqual([expect.objectContaining({ type: 'text', text: TEXT })]);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    expectUpstreamShape(kind, 'anthropic');
  });

  test.each([false, true])('tool_use block (stream=%s): name, input and stop_reason tool_use', async (stream) => {
    mock.answer = { text: 'Let me check.', toolCalls: [TOOL], inputTokens: 20, outputTokens: 9 };
    const params = { model: `via-${kind}`, max_tokens: 128, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }], tools: [WEATHER_TOOL_ANTHROPIC] };
    const m = stream ? await client().messages.stream(params).finalMessage() : await client().messages.create(params);
    const text = m.content.find((b) => b.type === 'text');
    const tool = m.content.find((b) => b.type === 'tool_use');
    expect(text && text.type === 'text' ? text.text : undefined).toBe('Let me check.');
    expect(tool && tool.type === 'tool_use' ? { name: tool.name, input: tool.input } : undefined).toEqual({ name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } });
    expect(m.stop_reason).toBe('tool_use');
    expect(m.usage).toMatchObject({ input_tokens: 20, output_tokens: 9 });
    if (kind === 'openai' || kind === 'openai-compatible' || kind === 'azure-openai')
      expect(mock.received.at(-1)!.body.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: WEATHER_TOOL_ANTHROPIC.input_schema } }]);
  });
});

test('a tool round trip translates: assistant tool call + tool result reach an Anthropic backend as tool_use/tool_result blocks', async () => {
  mock.answer = { text: 'It is 18 degrees in Paris.' };
  const client = new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'x', maxRetries: 0 });
  const r = await client.chat.completions.create({
    model: 'via-anthropic',
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '18C' },
    ],
    tools: [WEATHER_TOOL_OPENAI],
  });
  expect(r.choices[0]!.message.content).toBe('It is 18 degrees in Paris.');
  expect(mock.received.at(-1)!.body.messages).toEqual([
    { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '18C' }] },
  ]);
});

test('same-format requests pass through untouched but for the model: unknown OpenAI parameters reach an OpenAI backend', async () => {
  mock.answer = { text: TEXT };
  const client = new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'x', maxRetries: 0 });
  await client.chat.completions.create({
    model: 'via-openai',
    messages: [{ role: 'user', content: 'hi' }],
    n: 1,
    stop: ['\n\n'],
    response_format: { type: 'json_object' },
    seed: 42,
    logprobs: true,
  });
  const sent = mock.received.at(-1)!.body;
  expect(sent).toMatchObject({ model: 'gpt-4o-mini', n: 1, stop: ['\n\n'], response_format: { type: 'json_object' }, seed: 42, logprobs: true });
});

test('every response carries x-airoute-request-id, and /v1/models lists the routes', async () => {
  const res = await fetch(`${sc.dataURL}/v1/models`);
  expect(res.headers.get('x-airoute-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  const body = (await res.json()) as { data: { id: string }[] };
  expect(body.data.map((m) => m.id).sort()).toEqual(BACKENDS.map((k) => `via-${k}`).sort());
  const anthropic = new Anthropic({ baseURL: sc.dataURL, apiKey: 'x', maxRetries: 0 });
  const page = await anthropic.models.list();
  expect(page.data.map((m) => m.id)).toContain('via-anthropic');
});

test('embeddings pass through to an OpenAI-format backend with the model replaced', async () => {
  const client = new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'x', maxRetries: 0 });
  const r = await client.embeddings.create({ model: 'via-openai', input: ['a', 'b'] });
  expect(r.data).toHaveLength(2);
  expect(r.data[0]!.embedding).toEqual([0.1, 0.2, 0.3]);
  expect(mock.received.at(-1)!.path).toBe('/v1/embeddings');
  expect(mock.received.at(-1)!.body.model).toBe('gpt-4o-mini');
});
