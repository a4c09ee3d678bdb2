// Redis restarted under load. With persistence (AOF, fsync always: what a production Redis that
// must keep the lifecycle runs), a restart loses nothing: writes in flight when it died are
// retried on reconnect and the explicit ids keep them from being stored twice. When events
// cannot be kept (the buffer is full while Redis is down, or Redis restarts without its data),
// the loss is reported: a jump in seq that readers see, `dropped` that the metrics count, or a
// 410 for what is gone, never a duplicate or a renumbered event.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import type { RedisJournal } from '../../sidecar/events/redis/journal.ts';
import { MockProvider } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { RedisServer, hasRedis, readSse, sleep, storedEvents, until, wellFormed } from './support.ts';

const WORDS = Array.from({ length: 24 }, (_, i) => `w${i}`).join(' ');
let mock: MockProvider;

const config = (url: string, keyPrefix: string) => ({
  backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${mock.url}/v1` }],
  routes: [{ model: 'chat', backends: [{ backend: 'a' }] }],
  journal: { type: 'redis', url, keyPrefix },
});

/** Sync streaming requests from `workers` clients until `stop()`; every id and whether the client got the whole answer. */
function load(sc: TestSidecar, workers: number) {
  let running = true;
  const ids: string[] = [];
  let incomplete = 0;
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (running) {
        const res = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] }) });
        ids.push(res.headers.get('x-airoute-request-id')!);
        const text = await res.text();
        if (!text.includes('[DONE]') || !text.includes('w23')) incomplete++;
      }
    }),
  );
  return {
    ids,
    get incomplete() {
      return incomplete;
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

function seqsOf(evs: LifecycleEvent[]): number[] {
  return evs.map((e) => e.seq);
}

describe.skipIf(!hasRedis)('Redis restarted under load', () => {
  beforeAll(async () => {
    mock = await new MockProvider().start();
    mock.answer = { text: WORDS, intervalMs: 4 };
  });
  afterAll(async () => {
    await mock?.stop();
  });

  test('with persistence: every request complete and gapless, no event twice (writes in flight when it died are retried, idempotently)', async () => {
    const redis = await new RedisServer({ persist: true }).start();
    const sc = await testSidecar(config(redis.url, 'rs:'));
    try {
      const l = load(sc, 8);
      await sleep(700);
      await redis.restart(); // kill -9, start again on the same port with its AOF
      await sleep(700);
      await l.stop();
      const j = sc.journal as RedisJournal;
      await until('writes settled', () => j.stats().pending === 0 && j.stats().up, 10_000);
      expect(l.incomplete).toBe(0); // sync clients never noticed
      expect(l.ids.length).toBeGreaterThan(20);
      expect(j.stats().dropped).toBe(0);
      const c = redis.client();
      for (const id of l.ids) {
        const { ids, events } = await storedEvents(c, id, 'rs:');
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual(events.map((e) => `${e.seq}-0`));
        expect(wellFormed(events, id), id).toBeUndefined();
      }
    } finally {
      await sc.close();
      await redis.stop();
    }
  });

  test('a bounded buffer while Redis is down: what did not fit is dropped and counted, readers see the jump, nothing is duplicated', async () => {
    const redis = await new RedisServer({ persist: true }).start();
    const sc = await testSidecar(config(redis.url, 'rb:'), { redis: { maxBufferedEvents: 10 } });
    try {
      const j = sc.journal as RedisJournal;
      await redis.kill();
      await until('down', () => !j.stats().up);
      const l = load(sc, 3);
      await until('some requests while down', () => l.ids.length >= 6);
      await l.stop();
      expect(l.incomplete).toBe(0);
      const dropped = j.stats().dropped!;
      expect(dropped).toBeGreaterThan(0);
      await redis.start();
      await until('written', () => j.stats().pending === 0 && j.stats().up, 10_000);
      const c = redis.client();
      let missing = 0;
      let jumps = 0;
      for (const id of l.ids) {
        const { ids, events } = await storedEvents(c, id, 'rb:');
        expect(new Set(ids).size).toBe(ids.length);
        const seqs = seqsOf(events);
        const terminal = events.find((e) => ['request.completed', 'request.failed', 'request.cancelled'].includes(e.type));
        expect(terminal, `${id}: terminal events have room in the buffer`).toBeDefined();
        missing += terminal!.seq - seqs.length;
        if (seqs[0] === 1 && seqs.some((s, i) => s !== i + 1)) {
          // readable, with the jump visible to the client (id: skips), who flags the gap
          const sse = await readSse(await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/events`));
          expect(sse.ids).toEqual(seqs);
          jumps++;
        } else if (seqs[0] !== 1) {
          // the start never reached the store: its events are gone, said so
          expect((await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/events`)).status).toBe(410);
        }
      }
      expect(missing).toBe(dropped);
      expect(jumps).toBeGreaterThan(0);
    } finally {
      await sc.close();
      await redis.stop();
    }
  });

  test('without persistence (--save "" --appendonly no): what Redis forgot reads as gone or unknown, requests in flight continue with their seqs, never renumbered', async () => {
    const redis = await new RedisServer().start();
    const sc = await testSidecar(config(redis.url, 'rn:'));
    try {
      mock.answer = { text: WORDS, intervalMs: 20 };
      const l = load(sc, 4);
      await sleep(300);
      await redis.restart();
      await sleep(600);
      await l.stop();
      const j = sc.journal as RedisJournal;
      await until('written', () => j.stats().pending === 0 && j.stats().up, 10_000);
      expect(l.incomplete).toBe(0);
      const c = redis.client();
      for (const id of l.ids) {
        const { ids, events } = await storedEvents(c, id, 'rn:');
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual(events.map((e) => `${e.seq}-0`));
        const status = (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/events`)).status;
        if (!events.length) expect([404, 410]).toContain(status);
        else if (events[0]!.seq !== 1) expect(status).toBe(410);
        else expect(status).toBe(200);
      }
    } finally {
      mock.answer = { text: WORDS, intervalMs: 4 };
      await sc.close();
      await redis.stop();
    }
  });
});
