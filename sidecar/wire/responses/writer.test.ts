import { describe, expect, test } from 'vitest';
import type { JsonObject } from '../../chat/types.ts';
import { echoOf } from './shapes.ts';
import { ResponsesStreamDecoder } from './upstream-answer.ts';
import { ResponsesWriter, type WrittenEvent } from './writer.ts';

const writer = (includeProof = false) => new ResponsesWriter({ id: 'resp_r1', createdAt: 1700000000, model: 'm', echo: echoOf({}), includeProof });

function parse(events: WrittenEvent[]): JsonObject[] {
  return events.map((e) => {
    const [event, data] = e.sse.split('\n');
    const body = JSON.parse(data!.slice('data: '.length)) as JsonObject;
    expect(event).toBe(`event: ${String(body.type)}`);
    expect(body.sequence_number).toBe(e.seq);
    return body;
  });
}

const types = (events: JsonObject[]) => events.map((e) => e.type);

describe('a foreground answer', () => {
  test('text: created, in progress, the message item and its part, deltas, then every done event and completed', () => {
    const w = writer();
    w.ensureStarted();
    w.text('Hel');
    w.text('lo');
    w.setUsage({ inputTokens: 5, outputTokens: 2 });
    w.complete();
    const out = parse(w.drain());
    expect(types(out)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(out.map((e) => e.sequence_number)).toEqual(out.map((_, i) => i));
    expect(out[2]).toMatchObject({ output_index: 0, item: { id: 'msg_r1_0', type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
    expect(out[6]).toMatchObject({ item_id: 'msg_r1_0', text: 'Hello' });
    expect(out[9]).toMatchObject({
      response: {
        id: 'resp_r1',
        status: 'completed',
        output: [{ id: 'msg_r1_0', status: 'completed', content: [{ type: 'output_text', text: 'Hello', annotations: [] }] }],
        usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 },
      },
    });
    expect((out[0]!.response as JsonObject).usage).toBeNull();
  });

  test('reasoning, text, then two tool calls: each item in order, reasoning closed before the text, calls closed at the end', () => {
    const w = writer(true);
    w.ensureStarted();
    w.reasoning('Think');
    w.reasoningEnd({ origin: 'anthropic', signature: 'sig' });
    w.text('Checking.');
    w.toolStart(0, 'call_a', 'get_weather');
    w.toolStart(1, 'call_b', 'get_time');
    w.toolArgs(0, '{"city":"Paris"}');
    w.toolArgs(1, '{}');
    w.setFinish('tool_calls');
    w.complete();
    const out = parse(w.drain());
    const added = out.filter((e) => e.type === 'response.output_item.added').map((e) => (e.item as JsonObject).id);
    const done = out.filter((e) => e.type === 'response.output_item.done').map((e) => (e.item as JsonObject).id);
    expect(added).toEqual(['rs_r1_0', 'msg_r1_1', 'fc_r1_2', 'fc_r1_3']);
    expect(done).toEqual(['rs_r1_0', 'msg_r1_1', 'fc_r1_2', 'fc_r1_3']);
    // arguments of interleaved parallel calls land on their own items
    expect(out.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => [e.item_id, e.delta])).toEqual([
      ['fc_r1_2', '{"city":"Paris"}'],
      ['fc_r1_3', '{}'],
    ]);
    const final = out.at(-1)!.response as { output: JsonObject[] };
    expect(final.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Think' }] });
    expect(final.output[0]!.encrypted_content).toMatch(/^airoute\.v1\./);
    expect(final.output[2]).toEqual({ id: 'fc_r1_2', type: 'function_call', status: 'completed', arguments: '{"city":"Paris"}', call_id: 'call_a', name: 'get_weather' });
  });

  test('without include reasoning.encrypted_content the proof stays out of the item', () => {
    const w = writer(false);
    w.reasoningEnd({ origin: 'responses', encrypted: 'gAAA' });
    w.complete();
    const final = parse(w.drain()).at(-1)!.response as { output: JsonObject[] };
    expect(final.output[0]).toEqual({ id: 'rs_r1_0', type: 'reasoning', summary: [] });
  });

  test('a length cut ends with response.incomplete, reason max_output_tokens', () => {
    const w = writer();
    w.text('Once upon');
    w.setFinish('length');
    w.complete();
    const last = parse(w.drain()).at(-1)!;
    expect(last).toMatchObject({ type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } } });
  });

  test('a failure closes open items as incomplete, then response.failed and an error event; nothing is written after', () => {
    const w = writer();
    w.text('Half');
    w.fail({ code: 'stream_interrupted', message: 'the upstream broke' });
    w.complete();
    const out = parse(w.drain());
    expect(types(out).slice(-5)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.failed', 'error']);
    expect(out.at(-3)).toMatchObject({ item: { status: 'incomplete' } });
    expect(out.at(-2)).toMatchObject({ response: { status: 'failed', error: { code: 'stream_interrupted', message: 'the upstream broke' } } });
    expect(out.at(-1)).toMatchObject({ code: 'stream_interrupted', message: 'the upstream broke', param: null });
  });

  test('a cancellation ends with response.failed whose status is cancelled, and no error event', () => {
    const w = writer();
    w.created('queued');
    w.fail({ code: 'cancelled', message: 'cancelled' }, 'cancelled');
    const out = parse(w.drain());
    expect(types(out)).toEqual(['response.created', 'response.queued', 'response.failed']);
    expect(out[2]).toMatchObject({ response: { status: 'cancelled' } });
  });
});

describe('following a passthrough stream, then continuing it', () => {
  test("after a cut, the continuation joins the upstream's open message: its item id, the next sequence number, the whole text at the end", () => {
    const w = writer();
    w.observe({ events: [{ type: 'start', id: 'resp_up', model: 'gpt-4o' }], seq: 0 });
    w.observe({ events: [], seq: 1 });
    w.observe({ events: [], seq: 2, block: { op: 'start', index: 0, kind: 'message', id: 'msg_up' } });
    w.observe({ events: [], seq: 3, block: { op: 'start', index: 0, kind: 'content_part', id: 'msg_up' } });
    w.observe({ events: [{ type: 'text', choice: 0, text: 'One, two,' }], seq: 4 });
    w.text(' three.');
    w.complete();
    const out = parse(w.drain());
    expect(out[0]).toMatchObject({ type: 'response.output_text.delta', item_id: 'msg_up', output_index: 0, delta: ' three.', sequence_number: 5 });
    expect(out.find((e) => e.type === 'response.output_text.done')).toMatchObject({ item_id: 'msg_up', text: 'One, two, three.' });
    expect(out.at(-1)).toMatchObject({ type: 'response.completed', response: { id: 'resp_up', model: 'gpt-4o', output: [{ id: 'msg_up', content: [{ text: 'One, two, three.' }] }] } });
  });

  test("the upstream's own terminal event went out: the writer adds nothing at the end", () => {
    const w = writer();
    w.observe({ events: [{ type: 'start', id: 'resp_up', model: 'gpt-4o' }], seq: 0 });
    w.observe({ events: [{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 1, outputTokens: 1 } }], seq: 9 });
    w.complete();
    expect(w.drain()).toEqual([]);
    expect(w.finished()).toMatchObject({ id: 'resp_up', status: 'completed', usage: { total_tokens: 2 } });
  });
});

/** A writer whose response repeats no request settings, so each response object can be compared whole. */
const bare = (o: { includeProof?: boolean; echo?: JsonObject } = {}) =>
  new ResponsesWriter({ id: 'resp_r1', createdAt: 1700000000, model: 'm', echo: o.echo ?? {}, includeProof: o.includeProof ?? false });
const responseObject = (status: string, output: JsonObject[], extra: JsonObject = {}): JsonObject => ({
  id: 'resp_r1',
  object: 'response',
  created_at: 1700000000,
  status,
  background: false,
  error: null,
  incomplete_details: null,
  model: 'm',
  output,
  usage: null,
  metadata: {},
  ...extra,
});
const outputText = (text: string) => ({ type: 'output_text', annotations: [], logprobs: [], text });
/** The events without their numbers (checked by parse) to compare them whole. */
const bodies = (w: ResponsesWriter) =>
  parse(w.drain()).map((e) => {
    const { sequence_number: _n, ...rest } = e;
    return rest;
  });

describe('every event of a Responses stream, field by field', () => {
  test('reasoning summary, text and a function call: the exact events OpenAI streams, each item closed before the next opens, the call at the end', () => {
    const w = bare();
    w.ensureStarted();
    w.reasoning('Wea');
    w.reasoning('ther.');
    w.text('Checking.');
    w.toolStart(0, 'call_a', 'get_weather');
    w.toolArgs(0, '{"city":');
    w.toolArgs(0, '"Paris"}');
    w.setUsage({ inputTokens: 10, outputTokens: 4, reasoningTokens: 2 });
    w.setFinish('tool_calls');
    w.complete();
    const rs = { id: 'rs_r1_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Weather.' }] };
    const msg = { id: 'msg_r1_1', type: 'message', status: 'completed', content: [outputText('Checking.')], role: 'assistant' };
    const fc = { id: 'fc_r1_2', type: 'function_call', status: 'completed', arguments: '{"city":"Paris"}', call_id: 'call_a', name: 'get_weather' };
    expect(bodies(w)).toEqual([
      { type: 'response.created', response: responseObject('in_progress', []) },
      { type: 'response.in_progress', response: responseObject('in_progress', []) },
      { type: 'response.output_item.added', output_index: 0, item: { id: 'rs_r1_0', type: 'reasoning', summary: [] } },
      { type: 'response.reasoning_summary_part.added', item_id: 'rs_r1_0', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } },
      { type: 'response.reasoning_summary_text.delta', item_id: 'rs_r1_0', output_index: 0, summary_index: 0, delta: 'Wea' },
      { type: 'response.reasoning_summary_text.delta', item_id: 'rs_r1_0', output_index: 0, summary_index: 0, delta: 'ther.' },
      { type: 'response.reasoning_summary_text.done', item_id: 'rs_r1_0', output_index: 0, summary_index: 0, text: 'Weather.' },
      { type: 'response.reasoning_summary_part.done', item_id: 'rs_r1_0', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: 'Weather.' } },
      { type: 'response.output_item.done', output_index: 0, item: rs },
      { type: 'response.output_item.added', output_index: 1, item: { id: 'msg_r1_1', type: 'message', status: 'in_progress', content: [], role: 'assistant' } },
      { type: 'response.content_part.added', item_id: 'msg_r1_1', output_index: 1, content_index: 0, part: outputText('') },
      { type: 'response.output_text.delta', item_id: 'msg_r1_1', output_index: 1, content_index: 0, delta: 'Checking.', logprobs: [] },
      { type: 'response.output_text.done', item_id: 'msg_r1_1', output_index: 1, content_index: 0, text: 'Checking.', logprobs: [] },
      { type: 'response.content_part.done', item_id: 'msg_r1_1', output_index: 1, content_index: 0, part: outputText('Checking.') },
      { type: 'response.output_item.done', output_index: 1, item: msg },
      { type: 'response.output_item.added', output_index: 2, item: { ...fc, status: 'in_progress', arguments: '' } },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_r1_2', output_index: 2, delta: '{"city":' },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_r1_2', output_index: 2, delta: '"Paris"}' },
      { type: 'response.function_call_arguments.done', item_id: 'fc_r1_2', output_index: 2, arguments: '{"city":"Paris"}' },
      { type: 'response.output_item.done', output_index: 2, item: fc },
      {
        type: 'response.completed',
        response: responseObject('completed', [rs, msg, fc], {
          usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 14 },
        }),
      },
    ]);
  });

  test('a reasoning block with a proof but no summary: its item opens and closes with no summary part events', () => {
    const w = bare({ includeProof: true });
    w.ensureStarted();
    w.reasoningEnd({ origin: 'responses', encrypted: 'gAAAA' });
    w.complete();
    const rs = { id: 'rs_r1_0', type: 'reasoning', summary: [], encrypted_content: 'gAAAA' };
    expect(bodies(w).slice(2)).toEqual([
      { type: 'response.output_item.added', output_index: 0, item: { id: 'rs_r1_0', type: 'reasoning', summary: [] } },
      { type: 'response.output_item.done', output_index: 0, item: rs },
      { type: 'response.completed', response: responseObject('completed', [rs]) },
    ]);
  });

  test('two reasoning blocks in a row are two reasoning items, each with its own summary', () => {
    const w = bare();
    w.reasoning('First.');
    w.reasoningEnd({ origin: 'anthropic', signature: 's1' });
    w.reasoning('Second.');
    w.reasoningEnd({ origin: 'anthropic', signature: 's2' });
    w.complete();
    const final = bodies(w).at(-1)!.response as { output: JsonObject[] };
    expect(final.output).toEqual([
      { id: 'rs_r1_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'First.' }] },
      { id: 'rs_r1_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Second.' }] },
    ]);
  });

  test('a queued background response: response.created then response.queued, both with status queued', () => {
    const w = bare({ echo: { background: true, metadata: { job: '7' }, store: true } });
    w.setUsage({ inputTokens: 9, outputTokens: 0 });
    w.created('queued');
    w.inProgress();
    const queued = responseObject('queued', [], { background: true, metadata: { job: '7' }, store: true });
    expect(bodies(w)).toEqual([
      { type: 'response.created', response: queued },
      { type: 'response.queued', response: queued },
      { type: 'response.in_progress', response: { ...queued, status: 'in_progress' } },
    ]);
  });

  test('usage known at the start (Anthropic message_start) is held back until the response is finished', () => {
    const w = bare();
    w.setUsage({ inputTokens: 9, outputTokens: 0 });
    w.setUsage(undefined);
    w.ensureStarted();
    w.setUsage({ inputTokens: 0, outputTokens: 3 });
    w.complete();
    const out = bodies(w);
    expect((out[0]!.response as JsonObject).usage).toBeNull();
    expect((out[1]!.response as JsonObject).usage).toBeNull();
    expect((out.at(-1)!.response as JsonObject).usage).toMatchObject({ input_tokens: 9, output_tokens: 3, total_tokens: 12 });
  });

  test('no usage reported: the finished response says usage null', () => {
    const w = bare();
    w.setUsage(undefined);
    w.text('x');
    w.complete();
    expect((bodies(w).at(-1)!.response as JsonObject).usage).toBeNull();
  });

  test("an empty model name (an upstream that gave none) keeps the request's model", () => {
    const w = bare();
    w.setModel('claude-haiku-4-5');
    w.setModel('');
    w.complete();
    expect((bodies(w).at(-1)!.response as JsonObject).model).toBe('claude-haiku-4-5');
  });

  test('a content filter cut ends with response.incomplete, reason content_filter', () => {
    const w = bare();
    w.text('I cannot');
    w.setFinish('content_filter');
    w.complete();
    expect(bodies(w).at(-1)).toEqual({
      type: 'response.incomplete',
      response: responseObject('incomplete', [{ id: 'msg_r1_0', type: 'message', status: 'completed', content: [outputText('I cannot')], role: 'assistant' }], {
        incomplete_details: { reason: 'content_filter' },
      }),
    });
  });

  test('a failure before any content: created, in progress, then response.failed and the error event', () => {
    const w = bare();
    w.fail({ code: 'upstream_error', message: 'boom' });
    w.fail({ code: 'again', message: 'a second failure is not written' });
    expect(bodies(w)).toEqual([
      { type: 'response.created', response: responseObject('in_progress', []) },
      { type: 'response.in_progress', response: responseObject('in_progress', []) },
      { type: 'response.failed', response: responseObject('failed', [], { error: { code: 'upstream_error', message: 'boom' } }) },
      { type: 'error', code: 'upstream_error', message: 'boom', param: null },
    ]);
  });

  test('after response.completed nothing more is written: a late failure, a second completion', () => {
    const w = bare();
    w.text('Done.');
    w.complete();
    w.drain();
    w.fail({ code: 'stream_interrupted', message: 'late' });
    w.complete();
    expect(w.drain()).toEqual([]);
  });

  test('a failure closes an open function call as incomplete, with the arguments it had', () => {
    const w = bare();
    w.toolStart(0, 'call_a', 'f');
    w.toolArgs(0, '{"a":');
    w.fail({ code: 'stream_interrupted', message: 'cut' });
    const out = bodies(w);
    expect(out.slice(-4, -2)).toEqual([
      { type: 'response.function_call_arguments.done', item_id: 'fc_r1_0', output_index: 0, arguments: '{"a":' },
      { type: 'response.output_item.done', output_index: 0, item: { id: 'fc_r1_0', type: 'function_call', status: 'incomplete', arguments: '{"a":', call_id: 'call_a', name: 'f' } },
    ]);
  });

  test('arguments for a call that was never started, or after the response ended, are dropped', () => {
    const w = bare();
    w.toolStart(0, 'call_a', 'f');
    w.toolArgs(3, '{"stray":1}');
    w.complete();
    w.drain();
    w.toolArgs(0, '{"late":1}');
    expect(w.drain()).toEqual([]);
    expect((w.final!.output as JsonObject[])[0]).toMatchObject({ arguments: '' });
  });

  test('text after a function call opens a new message item after it', () => {
    const w = bare();
    w.toolStart(0, 'call_a', 'f');
    w.text('And');
    w.text(' more.');
    w.complete();
    const out = bodies(w);
    expect(out.filter((e) => e.type === 'response.output_item.added').map((e) => (e.item as JsonObject).id)).toEqual(['fc_r1_0', 'msg_r1_1']);
    expect(out.filter((e) => e.type === 'response.content_part.added')).toHaveLength(1);
  });

  test('what the sidecar keeps for previous_response_id has the reasoning proof even when the client did not ask to see it', () => {
    const w = bare({ includeProof: false });
    w.reasoning('Hmm.');
    w.reasoningEnd({ origin: 'responses', encrypted: 'gAAAA' });
    w.text('Hi.');
    w.complete();
    expect((w.final!.output as JsonObject[])[0]).toEqual({ id: 'rs_r1_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Hmm.' }] });
    expect(w.outputForStore()).toEqual([
      { id: 'rs_r1_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Hmm.' }], encrypted_content: 'gAAAA' },
      { id: 'msg_r1_1', type: 'message', status: 'completed', content: [outputText('Hi.')], role: 'assistant' },
    ]);
  });

  test('what is kept while the answer is still open says in_progress', () => {
    const w = bare();
    w.toolStart(0, 'call_a', 'f');
    expect(w.outputForStore()).toEqual([{ id: 'fc_r1_0', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_a', name: 'f' }]);
  });
});

/** An upstream Responses stream as the decoder hands its frames over, numbered from 0. */
function upstream(w: ResponsesWriter, events: [string, object][]): void {
  const decoder = new ResponsesStreamDecoder();
  events.forEach(([type, fields], seq) => w.observe(decoder.decode({ event: type, data: JSON.stringify({ type, sequence_number: seq, ...fields }) })!));
}
const upResponse = { id: 'resp_up', object: 'response', created_at: 1700000000, status: 'in_progress', model: 'gpt-4o', output: [] };

describe('following an upstream Responses stream, then continuing it after a cut', () => {
  test("a cut inside a function call: the continuation's arguments join the upstream's call, and the finished response has its reasoning (with the proof) and the call", () => {
    const w = bare({ includeProof: true });
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.in_progress', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [] } }],
      ['response.reasoning_summary_part.added', { item_id: 'rs_up', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } }],
      ['response.reasoning_summary_text.delta', { item_id: 'rs_up', output_index: 0, summary_index: 0, delta: 'Plan.' }],
      ['response.reasoning_summary_text.done', { item_id: 'rs_up', output_index: 0, summary_index: 0, text: 'Plan.' }],
      ['response.output_item.done', { output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Plan.' }], encrypted_content: 'gAAA_up' } }],
      ['response.output_item.added', { output_index: 1, item: { id: 'fc_up', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_up', name: 'lookup' } }],
      ['response.function_call_arguments.delta', { item_id: 'fc_up', output_index: 1, delta: '{"q":' }],
    ]);
    w.toolArgs(0, '"x"}');
    w.complete();
    const out = parse(w.drain());
    const fc = { id: 'fc_up', type: 'function_call', status: 'completed', arguments: '{"q":"x"}', call_id: 'call_up', name: 'lookup' };
    expect(out).toEqual([
      { type: 'response.function_call_arguments.delta', item_id: 'fc_up', output_index: 1, delta: '"x"}', sequence_number: 9 },
      { type: 'response.function_call_arguments.done', item_id: 'fc_up', output_index: 1, arguments: '{"q":"x"}', sequence_number: 10 },
      { type: 'response.output_item.done', output_index: 1, item: fc, sequence_number: 11 },
      {
        type: 'response.completed',
        sequence_number: 12,
        response: {
          ...responseObject('completed', [{ id: 'rs_up', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Plan.' }], encrypted_content: 'gAAA_up' }, fc]),
          id: 'resp_up',
          model: 'gpt-4o',
        },
      },
    ]);
  });

  test("a cut inside a reasoning summary: the continuation's reasoning joins it, with no second summary part", () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [] } }],
      ['response.reasoning_summary_part.added', { item_id: 'rs_up', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } }],
      ['response.reasoning_summary_text.delta', { item_id: 'rs_up', output_index: 0, summary_index: 0, delta: 'Think' }],
    ]);
    w.reasoning('ing.');
    w.reasoningEnd({ origin: 'responses' });
    const out = bodies(w);
    expect(out).toEqual([
      { type: 'response.reasoning_summary_text.delta', item_id: 'rs_up', output_index: 0, summary_index: 0, delta: 'ing.' },
      { type: 'response.reasoning_summary_text.done', item_id: 'rs_up', output_index: 0, summary_index: 0, text: 'Thinking.' },
      { type: 'response.reasoning_summary_part.done', item_id: 'rs_up', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: 'Thinking.' } },
      { type: 'response.output_item.done', output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Thinking.' }] } },
    ]);
  });

  test("a cut after the upstream closed its reasoning item, whose proof the upstream gave: the proof is kept for previous_response_id and the text opens a new message", () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [] } }],
      ['response.output_item.done', { output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [], encrypted_content: 'gAAA_up' } }],
    ]);
    w.text('Hi.');
    w.complete();
    const out = bodies(w);
    expect(out.slice(0, 2)).toEqual([
      { type: 'response.output_item.added', output_index: 1, item: { id: 'msg_up_1', type: 'message', status: 'in_progress', content: [], role: 'assistant' } },
      { type: 'response.content_part.added', item_id: 'msg_up_1', output_index: 1, content_index: 0, part: outputText('') },
    ]);
    expect(w.outputForStore()[0]).toEqual({ id: 'rs_up', type: 'reasoning', summary: [], encrypted_content: 'gAAA_up' });
  });

  test('a cut after the upstream closed its message: the continuation opens the next message item, numbered after it', () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'msg_up', type: 'message', status: 'in_progress', content: [], role: 'assistant' } }],
      ['response.content_part.added', { item_id: 'msg_up', output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text: '' } }],
      ['response.output_text.delta', { item_id: 'msg_up', output_index: 0, content_index: 0, delta: 'One.' }],
      ['response.output_text.done', { item_id: 'msg_up', output_index: 0, content_index: 0, text: 'One.' }],
      ['response.content_part.done', { item_id: 'msg_up', output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text: 'One.' } }],
      ['response.output_item.done', { output_index: 0, item: { id: 'msg_up', type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], text: 'One.' }], role: 'assistant' } }],
    ]);
    w.text('Two.');
    w.complete();
    const out = parse(w.drain());
    expect(out[0]).toMatchObject({ type: 'response.output_item.added', output_index: 1, item: { id: 'msg_up_1' }, sequence_number: 7 });
    expect((out.at(-1)!.response as JsonObject).output).toEqual([
      { id: 'msg_up', type: 'message', status: 'completed', content: [outputText('One.')], role: 'assistant' },
      { id: 'msg_up_1', type: 'message', status: 'completed', content: [outputText('Two.')], role: 'assistant' },
    ]);
  });

  test("a cut between the message's content_part.done and its output_item.done: the message still gets its output_item.done, with its whole text", () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'msg_up', type: 'message', status: 'in_progress', content: [], role: 'assistant' } }],
      ['response.content_part.added', { item_id: 'msg_up', output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text: '' } }],
      ['response.output_text.delta', { item_id: 'msg_up', output_index: 0, content_index: 0, delta: 'All of it.' }],
      ['response.content_part.done', { item_id: 'msg_up', output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text: 'All of it.' } }],
    ]);
    w.complete();
    const out = bodies(w);
    expect(out.find((e) => e.type === 'response.output_item.done')).toEqual({
      type: 'response.output_item.done',
      output_index: 0,
      item: { id: 'msg_up', type: 'message', status: 'completed', content: [outputText('All of it.')], role: 'assistant' },
    });
    // the client already has the part's done events from the upstream: they are never sent twice
    expect(out.map((e) => e.type)).not.toContain('response.output_text.done');
    expect(out.map((e) => e.type)).not.toContain('response.content_part.done');
  });

  test("a cut after the upstream closed a reasoning item's summary part: finishing the response does not send that part's done events again", () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [] } }],
      ['response.reasoning_summary_part.added', { item_id: 'rs_up', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } }],
      ['response.reasoning_summary_text.delta', { item_id: 'rs_up', output_index: 0, summary_index: 0, delta: 'Thinking.' }],
      ['response.reasoning_summary_part.done', { item_id: 'rs_up', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: 'Thinking.' } }],
    ]);
    w.complete();
    const types = bodies(w).map((e) => e.type);
    expect(types).not.toContain('response.reasoning_summary_text.done');
    expect(types).not.toContain('response.reasoning_summary_part.done');
    expect(types).toContain('response.output_item.done');
  });

  test("a cut inside an upstream message before its content part: the writer announces the part before the text", () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'msg_up', type: 'message', status: 'in_progress', content: [], role: 'assistant' } }],
    ]);
    w.text('Hi.');
    w.complete();
    expect(bodies(w).map((e) => e.type)).toEqual([
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
  });

  test('a message the upstream opened and never wrote to is closed with an empty text part', () => {
    const w = bare();
    upstream(w, [['response.output_item.added', { output_index: 0, item: { id: 'msg_up', type: 'message', status: 'in_progress', content: [], role: 'assistant' } }]]);
    w.complete();
    expect(bodies(w).slice(0, 4)).toEqual([
      { type: 'response.content_part.added', item_id: 'msg_up', output_index: 0, content_index: 0, part: outputText('') },
      { type: 'response.output_text.done', item_id: 'msg_up', output_index: 0, content_index: 0, text: '', logprobs: [] },
      { type: 'response.content_part.done', item_id: 'msg_up', output_index: 0, content_index: 0, part: outputText('') },
      { type: 'response.output_item.done', output_index: 0, item: { id: 'msg_up', type: 'message', status: 'completed', content: [outputText('')], role: 'assistant' } },
    ]);
  });

  test("a built-in tool call of the upstream (web search) is left out of the response the writer finishes, and text after it opens a message after it", () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'ws_up', type: 'web_search_call', status: 'in_progress' } }],
    ]);
    w.text('Found.');
    w.complete();
    const out = bodies(w);
    expect(out.filter((e) => e.type === 'response.output_item.done').map((e) => (e.item as JsonObject).id)).toEqual(['msg_up_1']);
    expect((out.at(-1)!.response as JsonObject).output).toEqual([{ id: 'msg_up_1', type: 'message', status: 'completed', content: [outputText('Found.')], role: 'assistant' }]);
    expect(w.outputForStore().map((i) => i.id)).toEqual(['msg_up_1']);
  });

  test('a frame without its own number leaves the numbering where the upstream left it', () => {
    const w = bare();
    w.observe({ events: [{ type: 'start', id: 'resp_up', model: 'gpt-4o' }], seq: 4 });
    w.observe({ events: [{ type: 'start', id: '', model: '' }] });
    w.text('x');
    const first = parse(w.drain())[0]!;
    expect(first).toMatchObject({ type: 'response.output_item.added', sequence_number: 5, item: { id: 'msg_up_0' } });
    w.complete();
    expect(w.final).toMatchObject({ id: 'resp_up', model: 'gpt-4o' });
    expect(w.responseId).toBe('resp_up');
  });

  test("a summary part's stop does not close its reasoning item", () => {
    const w = bare();
    w.observe({ events: [], seq: 0, block: { op: 'start', index: 0, kind: 'reasoning', id: 'rs_up' } });
    w.observe({ events: [{ type: 'reasoning', choice: 0, text: 'A.' }], seq: 1 });
    w.observe({ events: [], seq: 2, block: { op: 'stop', index: 0, kind: 'summary_part', id: 'rs_up' } });
    w.reasoning(' B.');
    w.complete();
    expect(bodies(w)[0]).toEqual({ type: 'response.reasoning_summary_text.delta', item_id: 'rs_up', output_index: 0, summary_index: 0, delta: ' B.' });
    expect((w.final!.output as JsonObject[])[0]).toEqual({ id: 'rs_up', type: 'reasoning', summary: [{ type: 'summary_text', text: 'A. B.' }] });
  });
});

describe('the writer, edge by edge', () => {
  test('an empty answer still streams created, in progress and completed', () => {
    const w = bare();
    w.complete();
    expect(bodies(w).map((e) => e.type)).toEqual(['response.created', 'response.in_progress', 'response.completed']);
  });

  test('reasoning after text (interleaved thinking) closes the message as completed before the reasoning item opens', () => {
    const w = bare();
    w.text('First.');
    w.reasoning('Then think.');
    const done = bodies(w).find((e) => e.type === 'response.output_item.done')!;
    expect(done).toEqual({ type: 'response.output_item.done', output_index: 0, item: { id: 'msg_r1_0', type: 'message', status: 'completed', content: [outputText('First.')], role: 'assistant' } });
  });

  test("a start event's usage counts (providers that give input tokens up front)", () => {
    const w = bare();
    w.observe({ events: [{ type: 'start', id: 'resp_up', model: 'gpt-4o', usage: { inputTokens: 7, outputTokens: 0 } }], seq: 0 });
    w.setUsage({ inputTokens: 0, outputTokens: 2 });
    w.complete();
    expect(w.final!.usage).toMatchObject({ input_tokens: 7, output_tokens: 2 });
  });

  test('an upstream block start without an item id is not followed: the continuation opens its own item', () => {
    const w = bare();
    w.observe({ events: [], seq: 0, block: { op: 'start', index: 0, kind: 'message' } });
    w.text('x');
    expect(bodies(w)[0]).toMatchObject({ type: 'response.output_item.added', output_index: 0, item: { id: 'msg_r1_0' } });
  });

  test('a cut right after the upstream opened a reasoning item (and its reasoning_text part): it closes with no summary events', () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [] } }],
      ['response.content_part.added', { item_id: 'rs_up', output_index: 0, content_index: 0, part: { type: 'reasoning_text', text: '' } }],
    ]);
    w.complete();
    expect(bodies(w)).toEqual([
      { type: 'response.output_item.done', output_index: 0, item: { id: 'rs_up', type: 'reasoning', summary: [] } },
      { type: 'response.completed', response: { ...responseObject('completed', [{ id: 'rs_up', type: 'reasoning', summary: [] }]), id: 'resp_up', model: 'gpt-4o' } },
    ]);
  });

  test('a function call the upstream finished is not closed a second time at the end', () => {
    const w = bare();
    const fc = { id: 'fc_up', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_up', name: 'lookup' };
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: fc }],
      ['response.function_call_arguments.delta', { item_id: 'fc_up', output_index: 0, delta: '{}' }],
      ['response.output_item.done', { output_index: 0, item: { ...fc, status: 'completed', arguments: '{}' } }],
    ]);
    w.complete();
    expect(bodies(w)).toEqual([{ type: 'response.completed', response: { ...responseObject('completed', [{ ...fc, status: 'completed', arguments: '{}' }]), id: 'resp_up', model: 'gpt-4o' } }]);
  });

  test("text continuing after an upstream's open function call opens a message; the call still closes at the end, after it", () => {
    const w = bare();
    upstream(w, [
      ['response.created', { response: upResponse }],
      ['response.output_item.added', { output_index: 0, item: { id: 'fc_up', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_up', name: 'lookup' } }],
    ]);
    w.text('Meanwhile.');
    w.complete();
    const out = bodies(w);
    expect(out.filter((e) => e.type === 'response.output_item.done').map((e) => (e.item as JsonObject).id)).toEqual(['msg_up_1', 'fc_up']);
  });

  test('events out of place (a malformed upstream order) change nothing: text or reasoning outside their item, a call start or arguments with no call item, the end of an item never opened', () => {
    const w = bare();
    w.observe({ events: [{ type: 'text', choice: 0, text: 'stray' }, { type: 'reasoning', choice: 0, text: 'stray' }, { type: 'reasoning_end', choice: 0, origin: 'responses', encrypted: 'e' }], seq: 0 });
    w.observe({ events: [], seq: 1, block: { op: 'start', index: 0, kind: 'message', id: 'msg_up' } });
    w.observe({ events: [{ type: 'tool_start', choice: 0, index: 0, id: 'call_x', name: 'f' }, { type: 'tool_args', choice: 0, index: 4, args: '{}' }], seq: 2 });
    w.observe({ events: [{ type: 'reasoning', choice: 0, text: 'stray' }, { type: 'reasoning_end', choice: 0, origin: 'responses', encrypted: 'e' }], seq: 3 });
    w.observe({ events: [], seq: 4, block: { op: 'stop', index: 5, kind: 'message', id: 'msg_other' } });
    w.toolArgs(0, '{"late":1}');
    w.text('Kept.');
    w.complete();
    const out = bodies(w);
    expect(out.filter((e) => e.type === 'response.function_call_arguments.delta')).toEqual([]);
    expect((out.at(-1)!.response as JsonObject).output).toEqual([{ id: 'msg_up', type: 'message', status: 'completed', content: [outputText('Kept.')], role: 'assistant' }]);
  });

  test("a summary part's start is not an output item: the reasoning item stays where it is", () => {
    const w = bare();
    w.observe({ events: [], seq: 0, block: { op: 'start', index: 0, kind: 'reasoning', id: 'rs_up' } });
    w.observe({ events: [], seq: 1, block: { op: 'start', index: 0, kind: 'summary_part', id: 'rs_up' } });
    w.reasoning('A.');
    w.complete();
    expect((w.final!.output as JsonObject[])[0]).toEqual({ id: 'rs_up', type: 'reasoning', summary: [{ type: 'summary_text', text: 'A.' }] });
  });
});
