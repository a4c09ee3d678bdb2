// docs/patterns.md shows real captures; they must match what the sidecar does today.
import { expect, test } from 'vitest';
import { render } from '../scripts/capture-patterns.ts';

test('the wire captures in docs/patterns.md are current (regenerate with npm run docs:captures)', async () => {
  const { current, next } = await render();
  expect(current).toBe(next);
});
