import { describe, expect, test } from 'vitest';
import { decodeProof, echoOf, encodeProof, itemId, requestIdOf, responseIdOf, responseIdOfItem, responsesUsage, usageFromResponses } from './shapes.ts';

describe('ids', () => {
  test('a response the sidecar makes is named after its request, and the name leads back to it', () => {
    const id = '0b6c3f52-1a2b-4c3d-8e9f-0123456789ab';
    expect(responseIdOf(id)).toBe('resp_0b6c3f521a2b4c3d8e9f0123456789ab');
    expect(requestIdOf(responseIdOf(id))).toBe(id);
  });

  test("an upstream's own response id leads to no request", () => {
    expect(requestIdOf('resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b')).toBeUndefined();
    expect(requestIdOf('msg_0b6c3f521a2b4c3d8e9f0123456789ab')).toBeUndefined();
  });

  test('item ids are a function of the response and the position, so a replay names them alike, and lead back to the response', () => {
    expect(itemId('resp_abc', 'message', 0)).toBe('msg_abc_0');
    expect(itemId('resp_abc', 'function_call', 2)).toBe('fc_abc_2');
    expect(itemId('resp_abc', 'reasoning', 1)).toBe('rs_abc_1');
    const resp = responseIdOf('0b6c3f52-1a2b-4c3d-8e9f-0123456789ab');
    expect(responseIdOfItem(itemId(resp, 'message', 3))).toBe(resp);
    expect(responseIdOfItem('msg_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b')).toBeUndefined();
  });
});

test('usage: input counts cached tokens, output counts reasoning tokens, both ways', () => {
  const wire = responsesUsage({ inputTokens: 120, outputTokens: 40, cacheReadTokens: 96, reasoningTokens: 30 });
  expect(wire).toEqual({ input_tokens: 120, input_tokens_details: { cached_tokens: 96 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 30 }, total_tokens: 160 });
  expect(usageFromResponses(wire)).toEqual({ inputTokens: 120, outputTokens: 40, cacheReadTokens: 96, reasoningTokens: 30 });
  expect(usageFromResponses(null)).toBeUndefined();
});

test("a response repeats the request's settings, with the API's defaults for those left out", () => {
  expect(echoOf({ model: 'm', input: 'x' })).toEqual({
    background: false,
    instructions: null,
    max_output_tokens: null,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    user: null,
    metadata: {},
  });
  expect(echoOf({ instructions: 'Be brief.', reasoning: { effort: 'low' }, store: false, background: true })).toMatchObject({
    instructions: 'Be brief.',
    reasoning: { effort: 'low', summary: null },
    store: false,
    background: true,
  });
});

describe('reasoning proof in encrypted_content', () => {
  test("OpenAI's own encrypted content goes as it came, and comes back as OpenAI's", () => {
    expect(encodeProof({ origin: 'responses', encrypted: 'gAAAAB...' })).toBe('gAAAAB...');
    expect(decodeProof('gAAAAB...')).toEqual({ origin: 'responses', encrypted: 'gAAAAB...' });
  });

  test("another provider's signature is wrapped with its origin and unwrapped intact", () => {
    const wrapped = encodeProof({ origin: 'anthropic', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' });
    expect(wrapped).toMatch(/^airoute\.v1\./);
    expect(decodeProof(wrapped!)).toEqual({ origin: 'anthropic', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' });
    expect(decodeProof(encodeProof({ origin: 'anthropic', redacted: 'opaque' })!)).toEqual({ origin: 'anthropic', redacted: 'opaque' });
  });

  test('no proof, no encrypted_content; a damaged wrapper reads as opaque OpenAI content, never as a wrong origin', () => {
    expect(encodeProof({ origin: 'gemini' })).toBeUndefined();
    expect(decodeProof('airoute.v1.!!!')).toEqual({ origin: 'responses', encrypted: 'airoute.v1.!!!' });
  });
});
