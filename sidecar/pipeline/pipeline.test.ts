// The compose line as a whole: deadline -> resume(tryTargets) -> tryTargets, where tryTargets is
// fallback -> retry -> circuit -> attempt. Each test shows one stage acting at its place in it.
import { afterEach, expect, test, vi } from 'vitest';
import type { JsonObject } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import { ScriptedBody, answer, chatBody, dataOf, drain, harness, openaiWire, routeOf, targetOf, textOf, typesOf } from '../../test/support/pipeline.ts';
import type { StreamAnswer } from './exchange.ts';
import { handle, tryTargets } from './pipeline.ts';

const doc = {
  backends: [
    { name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures: 2 } },
    { name: 'b', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' },
  ],
  routes: [
    {
      model: 'm',
      backends: [
        { backend: 'a', model: 'model-a' },
        { backend: 'b', model: 'model-b' },
      ],
      retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 } },
      timeouts: { totalMs: 1000, idleMs: 60_000 },
    },
    {
      model: 'resumable',
      backends: [
        { backend: 'a', model: 'model-a' },
        { backend: 'b', model: 'model-b' },
      ],
      retry: { attempts: 1 },
      resume: 'prefill' as const,
    },
  ],
};

afterEach(() => {
  vi.useRealTimers();
});

const down = () => answer(503, openaiWire.error('The server is overloaded', 'server_error'));
const streamOf = (...texts: string[]) => new ScriptedBody(openaiWire.role(), ...texts.map((t) => openaiWire.text(t)), openaiWire.finish(), openaiWire.usage(1, texts.length)).end();
const asStream = (a: Awaited<ReturnType<typeof handle>>): StreamAnswer => {
  if (a.kind !== 'stream') throw new Error('expected a stream');
  return a;
};

test('tryTargets: retry sits inside fallback: the same backend again first, then the next backend, each step an event', async () => {
  const h = harness(doc);
  h.transport.script('a', down(), down());
  h.transport.script('b', answer(200, openaiWire.completion('from b')));
  const a = await tryTargets(h.open(chatBody('m')));
  expect(a.target.backend.name).toBe('b');
  expect(a.attempt).toBe(3);
  expect(h.transport.calls).toEqual(['a', 'a', 'b']);
  expect(h.transport.sent.map((s) => s.body.model)).toEqual(['model-a', 'model-a', 'model-b']);
  expect(typesOf(h.events)).toEqual([
    'request.accepted',
    'attempt.started',
    'attempt.failed',
    'retry.scheduled',
    'attempt.started',
    'attempt.failed',
    'fallback',
    'attempt.started',
  ]);
  expect(dataOf(h.events, 'fallback')).toEqual([{ from: 'a', to: 'b', fromModel: 'model-a', toModel: 'model-b', reason: 'retries_exhausted' }]);
});

test('tryTargets: circuit sits inside retry: an open circuit skips the backend without a call or a retry; fallback says why', async () => {
  const h = harness(doc);
  const breaker = h.sc.resilience.deployment(targetOf(routeOf(h.config, 'm'), 'a')).circuit;
  breaker.failure();
  breaker.failure();
  h.transport.script('b', answer(200, openaiWire.completion('from b')));
  const a = await tryTargets(h.open(chatBody('m')));
  expect(a.target.backend.name).toBe('b');
  expect(h.transport.calls).toEqual(['b']);
  expect(typesOf(h.events)).not.toContain('retry.scheduled');
  expect(dataOf(h.events, 'fallback')[0]).toMatchObject({ from: 'a', to: 'b', reason: 'circuit_open' });
});

test('handle: the deadline is outermost: when totalMs passes, the attempt in flight ends with request_timeout and nothing is retried or tried elsewhere', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  const h = harness(doc);
  h.transport.script('a', { hang: true });
  const x = h.open(chatBody('m'));
  const outcome = handle(x).catch((e: unknown) => e);
  await vi.advanceTimersByTimeAsync(1000);
  expect(await outcome).toMatchObject({ code: 'request_timeout', status: 504 });
  expect(x.scope.reason).toMatchObject({ code: 'request_timeout' });
  expect(h.transport.calls).toEqual(['a']);
  expect(typesOf(h.events)).not.toContain('retry.scheduled');
  expect(typesOf(h.events)).not.toContain('fallback');
  x.scope.end();
  expect(vi.getTimerCount()).toBe(0);
});

test('handle: the deadline also ends a stream already reaching the client, and nothing resumes it', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  const h = harness(doc);
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.text('started')) });
  const x = h.open(chatBody('m', { stream: true }));
  const a = asStream(await handle(x));
  const drained = drain(a.frames);
  await vi.advanceTimersByTimeAsync(1000);
  const { frames, error } = await drained;
  expect(textOf(frames)).toBe('started');
  expect(error).toMatchObject({ code: 'request_timeout' });
  expect(typesOf(h.events)).not.toContain('stream.resumed');
  expect(h.transport.calls).toEqual(['a']);
});

test('handle: a mid-stream failure re-enters tryTargets from the checkpoint: the continuation goes through fallback and retry again, and the client gets each token once', async () => {
  const h = harness(doc);
  const reset = Object.assign(new Error('other side closed'), { code: 'ECONNRESET' });
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text('Hello ')).fail(reset) }, down());
  h.transport.script('b', { status: 200, body: streamOf(' world', '!') });
  const x = h.open(chatBody('resumable', { stream: true }));
  const a = asStream(await handle(x));
  const { frames, error } = await drain(a.frames);
  expect(error).toBeUndefined();
  expect(textOf(frames)).toBe('Hello world!');
  // the continuation: a again (its circuit is closed, it is first in the chain), refused, then b
  expect(h.transport.calls).toEqual(['a', 'a', 'b']);
  const continued = h.transport.sent.slice(1).map((s) => (s.body.messages as JsonObject[]).at(-1));
  expect(continued).toEqual([
    { role: 'assistant', content: 'Hello' },
    { role: 'assistant', content: 'Hello' },
  ]);
  expect(typesOf(h.events)).toEqual([
    'request.accepted',
    'attempt.started',
    'attempt.failed',
    'checkpoint',
    'attempt.started',
    'attempt.failed',
    'fallback',
    'attempt.started',
    'stream.resumed',
  ]);
  expect(dataOf(h.events, 'attempt.started').map((d) => [d.backend, d.mode])).toEqual([
    ['a', 'fresh'],
    ['a', 'prefill'],
    ['b', 'prefill'],
  ]);
  expect(dataOf(h.events, 'stream.resumed')).toEqual([{ backend: 'b', model: 'model-b', mode: 'prefill', fromChars: 6 }]);
  // the caller's view names the backend that finished the answer
  expect(a.target.backend.name).toBe('b');
});

test('handle: a failure before the first byte is not resumed: it is the request\'s failure', async () => {
  const h = harness(doc);
  h.transport.script('a', answer(400, openaiWire.error("'messages' is required")));
  const err = await handle(h.open(chatBody('resumable', { stream: true }))).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AirouteError);
  expect(err).toMatchObject({ code: 'invalid_request', status: 400 });
  expect(typesOf(h.events)).not.toContain('checkpoint');
  expect(h.transport.calls).toEqual(['a']);
});
