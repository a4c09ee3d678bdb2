// The exchange's scope alone: one timer for the deadline and the occupant's clock, aborts that
// reach whatever runs, sleeps the deadline ends. Clocks are fake (timers, Date and performance):
// tests assert which clock fired and in what order, never how long anything took.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { AirouteError } from '../errors.ts';
import { ExchangeScope, type Occupant } from './scope.ts';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const timeout = () => new AirouteError('request_timeout', 504, 'total timeout');

/** An occupant that records what reached it. */
function occupant(): Occupant & { clocks: number; aborted: Error[] } {
  const o = {
    clocks: 0,
    aborted: [] as Error[],
    clock: () => void o.clocks++,
    abort: (reason: Error) => void o.aborted.push(reason),
  };
  return o;
}

test('the deadline aborts the exchange with its reason when it passes, not a millisecond before, and reaches what runs then', async () => {
  const s = new ExchangeScope();
  const o = occupant();
  s.enter(o);
  const reason = timeout();
  s.deadline(1000, () => reason);
  await vi.advanceTimersByTimeAsync(999);
  expect(s.aborted).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(s.reason).toBe(reason);
  expect(o.aborted).toEqual([reason]);
  expect(o.clocks).toBe(0);
});

test('an occupant\'s clock running out reaches only the occupant: the exchange goes on, and its deadline still fires later', async () => {
  const s = new ExchangeScope();
  s.deadline(1000, timeout);
  const o = occupant();
  s.enter(o);
  s.arm(o, 100);
  await vi.advanceTimersByTimeAsync(99);
  expect(o.clocks).toBe(0);
  await vi.advanceTimersByTimeAsync(1);
  expect(o.clocks).toBe(1);
  expect(s.aborted).toBe(false);
  await vi.advanceTimersByTimeAsync(1000);
  expect(o.clocks).toBe(1); // a clock fires once per arming
  expect(s.reason).toMatchObject({ code: 'request_timeout' });
});

test('re-arming restarts the clock from now, on one timer: it fires its length after the last re-arm, not the first', async () => {
  const s = new ExchangeScope();
  s.deadline(10_000, timeout);
  const o = occupant();
  s.enter(o);
  for (let i = 0; i < 5; i++) {
    s.arm(o, 100);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(60);
  }
  // 60 ms after the last re-arm: 40 to go
  expect(o.clocks).toBe(0);
  await vi.advanceTimersByTimeAsync(39);
  expect(o.clocks).toBe(0);
  await vi.advanceTimersByTimeAsync(1);
  expect(o.clocks).toBe(1);
  expect(vi.getTimerCount()).toBe(1); // the deadline's, still pending
});

test('a far deadline is waited for in steps: clocks armed later make no timer of their own, and the deadline still fires on time', async () => {
  const s = new ExchangeScope();
  const made = vi.spyOn(globalThis, 'setTimeout');
  s.deadline(10_000, timeout, 100);
  const o = occupant();
  s.enter(o);
  await vi.advanceTimersByTimeAsync(30);
  s.arm(o, 100); // first token
  s.arm(o, 150); // idle, restarted per chunk
  s.arm(o, 150);
  expect(made).toHaveBeenCalledTimes(1);
  await vi.advanceTimersByTimeAsync(149);
  expect(o.clocks).toBe(0);
  await vi.advanceTimersByTimeAsync(1);
  expect(o.clocks).toBe(1);
  s.leave(o);
  await vi.advanceTimersByTimeAsync(10_000 - 180 - 1);
  expect(s.aborted).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(s.reason).toMatchObject({ code: 'request_timeout' });
  expect(vi.getTimerCount()).toBe(0);
});

test('a deadline earlier than the occupant\'s clock wins: the exchange is aborted and the clock never fires', async () => {
  const s = new ExchangeScope();
  const o = occupant();
  s.enter(o);
  s.arm(o, 500);
  s.deadline(200, timeout);
  await vi.advanceTimersByTimeAsync(200);
  expect(o.aborted).toHaveLength(1);
  s.leave(o);
  await vi.advanceTimersByTimeAsync(1000);
  expect(o.clocks).toBe(0);
  expect(vi.getTimerCount()).toBe(0);
});

test('a disarmed clock never fires; armed again, it runs its whole length from then', async () => {
  const s = new ExchangeScope();
  const o = occupant();
  s.enter(o);
  s.arm(o, 100);
  await vi.advanceTimersByTimeAsync(50);
  s.disarm(o);
  await vi.advanceTimersByTimeAsync(500);
  expect(o.clocks).toBe(0);
  s.arm(o, 100);
  await vi.advanceTimersByTimeAsync(99);
  expect(o.clocks).toBe(0);
  await vi.advanceTimersByTimeAsync(1);
  expect(o.clocks).toBe(1);
});

test('after leave, an abort and the clock no longer reach the occupant; with no deadline, no timer is left', async () => {
  const s = new ExchangeScope();
  const o = occupant();
  s.enter(o);
  s.arm(o, 100);
  expect(s.occupied).toBe(true);
  s.leave(o);
  expect(s.occupied).toBe(false);
  expect(vi.getTimerCount()).toBe(0);
  s.arm(o, 100); // a late call from an occupant that left changes nothing
  expect(vi.getTimerCount()).toBe(0);
  s.abort(timeout());
  await vi.advanceTimersByTimeAsync(200);
  expect(o).toMatchObject({ clocks: 0, aborted: [] });
});

test('a later occupant is not touched by the one before it', async () => {
  const s = new ExchangeScope();
  const first = occupant();
  const second = occupant();
  s.enter(first);
  s.leave(first);
  s.enter(second);
  s.arm(second, 100);
  s.disarm(first);
  s.leave(first);
  await vi.advanceTimersByTimeAsync(100);
  expect(second.clocks).toBe(1);
  expect(first.clocks).toBe(0);
});

test('sleep resolves after its time; the deadline ends a sleep early with the deadline\'s reason', async () => {
  const s = new ExchangeScope();
  let slept = false;
  const short = s.sleep(100).then(() => (slept = true));
  await vi.advanceTimersByTimeAsync(99);
  expect(slept).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  await short;
  expect(s.occupied).toBe(false);

  const reason = timeout();
  s.deadline(300, () => reason);
  const long = s.sleep(5000).catch((e: unknown) => e);
  await vi.advanceTimersByTimeAsync(300);
  expect(await long).toBe(reason);
  expect(vi.getTimerCount()).toBe(0);
});

test('an abort (the client left) ends a sleep with its reason; a sleep on an ended exchange fails at once', async () => {
  const s = new ExchangeScope();
  const pending = s.sleep(5000).catch((e: unknown) => e);
  const gone = new AirouteError('cancelled', 499, 'the client went away');
  s.abort(gone);
  expect(await pending).toBe(gone);
  await expect(s.sleep(10)).rejects.toBe(gone);
});

test('end: no timer is left and nothing fires afterwards, not even the deadline', async () => {
  const s = new ExchangeScope();
  s.deadline(1000, timeout);
  const o = occupant();
  s.enter(o);
  s.arm(o, 100);
  expect(vi.getTimerCount()).toBe(1);
  s.end();
  expect(vi.getTimerCount()).toBe(0);
  s.arm(o, 100); // a clock armed after the end would be a leak
  expect(vi.getTimerCount()).toBe(0);
  await vi.advanceTimersByTimeAsync(2000);
  expect(o.clocks).toBe(0);
  expect(s.aborted).toBe(false);
});

test('abort: the first reason stays; a second abort reaches nobody', () => {
  const s = new ExchangeScope();
  const o = occupant();
  s.enter(o);
  const first = new AirouteError('cancelled', 499, 'gone');
  s.abort(first);
  s.abort(timeout());
  expect(s.reason).toBe(first);
  expect(o.aborted).toEqual([first]);
});

test('signal: made on first use, once, and aborted with the exchange\'s reason, also when made after the abort', () => {
  const s = new ExchangeScope();
  const signal = s.signal;
  expect(s.signal).toBe(signal);
  expect(signal.aborted).toBe(false);
  const first = new AirouteError('cancelled', 499, 'gone');
  s.abort(first);
  expect(signal.reason).toBe(first);

  const late = new ExchangeScope();
  late.abort(first);
  expect(late.signal.aborted).toBe(true);
  expect(late.signal.reason).toBe(first);
});

test('what keeps the process alive: the deadline alone never does; an armed clock does until it is left, disarmed-and-refired or the exchange ends', () => {
  vi.useRealTimers();
  const keeping = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const base = keeping();
  const s = new ExchangeScope();
  s.deadline(60_000, timeout, 10_000);
  expect(keeping()).toBe(base);
  const o = occupant();
  s.enter(o);
  // Later than the deadline's next step: the step's timer is kept, and from now on it holds the process.
  s.arm(o, 30_000);
  expect(keeping()).toBe(base + 1);
  s.arm(o, 5_000);
  expect(keeping()).toBe(base + 1);
  s.leave(o);
  expect(keeping()).toBe(base);
  const p = occupant();
  s.enter(p);
  s.arm(p, 50_000);
  expect(keeping()).toBe(base + 1);
  s.end();
  expect(keeping()).toBe(base);
});

test('a clock armed while only the deadline waits, sooner than the deadline, gets a timer that holds the process', () => {
  vi.useRealTimers();
  const keeping = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const base = keeping();
  const s = new ExchangeScope();
  const o = occupant();
  s.enter(o);
  s.deadline(60_000, timeout);
  expect(keeping()).toBe(base);
  s.arm(o, 1_000);
  expect(keeping()).toBe(base + 1);
  s.end();
  expect(keeping()).toBe(base);
});

test('a deadline set on an exchange already aborted or ended arms nothing and aborts nothing', async () => {
  const aborted = new ExchangeScope();
  const first = timeout();
  aborted.abort(first);
  aborted.deadline(100, () => new AirouteError('request_timeout', 504, 'second'));
  expect(vi.getTimerCount()).toBe(0);
  await vi.advanceTimersByTimeAsync(200);
  expect(aborted.reason).toBe(first);
  const ended = new ExchangeScope();
  ended.end();
  ended.deadline(100, timeout);
  expect(vi.getTimerCount()).toBe(0);
  await vi.advanceTimersByTimeAsync(200);
  expect(ended.aborted).toBe(false);
});

test('with no deadline, a clock that has fired leaves no timer behind', async () => {
  const s = new ExchangeScope();
  const o = occupant();
  s.enter(o);
  s.arm(o, 100);
  await vi.advanceTimersByTimeAsync(100);
  expect(o.clocks).toBe(1);
  expect(vi.getTimerCount()).toBe(0);
});
