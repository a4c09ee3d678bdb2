// Clients the project did not write, each on its default path to OpenAI (the Responses API),
// pointed at the sidecar: the Vercel AI SDK's `openai(...)` provider (generateText, streamText
// with a tool loop) and the OpenAI Agents SDK running a tool-using agent. Against an OpenAI
// backend (passthrough: the bytes the framework read are the upstream's), an Anthropic backend and
// an OpenAI-compatible backend (translation both ways).
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool as agentTool } from '@openai/agents';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { MockProvider, type AnswerScript } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const TEXT = 'Paris is the capital of France.';
const FINAL = 'It is 18C and sunny in Paris.';
const CALL = { id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
const KINDS = ['openai', 'anthropic', 'openai-compatible'] as const;

let mock: MockProvider;
let sc: TestSidecar;
/** Every body the frameworks read from the sidecar, as bytes (through their `fetch`). */
const read: Promise<string>[] = [];

/** A fetch that keeps a copy of what the client reads, so a passthrough can be compared with what the upstream sent. */
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  read.push(res.clone().text());
  return res;
};

/** Whether a request already carries the tool's result, in the format the provider got it. */
function hasToolResult(body: Record<string, unknown>): boolean {
  const turns = JSON.stringify(body.messages ?? body.input ?? []);
  return turns.includes('"tool_result"') || turns.includes('"role":"tool"') || turns.includes('"function_call_output"');
}

/** The model asks for the weather once (with a word before the call), then answers with it. */
const toolLoop = (body: Record<string, unknown>): AnswerScript => (hasToolResult(body) ? { text: FINAL } : { text: 'Let me check.', toolCalls: [CALL] });

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
  setTracingDisabled(true);
  setDefaultOpenAIClient(new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0, fetch: recordingFetch }));
});

afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});

beforeEach(() => {
  mock.reset();
  delete mock.answerFor;
  read.length = 0;
});

const provider = () => createOpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', fetch: recordingFetch });

/** The last upstream request went to the API of the backend's kind. */
function expectUpstreamKind(kind: (typeof KINDS)[number]) {
  const path = mock.received.at(-1)!.path;
  expect(path).toBe(kind === 'openai' ? '/v1/responses' : kind === 'anthropic' ? '/v1/messages' : '/v1/chat/completions');
}

/** On a passthrough backend, the framework read exactly the bytes the upstream sent. */
async function expectPassthroughBytes(kind: (typeof KINDS)[number]) {
  if (kind !== 'openai') return;
  const bodies = await Promise.all(read);
  const sent = mock.received.map((r) => r.sent).filter((s): s is string => s !== undefined);
  expect(sent.length).toBeGreaterThan(0);
  for (const s of sent) expect(bodies).toContain(s);
}

describe.each(KINDS)('Vercel AI SDK, default openai() provider -> %s backend', (kind) => {
  const model = `via-${kind}`;

  test('generateText: the text and usage', async () => {
    mock.answer = { text: TEXT, inputTokens: 10, outputTokens: 6 };
    const r = await generateText({ model: provider()(model), prompt: 'Capital of France?' });
    expect(r.text).toBe(TEXT);
    expect(r.usage).toMatchObject({ inputTokens: 10, outputTokens: 6 });
    expectUpstreamKind(kind);
  });

  test('streamText with a tool: the call streams, the tool runs, the answer uses its result', async () => {
    mock.answerFor = toolLoop;
    const calls: unknown[] = [];
    const r = streamText({
      model: provider()(model),
      prompt: 'Weather in Paris?',
      tools: {
        get_weather: tool({
          description: 'Current weather for a city',
          inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
          execute: async (input) => {
            calls.push(input);
            return '18C, sunny';
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    let text = '';
    for await (const delta of r.textStream) text += delta;
    expect(calls).toEqual([{ city: 'Paris' }]);
    expect(text).toBe(`Let me check.${FINAL}`);
    expect(await r.finishReason).toBe('stop');
    expect(mock.received).toHaveLength(2);
    expect(hasToolResult(mock.received[1]!.body)).toBe(true);
    // With store on, the SDK names step one's message by its item id: OpenAI resolves it; for any other provider the sidecar does.
    const second = JSON.stringify(mock.received[1]!.body);
    if (kind === 'openai') expect(second).toContain('"type":"item_reference"');
    else expect(second).toContain('Let me check.');
    expectUpstreamKind(kind);
    await expectPassthroughBytes(kind);
  });
});

describe.each(KINDS)('OpenAI Agents SDK -> %s backend', (kind) => {
  const model = `via-${kind}`;
  const getWeather = agentTool({
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => `18C and sunny in ${city}`,
  });

  test('a tool-using agent runs its loop through the sidecar to the final answer', async () => {
    mock.answerFor = toolLoop;
    const agent = new Agent({ name: 'Weather', instructions: 'Answer with the tool.', model, tools: [getWeather] });
    const result = await run(agent, 'Weather in Paris?');
    expect(result.finalOutput).toBe(FINAL);
    expect(mock.received).toHaveLength(2);
    const second = JSON.stringify(mock.received[1]!.body);
    expect(second).toContain('18C and sunny in Paris');
    expectUpstreamKind(kind);
  });

  test('streamed: the same loop, text deltas and the final output', async () => {
    mock.answerFor = toolLoop;
    const agent = new Agent({ name: 'Weather', instructions: 'Answer with the tool.', model, tools: [getWeather] });
    const stream = await run(agent, 'Weather in Paris?', { stream: true });
    let text = '';
    for await (const ev of stream) if (ev.type === 'raw_model_stream_event' && ev.data.type === 'output_text_delta') text += ev.data.delta;
    await stream.completed;
    expect(stream.finalOutput).toBe(FINAL);
    expect(text).toBe(`Let me check.${FINAL}`);
    await expectPassthroughBytes(kind);
  });
});
