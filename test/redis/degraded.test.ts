// Redis unreachable: sync traffic keeps flowing (journal writes are best effort, counted as
// dropped once the bounded buffer is full), async submissions are refused with 503 `unavailable`,
// /readyz says why; all of it recovers when Redis is back.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MockProvider } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { RedisServer, freePort, hasRedis, until } from './support.ts';

const TEXT = 'Sync traffic does not need the journal store to answer.';
let redis: RedisServer;
let mock: MockProvider;
let sc: TestSidecar;

const config = (url: string) => ({
  backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${mock.url}/v1` }],
  routes: [{ model: 'chat', backends: [{ backend: 'a' }] }],
  journal: { type: 'redis', url, keyPrefix: 'deg:' },
});

const chat = (base: string, headers: Record<string, string> = {}, stream = false) =>
  fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'chat', stream, messages: [{ role: 'user', content: 'x' }] }) });

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${sc.adminURL}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

describe.skipIf(!hasRedis)('Redis down', () => {
  beforeAll(async () => {
    redis = await new RedisServer().start();
    mock = await new MockProvider().start();
    mock.answer = { text: TEXT };
    sc = await testSidecar(config(redis.url), { redis: { maxBufferedEvents: 20 } });
  });
  afterAll(async () => {
    await sc?.close();
    await mock?.stop();
    await redis?.stop();
  });

  test('sync works, async is 503 unavailable, readiness explains, drops are counted; all recovers with Redis', async () => {
    expect((await fetch(`${sc.adminURL}/readyz`)).status).toBe(200);
    const before = await chat(sc.dataURL, { prefer: 'respond-async' });
    expect(before.status).toBe(202);
    const { id: known } = (await before.json()) as { id: string };
    await until('known request finished', async () => ((await (await fetch(`${sc.dataURL}/airoute/v1/requests/${known}`)).json()) as { status: string }).status === 'completed');

    await redis.kill();
    // still ready (sync keeps flowing, and the sidecar shares its pod's readiness), but it says why it is degraded
    const ready = await until('readiness to report degraded', async () => {
      const r = await fetch(`${sc.adminURL}/readyz`);
      const body = (await r.json()) as { status: string; reasons?: string[] };
      return r.status === 200 && body.status === 'degraded' ? (body as { reasons: string[] }) : undefined;
    });
    expect(ready.reasons.join(' ')).toMatch(/journal store redis:\/\/127\.0\.0\.1:\d+\/? is unreachable/);

    // sync: answered in full, streamed or not, more events than the buffer holds
    for (let i = 0; i < 6; i++) {
      const res = await chat(sc.dataURL, {}, i % 2 === 0);
      expect(res.status).toBe(200);
      const body = await res.text();
      if (i % 2) expect(((JSON.parse(body) as { choices: { message: { content: string } }[] }).choices[0]!.message.content)).toBe(TEXT);
      else expect(body).toContain('[DONE]');
    }
    expect(sc.journal.stats().dropped).toBeGreaterThan(0);
    expect(await metric('airoute_journal_dropped_total')).toBe(sc.journal.stats().dropped);
    expect(await metric('airoute_journal_store_up')).toBe(0);
    expect(await metric('airoute_journal_pending_writes')).toBeGreaterThan(0);

    // async: refused, clearly, rather than accepted and lost
    const refused = await chat(sc.dataURL, { prefer: 'respond-async' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const err = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/^async requests are unavailable: journal store .* is unreachable/);
    // reads that need the store say so too (503, not a 5xx about an upstream)
    const poll = await fetch(`${sc.dataURL}/airoute/v1/requests/${known}`);
    expect(poll.status).toBe(503);
    expect(((await poll.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect((await fetch(`${sc.dataURL}/airoute/v1/requests/${known}/events`)).status).toBe(503);

    // back: ready, the buffered events written, async accepted again
    await redis.start();
    await until('readiness', async () => ((await (await fetch(`${sc.adminURL}/readyz`)).json()) as { status: string }).status === 'ready', 10_000);
    await until('buffer written', () => sc.journal.stats().pending === 0);
    expect(await metric('airoute_journal_store_up')).toBe(1);
    const after = await chat(sc.dataURL, { prefer: 'respond-async' });
    expect(after.status).toBe(202);
  });

  test('a sidecar whose Redis is unreachable from the start still starts and serves sync traffic', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const lone = await testSidecar(config(nowhere));
    try {
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await fetch(`${lone.adminURL}/healthz`)).status).toBe(200);
      const ready = await fetch(`${lone.adminURL}/readyz`);
      expect(ready.status).toBe(200);
      expect((await ready.json()) as { status: string; reasons: string[] }).toMatchObject({ status: 'degraded', reasons: [expect.stringContaining('is unreachable')] });
      const res = await chat(lone.dataURL);
      expect(res.status).toBe(200);
      expect((await chat(lone.dataURL, { prefer: 'respond-async' })).status).toBe(503);
    } finally {
      await lone.close();
    }
  });
});
