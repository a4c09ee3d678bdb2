import { expect, test } from 'vitest';
import { backoffMs } from './retry.ts';
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
