import { expect, test, vi } from 'vitest';
import { AirouteError, type ErrorDetails } from '../errors.ts';
import type { Handler } from '../pipeline/chain.ts';
import type { TargetExchange } from '../pipeline/exchange.ts';
import { answerFrom, chatBody, dataOf, harness, routeOf, targetOf, typesOf, type Harness } from '../../test/support/pipeline.ts';
import { backoffMs, retry } from './retry.ts';
import { orderTargets } from './fallback.ts';
import type { RuntimeTarget } from '../config/runtime.ts';

const policy = { attempts: 5, baseMs: 100, maxMs: 1000, honorRetryAfter: true, budgetPercent: 20, onTimeout: 'next' as const };

test('full jitter: uniform in [0, min(maxMs, baseMs * 2^(n-1)))', () => {
  expect(backoffMs(1, policy, () => 0.999)).toBe(99);
  expect(backoffMs(3, policy, () => 0.5)).toBe(200);
  expect(backoffMs(10, policy, () => 0.999)).toBe(999); // capped
  expect(backoffMs(2, policy, () => 0)).toBe(0);
});

const t = (name: string, priority: number, weight: number) => ({ backend: { name }, model: name, priority, weight, resume: 'prefill' }) as unknown as RuntimeTarget;

test('fallback order: by priority; weights share traffic within a priority; weight 0 only as a last resort', () => {
  const targets = [t('a', 0, 3), t('b', 0, 1), t('z', 0, 0), t('c', 1, 1)];
  const firsts: Record<string, number> = {};
  let seed = 0;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 4000; i++) {
    const order = orderTargets(targets, rand).map((x) => x.backend.name);
    firsts[order[0]!] = (firsts[order[0]!] ?? 0) + 1;
    expect(order.at(-1)).toBe('c');
    expect(order[2]).toBe('z');
  }
  expect(firsts.z ?? 0).toBe(0);
  expect(firsts.a! / 4000).toBeGreaterThan(0.7);
  expect(firsts.a! / 4000).toBeLessThan(0.8);
});

// ---------------------------------------------------------------- the stage

const retryDoc = (retry: Record<string, unknown>) => ({
  backends: [{ name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' }],
  routes: [{ model: 'm', backends: [{ backend: 'a', model: 'small' }], retry: { backoff: { baseMs: 0, maxMs: 0 }, ...retry } }],
});
const failure = (code: AirouteError['code'], status: number, details: ErrorDetails = {}) => new AirouteError(code, status, `${code} from test`, details);
const e503 = () => failure('upstream_error', 503, { retriable: true });

/** Runs the retry stage over a `next` that fails with these errors in turn, then answers. */
function runRetry(retrySettings: Record<string, unknown>, errors: AirouteError[], opts: { deadlineInMs?: number; h?: Harness } = {}) {
  const h = opts.h ?? harness(retryDoc(retrySettings));
  const base = h.open(chatBody('m'));
  const route = routeOf(h.config, 'm');
  const x: TargetExchange = { ...base, target: targetOf(route, 'a'), ...(opts.deadlineInMs !== undefined ? { deadline: Date.now() + opts.deadlineInMs } : {}) };
  let calls = 0;
  const next = vi.fn<Handler<TargetExchange>>(() => {
    const err = errors[calls++];
    return err ? Promise.reject(err) : Promise.resolve(answerFrom(x.target));
  });
  return { h, x, next, result: retry(next)(x), calls: () => calls };
}

test('a retriable failure is retried on the same target until it answers; one retry.scheduled per retry, naming the reason', async () => {
  const { h, next, result } = runRetry({ attempts: 3 }, [e503(), failure('upstream_rate_limited', 429, { retriable: true })]);
  await expect(result).resolves.toMatchObject({ kind: 'json' });
  expect(next).toHaveBeenCalledTimes(3);
  expect(dataOf(h.events, 'retry.scheduled')).toEqual([
    { backend: 'a', delayMs: 0, reason: 'upstream_error' },
    { backend: 'a', delayMs: 0, reason: 'upstream_rate_limited' },
  ]);
});

test('attempts is the number of calls, not of retries: the last failure is thrown after exactly `attempts` calls', async () => {
  const last = e503();
  const { next, result } = runRetry({ attempts: 3 }, [e503(), e503(), last, e503()]);
  await expect(result).rejects.toBe(last);
  expect(next).toHaveBeenCalledTimes(3);
});

test('a failure that is not retriable is thrown at once: no retry, no event', async () => {
  const err = failure('invalid_request', 400);
  const { h, next, result } = runRetry({ attempts: 5 }, [err]);
  await expect(result).rejects.toBe(err);
  expect(next).toHaveBeenCalledTimes(1);
  expect(typesOf(h.events)).not.toContain('retry.scheduled');
});

test.each<[string, 'next' | 'retry', number]>([
  ['onTimeout: next (the default) hands a silent target to the next backend after one timeout', 'next', 1],
  ['onTimeout: retry asks the silent target again', 'retry', 2],
])('%s', async (_name, onTimeout, calls) => {
  for (const code of ['upstream_no_response', 'upstream_first_token_timeout'] as const) {
    const { next, result } = runRetry({ attempts: 3, onTimeout }, [failure(code, 504, { retriable: true })]);
    if (calls === 1) await expect(result).rejects.toMatchObject({ code });
    else await expect(result).resolves.toMatchObject({ kind: 'json' });
    expect(next).toHaveBeenCalledTimes(calls);
  }
});

test('Retry-After is honoured as the delay, and named in the event; with honorRetryAfter: false the backoff is used instead', async () => {
  const hinted = () => failure('upstream_rate_limited', 429, { retriable: true, retryAfterMs: 15 });
  const honoured = runRetry({ attempts: 2 }, [hinted()]);
  await honoured.result;
  expect(dataOf(honoured.h.events, 'retry.scheduled')).toEqual([{ backend: 'a', delayMs: 15, reason: 'upstream_rate_limited', retryAfterMs: 15 }]);
  const ignored = runRetry({ attempts: 2, honorRetryAfter: false }, [hinted()]);
  await ignored.result;
  expect(dataOf(ignored.h.events, 'retry.scheduled')).toEqual([{ backend: 'a', delayMs: 0, reason: 'upstream_rate_limited' }]);
});

test('a wait that would end past the deadline is not taken: the failure goes up at once for the next backend', async () => {
  const hinted = failure('upstream_rate_limited', 429, { retriable: true, retryAfterMs: 5_000 });
  const { h, next, result } = runRetry({ attempts: 3 }, [hinted], { deadlineInMs: 1_000 });
  await expect(result).rejects.toBe(hinted);
  expect(next).toHaveBeenCalledTimes(1);
  expect(typesOf(h.events)).not.toContain('retry.scheduled');
});

test('the retry budget: past the floor (10 retries per window) plus budgetPercent of requests, retries stop and the error says the budget is spent', async () => {
  const h = harness(retryDoc({ attempts: 10, budgetPercent: 0 }));
  const first = runRetry({}, Array.from({ length: 10 }, e503), { h });
  await expect(first.result).rejects.toMatchObject({ code: 'upstream_error' });
  expect(first.next).toHaveBeenCalledTimes(10); // 9 retries from the floor of 10
  const second = runRetry({}, Array.from({ length: 10 }, e503), { h });
  const err = (await second.result.catch((e: unknown) => e)) as AirouteError;
  expect(second.next).toHaveBeenCalledTimes(2); // the floor's last retry, then refused
  expect(err.details.extra).toMatchObject({ retryBudgetExhausted: true });
  expect(dataOf(h.events, 'retry.scheduled')).toHaveLength(10);
});

test('each request adds budgetPercent of itself to the budget, once, however many times it is retried', async () => {
  // budgetPercent 100: two requests allow 10 + 2 retries in the window: 9 for the first, 3 for the second
  const h = harness(retryDoc({ attempts: 10, budgetPercent: 100 }));
  await runRetry({}, Array.from({ length: 10 }, e503), { h }).result.catch(() => undefined);
  const second = runRetry({}, Array.from({ length: 10 }, e503), { h });
  await expect(second.result).rejects.toMatchObject({ details: { extra: { retryBudgetExhausted: true } } });
  expect(second.next).toHaveBeenCalledTimes(4);
});

test('the client leaving during a backoff ends the wait with its reason; no further call is made', async () => {
  const h = harness(retryDoc({ attempts: 3, backoff: { baseMs: 60_000, maxMs: 60_000 } }));
  const hinted = failure('upstream_rate_limited', 429, { retriable: true, retryAfterMs: 30_000 });
  const { x, next, result } = runRetry({}, [hinted], { h, deadlineInMs: 120_000 });
  await vi.waitFor(() => expect(dataOf(h.events, 'retry.scheduled')).toHaveLength(1));
  const gone = new AirouteError('cancelled', 499, 'the client went away');
  x.abort(gone);
  await expect(result).rejects.toBe(gone);
  expect(next).toHaveBeenCalledTimes(1);
});

test('a failure after the exchange was aborted is not retried', async () => {
  const h = harness(retryDoc({ attempts: 3 }));
  const base = h.open(chatBody('m'));
  const x: TargetExchange = { ...base, target: targetOf(routeOf(h.config, 'm'), 'a') };
  const next = vi.fn<Handler<TargetExchange>>(() => {
    x.abort(new AirouteError('cancelled', 499, 'gone'));
    return Promise.reject(e503());
  });
  await expect(retry(next)(x)).rejects.toMatchObject({ code: 'upstream_error' });
  expect(next).toHaveBeenCalledTimes(1);
});

test('the total deadline passing during a backoff ends the wait with request_timeout; no further call is made and the sleep is off the exchange', async () => {
  const h = harness(retryDoc({ attempts: 3, backoff: { baseMs: 60_000, maxMs: 60_000 } }));
  const hinted = failure('upstream_rate_limited', 429, { retriable: true, retryAfterMs: 30_000 });
  const { x, next, result } = runRetry({}, [hinted], { h, deadlineInMs: 120_000 });
  await vi.waitFor(() => expect(dataOf(h.events, 'retry.scheduled')).toHaveLength(1));
  const timeout = new AirouteError('request_timeout', 504, 'the request exceeded its total timeout');
  x.scope.deadline(1, () => timeout); // as the deadline stage arms it, here due at once
  await expect(result).rejects.toBe(timeout);
  expect(next).toHaveBeenCalledTimes(1);
  expect(x.scope.occupied).toBe(false);
});
