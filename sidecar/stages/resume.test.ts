import { expect, test } from 'vitest';
import { ContinuationGate } from './resume.ts';
import type { Frame } from '../chat/types.ts';

const text = (t: string): Frame => ({ events: [{ type: 'text', choice: 0, text: t }] });
const out = (f: Frame | null) => (f ? f.events.map((e) => (e.type === 'text' ? e.text : `<${e.type}>`)).join('|') : null);

test('verify: suppresses the regenerated prefix, passes the rest, splitting a chunk that straddles the boundary', () => {
  const g = new ContinuationGate('verify', 'Hello wor');
  expect(out(g.pass(text('Hel')))).toBeNull();
  expect(out(g.pass(text('lo w')))).toBeNull();
  expect(out(g.pass(text('orld')))).toBe('ld');
  expect(out(g.pass(text('!')))).toBe('!');
  expect(() => g.end()).not.toThrow();
});

test('verify: a different regeneration is stream_diverged, never spliced', () => {
  const g = new ContinuationGate('verify', 'Hello world');
  expect(out(g.pass(text('Hello')))).toBeNull();
  expect(() => g.pass(text(' there'))).toThrow(/diverged .*at character 6/);
  const short = new ContinuationGate('verify', 'Hello world');
  short.pass(text('Hello'));
  expect(() => short.end()).toThrow(/ended after 5 of 11/);
  const tool = new ContinuationGate('verify', 'Hi');
  expect(() => tool.pass({ events: [{ type: 'tool_start', choice: 0, index: 0, id: 'x', name: 'f' }] })).toThrow(/diverged/);
});

test('prefill: drops the regenerated trailing whitespace the prefix went without, then passes everything', () => {
  const g = new ContinuationGate('prefill', 'Hello \n', 'Hello');
  expect(out(g.pass(text(' \nworld')))).toBe('world');
  expect(out(g.pass(text(' again')))).toBe(' again');
});

test('prefill: a model that chose other whitespace: its text after the common part is new content', () => {
  const g = new ContinuationGate('prefill', 'Hello ', 'Hello');
  expect(out(g.pass(text('\tthere')))).toBe('\tthere');
  const none = new ContinuationGate('prefill', 'Hello', 'Hello');
  expect(out(none.pass(text(' there')))).toBe(' there');
});

test('start and usage events pass through the gate (the encoder needs the model name), structural-only frames vanish', () => {
  const g = new ContinuationGate('verify', 'abc');
  expect(out(g.pass({ events: [{ type: 'start', id: 'x', model: 'm2' }] }))).toBe('<start>');
  expect(out(g.pass({ events: [] }))).toBeNull();
});

test('verify: a reasoning model thinks again before its answer; that reasoning is dropped (the client has its own), never a divergence', () => {
  const gate = new ContinuationGate('verify', 'One, two,');
  expect(gate.pass({ events: [{ type: 'reasoning', choice: 0, text: 'Count again.' }, { type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQB' }] })).toBeNull();
  expect(gate.pass({ events: [{ type: 'text', choice: 0, text: 'One, two, three' }] })?.events).toEqual([{ type: 'text', choice: 0, text: ' three' }]);
});

test('prefill: the same, a continuation reasoning again is not shown a second reasoning block', () => {
  const p = new ContinuationGate('prefill', 'Hello ', 'Hello');
  expect(out(p.pass({ events: [{ type: 'reasoning', choice: 0, text: 'Again.' }, { type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 's' }] }))).toBeNull();
  expect(out(p.pass(text(' world')))).toBe('world');
});
