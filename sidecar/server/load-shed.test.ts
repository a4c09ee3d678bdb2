import { expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { heapBudget, MemoryGuard, SHED_AT, SHED_NOW_AT } from './load-shed.ts';

const MiB = 1024 * 1024;

test('the budget is the heap limit, or the container limit less what lives beside the heap when that is smaller', () => {
  expect(heapBudget(280 * MiB, undefined)).toBe(280 * MiB);
  expect(heapBudget(280 * MiB, 2 ** 62)).toBe(280 * MiB); // no container limit
  expect(heapBudget(280 * MiB, 256 * MiB)).toBe(192 * MiB); // the injected 256Mi: 64 MiB beside the heap
  expect(heapBudget(1000 * MiB, 1024 * MiB)).toBe(768 * MiB); // a quarter of a larger container
  expect(heapBudget(100 * MiB, 1024 * MiB)).toBe(100 * MiB);
});

test('new work is admitted below the thresholds and refused with 503 + Retry-After above them; garbage alone does not shed', () => {
  let used = 10 * MiB;
  const g = new MemoryGuard({ heap: () => ({ used, limit: 100 * MiB }), observeGc: false, collect: null });
  let t = 0;
  const next = () => (t += 100);
  expect(() => g.admit(next())).not.toThrow();
  // in use now is high but the last full collection left little: garbage, not live data
  used = (SHED_AT + 0.05) * 100 * MiB;
  g.collected(20 * MiB);
  expect(() => g.admit(next())).not.toThrow();
  // a full collection that leaves this much is live data
  g.collected(used);
  const err = (() => {
    try {
      g.admit(next());
    } catch (e) {
      return e as AirouteError;
    }
  })();
  expect(err).toMatchObject({ code: 'overloaded', status: 503, details: { retryAfterMs: 1000 } });
  expect(g.shed).toBe(1);
  // the backstop: in use right now at the edge of the budget, whatever the last collection said
  g.collected(0);
  used = SHED_NOW_AT * 100 * MiB;
  expect(() => g.admit(next())).toThrow(/shedding load/);
});

test('before it sheds, the guard collects garbage itself (at most once a second): garbage a quiet process never collected does not shed it', () => {
  let used = 96 * MiB;
  let collections = 0;
  const g = new MemoryGuard({ heap: () => ({ used, limit: 100 * MiB }), observeGc: false, collect: () => ((collections += 1), (used = 30 * MiB)) });
  expect(() => g.admit(1_000)).not.toThrow();
  expect(collections).toBe(1);
  // live data this time: collecting does not help, and within the second it is not tried again
  const live = new MemoryGuard({ heap: () => ({ used: 96 * MiB, limit: 100 * MiB }), observeGc: false, collect: () => (collections += 1) });
  collections = 0;
  expect(() => live.admit(1_000)).toThrow(/shedding load/);
  expect(collections).toBe(2);
  expect(() => live.admit(1_500)).toThrow(/shedding load/);
  expect(collections).toBe(2);
});
