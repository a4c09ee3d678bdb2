// Reasoning through the Responses API on another provider: `reasoning.effort` becomes Anthropic's
// thinking, its thinking streams back as reasoning summary events and a reasoning item whose
// `encrypted_content` carries the signature (when the client asks for it), and that item, passed
// back on the next turn, reaches Anthropic as the signed thinking block it was; never a provider
// that cannot verify it.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { MOCK_THINKING_SIGNATURE, MockProvider } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'an', type: 'anthropic', baseURL: mock.url },
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1` },
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1` },
    ],
    routes: [
      { model: 'claude', backends: [{ backend: 'an', model: 'claude-sonnet-4-5' }] },
      { model: 'gpt', backends: [{ backend: 'oa', model: 'gpt-5' }] },
      { model: 'llama', backends: [{ backend: 'co', model: 'llama' }] },
    ],
  });
});
afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});
beforeEach(() => {
  mock.reset();
  mock.answer = { text: 'Paris.', reasoning: 'The user asks for a capital; France has Paris.' };
});

const client = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });

test('reasoning.effort → Anthropic thinking; thinking streams as reasoning summary events; the item carries the signature when asked', async () => {
  const stream = client().responses.stream({
    model: 'claude',
    input: 'Capital of France?',
    reasoning: { effort: 'low', summary: 'auto' },
    max_output_tokens: 8000,
    include: ['reasoning.encrypted_content'],
    store: false,
  });
  let summary = '';
  for await (const ev of stream) if (ev.type === 'response.reasoning_summary_text.delta') summary += ev.delta;
  const final = await stream.finalResponse();
  expect(summary).toBe('The user asks for a capital; France has Paris.');
  expect(final.output_text).toBe('Paris.');
  const item = final.output[0] as OpenAI.Responses.ResponseReasoningItem;
  expect(item).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: summary }] });
  expect(item.encrypted_content).toMatch(/^airoute\.v1\./);
  expect(mock.received[0]!.body.thinking).toMatchObject({ type: 'enabled' });
});

test('the reasoning item passed back reaches Anthropic as its signed thinking block; OpenAI and an OpenAI-compatible server never see it', async () => {
  const first = await client().responses.create({ model: 'claude', input: 'Capital of France?', reasoning: { effort: 'low' }, max_output_tokens: 8000, include: ['reasoning.encrypted_content'], store: false });
  const turns: OpenAI.Responses.ResponseInputItem[] = [{ role: 'user', content: 'Capital of France?' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'And of Italy?' }];
  mock.reset();
  mock.answer = { text: 'Rome.' };
  await client().responses.create({ model: 'claude', input: turns, reasoning: { effort: 'low' }, max_output_tokens: 8000, store: false });
  expect((mock.received[0]!.body.messages as { role: string; content: unknown[] }[])[1]).toEqual({
    role: 'assistant',
    content: [
      { type: 'thinking', thinking: 'The user asks for a capital; France has Paris.', signature: MOCK_THINKING_SIGNATURE },
      { type: 'text', text: 'Paris.' },
    ],
  });
  await client().responses.create({ model: 'gpt', input: turns, store: false });
  expect(JSON.stringify(mock.received[1]!.body.input)).not.toContain('reasoning');
  await client().responses.create({ model: 'llama', input: turns, store: false });
  expect(JSON.stringify(mock.received[2]!.body.messages)).not.toContain(MOCK_THINKING_SIGNATURE);
});

test('without include, the reasoning item has its summary and no encrypted content; with store on, the next turn by previous_response_id still gets the signature', async () => {
  const first = await client().responses.create({ model: 'claude', input: 'Capital of France?', reasoning: { effort: 'low' }, max_output_tokens: 8000 });
  expect(first.output[0]).toEqual({ id: expect.stringMatching(/^rs_/), type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user asks for a capital; France has Paris.' }] });
  mock.reset();
  mock.answer = { text: 'Rome.' };
  await client().responses.create({ model: 'claude', input: 'And of Italy?', previous_response_id: first.id, reasoning: { effort: 'low' }, max_output_tokens: 8000 });
  expect(JSON.stringify(mock.received[0]!.body.messages)).toContain(MOCK_THINKING_SIGNATURE);
});
