// The cost estimator port against the expected values of the API server's own cost tests
// (k8s.io/apiextensions-apiserver schema/cel/compilation_test.go, TestCostEstimation: the same
// schemas and rules, with and without size bounds), and the whole-CRD check with the API
// server's error texts.
import { describe, expect, test } from 'vitest';
import type { StructuralSchema } from '../../operator/crd/generate.ts';
import { crdRuleCosts, declType, estimateRuleCost, STATIC_ESTIMATED_COST_LIMIT } from './cel-cost.ts';

type Prim = 'number' | 'string' | 'boolean' | 'integer';
const prim = (type: Prim, max?: number): StructuralSchema => ({ type, ...(max !== undefined && type === 'string' ? { maxLength: max } : {}) });
const array = (type: Prim) => (max?: number): StructuralSchema => ({ type: 'array', items: prim(type), ...(max !== undefined ? { maxItems: max } : {}) });
const map = (type: Prim) => (max?: number): StructuralSchema => ({ type: 'object', additionalProperties: prim(type), ...(max !== undefined ? { maxProperties: max } : {}) });
const str = (max?: number): StructuralSchema => prim('string', max);

// [name, schema generator, rule, bound, expected cost with the bound, expected cost unbounded]
const CASES: [string, (max?: number) => StructuralSchema, string, number, number, number | undefined][] = [
  ['number array with all', array('number'), 'self.all(x, true)', 10, 32, 4718591],
  ['string array with all', array('string'), 'self.all(x, true)', 20, 62, 3145727],
  ['boolean array with all', array('boolean'), 'self.all(x, true)', 5, 17, 1887437],
  ['map of numbers with all', map('number'), 'self.all(x, true)', 10, 32, 1348169],
  ['map of strings with all', map('string'), 'self.all(x, true)', 3, 11, 1179647],
  ['map of booleans with all', map('boolean'), 'self.all(x, true)', 100, 302, 943718],
  ['string with contains', str, "self.contains('test')", 10, 5, 314574],
  ['string with startsWith', str, "self.startsWith('test')", 15, 2, 2],
  ['concat string', str, 'size(self + "hello") > size("hello")', 4, 7, 314578],
  ['index of array with numbers', array('number'), 'self[1] == 0.0', 5000, 2, 2],
  ['index of array with strings', array('string'), 'self[1] == self[1]', 8, 314577, 314577],
  ['O(n^2) loop with numbers', array('number'), 'self.all(x, self.all(y, true))', 10, 352, undefined],
  ['O(n^3) loop with numbers', array('number'), 'self.all(x, self.all(y, self.all(z, true)))', 10, 3552, undefined],
  ['regex matches simple', str, 'self.matches("x")', 50, 22, 314574],
  ['regex matches empty string', str, '"".matches("(((((((((())))))))))[0-9]")', 10, 7, 7],
  ['regex matches empty regex', str, 'self.matches("")', 100, 1, 1],
  ['set string maxLength to zero', str, 'self == "x"', 0, 1, 2],
  ['set maxLength greater than estimated maxLength', array('number'), 'self.all(x, x == 0.0)', 3 * 1024 * 2048, 25165826, 6291454],
  ['extended library lowerAscii', str, "self.lowerAscii() == 'lower!'", 10, 6, 314575],
];

describe('estimated rule cost, as TestCostEstimation expects it', () => {
  test.each(CASES)('%s', (_name, gen, rule, bound, withBound, unbounded) => {
    expect(estimateRuleCost(rule, declType(gen(bound)))).toBe(withBound);
    if (unbounded !== undefined) expect(estimateRuleCost(rule, declType(gen()))).toBe(unbounded);
  });

  test('the O(n^2) loop without bounds is over the per-rule limit', () => {
    expect(estimateRuleCost('self.all(x, self.all(y, true))', declType(array('number')()))).toBeGreaterThan(STATIC_ESTIMATED_COST_LIMIT);
  });

  test('a function without a cost model is an error, not a guess', () => {
    expect(() => estimateRuleCost('self.frobnicate()', declType(str(5)))).toThrow(/no cost model for function frobnicate/);
  });

  test('macros as cel-go expands them: exists, exists_one, map, filter, has', () => {
    const objs: StructuralSchema = { type: 'array', maxItems: 10, items: { type: 'object', properties: { name: { type: 'string', maxLength: 10 } } } };
    const d = declType(objs);
    // exists: range 1 + init 0 + result 1 + n × (condition 3 + step (1 + (eq ceil(40×0.1)=4 + 2 + 0)))
    expect(estimateRuleCost("self.exists(o, o.name == 'x')", d)).toBe(2 + 10 * (3 + 1 + 1 + 2));
    // exists_one: range 1 + init 0 + result 2 + n × (p + 2)
    expect(estimateRuleCost("self.exists_one(o, o.name == 'x')", d)).toBe(1 + 2 + 10 * (3 + 2));
    // map: range 1 + init [] 10 + result 1 + n × (12 + t (select 2))
    expect(estimateRuleCost('size(self.map(o, o.name)) > 0', d)).toBe(1 + 1 + (1 + 10 + 1 + 10 * 14));
    // has() costs nothing beyond its operand (cel-go checker/cost_test.go, "select: field test only
    // no has() cost": has(input.single_int32) = 1 with PresenceTestHasCost(false), as Kubernetes sets it)
    expect(estimateRuleCost('has(self.x)', declType(map('number')(100)))).toBe(1);
    expect(estimateRuleCost('self.all(o, has(o.name))', d)).toBe(2 + 10 * (2 + 1 + 1));
  });
});

describe('a CRD schema: per-rule cost × cardinality, and the total', () => {
  const schema = (maxItems: number): StructuralSchema => ({
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          items: {
            type: 'array',
            maxItems,
            items: { type: 'object', properties: { tags: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 10 }, 'x-kubernetes-validations': [{ rule: 'self.all(x, self.all(y, x == y))' }] } } },
          },
        },
      },
    },
  });

  test('a rule under a list counts once per item of that list', () => {
    const r = crdRuleCosts(schema(10));
    expect(r.rules).toHaveLength(1);
    expect(r.rules[0]).toMatchObject({ cardinality: 10, cost: r.rules[0]!.perCall * 10, path: 'spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[items].items.properties[tags].x-kubernetes-validations[0].rule' });
    expect(r.errors).toEqual([]);
  });

  test('over the per-rule limit → Forbidden with the API server’s message', () => {
    const r = crdRuleCosts(schema(1000));
    expect(r.errors[0]).toMatch(/^spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.properties\[items\]\.items\.properties\[tags\]\.x-kubernetes-validations\[0\]\.rule: Forbidden: estimated rule cost exceeds budget by factor of \d+\.\dx \(try simplifying the rule\(s\), or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared\)$/);
  });
});
