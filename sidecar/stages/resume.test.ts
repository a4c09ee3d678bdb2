import { expect, test } from 'vitest';
import { ContinuationGate, resume } from './resume.ts';
import type { Frame } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import { handle } from '../pipeline/pipeline.ts';
import type { Answer, RouteExchange, StreamAnswer } from '../pipeline/exchange.ts';
import { cancelled } from '../sidecar.ts';
import { ScriptedBody, answer, answerFrom, chatBody, dataOf, drain, harness, openaiWire, routeOf, sse, targetOf, textOf, type Harness } from '../../test/support/pipeline.ts';

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

test('verify: a divergence is a stream-phase stream_diverged (502) naming the event that came before the prefix was reproduced', () => {
  const tool = new ContinuationGate('verify', 'Hi');
  let err: AirouteError | undefined;
  try {
    tool.pass({ events: [{ type: 'tool_start', choice: 0, index: 0, id: 'x', name: 'f' }] });
  } catch (e) {
    err = e as AirouteError;
  }
  expect(err).toMatchObject({ code: 'stream_diverged', status: 502, details: { phase: 'stream' } });
  expect(err!.message).toBe('the regenerated answer diverged from what was already delivered (tool_start before the delivered 2 characters were reproduced)');
});

test('verify: text of another choice before the prefix was reproduced is a divergence, never taken for the delivered text; usage passes (it is no answer text)', () => {
  const other = new ContinuationGate('verify', 'Hi');
  expect(() => other.pass({ events: [{ type: 'text', choice: 1, text: 'Hi' }] })).toThrow(/text before the delivered 2 characters/);
  const usage = new ContinuationGate('verify', 'Hi');
  expect(usage.pass({ events: [{ type: 'usage', usage: { inputTokens: 1, outputTokens: 1 } }] })?.events).toEqual([{ type: 'usage', usage: { inputTokens: 1, outputTokens: 1 } }]);
});

test('prefill: a tool call (or another choice) ends the overlap window: it passes, and so does all text after it', () => {
  const g = new ContinuationGate('prefill', 'Hello \n', 'Hello');
  const call = { type: 'tool_start' as const, choice: 0, index: 0, id: 'c1', name: 'f' };
  expect(g.pass({ events: [call] })?.events).toEqual([call]);
  expect(out(g.pass(text(' \nmore')))).toBe(' \nmore');
  const choice = new ContinuationGate('prefill', 'Hello ', 'Hello');
  expect(choice.pass({ events: [{ type: 'text', choice: 1, text: ' b' }] })?.events).toEqual([{ type: 'text', choice: 1, text: ' b' }]);
  expect(out(choice.pass(text(' a')))).toBe(' a');
});

test('prefill without a prefix sent: the whole delivered text is what the continuation regenerates, and is dropped', () => {
  const g = new ContinuationGate('prefill', 'Hello');
  expect(out(g.pass(text('Hello world')))).toBe(' world');
});

test('prefill: regenerated whitespace split over chunks is dropped as it comes; only what follows passes', () => {
  const g = new ContinuationGate('prefill', 'Hello \n', 'Hello');
  expect(out(g.pass(text(' ')))).toBeNull();
  expect(out(g.pass(text('\nworld')))).toBe('world');
});

test('prefill: other whitespace after a common part: the common part is dropped, the rest is new, and the window is closed for good', () => {
  const g = new ContinuationGate('prefill', 'Hello \n', 'Hello');
  expect(out(g.pass(text(' \tthere')))).toBe('\tthere');
  expect(out(g.pass(text('\n again')))).toBe('\n again');
  const h = new ContinuationGate('prefill', 'Hello ', 'Hello');
  expect(out(h.pass(text('\tthere')))).toBe('\tthere');
  expect(out(h.pass(text(' you')))).toBe(' you');
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

test('verify: the divergence error says what was delivered and why, and a checkpoint event records where the stream stopped', async () => {
  const h = harness(resumeDoc('verify', 2));
  h.transport.script('a', cut('Hello'), whole('Howdy there'));
  const { error } = await runStream(h);
  expect(error!.message).toBe('stream diverged after 5 delivered characters: the regenerated answer diverged from what was already delivered (at character 1)');
  expect(error!.details).toMatchObject({ phase: 'stream', extra: { deliveredChars: 5, toolCalls: 0, choices: 1, attempts: 2, cause: 'stream_diverged' } });
  expect(dataOf(h.events, 'checkpoint')).toEqual([
    { deliveredChars: 5, toolCalls: 0, choices: 1, attempt: 1, backend: 'a', strategy: 'verify' },
    { deliveredChars: 5, toolCalls: 0, choices: 1, attempt: 2, backend: 'a', strategy: 'verify' },
  ]);
});

test('an interruption keeps the status of its cause (an in-stream overloaded error is 529) and says the stream was interrupted, and why', async () => {
  const h = harness(resumeDoc('none', 1));
  const overloaded = sse({ error: { type: 'overloaded_error', message: 'Overloaded' } });
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text('Hello'), overloaded).end() });
  const { error } = await runStream(h);
  expect(error).toMatchObject({ code: 'stream_interrupted', status: 529, details: { phase: 'stream', extra: { cause: 'upstream_overloaded' } } });
  expect(error!.message).toBe('stream interrupted after 5 delivered characters: Overloaded (the route resumes nothing (resume: none))');
});

test('resume: none keeps no text: an answer past limits.maxCheckpointChars announces no checkpoint overflow', async () => {
  const h = harness({ ...resumeDoc('none', 1), limits: { maxCheckpointChars: 1024 } });
  const piece = 'x'.repeat(600);
  h.transport.script('a', cut(piece, piece));
  const { error } = await runStream(h);
  expect(error).toMatchObject({ code: 'stream_interrupted' });
  expect(dataOf(h.events, 'checkpoint')).toEqual([{ deliveredChars: 1200, toolCalls: 0, choices: 1, attempt: 1, backend: 'a', strategy: 'none' }]);
});

test('the checkpoint overflow is announced with the frame that passed the bound, exactly once', async () => {
  const h = harness(resumeDoc('prefill', 2, 1024));
  const piece = 'x'.repeat(600);
  h.transport.script('a', cut(piece, piece, piece, piece));
  await runStream(h);
  const checkpoints = dataOf(h.events, 'checkpoint');
  expect(checkpoints.at(-1)).toEqual({ deliveredChars: 2400, toolCalls: 0, choices: 1, attempt: 1, backend: 'a', strategy: 'none' }); // the cut: nothing kept to resume from
  const overflow = checkpoints.filter((d) => d.resumeDisabled);
  expect(overflow).toEqual([
    {
      deliveredChars: 1200,
      toolCalls: 0,
      choices: 1,
      attempt: 1,
      backend: 'a',
      strategy: 'none',
      resumeDisabled: 'the delivered text passed limits.maxCheckpointChars (1024 characters), so it was not kept for a resume',
    },
  ]);
});

/** Drains a stream, noting for each frame how many stream.resumed events had been emitted when it was handed on. */
async function resumedAtEachFrame(h: Harness) {
  const a = await handle(h.open(chatBody('r', { stream: true })));
  if (a.kind !== 'stream') throw new Error('expected a stream');
  const seen: { text: string; resumed: number }[] = [];
  for await (const f of a.frames) seen.push({ text: textOf([f]), resumed: dataOf(h.events, 'stream.resumed').length });
  return seen;
}

test('stream.resumed is announced before the continuation\'s first new content reaches the client, not before its structural frames', async () => {
  const h = harness(resumeDoc('prefill', 1));
  h.transport.script('a', cut('Hello'), { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text(' world'), openaiWire.finish(), openaiWire.done).end() });
  expect(await resumedAtEachFrame(h)).toEqual([
    { text: '', resumed: 0 },
    { text: 'Hello', resumed: 0 },
    { text: '', resumed: 0 }, // the continuation's start: no new content yet
    { text: ' world', resumed: 1 },
    { text: '', resumed: 1 },
  ]);
});

test('stream.resumed: a continuation frame that opens the message and carries new text is announced with that frame', async () => {
  const h = harness(resumeDoc('prefill', 1));
  const roleAndText = sse({ id: 'c2', object: 'chat.completion.chunk', model: 'up-model', choices: [{ index: 0, delta: { role: 'assistant', content: ' world' }, finish_reason: null }] });
  h.transport.script('a', cut('Hello'), { status: 200, body: new ScriptedBody(roleAndText, openaiWire.finish(), openaiWire.done).end() });
  const seen = await resumedAtEachFrame(h);
  expect(seen.find((f) => f.text === ' world')).toEqual({ text: ' world', resumed: 1 });
  expect(dataOf(h.events, 'stream.resumed')).toHaveLength(1);
});

test('stream.resumed: a continuation whose frames carry only usage before its text is not announced until the text', async () => {
  const h = harness(resumeDoc('prefill', 1));
  h.transport.script('a', cut('Hello'), { status: 200, body: new ScriptedBody(openaiWire.usage(3, 0), openaiWire.text(' world'), openaiWire.finish(), openaiWire.done).end() });
  const seen = await resumedAtEachFrame(h);
  expect(seen.filter((f) => f.resumed === 0).map((f) => f.text)).toEqual(['', 'Hello', '']);
  expect(seen.find((f) => f.text === ' world')).toEqual({ text: ' world', resumed: 1 });
});

test('verify: a continuation that only reproduces what was delivered and then finishes is still announced (once, when it ends)', async () => {
  const h = harness(resumeDoc('verify', 1));
  h.transport.script('a', cut('Hello'), whole('Hel', 'lo'));
  const { text, error } = await runStream(h);
  expect(error).toBeUndefined();
  expect(text).toBe('Hello');
  expect(dataOf(h.events, 'stream.resumed')).toEqual([{ backend: 'a', model: 'model-a', mode: 'verify', fromChars: 5 }]);
});

test('cancelled while a continuation is being opened: the cancellation is the error, never a stream_interrupted', async () => {
  const h = harness(resumeDoc('prefill', 1));
  h.transport.script('a', cut('Hello'), { hang: true });
  const x = h.open(chatBody('r', { stream: true }));
  const a = await handle(x);
  if (a.kind !== 'stream') throw new Error('expected a stream');
  const it = a.frames[Symbol.asyncIterator]();
  await it.next(); // start
  await it.next(); // Hello
  const pending = it.next(); // the cut, then the continuation that hangs
  await new Promise<void>((r) => setImmediate(r));
  x.abort(cancelled('client'));
  await expect(pending).rejects.toMatchObject({ code: 'cancelled', status: 499 });
});

// ---------------------------------------------------------------- the stage on its own: what continueWith and next hand it

/** A stream answer whose frames deliver `texts` and then fail with `err`. */
function failing(x: RouteExchange, err: AirouteError, ...texts: string[]): StreamAnswer {
  async function* frames() {
    for (const t of texts) yield text(t);
    throw err;
  }
  return { kind: 'stream', target: targetOf(x.route, 'a'), attempt: 1, mode: 'fresh', frames: frames() };
}

test('an answer that is not a stream is handed on as it came: nothing to checkpoint or resume', async () => {
  const h = harness(resumeDoc('prefill', 1));
  const x = h.open(chatBody('r'));
  const json = answerFrom(targetOf(routeOf(h.config, 'r'), 'a'));
  const never = () => Promise.reject(new Error('test: no continuation expected'));
  expect(await resume(never)(() => Promise.resolve(json))(x)).toBe(json);
});

test('a failure that is not retriable is not resumed: the interruption keeps its status and says why', async () => {
  const h = harness(resumeDoc('prefill', 2));
  const x = h.open(chatBody('r', { stream: true }));
  const policy = new AirouteError('content_policy', 400, 'the answer was filtered', { phase: 'stream', retriable: false });
  let continued = 0;
  const a = await resume(() => (continued++, Promise.reject(new Error('test: no continuation expected'))))(() => Promise.resolve(failing(x, policy, 'Hello')))(x);
  if (a.kind !== 'stream') throw new Error('expected a stream');
  const { error } = await drain(a.frames);
  expect(continued).toBe(0);
  expect(error).toMatchObject({ code: 'stream_interrupted', status: 400, details: { cause: policy, extra: { cause: 'content_policy' } } });
  expect((error as AirouteError).message).toBe('stream interrupted after 5 delivered characters: the answer was filtered (the failure is not retriable)');
});

test('a continuation that comes back without a stream is never spliced in: an interruption saying no backend could continue it', async () => {
  const h = harness(resumeDoc('prefill', 2));
  const x = h.open(chatBody('r', { stream: true }));
  const cut = new AirouteError('upstream_truncated', 502, 'closed mid-answer', { phase: 'stream', retriable: true });
  const notAStream: Answer = answerFrom(targetOf(x.route, 'b'), 2);
  const a = await resume(() => Promise.resolve(notAStream))(() => Promise.resolve(failing(x, cut, 'Hello')))(x);
  if (a.kind !== 'stream') throw new Error('expected a stream');
  const { frames, error } = await drain(a.frames);
  expect(textOf(frames)).toBe('Hello');
  expect(error).toMatchObject({ code: 'stream_interrupted', status: 502 });
  expect((error as AirouteError).message).toBe('stream interrupted after 5 delivered characters: closed mid-answer (no backend could continue it: a continuation came back without a stream)');
  expect(a.target.backend.name).toBe('a');
});

test('a continuation that ends right after reproducing the delivered text is still announced as stream.resumed, once', async () => {
  const h = harness(resumeDoc('verify', 1));
  const x = h.open(chatBody('r', { stream: true }));
  const cut = new AirouteError('upstream_truncated', 502, 'closed mid-answer', { phase: 'stream', retriable: true });
  async function* reproduced() {
    yield text('Hel');
    yield text('lo');
  }
  const continuation: StreamAnswer = { kind: 'stream', target: targetOf(x.route, 'b'), attempt: 2, mode: 'verify', frames: reproduced() };
  const a = await resume(() => Promise.resolve(continuation))(() => Promise.resolve(failing(x, cut, 'Hello')))(x);
  if (a.kind !== 'stream') throw new Error('expected a stream');
  const { frames, error } = await drain(a.frames);
  expect(error).toBeUndefined();
  expect(textOf(frames)).toBe('Hello');
  expect(dataOf(h.events, 'stream.resumed')).toEqual([{ backend: 'b', model: 'model-b', mode: 'verify', fromChars: 5 }]);
  expect(a).toMatchObject({ attempt: 2, target: { backend: { name: 'b' } } });
});
