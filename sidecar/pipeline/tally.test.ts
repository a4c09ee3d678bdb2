import { expect, test } from 'vitest';
import type { ChatResult, Frame } from '../chat/types.ts';
import { answerFrom, compile, dataOf, recordingLifecycle, routeOf, typesOf } from '../../test/support/pipeline.ts';
import type { JsonAnswer } from './exchange.ts';
import { Tally } from './tally.ts';

const config = compile({
  backends: [{ name: 'claude', type: 'anthropic', baseURL: 'http://127.0.0.1:9' }],
  routes: [{ model: 'm', backends: [{ backend: 'claude', model: 'claude-up' }] }],
});
const target = routeOf(config, 'm').targets[0]!;

function tally() {
  const { lifecycle, events } = recordingLifecycle();
  return { t: new Tally(lifecycle), events };
}

test('streamed frames: one content.delta per text, tool start and tool arguments, with the choice', () => {
  const { t, events } = tally();
  t.frame({
    events: [
      { type: 'start', id: 'msg_1', model: 'claude-up' },
      { type: 'text', choice: 0, text: 'Let me check.' },
    ],
  });
  t.frame({ events: [{ type: 'tool_start', choice: 0, index: 0, id: 'toolu_1', name: 'weather' }] });
  t.frame({ events: [{ type: 'tool_args', choice: 0, index: 0, args: '{"city":' }] });
  t.frame({ events: [{ type: 'tool_args', choice: 0, index: 0, args: '"Oslo"}' }, { type: 'text', choice: 1, text: 'other' }] });
  expect(typesOf(events)).toEqual(Array(5).fill('content.delta'));
  expect(dataOf(events, 'content.delta')).toEqual([
    { choice: 0, text: 'Let me check.' },
    { choice: 0, toolCall: { index: 0, id: 'toolu_1', name: 'weather' } },
    { choice: 0, toolCall: { index: 0, arguments: '{"city":' } },
    { choice: 0, toolCall: { index: 0, arguments: '"Oslo"}' } },
    { choice: 1, text: 'other' },
  ]);
});

test('streamed reasoning: its text as deltas, and its end with the proof the provider gave', () => {
  const { t, events } = tally();
  t.frame({ events: [{ type: 'reasoning', choice: 0, text: 'Think' }] });
  t.frame({ events: [{ type: 'reasoning_end', choice: 0, origin: 'responses', id: 'rs_1', encrypted: 'gAAA' }, { type: 'text', choice: 0, text: 'Done.' }] });
  expect(dataOf(events, 'content.delta')).toEqual([
    { choice: 0, reasoning: { text: 'Think' } },
    { choice: 0, reasoning: { end: { origin: 'responses', id: 'rs_1', encrypted: 'gAAA' } } },
    { choice: 0, text: 'Done.' },
  ]);
});

test('structural frames (start, usage, finish, block bookkeeping) emit no delta', () => {
  const { t, events } = tally();
  const structural: Frame = {
    events: [
      { type: 'start', id: 'x', model: 'm' },
      { type: 'usage', usage: { inputTokens: 1, outputTokens: 1 } },
      { type: 'finish', choice: 0, reason: 'stop' },
    ],
    block: { op: 'stop', index: 0 },
  };
  t.frame(structural);
  t.frame({ events: [] });
  expect(events).toEqual([]);
});

test('usage is merged as providers report it in pieces: input at the start, output at the end, later values win', () => {
  const { t } = tally();
  t.frame({ events: [{ type: 'start', id: 'x', model: 'm', usage: { inputTokens: 120, outputTokens: 0, cacheReadTokens: 96 } }] });
  expect(t.usage).toEqual({ inputTokens: 120, outputTokens: 0, cacheReadTokens: 96 });
  t.frame({ events: [{ type: 'usage', usage: { inputTokens: 0, outputTokens: 7 } }] });
  t.frame({ events: [{ type: 'usage', usage: { inputTokens: 0, outputTokens: 9 } }] });
  expect(t.usage).toEqual({ inputTokens: 120, outputTokens: 9, cacheReadTokens: 96 });
  const none = tally().t;
  none.frame({ events: [{ type: 'start', id: 'x', model: 'm' }] });
  expect(none.usage).toBeUndefined();
});

test('finish reasons are kept per choice', () => {
  const { t } = tally();
  t.frame({ events: [{ type: 'finish', choice: 1, reason: 'length' }] });
  t.frame({ events: [{ type: 'finish', choice: 0, reason: 'tool_calls' }] });
  expect(t.finish).toEqual(['tool_calls', 'length']);
});

test('sent(): true for the first chunk only (time to first byte is stamped once); every chunk is counted', () => {
  const { t } = tally();
  expect(t.firstByteAt).toBeUndefined();
  expect(t.sent()).toBe(true);
  const first = t.firstByteAt;
  expect(first).toBeTypeOf('number');
  expect(t.sent()).toBe(false);
  expect(t.sent()).toBe(false);
  expect(t.firstByteAt).toBe(first);
  expect(t.chunks).toBe(3);
});

test('a complete answer: per choice its reasoning, text and tool calls as deltas (what a stream of it would have journaled), finish reasons, usage, first byte', () => {
  const { t, events } = tally();
  const result: ChatResult = {
    id: 'msg_1',
    model: 'claude-up',
    choices: [
      { index: 0, text: 'Hello!', toolCalls: [], finishReason: 'stop' },
      { index: 1, text: '', toolCalls: [{ id: 't', name: 'f', arguments: '{}' }], finishReason: 'tool_calls', reasoning: [{ text: 'Hmm.', origin: 'anthropic', signature: 'sig' }] },
    ],
    usage: { inputTokens: 3, outputTokens: 2 },
  };
  const answer: JsonAnswer = { ...answerFrom(target), result };
  t.complete(answer);
  expect(dataOf(events, 'content.delta')).toEqual([
    { choice: 0, text: 'Hello!' },
    { choice: 1, reasoning: { text: 'Hmm.' } },
    { choice: 1, reasoning: { end: { origin: 'anthropic', signature: 'sig' } } },
    { choice: 1, toolCall: { index: 0, id: 't', name: 'f', arguments: '{}' } },
  ]);
  expect(t.finish).toEqual(['stop', 'tool_calls']);
  expect(t.usage).toEqual({ inputTokens: 3, outputTokens: 2 });
  expect(t.firstByteAt).toBeTypeOf('number');
});

test('a complete answer without a chat result (embeddings): no delta, but the first byte is stamped', () => {
  const { t, events } = tally();
  t.complete({ ...answerFrom(target), embeddings: { object: 'list', data: [] } });
  expect(events).toEqual([]);
  expect(t.firstByteAt).toBeTypeOf('number');
  expect(t.usage).toBeUndefined();
});

test('see(): which backend, model and provider answered; a later answer (after a resume) replaces them', () => {
  const { t } = tally();
  t.see(answerFrom(target));
  expect([t.backend, t.model, t.provider]).toEqual(['claude', 'claude-up', 'anthropic']);
  t.see(answerFrom({ ...target, model: 'claude-other' }));
  expect(t.model).toBe('claude-other');
});
