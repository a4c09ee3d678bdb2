import { expect, test } from 'vitest';
import { demoTokens } from './demo.ts';

test('the demo answer is deterministic per prompt and starts at the beginning of a sentence', () => {
  const a = demoTokens('hello', 20).join('');
  expect(demoTokens('hello', 20).join('')).toBe(a);
  expect(a).toMatch(/^[A-Z]|^airoute/);
  expect(demoTokens('hello', 5)).toHaveLength(5);
  expect(demoTokens('hello', 5).slice(1).every((t) => t.startsWith(' '))).toBe(true);
});
