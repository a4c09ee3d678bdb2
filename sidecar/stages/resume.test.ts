import { expect, test } from 'vitest';
import { ContinuationGate } from './resume.ts';
import type { Frame } from '../chat/types.ts';
import type { AirouteError } from '../errors.ts';
import { handle } from '../pipeline/pipeline.ts';
import { ScriptedBody, answer, chatBody, dataOf, drain, harness, openaiWire, textOf, type Harness } from '../../test/support/pipeline.ts';

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

// ---------------------------------------------------------------- the stage: resumes through the whole pipeline

const resumeDoc = (resume: 'none' | 'prefill' | 'verify', attempts: number, maxCheckpointChars?: number) => ({
  ...(maxCheckpointChars === undefined ? {} : { limits: { maxCheckpointChars } }),
  backends: [
    { name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures: 1000 } },
    { name: 'b', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures: 1000 } },
  ],
  routes: [
    {
      model: 'r',
      backends: [
        { backend: 'a', model: 'model-a' },
        { backend: 'b', model: 'model-b' },
      ],
      retry: { attempts, backoff: { baseMs: 0, maxMs: 0 } },
      resume,
    },
  ],
});

/** A stream that delivers `texts` and then ends without a finish reason: a clean close mid-answer. */
const cut = (...texts: string[]) => ({ status: 200, body: new ScriptedBody(openaiWire.role(), ...texts.map((t) => openaiWire.text(t))).end() });
const whole = (...texts: string[]) => ({ status: 200, body: new ScriptedBody(openaiWire.role(), ...texts.map((t) => openaiWire.text(t)), openaiWire.finish(), openaiWire.done).end() });
const refused = () => answer(503, openaiWire.error('overloaded', 'server_error'));

async function runStream(h: Harness) {
  const a = await handle(h.open(chatBody('r', { stream: true })));
  if (a.kind !== 'stream') throw new Error('expected a stream');
  const { frames, error } = await drain(a.frames);
  return { answer: a, text: textOf(frames), error: error as AirouteError | undefined };
}

test('resumes are counted: exactly retry.attempts continuations, then an explicit interruption naming the count', async () => {
  const h = harness(resumeDoc('prefill', 2));
  h.transport.script('a', cut('One'), cut(' two'), cut(' three'), whole(' four'));
  const { text, error } = await runStream(h);
  expect(h.transport.calls).toEqual(['a', 'a', 'a']); // the first stream and two continuations, never a third
  expect(text).toBe('One two three');
  expect(error).toMatchObject({ code: 'stream_interrupted', status: 502 });
  expect(error!.message).toMatch(/2 resumes already tried/);
  expect(error!.details.extra).toMatchObject({ deliveredChars: 13, cause: 'upstream_truncated' });
});

test('a clean close mid-answer is an interruption, resumed: the client gets the whole text once, and a stream.resumed event says from where', async () => {
  const h = harness(resumeDoc('prefill', 1));
  h.transport.script('a', cut('Hello'), whole(' world'));
  const { answer: a, text, error } = await runStream(h);
  expect(error).toBeUndefined();
  expect(text).toBe('Hello world');
  expect(dataOf(h.events, 'stream.resumed')).toEqual([{ backend: 'a', model: 'model-a', mode: 'prefill', fromChars: 5 }]);
  expect(a.attempt).toBe(2); // the caller's view names the attempt that finished the answer
});

test('resume: none -> the first cut ends the stream with stream_interrupted; nothing is asked again', async () => {
  const h = harness(resumeDoc('none', 3));
  h.transport.script('a', cut('Hello'), whole(' world'));
  const { text, error } = await runStream(h);
  expect(h.transport.calls).toEqual(['a']);
  expect(text).toBe('Hello');
  expect(error).toMatchObject({ code: 'stream_interrupted', status: 502 });
  expect(error!.message).toMatch(/resume: none/);
});

test('no backend can continue: the interruption says so, with the original cause', async () => {
  const h = harness(resumeDoc('prefill', 1));
  h.transport.script('a', cut('Hello'), refused());
  h.transport.script('b', refused());
  const { text, error } = await runStream(h);
  expect(text).toBe('Hello');
  expect(error).toMatchObject({ code: 'stream_interrupted', status: 502 });
  expect(error!.message).toMatch(/no backend could continue it/);
  expect(error!.details.extra).toMatchObject({ cause: 'upstream_truncated' });
});

test('verify: a continuation that regenerates other text ends with stream_diverged (502), reported as a failed attempt; never the other text', async () => {
  const h = harness(resumeDoc('verify', 2));
  h.transport.script('a', cut('Hello'), whole('Howdy there'));
  const { text, error } = await runStream(h);
  expect(text).toBe('Hello');
  expect(error).toMatchObject({ code: 'stream_diverged', status: 502 });
  expect(dataOf(h.events, 'attempt.failed').at(-1)).toMatchObject({ code: 'stream_diverged', phase: 'stream', retriable: false });
  expect(h.transport.calls).toEqual(['a', 'a']); // a divergence is not resumed again
});

test('verify: stream.resumed is announced once the prefix checked out and new text flows, with the continuing backend', async () => {
  const h = harness(resumeDoc('verify', 1));
  h.transport.script('a', cut('Hello'), refused());
  h.transport.script('b', whole('Hello', ' world'));
  const { answer: a, text, error } = await runStream(h);
  expect(error).toBeUndefined();
  expect(text).toBe('Hello world');
  expect(dataOf(h.events, 'stream.resumed')).toEqual([{ backend: 'b', model: 'model-b', mode: 'verify', fromChars: 5 }]);
  expect(a.target.backend.name).toBe('b');
});

test('a multi-choice stream is never resumed: the interruption names why', async () => {
  const h = harness(resumeDoc('prefill', 2));
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text('A', 0), openaiWire.text('B', 1)).end() }, whole('never'));
  const x = h.open({ ...chatBody('r', { stream: true }), n: 2 });
  const a = await handle(x);
  if (a.kind !== 'stream') throw new Error('expected a stream');
  const { error } = await drain(a.frames);
  expect(h.transport.calls).toEqual(['a']);
  expect(error).toMatchObject({ code: 'stream_interrupted', status: 502 });
  expect((error as AirouteError).message).toMatch(/choice/);
});

test('text past the checkpoint bound turns resume off, announced once by a checkpoint event; a later cut is not resumed', async () => {
  const h = harness(resumeDoc('prefill', 2, 1024));
  const piece = 'x'.repeat(600);
  h.transport.script('a', cut(piece, piece, piece), whole(' never'));
  const { text, error } = await runStream(h);
  expect(text).toBe(piece.repeat(3));
  expect(h.transport.calls).toEqual(['a']);
  expect(error).toMatchObject({ code: 'stream_interrupted' });
  const overflow = dataOf(h.events, 'checkpoint').filter((d) => d.resumeDisabled);
  expect(overflow).toHaveLength(1);
  expect(overflow[0]).toMatchObject({ strategy: 'none', backend: 'a' });
});
