import { describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import type { SseEvent } from '../types.ts';
import { GeminiStreamDecoder, parseGeminiResult } from './upstream-answer.ts';
import { thrown } from '../../../test/support/errors.ts';

// `streamGenerateContent?alt=sse` sends `data: <GenerateContentResponse>` events and no terminator.
const sse = (body: Record<string, unknown>): SseEvent => ({ data: JSON.stringify(body) });
const meta = { modelVersion: 'gemini-2.5-flash', responseId: 'mG5aaL2oJ-2SqtsPzNmWkQ0' };
const cand = (parts: unknown[], extra: Record<string, unknown> = {}) => ({ content: { parts, role: 'model' }, index: 0, ...extra });


describe('GeminiStreamDecoder', () => {
  test('text: start from responseId and modelVersion, text per chunk, cumulative usage on each chunk, no raw (never passed through)', () => {
    const d = new GeminiStreamDecoder(1, 'gemini-route-model');
    const f1 = d.decode(sse({ candidates: [cand([{ text: 'The capital' }])], usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 2, totalTokenCount: 10 }, ...meta }));
    expect(f1).toEqual({
      events: [
        { type: 'start', id: 'mG5aaL2oJ-2SqtsPzNmWkQ0', model: 'gemini-2.5-flash' },
        { type: 'text', choice: 0, text: 'The capital' },
        { type: 'usage', usage: { inputTokens: 8, outputTokens: 2 } },
      ],
    });
    expect([d.finished, d.complete]).toEqual([false, false]);
    const f2 = d.decode(
      sse({
        candidates: [cand([{ text: ' is Paris.' }], { finishReason: 'STOP' })],
        usageMetadata: { promptTokenCount: 120, candidatesTokenCount: 6, thoughtsTokenCount: 20, cachedContentTokenCount: 96, totalTokenCount: 146 },
        ...meta,
      }),
    );
    expect(f2?.events).toEqual([
      { type: 'text', choice: 0, text: ' is Paris.' },
      { type: 'finish', choice: 0, reason: 'stop' },
      // thinking tokens are billed as output, and are a detail of it; the prompt count includes the cached content
      { type: 'usage', usage: { inputTokens: 120, outputTokens: 26, cacheReadTokens: 96, reasoningTokens: 20 } },
    ]);
    expect([d.finished, d.complete]).toEqual([true, true]);
  });

  test('a finish reason without usage in the same chunk leaves the stream finished but not complete', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    d.decode(sse({ candidates: [cand([{ text: 'a' }], { finishReason: 'STOP' })], ...meta }));
    expect([d.finished, d.complete]).toEqual([true, false]);
  });

  test('thought summaries are reasoning, ended by the first answer part; the model falls back to the route model without modelVersion', () => {
    const d = new GeminiStreamDecoder(1, 'gemini-route-model');
    expect(d.decode(sse({ candidates: [cand([{ text: 'thinking about it', thought: true }, { text: 'Answer' }])] }))?.events).toEqual([
      { type: 'start', id: '', model: 'gemini-route-model' },
      { type: 'reasoning', choice: 0, text: 'thinking about it' },
      { type: 'reasoning_end', choice: 0, origin: 'gemini' },
      { type: 'text', choice: 0, text: 'Answer' },
    ]);
  });

  test("Gemini 3's signature on a function call rides on the tool call's start", () => {
    const d = new GeminiStreamDecoder(1, 'gemini-3-pro');
    const f = d.decode(sse({ candidates: [cand([{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'CiQBsig==' }, { functionCall: { name: 'get_time', args: {} } }])] }));
    expect(f?.events.filter((e) => e.type === 'tool_start')).toEqual([
      { type: 'tool_start', choice: 0, index: 0, id: 'call_0_0', name: 'get_weather', signature: 'CiQBsig==' },
      { type: 'tool_start', choice: 0, index: 1, id: 'call_0_1', name: 'get_time' },
    ]);
  });

  test('function calls arrive whole: a tool start and its full arguments; STOP after a call is a tool_calls finish', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    const f = d.decode(
      sse({
        candidates: [cand([{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { id: 'fc_2', name: 'get_time', args: {} } }], { finishReason: 'STOP' })],
        usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 10 },
        ...meta,
      }),
    );
    expect(f?.events.slice(1)).toEqual([
      { type: 'tool_start', choice: 0, index: 0, id: 'call_0_0', name: 'get_weather' },
      { type: 'tool_args', choice: 0, index: 0, args: '{"city":"Paris"}' },
      { type: 'tool_start', choice: 0, index: 1, id: 'fc_2', name: 'get_time' },
      { type: 'tool_args', choice: 0, index: 1, args: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { inputTokens: 30, outputTokens: 10 } },
    ]);
  });

  test('finish reasons: MAX_TOKENS is length, SAFETY and other filters are content_filter; a repeated reason is reported once', () => {
    const finish = (finishReason: string) => new GeminiStreamDecoder(1, 'm').decode(sse({ candidates: [cand([], { finishReason })] }))?.events.find((e) => e.type === 'finish');
    expect(['MAX_TOKENS', 'SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'OTHER'].map((r) => (finish(r) as { reason: string }).reason)).toEqual([
      'length',
      'content_filter',
      'content_filter',
      'content_filter',
      'stop',
    ]);
    const d = new GeminiStreamDecoder(1, 'm');
    d.decode(sse({ candidates: [cand([{ text: 'a' }], { finishReason: 'STOP' })] }));
    expect(d.decode(sse({ candidates: [cand([], { finishReason: 'STOP' })], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1 } }))?.events).toEqual([
      { type: 'usage', usage: { inputTokens: 1, outputTokens: 1 } },
    ]);
  });

  test('two candidates: finished only when both have a finish reason', () => {
    const d = new GeminiStreamDecoder(2, 'm');
    d.decode(sse({ candidates: [cand([{ text: 'a' }], { finishReason: 'STOP' }), { ...cand([{ text: 'b' }]), index: 1 }] }));
    expect(d.finished).toBe(false);
    d.decode(sse({ candidates: [{ ...cand([], { finishReason: 'STOP' }), index: 1 }], usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 2 } }));
    expect([d.finished, d.complete]).toEqual([true, true]);
  });

  test('an error object mid-stream throws a retriable upstream_error tagged gemini', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    const err = thrown(() => d.decode(sse({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } })));
    expect([err.code, err.status, err.message, err.retriable, err.details.providerFormat, err.details.phase]).toEqual([
      'upstream_error',
      502,
      'The model is overloaded. Please try again later.',
      true,
      'gemini',
      'stream',
    ]);
  });

  test('a blocked prompt (promptFeedback.blockReason, no candidates) is a content_policy 400, not retried', () => {
    const err = thrown(() => new GeminiStreamDecoder(1, 'm').decode(sse({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 8 } })));
    expect([err.code, err.status, err.retriable, err.message]).toEqual(['content_policy', 400, false, 'the prompt was blocked by the provider (SAFETY)']);
  });

  test('malformed chunks are upstream_malformed', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    expect(thrown(() => d.decode({ data: '{"candidates":[{"content":' })).message).toBe('upstream sent a malformed stream chunk');
    expect(thrown(() => d.decode({ data: 'null' })).code).toBe('upstream_malformed');
    expect(thrown(() => d.decode(sse({ candidates: ['x'] }))).code).toBe('upstream_malformed');
  });
});

describe('parseGeminiResult', () => {
  test('candidates → choices: text without thoughts (kept as reasoning), signed function calls with generated ids, finish reasons; usage with cache', () => {
    const body = {
      candidates: [
        cand([{ text: 'hmm', thought: true }, { text: 'Paris' }, { text: '.' }], { finishReason: 'STOP' }),
        { ...cand([{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'CiQB' }], { finishReason: 'STOP' }), index: 1 },
      ],
      usageMetadata: { promptTokenCount: 120, candidatesTokenCount: 12, cachedContentTokenCount: 96, totalTokenCount: 132 },
      ...meta,
    };
    expect(parseGeminiResult(JSON.stringify(body), 'route-model')).toEqual({
      id: 'mG5aaL2oJ-2SqtsPzNmWkQ0',
      model: 'gemini-2.5-flash',
      choices: [
        { index: 0, text: 'Paris.', toolCalls: [], finishReason: 'stop', reasoning: [{ text: 'hmm', origin: 'gemini' }] },
        { index: 1, text: '', toolCalls: [{ id: 'call_1_0', name: 'get_weather', arguments: '{"city":"Paris"}', signature: 'CiQB' }], finishReason: 'tool_calls' },
      ],
      usage: { inputTokens: 120, outputTokens: 12, cacheReadTokens: 96 },
    });
  });

  test('without modelVersion the given model is used; a candidate without finishReason has null', () => {
    const r = parseGeminiResult(JSON.stringify({ candidates: [cand([{ text: 'a' }])] }), 'route-model');
    expect(r.model).toBe('route-model');
    expect(r.choices[0]?.finishReason).toBeNull();
  });

  test('a blocked prompt is content_policy; an unparsable body is upstream_malformed', () => {
    expect(thrown(() => parseGeminiResult(JSON.stringify({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } }), 'm')).code).toBe('content_policy');
    expect(thrown(() => parseGeminiResult('[', 'm')).code).toBe('upstream_malformed');
    expect(thrown(() => parseGeminiResult('[]', 'm')).code).toBe('upstream_malformed');
  });
});

describe('GeminiStreamDecoder: the parts and chunks that carry nothing', () => {
  test('a stream that ended before its first chunk is not finished', () => {
    expect([new GeminiStreamDecoder(1, 'm').finished, new GeminiStreamDecoder(1, 'm').complete]).toEqual([false, false]);
  });

  test('a chunk with only usage (no candidates) reports the usage and nothing else', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    d.decode(sse({ candidates: [cand([{ text: 'a' }])], ...meta }));
    expect(d.decode(sse({ usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 1 }, ...meta }))?.events).toStrictEqual([{ type: 'usage', usage: { inputTokens: 4, outputTokens: 1 } }]);
  });

  test('prompt feedback without a block reason, or a block reason beside real candidates, does not block', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    expect(d.decode(sse({ promptFeedback: { safetyRatings: [] }, ...meta }))?.events).toEqual([{ type: 'start', id: meta.responseId, model: meta.modelVersion }]);
    expect(d.decode(sse({ promptFeedback: { blockReason: 'OTHER' }, candidates: [cand([{ text: 'ok' }])] }))?.events).toEqual([{ type: 'text', choice: 0, text: 'ok' }]);
  });

  test('a block reason with an empty candidate list blocks; the error is tagged gemini', () => {
    const err = thrown(() => new GeminiStreamDecoder(1, 'm').decode(sse({ promptFeedback: { blockReason: 'BLOCKLIST' }, candidates: [] })));
    expect([err.code, err.message, err.details.providerFormat]).toEqual(['content_policy', 'the prompt was blocked by the provider (BLOCKLIST)', 'gemini']);
  });

  test('empty text parts (Gemini 3 ends with one carrying only a signature), empty thoughts and other part kinds give no events', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    d.decode(sse({ candidates: [cand([{ text: 'a' }])], ...meta }));
    const f = d.decode(sse({ candidates: [cand([null, { text: '', thoughtSignature: 'CiQB' }, { text: '', thought: true }, { thought: true, thoughtSignature: 'Zz' }, { executableCode: { language: 'PYTHON', code: 'print(1)' } }])] }));
    expect(f?.events).toEqual([]);
  });

  test('a candidate that finishes without content (blocked by SAFETY) finishes with content_filter', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    expect(d.decode(sse({ candidates: [{ index: 0, finishReason: 'SAFETY' }], usageMetadata: { promptTokenCount: 3 }, ...meta }))?.events).toEqual([
      { type: 'start', id: meta.responseId, model: meta.modelVersion },
      { type: 'finish', choice: 0, reason: 'content_filter' },
      { type: 'usage', usage: { inputTokens: 3, outputTokens: 0 } },
    ]);
  });

  test('a thought summary ends before a function call, and before the finish when no answer part follows', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    expect(d.decode(sse({ candidates: [cand([{ text: 'plan', thought: true }, { functionCall: { name: 'f', args: {} } }])] }))?.events.slice(1, 4)).toEqual([
      { type: 'reasoning', choice: 0, text: 'plan' },
      { type: 'reasoning_end', choice: 0, origin: 'gemini' },
      { type: 'tool_start', choice: 0, index: 0, id: 'call_0_0', name: 'f' },
    ]);
    const e = new GeminiStreamDecoder(1, 'm');
    e.decode(sse({ candidates: [cand([{ text: 'only thinking', thought: true }])] }));
    expect(e.decode(sse({ candidates: [cand([], { finishReason: 'MAX_TOKENS' })] }))?.events).toEqual([
      { type: 'reasoning_end', choice: 0, origin: 'gemini' },
      { type: 'finish', choice: 0, reason: 'length' },
    ]);
  });

  test('a signature that is empty or not a string is not carried', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    const f = d.decode(sse({ candidates: [cand([{ functionCall: { name: 'a', args: {} }, thoughtSignature: '' }, { functionCall: { name: 'b', args: {} }, thoughtSignature: 7 }])] }));
    expect(f?.events.filter((ev) => ev.type === 'tool_start')).toStrictEqual([
      { type: 'tool_start', choice: 0, index: 0, id: 'call_0_0', name: 'a' },
      { type: 'tool_start', choice: 0, index: 1, id: 'call_0_1', name: 'b' },
    ]);
  });

  test('usage: tool-use prompt tokens (search, code execution) are input; no cache or thoughts counts means no such fields', () => {
    const d = new GeminiStreamDecoder(1, 'm');
    expect(d.decode(sse({ usageMetadata: { promptTokenCount: 10, toolUsePromptTokenCount: 5, candidatesTokenCount: 2 } }))?.events[1]).toStrictEqual({ type: 'usage', usage: { inputTokens: 15, outputTokens: 2 } });
  });

  test('an error object without a message gets a generic one, and may fall back once retries are exhausted', () => {
    const err = thrown(() => new GeminiStreamDecoder(1, 'm').decode(sse({ error: { code: 500, status: 'INTERNAL' } })));
    expect([err.message, err.details.fallback]).toEqual(['upstream reported an error mid-stream', 'retries_exhausted']);
  });

  test('malformed chunks name what was malformed', () => {
    expect(thrown(() => new GeminiStreamDecoder(1, 'm').decode({ data: 'null' })).message).toBe('upstream sent a malformed stream chunk');
    expect(thrown(() => new GeminiStreamDecoder(1, 'm').decode(sse({ candidates: [7] }))).message).toBe('upstream sent a malformed stream chunk');
  });
});

describe('parseGeminiResult: what it skips and what it defaults', () => {
  test('a body without candidates has no choices and, without usageMetadata, no usage', () => {
    expect(parseGeminiResult(JSON.stringify({ ...meta }), 'm')).toStrictEqual({ id: meta.responseId, model: meta.modelVersion, choices: [] });
  });

  test('candidates that are not objects and parts that are not objects are skipped; content-less candidates are empty', () => {
    const r = parseGeminiResult(JSON.stringify({ candidates: ['x', cand([null, { text: 'hi' }], { finishReason: 'STOP' }), { finishReason: 'SAFETY', index: 1 }] }), 'm');
    expect(r.choices).toStrictEqual([
      { index: 0, text: 'hi', toolCalls: [], finishReason: 'stop' },
      { index: 1, text: '', toolCalls: [], finishReason: 'content_filter' },
    ]);
  });

  test("a candidate's own index wins over its place; without one its place is its index", () => {
    const r = parseGeminiResult(JSON.stringify({ candidates: [{ ...cand([{ text: 'b' }]), index: 1 }, { ...cand([{ text: 'a' }]), index: 0 }, { content: { parts: [{ text: 'c' }] } }] }), 'm');
    expect(r.choices.map((c) => [c.index, c.text])).toEqual([
      [1, 'b'],
      [0, 'a'],
      [2, 'c'],
    ]);
  });

  test('thought parts join without a separator; text that is not a string contributes nothing, to the answer or the reasoning', () => {
    const r = parseGeminiResult(JSON.stringify({ candidates: [cand([{ text: 'one ', thought: true }, { text: 5, thought: true }, { text: 'two', thought: true }, { text: 'A' }, { text: 6 }])] }), 'm');
    expect(r.choices[0]).toMatchObject({ text: 'A', reasoning: [{ text: 'one two', origin: 'gemini' }] });
  });

  test('unparsable and non-object bodies name the response body', () => {
    expect(thrown(() => parseGeminiResult('<html>', 'm')).message).toBe('upstream sent a malformed response body');
    expect(thrown(() => parseGeminiResult('[]', 'm')).message).toBe('upstream sent a malformed response body');
  });
});

test('a function call without a signature in a JSON answer carries no signature field', () => {
  const r = parseGeminiResult(JSON.stringify({ candidates: [cand([{ functionCall: { name: 'f', args: {} } }], { finishReason: 'STOP' })] }), 'm');
  expect(r.choices[0]?.toolCalls).toStrictEqual([{ id: 'call_0_0', name: 'f', arguments: '{}' }]);
});
