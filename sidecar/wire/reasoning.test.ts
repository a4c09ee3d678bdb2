import { expect, test } from 'vitest';
import { budgetForEffort, effortForBudget, isEffort } from './reasoning.ts';

test("an effort's budget maps back to the same effort for low, medium and high (a round trip through Anthropic or Gemini keeps the effort)", () => {
  for (const effort of ['low', 'medium', 'high'] as const) expect(effortForBudget(budgetForEffort(effort))).toBe(effort);
});

test('budgets become only efforts every OpenAI reasoning model accepts; Anthropic\'s minimum budget is low', () => {
  expect([1024, 3000, 4096, 10000, 16384, 100000].map(effortForBudget)).toEqual(['low', 'low', 'medium', 'medium', 'high', 'high']);
  expect(budgetForEffort('minimal')).toBe(1024);
});

test('isEffort knows every effort an OpenAI or Anthropic client may send, and nothing else', () => {
  expect(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'].every(isEffort)).toBe(true);
  expect([undefined, 'extreme', 3].some(isEffort)).toBe(false);
});
