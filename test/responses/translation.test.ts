// The Responses API through the official `openai` SDK: to OpenAI and Azure OpenAI backends the
// request goes through unchanged and the bytes come back unchanged; to Anthropic and
// OpenAI-compatible backends it is translated both ways, tool calls included. And the other way
// round: Chat Completions and Messages clients reach an upstream that serves only Responses.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider } from '../support/mock-provider.ts';
import { MOCK_RESPONSE_ID } from '../support/mock-responses.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const KEYS = { openai: 'sk-openai-TESTKEY-0123456789abcdef', azure: 'azure-TESTKEY-0123456789abcdef', anthropic: 'sk-ant-TESTKEY-012345', gemini: 'AIzaTESTKEY0123456789abcdef', compat: 'compat-TESTKEY-0123456789abcdef' };
const TEXT = 'The capital of France is Paris, of course.';
const TOOL = { id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' };
const WEATHER: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
  strict: false,
};

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1`, apiKey: { value: KEYS.openai } },
      { name: 'oa-responses-only', type: 'openai', baseURL: `${mock.url}/v1`, apiKey: { value: KEYS.openai }, api: 'responses' },
      { name: 'az', type: 'azure-openai', baseURL: mock.url, apiKey: { value: KEYS.azure } },
      { name: 'an', type: 'anthropic', baseURL: mock.url, apiKey: { value: KEYS.anthropic } },
      { name: 'ge', type: 'gemini', baseURL: mock.url, apiKey: { value: KEYS.gemini } },
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1`, apiKey: { value: KEYS.compat } },
    ],
    routes: [
      { model: 'via-openai', backends: [{ backend: 'oa', model: 'gpt-4o-mini' }] },
      { model: 'via-responses-only', backends: [{ backend: 'oa-responses-only', model: 'o3-pro' }] },
      { model: 'via-azure-openai', backends: [{ backend: 'az', model: 'my-gpt4o-deployment' }] },
      { model: 'via-anthropic', backends: [{ backend: 'an', model: 'claude-haiku-4-5' }] },
      { model: 'via-gemini', backends: [{ backend: 'ge', model: 'gemini-2.5-flash' }] },
      { model: 'via-openai-compatible', backends: [{ backend: 'co', model: 'meta-llama/Llama-3.1-8B-Instruct' }] },
    ],
  });
});

afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});

beforeEach(() => mock.reset());

const client = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused-by-airoute', maxRetries: 0 });

const KINDS = ['openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible'] as const;
type Kind = (typeof KINDS)[number];

/** What the provider received: the API of its own kind, its auth, the instructions in its own place. */
function expectUpstream(kind: Kind) {
  const got = mock.received.at(-1)!;
  switch (kind) {
    case 'openai':
      expect(got.path).toBe('/v1/responses');
      expect(got.headers.authorization).toBe(`Bearer ${KEYS.openai}`);
      expect(got.body).toMatchObject({ model: 'gpt-4o-mini', instructions: 'Answer briefly.' });
      break;
    case 'azure-openai':
      expect(got.path).toBe('/openai/v1/responses');
      expect(got.headers['api-key']).toBe(KEYS.azure);
      expect(got.body).toMatchObject({ model: 'my-gpt4o-deployment', instructions: 'Answer briefly.' });
      break;
    case 'anthropic':
      expect(got.path).toBe('/v1/messages');
      expect(got.headers['x-api-key']).toBe(KEYS.anthropic);
      expect(got.body).toMatchObject({ model: 'claude-haiku-4-5', system: 'Answer briefly.' });
      break;
    case 'gemini':
      expect(got.path).toMatch(/^\/v1beta\/models\/gemini-2\.5-flash:(streamGenerateContent\?alt=sse|generateContent)$/);
      expect(got.headers['x-goog-api-key']).toBe(KEYS.gemini);
      expect(got.body).toMatchObject({ systemInstruction: { parts: [{ text: 'Answer briefly.' }] } });
      break;
    case 'openai-compatible':
      expect(got.path).toBe('/v1/chat/completions');
      expect(got.body).toMatchObject({ model: 'meta-llama/Llama-3.1-8B-Instruct', messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is the capital of France?' }] });
      break;
  }
}

describe.each(KINDS)('openai SDK responses API -> %s backend', (kind) => {
  const model = `via-${kind}`;

  test('responses.create: the exact text, status completed, usage in Responses terms', async () => {
    mock.answer = { text: TEXT, inputTokens: 11, outputTokens: 7 };
    const r = await client().responses.create({ model, instructions: 'Answer briefly.', input: 'What is the capital of France?', max_output_tokens: 64 });
    expect(r.output_text).toBe(TEXT);
    expect(r.status).toBe('completed');
    expect(r.usage).toMatchObject({ input_tokens: 11, output_tokens: 7, total_tokens: 18, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } });
    expectUpstream(kind);
    // a translated response is named after the request; OpenAI's keeps OpenAI's id
    expect(r.id).toEqual(kind === 'openai' || kind === 'azure-openai' ? MOCK_RESPONSE_ID : expect.stringMatching(/^resp_[0-9a-f]{32}$/));
  });

  test('responses.stream: typed events numbered without a gap, deltas concatenating to the text, the final response', async () => {
    mock.answer = { text: TEXT, inputTokens: 11, outputTokens: 7 };
    const stream = client().responses.stream({ model, instructions: 'Answer briefly.', input: 'What is the capital of France?' });
    const seen: { type: string; seq: number }[] = [];
    let text = '';
    for await (const ev of stream) {
      seen.push({ type: ev.type, seq: ev.sequence_number });
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    const final = await stream.finalResponse();
    expect(text).toBe(TEXT);
    expect(final.output_text).toBe(TEXT);
    expect(final.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i));
    expect(seen.slice(0, 4).map((e) => e.type)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(seen.at(-1)!.type).toBe('response.completed');
    expect(seen.filter((e) => e.type === 'response.output_text.delta').length).toBeGreaterThan(3);
    expectUpstream(kind);
  });

  test('a streamed tool call arrives as a function_call item, arguments as deltas; its output goes back as the provider expects', async () => {
    mock.answer = { text: '', toolCalls: [TOOL] };
    const stream = client().responses.stream({ model, instructions: 'Answer briefly.', input: 'Weather in Paris?', tools: [WEATHER] });
    let args = '';
    for await (const ev of stream) if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    // Gemini gives its calls no ids: the sidecar names them
    expect(call).toMatchObject({ type: 'function_call', call_id: kind === 'gemini' ? expect.stringMatching(/^call_/) : TOOL.id, name: 'get_weather', arguments: TOOL.arguments, status: 'completed' });
    const callId = (call as OpenAI.Responses.ResponseFunctionToolCall).call_id;
    expect(args).toBe(TOOL.arguments);

    mock.answer = { text: 'It is 18C in Paris.' };
    const next = await client().responses.create({
      model,
      instructions: 'Answer briefly.',
      input: [{ role: 'user', content: 'Weather in Paris?' }, call as OpenAI.Responses.ResponseFunctionToolCall, { type: 'function_call_output', call_id: callId, output: '18C' }],
      tools: [WEATHER],
    });
    expect(next.output_text).toBe('It is 18C in Paris.');
    const sent = mock.received.at(-1)!.body;
    if (kind === 'anthropic')
      expect(sent.messages).toEqual([
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: TOOL.id, name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: TOOL.id, content: '18C' }] },
      ]);
    else if (kind === 'gemini')
      expect(sent.contents).toEqual([
        { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: expect.anything() } }] },
      ]);
    else if (kind === 'openai-compatible')
      expect(sent.messages).toEqual([
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: TOOL.id, type: 'function', function: { name: 'get_weather', arguments: TOOL.arguments } }] },
        { role: 'tool', tool_call_id: TOOL.id, content: '18C' },
      ]);
    else expect((sent.input as unknown[]).at(-1)).toEqual({ type: 'function_call_output', call_id: TOOL.id, output: '18C' });
  });
});

describe('OpenAI backend: passthrough', () => {
  test("a streamed response reaches the client byte for byte as the upstream sent it", async () => {
    mock.answer = { text: TEXT, reasoning: 'Geography question.' };
    const res = await fetch(`${sc.dataURL}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'via-openai', input: 'Capital of France?', stream: true, include: ['reasoning.encrypted_content'] }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = await res.text();
    expect(body).toBe(mock.received.at(-1)!.sent);
    expect(mock.received.at(-1)!.body).toEqual({ model: 'gpt-4o-mini', input: 'Capital of France?', stream: true, include: ['reasoning.encrypted_content'] });
  });

  test('a non-streamed response is the upstream body itself', async () => {
    mock.answer = { text: TEXT };
    const res = await fetch(`${sc.dataURL}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'via-openai', input: 'Capital?' }) });
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ id: MOCK_RESPONSE_ID, object: 'response', output: [{ type: 'message' }] });
    expect(text).toBe(JSON.stringify(JSON.parse(text))); // the mock's own serialisation, untouched
  });

  test('built-in tools go to OpenAI as sent; to another provider they are a 400 naming the field, and nothing is sent', async () => {
    mock.answer = { text: TEXT };
    await client().responses.create({ model: 'via-openai', input: 'News?', tools: [{ type: 'web_search' }] });
    expect(mock.received.at(-1)!.body.tools).toEqual([{ type: 'web_search' }]);
    mock.reset();
    const err = await client()
      .responses.create({ model: 'via-anthropic', input: 'News?', tools: [{ type: 'web_search' }] })
      .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/tools\[0\] \(built-in tool web_search, served only by OpenAI Responses backends\)/);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('unsupported_parameter');
    expect(mock.received).toEqual([]);
  });
});

describe('a Responses-only upstream (api: responses) reached by other clients', () => {
  test('Chat Completions client, streamed and not: translated to /responses and back, usage included', async () => {
    mock.answer = { text: TEXT, inputTokens: 9, outputTokens: 5 };
    const oa = client();
    const r = await oa.chat.completions.create({ model: 'via-responses-only', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Capital?' }] });
    expect(r.choices[0]!.message.content).toBe(TEXT);
    expect(r.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 5 });
    const got = mock.received.at(-1)!;
    expect(got.path).toBe('/v1/responses');
    expect(got.body).toEqual({ model: 'o3-pro', store: false, instructions: 'Be brief.', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Capital?' }] }], stream: false });

    const stream = await oa.chat.completions.create({ model: 'via-responses-only', messages: [{ role: 'user', content: 'Capital?' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(TEXT);
    expect(usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 5 });
  });

  test('Messages client: a streamed tool call comes back as tool_use', async () => {
    mock.answer = { text: '', toolCalls: [TOOL] };
    const an = new Anthropic({ baseURL: sc.dataURL, apiKey: 'unused', maxRetries: 0 });
    const m = await an.messages
      .stream({
        model: 'via-responses-only',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      })
      .finalMessage();
    expect(m.content).toEqual([{ type: 'tool_use', id: TOOL.id, name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } }]);
    expect(m.stop_reason).toBe('tool_use');
    expect(mock.received.at(-1)!.body).toMatchObject({ max_output_tokens: 256, tools: [{ type: 'function', name: 'get_weather', strict: false }], stream: true });
  });
});
