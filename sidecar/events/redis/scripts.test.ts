// The Lua scripts against a real redis-server (skipped without one, failing in CI).
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasRedis, RedisServer, storedEvents } from '../../../test/redis/support.ts';
import type { Retention } from '../journal.ts';
import type { LifecycleEvent, LifecycleEventType } from '../types.ts';
import { KeyLayout } from './keys.ts';
import { append, appendReply, defineScripts, takeover, writeRecord, type RecordWrite, type TakeoverArgs } from './scripts.ts';

const retention: Retention = { maxRequests: 1000, maxEventsPerRequest: 1000, maxBytes: 1 << 30, ttlMs: 60_000 };
let redis: RedisServer;
let c: Redis;
let n = 0;

const ev = (id: string, seq: number, type: LifecycleEventType = 'content.delta', attempt = 1): LifecycleEvent => ({ requestId: id, seq, ts: 1_000 + seq, attempt, type, data: type === 'content.delta' ? { choice: 0, text: `t${seq}` } : {} }) as LifecycleEvent;

async function appendNow(keys: KeyLayout, byRequest: [string, LifecycleEvent[]][], r: Retention = retention, owner = 'A') {
  const p = c.pipeline();
  append(p, keys, { retention: r, owner, now: Date.now() }, byRequest);
  const [[err, reply]] = (await p.exec()) as [[Error | null, unknown]];
  if (err) throw err;
  return appendReply(reply);
}

async function recordNow(keys: KeyLayout, w: Partial<RecordWrite> & { id: string }, instance = 'A') {
  const p = c.pipeline();
  writeRecord(p, keys, { json: '{"v":1}', status: 'running', finished: false, idemKey: undefined, ...w }, retention.ttlMs, instance);
  const [[err, reply]] = (await p.exec()) as [[Error | null, unknown]];
  if (err) throw err;
  return reply;
}

const takeoverArgs = (id: string, taker = 'B'): TakeoverArgs => ({
  id,
  now: 5_000,
  retention,
  taker,
  message: 'owner gone',
  error: { openai: { error: { code: 'unavailable' } }, anthropic: { type: 'error', error: { type: 'api_error' } } },
});

describe.skipIf(!hasRedis)('journal Lua scripts on a real Redis', () => {
  let keys: KeyLayout;
  beforeAll(async () => {
    redis = await new RedisServer().start();
    c = redis.client();
    defineScripts(c);
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const fresh = () => (keys = new KeyLayout(`s${++n}:`));

  test("append: each event under <seq>-0 in the stream keys.ts names; the meta gets owner and created; the request joins P:live", async () => {
    fresh();
    const got = await appendNow(keys, [['r1', [ev('r1', 1, 'request.accepted'), ev('r1', 2)]]]);
    expect(got).toEqual({ evicted: 0, codes: [1, 1] });
    const stored = await storedEvents(c, 'r1', keys.prefix);
    expect(stored.ids).toEqual(['1-0', '2-0']);
    expect(await c.exists(keys.stream('r1'), keys.meta('r1'))).toBe(2);
    expect(await c.hget(keys.meta('r1'), 'o')).toBe('A');
    expect(await c.hexists(keys.meta('r1'), 'c')).toBe(1);
    expect(await c.zscore(keys.live, 'r1')).not.toBeNull();
  });

  test('append again (a retried write whose reply was lost): code 0, stored once; events of several requests in one call keep their own order', async () => {
    fresh();
    await appendNow(keys, [['a', [ev('a', 1), ev('a', 2)]]]);
    const got = await appendNow(keys, [
      ['a', [ev('a', 1), ev('a', 2), ev('a', 3)]],
      ['b', [ev('b', 1), ev('b', 2)]],
    ]);
    expect(got.codes).toEqual([0, 0, 1, 1, 1]);
    expect((await storedEvents(c, 'a', keys.prefix)).ids).toEqual(['1-0', '2-0', '3-0']);
    expect((await storedEvents(c, 'b', keys.prefix)).ids).toEqual(['1-0', '2-0']);
  });

  test('the terminal event marks the end (meta e) and shortens expiry from two TTLs (in flight) to one; after it, only a retry of what was written is accepted', async () => {
    fresh();
    await appendNow(keys, [['t', [ev('t', 1)]]]);
    expect(await c.pttl(keys.stream('t'))).toBeGreaterThan(retention.ttlMs);
    expect((await appendNow(keys, [['t', [ev('t', 2, 'request.completed')]]])).codes).toEqual([1]);
    expect(await c.hget(keys.meta('t'), 'e')).toBe('2');
    expect(await c.pttl(keys.stream('t'))).toBeLessThanOrEqual(retention.ttlMs);
    expect(await c.pttl(keys.meta('t'))).toBeLessThanOrEqual(retention.ttlMs);
    // seq 1 and our own terminal again: retried writes; seq 3 cannot follow an end
    expect((await appendNow(keys, [['t', [ev('t', 1), ev('t', 2, 'request.completed'), ev('t', 3)]]])).codes).toEqual([0, 0, -1]);
    expect((await storedEvents(c, 't', keys.prefix)).ids).toEqual(['1-0', '2-0']);
  });

  test('count bound: past maxRequests the oldest request is deleted and remembered in P:gone; the gone set itself is bounded', async () => {
    fresh();
    const small = { ...retention, maxRequests: 2 };
    for (const id of ['o1', 'o2']) await appendNow(keys, [[id, [ev(id, 1)]]], small);
    expect((await appendNow(keys, [['o3', [ev('o3', 1)]]], small)).evicted).toBe(1);
    expect(await c.exists(keys.stream('o1'), keys.meta('o1'))).toBe(0);
    expect(await c.zscore(keys.gone, 'o1')).not.toBeNull();
    expect(await c.zrange(keys.live, '0', '-1')).toEqual(['o2', 'o3']);

    // maxRequests 1 and 1,100 requests in one call: every earlier one evicted, the gone set kept at its cap (1,000 here)
    // (one call shares one `now`, and Redis orders equal scores by member: the ids sort in arrival order)
    fresh();
    const ids = Array.from({ length: 1_100 }, (_, i) => `m${String(i).padStart(4, '0')}`);
    const many = ids.map((id): [string, LifecycleEvent[]] => [id, [ev(id, 1)]]);
    const got = await appendNow(keys, many, { ...retention, maxRequests: 1 });
    expect(got.evicted).toBe(1_099);
    expect(await c.zcard(keys.live)).toBe(1);
    expect(await c.zcard(keys.gone)).toBe(1_000);
  });

  test('record write: 1 while the request is kept; 0 once its keys are gone (never resurrected); a finished record expires with its idempotency key', async () => {
    fresh();
    await appendNow(keys, [['rec', [ev('rec', 1)]]]);
    await c.set(`${keys.prefix}idem:k`, 'rec\nhash', 'PX', 10 * retention.ttlMs);
    expect(await recordNow(keys, { id: 'rec', json: '{"v":2}', status: 'completed', finished: true, idemKey: `${keys.prefix}idem:k` })).toBe(1);
    expect(await c.hmget(keys.meta('rec'), 'r', 'st')).toEqual(['{"v":2}', 'completed']);
    expect(await c.pttl(`${keys.prefix}idem:k`)).toBeLessThanOrEqual(retention.ttlMs);
    expect(await recordNow(keys, { id: 'never' })).toBe(0);
    expect(await c.exists(keys.meta('never'))).toBe(0);
  });

  test('takeover: unknown without meta, alive while the owner holds its lease, else one request.failed (sidecar_restarted) at the next seq; a second takeover finds it ended', async () => {
    fresh();
    expect(await takeover(c, keys, takeoverArgs('none'))).toEqual({ status: 'unknown' });
    await appendNow(keys, [['tk', [ev('tk', 1, 'request.accepted', 0), ev('tk', 2, 'content.delta', 2), ev('tk', 3, 'content.delta', 2)]]]);
    await c.set(keys.lease('A'), '1', 'PX', 10_000);
    expect(await takeover(c, keys, takeoverArgs('tk'))).toEqual({ status: 'alive' });
    await c.del(keys.lease('A'));
    const t = await takeover(c, keys, takeoverArgs('tk'));
    expect(t).toEqual({
      status: 'taken',
      event: { requestId: 'tk', seq: 4, ts: 5_000, attempt: 2, type: 'request.failed', data: { error: { code: 'unavailable', status: 503, message: 'owner gone', reason: 'sidecar_restarted' }, attempts: 2 } },
    });
    expect((await storedEvents(c, 'tk', keys.prefix)).events.at(-1)).toEqual((t as { event: LifecycleEvent }).event);
    expect(await c.hmget(keys.meta('tk'), 'e', 'tk')).toEqual(['4', 'B']);
    expect(await takeover(c, keys, takeoverArgs('tk', 'C'))).toEqual({ status: 'ended' });
  });

  test("after a takeover the old owner's writes are refused (-1): a later event, its own terminal event, its record; an older seq reads as a retry", async () => {
    fresh();
    await appendNow(keys, [['gone-owner', [ev('gone-owner', 1), ev('gone-owner', 2)]]]);
    await takeover(c, keys, takeoverArgs('gone-owner'));
    expect((await appendNow(keys, [['gone-owner', [ev('gone-owner', 1), ev('gone-owner', 3, 'request.completed'), ev('gone-owner', 4)]]])).codes).toEqual([0, -1, -1]);
    expect(await recordNow(keys, { id: 'gone-owner', status: 'completed', finished: true })).toBe(-1);
    expect(await recordNow(keys, { id: 'gone-owner', status: 'failed' }, 'B')).toBe(1);
  });

  test("takeover of an async request: a record the owner had completed ends as request.completed (recovered); a running one is marked failed with the error in the endpoint's format", async () => {
    fresh();
    for (const [id, st, format] of [
      ['done', 'completed', 'openai'],
      ['running', 'running', 'anthropic'],
    ] as const) {
      await appendNow(keys, [[id, [ev(id, 1)]]]);
      await c.hset(keys.meta(id), 'r', '{}', 'st', st, 'f', format);
    }
    const done = await takeover(c, keys, takeoverArgs('done'));
    expect(done.status === 'taken' && [done.event.type, done.event.data]).toEqual(['request.completed', { attempts: 1, recovered: true }]);
    await takeover(c, keys, takeoverArgs('running'));
    const h = await c.hgetall(keys.meta('running'));
    expect([h.st, JSON.parse(h.te!), h.tu, h.ta]).toEqual(['failed', { type: 'error', error: { type: 'api_error' } }, '5000', '1']);
  });
});
