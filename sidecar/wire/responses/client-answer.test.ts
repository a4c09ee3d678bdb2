import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Frame, JsonObject } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { ResponsesStreamEncoder, encodeResponsesResult } from './client-answer.ts';
import { decodeResponsesRequest } from './client-request.ts';

const NOW_S = 1733000000;
beforeEach(() => vi.spyOn(Date, 'now').mockReturnValue(NOW_S * 1000 + 123));
afterEach(() => vi.restoreAllMocks());

const REQ_ID = '0b6c3f52-1a2b-4c3d-8e9f-0123456789ab';
const RESP_ID = 'resp_0b6c3f521a2b4c3d8e9f0123456789ab';

function events(sse: string): JsonObject[] {
  return sse
    .split('\n\n')
    .filter(Boolean)
    .map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 6)) as JsonObject);
}

describe('encodeResponsesResult', () => {
  test("a complete answer from another provider → a response object named after the request, repeating the request's settings", () => {
    const request = decodeResponsesRequest({ model: 'route', input: 'x', instructions: 'Be brief.', max_output_tokens: 64, metadata: { k: 'v' } });
    const body = encodeResponsesResult(
      {
        id: 'msg_01',
        model: 'claude-haiku-4-5',
        choices: [
          {
            index: 0,
            text: 'Let me check.',
            toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
            finishReason: 'tool_calls',
            reasoning: [{ text: 'The user wants weather.', origin: 'anthropic', signature: 'sig' }],
          },
        ],
        usage: { inputTokens: 120, outputTokens: 20, cacheReadTokens: 96 },
      },
      REQ_ID,
      request,
    );
    expect(body).toEqual({
      id: RESP_ID,
      object: 'response',
      created_at: NOW_S,
      status: 'completed',
      background: false,
      error: null,
      incomplete_details: null,
      instructions: 'Be brief.',
      max_output_tokens: 64,
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: true,
      temperature: 1,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_p: 1,
      truncation: 'disabled',
      user: null,
      model: 'claude-haiku-4-5',
      output: [
        { id: `rs_${RESP_ID.slice(5)}_0`, type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user wants weather.' }] },
        { id: `msg_${RESP_ID.slice(5)}_1`, type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Let me check.' }], role: 'assistant' },
        { id: `fc_${RESP_ID.slice(5)}_2`, type: 'function_call', status: 'completed', arguments: '{"city":"Paris"}', call_id: 'toolu_1', name: 'get_weather' },
      ],
      usage: { input_tokens: 120, input_tokens_details: { cached_tokens: 96 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 140 },
      metadata: { k: 'v' },
    });
    // kept for previous_response_id and GET /v1/responses/{id}
    expect(request.outcome.response).toBe(body);
  });
});

describe('ResponsesStreamEncoder', () => {
  test('neutral events → typed events; the final response is what the request keeps', () => {
    const request = decodeResponsesRequest({ model: 'route', input: 'x', stream: true });
    const enc = new ResponsesStreamEncoder(request, REQ_ID);
    const out = events(
      enc.encode([{ type: 'start', id: 'msg_01', model: 'claude-haiku-4-5' }, { type: 'text', choice: 0, text: 'Hi' }]) +
        enc.encode([{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 3, outputTokens: 1 } }]) +
        enc.end(),
    );
    expect(out[0]).toMatchObject({ type: 'response.created', response: { id: RESP_ID, status: 'in_progress', model: 'claude-haiku-4-5', output: [] } });
    expect(out.at(-1)).toMatchObject({ type: 'response.completed', response: { id: RESP_ID, usage: { total_tokens: 4 } } });
    expect(request.outcome.response).toMatchObject({ id: RESP_ID, status: 'completed', output: [{ content: [{ text: 'Hi' }] }] });
  });

  test("passthrough: the upstream's own bytes, event line included; after a cut, the continuation keeps its ids and numbering", () => {
    const request = decodeResponsesRequest({ model: 'route', input: 'x', stream: true });
    const enc = new ResponsesStreamEncoder(request, REQ_ID);
    const raw = (type: string, seq: number, fields: object) => ({ event: type, data: JSON.stringify({ type, sequence_number: seq, ...fields }) });
    const frames: Frame[] = [
      { events: [{ type: 'start', id: 'resp_up', model: 'gpt-4o' }], raw: raw('response.created', 0, { response: { id: 'resp_up' } }), seq: 0 },
      { events: [], raw: raw('response.output_item.added', 1, { output_index: 0 }), seq: 1, block: { op: 'start', index: 0, kind: 'message', id: 'msg_up' } },
      { events: [], raw: raw('response.content_part.added', 2, { output_index: 0 }), seq: 2, block: { op: 'start', index: 0, kind: 'content_part', id: 'msg_up' } },
      { events: [{ type: 'text', choice: 0, text: 'One,' }], raw: raw('response.output_text.delta', 3, { delta: 'One,' }), seq: 3 },
    ];
    const forwarded = frames.map((f) => enc.passthrough(f)).join('');
    expect(forwarded).toBe(frames.map((f) => `event: ${f.raw!.event}\ndata: ${f.raw!.data}\n\n`).join(''));
    // the upstream broke; a continuation (through the resume gate: no raw bytes) finishes the answer
    const rest = events(enc.encode([{ type: 'text', choice: 0, text: ' two.' }, { type: 'finish', choice: 0, reason: 'stop' }]) + enc.end());
    expect(rest[0]).toMatchObject({ type: 'response.output_text.delta', item_id: 'msg_up', sequence_number: 4, delta: ' two.' });
    expect(rest.map((e) => e.sequence_number)).toEqual(rest.map((_, i) => 4 + i));
    expect(rest.at(-1)).toMatchObject({ type: 'response.completed', response: { id: 'resp_up', output: [{ id: 'msg_up', content: [{ text: 'One, two.' }] }] } });
  });

  test('error(): response.failed with the error, then an error event the SDK raises', () => {
    const enc = new ResponsesStreamEncoder(decodeResponsesRequest({ model: 'route', input: 'x', stream: true }), REQ_ID);
    enc.encode([{ type: 'text', choice: 0, text: 'Half' }]);
    const out = events(enc.error(new AirouteError('stream_interrupted', 502, 'stream interrupted after 4 delivered characters')));
    expect(out.at(-2)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'stream_interrupted', message: 'stream interrupted after 4 delivered characters' } } });
    expect(out.at(-1)).toMatchObject({ type: 'error', code: 'stream_interrupted' });
  });
});
