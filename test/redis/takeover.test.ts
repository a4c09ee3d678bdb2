// Restart and takeover: a sidecar process is killed -9 with requests in flight. Whoever reads them
// next (a subscriber's replica, a restarted sidecar, several at once) ends each one exactly once
// with request.failed (reason sidecar_restarted); what was stored before the kill is neither lost
// nor repeated.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import { MockProvider } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { RedisServer, hasRedis, readSse, spawnSidecar, storedEvents, until, wellFormed, writeConfig, type ChildSidecar } from './support.ts';

const WORDS = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
let redis: RedisServer;
let mock: MockProvider;
let A: ChildSidecar | undefined;
let A2: ChildSidecar | undefined;
let B: TestSidecar;
let file: string;
let hooks: Server;
const delivered: { type: string; data: { id: string; status: string; error?: { error: { airoute?: { reason: string } } } } }[] = [];

/** Follows a request's SSE stream, handing over each event as it arrives. */
function follow(url: string, onEvent: (ev: LifecycleEvent) => void): Promise<LifecycleEvent[]> {
  return (async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const events: LifecycleEvent[] = [];
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += Buffer.from(chunk).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) !== -1) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (data && /^id: /m.test(block)) {
          const ev = JSON.parse(data[1]!) as LifecycleEvent;
          events.push(ev);
          onEvent(ev);
        }
      }
    }
    return events;
  })();
}

const submit = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async', ...headers }, body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] }) }).then(
    async (r) => ((await r.json()) as { id: string }).id,
  );

describe.skipIf(!hasRedis)('a sidecar killed -9 mid-stream', () => {
  beforeAll(async () => {
    redis = await new RedisServer().start();
    mock = await new MockProvider().start();
    mock.answer = { text: WORDS, intervalMs: 100 };
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        delivered.push(JSON.parse(body) as (typeof delivered)[number]);
        res.end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', () => r()));
    const doc = {
      backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${mock.url}/v1` }],
      routes: [{ model: 'chat', backends: [{ backend: 'a' }], timeouts: { idleMs: 10_000 } }],
      journal: { type: 'redis', url: redis.url, keyPrefix: 'tk:', ownerLeaseMs: 1000 },
      webhooks: { allow: [`http://127.0.0.1:${(hooks.address() as { port: number }).port}/`], secret: { value: 'whsec_dGFrZW92ZXItdGVzdC1zZWNyZXQ=' } },
    };
    file = writeConfig(doc);
    A = await spawnSidecar(file);
    B = await testSidecar(doc);
  });
  afterAll(async () => {
    await A?.kill();
    await A2?.kill('SIGTERM');
    await B?.close();
    await mock?.stop();
    await redis?.stop();
    hooks?.closeAllConnections();
    hooks?.close();
  });

  test('async and sync requests in flight are ended once, with reason sidecar_restarted, by the replica following them, a restarted sidecar, or both at once', async () => {
    // three async requests and one sync stream, all running on A
    const followed = await submit(A!.url, { 'airoute-callback-url': `http://127.0.0.1:${(hooks.address() as { port: number }).port}/done` });
    const polledByRestart = await submit(A!.url);
    const polledByBoth = await submit(A!.url);
    const syncRes = await fetch(`${A!.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'sync' }] }) });
    const syncId = syncRes.headers.get('x-airoute-request-id')!;
    void syncRes.text().catch(() => undefined); // the client side of the sync stream dies with A

    // subscribers on B, following live
    let beforeKill: LifecycleEvent[] | undefined;
    const seen: LifecycleEvent[] = [];
    const asyncFollow = follow(`${B.dataURL}/airoute/v1/requests/${followed}/events`, (ev) => seen.push(ev));
    const syncFollow = follow(`${B.dataURL}/airoute/v1/requests/${syncId}/events`, () => undefined);
    await until('content on B', () => seen.filter((e) => e.type === 'content.delta').length >= 3);
    await A!.kill('SIGKILL');
    beforeKill = [...seen];
    const killedAt = Date.now();

    // 1. the subscriber's replica ends the followed request once the dead owner's lease runs out
    const events = await asyncFollow;
    expect(wellFormed(events, followed)).toBeUndefined();
    expect(events.slice(0, beforeKill.length)).toEqual(beforeKill);
    const last = events.at(-1)!;
    if (last.type !== 'request.failed') throw new Error(`expected request.failed, got ${last.type}`);
    expect(last.data.error).toMatchObject({ code: 'unavailable', reason: 'sidecar_restarted' });
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    const stored = await storedEvents(redis.client(), followed, 'tk:');
    expect(stored.events).toEqual(events); // nothing lost, nothing repeated
    expect(new Set(stored.ids).size).toBe(stored.ids.length);
    const status = (await (await fetch(`${B.dataURL}/airoute/v1/requests/${followed}`)).json()) as { status: string; error: { error: { code: string; airoute: { reason: string } } } };
    expect(status.status).toBe('failed');
    expect(status.error.error).toMatchObject({ code: 'unavailable', airoute: { reason: 'sidecar_restarted' } });
    // its completion webhook comes from the replica that ended it, once
    await until('webhook', () => delivered.some((d) => d.data.id === followed));
    await new Promise((r) => setTimeout(r, 300)); // room for a second delivery, which must not come
    const hook = delivered.filter((d) => d.data.id === followed);
    expect(hook).toHaveLength(1);
    expect(hook[0]).toMatchObject({ type: 'request.failed', data: { status: 'failed', error: { error: { airoute: { reason: 'sidecar_restarted' } } } } });

    // the sync stream's subscriber gets the same explicit end
    const syncEvents = await syncFollow;
    expect(wellFormed(syncEvents, syncId)).toBeUndefined();
    expect(syncEvents.at(-1)).toMatchObject({ type: 'request.failed', data: { error: { reason: 'sidecar_restarted' } } });

    // 2. a restarted sidecar (a new process, a new identity) polling a request of its predecessor
    A2 = await spawnSidecar(file);
    const restarted = (await (await fetch(`${A2.url}/airoute/v1/requests/${polledByRestart}`)).json()) as { status: string };
    expect(restarted.status).toBe('failed');
    const r2 = await readSse(await fetch(`${A2.url}/airoute/v1/requests/${polledByRestart}/events`));
    expect(wellFormed(r2.events, polledByRestart)).toBeUndefined();

    // 3. two sidecars reading the same dead request at once: one terminal event, both see it failed
    const both = await Promise.all(
      [A2.url, B.dataURL, A2.url, B.dataURL].map(async (u) => ((await (await fetch(`${u}/airoute/v1/requests/${polledByBoth}`)).json()) as { status: string }).status),
    );
    expect(both).toEqual(['failed', 'failed', 'failed', 'failed']);
    const r3 = await storedEvents(redis.client(), polledByBoth, 'tk:');
    expect(wellFormed(r3.events, polledByBoth)).toBeUndefined();
    expect(r3.events.filter((e) => e.type === 'request.failed')).toHaveLength(1);

    // the new process runs new work normally
    mock.answer = { text: 'fresh', intervalMs: 1 };
    const fresh = await submit(A2.url);
    const r4 = await readSse(await fetch(`${B.dataURL}/airoute/v1/requests/${fresh}/events`));
    expect(r4.events.at(-1)!.type).toBe('request.completed');
  });
});
