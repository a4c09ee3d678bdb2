import { describe, expect, test } from 'vitest';
import type { EventData, LifecycleEvent, LifecycleEventType } from '../../../api/v1alpha1/events.ts';
import type { JsonObject } from '../../chat/types.ts';
import { ResponsesReplay } from './replay.ts';
import { decodeProof, echoOf } from './shapes.ts';

let seq = 0;
function ev<T extends LifecycleEventType>(type: T, data: EventData[T], attempt = 1): LifecycleEvent {
  return { requestId: 'r1', seq: ++seq, ts: 1700000000123, attempt, type, data } as LifecycleEvent;
}

function lifecycle(): LifecycleEvent[] {
  seq = 0;
  return [
    ev('request.accepted', { operation: 'chat', format: 'responses', model: 'route', stream: true }, 0),
    ev('attempt.started', { backend: 'a', model: 'claude-up', mode: 'fresh' }),
    ev('content.delta', { choice: 0, reasoning: { text: 'Weather needs a tool.' } }),
    ev('content.delta', { choice: 0, reasoning: { end: { origin: 'anthropic', signature: 'sig' } } }),
    ev('content.delta', { choice: 0, text: 'Let me ' }),
    ev('attempt.failed', { backend: 'a', phase: 'stream', code: 'upstream_reset', status: 502, retriable: true, message: 'reset' }),
    ev('checkpoint', { deliveredChars: 7, toolCalls: 0, choices: 1, attempt: 1, backend: 'a', strategy: 'prefill' }),
    ev('attempt.started', { backend: 'b', model: 'claude-up', mode: 'prefill' }, 2),
    ev('stream.resumed', { backend: 'b', model: 'claude-up', mode: 'prefill', fromChars: 7 }, 2),
    ev('content.delta', { choice: 0, text: 'check.' }, 2),
    ev('content.delta', { choice: 0, toolCall: { index: 0, id: 'toolu_1', name: 'get_weather' } }, 2),
    ev('content.delta', { choice: 0, toolCall: { index: 0, arguments: '{"city":"Paris"}' } }, 2),
    ev('request.completed', { backend: 'b', model: 'claude-up', finishReasons: ['tool_calls'], usage: { inputTokens: 20, outputTokens: 9 }, attempts: 2, durationMs: 5 }, 2),
  ];
}

const options = { id: 'resp_r1', createdAt: 1700000000123, model: 'route', echo: echoOf({ background: true }), includeProof: false };

function run(events: LifecycleEvent[]) {
  const replay = new ResponsesReplay(options);
  return { out: events.flatMap((e) => replay.feed(e)), replay };
}

const parse = (sse: string) => JSON.parse(sse.slice(sse.indexOf('data: ') + 6)) as JsonObject;

describe('a background response stream from the journal', () => {
  test('the same events always give the same stream, byte for byte: any replica can replay it', () => {
    expect(run(lifecycle()).out).toEqual(run(lifecycle()).out);
  });

  test('queued, then in progress once; retries and resumes are invisible; the resumed text joins the same message; numbering has no gap', () => {
    const { out, replay } = run(lifecycle());
    const events = out.map((o) => parse(o.sse));
    expect(out.map((o) => o.seq)).toEqual(out.map((_, i) => i));
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.queued',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[0]).toMatchObject({ response: { id: 'resp_r1', status: 'queued', background: true, created_at: 1700000000, model: 'route' } });
    const final = events.at(-1)!.response as JsonObject;
    expect(final).toMatchObject({ status: 'completed', model: 'claude-up', usage: { input_tokens: 20, output_tokens: 9 } });
    expect(final.output).toEqual([
      { id: 'rs_r1_0', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Weather needs a tool.' }] },
      { id: 'msg_r1_1', type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Let me check.' }], role: 'assistant' },
      { id: 'fc_r1_2', type: 'function_call', status: 'completed', arguments: '{"city":"Paris"}', call_id: 'toolu_1', name: 'get_weather' },
    ]);
    expect(replay.current()).toEqual(final);
  });

  test('a reader that stopped at any point gets exactly the rest from a replay filtered after its last number', () => {
    const all = run(lifecycle()).out;
    for (const cut of [0, 4, 11, all.length - 2]) {
      const again = run(lifecycle()).out.filter((o) => o.seq > all[cut]!.seq);
      expect([...all.slice(0, cut + 1), ...again]).toEqual(all);
    }
  });

  test('before its first attempt it reads as queued; in flight as in progress with what was said so far', () => {
    const events = lifecycle();
    const replay = new ResponsesReplay(options);
    replay.feed(events[0]!);
    expect(replay.current()).toMatchObject({ status: 'queued', output: [] });
    for (const e of events.slice(1, 5)) replay.feed(e);
    expect(replay.current()).toMatchObject({ status: 'in_progress', output: [{ type: 'reasoning' }, { type: 'message', status: 'in_progress', content: [{ text: 'Let me ' }] }] });
  });

  test('failed → response.failed with the error and an error event; cancelled → response.failed with status cancelled', () => {
    seq = 0;
    const failed = run([
      ev('request.accepted', { operation: 'chat', format: 'responses', model: 'route', stream: true }, 0),
      ev('request.failed', { error: { code: 'upstream_rate_limited', status: 429, message: 'Rate limit reached' }, attempts: 3 }, 3),
    ]).out.map((o) => parse(o.sse));
    expect(failed.slice(-2)).toMatchObject([
      { type: 'response.failed', response: { status: 'failed', error: { code: 'upstream_rate_limited', message: 'Rate limit reached' } } },
      { type: 'error', code: 'upstream_rate_limited', message: 'Rate limit reached' },
    ]);
    seq = 0;
    const cancelled = run([
      ev('request.accepted', { operation: 'chat', format: 'responses', model: 'route', stream: true }, 0),
      ev('request.cancelled', { reason: 'the client cancelled the request', attempts: 1 }, 1),
    ]).out.map((o) => parse(o.sse));
    expect(cancelled.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'cancelled' } });
  });
});

describe('a background response stream: what each event contributes', () => {
  const accepted = () => ev('request.accepted', { operation: 'chat', format: 'responses', model: 'route', stream: true }, 0);
  const completed = (model?: string) => ev('request.completed', { backend: 'b', ...(model ? { model } : {}), finishReasons: ['stop'], usage: { inputTokens: 1, outputTokens: 1 }, attempts: 1, durationMs: 5 });
  const finalOf = (events: LifecycleEvent[], includeProof = false) => {
    const replay = new ResponsesReplay({ ...options, includeProof });
    const out = events.flatMap((e) => replay.feed(e)).map((o) => parse(o.sse));
    return out.at(-1)!.response as JsonObject;
  };

  test('a reasoning proof reaches encrypted_content with exactly the fields the provider gave, when the client asked for it', () => {
    seq = 0;
    const events = [
      accepted(),
      ev('attempt.started', { backend: 'a', model: 'claude-up', mode: 'fresh' }),
      ev('content.delta', { choice: 0, reasoning: { text: 'Thinking.' } }),
      ev('content.delta', { choice: 0, reasoning: { end: { origin: 'anthropic', signature: 'sig' } } }),
      ev('content.delta', { choice: 0, reasoning: { end: { origin: 'anthropic', redacted: 'opaque' } } }),
      ev('content.delta', { choice: 0, reasoning: { end: { origin: 'responses', encrypted: 'gAAAA' } } }),
      completed(),
    ];
    const output = finalOf(events, true).output as JsonObject[];
    expect(output.map((o) => decodeProof(o.encrypted_content as string))).toStrictEqual([
      { origin: 'anthropic', signature: 'sig' },
      { origin: 'anthropic', redacted: 'opaque' },
      { origin: 'responses', encrypted: 'gAAAA' },
    ]);
    expect((finalOf(events, false).output as JsonObject[]).some((o) => 'encrypted_content' in o)).toBe(false);
  });

  test('only the first choice is the response: deltas of another choice are not in it', () => {
    seq = 0;
    const output = finalOf([accepted(), ev('content.delta', { choice: 1, text: 'other' }), ev('content.delta', { choice: 0, text: 'mine' }), ev('content.delta', { choice: 1, toolCall: { index: 0, id: 'c', name: 'n' } }), completed()]).output as JsonObject[];
    expect(output).toMatchObject([{ type: 'message', content: [{ text: 'mine' }] }]);
    expect(output).toHaveLength(1);
  });

  test('a tool call starts with whichever of id and name comes first; the other is empty, never undefined', () => {
    seq = 0;
    const output = finalOf([
      accepted(),
      ev('content.delta', { choice: 0, toolCall: { index: 0, name: 'get_time' } }),
      ev('content.delta', { choice: 0, toolCall: { index: 0, arguments: '{}' } }),
      ev('content.delta', { choice: 0, toolCall: { index: 1, id: 'call_2' } }),
      completed(),
    ]).output as JsonObject[];
    expect(output).toMatchObject([
      { type: 'function_call', call_id: '', name: 'get_time', arguments: '{}' },
      { type: 'function_call', call_id: 'call_2', name: '', arguments: '' },
    ]);
  });

  test("a completion without a backend model keeps the client's model; one with it names the backend's", () => {
    seq = 0;
    expect(finalOf([accepted(), completed()]).model).toBe('route');
    seq = 0;
    expect(finalOf([accepted(), completed('gpt-4o')]).model).toBe('gpt-4o');
  });

  test('a completion cut by the token limit is an incomplete response naming max_output_tokens', () => {
    seq = 0;
    const response = finalOf([accepted(), ev('content.delta', { choice: 0, text: 'Once upon' }), ev('request.completed', { backend: 'b', finishReasons: ['length'], usage: { inputTokens: 1, outputTokens: 2 }, attempts: 1, durationMs: 5 })]);
    expect(response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });

  test('a cancelled request: the response carries a cancelled error with the reason', () => {
    seq = 0;
    const response = finalOf([accepted(), ev('request.cancelled', { reason: 'the client cancelled the request', attempts: 1 }, 1)]);
    expect(response).toMatchObject({ status: 'cancelled', error: { code: 'cancelled', message: 'the client cancelled the request' } });
  });
});
