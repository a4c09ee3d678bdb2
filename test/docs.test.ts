// docs/patterns.md shows real captures; they must match what the sidecar does today.
import { expect, test } from 'vitest';
import { render } from '../scripts/capture-patterns.ts';
import { render as renderTranslation } from '../scripts/docs-translation.ts';

test('the wire captures in docs/patterns.md are current (regenerate with npm run docs:captures)', async () => {
  const { current, next } = await render();
  expect(current).toBe(next);
});

test('the parameter table in docs/translation.md is the one the adapters are checked against (regenerate with npm run docs:translation)', async () => {
  const { current, next } = await renderTranslation();
  expect(current).toBe(next);
});
