import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasRedis, RedisServer, storedEvents, until } from '../../../test/redis/support.ts';
import type { Retention } from '../journal.ts';
import type { LifecycleEvent } from '../types.ts';
import { StoreLink } from './connection.ts';
import { KeyLayout } from './keys.ts';
import { Ownership } from './ownership.ts';
import { append, defineScripts } from './scripts.ts';

const retention: Retention = { maxRequests: 1000, maxEventsPerRequest: 1000, maxBytes: 1 << 30, ttlMs: 60_000 };

describe('lost requests', () => {
  test('each request another sidecar ended is reported once, however many of its writes come back refused', () => {
    const idle = new Redis({ lazyConnect: true });
    const o = new Ownership(new StoreLink(idle, 'redis://idle', undefined, undefined), new KeyLayout('o:'), 'me', 10_000, () => retention, undefined);
    try {
      const lost: string[] = [];
      o.onLost = (id) => lost.push(id);
      for (const id of ['a', 'a', 'b', 'a', 'b']) o.lost(id);
      expect(lost).toEqual(['a', 'b']);
    } finally {
      o.close();
      idle.disconnect();
    }
  });
});

describe.skipIf(!hasRedis)('leases and takeover on a real Redis', () => {
  let redis: RedisServer;
  let c: Redis;
  let link: StoreLink;
  const keys = new KeyLayout('own:');
  const owners: Ownership[] = [];
  const ownership = (instance: string, leaseMs = 10_000) => {
    const o = new Ownership(link, keys, instance, leaseMs, () => retention, undefined);
    owners.push(o);
    return o;
  };

  beforeAll(async () => {
    redis = await new RedisServer().start();
    c = redis.client();
    defineScripts(c);
    await until('client ready', () => c.status === 'ready');
    link = new StoreLink(c, redis.url, undefined, undefined);
  });
  afterAll(async () => {
    for (const o of owners) o.close();
    await redis?.stop();
  });

  test("a heartbeat holds the process's lease for one lease (PX) and reads the store's request count; alive() sees the lease", async () => {
    await c.zadd(keys.live, 1, 'x', 2, 'y');
    const a = ownership('A', 5_000);
    expect(await a.alive('A')).toBe(false);
    a.beat();
    await until('the lease', async () => (await c.exists(keys.lease('A'))) === 1);
    const ttl = await c.pttl(keys.lease('A'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
    expect(await a.alive('A')).toBe(true);
    await until('the count', () => a.requests === 2);
  });

  test('a request is taken over only once its owner has no lease, by exactly one taker, who is told; the owner is never told it took over', async () => {
    const p = c.pipeline();
    append(p, keys, { retention, owner: 'B', now: Date.now() }, [['req', [{ requestId: 'req', seq: 1, ts: 1, attempt: 0, type: 'request.accepted', data: {} } as LifecycleEvent]]]);
    await p.exec();
    const owner = ownership('B');
    const takers = [ownership('T1'), ownership('T2')];
    const told: string[] = [];
    owner.onTakenOver = (id) => told.push(`B:${id}`);
    takers.forEach((t, i) => (t.onTakenOver = (id) => told.push(`T${i + 1}:${id}`)));

    owner.beat();
    await until('the lease', async () => (await c.exists(keys.lease('B'))) === 1);
    expect((await takers[0]!.takeover('req')).status).toBe('alive');

    owner.close(); // a stopped process: no more heartbeats, and its lease goes
    await c.del(keys.lease('B'));
    const results = await Promise.all(takers.map((t) => t.takeover('req')));
    expect(results.map((r) => r.status).sort()).toEqual(['ended', 'taken']);
    expect(told).toEqual([results[0]!.status === 'taken' ? 'T1:req' : 'T2:req']);
    const stored = await storedEvents(c, 'req', keys.prefix);
    expect(stored.events.map((e) => e.type)).toEqual(['request.accepted', 'request.failed']);
    expect(stored.events[1]!.data).toMatchObject({ error: { code: 'unavailable', reason: 'sidecar_restarted' } });
  });
});
