import { describe, expect, test } from 'vitest';
import { selects } from './selector.ts';

describe('podSelector matching', () => {
  test.each([
    ['empty selector selects everything', {}, { app: 'x' }, true],
    ['matchLabels all equal', { matchLabels: { app: 'a', tier: 'web' } }, { app: 'a', tier: 'web', x: 'y' }, true],
    ['matchLabels one differs', { matchLabels: { app: 'a' } }, { app: 'b' }, false],
    ['In hit', { matchExpressions: [{ key: 'app', operator: 'In' as const, values: ['a', 'b'] }] }, { app: 'b' }, true],
    ['In missing key', { matchExpressions: [{ key: 'app', operator: 'In' as const, values: ['a'] }] }, {}, false],
    ['NotIn missing key passes', { matchExpressions: [{ key: 'app', operator: 'NotIn' as const, values: ['a'] }] }, {}, true],
    ['NotIn hit fails', { matchExpressions: [{ key: 'app', operator: 'NotIn' as const, values: ['a'] }] }, { app: 'a' }, false],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' as const }] }, { app: '' }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' as const }] }, { app: 'a' }, false],
  ])('%s', (_name, selector, labels, want) => {
    expect(selects(selector, labels)).toBe(want);
  });
});
