import { performance } from 'node:perf_hooks';
import { expect, test, vi } from 'vitest';
import { AirouteError } from '../errors.ts';
import { TERMINAL_EVENTS } from '../events/types.ts';
import { answerFrom, chatBody, dataOf, harness } from '../../test/support/pipeline.ts';
import { finish, outcomeOf } from './finish.ts';
import { Tally } from './tally.ts';

const doc = {
  backends: [{ name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' }],
  routes: [{ model: 'm', backends: [{ backend: 'a', model: 'up-model' }] }],
};

/** An exchange with a request behind it: two attempts, one retry, one fallback, one resume; the scope's end counted. */
function setup(stream = true) {
  const h = harness(doc);
  const x = h.open(chatBody('m', { stream }));
  const end = vi.spyOn(x.scope, 'end');
  const lc = x.lifecycle;
  lc.attempt = 2;
  lc.emit('retry.scheduled', { backend: 'a', delayMs: 0, reason: 'upstream_error' });
  lc.emit('fallback', { from: 'a', to: 'a', fromModel: 'up-model', toModel: 'up-model', reason: 'retries_exhausted' });
  lc.emit('stream.resumed', { backend: 'a', model: 'up-model', mode: 'prefill', fromChars: 3 });
  const tally = new Tally(lc);
  const t0 = performance.now() - 5000;
  return { h, x, tally, t0, cleanups: () => end.mock.calls.length };
}

const terminals = (h: ReturnType<typeof harness>) => h.events.filter((e) => TERMINAL_EVENTS.has(e.type));

test.each<[string, AirouteError | undefined, string]>([
  ['no error', undefined, 'success'],
  ['cancelled', new AirouteError('cancelled', 499, 'gone'), 'cancelled'],
  ['stream_interrupted', new AirouteError('stream_interrupted', 502, 'cut'), 'interrupted'],
  ['stream_diverged', new AirouteError('stream_diverged', 502, 'diverged'), 'interrupted'],
  ['request_timeout', new AirouteError('request_timeout', 504, 'late'), 'error'],
  ['upstream_auth', new AirouteError('upstream_auth', 401, 'key'), 'error'],
])('outcome of %s: %s', (_name, err, outcome) => {
  expect(outcomeOf(err)).toBe(outcome);
});

test('success: one request.completed with what answered, finish reasons, usage, attempts, duration and extras; the record says the same', () => {
  const { h, x, tally, t0, cleanups } = setup();
  tally.see(answerFrom(x.route.targets[0]!));
  tally.frame({ events: [{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 3, outputTokens: 4 } }] });
  tally.sent();
  tally.sent();
  tally.firstByteAt = t0 + 120;
  finish(h.sc, x, tally, t0, undefined, { callback: { ok: true } });

  expect(cleanups()).toBe(1);
  expect(terminals(h).map((e) => e.type)).toEqual(['request.completed']);
  const done = dataOf(h.events, 'request.completed')[0]!;
  expect(done).toEqual({
    backend: 'a',
    model: 'up-model',
    finishReasons: ['stop'],
    usage: { inputTokens: 3, outputTokens: 4 },
    attempts: 2,
    durationMs: expect.any(Number),
    callback: { ok: true },
  });
  expect(done.durationMs).toBeGreaterThanOrEqual(5000);
  expect(done.durationMs).toBeLessThan(60_000); // measured from t0, not an absolute clock reading

  expect(h.records).toHaveLength(1);
  const rec = h.records[0]!;
  expect(rec).toEqual({
    id: x.id,
    operation: 'chat',
    format: 'openai',
    route: 'm',
    backend: 'a',
    model: 'up-model',
    provider: 'openai-compatible',
    stream: true,
    outcome: 'success',
    status: 200,
    attempts: 2,
    retries: 1,
    fallbacks: 1,
    resumes: 1,
    durationMs: expect.any(Number),
    ttftMs: 120,
    outputChunks: 2,
    usage: { inputTokens: 3, outputTokens: 4 },
  });
  expect(rec.durationMs).toBeGreaterThanOrEqual(5000);
  expect(rec.durationMs).toBeLessThan(60_000);
});

test('cancelled: one request.cancelled with the reason; the record has status 499 and the code', () => {
  const { h, x, tally, t0, cleanups } = setup();
  finish(h.sc, x, tally, t0, new AirouteError('cancelled', 499, 'the client cancelled the request'));
  expect(cleanups()).toBe(1);
  expect(terminals(h).map((e) => e.type)).toEqual(['request.cancelled']);
  expect(dataOf(h.events, 'request.cancelled')).toEqual([{ reason: 'the client cancelled the request', attempts: 2 }]);
  expect(h.records[0]).toMatchObject({ outcome: 'cancelled', status: 499, code: 'cancelled' });
});

test('interrupted mid-stream: one request.failed carrying the error and what was delivered; outcome interrupted', () => {
  const { h, x, tally, t0 } = setup();
  tally.see(answerFrom(x.route.targets[0]!));
  tally.sent();
  tally.error = new AirouteError('stream_interrupted', 502, 'stream interrupted after 12 delivered characters', {
    extra: { deliveredChars: 12, toolCalls: 0, choices: 1, attempts: 2, cause: 'upstream_reset' },
  });
  finish(h.sc, x, tally, t0, tally.error);
  expect(terminals(h).map((e) => e.type)).toEqual(['request.failed']);
  expect(dataOf(h.events, 'request.failed')).toEqual([
    {
      error: { code: 'stream_interrupted', status: 502, message: 'stream interrupted after 12 delivered characters', deliveredChars: 12, toolCalls: 0, choices: 1, attempts: 2, cause: 'upstream_reset' },
      attempts: 2,
    },
  ]);
  expect(h.records[0]).toMatchObject({ outcome: 'interrupted', status: 502, code: 'stream_interrupted', backend: 'a', outputChunks: 1 });
});

test('an error before any byte: request.failed; the record has the status and code, no backend, no time to first byte', () => {
  const { h, x, tally, t0, cleanups } = setup(false);
  finish(h.sc, x, tally, t0, new AirouteError('upstream_auth', 401, 'Incorrect API key provided'));
  expect(cleanups()).toBe(1);
  expect(terminals(h).map((e) => e.type)).toEqual(['request.failed']);
  expect(dataOf(h.events, 'request.failed')[0]).toEqual({ error: { code: 'upstream_auth', status: 401, message: 'Incorrect API key provided' }, attempts: 2 });
  const rec = h.records[0]!;
  expect(rec).toMatchObject({ outcome: 'error', status: 401, code: 'upstream_auth', stream: false, outputChunks: 0 });
  expect(rec.backend).toBeUndefined();
  expect(rec.ttftMs).toBeUndefined();
  expect(rec.usage).toBeUndefined();
});

test('the terminal event is the last event of the request: nothing emitted after it gets through', () => {
  const { h, x, tally, t0 } = setup();
  finish(h.sc, x, tally, t0);
  const count = h.events.length;
  x.lifecycle.emit('content.delta', { choice: 0, text: 'late' });
  x.lifecycle.emit('request.failed', { error: { code: 'internal', status: 500, message: 'late' }, attempts: 1 });
  expect(h.events).toHaveLength(count);
  expect(h.events.at(-1)!.type).toBe('request.completed');
});

test('an internal error is a defect of this process: reported once, with its cause, at the pipeline; an upstream failure is not', () => {
  const { h, x, tally, t0 } = setup();
  const sites: string[] = [];
  h.sc.onDefect((site) => sites.push(site));
  const cause = new TypeError('a bug');
  finish(h.sc, x, tally, t0, new AirouteError('internal', 500, 'internal error', { cause }));
  expect(sites).toEqual(['pipeline']);
  const other = setup();
  const otherSites: string[] = [];
  other.h.sc.onDefect((site) => otherSites.push(site));
  finish(other.h.sc, other.x, other.tally, other.t0, new AirouteError('upstream_error', 502, 'bad gateway'));
  expect(otherSites).toEqual([]);
});
