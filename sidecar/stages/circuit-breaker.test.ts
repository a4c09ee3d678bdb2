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

test('the failure-rate threshold: at the minimum request count a rate under it stays closed, the configured rate opens it', () => {
  const t = 30_000_000;
  // 10 requests, 4 failures (40 % < 50 %), never 3 in a row: F S F S F S F S S S
  const under = new CircuitBreaker(settings);
  const pattern = 'FSFSFSFSSS';
  [...pattern].forEach((c, i) => (c === 'F' ? under.failure(t + i) : under.success(t + i)));
  under.failure(t + 10); // 11 requests, 5 failures: 45 %
  expect(under.state).toBe('closed');
  under.failure(t + 11); // 12 requests, 6 failures: exactly 50 %, two in a row
  expect(under.state).toBe('open');
});

test('consecutive failures count from the last success: a success in between starts the run again', () => {
  const cb = new CircuitBreaker({ ...settings, minimumRequests: 1000 });
  const t = 40_000_000;
  cb.failure(t);
  cb.failure(t);
  cb.success(t);
  cb.failure(t);
  cb.failure(t);
  expect(cb.state).toBe('closed');
  cb.failure(t);
  expect(cb.state).toBe('open');
});

test('a new configuration changes the thresholds and keeps the state; a changed window starts counting afresh', () => {
  const cb = new CircuitBreaker({ ...settings, consecutiveFailures: 100 });
  const t = 50_000_000;
  for (let i = 0; i < 9; i++) cb.failure(t + i);
  cb.configure({ ...settings, consecutiveFailures: 100, minimumRequests: 5, windowMs: 20_000 }); // the 9 failures are forgotten
  cb.failure(t + 10);
  expect(cb.state).toBe('closed'); // 1 request in the new window, under the minimum of 5
  const same = new CircuitBreaker({ ...settings, consecutiveFailures: 100 });
  for (let i = 0; i < 9; i++) same.failure(t + i);
  same.configure({ ...settings, consecutiveFailures: 100, minimumRequests: 5 }); // same window: the counts stay
  same.failure(t + 10);
  expect(same.state).toBe('open');
  const opened = new CircuitBreaker({ ...settings, consecutiveFailures: 1 });
  opened.failure(t);
  opened.configure({ ...settings, consecutiveFailures: 5 });
  expect(opened.state).toBe('open');
  expect(opened.allow(t + 1)).toBe(false);
});
