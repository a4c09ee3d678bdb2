import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasRedis, RedisServer, storedEvents, until } from '../../../test/redis/support.ts';
import type { Retention } from '../journal.ts';
import type { LifecycleEvent, LifecycleEventType } from '../types.ts';
import { MAX_CALL, planCalls, RedisBatchWriter } from './batch-writer.ts';
import { StoreLink } from './connection.ts';
import { KeyLayout } from './keys.ts';
import { defineScripts } from './scripts.ts';
import type { WriteOp } from './write-queue.ts';

const ev = (id: string, seq: number, type: LifecycleEventType = 'content.delta'): WriteOp => ({
  kind: 'event',
  ev: { requestId: id, seq, ts: 1, attempt: 1, type, data: type === 'content.delta' ? { choice: 0, text: `t${seq}` } : {} } as LifecycleEvent,
  size: 200,
});
const record = (id: string, status = 'completed'): WriteOp => ({ kind: 'record', id, json: `{"status":"${status}"}`, status, finished: status !== 'running', idemKey: undefined, size: 200 });

describe('a batch as script calls', () => {
  test("events of several requests share one call, grouped by request, each request's in queue order", () => {
    const calls = planCalls([ev('a', 1), ev('b', 1), ev('a', 2), ev('b', 2), ev('a', 3)]);
    expect(calls).toEqual([{ kind: 'events', size: 5, byRequest: new Map([['a', [0, 2, 4]], ['b', [1, 3]]]) }]);
  });

  test('a record write closes the call before it: the events after it go in a new call, so it lands between them', () => {
    const calls = planCalls([ev('a', 1), record('a'), ev('a', 2)]);
    expect(calls.map((c) => (c.kind === 'record' ? `record@${c.op}` : [...c.byRequest.values()].flat().join(',')))).toEqual(['0', 'record@1', '2']);
  });

  test(`a call holds at most ${MAX_CALL} events (bounds how long one script holds Redis)`, () => {
    const calls = planCalls(Array.from({ length: 2 * MAX_CALL + 1 }, (_, i) => ev(`r${i % 3}`, i + 1)));
    expect(calls.map((c) => c.kind === 'events' && c.size)).toEqual([MAX_CALL, MAX_CALL, 1]);
  });
});

describe.skipIf(!hasRedis)('RedisBatchWriter on a real Redis', () => {
  const retention: Retention = { maxRequests: 1000, maxEventsPerRequest: 1000, maxBytes: 1 << 30, ttlMs: 60_000 };
  let redis: RedisServer;
  let c: Redis;
  let writer: RedisBatchWriter;
  const keys = new KeyLayout('bw:');
  beforeAll(async () => {
    redis = await new RedisServer().start();
    c = redis.client();
    defineScripts(c);
    await until('client ready', () => c.status === 'ready');
    writer = new RedisBatchWriter(new StoreLink(c, redis.url, undefined, undefined), keys, 'me', () => retention);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test('one pipeline: an outcome per op, at its position in the batch; a record lands after the events queued before it', async () => {
    expect(writer.ready).toBe(true);
    const batch = [ev('x', 1, 'request.accepted'), ev('y', 1, 'request.accepted'), ev('x', 2), record('x', 'running'), ev('x', 2), ev('y', 2, 'request.completed')];
    const out = await writer.write(batch);
    expect(out.map((o) => ('code' in o ? o.code : o.error.message))).toEqual([1, 1, 1, 1, 0, 1]);
    expect((await storedEvents(c, 'x', keys.prefix)).ids).toEqual(['1-0', '2-0']);
    expect((await storedEvents(c, 'y', keys.prefix)).ids).toEqual(['1-0', '2-0']);
    expect(await c.hget(keys.meta('x'), 'o')).toBe('me');
    expect(await c.hget(keys.meta('x'), 'st')).toBe('running');
  });

  test('a call Redis refuses fails only the ops of that call; the others are written', async () => {
    await c.set(keys.meta('bad'), 'not a hash'); // HGET on it is refused: WRONGTYPE
    const out = await writer.write([ev('ok1', 1), record('z'), ev('bad', 1)]);
    expect('code' in out[0]! && out[0].code).toBe(1);
    expect('code' in out[1]! && out[1].code).toBe(0); // no such request: a record is never resurrected
    expect('error' in out[2]! && out[2].error.message).toMatch(/WRONGTYPE/);
  });
});
