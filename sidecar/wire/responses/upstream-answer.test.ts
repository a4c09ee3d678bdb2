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
