import { describe, expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { isObject, malformed, num, parseJson, str } from './json.ts';

describe('narrowing untrusted JSON', () => {
  test('isObject accepts plain objects only: not null, arrays or primitives', () => {
    expect(isObject({ a: 1 })).toBe(true);
    expect(isObject({})).toBe(true);
    expect(isObject(null)).toBe(false);
    expect(isObject([1, 2])).toBe(false);
    expect(isObject('{}')).toBe(false);
    expect(isObject(3)).toBe(false);
  });

  test('str keeps strings and replaces anything else with the fallback', () => {
    expect(str('chatcmpl-1')).toBe('chatcmpl-1');
    expect(str('')).toBe('');
    expect(str(42)).toBe('');
    expect(str(undefined, 'call_0_0')).toBe('call_0_0');
  });

  test('num keeps finite numbers; NaN, Infinity, numeric strings and missing values become the fallback', () => {
    expect(num(17)).toBe(17);
    expect(num(0, 5)).toBe(0);
    expect(num(Number.NaN)).toBe(0);
    expect(num(Number.POSITIVE_INFINITY, 9)).toBe(9);
    expect(num('12')).toBe(0);
    expect(num(undefined, 4096)).toBe(4096);
  });
});

describe('parseJson on an upstream body', () => {
  test('valid JSON is returned as parsed', () => {
    expect(parseJson('{"id":"msg_1","n":[1,2]}', 'response body')).toEqual({ id: 'msg_1', n: [1, 2] });
  });

  test('truncated JSON is a retriable upstream_malformed 502 naming what was malformed, with the parse error as cause', () => {
    let caught: unknown;
    try {
      parseJson('{"choices":[{"delta":', 'stream chunk');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AirouteError);
    const err = caught as AirouteError;
    expect(err.code).toBe('upstream_malformed');
    expect(err.status).toBe(502);
    expect(err.message).toBe('upstream sent a malformed stream chunk');
    expect(err.retriable).toBe(true);
    expect(err.details.fallback).toBe('retries_exhausted');
    expect(err.details.phase).toBe('stream');
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });
});

test('malformed() without a cause: same code and retry semantics, no cause attached', () => {
  const err = malformed('response body');
  expect(err.code).toBe('upstream_malformed');
  expect(err.message).toBe('upstream sent a malformed response body');
  expect(err.retriable).toBe(true);
  expect(err.cause).toBeUndefined();
});
