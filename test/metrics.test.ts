// The sidecar's /metrics: the GenAI-convention histograms and airoute_ counters equal what the
// test caused; the series count stays bounded whatever clients send; no key or prompt appears.
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { MockProvider, resetMocks } from './support/mock-provider.ts';
import { streamWith } from './support/clients.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

const KEY = 'sk-metrics-SECRETKEY-0123456789';
let a: MockProvider;
let b: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  a = await new MockProvider().start();
  b = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'primary', type: 'openai-compatible', baseURL: `${a.url}/v1`, apiKey: { value: KEY }, circuit: { consecutiveFailures: 1000, minimumRequests: 100000 } },
      { name: 'fallback', type: 'anthropic', baseURL: b.url, circuit: { consecutiveFailures: 1000, minimumRequests: 100000 } },
    ],
    routes: [{ model: 'chat', backends: [{ backend: 'primary', model: 'p' }, { backend: 'fallback', model: 'f' }], retry: { attempts: 2, backoff: { baseMs: 1, maxMs: 2 } }, resume: 'prefill' }],
  });
});
afterAll(async () => {
  await sc?.close();
  await a?.stop();
  await b?.stop();
});
beforeEach(() => resetMocks({ text: 'one two three four five six seven eight', inputTokens: 9 }, a, b));

async function metrics(): Promise<string> {
  return (await fetch(`${sc.adminURL}/metrics`)).text();
}

function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

test('counters equal what happened: a 429 retry with Retry-After, a mid-stream drop resumed, a fallback', async () => {
  const before = await metrics();
  a.faults = [{ status: 429, retryAfterMs: '20' }];
  expect((await streamWith('openai', sc.dataURL, { model: 'chat' })).completed).toBe(true);
  a.faults = [{ dropAfter: 3 }];
  expect((await streamWith('openai', sc.dataURL, { model: 'chat' })).completed).toBe(true);
  a.faults = [{ status: 500 }, { status: 500 }];
  expect((await streamWith('anthropic', sc.dataURL, { model: 'chat' })).completed).toBe(true);
  const after = await metrics();
  const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
  expect(delta('gen_ai_client_operation_duration_seconds_count', { route: 'chat', outcome: 'success' })).toBe(3);
  expect(delta('gen_ai_client_operation_duration_seconds_count', { backend: 'fallback', gen_ai_provider_name: 'anthropic' })).toBe(1);
  expect(delta('airoute_retries_total', { route: 'chat', backend: 'primary', reason: 'upstream_rate_limited' })).toBe(1);
  expect(delta('airoute_retries_total', { route: 'chat', backend: 'primary', reason: 'upstream_error' })).toBe(1);
  expect(delta('airoute_retry_after_seconds_count', { backend: 'primary' })).toBe(1);
  expect(delta('airoute_resumes_total', { route: 'chat', backend: 'primary', strategy: 'prefill', outcome: 'resumed' })).toBe(1);
  expect(delta('airoute_fallbacks_total', { route: 'chat', from: 'primary', to: 'fallback', reason: 'retries_exhausted' })).toBe(1);
  expect(delta('airoute_attempts_total', { route: 'chat' })).toBe(2 + 2 + 3);
  expect(delta('gen_ai_server_time_to_first_token_seconds_count', { route: 'chat' })).toBe(3);
  expect(delta('gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input' })).toBe(27);
  expect(value(after, 'airoute_circuit_state', { backend: 'primary' })).toBe(0);
  expect(value(after, 'airoute_config_version')).toBe(0);
  expect(after).toMatch(/airoute_config_info\{hash="sha256:[0-9a-f]{64}",version="0",airoute=""\} 1/);
  expect(value(after, 'airoute_active_requests')).toBe(0);
  expect(value(after, 'airoute_journal_requests')).toBeGreaterThan(0);
});

test('cardinality: 10,000 requests with random model names and prompts leave the series count bounded; no key or prompt in /metrics', async () => {
  a.answer = { text: 'ok' };
  // the runtime's own series (GC kinds, ...) are bounded by Node, not by traffic; count ours
  const series = (t: string) => t.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('nodejs_') && !l.startsWith('process_')).length;
  // warm up every label combination this traffic can produce, then count
  for (const model of ['warmup-unknown', 'chat', 'chat']) {
    const res = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }) });
    await res.arrayBuffer();
  }
  const before = series(await metrics());
  const prompts: string[] = [];
  let i = 0;
  const worker = async () => {
    while (i < 10_000) {
      const n = i++;
      const prompt = `secret-prompt-${Math.random().toString(36).slice(2)}`;
      if (n % 500 === 0) prompts.push(prompt);
      const model = n % 2 ? 'chat' : `random-model-${Math.random().toString(36).slice(2)}`;
      const res = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: prompt }] }) });
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const text = await metrics();
  expect(series(text)).toBe(before);
  expect(text).not.toContain('random-model-');
  expect(text).not.toContain(KEY);
  for (const p of prompts) expect(text).not.toContain(p);
  expect(value(text, 'gen_ai_client_operation_duration_seconds_count', { route: 'chat', outcome: 'success' })).toBeGreaterThanOrEqual(5000);
}, 120_000);
