// One redaction boundary: every string an upstream sends in a failure (each field of an error
// body, in-stream error events of each format) is scrubbed of the configured keys before it can
// reach a client, an event, a poll, a webhook or a log. The scripted upstreams echo the key they
// were given into every field they control; nothing anywhere may contain it afterwards.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { eventsOf } from './client.ts';
import { chunk, json, openStream, ScriptedUpstream, sleep, type Received } from './upstream.ts';
import { fakeKey } from '../support/fake-keys.ts';

const OPENAI_KEY = fakeKey('sk', 'proj', 'REDACTME0123456789abcdef');
const ANTHROPIC_KEY = fakeKey('sk', 'ant', 'api03', 'REDACTME', 'anthropic', '0123');
/** Not key-shaped: only the list of configured secrets can catch it. */
const PLAIN_KEY = 'plainSecretREDACTME4242';
const KEYS = [OPENAI_KEY, ANTHROPIC_KEY, PLAIN_KEY, 'REDACTME'];

let up: ScriptedUpstream;
let sc: TestSidecar;
let hooks: Server;
const webhookBodies: string[] = [];
const seen: string[] = [];

/** Every key the upstreams were sent: proof that the test would have seen them had they leaked. */
const sentKeys = new Set<string>();
/** The key the sidecar sent this upstream request (what a provider would echo back). */
function keyOf(r: Received): string {
  const key = String(r.headers.authorization ?? '').replace(/^Bearer /, '') || String(r.headers['x-api-key'] ?? '');
  sentKeys.add(key);
  return key;
}

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  hooks = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += String(c);
    webhookBodies.push(body);
    res.end();
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', () => r()));
  const hookPort = (hooks.address() as AddressInfo).port;
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: OPENAI_KEY } },
      { name: 'an', type: 'anthropic', baseURL: up.url, apiKey: { value: ANTHROPIC_KEY } },
      { name: 'plain', type: 'openai-compatible', baseURL: `${up.url}/v1`, apiKey: { value: PLAIN_KEY } },
    ],
    routes: [
      { model: 'gpt', backends: [{ backend: 'oa' }], retry: { attempts: 1 }, resume: 'none' },
      { model: 'claude', backends: [{ backend: 'an' }], retry: { attempts: 1 }, resume: 'none' },
      { model: 'plain', backends: [{ backend: 'plain' }], retry: { attempts: 1 }, resume: 'none' },
    ],
    webhooks: { allow: [`http://127.0.0.1:${hookPort}/`], privateNetworks: ['127.0.0.1/32'], secret: { value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } },
  });
});
afterAll(async () => {
  await sc?.close();
  await up?.stop();
  hooks?.closeAllConnections();
  await new Promise((r) => hooks?.close(r));
});
beforeEach(() => up.reset());

/** Every upstream error field carries the key it was sent. */
function openaiErrorBody(key: string) {
  return { error: { message: `Incorrect API key provided: ${key}.`, type: `type-${key}`, param: `param-${key}`, code: `code-${key}` } };
}
function anthropicErrorBody(key: string) {
  return { type: 'error', error: { type: `type-${key}`, message: `invalid x-api-key ${key}` }, request_id: `req-${key}` };
}

async function post(path: string, body: object, headers: Record<string, string> = {}) {
  const r = await fetch(`${sc.dataURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  seen.push(text);
  return { status: r.status, text, id: r.headers.get('x-airoute-request-id')! };
}

async function everythingAbout(id: string): Promise<string> {
  const events = JSON.stringify(await eventsOf(sc.dataURL, id));
  const poll = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).text();
  seen.push(events, poll);
  return `${events}\n${poll}`;
}

const expectClean = (text: string, what: string) => {
  for (const k of KEYS) expect(text, `${what} contains ${k}`).not.toContain(k);
};

describe('error bodies: every field', () => {
  test.each([
    ['an OpenAI 400 to an OpenAI client (its type, code and param pass through)', 'gpt', '/v1/chat/completions', 400],
    ['an OpenAI 401 to an Anthropic client', 'gpt', '/v1/messages', 401],
    ['an OpenAI-compatible 500 with a key that is not key-shaped', 'plain', '/v1/chat/completions', 500],
  ])('%s → redacted in the answer, the events and the poll', async (_n, model, path, status) => {
    up.fallback = (res, req) => json(res, status, openaiErrorBody(keyOf(req)));
    const r = await post(path, { model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(status);
    expect(r.text).toContain('[redacted]');
    expectClean(r.text, 'answer');
    expectClean(await everythingAbout(r.id), 'events/poll');
  });

  test('an Anthropic 403 to an Anthropic client (its type passes through) → redacted', async () => {
    up.fallback = (res, req) => json(res, 403, anthropicErrorBody(keyOf(req)));
    const r = await post('/v1/messages', { model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(403);
    expectClean(r.text, 'answer');
    expectClean(await everythingAbout(r.id), 'events/poll');
  });

  test('an Anthropic error on /v1/messages/count_tokens (a side entrance, no stage chain) → redacted', async () => {
    up.fallback = (res, req) => json(res, 401, anthropicErrorBody(keyOf(req)));
    const r = await post('/v1/messages/count_tokens', { model: 'claude', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(401);
    expect(r.text).toContain('[redacted]');
    expectClean(r.text, 'answer');
  });

  test('a non-JSON error body that echoes the key → redacted', async () => {
    up.fallback = (res, req) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway for key ${keyOf(req)}`);
    };
    const r = await post('/v1/chat/completions', { model: 'plain', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(502);
    expectClean(r.text, 'answer');
    expectClean(await everythingAbout(r.id), 'events/poll');
  });
});

describe('in-stream errors', () => {
  test('OpenAI mid-stream {"error": ...} with the key in every field → the in-stream error, the events and the poll are redacted', async () => {
    up.fallback = (res, req) => {
      openStream(res);
      res.write(chunk('Some text'));
      res.end(`data: ${JSON.stringify(openaiErrorBody(keyOf(req)))}\n\n`);
    };
    for (const path of ['/v1/chat/completions', '/v1/messages']) {
      const r = await post(path, { model: 'gpt', stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      expect(r.text).toContain('Some text');
      expectClean(r.text, `stream to ${path}`);
      expectClean(await everythingAbout(r.id), 'events/poll');
    }
  });

  test('Anthropic mid-stream event: error with the key in every field → redacted', async () => {
    up.fallback = (res, req) => {
      openStream(res);
      const k = keyOf(req);
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } })}\n\n`);
      res.write(`event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`);
      res.write(`event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Some text' } })}\n\n`);
      res.end(`event: error\ndata: ${JSON.stringify(anthropicErrorBody(k))}\n\n`);
    };
    for (const path of ['/v1/messages', '/v1/chat/completions']) {
      const r = await post(path, { model: 'claude', stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      expect(r.text).toContain('Some text');
      expectClean(r.text, `stream to ${path}`);
      expectClean(await everythingAbout(r.id), 'events/poll');
    }
  });

  test('before the first token, an in-stream error becomes the HTTP error: redacted', async () => {
    up.fallback = (res, req) => {
      openStream(res);
      res.end(`data: ${JSON.stringify(openaiErrorBody(keyOf(req)))}\n\n`);
    };
    const r = await post('/v1/chat/completions', { model: 'plain', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBeGreaterThanOrEqual(500);
    expectClean(r.text, 'answer');
    expectClean(await everythingAbout(r.id), 'events/poll');
  });
});

test('an async request that fails with the key echoed → its poll and its webhook payload are redacted', async () => {
  up.fallback = (res, req) => json(res, 400, openaiErrorBody(keyOf(req)));
  const port = (hooks.address() as AddressInfo).port;
  const r = await post('/v1/chat/completions', { model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, { prefer: 'respond-async', 'airoute-callback-url': `http://127.0.0.1:${port}/done` });
  expect(r.status).toBe(202);
  const { id } = JSON.parse(r.text) as { id: string };
  for (let i = 0; i < 200 && webhookBodies.length === 0; i++) await sleep(10);
  expect(webhookBodies.join('')).toContain('[redacted]');
  expectClean(webhookBodies.join('\n'), 'webhook');
  expectClean(await everythingAbout(id), 'events/poll');
});

test('and no log line of the whole file contains a key, though every key did reach the upstream', () => {
  expect(seen.length).toBeGreaterThan(10);
  expect([...sentKeys].sort()).toEqual([ANTHROPIC_KEY, PLAIN_KEY, OPENAI_KEY].sort());
  expectClean(sc.logs.join('\n'), 'logs');
  expectClean(seen.join('\n'), 'everything the clients saw');
});
