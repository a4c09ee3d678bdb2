// The generated CRD: up to date with the schema, structural, and enforcing its rules in the
// stand-in API server the way the real one does (a bad manifest is refused with the field named).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AIRouteSpec } from '../../api/v1alpha1/airoute.ts';
import { airouteCrd, airouteCrdYaml, CRD_FILE, type StructuralSchema } from '../../operator/crd/generate.ts';
import { ApiError, StandInApiServer } from '../k8s/api-server.ts';
import { STATIC_ESTIMATED_COST_LIMIT, STATIC_ESTIMATED_CRD_COST_LIMIT } from '../k8s/cel-cost.ts';
import { checkCrd } from '../k8s/crd-validation.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { airoute, demoSpec } from './harness.ts';

test(`${CRD_FILE} is up to date with api/v1alpha1 (regenerate: node scripts/gen-crds.ts)`, async () => {
  const onDisk = await readFile(fileURLToPath(new URL(`../../${CRD_FILE}`, import.meta.url)), 'utf8');
  expect(onDisk).toBe(airouteCrdYaml());
});

describe('the CRD is structural', () => {
  const walk = (s: StructuralSchema, path: string, out: string[]) => {
    if (!s.type) out.push(`${path}: no type`);
    if ((s as Record<string, unknown>).additionalProperties === false) out.push(`${path}: additionalProperties false`);
    if ('patternProperties' in s || 'anyOf' in s || 'oneOf' in s || '$ref' in s) out.push(`${path}: non-structural keyword`);
    if (s.properties && s.additionalProperties) out.push(`${path}: properties and additionalProperties together`);
    if (typeof (s as Record<string, unknown>).exclusiveMinimum === 'number') out.push(`${path}: numeric exclusiveMinimum (OpenAPI v3.0 wants a boolean)`);
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`, out);
    if (s.items) walk(s.items, `${path}[]`, out);
    if (s.additionalProperties) walk(s.additionalProperties, `${path}{}`, out);
  };

  test('every node typed; no additionalProperties:false, patternProperties, anyOf or $ref', () => {
    const problems: string[] = [];
    walk(airouteCrd().spec.versions[0]!.schema.openAPIV3Schema, '', problems);
    expect(problems).toEqual([]);
  });

  test('status subresource, printer columns Ready/Synced/Version/Age, short name, namespaced', () => {
    const crd = airouteCrd();
    const v = crd.spec.versions[0]!;
    expect(v.subresources).toEqual({ status: {} });
    expect(v.additionalPrinterColumns.map((c) => c.name)).toEqual(['Ready', 'Synced', 'Version', 'Age']);
    expect(crd.spec.names.shortNames).toEqual(['air']);
    expect(crd.spec.scope).toBe('Namespaced');
  });
});

describe('the CRD is admissible: every CEL rule within the API server’s static cost limits, with margin', () => {
  const crd = airouteCrd();

  test('each rule’s estimated cost (per call × cardinality) is at most half the per-rule limit; the total at most half the CRD limit', () => {
    const { errors, costs } = checkCrd(crd);
    expect(errors).toEqual([]);
    const report = costs[0]!;
    // The table a reviewer wants to see when bounds change:
    console.log(report.rules.map((r) => `${String(r.cost).padStart(9)}  ${(r.cost / STATIC_ESTIMATED_COST_LIMIT * 100).toFixed(1).padStart(5)}%  ${r.rule.slice(0, 90)}`).join('\n'));
    expect(report.rules.length).toBeGreaterThanOrEqual(8);
    for (const r of report.rules) expect(r.cost, r.rule).toBeLessThanOrEqual(STATIC_ESTIMATED_COST_LIMIT / 2);
    expect(report.total).toBeLessThanOrEqual(STATIC_ESTIMATED_CRD_COST_LIMIT / 2);
  });

  test('the stand-in API server refuses a CRD the real one would: the earlier bounds (64 backends, 32 targets) put the prefill rule over the limit', async () => {
    const wide = structuredClone(crd);
    const spec = wide.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    spec.properties!.backends!.maxItems = 64;
    spec.properties!.routes!.items!.properties!.backends!.maxItems = 32;
    const err = await StandInApiServer.start({ crds: [wide] }).then(
      (s) => (void s.close(), undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(422);
    expect((err as ApiError).message).toBe(
      'CustomResourceDefinition.apiextensions.k8s.io "airoutes.airoute.dev" is invalid: spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].rule: Forbidden: estimated rule cost exceeds budget by factor of 1.313434x (try simplifying the rule(s), or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)',
    );
  });

  test('bounds on every string, list and map; keyed lists are list-type map', () => {
    const unbounded: string[] = [];
    const walk = (s: StructuralSchema, path: string) => {
      if (s.type === 'string' && s.maxLength === undefined && !s.enum && s.format !== 'date-time') unbounded.push(`${path}: string without maxLength`);
      if (s.type === 'array' && s.maxItems === undefined) unbounded.push(`${path}: list without maxItems`);
      if (s.additionalProperties && s.maxProperties === undefined) unbounded.push(`${path}: map without maxProperties`);
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`);
      if (s.items) walk(s.items, `${path}[]`);
      if (s.additionalProperties) walk(s.additionalProperties, `${path}{}`);
    };
    const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
    walk(root.properties!.spec!, 'spec');
    walk(root.properties!.status!, 'status');
    expect(unbounded).toEqual([]);
    const spec = root.properties!.spec!.properties!;
    expect([spec.backends!['x-kubernetes-list-type'], spec.backends!['x-kubernetes-list-map-keys']]).toEqual(['map', ['name']]);
    expect([spec.routes!['x-kubernetes-list-type'], spec.routes!['x-kubernetes-list-map-keys']]).toEqual(['map', ['model']]);
    const conditions = root.properties!.status!.properties!.conditions!;
    expect([conditions['x-kubernetes-list-type'], conditions['x-kubernetes-list-map-keys']]).toEqual(['map', ['type']]);
    // No O(n²) uniqueness rules left: the list types do that job.
    expect(JSON.stringify(root)).not.toContain('exists_one');
  });
});

describe('admission of AIRoutes by the generated schema and its CEL rules', () => {
  let api: StandInApiServer;
  beforeAll(async () => {
    api = await StandInApiServer.start();
  });
  afterAll(async () => {
    await api.close();
  });

  let n = 0;
  const refused = (spec: unknown, fieldValidation?: string): ApiError => {
    try {
      api.create('airoutes', airoute('ns', `bad-${++n}`, spec as AIRouteSpec), fieldValidation ? { fieldValidation } : {});
    } catch (err) {
      if (err instanceof ApiError) return err;
      throw err;
    }
    throw new Error('the manifest was accepted');
  };
  const base = () => demoSpec('chat') as unknown as JsonObject & { backends: JsonObject[]; routes: JsonObject[] };

  test('a valid manifest is admitted with defaults applied', () => {
    const spec = base();
    (spec.routes[0] as JsonObject).retry = { backoff: {} };
    const created = api.create('airoutes', airoute('ns', 'good', spec as unknown as AIRouteSpec));
    const route = ((created.spec as JsonObject).routes as JsonObject[])[0]!;
    expect(route.retry).toEqual({ attempts: 3, backoff: { baseMs: 100, maxMs: 5000 }, honorRetryAfter: true, budgetPercent: 20, onTimeout: 'next' });
    expect(((route.backends as JsonObject[])[0] as JsonObject).weight).toBe(1);
    expect((created.metadata as JsonObject).generation).toBe(1);
  });

  test.each([
    {
      name: 'route names an undeclared backend (CEL)',
      mutate: (s: ReturnType<typeof base>) => ((s.routes[0]!.backends as JsonObject[])[0]!.backend = 'missing'),
      field: 'spec.routes',
      message: 'spec.routes: Invalid value: "object": every routes[].backends[].backend must name a backend declared in spec.backends',
    },
    {
      name: 'duplicate backend names (list-type map)',
      mutate: (s: ReturnType<typeof base>) => s.backends.push({ ...s.backends[0]! }),
      field: 'spec.backends[1]',
      message: 'spec.backends[1]: Duplicate value: map[string]interface {}{"name":"demo"}',
    },
    {
      name: 'duplicate route model names (list-type map)',
      mutate: (s: ReturnType<typeof base>) => s.routes.push({ ...s.routes[0]! }),
      field: 'spec.routes[1]',
      message: 'spec.routes[1]: Duplicate value: map[string]interface {}{"model":"chat"}',
    },
    {
      name: 'a baseURL that is not an http(s) URL (schema pattern)',
      mutate: (s: ReturnType<typeof base>) => s.backends.push({ name: 'oai', type: 'openai-compatible', baseURL: 'not a url' }),
      field: 'spec.backends[1].baseURL',
      message: expect.stringMatching(/^spec\.backends\[1\]\.baseURL: Invalid value: "not a url": spec\.backends\[1\]\.baseURL in body should match /),
    },
    {
      name: 'credentials in a baseURL (schema pattern)',
      mutate: (s: ReturnType<typeof base>) => s.backends.push({ name: 'oai', type: 'openai-compatible', baseURL: 'https://user:pw@llm.example.com/v1' }),
      field: 'spec.backends[1].baseURL',
      message: expect.stringContaining('should match'),
    },
    {
      name: 'a header value with a newline (schema pattern)',
      mutate: (s: ReturnType<typeof base>) => (s.backends[0]!.headers = { 'x-team': 'a\r\nx-injected: 1' }),
      field: 'spec.backends[0].headers[x-team]',
      message: expect.stringContaining('spec.backends[0].headers[x-team] in body should match'),
    },
    {
      name: 'a header name that is not an HTTP token (CEL)',
      mutate: (s: ReturnType<typeof base>) => (s.backends[0]!.headers = { 'x team': 'a' }),
      field: 'spec.backends[0].headers',
      message: 'spec.backends[0].headers: Invalid value: "object": header names must be HTTP tokens of at most 256 characters',
    },
    {
      name: 'a Secret name with a slash, as if from another namespace (schema pattern)',
      mutate: (s: ReturnType<typeof base>) => (s.backends[0]!.apiKey = { secretKeyRef: { name: 'other/keys', key: 'k' } }),
      field: 'spec.backends[0].apiKey.secretKeyRef.name',
      message: expect.stringMatching(/^spec\.backends\[0\]\.apiKey\.secretKeyRef\.name: Invalid value: "other\/keys": .* should match/),
    },
    {
      name: 'a Redis URL with a password in it (schema pattern)',
      mutate: (s: ReturnType<typeof base>) => ((s as JsonObject).journal = { type: 'redis', url: 'redis://:hunter2@redis:6379' }),
      field: 'spec.journal.url',
      message: expect.stringContaining('should match'),
    },
    {
      name: 'the same fallback condition twice (list-type set)',
      mutate: (s: ReturnType<typeof base>) => (s.routes[0]!.fallbackOn = ['auth', 'auth']),
      field: 'spec.routes[0].fallbackOn[1]',
      message: 'spec.routes[0].fallbackOn[1]: Duplicate value: "auth"',
    },
    {
      name: 'baseMs above maxMs (CEL)',
      mutate: (s: ReturnType<typeof base>) => (s.routes[0]!.retry = { backoff: { baseMs: 9000, maxMs: 100 } }),
      field: 'spec.routes[0].retry.backoff.baseMs',
      message: 'spec.routes[0].retry.backoff.baseMs: Invalid value: "object": baseMs must not exceed maxMs',
    },
    {
      name: 'every weight zero (CEL)',
      mutate: (s: ReturnType<typeof base>) => ((s.routes[0]!.backends as JsonObject[])[0]!.weight = 0),
      field: 'spec.routes[0].backends',
      message: 'spec.routes[0].backends: Invalid value: "object": at least one backend of a route needs a weight above 0',
    },
    {
      name: 'resume: prefill on a backend that cannot prefill, without an explicit fallback (CEL)',
      mutate: (s: ReturnType<typeof base>) => {
        s.backends.push({ name: 'oai', type: 'openai' });
        s.routes[0] = { model: 'chat', resume: 'prefill', backends: [{ backend: 'oai' }] };
      },
      field: 'spec.routes',
      message: expect.stringContaining('resume: prefill needs every backend of the route to accept an assistant prefix'),
    },
    {
      name: 'negative weight (schema bound)',
      mutate: (s: ReturnType<typeof base>) => ((s.routes[0]!.backends as JsonObject[])[0]!.weight = -1),
      field: 'spec.routes[0].backends[0].weight',
      message: 'spec.routes[0].backends[0].weight: Invalid value: -1: spec.routes[0].backends[0].weight in body should be greater than or equal to 0',
    },
    {
      name: 'unknown backend type (schema enum)',
      mutate: (s: ReturnType<typeof base>) => (s.backends[0]!.type = 'openia'),
      field: 'spec.backends[0].type',
      message: expect.stringMatching(/^spec\.backends\[0\]\.type: Unsupported value: "openia": supported values: "openai", /),
    },
    {
      name: 'too many attempts (schema bound)',
      mutate: (s: ReturnType<typeof base>) => (s.routes[0]!.retry = { attempts: 50 }),
      field: 'spec.routes[0].retry.attempts',
      message: 'spec.routes[0].retry.attempts: Invalid value: 50: spec.routes[0].retry.attempts in body should be less than or equal to 10',
    },
    {
      name: 'missing routes (required)',
      mutate: (s: ReturnType<typeof base>) => delete (s as Partial<typeof s>).routes,
      field: 'spec.routes',
      message: 'spec.routes: Required value',
    },
  ])('$name → 422 naming $field', ({ mutate, field, message }) => {
    const spec = base();
    mutate(spec);
    const err = refused(spec);
    expect(err.code).toBe(422);
    expect(err.reason).toBe('Invalid');
    expect(err.causes.map((c) => c.field)).toContain(field);
    expect(err.causes.find((c) => c.field === field)!.message).toEqual(message);
    expect(err.message).toMatch(/^AIRoute\.airoute\.dev "bad-\d+" is invalid: /);
  });

  test('an unknown field under fieldValidation=Strict (kubectl apply) → 400 strict decoding error naming it; default → pruned with a warning', () => {
    const spec = base();
    (spec.routes[0] as JsonObject).retires = { attempts: 2 };
    const err = refused(spec, 'Strict');
    expect(err.code).toBe(400);
    expect(err.message).toBe('AIRoute in version "v1alpha1" cannot be handled as a AIRoute: strict decoding error: unknown field "spec.routes[0].retires"');
    const created = api.create('airoutes', airoute('ns', 'pruned', spec as unknown as AIRouteSpec));
    expect(((created.spec as JsonObject).routes as JsonObject[])[0]).not.toHaveProperty('retires');
  });
});
