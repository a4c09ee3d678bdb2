import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { modelAndStream, scanJsonObject, withMembers, type RawJson } from './raw-json.ts';

function raw(text: string): RawJson {
  const scan = scanJsonObject(text, 256);
  if (scan.tooDeep) throw new Error('too deep');
  return scan.raw;
}

const nested = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;

describe('depth', () => {
  test('nesting is counted outside strings only: brackets inside strings, escaped quotes and backslashes do not count', () => {
    expect(scanJsonObject(nested(3), 3).tooDeep).toBe(false);
    expect(scanJsonObject(nested(4), 3).tooDeep).toBe(true);
    expect(scanJsonObject(JSON.stringify({ s: '[[[[[[{{{{' }), 1).tooDeep).toBe(false);
    expect(scanJsonObject(JSON.stringify({ s: 'a "quoted [[[ string', t: 'ends in \\', u: [[[]]] }), 3).tooDeep).toBe(true);
    expect(scanJsonObject(JSON.stringify({ s: 'a "quoted [[[ string', t: 'ends in \\', u: [[]] }), 3).tooDeep).toBe(false);
  });
});

describe('top-level members', () => {
  test('each top-level value is found exactly, whitespace around it left out; nested members and strings that look like names are not members', () => {
    const text = ' { "model" :  "gpt" , "messages":[{"model":"inner","content":"\\"model\\": x"}],\n"n":2 ,"o":{"stream":true}, "s": "a,b}" } ';
    const r = raw(text);
    const values = Object.fromEntries([...r.members!].map(([k, s]) => [k, text.slice(s.start, s.end)]));
    expect(values).toEqual({ model: '"gpt"', messages: '[{"model":"inner","content":"\\"model\\": x"}]', n: '2', o: '{"stream":true}', s: '"a,b}"' });
    expect(text[r.close]).toBe('}');
  });

  test('a name given twice, or spelled with an escape, makes the members unknown: a splice could leave the client\'s value as the one a server reads', () => {
    expect(raw('{"model":"a","model":"b"}').members).toBeUndefined();
    expect(raw('{"mod\\u0065l":"a","model":"b"}').members).toBeUndefined();
    expect(withMembers(raw('{"model":"a","model":"b"}'), { model: '"m"' })).toBeUndefined();
  });
});

test('modelAndStream: the model always; the stream flag only when the attempt\'s differs from the client\'s, or when it is missing; never for an endpoint without one', () => {
  expect(modelAndStream({ stream: true }, 'm"x', true)).toEqual({ model: '"m\\"x"' });
  expect(modelAndStream({ stream: true }, 'm', false)).toEqual({ model: '"m"', stream: 'false' });
  expect(modelAndStream({}, 'm', false)).toEqual({ model: '"m"', stream: 'false' });
  expect(modelAndStream({ stream: true }, 'm')).toEqual({ model: '"m"' });
});

describe('withMembers', () => {
  test('replaces values in place, appends new members last, and keeps every other byte as the client sent it', () => {
    const text = '{ "model": "alias",\n  "messages": [ {"role": "user", "content": "hi"} ],  "stream": true }';
    const out = withMembers(raw(text), { model: '"m"', stream_options: '{"include_usage":true}' })!;
    expect(out).toBe('{ "model": "m",\n  "messages": [ {"role": "user", "content": "hi"} ],  "stream": true ,"stream_options":{"include_usage":true}}');
    expect(JSON.parse(out)).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
  });

  test('an empty object gets its members without a leading comma', () => {
    expect(withMembers(raw('{}'), { a: '1', b: '2' })).toBe('{"a":1,"b":2}');
  });

  test('for any object, the splice parses to what {...body, ...set} gives, in the same key order', () => {
    const key = fc.oneof(fc.constantFrom('model', 'stream', 'stream_options', 'messages'), fc.string());
    fc.assert(
      fc.property(fc.dictionary(key, fc.jsonValue()), fc.dictionary(fc.constantFrom('model', 'stream', 'x'), fc.jsonValue()), fc.boolean(), (body, set, pretty) => {
        const text = JSON.stringify(body, null, pretty ? 2 : undefined);
        const r = raw(text);
        fc.pre(r.members !== undefined);
        const json = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, JSON.stringify(v)]));
        const out = withMembers(r, json)!;
        const expected = JSON.parse(JSON.stringify({ ...body, ...set })) as unknown;
        expect(JSON.stringify(JSON.parse(out))).toBe(JSON.stringify(expected));
      }),
      { numRuns: 300 },
    );
  });
});
