import { describe, expect, test } from 'vitest';
import type { Frame, StreamEvent } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { ResponsesStreamDecoder, parseResponsesResult } from './upstream-answer.ts';

/** One OpenAI Responses SSE event as eventsource-parser hands it over. */
const sse = (type: string, seq: number, fields: object) => ({ event: type, data: JSON.stringify({ type, sequence_number: seq, ...fields }) });
const response = (status: string, extra: object = {}) => ({ id: 'resp_up1', object: 'response', created_at: 1700000000, status, model: 'gpt-4o-2024-08-06', output: [], ...extra });
const usage = { input_tokens: 36, input_tokens_details: { cached_tokens: 12 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 64 }, total_tokens: 123 };

function run(events: { event: string; data: string }[]): { frames: Frame[]; all: StreamEvent[]; decoder: ResponsesStreamDecoder } {
  const decoder = new ResponsesStreamDecoder();
  const frames = events.map((e) => decoder.decode(e)!);
  return { frames, all: frames.flatMap((f) => f.events), decoder };
}

describe('ResponsesStreamDecoder', () => {
  test('reasoning, text and a function call → neutral events; usage with cached and reasoning tokens; complete after response.completed', () => {
    const fc = { id: 'fc_1', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_1', name: 'get_weather' };
    const { frames, all, decoder } = run([
      sse('response.created', 0, { response: response('in_progress') }),
      sse('response.in_progress', 1, { response: response('in_progress') }),
      sse('response.output_item.added', 2, { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }),
      sse('response.reasoning_summary_part.added', 3, { item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } }),
      sse('response.reasoning_summary_text.delta', 4, { item_id: 'rs_1', output_index: 0, summary_index: 0, delta: 'Need weather.' }),
      sse('response.output_item.done', 5, { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Need weather.' }], encrypted_content: 'gAAAA' } }),
      sse('response.output_item.added', 6, { output_index: 1, item: { id: 'msg_1', type: 'message', status: 'in_progress', content: [], role: 'assistant' } }),
      sse('response.content_part.added', 7, { item_id: 'msg_1', output_index: 1, content_index: 0, part: { type: 'output_text', annotations: [], text: '' } }),
      sse('response.output_text.delta', 8, { item_id: 'msg_1', output_index: 1, content_index: 0, delta: 'Checking', logprobs: [] }),
      sse('response.output_text.done', 9, { item_id: 'msg_1', output_index: 1, content_index: 0, text: 'Checking', logprobs: [] }),
      sse('response.output_item.added', 10, { output_index: 2, item: fc }),
      sse('response.function_call_arguments.delta', 11, { item_id: 'fc_1', output_index: 2, delta: '{"city":' }),
      sse('response.function_call_arguments.delta', 12, { item_id: 'fc_1', output_index: 2, delta: '"Paris"}' }),
      sse('response.function_call_arguments.done', 13, { item_id: 'fc_1', output_index: 2, arguments: '{"city":"Paris"}' }),
      sse('response.output_item.done', 14, { output_index: 2, item: { ...fc, status: 'completed', arguments: '{"city":"Paris"}' } }),
      sse('response.completed', 15, { response: response('completed', { usage }) }),
    ]);
    expect(all).toEqual([
      { type: 'start', id: 'resp_up1', model: 'gpt-4o-2024-08-06' },
      { type: 'reasoning', choice: 0, text: 'Need weather.' },
      { type: 'reasoning_end', choice: 0, origin: 'responses', id: 'rs_1', encrypted: 'gAAAA' },
      { type: 'text', choice: 0, text: 'Checking' },
      { type: 'tool_start', choice: 0, index: 0, id: 'call_1', name: 'get_weather' },
      { type: 'tool_args', choice: 0, index: 0, args: '{"city":' },
      { type: 'tool_args', choice: 0, index: 0, args: '"Paris"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { inputTokens: 36, outputTokens: 87, cacheReadTokens: 12, reasoningTokens: 64 } },
    ]);
    expect(decoder.complete && decoder.finished).toBe(true);
    // every frame keeps its raw event and number; item frames say where the item sits and its id
    expect(frames.map((f) => f.seq)).toEqual(frames.map((_, i) => i));
    expect(frames[1]!.raw!.event).toBe('response.in_progress');
    expect(frames[6]!.block).toEqual({ op: 'start', index: 1, kind: 'message', id: 'msg_1' });
    expect(frames[7]!.block).toEqual({ op: 'start', index: 1, kind: 'content_part', id: 'msg_1' });
    expect(frames[14]!.block).toEqual({ op: 'stop', index: 2, kind: 'function_call', id: 'fc_1' });
  });

  test('incomplete for max_output_tokens → finish length', () => {
    const { all } = run([sse('response.incomplete', 3, { response: response('incomplete', { incomplete_details: { reason: 'max_output_tokens' }, usage }) })]);
    expect(all[0]).toEqual({ type: 'finish', choice: 0, reason: 'length' });
  });

  test('arguments given whole on the done event (none streamed) still reach the client once', () => {
    const item = { id: 'fc_1', type: 'function_call', arguments: '', call_id: 'c', name: 'f' };
    const { all } = run([
      sse('response.output_item.added', 0, { output_index: 0, item }),
      sse('response.output_item.done', 1, { output_index: 0, item: { ...item, arguments: '{}' } }),
    ]);
    expect(all.filter((e) => e.type === 'tool_args')).toEqual([{ type: 'tool_args', choice: 0, index: 0, args: '{}' }]);
  });

  test('response.failed with a server error and an error event are retriable failures of the attempt; an invalid prompt is not', () => {
    const decoder = new ResponsesStreamDecoder();
    const failed = (code: string) => {
      try {
        decoder.decode(sse('response.failed', 5, { response: response('failed', { error: { code, message: `it failed: ${code}` } }) }));
      } catch (e) {
        return e as AirouteError;
      }
      throw new Error('no failure');
    };
    expect(failed('server_error')).toMatchObject({ code: 'upstream_error', retriable: true, message: 'it failed: server_error' });
    expect(failed('rate_limit_exceeded')).toMatchObject({ code: 'upstream_overloaded', retriable: true });
    expect(failed('invalid_prompt')).toMatchObject({ code: 'invalid_request', status: 400, retriable: false });
    expect(() => decoder.decode(sse('error', 2, { code: 'server_error', message: 'The server had an error', param: null }))).toThrow(AirouteError);
  });

  test('an event that is not JSON is a malformed upstream', () => {
    expect(() => new ResponsesStreamDecoder().decode({ event: 'response.output_text.delta', data: '{"type":' })).toThrow('upstream sent a malformed stream event');
  });
});

describe('parseResponsesResult', () => {
  test('a response object → text, tool calls, reasoning, finish and usage', () => {
    const r = parseResponsesResult(
      JSON.stringify(
        response('completed', {
          output: [
            { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'A' }, { type: 'summary_text', text: 'B' }] },
            { id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Paris.', annotations: [] }] },
            { id: 'fc_1', type: 'function_call', status: 'completed', call_id: 'call_1', name: 'f', arguments: '{}' },
          ],
          usage,
        }),
      ),
    );
    expect(r).toEqual({
      id: 'resp_up1',
      model: 'gpt-4o-2024-08-06',
      choices: [
        {
          index: 0,
          text: 'Paris.',
          toolCalls: [{ id: 'call_1', name: 'f', arguments: '{}' }],
          finishReason: 'tool_calls',
          reasoning: [{ text: 'A\n\nB', origin: 'responses', id: 'rs_1' }],
        },
      ],
      usage: { inputTokens: 36, outputTokens: 87, cacheReadTokens: 12, reasoningTokens: 64 },
    });
  });

  test('a body that is not a response object is a malformed upstream', () => {
    expect(() => parseResponsesResult('{"choices":[]}')).toThrow('upstream sent a malformed response body');
  });
});

/** The failure one upstream event raises. */
function raised(decoder: ResponsesStreamDecoder, ev: { event?: string; data: string }): AirouteError {
  try {
    decoder.decode(ev);
  } catch (e) {
    return e as AirouteError;
  }
  throw new Error('no failure');
}

describe('ResponsesStreamDecoder, event by event', () => {
  test('a text-only answer finishes with stop; without usage in response.completed no usage event; complete only after it', () => {
    const decoder = new ResponsesStreamDecoder();
    const text = decoder.decode(sse('response.output_text.delta', 3, { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' }))!;
    expect(text.events).toEqual([{ type: 'text', choice: 0, text: 'Hi' }]);
    expect([decoder.complete, decoder.finished]).toEqual([false, false]);
    expect(decoder.decode(sse('response.completed', 4, { response: response('completed') }))!.events).toEqual([{ type: 'finish', choice: 0, reason: 'stop' }]);
    expect([decoder.complete, decoder.finished]).toEqual([true, true]);
  });

  test('incomplete for content_filter → finish content_filter; incomplete with no details → finish length', () => {
    expect(run([sse('response.incomplete', 0, { response: response('incomplete', { incomplete_details: { reason: 'content_filter' } }) })]).all).toEqual([
      { type: 'finish', choice: 0, reason: 'content_filter' },
    ]);
    expect(run([sse('response.incomplete', 0, { response: response('incomplete', { incomplete_details: null }) })]).all).toEqual([{ type: 'finish', choice: 0, reason: 'length' }]);
  });

  test('a refusal streams as text; empty or missing deltas make no event', () => {
    const { all } = run([
      sse('response.refusal.delta', 0, { item_id: 'msg_1', output_index: 0, content_index: 0, delta: "I can't help with that." }),
      sse('response.output_text.delta', 1, { item_id: 'msg_1', output_index: 0, content_index: 0, delta: '' }),
      sse('response.output_text.delta', 2, { item_id: 'msg_1', output_index: 0, content_index: 0 }),
      sse('response.reasoning_summary_text.delta', 3, { item_id: 'rs_1', output_index: 0, summary_index: 0, delta: '' }),
      sse('response.reasoning_text.delta', 4, { item_id: 'rs_1', output_index: 0, content_index: 0 }),
    ]);
    expect(all).toEqual([{ type: 'text', choice: 0, text: "I can't help with that." }]);
  });

  test('raw reasoning text (reasoning_text.delta) is reasoning; a second summary part reads as a new paragraph', () => {
    const { all } = run([
      sse('response.reasoning_text.delta', 0, { item_id: 'rs_1', output_index: 0, content_index: 0, delta: 'Raw.' }),
      sse('response.reasoning_summary_part.added', 1, { item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } }),
      sse('response.reasoning_summary_text.delta', 2, { item_id: 'rs_1', output_index: 0, summary_index: 0, delta: 'One.' }),
      sse('response.reasoning_summary_part.added', 3, { item_id: 'rs_1', output_index: 0, summary_index: 1, part: { type: 'summary_text', text: '' } }),
      sse('response.reasoning_summary_text.delta', 4, { item_id: 'rs_1', output_index: 0, summary_index: 1, delta: 'Two.' }),
    ]);
    expect(all).toEqual([
      { type: 'reasoning', choice: 0, text: 'Raw.' },
      { type: 'reasoning', choice: 0, text: 'One.' },
      { type: 'reasoning', choice: 0, text: '\n\n' },
      { type: 'reasoning', choice: 0, text: 'Two.' },
    ]);
  });

  test('a reasoning item done without encrypted content or id ends the block with no proof', () => {
    const { all } = run([sse('response.output_item.done', 0, { output_index: 0, item: { type: 'reasoning', summary: [] } })]);
    expect(all).toStrictEqual([{ type: 'reasoning_end', choice: 0, origin: 'responses' }]);
  });

  test('a function call whose arguments come whole in output_item.added reaches the client once, not again at done', () => {
    const item = { id: 'fc_1', type: 'function_call', status: 'completed', arguments: '{"a":1}', call_id: 'call_1', name: 'f' };
    const { all, frames } = run([sse('response.output_item.added', 0, { output_index: 0, item }), sse('response.output_item.done', 1, { output_index: 0, item })]);
    expect(frames[0]!.events).toEqual([
      { type: 'tool_start', choice: 0, index: 0, id: 'call_1', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, args: '{"a":1}' },
    ]);
    expect(all).toHaveLength(2);
    expect(frames[1]!.block).toEqual({ op: 'stop', index: 0, kind: 'function_call', id: 'fc_1' });
  });

  test('two function calls are two tool indexes; each delta goes to the call its item_id names', () => {
    const call = (id: string, n: number) => ({ id, type: 'function_call', status: 'in_progress', arguments: '', call_id: `call_${n}`, name: `f${n}` });
    const { all } = run([
      sse('response.output_item.added', 0, { output_index: 0, item: call('fc_a', 0) }),
      sse('response.output_item.added', 1, { output_index: 1, item: call('fc_b', 1) }),
      sse('response.function_call_arguments.delta', 2, { item_id: 'fc_b', output_index: 1, delta: '{"b":' }),
      sse('response.function_call_arguments.delta', 3, { item_id: 'fc_a', output_index: 0, delta: '{}' }),
      sse('response.function_call_arguments.delta', 4, { item_id: 'fc_b', output_index: 1, delta: '2}' }),
    ]);
    expect(all.filter((e) => e.type === 'tool_args')).toEqual([
      { type: 'tool_args', choice: 0, index: 1, args: '{"b":' },
      { type: 'tool_args', choice: 0, index: 0, args: '{}' },
      { type: 'tool_args', choice: 0, index: 1, args: '2}' },
    ]);
  });

  test('argument deltas for an unknown item, empty or missing ones, make no event; a call done with no arguments adds none', () => {
    const item = { id: 'fc_1', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_1', name: 'f' };
    const { all } = run([
      sse('response.output_item.added', 0, { output_index: 0, item }),
      sse('response.function_call_arguments.delta', 1, { item_id: 'fc_other', output_index: 3, delta: '{"x":1}' }),
      sse('response.function_call_arguments.delta', 2, { item_id: 'fc_1', output_index: 0, delta: '' }),
      sse('response.function_call_arguments.delta', 3, { item_id: 'fc_1', output_index: 0 }),
      sse('response.output_item.done', 4, { output_index: 0, item }),
      sse('response.output_item.done', 5, { output_index: 0, item: { ...item, arguments: undefined } }),
      sse('response.output_item.added', 6, { output_index: 1, item: { id: 'fc_2', type: 'function_call', call_id: 'call_2', name: 'g' } }),
    ]);
    all.pop();
    expect(all).toEqual([{ type: 'tool_start', choice: 0, index: 0, id: 'call_1', name: 'f' }]);
  });

  test('a done function call the stream never announced, and a done message, add no events', () => {
    const { all, frames } = run([
      sse('response.output_item.done', 0, { output_index: 2, item: { id: 'fc_x', type: 'function_call', arguments: '{"x":1}', call_id: 'c', name: 'f' } }),
      sse('response.output_item.done', 1, { output_index: 0, item: { id: 'msg_1', type: 'message', status: 'completed', content: [], role: 'assistant' } }),
    ]);
    expect(all).toEqual([]);
    expect(frames[1]!.block).toEqual({ op: 'stop', index: 0, kind: 'message', id: 'msg_1' });
  });

  test("a content part's end is a block stop at its output index", () => {
    const { frames } = run([sse('response.content_part.done', 7, { item_id: 'msg_1', output_index: 1, content_index: 0, part: { type: 'output_text', annotations: [], text: 'x' } })]);
    expect(frames[0]).toStrictEqual({ events: [], raw: frames[0]!.raw, seq: 7, block: { op: 'stop', index: 1, kind: 'content_part', id: 'msg_1' } });
  });

  test("a reasoning summary part's end is a block stop at its output index, with no event of its own (its text came as deltas)", () => {
    const { frames } = run([sse('response.reasoning_summary_part.done', 4, { item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: 'x' } })]);
    expect(frames[0]).toStrictEqual({ events: [], raw: frames[0]!.raw, seq: 4, block: { op: 'stop', index: 0, kind: 'summary_part', id: 'rs_1' } });
  });

  test("an event whose data has no type is read by its SSE event name; with neither, it means nothing (but still passes through)", () => {
    const decoder = new ResponsesStreamDecoder();
    expect(decoder.decode({ event: 'response.output_text.delta', data: JSON.stringify({ delta: 'Hi', sequence_number: 2 }) })!.events).toEqual([{ type: 'text', choice: 0, text: 'Hi' }]);
    const bare = decoder.decode({ data: JSON.stringify({ delta: 'Hi' }) })!;
    expect(bare.events).toEqual([]);
    expect(bare).not.toHaveProperty('seq');
  });

  test('an event whose data is JSON but not an object is a malformed upstream', () => {
    expect(raised(new ResponsesStreamDecoder(), { event: 'response.output_text.delta', data: '[1,2]' })).toMatchObject({ code: 'upstream_malformed', message: 'upstream sent a malformed stream event', retriable: true });
  });

  test("response.failed: the provider's code, type and message are kept; an unknown code is the client's fault (400), a missing error a server error", () => {
    const decoder = new ResponsesStreamDecoder();
    const failedWith = (error: unknown) => raised(decoder, sse('response.failed', 5, { response: response('failed', { error }) }));
    expect(failedWith({ code: 'server_error', message: 'boom' })).toMatchObject({
      code: 'upstream_error',
      status: 502,
      message: 'boom',
      details: { providerFormat: 'openai', providerType: 'server_error', providerCode: 'server_error', phase: 'stream' },
    });
    expect(failedWith({ code: 'rate_limit_exceeded', message: 'slow down' })).toMatchObject({
      code: 'upstream_overloaded',
      message: 'slow down',
      details: { providerType: 'rate_limit_error', providerCode: 'rate_limit_exceeded' },
    });
    expect(failedWith({ code: 'vector_store_timeout', message: 'search timed out' })).toMatchObject({ code: 'upstream_error', retriable: true, details: { providerCode: 'vector_store_timeout' } });
    expect(failedWith({ code: 'invalid_image', message: 'bad image' })).toMatchObject({
      code: 'invalid_request',
      status: 400,
      message: 'bad image',
      retriable: false,
      details: { phase: 'stream', providerFormat: 'openai', providerCode: 'invalid_image' },
    });
    expect(failedWith(null)).toMatchObject({ code: 'upstream_error', retriable: true, message: 'the upstream response failed', details: { providerCode: 'server_error' } });
    expect(raised(decoder, sse('response.failed', 6, {}))).toMatchObject({ code: 'upstream_error', message: 'the upstream response failed' });
  });

  test("an error event, flat (as OpenAI streams it) or wrapped in error: a rate limit is an overload, anything else a server error, the message kept", () => {
    const decoder = new ResponsesStreamDecoder();
    expect(raised(decoder, sse('error', 1, { code: 'rate_limit_exceeded', message: 'Rate limit reached', param: null }))).toMatchObject({
      code: 'upstream_overloaded',
      status: 529,
      retriable: true,
      message: 'Rate limit reached',
      details: { providerType: 'rate_limit_error', providerCode: 'rate_limit_exceeded' },
    });
    expect(raised(decoder, sse('error', 2, { error: { code: 'server_error', message: 'The server had an error' } }))).toMatchObject({
      code: 'upstream_error',
      status: 502,
      message: 'The server had an error',
      details: { providerFormat: 'openai', providerType: 'server_error', providerCode: 'server_error' },
    });
  });
});

describe('parseResponsesResult, item by item', () => {
  test('a text answer: stop, and no usage when the response has none', () => {
    const r = parseResponsesResult(
      JSON.stringify(response('completed', { output: [{ id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi', annotations: [] }] }] })),
    );
    expect(r).toStrictEqual({ id: 'resp_up1', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, text: 'Hi', toolCalls: [], finishReason: 'stop' }] });
  });

  test('a refusal part is the answer text; other parts and items that are not objects are skipped', () => {
    const r = parseResponsesResult(
      JSON.stringify(
        response('completed', {
          output: [
            'junk',
            null,
            { id: 'msg_0', type: 'message', content: 'not a list' },
            { id: 'msg_1', type: 'message', role: 'assistant', content: [null, { type: 'refusal', refusal: "I can't help with that." }, { type: 'output_audio', text: 'no' }] },
            { id: 'msg_2', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: ' Sorry', annotations: [] }, { type: 'output_text', text: '.', annotations: [] }] },
          ],
        }),
      ),
    );
    expect(r.choices[0]!.text).toBe("I can't help with that. Sorry.");
  });

  test("reasoning: its encrypted content is kept as the proof; summaries that are not objects are skipped; a reasoning item with no id has none", () => {
    const r = parseResponsesResult(
      JSON.stringify(
        response('completed', {
          output: [
            { id: 'rs_1', type: 'reasoning', summary: ['junk', { type: 'summary_text', text: 'A' }], encrypted_content: 'gAAAA' },
            { type: 'reasoning', summary: 'not a list', content: [{ type: 'reasoning_text', text: 'raw' }] },
            { id: 'ws_1', type: 'web_search_call', status: 'completed' },
          ],
        }),
      ),
    );
    expect(r.choices[0]!.reasoning).toStrictEqual([
      { text: 'A', origin: 'responses', id: 'rs_1', encrypted: 'gAAAA' },
      { text: '', origin: 'responses' },
    ]);
  });

  test('an incomplete response is cut by the length limit; a failed one is the failure of the attempt', () => {
    expect(parseResponsesResult(JSON.stringify(response('incomplete', { incomplete_details: { reason: 'max_output_tokens' } }))).choices[0]!.finishReason).toBe('length');
    expect(() => parseResponsesResult(JSON.stringify(response('failed', { error: { code: 'server_error', message: 'boom' } })))).toThrow(
      expect.objectContaining({ code: 'upstream_error', message: 'boom' }),
    );
  });

  test('a body that is not JSON is a malformed upstream', () => {
    expect(() => parseResponsesResult('<html>')).toThrow('upstream sent a malformed response body');
  });
});
