// The Redis Streams journal on its own, against a real redis-server: exactly-once appends under a
// retried write (a reply lost between Redis and the sidecar), the entry-id scheme, retention
// (events per request, request count, TTL) and how a gap is reported.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JournalGone, JournalUnknown, type Retention } from '../../sidecar/events/journal.ts';
import { RedisJournal, type RedisJournalOptions } from '../../sidecar/events/redis/journal.ts';
import type { LifecycleEvent, LifecycleEventType } from '../../sidecar/events/types.ts';
import { RedisServer, hasRedis, storedEvents, until } from './support.ts';

const retention: Retention = { maxRequests: 1000, maxEventsPerRequest: 1000, maxBytes: 1 << 30, ttlMs: 60_000 };
let redis: RedisServer;
const journals: RedisJournal[] = [];
let n = 0;

function journal(opts: Partial<RedisJournalOptions> = {}): RedisJournal {
  const j = new RedisJournal({ url: redis.url, keyPrefix: `j${++n}:`, retention, ...opts });
  journals.push(j);
  return j;
}

const ev = (id: string, seq: number, type: LifecycleEventType = 'content.delta'): LifecycleEvent =>
  ({
  requestId: id,
  seq,
  ts: Date.now(),
  attempt: 1,
  type,
  data: type === 'content.delta' ? { choice: 0, text: `t${seq}` } : {},
  }) as LifecycleEvent;

function feed(j: RedisJournal, id: string, from: number, to: number, terminalAt?: number): void {
  for (let s = from; s <= to; s++) j.append(ev(id, s, s === 1 ? 'request.accepted' : s === terminalAt ? 'request.completed' : 'content.delta'));
}

async function collect(it: AsyncIterable<LifecycleEvent>): Promise<LifecycleEvent[]> {
  const out: LifecycleEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** A TCP proxy in front of Redis that can swallow the next reply and cut that connection: a lost reply. */
class LossyProxy {
  port = 0;
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  loseNextReply = false;
  cut = 0;

  async start(target: number): Promise<this> {
    this.server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (this.loseNextReply) {
          // Redis has applied the commands; their answer never arrives
          this.loseNextReply = false;
          this.cut++;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(d);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe.skipIf(!hasRedis)('Redis journal', () => {
  beforeAll(async () => {
    redis = await new RedisServer().start();
  });
  afterAll(async () => {
    for (const j of journals) await j.close();
    await redis?.stop();
  });

  test('one stream per request; entry ids are the seqs; replay is exactly the events after a seq', async () => {
    const j = journal();
    await j.connected(5000);
    feed(j, 'r1', 1, 10, 10);
    const r = await j.read('r1', 7);
    expect(r.status === 'ok' && r.events.map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(r.status === 'ok' && r.ended).toBe(true);
    const stored = await storedEvents(redis.client(), 'r1', j.keyPrefix);
    expect(stored.ids).toEqual(Array.from({ length: 10 }, (_, i) => `${i + 1}-0`));
    expect(stored.events.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(await j.read('nope', 0)).toEqual({ status: 'unknown' });
    await expect(j.check('nope', 0)).rejects.toBeInstanceOf(JournalUnknown);
    expect(await collect(j.follow('r1', 4, new AbortController().signal))).toEqual((await j.read('r1', 4)).status === 'ok' ? ((await j.read('r1', 4)) as { events: LifecycleEvent[] }).events : []);
  });

  test('exactly once: the same append written again (a retry) is recognised and not stored twice', async () => {
    const j = journal();
    await j.connected(5000);
    feed(j, 'dup', 1, 5);
    await j.settled();
    feed(j, 'dup', 3, 6, 6); // 3..5 again, as a retry would send them, then 6
    await j.settled();
    const stored = await storedEvents(redis.client(), 'dup', j.keyPrefix);
    expect(stored.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(j.stats().duplicates).toBe(3);
  });

  test('exactly once under a lost reply: Redis applied the batch, the answer was lost with the connection, the journal retried it on reconnect', async () => {
    const proxy = await new LossyProxy().start(redis.port);
    try {
      const j = journal({ url: `redis://127.0.0.1:${proxy.port}` });
      await j.connected(5000);
      feed(j, 'lost', 1, 5);
      await j.settled();
      proxy.loseNextReply = true;
      feed(j, 'lost', 6, 12, 12);
      await until('the cut', () => proxy.cut === 1);
      await until('the retry', () => j.stats().pending === 0 && j.stats().up, 10_000);
      const stored = await storedEvents(redis.client(), 'lost', j.keyPrefix);
      expect(stored.events.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(j.stats().duplicates).toBeGreaterThan(0); // the retried writes were already there
      expect(j.stats().dropped).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  test('retention: a request keeps its newest maxEventsPerRequest events; older seqs read as gone (410), like the memory journal', async () => {
    const j = journal({ retention: { ...retention, maxEventsPerRequest: 16 } });
    await j.connected(5000);
    feed(j, 'long', 1, 40, 40);
    await j.settled();
    expect(await redis.client().xlen(`${j.keyPrefix}{long}:s`)).toBe(16);
    expect(await j.read('long', 0)).toEqual({ status: 'gone' });
    await expect(j.check('long', 10)).rejects.toBeInstanceOf(JournalGone);
    const tail = await j.read('long', 30);
    expect(tail.status === 'ok' && tail.events.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 31 + i));
  });

  test('retention: past maxRequests the oldest requests are evicted and read as gone; keys expire (in flight: 2 TTLs, finished: 1 TTL)', async () => {
    const j = journal({ retention: { ...retention, maxRequests: 3, ttlMs: 5_000 } });
    await j.connected(5000);
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5']) {
      feed(j, id, 1, 3, 3);
      await j.settled();
    }
    feed(j, 'running', 1, 2);
    await j.settled();
    expect((await j.read('e1', 0)).status).toBe('gone');
    expect((await j.read('e2', 0)).status).toBe('gone');
    expect((await j.read('e5', 0)).status).toBe('ok');
    expect(j.stats().evictions).toBeGreaterThanOrEqual(3);
    const c = redis.client();
    const finished = await c.pttl(`${j.keyPrefix}{e5}:s`);
    const inflight = await c.pttl(`${j.keyPrefix}{running}:s`);
    expect(finished).toBeGreaterThan(0);
    expect(finished).toBeLessThanOrEqual(5_000);
    expect(inflight).toBeGreaterThan(5_000);
    expect(inflight).toBeLessThanOrEqual(10_000);
  });

  test('retention: past its TTL a request reads as gone, not unknown', async () => {
    const j = journal({ retention: { ...retention, ttlMs: 1_000 } });
    await j.connected(5000);
    feed(j, 'ttl', 1, 3, 3);
    await j.settled();
    await until('expiry', async () => (await redis.client().exists(`${j.keyPrefix}{ttl}:s`)) === 0, 5_000, 100);
    expect(await j.read('ttl', 0)).toEqual({ status: 'gone' });
    await expect(j.check('ttl', 0)).rejects.toBeInstanceOf(JournalGone);
  });

  test('a gap (events that never reached the store) is reported: the seq jumps, followers count it; nothing is renumbered', async () => {
    const j = journal();
    await j.connected(5000);
    feed(j, 'gap', 1, 3);
    feed(j, 'gap', 7, 9, 9); // 4..6 never arrived
    await j.settled();
    const r = await j.read('gap', 0);
    expect(r.status === 'ok' && r.events.map((e) => e.seq)).toEqual([1, 2, 3, 7, 8, 9]);
    const seen = await collect(j.follow('gap', 0, new AbortController().signal));
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 7, 8, 9]);
    expect(j.gapsSeen).toBe(1);
  });

  test('live follow from another journal (another process) over the one multiplexed XREAD, for many subscribers', async () => {
    const writer = journal({ keyPrefix: 'shared:' });
    const reader = journal({ keyPrefix: 'shared:' });
    await Promise.all([writer.connected(5000), reader.connected(5000)]);
    feed(writer, 'live', 1, 2);
    await writer.settled();
    const ac = new AbortController();
    const followers = Array.from({ length: 50 }, (_, i) => collect(reader.follow('live', i % 2, ac.signal)));
    for (let s = 3; s <= 30; s++) {
      writer.append(ev('live', s, s === 30 ? 'request.completed' : 'content.delta'));
      if (s % 5 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const all = await Promise.all(followers);
    all.forEach((got, i) => expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 30 - (i % 2) }, (_, k) => k + 1 + (i % 2))));
  });
});
