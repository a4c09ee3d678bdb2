// The table itself is checked against the adapters in test/parameters.test.ts; this checks the
// helpers that name a refused parameter the way the client spelled it.
import { expect, test } from 'vitest';
import type { ChatPrompt, ChatRequest, JsonObject } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import { clientParam, PARAMETERS, refuseParameters, TABLE_BACKENDS } from './parameters.ts';

function request(format: ChatRequest['format'], body: JsonObject, untranslatable: string[] = []): ChatRequest {
  const prompt: ChatPrompt = { messages: [], untranslatable };
  return { operation: 'chat', format, body, model: 'm', stream: false, includeUsage: false, choices: 1, prompt: () => prompt };
}

test('a parameter with two spellings is named as the client sent it; without it in the body, by its first name', () => {
  expect(clientParam(request('openai', { safety_identifier: 'u' }), 'user')).toBe('safety_identifier');
  expect(clientParam(request('openai', { user: 'u' }), 'user')).toBe('user');
  expect(clientParam(request('anthropic', { metadata: { user_id: 'u' } }), 'user')).toBe('metadata.user_id');
  expect(clientParam(request('openai', {}), 'maxTokens')).toBe('max_completion_tokens');
});

test('one 400 names every refused parameter, sorted, with the first as `param`; nothing refused, nothing thrown', () => {
  let err: unknown;
  try {
    refuseParameters(request('openai', { seed: 1 }, ['logprobs']), ['seed'], 'Anthropic');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(AirouteError);
  expect([(err as AirouteError).status, (err as AirouteError).details.param, (err as AirouteError).message]).toEqual([
    400,
    'logprobs',
    'unsupported parameter(s), with no equivalent in the Anthropic format: logprobs, seed',
  ]);
  expect(() => refuseParameters(request('openai', {}), [], 'Anthropic')).not.toThrow();
});

test('every row names at least one client parameter and says something for every backend', () => {
  for (const row of PARAMETERS) {
    expect(Object.values(row.client).flat().length).toBeGreaterThan(0);
    for (const b of TABLE_BACKENDS) expect(row.backend[b]).not.toBeUndefined();
  }
});
