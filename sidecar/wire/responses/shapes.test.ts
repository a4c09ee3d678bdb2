import { describe, expect, test } from 'vitest';
import { decodeProof, echoOf, encodeProof, inputItems, itemId, outputToInput, requestIdOf, responseIdOf, responseIdOfItem, responsesUsage, usageFromResponses, wantsReasoningProof } from './shapes.ts';

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

describe('ids: only the exact forms the sidecar makes lead back to it', () => {
  const hex = '0b6c3f521a2b4c3d8e9f0123456789ab';

  test('a response id needs its resp_ prefix; any other five characters before the hex are not one', () => {
    expect(requestIdOf(hex)).toBeUndefined();
    expect(requestIdOf(`abcd_${hex}`)).toBeUndefined();
    expect(requestIdOf(`resp_${hex}`)).toBe('0b6c3f52-1a2b-4c3d-8e9f-0123456789ab');
  });

  test('an item id is a known prefix, the hex and a position of any length, with nothing before or after', () => {
    expect(responseIdOfItem(`fc_${hex}_12`)).toBe(`resp_${hex}`);
    expect(responseIdOfItem(`item_${hex}_0`)).toBe(`resp_${hex}`);
    expect(responseIdOfItem(`xmsg_${hex}_1`)).toBeUndefined();
    expect(responseIdOfItem(`msg_${hex}_1x`)).toBeUndefined();
  });

  test('an item of a type with no prefix of its own is item_; an id without resp_ is used whole', () => {
    expect(itemId('resp_abc', 'web_search_call', 4)).toBe('item_abc_4');
    expect(itemId('abcdefg', 'message', 0)).toBe('msg_abcdefg_0');
  });
});

test('usage without its details reads as no cached and no reasoning tokens (never a crash, never an invented zero)', () => {
  expect(usageFromResponses({ input_tokens: 12, output_tokens: 3 })).toStrictEqual({ inputTokens: 12, outputTokens: 3 });
  expect(usageFromResponses({ input_tokens: 12, output_tokens: 3, input_tokens_details: {}, output_tokens_details: { reasoning_tokens: null } })).toStrictEqual({
    inputTokens: 12,
    outputTokens: 3,
  });
});

test('the client wants reasoning proofs back only when include names reasoning.encrypted_content', () => {
  expect(wantsReasoningProof({ include: ['message.output_text.logprobs', 'reasoning.encrypted_content'] })).toBe(true);
  expect(wantsReasoningProof({ include: ['message.output_text.logprobs'] })).toBe(false);
  expect(wantsReasoningProof({ include: 'reasoning.encrypted_content' })).toBe(false);
  expect(wantsReasoningProof({})).toBe(false);
});

describe('reasoning proof: every field and every way a wrapper can be wrong', () => {
  test('a proof with only encrypted content (Gemini-style) is wrapped and unwrapped with exactly its fields', () => {
    expect(decodeProof(encodeProof({ origin: 'gemini', encrypted: 'CiQB' })!)).toStrictEqual({ origin: 'gemini', encrypted: 'CiQB' });
    expect(decodeProof(encodeProof({ origin: 'anthropic', signature: 's', redacted: 'r', encrypted: 'e' })!)).toStrictEqual({
      origin: 'anthropic',
      signature: 's',
      redacted: 'r',
      encrypted: 'e',
    });
    expect(decodeProof(encodeProof({ origin: 'anthropic', signature: 'sig' })!)).toStrictEqual({ origin: 'anthropic', signature: 'sig' });
  });

  test('fields of the wrong type in a wrapper are left out', () => {
    const wrap = (v: unknown) => `airoute.v1.${Buffer.from(JSON.stringify(v)).toString('base64url')}`;
    expect(decodeProof(wrap({ o: 'anthropic', s: 1, r: null, e: false }))).toStrictEqual({ origin: 'anthropic' });
  });

  test("a wrapper without an origin, or content without the prefix, is OpenAI's own opaque content", () => {
    const wrap = (v: unknown) => `airoute.v1.${Buffer.from(JSON.stringify(v)).toString('base64url')}`;
    expect(decodeProof(wrap({ s: 'sig' }))).toStrictEqual({ origin: 'responses', encrypted: wrap({ s: 'sig' }) });
    expect(decodeProof(wrap(null))).toStrictEqual({ origin: 'responses', encrypted: wrap(null) });
    // Eleven characters, then what would unwrap as an Anthropic proof: without the prefix it is not one.
    const lookalike = `gAAAAABnxyz${Buffer.from(JSON.stringify({ o: 'anthropic', s: 'forged' })).toString('base64url')}`;
    expect(decodeProof(lookalike)).toStrictEqual({ origin: 'responses', encrypted: lookalike });
  });
});

test('a request input as items: a string is one user message, objects in a list are kept, anything else is nothing', () => {
  expect(inputItems('Hi')).toEqual([{ role: 'user', content: 'Hi' }]);
  expect(inputItems([{ role: 'user', content: 'a' }, 'stray', null, { type: 'item_reference', id: 'msg_1' }])).toEqual([
    { role: 'user', content: 'a' },
    { type: 'item_reference', id: 'msg_1' },
  ]);
  expect(inputItems(undefined)).toEqual([]);
  expect(inputItems({ role: 'user', content: 'a' })).toEqual([]);
});

test("a response's output as the next turn's input: messages keep their object parts (output_text without annotations or logprobs), calls lose their ids and status, other items go as they came", () => {
  const output = [
    {
      id: 'msg_1',
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'Checking.', annotations: [{ type: 'url_citation' }], logprobs: [] }, { type: 'refusal', refusal: 'No.' }, 'stray'],
    },
    { id: 'msg_2', type: 'message', role: 'assistant' },
    { id: 'fc_1', type: 'function_call', status: 'completed', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
    { id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: 'gAAAA' },
    { id: 'ws_1', type: 'web_search_call', status: 'completed' },
    'stray',
  ];
  expect(outputToInput(output)).toStrictEqual([
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.', annotations: [] }, { type: 'refusal', refusal: 'No.' }] },
    { type: 'message', role: 'assistant', content: [] },
    { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
    { id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: 'gAAAA' },
    { id: 'ws_1', type: 'web_search_call', status: 'completed' },
  ]);
});
