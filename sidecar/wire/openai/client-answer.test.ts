import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Frame, StreamEvent } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { AnthropicStreamDecoder } from '../anthropic/upstream-answer.ts';
import { splitSignature, withSignature } from '../tool-id.ts';
import { OpenAIStreamEncoder, encodeOpenAIResult } from './client-answer.ts';

const NOW_S = 1733000000;
beforeEach(() => vi.spyOn(Date, 'now').mockReturnValue(NOW_S * 1000 + 123));
afterEach(() => vi.restoreAllMocks());

/** The JSON payloads of a `data:` stream, with `[DONE]` kept as a string. */
function payloads(sse: string): unknown[] {
  return sse
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      expect(block.startsWith('data: ')).toBe(true);
      const data = block.slice('data: '.length);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

const chunk = (choices: unknown[], id = 'chatcmpl-up1', model = 'claude-haiku-4-5') => ({ id, object: 'chat.completion.chunk', created: NOW_S, model, choices });
const start: StreamEvent = { type: 'start', id: 'chatcmpl-up1', model: 'claude-haiku-4-5' };

describe('encodeOpenAIResult', () => {
  test('text and tool calls → a chat.completion; content is null beside tool calls; usage totals include cached tokens', () => {
    const body = encodeOpenAIResult(
      {
        id: 'msg_01',
        model: 'claude-haiku-4-5',
        choices: [
          { index: 0, text: 'Paris.', toolCalls: [], finishReason: 'stop' },
          { index: 1, text: '', toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], finishReason: 'tool_calls' },
        ],
        usage: { inputTokens: 120, outputTokens: 20, cacheReadTokens: 96 },
      },
      'req1',
    );
    expect(body).toEqual({
      id: 'msg_01',
      object: 'chat.completion',
      created: NOW_S,
      model: 'claude-haiku-4-5',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Paris.', refusal: null }, logprobs: null, finish_reason: 'stop' },
        {
          index: 1,
          message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 120, completion_tokens: 20, total_tokens: 140, prompt_tokens_details: { cached_tokens: 96 } },
    });
  });

  test('no upstream id → chatcmpl-<request id>; no finish reason → "stop"; no usage → no usage field', () => {
    const body = encodeOpenAIResult({ id: '', model: 'm', choices: [{ index: 0, text: 'a', toolCalls: [], finishReason: null }] }, 'req1');
    expect(body.id).toBe('chatcmpl-req1');
    expect((body.choices as { finish_reason: string }[])[0]?.finish_reason).toBe('stop');
    expect('usage' in body).toBe(false);
  });
});

describe('OpenAIStreamEncoder from neutral events', () => {
  test("text: the role rides on the choice's first delta only; finish; usage chunk (asked for) before [DONE]", () => {
    const enc = new OpenAIStreamEncoder(true, 'req1');
    const out =
      enc.encode([start, { type: 'text', choice: 0, text: 'Hel' }]) +
      enc.encode([{ type: 'text', choice: 0, text: 'lo' }, { type: 'finish', choice: 0, reason: 'stop' }]) +
      enc.encode([{ type: 'usage', usage: { inputTokens: 120, outputTokens: 2, cacheReadTokens: 96 } }]) +
      enc.end();
    expect(payloads(out)).toEqual([
      chunk([{ index: 0, delta: { role: 'assistant', content: 'Hel' }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: { content: 'lo' }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
      { ...chunk([]), usage: { prompt_tokens: 120, completion_tokens: 2, total_tokens: 122, prompt_tokens_details: { cached_tokens: 96 } } },
      '[DONE]',
    ]);
  });

  test('a client that did not ask for usage gets no usage chunk', () => {
    const enc = new OpenAIStreamEncoder(false, 'req1');
    const out = enc.encode([start, { type: 'text', choice: 0, text: 'a' }, { type: 'usage', usage: { inputTokens: 1, outputTokens: 1 } }]) + enc.end();
    expect(out).not.toContain('"usage"');
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  test('tool calls: a start chunk with id, type and empty arguments, then argument pieces by index', () => {
    const enc = new OpenAIStreamEncoder(false, 'req1');
    const out = enc.encode([
      start,
      { type: 'tool_start', choice: 0, index: 0, id: 'toolu_1', name: 'get_weather' },
      { type: 'tool_args', choice: 0, index: 0, args: '{"city"' },
      { type: 'tool_args', choice: 0, index: 0, args: ':"Paris"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
    expect(payloads(out)).toEqual([
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '' } }], role: 'assistant' }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city"' } }] }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':"Paris"}' } }] }, logprobs: null, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }]),
    ]);
  });

  test('no start event (nothing from upstream yet) → the stream id is chatcmpl-<request id>', () => {
    const enc = new OpenAIStreamEncoder(false, 'req1');
    expect(payloads(enc.encode([{ type: 'text', choice: 0, text: 'a' }]))).toEqual([
      chunk([{ index: 0, delta: { role: 'assistant', content: 'a' }, logprobs: null, finish_reason: null }], 'chatcmpl-req1', ''),
    ]);
  });

  test('error(): one final data event in the OpenAI error shape, which the SDK raises', () => {
    const enc = new OpenAIStreamEncoder(false, 'req1');
    const err = new AirouteError('stream_interrupted', 502, 'the upstream stream broke and could not be resumed');
    expect(enc.error(err)).toBe(`data: ${JSON.stringify({ error: { message: 'the upstream stream broke and could not be resumed', type: 'server_error', param: null, code: 'stream_interrupted' } })}\n\n`);
  });
});

describe('OpenAIStreamEncoder passthrough (same format)', () => {
  const raw = (data: unknown) => ({ data: JSON.stringify(data) });
  const textFrame = (id: string, text: string, role = false): Frame => {
    const c = chunk([{ index: 0, delta: role ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: null }], id, 'gpt-4o');
    return { events: [...(role ? [{ type: 'start' as const, id, model: 'gpt-4o' }] : []), { type: 'text', choice: 0, text }], raw: raw(c) };
  };
  const usageFrame: Frame = {
    events: [{ type: 'usage', usage: { inputTokens: 9, outputTokens: 2 } }],
    raw: raw({ ...chunk([], 'chatcmpl-A', 'gpt-4o'), usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }),
  };

  test("the upstream's own bytes are forwarded as they came", () => {
    const enc = new OpenAIStreamEncoder(true, 'req1');
    const f = textFrame('chatcmpl-A', 'Hi', true);
    expect(enc.passthrough(f)).toBe(`data: ${f.raw!.data}\n\n`);
    expect(enc.passthrough({ events: [{ type: 'text', choice: 0, text: 'x' }] })).toBeUndefined();
  });

  test('the usage chunk (always requested upstream) is dropped for a client that did not ask, and sent once for one that did', () => {
    const quiet = new OpenAIStreamEncoder(false, 'req1');
    expect(quiet.passthrough(usageFrame)).toBeUndefined();
    expect(quiet.end()).toBe('data: [DONE]\n\n');
    const asked = new OpenAIStreamEncoder(true, 'req1');
    expect(asked.passthrough(usageFrame)).toBe(`data: ${usageFrame.raw!.data}\n\n`);
    expect(asked.passthrough(usageFrame)).toBeUndefined();
    expect(asked.end()).toBe('data: [DONE]\n\n'); // not a second usage chunk
  });

  test('continuation after a resume: same id, no second role delta, usage of the continuation at the end', () => {
    const enc = new OpenAIStreamEncoder(true, 'req1');
    enc.passthrough(textFrame('chatcmpl-A', 'One,', true));
    enc.passthrough(textFrame('chatcmpl-A', ' two,'));
    // the first upstream broke; the continuation comes from another attempt with its own id
    const out =
      enc.encode([{ type: 'start', id: 'chatcmpl-B', model: 'gpt-4o' }, { type: 'text', choice: 0, text: ' three.' }, { type: 'finish', choice: 0, reason: 'stop' }]) +
      enc.encode([{ type: 'usage', usage: { inputTokens: 14, outputTokens: 3 } }]) +
      enc.end();
    expect(payloads(out)).toEqual([
      chunk([{ index: 0, delta: { content: ' three.' }, logprobs: null, finish_reason: null }], 'chatcmpl-A', 'gpt-4o'),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], 'chatcmpl-A', 'gpt-4o'),
      { ...chunk([], 'chatcmpl-A', 'gpt-4o'), usage: { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 } },
      '[DONE]',
    ]);
  });
});

test('usage from an Anthropic upstream: prompt_tokens counts cache reads and writes too, total_tokens adds them once; thinking tokens become reasoning_tokens', () => {
  const decoder = new AnthropicStreamDecoder();
  const named = (event: string, data: Record<string, unknown>) => ({ event, data: JSON.stringify({ type: event, ...data }) });
  const frames = [
    named('message_start', {
      message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-sonnet-4-5', stop_reason: null, stop_sequence: null, usage: { input_tokens: 14, cache_creation_input_tokens: 10, cache_read_input_tokens: 96, output_tokens: 1 } },
    }),
    named('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7, output_tokens_details: { thinking_tokens: 2 } } }),
  ].map((e) => decoder.decode(e)!);
  const enc = new OpenAIStreamEncoder(true, 'req1');
  const out = frames.map((f) => enc.encode(f.events)).join('') + enc.end();
  expect(payloads(out).at(-2)).toMatchObject({
    usage: { prompt_tokens: 120, completion_tokens: 7, total_tokens: 127, prompt_tokens_details: { cached_tokens: 96, cache_write_tokens: 10 }, completion_tokens_details: { reasoning_tokens: 2 } },
  });
});

describe('reasoning and signed tool calls for an OpenAI client', () => {
  test("reasoning streams as delta.reasoning_content (the role rides on the first delta); a signed call's id carries its signature", () => {
    const enc = new OpenAIStreamEncoder(false, 'req1');
    const out = enc.encode([
      start,
      { type: 'reasoning', choice: 0, text: 'Think.' },
      { type: 'reasoning_end', choice: 0, origin: 'gemini' },
      { type: 'tool_start', choice: 0, index: 0, id: 'call_0_0', name: 'f', signature: 'CiQB' },
    ]);
    const [first, second] = payloads(out) as { choices: { delta: Record<string, unknown> }[] }[];
    expect(first?.choices[0]?.delta).toEqual({ role: 'assistant', reasoning_content: 'Think.' });
    const id = (second?.choices[0]?.delta.tool_calls as { id: string }[])[0]!.id;
    expect(id).toBe(withSignature('call_0_0', 'CiQB'));
    expect(splitSignature(id)).toEqual({ id: 'call_0_0', signature: 'CiQB' });
  });

  test('a complete answer: reasoning_content beside the content, signed ids on the calls', () => {
    const body = encodeOpenAIResult(
      {
        id: 'r',
        model: 'm',
        choices: [{ index: 0, text: '', toolCalls: [{ id: 'call_0_0', name: 'f', arguments: '{}', signature: 'CiQB' }], finishReason: 'tool_calls', reasoning: [{ text: 'Think.', origin: 'anthropic', signature: 'EqQB' }] }],
      },
      'req1',
    ) as { choices: { message: Record<string, unknown> }[] };
    expect(body.choices[0]?.message).toMatchObject({ reasoning_content: 'Think.', tool_calls: [{ id: withSignature('call_0_0', 'CiQB') }] });
  });
});

describe('passthrough of usage the upstream put where the client did not ask for it', () => {
  const raw = (o: Record<string, unknown>): Frame['raw'] => ({ data: JSON.stringify(o) });
  const finishWithUsage: Frame = {
    events: [{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 12, outputTokens: 3 } }],
    raw: raw({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } }),
  };
  const usageOnly: Frame = { events: [{ type: 'usage', usage: { inputTokens: 12, outputTokens: 3 } }], raw: raw({ id: 'c', choices: [], usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } }) };

  test('not asked: a chunk with a finish keeps it and loses only the usage; a usage-only chunk is dropped', () => {
    const enc = new OpenAIStreamEncoder(false, 'req1');
    expect(payloads(enc.passthrough(finishWithUsage)!)).toEqual([{ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }]);
    expect(enc.passthrough(usageOnly)).toBeUndefined();
  });

  test('asked: the first final count goes out as it came (on the finish chunk here), a later usage-only chunk does not repeat it', () => {
    const enc = new OpenAIStreamEncoder(true, 'req1');
    expect(enc.passthrough(finishWithUsage)).toBe(`data: ${finishWithUsage.raw!.data}\n\n`);
    expect(enc.passthrough(usageOnly)).toBeUndefined();
    expect(enc.end()).toBe('data: [DONE]\n\n');
  });

  test('continuous usage asked for with include_usage: every chunk as it came', () => {
    const text: Frame = { events: [{ type: 'text', choice: 0, text: 'Hi' }, { type: 'usage', usage: { inputTokens: 12, outputTokens: 1 } }], raw: raw({ id: 'c', choices: [{ index: 0, delta: { content: 'Hi' } }], usage: { prompt_tokens: 12 } }) };
    const enc = new OpenAIStreamEncoder(true, 'req1', true);
    for (const f of [text, finishWithUsage, usageOnly]) expect(enc.passthrough(f)).toBe(`data: ${f.raw!.data}\n\n`);
  });
});
