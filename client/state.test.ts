import { expect, test } from 'vitest';
import { initialState, reduce, type LifecycleEvent } from './state.ts';

let seq = 0;
// Only the fields the reducer reads: events from a real sidecar carry more.
const ev = (type: LifecycleEvent['type'], data: Record<string, unknown> = {}, attempt = 1): LifecycleEvent => ({ requestId: 'r', seq: ++seq, ts: seq, attempt, type, data }) as LifecycleEvent;

test('folds a lifecycle with a retry and a resume into one state; replayed events change nothing', () => {
  seq = 0;
  const events = [
    ev('request.accepted', {}, 0),
    ev('attempt.started', { backend: 'a', model: 'm' }),
    ev('attempt.failed'),
    ev('retry.scheduled'),
    ev('attempt.started', { backend: 'a', model: 'm' }, 2),
    ev('content.delta', { choice: 0, text: 'Hel' }, 2),
    ev('content.delta', { choice: 1, text: 'other choice' }, 2),
    ev('attempt.failed', {}, 2),
    ev('checkpoint', {}, 2),
    ev('attempt.started', { backend: 'b', model: 'mb' }, 3),
    ev('stream.resumed', {}, 3),
    ev('content.delta', { choice: 0, text: 'lo' }, 3),
    ev('request.completed', { usage: { inputTokens: 3, outputTokens: 2 }, backend: 'b' }, 3),
  ];
  let s = initialState('r');
  for (const e of events) s = reduce(s, e);
  expect(s).toEqual({
    id: 'r',
    status: 'completed',
    text: 'Hello',
    attempts: 3,
    retries: 1,
    fallbacks: 0,
    resumes: 1,
    resumedAt: [3],
    backend: 'b',
    model: 'mb',
    usage: { inputTokens: 3, outputTokens: 2 },
    lastSeq: 13,
    gap: false,
  });
  // a reconnect replays from an older seq: idempotent
  let again = s;
  for (const e of events.slice(4)) again = reduce(again, e);
  expect(again).toBe(s);
});

test('a skipped seq is flagged, a failure carries its error', () => {
  seq = 0;
  let s = reduce(initialState('r'), ev('request.accepted'));
  seq++; // lost event
  s = reduce(s, ev('request.failed', { error: { code: 'stream_interrupted', message: 'boom', status: 502 } }));
  expect(s.gap).toBe(true);
  expect(s.status).toBe('failed');
  expect(s.error).toEqual({ code: 'stream_interrupted', message: 'boom', status: 502 });
});
