import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { AirouteError } from '../errors.ts';
import type { Handler } from '../pipeline/chain.ts';
import type { RouteExchange } from '../pipeline/exchange.ts';
import { answerFrom, chatBody, harness } from '../../test/support/pipeline.ts';
import { AttemptClock } from './attempt-clock.ts';
import { deadline } from './deadline.ts';

const doc = {
  backends: [{ name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' }],
  routes: [{ model: 'm', backends: [{ backend: 'a' }], timeouts: { totalMs: 5000 } }],
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  vi.setSystemTime(1_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

/** Runs the stage with a `next` that never answers, and gives back what `next` was handed. */
function start(x: RouteExchange): { seen: RouteExchange[] } {
  const seen: RouteExchange[] = [];
  const next: Handler<RouteExchange> = (inner) => {
    seen.push(inner);
    return new Promise(() => undefined);
  };
  void deadline(next)(x);
  return { seen };
}

test('the exchange passed on carries the deadline (now + totalMs); the caller\'s exchange is not changed', () => {
  const x = harness(doc).open(chatBody('m'));
  const { seen } = start(x);
  expect(seen).toHaveLength(1);
  expect(seen[0]!.deadline).toBe(1_000_000 + 5000);
  expect(x.deadline).toBe(Number.POSITIVE_INFINITY);
  expect(seen[0]!.scope).toBe(x.scope);
});

test('when totalMs passes, the exchange is aborted with request_timeout (504), not a millisecond before', async () => {
  const x = harness(doc).open(chatBody('m'));
  const { seen } = start(x);
  await vi.advanceTimersByTimeAsync(4999);
  expect(x.scope.aborted).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(seen[0]!.scope.aborted).toBe(true);
  const reason: unknown = x.scope.reason;
  expect(reason).toBeInstanceOf(AirouteError);
  expect(reason).toMatchObject({ code: 'request_timeout', status: 504 });
  expect((reason as Error).message).toMatch(/5000 ms/);
});

test('the end of the exchange clears the timer: a request that ended is never aborted later', async () => {
  const x = harness(doc).open(chatBody('m'));
  const answer = answerFrom(x.route.targets[0]!);
  await deadline(() => Promise.resolve(answer))(x);
  expect(vi.getTimerCount()).toBe(1);
  x.scope.end();
  expect(vi.getTimerCount()).toBe(0);
  await vi.advanceTimersByTimeAsync(10_000);
  expect(x.scope.aborted).toBe(false);
});

test('the answer and the failure of the stages below pass through unchanged', async () => {
  const h = harness(doc);
  const x = h.open(chatBody('m'));
  const answer = answerFrom(x.route.targets[0]!);
  await expect(deadline(() => Promise.resolve(answer))(x)).resolves.toBe(answer);
  const err = new AirouteError('upstream_auth', 401, 'bad key');
  await expect(deadline(() => Promise.reject(err))(h.open(chatBody('m')))).rejects.toBe(err);
});

test('the deadline waits in steps of the shortest attempt clock, so an attempt\'s clocks armed under it make no timer of their own; it still fires on time', async () => {
  const x = harness({ ...doc, routes: [{ model: 'm', backends: [{ backend: 'a' }], timeouts: { totalMs: 5000, firstTokenMs: 300, idleMs: 200 } }] }).open(chatBody('m'));
  const made = vi.spyOn(globalThis, 'setTimeout');
  const { seen } = start(x);
  const clock = new AttemptClock(seen[0]!.scope, 'a', x.route.timeouts);
  clock.arm('first_token', 300);
  clock.progress();
  expect(made).toHaveBeenCalledTimes(1);
  clock.release();
  await vi.advanceTimersByTimeAsync(4999);
  expect(x.scope.aborted).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(x.scope.reason).toMatchObject({ code: 'request_timeout' });
});
