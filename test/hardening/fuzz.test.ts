// Nothing a client sends can end the process. A bounded fast-check run sends random request lines,
// paths with valid and broken percent-escapes, headers, bodies and WebSocket upgrades to all three
// listeners of a real sidecar process (data port, its upgrade path, admin port). Every answer must
// be a 4xx or a valid success (2xx, 101 for an upgrade), never a 5xx or a silently dropped
// connection; afterwards the process is alive, healthy, and counted no internal error.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { rawExchange, type RawAnswer } from './client.ts';
import { sample, spawnSidecar, type SidecarProcess } from './process.ts';

let sc: SidecarProcess;
/** A request that exists, so some upgrades reach a real event stream (101) rather than a 404. */
let knownId = '';

beforeAll(async () => {
  sc = await spawnSidecar({
    backends: [{ name: 'demo', type: 'demo', demo: { tokens: 4, tokensPerSecond: 100000 } }],
    routes: [{ model: 'demo', backends: [{ backend: 'demo' }] }],
    limits: { maxBodyBytes: 64 * 1024 },
    webhooks: { allow: ['https://hooks.example.com/cb'], secret: { value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } },
  });
  const r = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }) });
  knownId = r.headers.get('x-airoute-request-id') ?? '';
  await r.text();
}, 60_000);
afterAll(async () => {
  await sc?.stop();
});

const escapes = fc.constantFrom('%', '%2', '%ZZ', '%E0%A4%A', '%C3%28', '%FF', '%00', '%2F', '%25', '%E2%82%AC', '%ED%A0%80', '%0D%0A');
const word = fc.stringMatching(/^[A-Za-z0-9._~-]{0,12}$/);
const segment = fc.oneof(word, escapes, fc.tuple(word, escapes, word).map((p) => p.join('')), fc.constantFrom('..', '.', '', ':', '@', ';x=1'));
const knownPaths = fc.constantFrom(
  '/v1/chat/completions',
  '/v1/messages',
  '/v1/embeddings',
  '/v1/models',
  '/v1/models/demo',
  '/airoute/v1/requests/x',
  '/airoute/v1/requests/x/events',
  '/airoute/v1/requests/x/cancel',
  '/airoute/v1/requests/x/complete',
  '/airoute/demo',
  '/healthz',
  '/readyz',
  '/config',
  '/metrics',
);
const path = fc.oneof(
  { arbitrary: knownPaths, weight: 5 },
  fc.tuple(knownPaths, segment).map(([p, s]) => `${p}/${s}`),
  fc.tuple(fc.constantFrom('/airoute/v1/requests/', '/v1/models/'), segment, fc.constantFrom('', '/events', '/cancel', '/complete')).map((p) => p.join('')),
  fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`),
  fc.constantFrom('*', 'http://127.0.0.1/v1/models', '//', '/%', '/?', '/#frag', 'http://[::1/x', '/\u00e9'),
);
const query = fc.oneof(
  fc.constant(''),
  fc.tuple(fc.constantFrom('after', 'stream', 'x', ''), fc.oneof(word, escapes, fc.constantFrom('-1', '1e400', 'NaN', '1.5', '99999999999999999999'))).map(([k, v]) => `?${k}=${v}`),
);
const method = fc.oneof({ arbitrary: fc.constantFrom('GET', 'POST'), weight: 6 }, fc.constantFrom('PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH'), fc.stringMatching(/^[A-Z]{1,8}$/));
const headerValue = fc.oneof(word, escapes, fc.constantFrom('', 'application/json', 'text/plain', 'application/json; charset=utf-8', 'multipart/form-data; boundary=x', 'true', 'respond-async', '2023-06-01', 'null', 'https://hooks.example.com/cb', 'https://hooks.example.com.evil.com/cb', 'http://evil.example', 'localhost', 'evil.example', 'Bearer fuzz-admin-token-0123456789', 'Bearer wrong'));
const headerName = fc.constantFrom('content-type', 'origin', 'host', 'anthropic-version', 'prefer', 'idempotency-key', 'airoute-callback-url', 'airoute-await-callback', 'last-event-id', 'authorization', 'accept', 'x-junk', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'sec-fetch-site');
const someHeaders = fc.uniqueArray(fc.tuple(headerName, headerValue), { maxLength: 6, selector: ([n]) => n });
// Mostly what a well-behaved client sends, so that bodies reach the decoders and the pipeline.
const headers = fc.oneof({ arbitrary: someHeaders.map((h): [string, string][] => [['content-type', 'application/json'], ...h.filter(([n]) => n !== 'content-type')]), weight: 2 }, someHeaders);
const chatBody = fc.record({
  model: fc.oneof(fc.constant('demo'), word),
  stream: fc.boolean(),
  max_tokens: fc.oneof(fc.constant(5), fc.integer({ min: -5, max: 10 })),
  messages: fc.oneof(fc.constant([{ role: 'user', content: 'hi' }]), fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'tool', 'x'), content: fc.oneof(fc.string(), fc.constant(null), fc.jsonValue({ maxDepth: 2 })) }), { maxLength: 3 })),
});
const body = fc.oneof(
  fc.constant(''),
  { arbitrary: chatBody.map((b) => JSON.stringify(b)), weight: 4 },
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.integer({ min: 1, max: 3000 }).map((n) => `{"model":"demo","messages":${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
  fc.constant(JSON.stringify({ version: 1.7976931348623157e308, config: {} })),
  fc.constant(JSON.stringify({ input: 'hello', model: 'demo' })),
);

function request(m: string, target: string, hs: [string, string][], b: string, opts: { defaultHost?: boolean } = {}): Buffer {
  const payload = Buffer.from(b, 'latin1');
  const lines = [`${m} ${target} HTTP/1.1`];
  if (opts.defaultHost !== false && !hs.some(([n]) => n === 'host')) lines.push('host: 127.0.0.1');
  for (const [n, v] of hs) lines.push(`${n}: ${v}`);
  lines.push('connection: close');
  if (payload.length || m === 'POST' || m === 'PUT') lines.push(`content-length: ${payload.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

/** A 4xx, or a success the endpoint can give: 2xx (101 for an upgrade). Never a 5xx, never no answer at all. */
function acceptable(a: RawAnswer, upgrade = false): boolean {
  if (a.status === undefined) return false;
  if (a.status >= 400 && a.status < 500) return true;
  if (upgrade && a.status === 101) return true;
  return a.status >= 200 && a.status < 300;
}

const run = (n: number) => ({ numRuns: n, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true });

test('the upgrades that used to end the process (a malformed percent-escape, a target new URL rejects) → 400 on that socket; the process lives', async () => {
  for (const target of ['/airoute/v1/requests/%E0%A4%A/events', 'http://[::1/airoute/v1/requests/x/events', '//:@/']) {
    const a = await rawExchange(sc.dataPort, `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    expect(a.status, target).toBe(400);
  }
  expect(sc.alive()).toBe(true);
});

// Half random, half shaped like a provider call, so that many bodies reach the decoders and the pipeline.
const dataRequest = fc.oneof(
  fc.tuple(method, path, query, headers, body),
  fc.tuple(fc.constant('POST'), fc.constantFrom('/v1/chat/completions', '/v1/messages', '/v1/embeddings'), query, headers, body),
);

test('data port: random requests get a 4xx or a valid success, never a 5xx or a dropped connection', async () => {
  await fc.assert(
    fc.asyncProperty(dataRequest, async ([m, p, q, hs, b]) => {
      const answer = await rawExchange(sc.dataPort, request(m, `${p}${q}`, hs, b));
      expect(acceptable(answer), `${m} ${p}${q} ${JSON.stringify(hs)} ${b.slice(0, 80)} -> ${answer.head.slice(0, 200)} ${answer.body.slice(0, 200)}`).toBe(true);
    }),
    run(2500),
  );
  expect(sc.alive()).toBe(true);
}, 120_000);

test('upgrade path: random WebSocket upgrades get 101 or a 4xx on the socket, never a crash', async () => {
  const upgradeHeaders = fc.record({
    key: fc.oneof(fc.constant('dGhlIHNhbXBsZSBub25jZQ=='), word),
    version: fc.constantFrom('13', '8', '', 'x'),
    upgrade: fc.constantFrom('websocket', 'WebSocket', 'h2c', 'x'),
  });
  const upgradePath = fc.oneof(path, fc.constant(`/airoute/v1/requests/${knownId}/events`));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('GET', 'POST', 'GET'), upgradePath, query, headers, upgradeHeaders, async (m, p, q, hs, u) => {
      const all: [string, string][] = [...hs.filter(([n]) => n !== 'content-type'), ['upgrade', u.upgrade], ['connection', 'Upgrade'], ['sec-websocket-key', u.key], ['sec-websocket-version', u.version]];
      const lines = [`${m} ${p}${q} HTTP/1.1`, ...(all.some(([n]) => n === 'host') ? [] : ['host: 127.0.0.1']), ...all.map(([n, v]) => `${n}: ${v}`)];
      const answer = await rawExchange(sc.dataPort, `${lines.join('\r\n')}\r\n\r\n`, 3000);
      expect(acceptable(answer, true), `${m} ${p}${q} ${JSON.stringify(all)} -> ${answer.head.slice(0, 200)} ${answer.body.slice(0, 200)}`).toBe(true);
    }),
    run(1000),
  );
  expect(sc.alive()).toBe(true);
}, 120_000);

test('admin port: random requests and config pushes get a 4xx or a valid success', async () => {
  const adminPath = fc.oneof(fc.constantFrom('/healthz', '/readyz', '/config', '/metrics'), path);
  await fc.assert(
    fc.asyncProperty(method, adminPath, query, headers, body, async (m, p, q, hs, b) => {
      const answer = await rawExchange(sc.adminPort, request(m, `${p}${q}`, hs, b));
      expect(acceptable(answer), `${m} ${p}${q} ${JSON.stringify(hs)} ${b.slice(0, 80)} -> ${answer.head.slice(0, 200)} ${answer.body.slice(0, 200)}`).toBe(true);
    }),
    run(1000),
  );
  expect(sc.alive()).toBe(true);
}, 120_000);

test('afterwards the process is alive and healthy, still serves, and no request hit a defect', async () => {
  expect(sc.alive()).toBe(true);
  expect((await fetch(`${sc.adminURL}/healthz`)).status).toBe(200);
  const r = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }) });
  expect(r.status).toBe(200);
  const metrics = await sc.metrics();
  for (const site of ['data', 'control', 'events', 'admin', 'pipeline', 'async']) expect(sample(metrics, `airoute_internal_errors_total{site="${site}"}`), site).toBe(0);
});
