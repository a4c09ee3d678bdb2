// Wrong statuses the issue found, each now the client's fault or the upstream's by name: a body
// nested 200,000 levels deep is a 400 (it was a 500 from a stack overflow after parsing), and an
// SSE line longer than the decoder's bound is an upstream_protocol_error naming the limit (it was
// reported as a connection reset).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MAX_SSE_BUFFER } from '../../sidecar/upstream/frames.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { eventsOf } from './client.ts';
import { chunk, DONE, openStream, ScriptedUpstream } from './upstream.ts';

let up: ScriptedUpstream;
let sc: TestSidecar;

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  sc = await testSidecar({
    backends: [{ name: 'up', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: 'sk-statuses-0123456789' } }],
    routes: [
      { model: 'chat', backends: [{ backend: 'up' }], retry: { attempts: 1 }, resume: 'none' },
      { model: 'claude-ish', backends: [{ backend: 'up' }], retry: { attempts: 1 } },
    ],
  });
});
afterAll(async () => {
  await sc?.close();
  await up?.stop();
});
beforeEach(() => up.reset());

const deep = (n: number, extra: string) => `{${extra},"metadata":{"x":${'['.repeat(n)}${']'.repeat(n)}}}`;

describe('a body nested 200,000 levels deep', () => {
  test('on /v1/chat/completions → 400 invalid_request in OpenAI shape naming the depth limit; never a 5xx, never sent upstream', async () => {
    const r = await fetch(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: deep(200_000, '"model":"chat","messages":[{"role":"user","content":"hi"}]'),
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error' });
    expect(body.error.message).toMatch(/deeper than 256 levels/);
    expect(up.received).toHaveLength(0);
  });

  test('on /v1/messages → 400 in Anthropic shape', async () => {
    const r = await fetch(`${sc.dataURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: deep(200_000, '"model":"claude-ish","max_tokens":5,"messages":[{"role":"user","content":"hi"}]'),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(up.received).toHaveLength(0);
  });
});

describe(`an SSE line longer than ${MAX_SSE_BUFFER} characters`, () => {
  const hugeLine = `data: {"choices":[{"index":0,"delta":{"content":"${'x'.repeat(MAX_SSE_BUFFER + 1024)}`;

  test('before the first token → 502 upstream_protocol_error naming the limit; never reported as a reset', async () => {
    up.queue.push((res) => {
      openStream(res);
      res.end(hugeLine);
    });
    const r = await fetch(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(502);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('upstream_protocol_error');
    expect(body.error.message).toContain(String(MAX_SSE_BUFFER));
  });

  test('mid-stream (resume: none) → the client gets its text, then stream_interrupted caused by upstream_protocol_error naming the limit', async () => {
    up.queue.push((res) => {
      openStream(res);
      res.write(chunk('Hello'));
      res.write(chunk(' there'));
      res.end(`${hugeLine}\n\n${DONE}`);
    });
    const r = await fetch(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('"content":"Hello"');
    const last = text.trim().split('\n\n').at(-1)!;
    const err = (JSON.parse(last.slice('data: '.length)) as { error: { code: string; message: string; airoute: { cause: string } } }).error;
    expect(err.code).toBe('stream_interrupted');
    expect(err.airoute.cause).toBe('upstream_protocol_error');
    expect(err.message).toContain(String(MAX_SSE_BUFFER));
    const events = await eventsOf(sc.dataURL, r.headers.get('x-airoute-request-id')!);
    expect(events.find((e) => e.type === 'attempt.failed')?.data).toMatchObject({ code: 'upstream_protocol_error', phase: 'stream' });
    expect(events.some((e) => e.type === 'request.completed')).toBe(false);
  });
});
