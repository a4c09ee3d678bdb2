import { describe, expect, test } from 'vitest';
import type { ChatPrompt, ChatRequest, JsonObject } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { decodeResponsesRequest } from './client-request.ts';
import { encodeProof } from './shapes.ts';
import { responsesBody } from './upstream-request.ts';

/** A request from a client of another format, already decoded into the neutral prompt. */
function translated(prompt: ChatPrompt): ChatRequest {
  return { operation: 'chat', format: 'anthropic', body: {}, model: 'route', stream: false, includeUsage: true, choices: 1, prompt: () => prompt };
}

const plain = { stream: false, backend: 'oa' };

describe('same format: the client body, with the model replaced', () => {
  test('every field is kept (even unknown ones) and the client object is not mutated; background is the sidecar\'s to run', () => {
    const body: JsonObject = { model: 'route', input: 'Hi', tools: [{ type: 'web_search' }], include: ['reasoning.encrypted_content'], background: true, store: true, service_tier: 'flex' };
    const out = responsesBody(decodeResponsesRequest(body), 'gpt-4o', { ...plain, stream: true });
    expect(out).toEqual({ model: 'gpt-4o', input: 'Hi', tools: [{ type: 'web_search' }], include: ['reasoning.encrypted_content'], store: true, service_tier: 'flex', stream: true });
    expect(body.model).toBe('route');
    expect(body.background).toBe(true);
  });

  test('a previous_response_id this backend keeps is handed on as it is', () => {
    const body = { model: 'route', input: 'And now?', previous_response_id: 'resp_up1' };
    const req = decodeResponsesRequest(body, { prior: { id: 'resp_up1', items: [{ role: 'user', content: 'Earlier' }], keptBy: 'oa' } });
    expect(responsesBody(req, 'gpt-4o', plain)).toEqual({ model: 'gpt-4o', input: 'And now?', previous_response_id: 'resp_up1', stream: false });
  });

  test('one the sidecar stored from another backend becomes the earlier turns, without reasoning another provider made', () => {
    const foreign = { type: 'reasoning', id: 'rs_a', summary: [], encrypted_content: encodeProof({ origin: 'anthropic', signature: 's' }) };
    const own = { type: 'reasoning', id: 'rs_o', summary: [], encrypted_content: 'gAAAA' };
    const items = [{ role: 'user', content: 'Earlier' }, foreign, own, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Reply' }] }];
    const req = decodeResponsesRequest({ model: 'route', input: 'And now?', previous_response_id: 'resp_x' }, { prior: { id: 'resp_x', items, keptBy: 'claude' } });
    expect(responsesBody(req, 'gpt-4o', plain)).toEqual({ model: 'gpt-4o', input: [items[0], own, items[3], { role: 'user', content: 'And now?' }], stream: false });
  });

  test('an id the sidecar never stored goes upstream untouched: OpenAI may know it', () => {
    const req = decodeResponsesRequest({ model: 'route', input: 'x', previous_response_id: 'resp_elsewhere' });
    expect(responsesBody(req, 'gpt-4o', plain).previous_response_id).toBe('resp_elsewhere');
  });

  test("references to items of the sidecar's own responses become the items; OpenAI's own references stay", () => {
    const own = { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] };
    const body = { model: 'route', input: [{ type: 'item_reference', id: 'msg_abc_0' }, { type: 'item_reference', id: 'msg_openai' }] };
    const req = decodeResponsesRequest(body, { references: new Map([['msg_abc_0', own]]) });
    expect(responsesBody(req, 'gpt-4o', plain).input).toEqual([own, { type: 'item_reference', id: 'msg_openai' }]);
  });

  test('prefill: the delivered text is a trailing assistant message; a non-streamed attempt drops stream_options', () => {
    const req = decodeResponsesRequest({ model: 'route', input: 'Count', stream: true, stream_options: { include_obfuscation: false } });
    expect(responsesBody(req, 'm', { stream: true, backend: 'oa', prefill: 'One,' })).toMatchObject({
      input: [{ role: 'user', content: 'Count' }, { role: 'assistant', content: 'One,' }],
      stream_options: { include_obfuscation: false },
    });
    expect('stream_options' in responsesBody(req, 'm', plain)).toBe(false);
  });
});

describe('another format: built from the neutral prompt', () => {
  test('system, text, image, tool calls and results become instructions and input items; tools are not strict; nothing is stored upstream', () => {
    const out = responsesBody(
      translated({
        system: 'Be brief.',
        untranslatable: [],
        maxTokens: 100,
        temperature: 0.2,
        tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
        toolChoice: { type: 'required' },
        responseFormat: { type: 'json_schema', schema: { type: 'object' } },
        reasoning: { budgetTokens: 4000 },
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather here?' }, { type: 'image', mediaType: 'image/png', data: 'AAAA' }] },
          {
            role: 'assistant',
            content: [
              { type: 'reasoning', text: 'thought', origin: 'anthropic', signature: 'sig' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_call', id: 'toolu_1', name: 'get_weather', arguments: '' },
            ],
          },
          { role: 'user', content: [{ type: 'tool_result', toolCallId: 'toolu_1', content: '18C' }, { type: 'text', text: 'Thanks' }] },
        ],
      }),
      'gpt-5',
      { ...plain, stream: true },
    );
    expect(out).toEqual({
      model: 'gpt-5',
      store: false,
      instructions: 'Be brief.',
      max_output_tokens: 100,
      temperature: 0.2,
      tools: [{ type: 'function', name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }],
      tool_choice: 'required',
      text: { format: { type: 'json_schema', name: 'response', schema: { type: 'object' } } },
      reasoning: { effort: 'medium' },
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Weather here?' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' }] },
        { role: 'assistant', content: 'Checking.' },
        { type: 'function_call', call_id: 'toolu_1', name: 'get_weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'toolu_1', output: '18C' },
        { role: 'user', content: [{ type: 'input_text', text: 'Thanks' }] },
      ],
      stream: true,
    });
  });

  test('what the Responses API has no parameter for is refused as unsupported_parameter, named as the client spelled it, never dropped', () => {
    let err: unknown;
    try {
      responsesBody(translated({ messages: [], untranslatable: ['container'], stop: ['\n'], topK: 40, seed: 7 }), 'm', plain);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AirouteError);
    expect((err as AirouteError).message).toBe('unsupported parameter(s), with no equivalent in the OpenAI Responses format: container, seed, stop_sequences, top_k');
  });

  test('parallel tool calls and the end user id have their Responses names', () => {
    const out = responsesBody(translated({ messages: [], untranslatable: [], parallelToolCalls: false, user: 'u-42' }), 'm', plain);
    expect(out).toMatchObject({ parallel_tool_calls: false, user: 'u-42' });
  });
});
