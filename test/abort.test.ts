// A client that disconnects aborts the upstream request at once: the provider sees its connection
// close within 100 ms, mid-stream and while waiting for the first byte.
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { MockProvider, sleep } from './support/mock-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai-compatible', baseURL: `${mock.url}/v1` },
      { name: 'an', type: 'anthropic', baseURL: mock.url },
    ],
    routes: [
      { model: 'oa', backends: [{ backend: 'oa' }] },
      { model: 'an', backends: [{ backend: 'an' }] },
    ],
  });
});
afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});
beforeEach(() => mock.reset());

async function waitFor(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

test.each(['oa', 'an'])('client abort mid-stream (%s): upstream connection closed within 100 ms; the sidecar logs the request as cancelled', async (model) => {
  mock.answer = { text: 'word '.repeat(200), intervalMs: 20 };
  const ac = new AbortController();
  const path = model === 'an' ? '/v1/messages' : '/v1/chat/completions';
  const res = await fetch(`${sc.dataURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, max_tokens: 1000, messages: [{ role: 'user', content: 'go' }] }),
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  await reader.read(); // the first bytes arrived: the stream is live
  await sleep(60);
  const abortedAt = Date.now();
  ac.abort();
  await waitFor(() => mock.received[0]?.closedAt !== undefined);
  expect(mock.received).toHaveLength(1);
  expect(mock.received[0]!.closedAt! - abortedAt).toBeLessThan(100);
  await waitFor(() => sc.logs.some((l) => l.includes('"outcome":"cancelled"')));
});

test('client abort while the upstream has not answered yet: upstream closed within 100 ms, no retry is made', async () => {
  mock.faults = [{ hang: 'before-headers' }];
  const ac = new AbortController();
  const pending = fetch(`${sc.dataURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'oa', stream: true, messages: [{ role: 'user', content: 'go' }] }),
    signal: ac.signal,
  }).catch(() => undefined);
  await waitFor(() => mock.received.length === 1);
  await sleep(50);
  const abortedAt = Date.now();
  ac.abort();
  await pending;
  await waitFor(() => mock.received[0]?.closedAt !== undefined);
  expect(mock.received[0]!.closedAt! - abortedAt).toBeLessThan(100);
  await sleep(150);
  expect(mock.received).toHaveLength(1);
});
