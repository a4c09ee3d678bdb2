// Conversation state with `previous_response_id`: handed to an OpenAI backend that keeps the
// response itself, served from what the sidecar stored for any other backend (and across them
// after a fallback), refused by name when the sidecar does not have it.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider } from '../support/mock-provider.ts';
import { MOCK_RESPONSE_ID } from '../support/mock-responses.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1` },
      { name: 'an', type: 'anthropic', baseURL: mock.url },
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1` },
    ],
    routes: [
      { model: 'via-openai', backends: [{ backend: 'oa', model: 'gpt-4o' }] },
      { model: 'via-anthropic', backends: [{ backend: 'an', model: 'claude-haiku-4-5' }] },
      { model: 'via-openai-compatible', backends: [{ backend: 'co', model: 'llama' }] },
    ],
  });
});

afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});

beforeEach(() => mock.reset());

const client = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });

describe('a translated backend: the sidecar keeps the conversation', () => {
  test('turn two with previous_response_id reaches Anthropic as the whole conversation, instructions of this turn only', async () => {
    mock.answer = { text: 'Hello Ada.' };
    const one = await client().responses.create({ model: 'via-anthropic', instructions: 'Be warm.', input: 'My name is Ada.' });
    mock.answer = { text: 'Your name is Ada.' };
    const two = await client().responses.create({ model: 'via-anthropic', instructions: 'Be brief.', input: 'What is my name?', previous_response_id: one.id });
    expect(two.output_text).toBe('Your name is Ada.');
    expect(two.previous_response_id).toBe(one.id);
    expect(mock.received.at(-1)!.body).toMatchObject({
      system: 'Be brief.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'My name is Ada.' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Hello Ada.' }] },
        { role: 'user', content: [{ type: 'text', text: 'What is my name?' }] },
      ],
    });
    // and on: turn three carries turns one and two
    mock.answer = { text: 'Goodbye.' };
    await client().responses.create({ model: 'via-anthropic', input: 'Bye.', previous_response_id: two.id });
    expect((mock.received.at(-1)!.body.messages as unknown[]).length).toBe(5);
  });

  test('a streamed tool call, then its output sent with previous_response_id: tool_use and tool_result reach the provider in order', async () => {
    mock.answer = { text: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }] };
    const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }];
    const stream = client().responses.stream({ model: 'via-anthropic', input: 'Weather in Oslo?', tools });
    const one = await stream.finalResponse();
    mock.answer = { text: 'It is 3C in Oslo.' };
    const two = await client().responses.create({ model: 'via-anthropic', previous_response_id: one.id, input: [{ type: 'function_call_output', call_id: 'call_1', output: '3C' }], tools });
    expect(two.output_text).toBe('It is 3C in Oslo.');
    expect(mock.received.at(-1)!.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Oslo?' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '3C' }] },
    ]);
  });

  test('GET /v1/responses/{id} answers a stored foreground response as its client got it', async () => {
    mock.answer = { text: 'Kept.' };
    const r = await client().responses.create({ model: 'via-openai-compatible', input: 'Keep this.', metadata: { topic: 'test' } });
    const again = await client().responses.retrieve(r.id);
    expect(again).toEqual(r);
  });

  test('an id the sidecar does not have (never stored, store: false, or deleted) is a 400 naming previous_response_id; nothing is sent', async () => {
    mock.answer = { text: 'Not kept.' };
    const unkept = await client().responses.create({ model: 'via-anthropic', input: 'x', store: false });
    const kept = await client().responses.create({ model: 'via-anthropic', input: 'x' });
    await client().responses.delete(kept.id);
    mock.reset();
    for (const id of ['resp_never', unkept.id, kept.id]) {
      const err = await client()
        .responses.create({ model: 'via-anthropic', input: 'And?', previous_response_id: id })
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.APIError>).param).toBe('previous_response_id');
      expect((err as InstanceType<typeof OpenAI.APIError>).message).toContain(`Previous response with id '${id}' not found`);
    }
    expect(mock.received).toEqual([]);
  });
});

describe('an OpenAI backend keeps its own responses', () => {
  test('a response OpenAI made is continued by id: previous_response_id goes upstream as sent, nothing is replayed', async () => {
    mock.answer = { text: 'First.' };
    const one = await client().responses.create({ model: 'via-openai', input: 'One' });
    expect(one.id).toBe(MOCK_RESPONSE_ID);
    mock.answer = { text: 'Second.' };
    await client().responses.create({ model: 'via-openai', input: 'Two', previous_response_id: one.id });
    expect(mock.received.at(-1)!.body).toEqual({ model: 'gpt-4o', input: 'Two', previous_response_id: one.id, stream: false });
  });

  test('one the sidecar made on Anthropic goes to OpenAI as the earlier turns, not as an id OpenAI never saw', async () => {
    mock.answer = { text: 'From Claude.' };
    const one = await client().responses.create({ model: 'via-anthropic', input: 'One' });
    mock.answer = { text: 'From GPT.' };
    await client().responses.create({ model: 'via-openai', input: 'Two', previous_response_id: one.id });
    expect(mock.received.at(-1)!.body).toEqual({
      model: 'gpt-4o',
      input: [{ role: 'user', content: 'One' }, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'From Claude.', annotations: [] }] }, { role: 'user', content: 'Two' }],
      stream: false,
    });
  });

  test('one OpenAI made, continued on Anthropic: the sidecar kept it too, so Claude gets the earlier turns', async () => {
    mock.answer = { text: 'From GPT.' };
    const stream = client().responses.stream({ model: 'via-openai', input: 'One' });
    const one = await stream.finalResponse();
    mock.answer = { text: 'From Claude.' };
    await client().responses.create({ model: 'via-anthropic', input: 'Two', previous_response_id: one.id });
    expect(mock.received.at(-1)!.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'One' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'From GPT.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Two' }] },
    ]);
  });
});
