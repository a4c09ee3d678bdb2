// OpenAI-compatible servers stream Chat Completions each with its own quirks. Each test replays one
// server's documented shape, byte for byte as its source or its issue tracker shows it, through a
// real sidecar to the official SDKs, and asserts what the client sees:
// - llama.cpp: usage (and `timings`) on the finish chunk, asked or not (ggml-org/llama.cpp#15443,
//   build b6210); a usage-only chunk even when not asked (ggml-org/llama.cpp#16048, build b6497);
//   `reasoning_content` deltas (tools/server/server-task.cpp, `to_json_oaicompat_chat_stream`).
// - vLLM: `stream_options.continuous_usage_stats` puts a running usage on every chunk, then a
//   usage-only chunk (tests/entrypoints/openai/test_completion.py, `test_completion_stream_options`);
//   `stop_reason` names the stop string that ended the choice (vllm/entrypoints/openai/protocol.py).
// - SGLang: `matched_stop` on the finish chunk, `reasoning_content` deltas and `usage.reasoning_tokens`
//   beside the totals (python/sglang/srt/entrypoints/openai/serving_chat.py, usage_processor.py).
// - Ollama: `role` on every delta, the last content and `finish_reason` in the same chunk, whole tool
//   calls in one chunk, `reasoning` for thinking (openai/openai.go, `ToChunk`).
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { data, ReplayProvider, type Recorded, type Replay } from './support/replay-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

const CREATED = 1755700000;
const streamOptions = (r: Recorded) => (r.body.stream_options ?? {}) as { include_usage?: boolean; continuous_usage_stats?: boolean };

/** llama-server b6210: the finish chunk carries usage and timings whether or not the client asked. */
function llamacpp(r: Recorded): Replay {
  const base = { created: CREATED, id: 'chatcmpl-L1', model: 'gpt-oss-20b', system_fingerprint: 'b6210-a094f38', object: 'chat.completion.chunk' };
  const choice = (delta: unknown, finish_reason: string | null = null) => ({ choices: [{ finish_reason, index: 0, delta }], ...base });
  return {
    frames: [
      data(choice({ role: 'assistant', content: null })),
      data(choice({ reasoning_content: 'Say hello.' })),
      data(choice({ content: 'Hello' })),
      data(choice({ content: ' world.' })),
      data({ ...choice({}, 'stop'), usage: { completion_tokens: 3, prompt_tokens: 12, total_tokens: 15 }, timings: { prompt_n: 12, prompt_ms: 20.1, predicted_n: 3, predicted_ms: 30.2 } }),
      data('[DONE]'),
    ],
  };
}

/** llama-server b6497: a usage-only chunk at the end, always. */
function llamacppAlwaysUsage(): Replay {
  const base = { created: CREATED, id: 'chatcmpl-L2', model: 'gemma-3-1b-it', system_fingerprint: 'b6497-cd08fc3e', object: 'chat.completion.chunk' };
  const choice = (delta: unknown, finish_reason: string | null = null) => ({ choices: [{ finish_reason, index: 0, delta }], ...base });
  return {
    frames: [
      data(choice({ role: 'assistant', content: null })),
      data(choice({ content: 'Hello world.' })),
      data(choice({}, 'stop')),
      data({ choices: [], ...base, usage: { completion_tokens: 3, prompt_tokens: 75, total_tokens: 78 }, timings: { cache_n: 0, prompt_n: 75, predicted_n: 3 } }),
      data('[DONE]'),
    ],
  };
}

/** vLLM: usage on every chunk when both include_usage and continuous_usage_stats are set; stop_reason names the stop string. */
function vllm(r: Recorded): Replay {
  const so = streamOptions(r);
  const continuous = so.include_usage === true && so.continuous_usage_stats === true;
  const base = { id: 'chatcmpl-V1', object: 'chat.completion.chunk', created: CREATED, model: 'meta-llama/Llama-3.1-8B-Instruct' };
  let completion = 0;
  const chunk = (delta: unknown, finish: { finish_reason: string; stop_reason: string } | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish?.finish_reason ?? null, ...(finish ? { stop_reason: finish.stop_reason } : {}) }],
    ...(continuous ? { usage: { prompt_tokens: 12, total_tokens: 12 + completion, completion_tokens: completion } } : {}),
  });
  const frames = [data(chunk({ role: 'assistant', content: '' }))];
  for (const piece of ['Hello', ' world.']) {
    completion++;
    frames.push(data(chunk({ content: piece })));
  }
  completion++;
  frames.push(data(chunk({ content: '' }, { finish_reason: 'stop', stop_reason: 'END' })));
  if (so.include_usage) frames.push(data({ ...base, choices: [], usage: { prompt_tokens: 12, total_tokens: 15, completion_tokens: 3 } }));
  frames.push(data('[DONE]'));
  return { frames };
}

/** SGLang with a reasoning parser: reasoning_content deltas, matched_stop, reasoning_tokens beside the totals. */
function sglang(r: Recorded): Replay {
  const base = { id: 'b1f3c0d2', object: 'chat.completion.chunk', created: CREATED, model: 'Qwen/Qwen3-8B' };
  const choice = (delta: unknown, finish_reason: string | null = null, matched_stop: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason, matched_stop }],
    usage: null,
  });
  return {
    frames: [
      data(choice({ role: 'assistant', content: '' })),
      data(choice({ reasoning_content: 'The user greets.' })),
      data(choice({ content: 'Hello' })),
      data(choice({ content: ' world.' })),
      data(choice({}, 'stop', '###')),
      ...(streamOptions(r).include_usage ? [data({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21, reasoning_tokens: 6 } })] : []),
      data('[DONE]'),
    ],
  };
}

/** Ollama's OpenAI endpoint: role on every delta, the last text with the finish reason, whole tool calls, `reasoning`. */
function ollama(r: Recorded): Replay {
  const base = { id: 'chatcmpl-768', object: 'chat.completion.chunk', created: CREATED, model: 'qwen3:8b', system_fingerprint: 'fp_ollama' };
  const choice = (delta: Record<string, unknown>, finish_reason: string | null = null) => ({ ...base, choices: [{ index: 0, delta: { role: 'assistant', ...delta }, finish_reason }] });
  const usage = streamOptions(r).include_usage ? [data({ ...base, choices: [], usage: { prompt_tokens: 14, completion_tokens: 4, total_tokens: 18 } })] : [];
  if (Array.isArray(r.body.tools))
    return {
      frames: [
        data(choice({ content: '', tool_calls: [{ id: 'call_hk81qg8b', index: 0, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] })),
        data(choice({ content: '' }, 'tool_calls')),
        ...usage,
        data('[DONE]'),
      ],
    };
  return {
    frames: [data(choice({ content: '', reasoning: 'Greeting.' })), data(choice({ content: 'Hello' })), data(choice({ content: ' world.' }, 'stop')), ...usage, data('[DONE]')],
  };
}

const SERVERS: Record<string, (r: Recorded) => Replay> = { llamacpp, 'llamacpp-b6497': llamacppAlwaysUsage, vllm, sglang, ollama };

let replay: ReplayProvider;
let sc: TestSidecar;

beforeAll(async () => {
  replay = await new ReplayProvider((r) => SERVERS[r.path.split('/')[1]!]!(r)).start();
  const names = Object.keys(SERVERS);
  sc = await testSidecar({
    backends: names.map((n) => ({ name: n.replace('.', '-'), type: 'openai-compatible', baseURL: `${replay.url}/${n}/v1`, apiKey: { value: 'local-key-0123456789' } })),
    routes: names.map((n) => ({ model: n, backends: [{ backend: n.replace('.', '-'), model: 'served' }], retry: { attempts: 1 } })),
  });
});

afterAll(async () => {
  await sc?.close();
  await replay?.stop();
});

const openai = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: sc.dataURL, apiKey: 'unused', maxRetries: 0 });
const hi = [{ role: 'user' as const, content: 'Hi' }];

/** Streams with the OpenAI SDK, keeping every chunk as the client saw it. */
async function chunks(model: string, extra: Omit<OpenAI.ChatCompletionCreateParamsStreaming, 'model' | 'messages' | 'stream'> = {}) {
  const out: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of await openai().chat.completions.create({ model, messages: hi, stream: true, ...extra })) out.push(c);
  return {
    all: out,
    text: out.map((c) => c.choices[0]?.delta.content ?? '').join(''),
    finish: out.map((c) => c.choices[0]?.finish_reason).find(Boolean),
    usage: out.filter((c) => c.usage).map((c) => c.usage),
  };
}

describe('llama.cpp', () => {
  test('usage on the finish chunk, not asked for: the finish chunk still arrives, without the usage', async () => {
    const s = await chunks('llamacpp');
    expect([s.text, s.finish, s.usage]).toEqual(['Hello world.', 'stop', []]);
  });

  test('usage on the finish chunk, asked for: the client gets it there, once', async () => {
    const s = await chunks('llamacpp', { stream_options: { include_usage: true } });
    expect([s.text, s.finish]).toEqual(['Hello world.', 'stop']);
    expect(s.usage).toEqual([{ completion_tokens: 3, prompt_tokens: 12, total_tokens: 15 }]);
    expect(s.all.find((c) => c.usage)?.choices[0]?.finish_reason).toBe('stop');
  });

  test('a usage-only chunk sent unasked (b6497) is dropped; asked for, it arrives', async () => {
    expect((await chunks('llamacpp-b6497')).usage).toEqual([]);
    expect((await chunks('llamacpp-b6497', { stream_options: { include_usage: true } })).usage).toEqual([{ completion_tokens: 3, prompt_tokens: 75, total_tokens: 78 }]);
  });

  test("an Anthropic client gets reasoning_content as thinking, and the finish chunk's usage", async () => {
    const m = await anthropic().messages.stream({ model: 'llamacpp', max_tokens: 64, messages: hi }).finalMessage();
    expect(m.content).toEqual([
      { type: 'thinking', thinking: 'Say hello.', signature: '' },
      expect.objectContaining({ type: 'text', text: 'Hello world.' }),
    ]);
    expect([m.stop_reason, m.usage.input_tokens, m.usage.output_tokens]).toEqual(['end_turn', 12, 3]);
  });
});

describe('vLLM', () => {
  test('continuous usage asked for with include_usage: usage on every chunk, the whole text, then the final usage', async () => {
    const s = await chunks('vllm', { stream_options: { include_usage: true, continuous_usage_stats: true } as OpenAI.ChatCompletionStreamOptions });
    expect([s.text, s.finish]).toEqual(['Hello world.', 'stop']);
    expect(s.all.every((c) => c.usage)).toBe(true);
    expect(s.usage.at(-1)).toEqual({ prompt_tokens: 12, total_tokens: 15, completion_tokens: 3 });
  });

  test('continuous usage without include_usage (the issue\'s case): every chunk\'s text arrives, and no usage, as vLLM itself would answer', async () => {
    const s = await chunks('vllm', { stream_options: { continuous_usage_stats: true } as OpenAI.ChatCompletionStreamOptions });
    expect([s.text, s.finish, s.usage]).toEqual(['Hello world.', 'stop', []]);
    // the sidecar asked vLLM for usage (metrics need it), so vLLM did put it on every chunk
    expect(streamOptions(replay.received.at(-1)!)).toEqual({ continuous_usage_stats: true, include_usage: true });
  });

  test("an Anthropic client: the stop string vLLM names in stop_reason is the stop_sequence", async () => {
    const s = await anthropic().messages.stream({ model: 'vllm', max_tokens: 64, messages: hi, stop_sequences: ['END'] }).finalMessage();
    expect([s.stop_reason, s.stop_sequence]).toEqual(['stop_sequence', 'END']);
  });
});

describe('SGLang', () => {
  test('an OpenAI client gets reasoning_content and usage as SGLang sent them', async () => {
    const s = await chunks('sglang', { stream_options: { include_usage: true } });
    expect(s.text).toBe('Hello world.');
    expect(s.all.map((c) => (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content).filter(Boolean)).toEqual(['The user greets.']);
    expect(s.usage).toEqual([{ prompt_tokens: 12, completion_tokens: 9, total_tokens: 21, reasoning_tokens: 6 }]);
  });

  test('an Anthropic client: thinking, matched_stop as the stop_sequence, reasoning_tokens as thinking_tokens', async () => {
    const m = await anthropic().messages.stream({ model: 'sglang', max_tokens: 64, messages: hi, stop_sequences: ['###'] }).finalMessage();
    expect(m.content[0]).toEqual({ type: 'thinking', thinking: 'The user greets.', signature: '' });
    expect([m.stop_reason, m.stop_sequence]).toEqual(['stop_sequence', '###']);
    expect([m.usage.output_tokens, m.usage.output_tokens_details?.thinking_tokens]).toEqual([9, 6]);
  });
});

describe('Ollama', () => {
  test('the last text and the finish reason in one chunk, usage not asked for: both arrive, the usage chunk does not', async () => {
    const s = await chunks('ollama');
    expect([s.text, s.finish, s.usage]).toEqual(['Hello world.', 'stop', []]);
  });

  test('an Anthropic client: `reasoning` as thinking, then the text, end_turn', async () => {
    const m = await anthropic().messages.stream({ model: 'ollama', max_tokens: 64, messages: hi }).finalMessage();
    expect(m.content).toEqual([{ type: 'thinking', thinking: 'Greeting.', signature: '' }, expect.objectContaining({ type: 'text', text: 'Hello world.' })]);
    expect([m.stop_reason, m.usage.input_tokens, m.usage.output_tokens]).toEqual(['end_turn', 14, 4]);
  });

  test('a whole tool call in one chunk reaches an Anthropic client as tool_use with its input, stop_reason tool_use', async () => {
    const m = await anthropic()
      .messages.stream({ model: 'ollama', max_tokens: 64, messages: hi, tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }] })
      .finalMessage();
    expect(m.content).toEqual([{ type: 'tool_use', id: 'call_hk81qg8b', name: 'get_weather', input: { city: 'Paris' } }]);
    expect(m.stop_reason).toBe('tool_use');
  });
});
