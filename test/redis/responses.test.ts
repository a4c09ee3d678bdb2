// The Responses API on two sidecars sharing one Redis: a background response started on A and
// dropped mid-stream is resumed on B with `starting_after` (no gap, no duplicate), polled and
// cancelled there; a conversation stored on A continues on B; a DELETE on B is seen on A.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider, sleep } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { RedisServer, hasRedis } from './support.ts';

const TEXT = 'Two replicas, one Redis: the stream that broke on one picks up on the other, word for word.';
let redis: RedisServer;
let mock: MockProvider;
let A: TestSidecar;
let B: TestSidecar;

const config = () => ({
  backends: [{ name: 'claude', type: 'anthropic', baseURL: mock.url }],
  routes: [{ model: 'chat', backends: [{ backend: 'claude', model: 'claude-haiku-4-5' }], timeouts: { idleMs: 5000 } }],
  journal: { type: 'redis', url: redis.url, keyPrefix: 'resp-test:', ownerLeaseMs: 2000 },
});

const client = (sc: TestSidecar) => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });

describe.skipIf(!hasRedis)('Responses API on two replicas sharing Redis', () => {
  beforeAll(async () => {
    redis = await new RedisServer().start();
    mock = await new MockProvider().start();
    A = await testSidecar(config());
    B = await testSidecar(config());
  });
  afterAll(async () => {
    await A?.close();
    await B?.close();
    await mock?.stop();
    await redis?.stop();
  });
  beforeEach(() => {
    mock.reset();
    mock.answer = { text: TEXT, intervalMs: 30 };
  });

  test('a background stream dropped on A resumes on B after the last sequence number it had: the rest, once, to completion', async () => {
    const first = await client(A).responses.create({ model: 'chat', input: 'Tell me.', background: true, stream: true });
    let id = '';
    let cursor = -1;
    let text = '';
    for await (const ev of first) {
      cursor = ev.sequence_number;
      if (ev.type === 'response.created') id = ev.response.id;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (text.length > 15) break;
    }
    expect(text.length).toBeLessThan(TEXT.length);
    const rest = await client(B).responses.retrieve(id, { stream: true, starting_after: cursor });
    for await (const ev of rest) {
      expect(ev.sequence_number).toBe(cursor + 1);
      cursor = ev.sequence_number;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    expect(text).toBe(TEXT);
    const polled = await client(B).responses.retrieve(id);
    expect(polled).toMatchObject({ id, status: 'completed', output_text: TEXT });
    expect(mock.received).toHaveLength(1);
  });

  test('a background response running on A is cancelled through B: A lets the upstream go', async () => {
    mock.answer = { text: TEXT, intervalMs: 80 };
    const r = await client(A).responses.create({ model: 'chat', input: 'Long.', background: true });
    while (mock.received.length === 0) await sleep(10);
    await sleep(150);
    const c = await client(B).responses.cancel(r.id);
    expect(c.status).toBe('cancelled');
    while (mock.received[0]!.closedAt === undefined) await sleep(10);
    expect(mock.received[0]!.sent).not.toContain('message_stop');
    expect((await client(A).responses.retrieve(r.id)).status).toBe('cancelled');
  });

  test('a conversation stored on A continues on B; a DELETE on B is seen on A', async () => {
    mock.answer = { text: 'Hello Ada.' };
    const one = await client(A).responses.create({ model: 'chat', input: 'My name is Ada.' });
    mock.answer = { text: 'Ada.' };
    await client(B).responses.create({ model: 'chat', input: 'My name?', previous_response_id: one.id });
    expect(mock.received.at(-1)!.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'My name is Ada.' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hello Ada.' }] },
      { role: 'user', content: [{ type: 'text', text: 'My name?' }] },
    ]);
    await client(B).responses.delete(one.id);
    expect(await client(A).responses.retrieve(one.id).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
  });
});
