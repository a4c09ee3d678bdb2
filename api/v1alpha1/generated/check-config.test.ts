// The generated checks are TypeBox's compiled ones with typebox taken out: the file must be current,
// and must accept exactly the documents TypeBox's own validator accepts, or the sidecar would run a
// document the operator refuses (or refuse one it accepts, with no error to show: validate.ts asks
// typebox for the errors only after this check failed).
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { Compile } from 'typebox/compile';
import { expect, test } from 'vitest';
import { CHECK_FILE, schemaCheckSource } from '../../../scripts/gen-schema-check.ts';
import { ConfigPush, SidecarConfig } from '../config.ts';
import { checkConfigPush, checkSidecarConfig } from './check-config.ts';

test(`${CHECK_FILE} is up to date with api/v1alpha1/config.ts (regenerate: npm run gen:schema-check)`, async () => {
  const onDisk = await readFile(new URL(`../../../${CHECK_FILE}`, import.meta.url), 'utf8');
  expect(onDisk).toBe(schemaCheckSource());
});

test('the generated file imports nothing of typebox', async () => {
  const text = await readFile(new URL('./check-config.ts', import.meta.url), 'utf8');
  expect(text.match(/^import .*$/gm)).toEqual([`import type { ConfigPush, SidecarConfig } from '../config.ts';`]);
});

/** Every field the schema has, once, so a mutation anywhere in it meets a real rule. */
const full = () => ({
  backends: [
    {
      name: 'primary',
      type: 'openai-compatible',
      baseURL: 'http://127.0.0.1:9000/v1',
      apiKey: { env: 'PRIMARY_KEY' },
      prefill: true,
      api: 'both',
      headers: { 'x-team': 'search' },
      circuit: { consecutiveFailures: 5, failureRatePercent: 50, minimumRequests: 20, windowMs: 30000, cooldownMs: 15000, host: { consecutiveFailures: 3, cooldownMs: 5000 } },
    },
    { name: 'azure', type: 'azure-openai', baseURL: 'https://x.openai.azure.com', apiKey: { value: 'sk-1' }, apiVersion: '2024-10-21' },
    { name: 'demo', type: 'demo', demo: { tokens: 48, tokensPerSecond: 25.5 } },
  ],
  routes: [
    {
      model: 'chat',
      backends: [
        { backend: 'primary', model: 'gpt-4o-mini', priority: 0, weight: 3, circuit: { consecutiveFailures: 2 } },
        { backend: 'demo', priority: 1 },
      ],
      retry: { attempts: 3, backoff: { baseMs: 100, maxMs: 5000 }, honorRetryAfter: true, budgetPercent: 20, onTimeout: 'retry' },
      timeouts: { connectMs: 2000, firstTokenMs: 30000, idleMs: 15000, totalMs: 300000 },
      resume: 'verify',
      fallbackOn: ['retries_exhausted', 'auth'],
    },
  ],
  limits: { maxBodyBytes: 1048576, maxResponseBytes: 1048576, maxCheckpointChars: 4096 },
  async: { maxInFlight: 16, maxStoredBytes: 1048576 },
  journal: { type: 'redis', url: 'redis://127.0.0.1:6379/0', keyPrefix: 'a:', retention: { maxRequests: 10, maxEventsPerRequest: 100, maxBytes: 4096, ttlMs: 60000 }, password: { env: 'REDIS_PASSWORD' }, ownerLeaseMs: 10000 },
  webhooks: { allow: ['https://hooks.example.com/airoute'], privateNetworks: ['10.0.0.0/8'], secret: { value: 'whsec' }, attempts: 5, timeoutMs: 10000, awaitTimeoutMs: 60000 },
  cors: { allowOrigins: ['https://app.example.com'], allowHosts: ['airoute.internal'] },
});

type Json = unknown;
type Path = (string | number)[];

function paths(v: Json, at: Path = []): Path[] {
  if (Array.isArray(v)) return [at, ...v.flatMap((x, i) => paths(x, [...at, i]))];
  if (v !== null && typeof v === 'object') return [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))];
  return [at];
}

/** Strings at the edges of the length rules: surrogate pairs count one code point, lone surrogates one too. */
const edgeStrings = fc.oneof(
  fc.constantFrom('', 'a', 'primary', 'Primary', '-a', 'a-', 'http://h', 'redis://h', 'host.example.', 'not a host', 'next', 'verify', 'auth'),
  fc.tuple(fc.constantFrom('a', '😀', '\ud800', '\udc00', 'é'), fc.constantFrom(1, 2, 63, 64, 126, 127, 128, 253, 254, 256, 257, 512, 513, 2048, 2049)).map(([c, n]) => c.repeat(n)),
);
const edgeNumbers = fc.constantFrom(-1, 0, 0.5, 1, 9, 10, 11, 16, 63, 100, 101, 1000, 1001, 1024, 65536, 1e6, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, Infinity, NaN);
const replacement = fc.oneof(edgeStrings, edgeNumbers, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, true, [], {}, { env: 'K' }, { value: 'v' }, { env: 'K', value: 'v' }));

/** A document with one place changed: a value replaced, a field dropped, or a field added. */
const mutated = fc
  .record({ pick: fc.nat(), kind: fc.constantFrom('replace', 'drop', 'add'), value: replacement, key: fc.constantFrom('colour', 'host', 'env', 'value', 'type', 'model', '__proto__x') })
  .map(({ pick, kind, value, key }) => {
    const doc = full() as Json;
    const all = paths(doc);
    const path = all[pick % all.length]!;
    if (path.length === 0) return kind === 'replace' ? value : doc;
    const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], doc);
    const last = path.at(-1)!;
    if (kind === 'replace') parent[last] = value;
    else if (kind === 'drop') Array.isArray(parent) ? parent.splice(last as number, 1) : delete parent[last];
    else if (parent[last] !== null && typeof parent[last] === 'object' && !Array.isArray(parent[last])) parent[last][key] = value;
    else parent[last] = value;
    return doc;
  });

test('the generated SidecarConfig check accepts exactly what TypeBox accepts, on documents changed in one place', () => {
  const typebox = Compile(SidecarConfig);
  expect(checkSidecarConfig(full())).toBe(true);
  let refused = 0;
  fc.assert(
    fc.property(mutated, (doc) => {
      const want = typebox.Check(doc);
      if (!want) refused++;
      expect(checkSidecarConfig(doc)).toBe(want);
    }),
    { numRuns: 3000 },
  );
  // the changes must reach the rules, or the comparison above shows nothing
  expect(refused).toBeGreaterThan(1000);
});

test('the generated ConfigPush check accepts exactly what TypeBox accepts, version and source included', () => {
  const typebox = Compile(ConfigPush);
  const push = fc.record({
    version: fc.oneof(edgeNumbers, fc.constantFrom<unknown>('1', null, 2)),
    config: fc.oneof(mutated, fc.constant(full())),
    source: fc.option(fc.oneof(fc.record({ namespace: edgeStrings, name: edgeStrings }), replacement), { nil: undefined }),
  });
  let accepted = 0;
  fc.assert(
    fc.property(push, (doc) => {
      const want = typebox.Check(doc);
      if (want) accepted++;
      expect(checkConfigPush(doc)).toBe(want);
    }),
    { numRuns: 2000 },
  );
  expect(accepted).toBeGreaterThan(20);
});
