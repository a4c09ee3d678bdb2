// Browser-origin protection on the data port. A web page may not spend the sidecar's keys (a
// cross-origin "simple" text/plain POST needs no preflight, so the request itself must be refused,
// not just its answer hidden), may not read answers, events or async results by rebinding its own
// DNS name to 127.0.0.1 (Host), and may not open a request's event WebSocket. Apps that call the
// sidecar from a browser on purpose list their origin in cors.allowOrigins and get CORS headers.
// Each refusal is a 403 or 415 in the endpoint's own error shape, and nothing reaches the upstream.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { rawExchange } from './client.ts';
import { chatCompletion, json, ScriptedUpstream } from './upstream.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}; .ci/run should have installed it`);

let up: ScriptedUpstream;
let sc: TestSidecar;
/** A web page's server on another port: another origin. */
let page: Server;
let pageOrigin = '';
let allowedPage: Server;
let allowedOrigin = '';

function pageServer(): Promise<Server> {
  const s = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>some page</title>');
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}
const originOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  page = await pageServer();
  allowedPage = await pageServer();
  pageOrigin = originOf(page);
  allowedOrigin = originOf(allowedPage);
  sc = await testSidecar({
    backends: [{ name: 'up', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: 'sk-browser-0123456789' } }],
    routes: [{ model: 'chat', backends: [{ backend: 'up' }], retry: { attempts: 1 } }],
    cors: { allowOrigins: [allowedOrigin], allowHosts: ['airoute.internal'] },
  });
});
afterAll(async () => {
  await sc?.close();
  await up?.stop();
  await new Promise((r) => page?.close(r));
  await new Promise((r) => allowedPage?.close(r));
});
beforeEach(() => up.reset());

const chatBody = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'spend my key' }] });
const post = (path: string, headers: Record<string, string>, body = chatBody) => fetch(`${sc.dataURL}${path}`, { method: 'POST', headers, body });

describe('Origin', () => {
  test('a cross-origin text/plain POST (a CORS simple request) → 403 origin_not_allowed in OpenAI shape; the upstream never sees it, the key is never spent', async () => {
    const r = await post('/v1/chat/completions', { origin: 'http://evil.example', 'content-type': 'text/plain' });
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ error: { code: 'origin_not_allowed', type: 'permission_error' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(up.received).toHaveLength(0);
  });

  test('the same from another local origin, on /v1/messages → 403 in Anthropic shape', async () => {
    const r = await post('/v1/messages', { origin: pageOrigin, 'content-type': 'application/json' }, JSON.stringify({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }));
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(up.received).toHaveLength(0);
  });

  test('Origin: null (a sandboxed frame, a file:// page) → 403', async () => {
    expect((await post('/v1/chat/completions', { origin: 'null', 'content-type': 'application/json' })).status).toBe(403);
    expect(up.received).toHaveLength(0);
  });

  test('an allowed origin is served with CORS headers, and its preflight is answered; another origin\'s preflight is refused', async () => {
    const pre = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: allowedOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type');
    const bad = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: pageOrigin, 'access-control-request-method': 'POST' } });
    expect(bad.status).toBe(403);
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
    up.queue.push((res) => json(res, 200, chatCompletion('allowed')));
    const r = await post('/v1/chat/completions', { origin: allowedOrigin, 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
    expect(r.headers.get('access-control-expose-headers')).toContain('x-airoute-request-id');
    expect(r.headers.get('vary')).toContain('Origin');
  });

  test('a same-origin page (the demo page: Origin equals the Host it called) needs no configuration', async () => {
    up.queue.push((res) => json(res, 200, chatCompletion('same origin')));
    const r = await post('/v1/chat/completions', { origin: sc.dataURL, 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('a WebSocket upgrade to a request\'s events from another origin → 403 before any 101 (cross-site WebSocket hijacking)', async () => {
    up.queue.push((res) => json(res, 200, chatCompletion('secret answer')));
    const r = await post('/v1/chat/completions', { 'content-type': 'application/json' });
    const id = r.headers.get('x-airoute-request-id')!;
    await r.text();
    const upgrade = (origin: string) =>
      rawExchange(sc.dataPort, `GET /airoute/v1/requests/${id}/events HTTP/1.1\r\nhost: 127.0.0.1:${sc.dataPort}\r\norigin: ${origin}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    const refused = await upgrade('http://evil.example');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'origin_not_allowed' } });
    expect((await upgrade(`http://127.0.0.1:${sc.dataPort}`)).status).toBe(101);
  });
});

describe('Host (DNS rebinding)', () => {
  const rebound = (path: string, method = 'GET', body = '') =>
    rawExchange(sc.dataPort, `${method} ${path} HTTP/1.1\r\nhost: attacker.example:${sc.dataPort}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);

  test('a page that rebinds its own name to 127.0.0.1 gets 403 host_not_allowed for answers, models, polls and events; nothing reaches the upstream', async () => {
    up.queue.push((res) => json(res, 200, chatCompletion('private answer')));
    const r = await post('/v1/chat/completions', { 'content-type': 'application/json' });
    const id = r.headers.get('x-airoute-request-id')!;
    await r.text();
    for (const path of ['/v1/models', `/airoute/v1/requests/${id}`, `/airoute/v1/requests/${id}/events`]) {
      const a = await rebound(path);
      expect(a.status, path).toBe(403);
      expect(JSON.parse(a.body), path).toMatchObject({ error: { code: 'host_not_allowed' } });
      expect(a.body).not.toContain('private answer');
    }
    const p = await rebound('/v1/chat/completions', 'POST', chatBody);
    expect(p.status).toBe(403);
    expect(up.received).toHaveLength(1); // only the test's own request above
  });

  test('loopback names, IP addresses and configured names are answered', async () => {
    for (const host of ['localhost', `localhost:${sc.dataPort}`, 'app.localhost', '127.0.0.1', `[::1]:${sc.dataPort}`, '10.1.2.3', 'airoute.internal', 'AIROUTE.internal.']) {
      const a = await rawExchange(sc.dataPort, `GET /v1/models HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      expect(a.status, host).toBe(200);
    }
    for (const host of ['localhost.attacker.example', '127.0.0.1.nip.io', 'airoute.internal.evil', 'a b']) {
      const a = await rawExchange(sc.dataPort, `GET /v1/models HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      expect(a.status, host).toBe(403);
    }
  });
});

describe('content type', () => {
  test('a POST whose body is not JSON → 415 in the endpoint\'s shape, whoever sends it; nothing reaches the upstream', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const a = await post('/v1/chat/completions', { 'content-type': type });
      expect(a.status, type).toBe(415);
      expect(await a.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
      const b = await post('/v1/messages', { 'content-type': type }, JSON.stringify({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }));
      expect(b.status, type).toBe(415);
      expect(await b.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    }
    const c = await post('/airoute/v1/requests/some-id/complete', { 'content-type': 'text/plain' }, '{"payload":1}');
    expect(c.status).toBe(415);
    expect(up.received).toHaveLength(0);
  });

  test('JSON with parameters or a +json type is accepted; a bodiless POST (cancel) needs no content type', async () => {
    up.queue.push((res) => json(res, 200, chatCompletion('ok')));
    expect((await post('/v1/chat/completions', { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    up.queue.push((res) => json(res, 200, chatCompletion('ok')));
    expect((await post('/v1/chat/completions', { 'content-type': 'application/vnd.api+json' })).status).toBe(200);
    const cancel = await fetch(`${sc.dataURL}/airoute/v1/requests/unknown-id/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(404);
  });
});

describe('in a real browser (Chromium)', () => {
  let browser: Browser;
  beforeAll(async () => {
    if (!available) return;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  test.skipIf(!available)('a page on another origin fires a no-cors text/plain POST and a WebSocket at the sidecar: neither reaches the upstream nor opens', async () => {
    const tab = await browser.newPage();
    await tab.goto(pageOrigin);
    const outcome = await tab.evaluate(
      async ({ base, body }) => {
        await fetch(`${base}/v1/chat/completions`, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body });
        const ws = await new Promise<string>((resolve) => {
          const w = new WebSocket(`${base.replace('http', 'ws')}/airoute/v1/requests/any/events`);
          w.onopen = () => resolve('open');
          w.onerror = () => resolve('error');
        });
        return ws;
      },
      { base: sc.dataURL, body: chatBody },
    );
    expect(outcome).toBe('error');
    expect(up.received).toHaveLength(0);
    await tab.close();
  }, 30_000);

  test.skipIf(!available)('a page on an allowed origin calls the sidecar with fetch (preflight included) and reads the answer and its request id', async () => {
    up.queue.push((res) => json(res, 200, chatCompletion('hello, allowed page')));
    const tab = await browser.newPage();
    await tab.goto(allowedOrigin);
    const got = await tab.evaluate(
      async ({ base, body }) => {
        const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const j = (await r.json()) as { choices: { message: { content: string } }[] };
        return { status: r.status, text: j.choices[0]!.message.content, id: r.headers.get('x-airoute-request-id') };
      },
      { base: sc.dataURL, body: chatBody },
    );
    expect(got).toMatchObject({ status: 200, text: 'hello, allowed page', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    await tab.close();
  }, 30_000);
});
