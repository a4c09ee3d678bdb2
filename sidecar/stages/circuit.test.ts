import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { AirouteError } from '../errors.ts';
import type { Handler } from '../pipeline/chain.ts';
import type { TargetExchange } from '../pipeline/exchange.ts';
import { answerFrom, chatBody, harness } from '../../test/support/pipeline.ts';
import { circuit } from './circuit.ts';

const doc = {
  backends: [{ name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures: 2, cooldownMs: 1000 } }],
  routes: [{ model: 'm', backends: [{ backend: 'a' }] }],
};

const T = 1_000_000;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T);
});
afterEach(() => {
  vi.useRealTimers();
});

function setup() {
  const h = harness(doc);
  const x = h.open(chatBody('m'));
  const target = x.route.targets[0]!;
  const tx: TargetExchange = { ...x, target };
  const breaker = h.sc.resilience.deployment(target).circuit;
  const next = vi.fn<Handler<TargetExchange>>(() => Promise.resolve(answerFrom(target)));
  return { tx, breaker, next, handler: circuit(next) };
}

test('closed: the exchange goes on to the stage below, unchanged', async () => {
  const { tx, next, handler } = setup();
  const answer = await handler(tx);
  expect(next).toHaveBeenCalledTimes(1);
  expect(next.mock.calls[0]![0]).toBe(tx);
  expect(answer.target).toBe(tx.target);
});

test('open: rejected at once with circuit_open (503, fallback condition circuit_open, the backend named); the stage below is never called', async () => {
  const { tx, breaker, next, handler } = setup();
  breaker.failure();
  breaker.failure();
  const err = await handler(tx).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AirouteError);
  expect(err).toMatchObject({ code: 'circuit_open', status: 503, details: { fallback: 'circuit_open', backend: 'a' } });
  expect((err as AirouteError).retriable).toBe(false);
  expect(next).not.toHaveBeenCalled();
});

test('half-open after the cool-down: exactly one probe goes through; others are refused until its outcome is known', async () => {
  const { tx, breaker, next, handler } = setup();
  breaker.failure();
  breaker.failure();
  vi.setSystemTime(T + 999);
  await expect(handler(tx)).rejects.toMatchObject({ code: 'circuit_open' });
  vi.setSystemTime(T + 1000);
  await handler(tx); // the probe
  expect(next).toHaveBeenCalledTimes(1);
  expect(breaker.state).toBe('half_open');
  await expect(handler(tx)).rejects.toMatchObject({ code: 'circuit_open' });
  await expect(handler(tx)).rejects.toMatchObject({ code: 'circuit_open' });
  expect(next).toHaveBeenCalledTimes(1);
  breaker.success(); // recorded by the attempt in the real chain
  await handler(tx);
  await handler(tx);
  expect(next).toHaveBeenCalledTimes(3);
});

test('the stage records no outcome itself: a failure from below leaves the circuit as it was', async () => {
  const { tx, breaker } = setup();
  const failing = circuit(() => Promise.reject(new AirouteError('upstream_error', 500, 'boom', { retriable: true })));
  await expect(failing(tx)).rejects.toMatchObject({ code: 'upstream_error' });
  await expect(failing(tx)).rejects.toMatchObject({ code: 'upstream_error' });
  expect(breaker.state).toBe('closed');
  expect(breaker.allow()).toBe(true);
});
