import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasRedis, RedisServer, until } from '../../../test/redis/support.ts';
import { JournalGone, JournalUnknown, type Retention } from '../journal.ts';
import type { LifecycleEvent, LifecycleEventType } from '../types.ts';
import { StoreLink } from './connection.ts';
import { KeyLayout } from './keys.ts';
import { READ_PAGE, StreamReader } from './reads.ts';
import { append, defineScripts } from './scripts.ts';

const retention: Retention = { maxRequests: 1000, maxEventsPerRequest: 5_000, maxBytes: 1 << 30, ttlMs: 60_000 };
const ev = (id: string, seq: number, type: LifecycleEventType = 'content.delta'): LifecycleEvent => ({ requestId: id, seq, ts: 1, attempt: 1, type, data: type === 'content.delta' ? { choice: 0, text: `t${seq}` } : {} }) as LifecycleEvent;
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(!hasRedis)('reads and replay on a real Redis', () => {
  let redis: RedisServer;
  let c: Redis;
  let reader: StreamReader;
  let waits = 0;
  const keys = new KeyLayout('rd:');

  async function store(id: string, from: number, to: number, terminalAt?: number, r = retention): Promise<void> {
    const p = c.pipeline();
    append(p, keys, { retention: r, owner: 'me', now: Date.now() }, [[id, seqs(from, to).map((s) => ev(id, s, s === terminalAt ? 'request.completed' : 'content.delta'))]]);
    await p.exec();
  }

  beforeAll(async () => {
    redis = await new RedisServer().start();
    c = redis.client();
    defineScripts(c);
    await until('client ready', () => c.status === 'ready');
    reader = new StreamReader(new StoreLink(c, redis.url, undefined, undefined), keys, async () => void waits++);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test("read: exactly the events after a seq, `ended` once the terminal event is stored; it first waits for this process's own queued writes", async () => {
    await store('r', 1, 4);
    const before = waits;
    expect(await reader.read('r', 2)).toEqual({ status: 'ok', events: [ev('r', 3), ev('r', 4)], ended: false });
    expect(waits).toBe(before + 1);
    await store('r', 5, 5, 5);
    const r = await reader.read('r', 0);
    expect(r.status === 'ok' && [r.events.map((e) => e.seq), r.ended]).toEqual([seqs(1, 5), true]);
  });

  test(`a stream longer than a page (${READ_PAGE} entries) is read page by page and handed back whole, in order`, async () => {
    await store('long', 1, 2 * READ_PAGE + 7, 2 * READ_PAGE + 7);
    const r = await reader.read('long', 3);
    expect(r.status === 'ok' && r.events.map((e) => e.seq)).toEqual(seqs(4, 2 * READ_PAGE + 7));
    const page = await reader.range('long', 10, 5);
    expect([page.events.map((e) => e.seq), page.firstSeq]).toEqual([seqs(10, 14), 1]);
  });

  test('never kept: unknown (404); evicted by the count bound: gone (410); trimmed past the asked-for seq: gone, while the kept tail still reads', async () => {
    expect(await reader.read('never', 0)).toEqual({ status: 'unknown' });
    await expect(reader.check('never', 0)).rejects.toBeInstanceOf(JournalUnknown);

    await c.zadd(keys.gone, Date.now(), 'evicted');
    expect(await reader.read('evicted', 0)).toEqual({ status: 'gone' });
    await expect(reader.check('evicted', 0)).rejects.toBeInstanceOf(JournalGone);

    await store('trimmed', 1, 30, 30, { ...retention, maxEventsPerRequest: 10 });
    expect(await reader.read('trimmed', 5)).toEqual({ status: 'gone' });
    await expect(reader.check('trimmed', 5)).rejects.toBeInstanceOf(JournalGone);
    const tail = await reader.read('trimmed', 25);
    expect(tail.status === 'ok' && tail.events.map((e) => e.seq)).toEqual(seqs(26, 30));
    await expect(reader.check('trimmed', 25)).resolves.toBeUndefined();
  });
});
