// The Responses API in the sidecar's metrics and logs: every endpoint's calls counted by outcome
// class, its answers in the same GenAI series as any request, its log lines saying which API.
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MockProvider, sleep } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  mock.answer = { text: 'Counted and logged.' };
  sc = await testSidecar({ backends: [{ name: 'claude', type: 'anthropic', baseURL: mock.url }], routes: [{ model: 'chat', backends: [{ backend: 'claude', model: 'claude-haiku-4-5' }] }] });
});
afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});

function value(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const got = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

test('each endpoint is counted once per call with its status class; the answers are in the GenAI series; log lines say api responses', async () => {
  const client = new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  const fg = await client.responses.create({ model: 'chat', input: 'one' });
  const bg = await client.responses.create({ model: 'chat', input: 'two', background: true });
  let done = await client.responses.retrieve(bg.id);
  while (done.status !== 'completed') {
    await sleep(10);
    done = await client.responses.retrieve(bg.id);
  }
  for await (const _ of await client.responses.retrieve(bg.id, { stream: true, starting_after: 2 })) void _;
  await client.responses.cancel(fg.id).catch(() => undefined); // not a background response: 400
  await client.responses.delete(fg.id);
  await client.responses.retrieve(fg.id).catch(() => undefined); // 404
  const text = await (await fetch(`${sc.adminURL}/metrics`)).text();
  const calls = (endpoint: string, status: string) => value(text, 'airoute_responses_api_calls_total', { endpoint, status });
  expect(calls('create', '2xx')).toBe(1);
  expect(calls('create_background', '2xx')).toBe(1);
  expect(calls('retrieve', '2xx')).toBeGreaterThanOrEqual(1);
  expect(calls('retrieve', '4xx')).toBe(1);
  expect(calls('retrieve_stream', '2xx')).toBe(1);
  expect(calls('cancel', '4xx')).toBe(1);
  expect(calls('delete', '2xx')).toBe(1);
  expect(value(text, 'gen_ai_client_operation_duration_seconds_count', { route: 'chat', outcome: 'success' })).toBe(2);
  const lines = sc.logs.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l) as { api?: string });
  expect(lines.map((l) => l.api)).toEqual(['responses', 'responses']);
});
