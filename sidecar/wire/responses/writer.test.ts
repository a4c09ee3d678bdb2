import { describe, expect, test } from 'vitest';
import type { JsonObject } from '../../chat/types.ts';
import { echoOf } from './shapes.ts';
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
