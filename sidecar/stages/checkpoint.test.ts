import { expect, test } from 'vitest';
import type { StreamEvent } from '../chat/types.ts';
import { Checkpoint } from './checkpoint.ts';

const text = (t: string, choice = 0): StreamEvent => ({ type: 'text', choice, text: t });
const tool = (choice = 0): StreamEvent => ({ type: 'tool_start', choice, index: 0, id: 'call_1', name: 'lookup' });
const finish = (choice = 0): StreamEvent => ({ type: 'finish', choice, reason: 'stop' });

function recorded(...events: StreamEvent[]): Checkpoint {
  const cp = new Checkpoint();
  for (const ev of events) cp.record(ev);
  return cp;
}

test('delivered is the text of choice 0 in order, and grows as pieces arrive', () => {
  const cp = recorded(text('Hel'), text('lo'), text('other choice', 1));
  expect(cp.delivered()).toBe('Hello');
  expect(cp.delivered()).toBe('Hello');
  cp.record(text(' world'));
  expect(cp.delivered()).toBe('Hello world');
});

test('nothing delivered yet: empty text, a resumable checkpoint', () => {
  const cp = new Checkpoint();
  expect(cp.delivered()).toBe('');
  expect(cp.summary()).toEqual({ deliveredChars: 0, toolCalls: 0, choices: 1 });
  expect(cp.resumability()).toEqual({ ok: true });
});

test('summary: characters of every choice, tool calls started, how many choices', () => {
  const cp = recorded(
    { type: 'start', id: 'x', model: 'm' },
    text('abc'),
    text('de', 2),
    tool(),
    { type: 'tool_args', choice: 0, index: 0, args: '{"q":1}' },
    { type: 'usage', usage: { inputTokens: 1, outputTokens: 2 } },
  );
  expect(cp.summary()).toEqual({ deliveredChars: 5, toolCalls: 1, choices: 3 });
});

test('plain text of one choice can be continued', () => {
  expect(recorded({ type: 'start', id: 'x', model: 'm' }, text('Hello'), { type: 'usage', usage: { inputTokens: 1, outputTokens: 1 } }).resumability()).toEqual({ ok: true });
});

test.each<[string, StreamEvent[], RegExp]>([
  ['a tool call started', [text('Let me look'), tool()], /tool call was in progress/],
  ['a second choice streamed text', [text('a'), text('b', 1)], /several choices/],
  ['a second choice started a tool call', [text('a'), tool(1)], /tool call/],
  ['choice 0 had finished', [text('done'), finish()], /had finished/],
])('not resumable when %s, with the reason', (_name, events, reason) => {
  const r = recorded(...events).resumability();
  expect(r.ok).toBe(false);
  expect(!r.ok && r.reason).toMatch(reason);
});

test('a tool call is the reason given first when several apply', () => {
  const r = recorded(text('a', 1), tool(), finish()).resumability();
  expect(!r.ok && r.reason).toMatch(/tool call/);
});
