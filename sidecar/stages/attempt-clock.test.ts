// One attempt's clocks and cancellation on a real exchange scope. Clocks are fake (timers, Date and
// performance): tests assert which clock cancelled the attempt, never how long anything took.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { AirouteError } from '../errors.ts';
import { ExchangeScope } from '../pipeline/scope.ts';
import { AttemptClock, clockError } from './attempt-clock.ts';

const tm = { connectMs: 100, firstTokenMs: 1000, idleMs: 500, totalMs: 60_000 };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A scope with the total deadline running, and an attempt on it whose transport hook records what it heard. */
function start() {
  const scope = new ExchangeScope();
  scope.deadline(tm.totalMs, () => new AirouteError('request_timeout', 504, 'total timeout'));
  const clock = new AttemptClock(scope, 'a', tm);
  const heard: Error[] = [];
  clock.onCancel((r) => heard.push(r));
  return { scope, clock, heard };
}

test.each([
  ['no_response', 'upstream_no_response', 'headers', /no response headers within 1000 ms/],
  ['first_token', 'upstream_first_token_timeout', 'first_token', /no token within 1000 ms/],
  ['idle', 'upstream_idle_timeout', 'stream', /stalled for 500 ms mid-response/],
] as const)('the %s clock running out cancels only the attempt, with %s (phase %s, retriable), and tells the transport once', async (kind, code, phase, message) => {
  const { scope, clock, heard } = start();
  clock.arm(kind, 300);
  await vi.advanceTimersByTimeAsync(299);
  expect(clock.reason).toBeUndefined();
  await vi.advanceTimersByTimeAsync(1);
  expect(clock.reason).toMatchObject({ code, status: 504, details: { phase, retriable: true, fallback: 'retries_exhausted' } });
  expect(clock.reason!.message).toMatch(message);
  expect(heard).toEqual([clock.reason]);
  // the exchange goes on: retry and fallback may try again
  expect(scope.aborted).toBe(false);
  expect(new AttemptClock(scope, 'a', tm).reason).toBeUndefined();
});

test('the exchange ending (client gone, total deadline) cancels the attempt with that very reason', () => {
  const { scope, clock, heard } = start();
  clock.arm('idle', tm.idleMs);
  const gone = new AirouteError('cancelled', 499, 'the client went away');
  scope.abort(gone);
  expect(clock.reason).toBe(gone);
  expect(heard).toEqual([gone]);
});

test('the total deadline reaches an attempt whose own clock is later', async () => {
  const scope = new ExchangeScope();
  scope.deadline(200, () => new AirouteError('request_timeout', 504, 'total timeout'));
  const clock = new AttemptClock(scope, 'a', tm);
  clock.arm('first_token', 1000);
  await vi.advanceTimersByTimeAsync(200);
  expect(clock.reason).toMatchObject({ code: 'request_timeout' });
  expect(clock.reason).toBe(scope.reason);
});

test('an attempt started on an exchange that already ended starts cancelled, with its reason', () => {
  const scope = new ExchangeScope();
  const gone = new AirouteError('cancelled', 499, 'gone');
  scope.abort(gone);
  const clock = new AttemptClock(scope, 'a', tm);
  expect(clock.reason).toBe(gone);
  expect(scope.occupied).toBe(false);
});

test('progress restarts the idle clock; pause stops it until the next progress', async () => {
  const { clock } = start();
  clock.progress();
  await vi.advanceTimersByTimeAsync(400);
  clock.progress();
  await vi.advanceTimersByTimeAsync(400);
  expect(clock.reason).toBeUndefined();
  clock.pause(); // the client holds the stream: not the upstream's stall
  await vi.advanceTimersByTimeAsync(5000);
  expect(clock.reason).toBeUndefined();
  clock.progress();
  await vi.advanceTimersByTimeAsync(500);
  expect(clock.reason).toMatchObject({ code: 'upstream_idle_timeout' });
});

test('released: neither its clock nor the exchange ending reaches it any more', async () => {
  const { scope, clock, heard } = start();
  clock.arm('first_token', 100);
  clock.release();
  clock.release(); // idempotent
  await vi.advanceTimersByTimeAsync(200);
  scope.abort(new AirouteError('cancelled', 499, 'gone'));
  expect(clock.reason).toBeUndefined();
  expect(heard).toEqual([]);
});

test('the first reason stays: a clock running out after the exchange ended does not replace it', async () => {
  const { scope, clock, heard } = start();
  clock.arm('idle', 100);
  const gone = new AirouteError('cancelled', 499, 'gone');
  scope.abort(gone);
  await vi.advanceTimersByTimeAsync(200);
  expect(clock.reason).toBe(gone);
  expect(heard).toEqual([gone]);
});

test('the transport\'s hook: a later one replaces it, undefined removes it', () => {
  const { scope, clock } = start();
  const calls: string[] = [];
  clock.onCancel(() => calls.push('first'));
  clock.onCancel(() => calls.push('second'));
  clock.onCancel(undefined);
  scope.abort(new AirouteError('cancelled', 499, 'gone'));
  expect(calls).toEqual([]);
  expect(clock.reason).toBeDefined();
});

test('clockError says which backend and which limit', () => {
  expect(clockError('idle', 'primary', tm).message).toBe('backend "primary" stalled for 500 ms mid-response');
});
