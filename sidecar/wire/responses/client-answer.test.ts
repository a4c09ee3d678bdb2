import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Frame, JsonObject } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { ResponsesStreamEncoder, encodeResponsesResult } from './client-answer.ts';
import { decodeResponsesRequest } from './client-request.ts';
import { decodeProof } from './shapes.ts';

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

const request = (extra: JsonObject = {}) => decodeResponsesRequest({ model: 'route', input: 'x', ...extra });
const ITEM = RESP_ID.slice('resp_'.length);

describe('encodeResponsesResult, answer by answer', () => {
  test('an answer with no choice at all (an upstream that sent none) is a completed response with no output', () => {
    const body = encodeResponsesResult({ id: 'x', model: 'gpt-4o', choices: [] }, REQ_ID, request());
    expect(body).toMatchObject({ id: RESP_ID, status: 'completed', output: [], incomplete_details: null, usage: null });
  });

  test('tool calls only: no empty message item, the calls in order with their arguments', () => {
    const body = encodeResponsesResult(
      {
        id: 'x',
        model: 'm',
        choices: [
          {
            index: 0,
            text: '',
            toolCalls: [
              { id: 'call_1', name: 'a', arguments: '{"n":1}' },
              { id: 'call_2', name: 'b', arguments: '' },
            ],
            finishReason: 'tool_calls',
          },
        ],
      },
      REQ_ID,
      request(),
    );
    expect(body.output).toEqual([
      { id: `fc_${ITEM}_0`, type: 'function_call', status: 'completed', arguments: '{"n":1}', call_id: 'call_1', name: 'a' },
      { id: `fc_${ITEM}_1`, type: 'function_call', status: 'completed', arguments: '', call_id: 'call_2', name: 'b' },
    ]);
  });

  test('an answer cut by max tokens is an incomplete response, reason max_output_tokens', () => {
    const body = encodeResponsesResult({ id: 'x', model: 'm', choices: [{ index: 0, text: 'Once', toolCalls: [], finishReason: 'length' }] }, REQ_ID, request());
    expect(body).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });

  test("a reasoning block's proof goes to encrypted_content when the client includes reasoning.encrypted_content, and is always kept for previous_response_id", () => {
    const result = {
      id: 'x',
      model: 'claude-sonnet-4-5',
      choices: [{ index: 0, text: 'Hi.', toolCalls: [], finishReason: 'stop' as const, reasoning: [{ text: '', origin: 'anthropic' as const, redacted: 'opaque' }] }],
    };
    const withProof = request({ include: ['reasoning.encrypted_content'], store: false });
    const body = encodeResponsesResult(result, REQ_ID, withProof);
    const rs = (body.output as JsonObject[])[0]!;
    expect(rs).toMatchObject({ id: `rs_${ITEM}_0`, type: 'reasoning', summary: [] });
    expect(decodeProof(rs.encrypted_content as string)).toEqual({ origin: 'anthropic', redacted: 'opaque' });
    const without = request();
    expect((encodeResponsesResult(result, REQ_ID, without).output as JsonObject[])[0]).toEqual({ id: `rs_${ITEM}_0`, type: 'reasoning', summary: [] });
    expect(decodeProof((without.outcome.output as JsonObject[])[0]!.encrypted_content as string)).toEqual({ origin: 'anthropic', redacted: 'opaque' });
  });
});

describe('ResponsesStreamEncoder, event by event', () => {
  test("usage from the stream's start (Anthropic input tokens) and its end (output tokens) add up in response.completed", () => {
    const enc = new ResponsesStreamEncoder(request({ stream: true }), REQ_ID);
    const out = events(
      enc.encode([{ type: 'start', id: 'msg_01', model: 'claude-haiku-4-5', usage: { inputTokens: 10, outputTokens: 1 } }, { type: 'text', choice: 0, text: 'Hi' }]) +
        enc.encode([{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 0, outputTokens: 5 } }]) +
        enc.end(),
    );
    expect(out.at(-1)).toMatchObject({ type: 'response.completed', response: { model: 'claude-haiku-4-5', usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 } } });
  });

  test('a stream cut by max tokens ends with response.incomplete', () => {
    const enc = new ResponsesStreamEncoder(request({ stream: true }), REQ_ID);
    const out = events(enc.encode([{ type: 'text', choice: 0, text: 'Once' }, { type: 'finish', choice: 0, reason: 'length' }]) + enc.end());
    expect(out.at(-1)).toMatchObject({ type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } } });
  });

  test('only the first choice reaches the client: text and a finish of another choice are dropped', () => {
    const request_ = request({ stream: true });
    const enc = new ResponsesStreamEncoder(request_, REQ_ID);
    const out = events(
      enc.encode([
        { type: 'text', choice: 0, text: 'A' },
        { type: 'text', choice: 1, text: 'B' },
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'finish', choice: 1, reason: 'length' },
      ]) + enc.end(),
    );
    expect(out.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta)).toEqual(['A']);
    expect(out.at(-1)).toMatchObject({ type: 'response.completed', response: { status: 'completed', output: [{ content: [{ text: 'A' }] }] } });
  });

  test("a reasoning block streams as a reasoning summary, and its proof (signature) goes to encrypted_content when asked for", () => {
    const enc = new ResponsesStreamEncoder(request({ stream: true, include: ['reasoning.encrypted_content'], store: false }), REQ_ID);
    const out = events(
      enc.encode([
        { type: 'reasoning', choice: 0, text: 'Think.' },
        { type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'sig', encrypted: 'enc', redacted: 'red' },
        { type: 'text', choice: 0, text: 'Hi' },
      ]) + enc.end(),
    );
    expect(out.find((e) => e.type === 'response.reasoning_summary_text.delta')).toMatchObject({ item_id: `rs_${ITEM}_0`, delta: 'Think.' });
    const rs = out.find((e) => e.type === 'response.output_item.done')!.item as JsonObject;
    expect(rs).toMatchObject({ id: `rs_${ITEM}_0`, type: 'reasoning', summary: [{ type: 'summary_text', text: 'Think.' }] });
    expect(decodeProof(rs.encrypted_content as string)).toEqual({ origin: 'anthropic', signature: 'sig', encrypted: 'enc', redacted: 'red' });
  });

  test('a reasoning block with only a signature carries only the signature in its proof', () => {
    const enc = new ResponsesStreamEncoder(request({ stream: true, include: ['reasoning.encrypted_content'], store: false }), REQ_ID);
    const out = events(enc.encode([{ type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'sig' }]) + enc.end());
    const rs = out.find((e) => e.type === 'response.output_item.done')!.item as JsonObject;
    expect(decodeProof(rs.encrypted_content as string)).toStrictEqual({ origin: 'anthropic', signature: 'sig' });
  });

  test("passthrough of an upstream event without an event line: only its data line; a frame with no raw bytes is dropped but followed", () => {
    const enc = new ResponsesStreamEncoder(request({ stream: true }), REQ_ID);
    expect(enc.passthrough({ events: [{ type: 'start', id: 'resp_up', model: 'gpt-4o' }], raw: { data: '{"type":"response.created"}' }, seq: 0 })).toBe('data: {"type":"response.created"}\n\n');
    expect(enc.passthrough({ events: [], seq: 1, block: { op: 'start', index: 0, kind: 'message', id: 'msg_up' } })).toBeUndefined();
    const out = events(enc.encode([{ type: 'text', choice: 0, text: 'Hi' }]));
    expect(out[0]).toMatchObject({ type: 'response.content_part.added', item_id: 'msg_up', sequence_number: 2 });
  });

  test("after a whole passthrough stream the upstream's terminal event went out: end() adds nothing, and the request keeps the response as the upstream finished it", () => {
    const request_ = request({ stream: true });
    const enc = new ResponsesStreamEncoder(request_, REQ_ID);
    const raw = (type: string, seq: number) => ({ event: type, data: JSON.stringify({ type, sequence_number: seq }) });
    enc.passthrough({ events: [{ type: 'start', id: 'resp_up', model: 'gpt-4o' }], raw: raw('response.created', 0), seq: 0 });
    enc.passthrough({ events: [], raw: raw('response.output_item.added', 1), seq: 1, block: { op: 'start', index: 0, kind: 'message', id: 'msg_up' } });
    enc.passthrough({ events: [{ type: 'text', choice: 0, text: 'Hi' }], raw: raw('response.output_text.delta', 2), seq: 2 });
    enc.passthrough({ events: [], raw: raw('response.output_item.done', 3), seq: 3, block: { op: 'stop', index: 0, kind: 'message', id: 'msg_up' } });
    enc.passthrough({ events: [{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 2, outputTokens: 1 } }], raw: raw('response.completed', 4), seq: 4 });
    expect(enc.end()).toBe('');
    expect(request_.outcome.response).toMatchObject({
      id: 'resp_up',
      status: 'completed',
      model: 'gpt-4o',
      output: [{ id: 'msg_up', type: 'message', status: 'completed', content: [{ text: 'Hi' }] }],
      usage: { total_tokens: 3 },
    });
    expect(request_.outcome.output).toEqual([{ id: 'msg_up', type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Hi' }], role: 'assistant' }]);
  });
});
