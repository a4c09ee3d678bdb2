import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasRedis, RedisServer, sleep, until } from '../../../test/redis/support.ts';
import { JournalGone, type Retention } from '../journal.ts';
import type { LifecycleEvent, LifecycleEventType } from '../types.ts';
import { connectionOptions, StoreLink } from './connection.ts';
import { LiveFollower } from './follower.ts';
import { KeyLayout, type StreamEntry } from './keys.ts';
import { StreamReader } from './reads.ts';
import { append, defineScripts } from './scripts.ts';

const retention: Retention = { maxRequests: 1000, maxEventsPerRequest: 10_000, maxBytes: 1 << 30, ttlMs: 60_000 };
const ev = (id: string, seq: number, type: LifecycleEventType = 'content.delta'): LifecycleEvent => ({ requestId: id, seq, ts: 1, attempt: 1, type, data: type === 'content.delta' ? { choice: 0, text: `t${seq}` } : {} }) as LifecycleEvent;
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function collect(it: AsyncIterable<LifecycleEvent>): Promise<number[]> {
  const out: number[] = [];
  for await (const e of it) out.push(e.seq);
  return out;
}

describe.skipIf(!hasRedis)('live follower on a real Redis', () => {
  let redis: RedisServer;
  let client: Redis;
  let link: StoreLink;
  let n = 0;
  const followers: LiveFollower[] = [];

  function follower(leaseMs = 60_000, takeover: (id: string) => Promise<{ status: string }> = async () => ({ status: 'alive' })) {
    const keys = new KeyLayout(`fl${++n}:`);
    const inbox: StreamEntry[] = [];
    const poller = new Redis(connectionOptions(redis.url, undefined, `airoute-follow:test${n}`));
    poller.on('error', () => undefined);
    const f = new LiveFollower({
      poller,
      link,
      keys,
      reader: new StreamReader(link, keys, async () => undefined),
      inbox: { key: keys.control('me'), receive: (entries) => inbox.push(...entries) },
      leaseMs,
      takeover,
      logger: undefined,
    });
    followers.push(f);
    const write = async (id: string, from: number, to: number, terminalAt?: number) => {
      const p = client.pipeline();
      append(p, keys, { retention, owner: 'writer', now: Date.now() }, [[id, seqs(from, to).map((s) => ev(id, s, s === terminalAt ? 'request.completed' : s === 1 ? 'request.accepted' : 'content.delta'))]]);
      await p.exec();
    };
    return { f, keys, inbox, write, poller };
  }

  beforeAll(async () => {
    redis = await new RedisServer().start();
    client = new Redis(connectionOptions(redis.url, undefined, 'airoute:test'));
    defineScripts(client);
    link = new StoreLink(client, redis.url, undefined, undefined);
    await link.connected(10_000);
  });
  afterAll(async () => {
    for (const f of followers) await f.close();
    client?.disconnect();
    await redis?.stop();
  });

  test('40 subscribers on two streams each get every event, in order, to the terminal one, over one XREAD connection (subscribers hold none)', async () => {
    const { f, write, poller } = follower();
    await until('poller ready', () => poller.status === 'ready');
    await write('a', 1, 1);
    await write('b', 1, 1);
    const connections = async () => ((await client.call('CLIENT', 'LIST')) as string).trim().split('\n');
    const before = await connections();
    expect(before.filter((c) => c.includes(`name=airoute-follow:test${n}`)).length).toBe(1);
    const ac = new AbortController();
    const runs = Array.from({ length: 40 }, (_, i) => collect(f.follow(i % 2 ? 'b' : 'a', i % 4 < 2 ? 0 : 1, ac.signal)));
    await sleep(50);
    expect((await connections()).length).toBe(before.length);
    for (let s = 2; s <= 30; s += 4) {
      await write('a', s, Math.min(s + 3, 30), 30);
      await write('b', s, Math.min(s + 3, 30), 30);
    }
    const got = await Promise.all(runs);
    got.forEach((seen, i) => expect(seen).toEqual(seqs(i % 4 < 2 ? 1 : 2, 30)));
    expect(f.gaps).toBe(0);
  });

  test("this process's control stream is read in the same XREAD and handed to its inbox", async () => {
    const { keys, inbox, poller } = follower();
    await until('poller ready', () => poller.status === 'ready');
    await client.xadd(keys.control('me'), '*', 'm', '{"op":"cancel","id":"x"}');
    await until('the message', () => inbox.length === 1);
    expect(inbox[0]![1]).toEqual(['m', '{"op":"cancel","id":"x"}']);
  });

  test('a subscriber that does not read while 3,000 events arrive (past its queue bound) still gets every one, in order, once', async () => {
    const { f, write } = follower();
    await write('slow', 1, 1);
    const it = f.follow('slow', 1, new AbortController().signal)[Symbol.asyncIterator]();
    const first = it.next();
    await sleep(50);
    await write('slow', 2, 3_002, 3_002);
    expect((await first).value?.seq).toBe(2);
    await sleep(300); // the poller keeps fanning out meanwhile: the unread queue overflows and is dropped
    const rest: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.seq);
    expect(rest).toEqual(seqs(3, 3_002));
    expect(f.gaps).toBe(0);
  });

  test('a followed stream quiet for a lease: one takeover attempt for the stream, not one per subscriber; when its request is unknown, its subscribers end with gone', async () => {
    const asked: string[] = [];
    const { f, write } = follower(1_000, async (id) => {
      asked.push(id);
      return { status: 'unknown' };
    });
    await write('quiet', 1, 1);
    const ac = new AbortController();
    const runs = Array.from({ length: 3 }, () => collect(f.follow('quiet', 1, ac.signal)).catch((e: unknown) => e));
    const ends = await Promise.all(runs);
    for (const e of ends) expect(e).toBeInstanceOf(JournalGone);
    expect(asked).toEqual(['quiet']);
  });

  test('close ends every follow: the iterators return, nothing is left waiting', async () => {
    const { f, write } = follower();
    await write('open', 1, 1);
    const run = collect(f.follow('open', 0, new AbortController().signal));
    await sleep(50);
    await f.close();
    expect(await run).toEqual([1]);
  });
});
