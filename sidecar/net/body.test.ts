import { expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { jsonDepthExceeds, MAX_JSON_DEPTH, parseJsonObject } from './body.ts';

const nested = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;

test('nesting is counted outside strings only: brackets inside strings, escaped quotes and backslashes do not count', () => {
  expect(jsonDepthExceeds(nested(3), 3)).toBe(false);
  expect(jsonDepthExceeds(nested(4), 3)).toBe(true);
  expect(jsonDepthExceeds(JSON.stringify({ s: '[[[[[[{{{{' }), 1)).toBe(false);
  expect(jsonDepthExceeds(JSON.stringify({ s: 'a "quoted [[[ string', t: 'ends in \\', u: [[[]]] }), 3)).toBe(true);
  expect(jsonDepthExceeds(JSON.stringify({ s: 'a "quoted [[[ string', t: 'ends in \\', u: [[]] }), 3)).toBe(false);
});

test(`a body nested ${MAX_JSON_DEPTH} levels is accepted; one level more is a 400 that names the limit, not a stack overflow later`, () => {
  expect(parseJsonObject(nested(MAX_JSON_DEPTH))).toHaveProperty('a');
  const err = (() => {
    try {
      parseJsonObject(nested(200_000));
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(AirouteError);
  expect(err).toMatchObject({ status: 400, code: 'invalid_request' });
  expect((err as Error).message).toContain(String(MAX_JSON_DEPTH));
  expect(() => parseJsonObject(nested(MAX_JSON_DEPTH + 1))).toThrow(/deeper than/);
});
