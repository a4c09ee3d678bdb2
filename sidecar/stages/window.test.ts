import { expect, test } from 'vitest';
import { SlidingWindow } from './window.ts';

// A 1000 ms window in 10 buckets of 100 ms; the first record anchors bucket 0 at T.
const T = 1_000_000;
const win = () => new SlidingWindow(['ok', 'fail'] as const, 1000);

test('a count stays in the sum until its bucket ages out, and not one millisecond longer', () => {
  const w = win();
  w.add('fail', T); // bucket [T, T+100)
  w.add('fail', T + 150); // bucket [T+100, T+200)
  expect(w.sum('fail', T + 999)).toBe(2);
  expect(w.sum('fail', T + 1000)).toBe(1); // the first bucket is a whole window old
  expect(w.sum('fail', T + 1099)).toBe(1);
  expect(w.sum('fail', T + 1100)).toBe(0);
});

test('sliding by a few buckets expires exactly those buckets; the rest keep their counts', () => {
  const w = win();
  for (let i = 0; i < 10; i++) w.add('ok', T + i * 100, i + 1); // 1..10, one value per bucket
  expect(w.sum('ok', T + 999)).toBe(55);
  expect(w.sum('ok', T + 1300)).toBe(55 - 1 - 2 - 3 - 4); // buckets 0..3 aged out, 4..9 remain
});

test('a gap longer than the whole window forgets everything, and counting resumes from there', () => {
  const w = win();
  w.add('fail', T, 5);
  expect(w.sum('fail', T + 5 * 1000 + 17)).toBe(0);
  w.add('fail', T + 5 * 1000 + 20);
  expect(w.sum('fail', T + 5 * 1000 + 30)).toBe(1);
});

test('keys count apart; `by` adds more than one', () => {
  const w = win();
  w.add('ok', T, 3);
  w.add('fail', T);
  expect(w.sum('ok', T)).toBe(3);
  expect(w.sum('fail', T)).toBe(1);
});

test('a clock that steps back does not expire or move anything', () => {
  const w = win();
  w.add('ok', T + 500);
  w.add('ok', T + 100); // earlier than the current bucket: counted in it
  expect(w.sum('ok', T + 500)).toBe(2);
  expect(w.sum('ok', T + 1499)).toBe(2); // the bucket anchored at T+500 ages out at T+1500
  expect(w.sum('ok', T + 1500)).toBe(0);
});

test('reset clears every bucket, and the window keeps counting after it', () => {
  const w = win();
  w.add('ok', T);
  w.add('fail', T + 300);
  w.reset();
  expect(w.sum('ok', T + 301)).toBe(0);
  expect(w.sum('fail', T + 301)).toBe(0);
  w.add('fail', T + 302);
  expect(w.sum('fail', T + 303)).toBe(1);
});

test('buckets are at least 1 ms wide: a window shorter than its bucket count never gets zero-width buckets', () => {
  const w = new SlidingWindow(['n'] as const, 5, 10); // 10 buckets of 1 ms: a 10 ms window
  w.add('n', T);
  expect(w.sum('n', T + 9)).toBe(1);
  expect(w.sum('n', T + 10)).toBe(0);
});
