import { expect, test } from 'vitest';
import type { LifecycleEvent } from './state.ts';
import { timeline } from './timeline.ts';

const T0 = 1_700_000_000_000;
/** Steps of [ms since start, attempt, type, the fields the timeline reads]; events from a real sidecar carry more. */
function script(steps: [number, number, LifecycleEvent['type'], Record<string, unknown>?][]): LifecycleEvent[] {
  return steps.map(([ms, attempt, type, data = {}], i) => ({ requestId: 'r', seq: i + 1, ts: T0 + ms, attempt, type, data }) as LifecycleEvent);
}

test('a 429, a Retry-After wait, then an answer: two lanes with the wait between them, ended by the terminal event', () => {
  const t = timeline(
    script([
      [0, 0, 'request.accepted'],
      [1, 1, 'attempt.started', { backend: 'b', model: 'm', mode: 'fresh' }],
      [3, 1, 'attempt.failed', { code: 'upstream_rate_limited', phase: 'headers', status: 429, retriable: true, message: 'slow down' }],
      [3, 1, 'retry.scheduled', { delayMs: 1000, retryAfterMs: 1000, reason: 'upstream_rate_limited' }],
      [1004, 2, 'attempt.started', { backend: 'b', model: 'm', mode: 'fresh' }],
      [1044, 2, 'content.delta', { choice: 0, text: 'Hi' }],
      [1084, 2, 'content.delta', { choice: 0, text: ' there' }],
      [1100, 2, 'request.completed', {}],
    ]),
  );
  expect(t.lanes).toEqual([
    { attempt: 1, backend: 'b', model: 'm', mode: 'fresh', start: 1, end: 3, deltas: 0, chars: 0, failure: { at: 3, code: 'upstream_rate_limited', phase: 'headers', status: 429, retriable: true, message: 'slow down' } },
    { attempt: 2, backend: 'b', model: 'm', mode: 'fresh', start: 1004, end: 1100, firstContent: 1044, deltas: 2, chars: 8 },
  ]);
  // the wait ends when the retry really started, not when it was planned to
  expect(t.waits).toEqual([{ after: 1, start: 3, end: 1004, delayMs: 1000, retryAfterMs: 1000, reason: 'upstream_rate_limited' }]);
  expect(t.hops).toEqual([]);
  expect(t.terminal).toEqual({ at: 1100, type: 'request.completed' });
  expect(t.now).toBe(1100);
});

test('a stream cut and resumed on a fallback: the checkpoint sits on the lane that broke, the resume on the lane that continued', () => {
  const t = timeline(
    script([
      [0, 0, 'request.accepted'],
      [0, 1, 'attempt.started', { backend: 'a', model: 'ma', mode: 'fresh' }],
      [40, 1, 'content.delta', { choice: 0, text: 'Hello' }],
      [90, 1, 'attempt.failed', { code: 'upstream_reset', phase: 'stream', status: 502, retriable: true, message: 'reset' }],
      [90, 1, 'checkpoint', { deliveredChars: 5, attempt: 1, backend: 'a' }],
      [92, 1, 'fallback', { from: 'a', to: 'b', reason: 'retries_exhausted' }],
      [92, 2, 'attempt.started', { backend: 'b', model: 'mb', mode: 'prefill' }],
      [130, 2, 'stream.resumed', { fromChars: 5, mode: 'prefill' }],
      [130, 2, 'content.delta', { choice: 0, text: ' world' }],
      [150, 2, 'request.completed', {}],
    ]),
  );
  expect(t.lanes.map((l) => [l.attempt, l.backend, l.mode, l.start, l.end])).toEqual([
    [1, 'a', 'fresh', 0, 90],
    [2, 'b', 'prefill', 92, 150],
  ]);
  expect(t.lanes[0]!.checkpoint).toEqual({ at: 90, deliveredChars: 5 });
  expect(t.lanes[0]!.resumed).toBeUndefined();
  expect(t.lanes[1]!.resumed).toEqual({ at: 130, fromChars: 5 });
  expect(t.lanes[1]!.checkpoint).toBeUndefined();
  expect(t.hops).toEqual([{ at: 92, from: 'a', to: 'b', reason: 'retries_exhausted', after: 1 }]);
});

test('a failed request carries its error code on the terminal; replayed events change nothing; a running request has open lanes', () => {
  const events = script([
    [0, 0, 'request.accepted'],
    [5, 1, 'attempt.started', { backend: 'a', model: 'm' }],
    [60, 1, 'content.delta', { choice: 0, text: 'x' }],
  ]);
  const running = timeline(events);
  expect(running.lanes[0]).toMatchObject({ mode: 'fresh', start: 5, firstContent: 60 });
  expect(running.lanes[0]!.end).toBeUndefined();
  expect(running.terminal).toBeUndefined();
  const failed: LifecycleEvent[] = [...events, { requestId: 'r', seq: 4, ts: T0 + 80, attempt: 1, type: 'request.failed', data: { error: { code: 'stream_diverged', status: 502, message: 'diverged' }, attempts: 1 } }];
  const t = timeline([...failed, ...failed]);
  expect(t.terminal).toEqual({ at: 80, type: 'request.failed', code: 'stream_diverged', message: 'diverged' });
  expect(t.lanes).toHaveLength(1);
  expect(t.lanes[0]!.deltas).toBe(1);
  expect(t.lanes[0]!.end).toBe(80);
});
