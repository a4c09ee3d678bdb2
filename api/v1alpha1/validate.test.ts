// Every kind of invalid config is refused with the path of the offending field and the reason.
import { describe, expect, test } from 'vitest';
import { configHash, formatIssue, validateConfig, validatePush } from './validate.ts';

const ok = () => ({
  backends: [
    { name: 'primary', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9000/v1', apiKey: { env: 'PRIMARY_KEY' } },
    { name: 'claude', type: 'anthropic', baseURL: 'http://127.0.0.1:9001', apiKey: { env: 'ANTHROPIC_API_KEY' } },
  ],
  routes: [
    {
      model: 'chat',
      backends: [
        { backend: 'primary', model: 'gpt-4o-mini' },
        { backend: 'claude', model: 'claude-haiku-4-5' },
      ],
      retry: { attempts: 3, backoff: { baseMs: 100, maxMs: 5000 }, honorRetryAfter: true, budgetPercent: 20 },
      timeouts: { connectMs: 2000, firstTokenMs: 30000, idleMs: 15000, totalMs: 300000 },
      resume: 'prefill',
    },
  ],
});

function issues(mutate: (c: any) => void): string[] {
  const c = ok();
  mutate(c);
  const v = validateConfig(c);
  if (v.ok) return [];
  return v.issues.map(formatIssue);
}

test('the DESIGN.md example validates', () => {
  expect(validateConfig(ok())).toMatchObject({ ok: true });
});

test('an OpenAI-family backend may say which OpenAI API its upstream serves', () => {
  const c = ok();
  (c.backends[0] as Record<string, unknown>).api = 'both';
  expect(validateConfig(c)).toMatchObject({ ok: true });
});

describe('refused, with the path named', () => {
  test.each<[string, (c: any) => void, string]>([
    ['unknown top-level field', (c) => (c.route = []), 'route: unknown field'],
    ['unknown nested field', (c) => (c.routes[0].retry.attemps = 2), 'routes[0].retry.attemps: unknown field'],
    ['unknown backend reference', (c) => (c.routes[0].backends[1].backend = 'x'), 'routes[0].backends[1].backend: unknown backend "x"'],
    ['missing required field', (c) => delete c.routes[0].model, 'routes[0].model: required field is missing'],
    ['wrong type', (c) => (c.routes[0].retry.attempts = 'three'), 'routes[0].retry.attempts: must be integer'],
    ['out of bounds', (c) => (c.routes[0].retry.attempts = 0), 'routes[0].retry.attempts: must be >= 1'],
    ['bad enum', (c) => (c.routes[0].resume = 'maybe'), 'routes[0].resume: must be one of "none", "prefill", "verify"'],
    ['bad backend type', (c) => (c.backends[0].type = 'bedrock'), 'backends[0].type: must be one of'],
    ['duplicate backend names', (c) => (c.backends[1].name = 'primary'), 'backends[1].name: duplicate backend name "primary"'],
    ['duplicate routes', (c) => c.routes.push({ ...c.routes[0] }), 'routes[1].model: duplicate route "chat"'],
    ['baseMs above maxMs', (c) => (c.routes[0].retry.backoff = { baseMs: 6000, maxMs: 5000 }), 'routes[0].retry.backoff.baseMs: must not exceed maxMs (6000 > 5000)'],
    ['baseURL missing where required', (c) => delete c.backends[0].baseURL, 'backends[0].baseURL: required for type openai-compatible'],
    ['baseURL not a URL', (c) => (c.backends[0].baseURL = 'localhost:9000'), 'backends[0].baseURL: must be an http(s) URL'],
    ['apiKey both env and value', (c) => (c.backends[0].apiKey = { env: 'A', value: 'b' }), 'backends[0].apiKey: must be {env: NAME} or {value: KEY}'],
    ['backend name not a DNS label', (c) => (c.backends[0].name = 'Primary_1'), 'backends[0].name: must match pattern'],
    ['no routes', (c) => (c.routes = []), 'routes: must not have fewer than 1 items'],
    ['all weights zero', (c) => (c.routes[0].backends = [{ backend: 'primary', weight: 0, priority: 0 }, { backend: 'claude', weight: 0, priority: 0 }]), 'routes[0].backends: every target of priority 0 has weight 0'],
    ['demo options on a non-demo backend', (c) => (c.backends[0].demo = { tokens: 3 }), 'backends[0].demo: only valid for type demo'],
    ['an allowed origin with a path', (c) => (c.cors = { allowOrigins: ['https://app.example.com/ui'] }), 'cors.allowOrigins[0]: must be an origin, scheme://host[:port] with no path'],
    ['an allowed origin that is not http(s)', (c) => (c.cors = { allowOrigins: ['chrome-extension://abc'] }), 'cors.allowOrigins[0]: must be an origin'],
    ['an allowed host with a port', (c) => (c.cors = { allowHosts: ['airoute.internal:4000'] }), 'cors.allowHosts[0]: must match pattern'],
    ['a webhook destination with a query', (c) => (c.webhooks = { allow: ['https://hooks.example.com/cb?token=1'] }), 'webhooks.allow[0]: must be an http(s) URL without credentials, query or fragment'],
    ['a private network that is not a CIDR', (c) => (c.webhooks = { privateNetworks: ['10.0.0.0/33'] }), 'webhooks.privateNetworks[0]: must be an IP address or a CIDR'],
    ['api on a backend with one API', (c) => (c.backends[1].api = 'responses'), 'backends[1].api: only valid for types openai, azure-openai, openai-compatible'],
    ['unknown api', (c) => (c.backends[0].api = 'assistants'), 'backends[0].api: must be one of "chat-completions", "responses", "both"'],
    [
      'two different circuit overrides for one deployment',
      (c) => {
        c.routes[0].backends[0].circuit = { cooldownMs: 1000 };
        c.routes.push({ model: 'other', backends: [{ backend: 'primary', model: 'gpt-4o-mini', circuit: { cooldownMs: 2000 } }] });
      },
      'routes[1].backends[0].circuit: backend "primary" model "gpt-4o-mini" already has other circuit settings at routes[0].backends[0].circuit; one deployment has one circuit',
    ],
    ['a host breaker on a route target (it belongs to the backend)', (c) => (c.routes[0].backends[0].circuit = { host: { consecutiveFailures: 2 } }), 'routes[0].backends[0].circuit.host: unknown field'],
    ['bad onTimeout', (c) => (c.routes[0].retry.onTimeout = 'wait'), 'routes[0].retry.onTimeout: must be one of "next", "retry"'],
  ])('%s', (_name, mutate, expected) => {
    const got = issues(mutate);
    expect(got.length).toBeGreaterThan(0);
    expect(got.join('\n')).toContain(expected);
  });

  test('not an object at all', () => {
    expect(validateConfig('backends: []')).toMatchObject({ ok: false });
  });
});

test('browser origins and host names as a browser sends them are accepted', () => {
  expect(validateConfig({ ...ok(), cors: { allowOrigins: ['https://app.example.com', 'http://localhost:5173/'], allowHosts: ['airoute.internal', 'sidecar.local.'] } })).toMatchObject({ ok: true });
});

test('the same circuit override repeated for one deployment, or given once, is accepted', () => {
  const c = ok() as any;
  c.routes[0].backends[0].circuit = { cooldownMs: 1000 };
  c.routes.push({ model: 'other', backends: [{ backend: 'primary', model: 'gpt-4o-mini', circuit: { cooldownMs: 1000 } }, { backend: 'primary', model: 'gpt-4o' }] });
  expect(validateConfig(c)).toMatchObject({ ok: true });
});

test('a push body is validated with config paths prefixed', () => {
  const c = ok();
  (c.routes[0]!.backends[0] as { backend: string }).backend = 'ghost';
  const v = validatePush({ version: 3, config: c });
  expect(v.ok).toBe(false);
  if (!v.ok) expect(v.issues.map(formatIssue)).toContain('config.routes[0].backends[0].backend: unknown backend "ghost"');
  expect(validatePush({ version: 0, config: ok() }).ok).toBe(false);
  expect(validatePush({ version: 1, config: ok() }).ok).toBe(true);
});

test('the content hash ignores key order but not content', () => {
  const a = ok();
  const b = JSON.parse(JSON.stringify({ routes: a.routes, backends: a.backends }));
  expect(configHash(a as never)).toBe(configHash(b));
  b.routes[0].resume = 'verify';
  expect(configHash(a as never)).not.toBe(configHash(b));
  expect(configHash(a as never)).toMatch(/^sha256:[0-9a-f]{64}$/);
});
