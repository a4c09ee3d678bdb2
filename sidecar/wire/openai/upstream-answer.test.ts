import { describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import type { SseEvent } from '../types.ts';
import { OpenAIStreamDecoder, finishFromOpenAI, parseOpenAIResult, usageFromOpenAI } from './upstream-answer.ts';
import { thrown } from '../../../test/support/errors.ts';

// Fixtures in the documented `chat.completion.chunk` shape (every chunk carries id, created, model).
const head = { id: 'chatcmpl-AB1', object: 'chat.completion.chunk', created: 1733000000, model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_0ba0d124f1' };
const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): SseEvent => ({ data: JSON.stringify({ ...head, choices, ...extra }) });
const delta = (d: Record<string, unknown>, finish: string | null = null, index = 0) => ({ index, delta: d, logprobs: null, finish_reason: finish });
const usageChunk = chunk([], {
  usage: { prompt_tokens: 120, completion_tokens: 7, total_tokens: 127, prompt_tokens_details: { cached_tokens: 96, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
});


describe('OpenAIStreamDecoder', () => {
  test('text: a start event once, then one text event per non-empty content delta; each frame keeps its raw event', () => {
    const d = new OpenAIStreamDecoder(1, true);
    const first = chunk([delta({ role: 'assistant', content: '', refusal: null })]);
    const f1 = d.decode(first);
    expect(f1).toEqual({ events: [{ type: 'start', id: 'chatcmpl-AB1', model: 'gpt-4o-mini-2024-07-18' }], raw: first });
    expect(f1?.raw).toBe(first); // the same bytes, for same-format passthrough
    expect(d.decode(chunk([delta({ content: 'Hello' })]))?.events).toEqual([{ type: 'text', choice: 0, text: 'Hello' }]);
    expect(d.decode(chunk([delta({ content: ' world' })]))?.events).toEqual([{ type: 'text', choice: 0, text: ' world' }]);
    expect([d.finished, d.complete]).toEqual([false, false]);
  });

  test('finish then the usage chunk then [DONE]: finished at the finish reason, complete once usage arrived', () => {
    const d = new OpenAIStreamDecoder(1, true);
    d.decode(chunk([delta({ role: 'assistant', content: 'Hi' })]));
    expect(d.decode(chunk([delta({}, 'stop')]))?.events).toEqual([{ type: 'finish', choice: 0, reason: 'stop' }]);
    expect([d.finished, d.complete]).toEqual([true, false]);
    expect(d.decode(usageChunk)?.events).toEqual([{ type: 'usage', usage: { inputTokens: 120, outputTokens: 7, cacheReadTokens: 96, reasoningTokens: 0 } }]);
    expect(d.complete).toBe(true);
    expect(d.decode({ data: '[DONE]' })).toBeNull();
    expect(d.complete).toBe(true);
  });

  test('without usage expected, the finish reason alone completes the stream', () => {
    const d = new OpenAIStreamDecoder(1, false);
    d.decode(chunk([delta({ content: 'Hi' }, 'length')]));
    expect([d.finished, d.complete]).toEqual([true, true]);
  });

  test('a server that closes with [DONE] and no usage is still complete', () => {
    const d = new OpenAIStreamDecoder(1, true);
    d.decode(chunk([delta({ content: 'Hi' }, 'stop')]));
    d.decode({ data: '[DONE]' });
    expect(d.complete).toBe(true);
  });

  test('streamed tool call: id and name open it, argument pieces follow in order, finish_reason tool_calls', () => {
    const d = new OpenAIStreamDecoder(1, false);
    const open = d.decode(chunk([delta({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '' } }] })]));
    expect(open?.events).toEqual([
      { type: 'start', id: 'chatcmpl-AB1', model: 'gpt-4o-mini-2024-07-18' },
      { type: 'tool_start', choice: 0, index: 0, id: 'call_abc', name: 'get_weather' },
    ]);
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 0, function: { arguments: '{"city"' } }] })]))?.events).toEqual([{ type: 'tool_args', choice: 0, index: 0, args: '{"city"' }]);
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 0, function: { arguments: ':"Paris"}' } }] })]))?.events).toEqual([{ type: 'tool_args', choice: 0, index: 0, args: ':"Paris"}' }]);
    // a second, parallel call
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 1, id: 'call_def', type: 'function', function: { name: 'get_time', arguments: '{}' } }] })]))?.events).toEqual([
      { type: 'tool_start', choice: 0, index: 1, id: 'call_def', name: 'get_time' },
      { type: 'tool_args', choice: 0, index: 1, args: '{}' },
    ]);
    expect(d.decode(chunk([delta({}, 'tool_calls')]))?.events).toEqual([{ type: 'finish', choice: 0, reason: 'tool_calls' }]);
  });

  test('n = 2: finished only when both choices have a finish reason', () => {
    const d = new OpenAIStreamDecoder(2, false);
    d.decode(chunk([delta({ content: 'a' }, null, 0), delta({ content: 'b' }, null, 1)]));
    d.decode(chunk([delta({}, 'stop', 0)]));
    expect(d.finished).toBe(false);
    expect(d.decode(chunk([delta({}, 'stop', 1)]))?.events).toEqual([{ type: 'finish', choice: 1, reason: 'stop' }]);
    expect([d.finished, d.complete]).toEqual([true, true]);
  });

  test('an {"error": ...} chunk mid-stream throws a retriable upstream_error keeping the provider type', () => {
    const d = new OpenAIStreamDecoder(1, true);
    d.decode(chunk([delta({ content: 'Hi' })]));
    const err = thrown(() => d.decode({ data: JSON.stringify({ error: { message: 'The server had an error processing your request.', type: 'server_error', param: null, code: null } }) }));
    expect([err.code, err.status, err.retriable, err.details.providerType, err.details.phase]).toEqual(['upstream_error', 502, true, 'server_error', 'stream']);
  });

  test('malformed chunks are upstream_malformed: not JSON, not an object, choices not a list, a tool delta not an object', () => {
    const d = new OpenAIStreamDecoder(1, true);
    expect(thrown(() => d.decode({ data: '{"id":"chatcmpl-AB1","choices":[{"delta":' })).message).toBe('upstream sent a malformed stream chunk');
    expect(thrown(() => d.decode({ data: '[1,2]' })).code).toBe('upstream_malformed');
    expect(thrown(() => d.decode({ data: JSON.stringify({ ...head, choices: {} }) })).code).toBe('upstream_malformed');
    expect(thrown(() => d.decode(chunk([1]))).code).toBe('upstream_malformed');
    expect(thrown(() => d.decode(chunk([delta({ tool_calls: ['x'] })]))).message).toBe('upstream sent a malformed tool call delta');
  });
});

describe('finish reasons and usage', () => {
  test("OpenAI's finish reasons map to the neutral ones; the legacy function_call is a tool call; anything unknown is stop", () => {
    expect(['stop', 'length', 'tool_calls', 'function_call', 'content_filter', 'eos', null].map(finishFromOpenAI)).toEqual(['stop', 'length', 'tool_calls', 'tool_calls', 'content_filter', 'stop', 'stop']);
  });

  test('usage: prompt and completion tokens, cached tokens only when reported', () => {
    expect(usageFromOpenAI({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 })).toEqual({ inputTokens: 12, outputTokens: 3 });
    expect(usageFromOpenAI({ prompt_tokens: 120, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 0 } })).toEqual({ inputTokens: 120, outputTokens: 7, cacheReadTokens: 0 });
    expect(usageFromOpenAI(null)).toBeUndefined();
  });
});

describe('parseOpenAIResult', () => {
  test('a chat.completion with text, tool calls and cached usage → the neutral result', () => {
    const body = {
      id: 'chatcmpl-XYZ',
      object: 'chat.completion',
      created: 1733000000,
      model: 'gpt-4o-2024-08-06',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Paris.', refusal: null }, logprobs: null, finish_reason: 'stop' },
        {
          index: 1,
          message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 120, completion_tokens: 20, total_tokens: 140, prompt_tokens_details: { cached_tokens: 96 } },
    };
    expect(parseOpenAIResult(JSON.stringify(body))).toEqual({
      id: 'chatcmpl-XYZ',
      model: 'gpt-4o-2024-08-06',
      choices: [
        { index: 0, text: 'Paris.', toolCalls: [], finishReason: 'stop' },
        { index: 1, text: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], finishReason: 'tool_calls' },
      ],
      usage: { inputTokens: 120, outputTokens: 20, cacheReadTokens: 96 },
    });
  });

  test('a missing finish reason stays null (so truncation can be seen) and a missing index is the position', () => {
    const r = parseOpenAIResult(JSON.stringify({ id: 'x', model: 'm', choices: [{ message: { content: 'a' }, finish_reason: null }] }));
    expect(r.choices).toEqual([{ index: 0, text: 'a', toolCalls: [], finishReason: null }]);
    expect(r.usage).toBeUndefined();
  });

  test('an unparsable body or one without choices is upstream_malformed', () => {
    expect(thrown(() => parseOpenAIResult('<html>Bad gateway</html>')).message).toBe('upstream sent a malformed response body');
    expect(thrown(() => parseOpenAIResult('{"object":"chat.completion"}')).code).toBe('upstream_malformed');
  });
});

describe('OpenAI-compatible extensions', () => {
  test('reasoning_content (vLLM, SGLang, llama.cpp) or reasoning (Ollama) streams as reasoning, ended by the first content', () => {
    const d = new OpenAIStreamDecoder(1, true);
    d.decode(chunk([delta({ role: 'assistant', content: '' })]));
    expect(d.decode(chunk([delta({ reasoning_content: 'Think' })]))?.events).toEqual([{ type: 'reasoning', choice: 0, text: 'Think' }]);
    expect(d.decode(chunk([delta({ reasoning: ' more' })]))?.events).toEqual([{ type: 'reasoning', choice: 0, text: ' more' }]);
    expect(d.decode(chunk([delta({ content: 'Hi' })]))?.events).toEqual([
      { type: 'reasoning_end', choice: 0, origin: 'openai' },
      { type: 'text', choice: 0, text: 'Hi' },
    ]);
  });

  test("vLLM's stop_reason and SGLang's matched_stop name the stop sequence that ended the choice; a stop token id is not one", () => {
    const finish = (extra: Record<string, unknown>) => new OpenAIStreamDecoder(1, false).decode(chunk([{ ...delta({}, 'stop'), ...extra }]))?.events.at(-1);
    expect(finish({ stop_reason: 'END' })).toEqual({ type: 'finish', choice: 0, reason: 'stop', stopSequence: 'END' });
    expect(finish({ matched_stop: '###' })).toEqual({ type: 'finish', choice: 0, reason: 'stop', stopSequence: '###' });
    expect(finish({ stop_reason: 128009 })).toEqual({ type: 'finish', choice: 0, reason: 'stop' });
    const body = { id: 'x', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'a', reasoning_content: 'why' }, finish_reason: 'stop', stop_reason: 'END' }] };
    expect(parseOpenAIResult(JSON.stringify(body)).choices[0]).toMatchObject({ stopSequence: 'END', reasoning: [{ text: 'why', origin: 'openai' }] });
  });

  test("Gemini 3's function-call signature from Google's OpenAI-compatible endpoint (extra_content.google.thought_signature) rides on the tool call", () => {
    const d = new OpenAIStreamDecoder(1, false);
    const tc = { index: 0, id: 'fc_1', type: 'function', function: { name: 'f', arguments: '{}' }, extra_content: { google: { thought_signature: 'CiQB' } } };
    expect(d.decode(chunk([delta({ tool_calls: [tc] })]))?.events.find((e) => e.type === 'tool_start')).toEqual({ type: 'tool_start', choice: 0, index: 0, id: 'fc_1', name: 'f', signature: 'CiQB' });
  });
});

test('usage on a chunk with choices (llama.cpp on the finish chunk, continuous usage on every chunk) does not end the stream; the usage-only chunk or [DONE] does', () => {
  const d = new OpenAIStreamDecoder(1, true);
  d.decode(chunk([delta({ content: 'Hi' })], { usage: { prompt_tokens: 12, completion_tokens: 1, total_tokens: 13 } }));
  d.decode(chunk([delta({}, 'stop')], { usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 } }));
  expect([d.finished, d.complete]).toEqual([true, false]);
  d.decode(usageChunk);
  expect(d.complete).toBe(true);
  const llamacpp = new OpenAIStreamDecoder(1, true);
  llamacpp.decode(chunk([delta({}, 'stop')], { usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 } }));
  llamacpp.decode({ data: '[DONE]' });
  expect(llamacpp.complete).toBe(true);
});

test("SGLang's reasoning_tokens beside the totals count as reasoning tokens", () => {
  expect(usageFromOpenAI({ prompt_tokens: 12, completion_tokens: 9, total_tokens: 21, reasoning_tokens: 6 })).toEqual({ inputTokens: 12, outputTokens: 9, reasoningTokens: 6 });
});

describe('OpenAIStreamDecoder: defaults and what carries nothing', () => {
  test('a stream that ended before its first chunk is not finished', () => {
    expect([new OpenAIStreamDecoder(1, false).finished, new OpenAIStreamDecoder(1, false).complete]).toEqual([false, false]);
  });

  test('a usage chunk without a choices field (some compatible servers) reports the usage and completes a finished stream', () => {
    const d = new OpenAIStreamDecoder(1, true);
    d.decode(chunk([delta({ content: 'Hi' }, 'stop')]));
    const { choices: _omitted, ...noChoices } = { ...head, choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } };
    expect(d.decode({ data: JSON.stringify(noChoices) })?.events).toStrictEqual([{ type: 'usage', usage: { inputTokens: 5, outputTokens: 1 } }]);
    expect(d.complete).toBe(true);
  });

  test('a choice or a tool call delta without an index is index 0; a choice without a finish_reason field has not finished', () => {
    const d = new OpenAIStreamDecoder(1, false);
    d.decode(chunk([delta({ role: 'assistant', content: '' })]));
    expect(d.decode(chunk([{ delta: { content: 'a' } }]))?.events).toEqual([{ type: 'text', choice: 0, text: 'a' }]);
    expect(d.decode(chunk([{ delta: { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] } }]))?.events).toEqual([{ type: 'tool_start', choice: 0, index: 0, id: 'call_1', name: 'f' }]);
    expect(d.finished).toBe(false);
  });

  test('a tool call opens on its id or on its name alone; a piece with neither only carries arguments; empty arguments are nothing', () => {
    const d = new OpenAIStreamDecoder(2, false);
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { arguments: '' } }] })]))?.events.slice(1)).toEqual([{ type: 'tool_start', choice: 0, index: 0, id: 'call_a', name: '' }]);
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 1, function: { name: 'g' } }] })]))?.events).toEqual([{ type: 'tool_start', choice: 0, index: 1, id: '', name: 'g' }]);
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 1, function: { arguments: '{}' } }] })]))?.events).toEqual([{ type: 'tool_args', choice: 0, index: 1, args: '{}' }]);
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 1, function: { arguments: '' } }, { index: 1 }] })]))?.events).toEqual([]);
  });

  test('reasoning ends before a tool call, and at the finish when nothing else followed it', () => {
    const d = new OpenAIStreamDecoder(1, false);
    d.decode(chunk([delta({ reasoning_content: 'plan' })]));
    expect(d.decode(chunk([delta({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'f', arguments: '{}' } }] })]))?.events).toEqual([
      { type: 'reasoning_end', choice: 0, origin: 'openai' },
      { type: 'tool_start', choice: 0, index: 0, id: 'call_1', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, args: '{}' },
    ]);
    const e = new OpenAIStreamDecoder(1, false);
    e.decode(chunk([delta({ reasoning: 'only thinking' })]));
    expect(e.decode(chunk([delta({}, 'length')]))?.events).toEqual([
      { type: 'reasoning_end', choice: 0, origin: 'openai' },
      { type: 'finish', choice: 0, reason: 'length' },
    ]);
  });

  test("empty or null reasoning fields (OpenRouter sends reasoning: null) are no reasoning; an empty Google signature is no signature", () => {
    const d = new OpenAIStreamDecoder(1, false);
    d.decode(chunk([delta({ role: 'assistant', content: '' })]));
    expect(d.decode(chunk([delta({ content: 'a', reasoning: null })]))?.events).toEqual([{ type: 'text', choice: 0, text: 'a' }]);
    expect(d.decode(chunk([delta({ content: 'b', reasoning_content: '' })]))?.events).toEqual([{ type: 'text', choice: 0, text: 'b' }]);
    const tc = { index: 0, id: 'fc_1', type: 'function', function: { name: 'f', arguments: '' }, extra_content: { google: { thought_signature: '' } } };
    expect(d.decode(chunk([delta({ tool_calls: [tc] })]))?.events).toStrictEqual([{ type: 'tool_start', choice: 0, index: 0, id: 'fc_1', name: 'f' }]);
  });

  test("an error chunk keeps OpenAI's format; malformed chunks name the stream chunk", () => {
    expect(thrown(() => new OpenAIStreamDecoder(1, false).decode({ data: '{"error":{"message":"boom","type":"server_error"}}' })).details.providerFormat).toBe('openai');
    for (const data of ['null', '{"choices":{}}', '{"choices":[7]}']) expect(thrown(() => new OpenAIStreamDecoder(1, false).decode({ data })).message).toBe('upstream sent a malformed stream chunk');
  });

  test('a finish reason that is not a string is stop', () => {
    expect(finishFromOpenAI(['length'])).toBe('stop');
  });
});

describe('OpenAI usage: only the counts reported', () => {
  test('cache writes and reasoning details when reported; absent details add no fields', () => {
    expect(usageFromOpenAI({ prompt_tokens: 100, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 40, cache_write_tokens: 60 }, completion_tokens_details: { reasoning_tokens: 4 } })).toStrictEqual({
      inputTokens: 100,
      outputTokens: 10,
      cacheReadTokens: 40,
      cacheWriteTokens: 60,
      reasoningTokens: 4,
    });
    expect(usageFromOpenAI({ prompt_tokens: 10, completion_tokens: 2, prompt_tokens_details: { audio_tokens: 0 }, completion_tokens_details: { audio_tokens: 0 } })).toStrictEqual({ inputTokens: 10, outputTokens: 2 });
  });

  test('details without reasoning_tokens leave the count beside the totals (SGLang) in force', () => {
    expect(usageFromOpenAI({ prompt_tokens: 10, completion_tokens: 9, completion_tokens_details: { audio_tokens: 0 }, reasoning_tokens: 5 })).toStrictEqual({ inputTokens: 10, outputTokens: 9, reasoningTokens: 5 });
  });
});

describe('parseOpenAIResult: defaults', () => {
  test("a choice's own index wins over its place; tool calls that are not objects are skipped; a Google signature rides on its call; no usage means no usage field", () => {
    const body = {
      id: 'x',
      model: 'm',
      choices: [
        { index: 1, message: { content: 'b' }, finish_reason: 'stop' },
        {
          index: 0,
          message: { content: null, tool_calls: [null, { id: 'fc_1', type: 'function', function: { name: 'f', arguments: '{}' }, extra_content: { google: { thought_signature: 'CiQB' } } }] },
          finish_reason: 'tool_calls',
        },
      ],
    };
    expect(parseOpenAIResult(JSON.stringify(body))).toStrictEqual({
      id: 'x',
      model: 'm',
      choices: [
        { index: 1, text: 'b', toolCalls: [], finishReason: 'stop' },
        { index: 0, text: '', toolCalls: [{ id: 'fc_1', name: 'f', arguments: '{}', signature: 'CiQB' }], finishReason: 'tool_calls' },
      ],
    });
  });

  test('a body that is JSON but not an object names the response body', () => {
    expect(thrown(() => parseOpenAIResult('[]')).message).toBe('upstream sent a malformed response body');
  });
});

test('a tool call without a signature in a JSON answer carries no signature field', () => {
  const body = { id: 'x', model: 'm', choices: [{ index: 0, message: { content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] };
  expect(parseOpenAIResult(JSON.stringify(body)).choices[0]?.toolCalls).toStrictEqual([{ id: 'call_1', name: 'f', arguments: '{}' }]);
});
