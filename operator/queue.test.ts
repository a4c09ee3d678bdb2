import { expect, test } from 'vitest';
import { WorkQueue } from './queue.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

test('a key added many times while waiting is processed once', async () => {
  const q = new WorkQueue();
  for (let i = 0; i < 5; i++) q.add('ns/a');
  q.add('ns/b');
  expect(q.depth).toBe(2);
  const seen: string[] = [];
  const run = q.run(2, async (k) => void seen.push(k), () => {});
  await tick();
  q.shutdown();
  await run;
  expect(seen.sort()).toEqual(['ns/a', 'ns/b']);
});

test('per-key serialisation: a key added while it is being processed runs again afterwards, never concurrently', async () => {
  const q = new WorkQueue();
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  q.add('k');
  const run = q.run(4, async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    runs++;
    if (runs === 1) await gate;
    active--;
  }, () => {});
  await tick();
  q.add('k'); // while the first run is in flight
  q.add('k');
  await tick();
  expect(runs).toBe(1);
  release();
  await tick();
  q.shutdown();
  await run;
  expect(runs).toBe(2);
  expect(maxActive).toBe(1);
});

test('a failing key is requeued with exponential backoff; success resets it', async () => {
  const q = new WorkQueue({ baseMs: 10, maxMs: 1000 });
  const at: number[] = [];
  q.add('k');
  const run = q.run(1, async () => {
    at.push(performance.now());
    if (at.length < 4) throw new Error('boom');
  }, () => {});
  while (at.length < 4) await tick();
  q.shutdown();
  await run;
  const gaps = at.slice(1).map((t, i) => t - at[i]!);
  expect(gaps[0]).toBeGreaterThanOrEqual(9); // 10 ms
  expect(gaps[1]).toBeGreaterThanOrEqual(19); // 20 ms
  expect(gaps[2]).toBeGreaterThanOrEqual(39); // 40 ms
  expect(q.addRateLimited('k')).toBe(10); // forgotten after the success
});

test('addAfter: the earlier due time wins', async () => {
  const q = new WorkQueue();
  const seen: number[] = [];
  const start = performance.now();
  q.addAfter('k', 1000);
  q.addAfter('k', 20);
  const run = q.run(1, async () => void seen.push(performance.now() - start), () => {});
  while (!seen.length) await tick();
  q.shutdown();
  await run;
  expect(seen[0]).toBeLessThan(500);
});
