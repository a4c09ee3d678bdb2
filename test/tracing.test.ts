// Optional traces: with an OTLP endpoint set, one span per request and one child per attempt, with
// GenAI attributes, reach a real OTLP/HTTP receiver; with none set, nothing is sent.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MockProvider, sleep } from './support/mock-provider.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

interface OtlpSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
  traceId: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
  events?: { name: string }[];
}

let receiver: Server;
const spans: OtlpSpan[] = [];
let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    if (req.url === '/v1/traces') {
      const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  mock = await new MockProvider().start();
  sc = await testSidecar(
    { backends: [{ name: 'up', type: 'openai-compatible', baseURL: `${mock.url}/v1` }], routes: [{ model: 'chat', backends: [{ backend: 'up', model: 'm1' }], retry: { backoff: { baseMs: 1, maxMs: 2 } } }] },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}` } },
  );
});
afterAll(async () => {
  await sc?.close();
  await mock?.stop();
  receiver?.close();
});

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? v.intValue ?? v.boolValue ?? v.arrayValue) : undefined;
};

test('a request that needed one retry -> a request span with two attempt children, the failed one marked as an error', async () => {
  mock.answer = { text: 'traced answer', inputTokens: 5, outputTokens: 2 };
  mock.faults = [{ status: 503 }];
  const res = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'a secret prompt' }] }) });
  expect(res.status).toBe(200);
  const id = res.headers.get('x-airoute-request-id')!;
  const deadline = Date.now() + 5000;
  let request: OtlpSpan | undefined;
  while (!(request = spans.find((s) => attr(s, 'airoute.request.id') === id)) && Date.now() < deadline) await sleep(50);
  expect(request, 'the request span reached the receiver').toBeDefined();
  expect(request!.name).toBe('chat chat');
  expect(attr(request!, 'gen_ai.operation.name')).toBe('chat');
  expect(Number(attr(request!, 'gen_ai.usage.input_tokens'))).toBe(5);
  expect(Number(attr(request!, 'gen_ai.usage.output_tokens'))).toBe(2);
  expect(request!.events?.map((e) => e.name)).toContain('retry.scheduled');
  await sleep(100);
  const attempts = spans.filter((s) => s.parentSpanId === request!.spanId);
  expect(attempts.map((s) => s.name).sort()).toEqual(['attempt 1 up', 'attempt 2 up']);
  expect(attempts.every((s) => s.traceId === request!.traceId)).toBe(true);
  const failed = attempts.find((s) => s.name === 'attempt 1 up')!;
  expect(failed.status?.code).toBe(2);
  expect(attr(failed, 'error.type')).toBe('upstream_error');
  expect(attr(attempts.find((s) => s.name === 'attempt 2 up')!, 'gen_ai.provider.name')).toBe('openai_compatible');
  // never the prompt
  expect(JSON.stringify(spans)).not.toContain('a secret prompt');
});

test('a Responses API request -> its span says which client API it came in on', async () => {
  mock.answer = { text: 'traced answer' };
  const res = await fetch(`${sc.dataURL}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', input: 'hi' }) });
  expect(res.status).toBe(200);
  const id = res.headers.get('x-airoute-request-id')!;
  const deadline = Date.now() + 5000;
  let request: OtlpSpan | undefined;
  while (!(request = spans.find((s) => attr(s, 'airoute.request.id') === id)) && Date.now() < deadline) await sleep(50);
  expect(request && attr(request, 'airoute.api')).toBe('responses');
});
