import { expect, test } from 'vitest';
import { BUDGET_FLOOR, BUDGET_WINDOW_MS, RetryBudget } from './budget.ts';

test('retries are capped at the floor plus a share of requests over the window', () => {
  const b = new RetryBudget();
  const t = 1_000_000;
  for (let i = 0; i < 100; i++) b.recordRequest(t);
  let allowed = 0;
  for (let i = 0; i < 100; i++) if (b.tryRetry(20, t)) allowed++;
  expect(allowed).toBe(BUDGET_FLOOR + 20);
  expect(b.exhausted).toBe(100 - allowed);
});

test('the budget refills as the window slides', () => {
  const b = new RetryBudget();
  const t = 2_000_000;
  for (let i = 0; i < BUDGET_FLOOR; i++) expect(b.tryRetry(0, t)).toBe(true);
  expect(b.tryRetry(0, t)).toBe(false);
  expect(b.tryRetry(0, t + BUDGET_WINDOW_MS + 1)).toBe(true);
});
