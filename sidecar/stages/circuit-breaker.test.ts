import { expect, test } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.ts';

const settings = { consecutiveFailures: 3, failureRatePercent: 50, minimumRequests: 10, windowMs: 10_000, cooldownMs: 1000 };

test('opens after N consecutive failures, refuses during the cool-down, lets exactly one probe through, closes on its success', () => {
  const changes: string[] = [];
  const cb = new CircuitBreaker(settings, (s) => changes.push(s));
  const t = 1_000_000;
  cb.failure(t);
  cb.failure(t);
  expect(cb.allow(t)).toBe(true);
  cb.failure(t);
  expect(cb.state).toBe('open');
  expect(cb.allow(t + 999)).toBe(false);
  expect(cb.allow(t + 1000)).toBe(true); // the probe
  expect(cb.state).toBe('half_open');
  expect(cb.allow(t + 1001)).toBe(false); // only one probe at a time
  cb.success(t + 1100);
  expect(cb.state).toBe('closed');
  expect(cb.allow(t + 1101)).toBe(true);
  expect(changes).toEqual(['open', 'half_open', 'closed']);
});

test('a failed probe re-opens it for another cool-down; a neutral outcome frees the probe slot', () => {
  const cb = new CircuitBreaker(settings);
  const t = 5_000_000;
  for (let i = 0; i < 3; i++) cb.failure(t);
  expect(cb.allow(t + 1000)).toBe(true);
  cb.failure(t + 1000);
  expect(cb.state).toBe('open');
  expect(cb.allow(t + 1500)).toBe(false);
  expect(cb.allow(t + 2000)).toBe(true);
  cb.neutral();
  expect(cb.allow(t + 2001)).toBe(true);
});

test('opens on the failure rate over the window, not below the minimum request count', () => {
  const cb = new CircuitBreaker(settings);
  const t = 9_000_000;
  // alternate: never 3 in a row, but 50% failures
  for (let i = 0; i < 8; i++) (i % 2 ? cb.failure : cb.success).call(cb, t + i);
  expect(cb.state).toBe('closed'); // 8 < minimumRequests
  cb.success(t + 8);
  cb.failure(t + 9);
  expect(cb.state).toBe('open');
});

test('failures older than the window are forgotten', () => {
  const cb = new CircuitBreaker({ ...settings, consecutiveFailures: 100 });
  const t = 20_000_000;
  for (let i = 0; i < 10; i++) cb.failure(t);
  expect(cb.state).toBe('open');
  const fresh = new CircuitBreaker({ ...settings, consecutiveFailures: 100 });
  for (let i = 0; i < 6; i++) fresh.failure(t);
  for (let i = 0; i < 6; i++) fresh.success(t + 20_000); // the failures slid out of the window
  expect(fresh.state).toBe('closed');
});
