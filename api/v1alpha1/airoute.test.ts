import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Compile } from 'typebox/compile';
import { expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AIRouteSpec } from './airoute.ts';

const check = Compile(AIRouteSpec);

test('the example AIRoute is valid against the spec schema', async () => {
  const text = await readFile(fileURLToPath(new URL('../../examples/airoute.yaml', import.meta.url)), 'utf8');
  const route = parseAllDocuments(text).map((d) => d.toJS() as { kind: string; spec: unknown }).find((d) => d.kind === 'AIRoute')!;
  expect([...check.Errors(route.spec)]).toEqual([]);
});

test('an API key is a secretKeyRef, never a literal value or an env var', () => {
  const spec = (apiKey: unknown) => ({
    podSelector: {},
    backends: [{ name: 'a', type: 'openai', apiKey }],
    routes: [{ model: 'm', backends: [{ backend: 'a' }] }],
  });
  expect(check.Check(spec({ secretKeyRef: { name: 's', key: 'k' } }))).toBe(true);
  expect(check.Check(spec({ value: 'sk-123' }))).toBe(false);
  expect(check.Check(spec({ env: 'KEY' }))).toBe(false);
});

test('unknown fields are refused', () => {
  expect(check.Check({ podSelector: {}, backends: [{ name: 'a', type: 'demo' }], routes: [{ model: 'm', backends: [{ backend: 'a' }] }], extra: 1 })).toBe(false);
});
