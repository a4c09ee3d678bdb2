import { describe, expect, test } from 'vitest';
import type { ChatPrompt, ChatRequest, JsonObject } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { decodeResponsesRequest } from './client-request.ts';
import { encodeProof } from './shapes.ts';
import { responsesBody, responsesBodyText } from './upstream-request.ts';
import { parseJsonBody } from '../../net/body.ts';
import type { StoredContext } from './client-request.ts';

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
      reasoning: { effort: 'low' },
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

describe('same format: what the client passes back', () => {
  const foreign = { type: 'reasoning', id: 'rs_a', summary: [], encrypted_content: encodeProof({ origin: 'anthropic', signature: 's' }) };
  const own = { type: 'reasoning', id: 'rs_o', summary: [], encrypted_content: 'gAAAA' };
  const stored = { type: 'reasoning', id: 'rs_stored', summary: [{ type: 'summary_text', text: 'Kept by OpenAI.' }] };

  test("reasoning another provider made, passed back in the client's own input, stays out; OpenAI's own stays, with or without its encrypted content", () => {
    const input = [{ role: 'user', content: 'Weather?' }, foreign, own, stored, { type: 'function_call_output', call_id: 'c', output: '18C' }];
    expect(responsesBody(decodeResponsesRequest({ model: 'route', input }), 'gpt-5', plain).input).toEqual([input[0], own, stored, input[4]]);
    expect(responsesBody(decodeResponsesRequest({ model: 'route', input: [foreign] }), 'gpt-5', plain).input).toEqual([]);
  });

  test('a stored conversation keeps the OpenAI reasoning items that carry no encrypted content', () => {
    const req = decodeResponsesRequest({ model: 'route', input: 'Next', previous_response_id: 'resp_x' }, { prior: { id: 'resp_x', items: [stored] } });
    expect(responsesBody(req, 'gpt-5', plain).input).toEqual([stored, { role: 'user', content: 'Next' }]);
  });

  test('only item_reference items are looked up: with no stored references they go as they are; a message carrying a stored id stays itself', () => {
    const ref = { type: 'item_reference', id: 'msg_abc_0' };
    expect(responsesBody(decodeResponsesRequest({ model: 'route', input: [ref] }), 'gpt-5', plain).input).toEqual([ref]);
    const mine = { type: 'message', id: 'msg_abc_0', role: 'user', content: 'Mine.' };
    const references = new Map([['msg_abc_0', { type: 'message', role: 'assistant', content: 'Stored.' }]]);
    expect(responsesBody(decodeResponsesRequest({ model: 'route', input: [mine, ref] }, { references }), 'gpt-5', plain).input).toEqual([mine, references.get('msg_abc_0')]);
  });

  test('a reference to stored reasoning another provider made stays out', () => {
    const references = new Map([['rs_abc_0', foreign]]);
    const req = decodeResponsesRequest({ model: 'route', input: [{ role: 'user', content: 'Hi' }, { type: 'item_reference', id: 'rs_abc_0' }] }, { references });
    expect(responsesBody(req, 'gpt-5', plain).input).toEqual([{ role: 'user', content: 'Hi' }]);
  });

  test('prefill: an empty text adds nothing; after a list of items it is one more item; a streamed attempt keeps stream_options', () => {
    const text = decodeResponsesRequest({ model: 'route', input: 'Count' });
    expect(responsesBody(text, 'm', { ...plain, prefill: '' }).input).toBe('Count');
    const items = decodeResponsesRequest({ model: 'route', input: [{ role: 'user', content: 'Count' }], stream: true, stream_options: { include_obfuscation: false } });
    expect(responsesBody(items, 'm', { stream: true, backend: 'oa', prefill: 'One,' })).toEqual({
      model: 'm',
      input: [{ role: 'user', content: 'Count' }, { role: 'assistant', content: 'One,' }],
      stream: true,
      stream_options: { include_obfuscation: false },
    });
  });
});

describe('same format: the body as text, the client\'s bytes kept', () => {
  function arrived(text: string, stored: StoredContext = {}): ChatRequest {
    const { body, raw } = parseJsonBody(text);
    return { ...decodeResponsesRequest(body, stored), raw };
  }
  const text = '{ "model": "route",  "input": [{"role": "user", "content": "Weather in Oslo?"}], "store": true, "x_future_field": [1, 2] }';

  test('the model (and the stream flag) are spliced into the text as sent: spacing, unknown fields and key order stay', () => {
    expect(responsesBodyText(arrived(text), 'gpt-5', plain)).toBe(text.replace('"route"', '"gpt-5"').replace(/ }$/, ' ,"stream":false}'));
    const streamed = text.replace('"store": true', '"store": true, "stream": true');
    expect(responsesBodyText(arrived(streamed), 'gpt-5', { ...plain, stream: true })).toBe(streamed.replace('"route"', '"gpt-5"'));
  });

  test('whatever the text takes, it parses to exactly the body responsesBody builds (background, stored turns, references, foreign reasoning, prefill, stream_options)', () => {
    const foreign = { type: 'reasoning', id: 'rs_a', summary: [], encrypted_content: encodeProof({ origin: 'anthropic', signature: 's' }) };
    const references = new Map([['msg_abc_0', { type: 'message', role: 'assistant', content: 'Stored.' }]]);
    const cases: [string, StoredContext, { stream: boolean; backend: string; prefill?: string }][] = [
      [text, {}, plain],
      [text.replace('"store": true', '"background": true'), {}, { ...plain, stream: true }],
      ['{"model":"route","input":"Next","previous_response_id":"resp_x"}', { prior: { id: 'resp_x', items: [{ role: 'user', content: 'Before' }] } }, plain],
      ['{"model":"route","input":"Next","previous_response_id":"resp_x"}', { prior: { id: 'resp_x', items: [], keptBy: 'oa' } }, plain],
      ['{"model":"route","input":[{"type":"item_reference","id":"msg_abc_0"}]}', { references }, plain],
      [JSON.stringify({ model: 'route', input: [{ role: 'user', content: 'Hi' }, foreign] }), {}, plain],
      [text, {}, { ...plain, prefill: 'It is' }],
      [text.replace('"store": true', '"stream": true, "stream_options": {"include_obfuscation": false}'), {}, plain],
    ];
    for (const [t, stored, opts] of cases) {
      const req = arrived(t, stored);
      expect(JSON.parse(responsesBodyText(req, 'gpt-5', opts))).toEqual(responsesBody(req, 'gpt-5', opts));
    }
  });
});

describe('another format: every field of the neutral prompt', () => {
  const wire = (prompt: Partial<ChatPrompt>) => JSON.parse(JSON.stringify(responsesBody(translated({ messages: [], untranslatable: [], ...prompt }), 'gpt-5', plain))) as JsonObject;

  test('a bare prompt is the model, the input, no storage and the stream flag, nothing more', () => {
    expect(wire({})).toStrictEqual({ model: 'gpt-5', input: [], store: false, stream: false });
  });

  test('top_p, json_object, a named JSON schema and a tool choice by name', () => {
    expect(wire({ topP: 0.9, responseFormat: { type: 'json_object' }, toolChoice: { type: 'tool', name: 'get_weather' } })).toMatchObject({
      top_p: 0.9,
      text: { format: { type: 'json_object' } },
      tool_choice: { type: 'function', name: 'get_weather' },
    });
    expect(wire({ responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' } }, toolChoice: { type: 'auto' } })).toMatchObject({
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' } } },
      tool_choice: 'auto',
    });
  });

  test('a tool without a description has none', () => {
    expect(wire({ tools: [{ name: 'now', parameters: { type: 'object', properties: {} } }] }).tools).toStrictEqual([{ type: 'function', name: 'now', parameters: { type: 'object', properties: {} }, strict: false }]);
  });

  test.each([
    [1024, 'low'],
    [4095, 'low'],
    [4096, 'medium'],
    [16383, 'medium'],
    [16384, 'high'],
  ])('a thinking budget of %i tokens asks for %s effort, as toward Chat Completions (docs/translation.md)', (budgetTokens, effort) => {
    expect(wire({ reasoning: { budgetTokens } }).reasoning).toStrictEqual({ effort });
  });

  test('an effort goes as it is, a summary mode too; neither gives an empty reasoning object', () => {
    expect(wire({ reasoning: { effort: 'xhigh', summary: 'detailed', budgetTokens: 100 } }).reasoning).toStrictEqual({ effort: 'xhigh', summary: 'detailed' });
    expect(wire({ reasoning: { summary: 'auto' } }).reasoning).toStrictEqual({ summary: 'auto' });
    expect(wire({ reasoning: {} }).reasoning).toStrictEqual({});
  });

  test('user turns: a tool result splits the text around it in order; an image by URL keeps its URL', () => {
    const input = wire({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Before' },
            { type: 'tool_result', toolCallId: 'call_1', content: '18C' },
            { type: 'image', url: 'https://img.example/a.png' },
          ],
        },
      ],
    }).input;
    expect(input).toStrictEqual([
      { role: 'user', content: [{ type: 'input_text', text: 'Before' }] },
      { type: 'function_call_output', call_id: 'call_1', output: '18C' },
      { role: 'user', content: [{ type: 'input_image', image_url: 'https://img.example/a.png', detail: 'auto' }] },
    ]);
  });

  test('a part a Responses user turn cannot carry (reasoning) is left out, never sent as something else', () => {
    expect(wire({ messages: [{ role: 'user', content: [{ type: 'reasoning', text: 'x', origin: 'responses', encrypted: 'gAAAA' }, { type: 'text', text: 'Hi' }] }] }).input).toStrictEqual([
      { role: 'user', content: [{ type: 'input_text', text: 'Hi' }] },
    ]);
  });

  test("assistant turns: empty text makes no item; OpenAI's reasoning goes back with its id, summary and encrypted content; reasoning without OpenAI's proof stays out", () => {
    const input = wire({
      messages: [
        {
          role: 'assistant',
          content: [
            { type: 'reasoning', text: 'Plan.', origin: 'responses', encrypted: 'gAAAA', id: 'rs_1' },
            { type: 'reasoning', text: '', origin: 'responses', encrypted: 'gBBBB' },
            { type: 'reasoning', text: 'Stored only.', origin: 'responses', id: 'rs_3' },
            { type: 'reasoning', text: 'Claude thought.', origin: 'anthropic', signature: 'sig', encrypted: 'x' },
            { type: 'text', text: '' },
            { type: 'tool_call', id: 'call_1', name: 'now', arguments: '{"tz":"UTC"}' },
          ],
        },
      ],
    }).input;
    expect(input).toStrictEqual([
      { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Plan.' }], encrypted_content: 'gAAAA' },
      { type: 'reasoning', summary: [], encrypted_content: 'gBBBB' },
      { type: 'function_call', call_id: 'call_1', name: 'now', arguments: '{"tz":"UTC"}' },
    ]);
  });

  test('presence and frequency penalties and several choices have no Responses parameter: refused, named as the Chat Completions client spelled them', () => {
    const req: ChatRequest = {
      ...translated({ messages: [], untranslatable: [], presencePenalty: 0.5, frequencyPenalty: 0.5 }),
      format: 'openai',
      body: { presence_penalty: 0.5, frequency_penalty: 0.5, n: 2 },
      choices: 2,
    };
    let err: unknown;
    try {
      responsesBody(req, 'm', plain);
    } catch (e) {
      err = e;
    }
    expect((err as AirouteError).message).toBe('unsupported parameter(s), with no equivalent in the OpenAI Responses format: frequency_penalty, n, presence_penalty');
  });
});

describe('file parts as input_file (OpenAI "file inputs", Responses API)', () => {
  test('inline bytes go as file_data, a data URL, with a file name; a URL as file_url', () => {
    const pdf = Buffer.from('%PDF-1.7 quarterly report').toString('base64');
    const out = responsesBody(
      translated({
        untranslatable: [],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'file', field: 'messages.0.content.0', filename: 'q3.pdf', mediaType: 'application/pdf', data: pdf },
              { type: 'file', field: 'messages.0.content.1', mediaType: 'text/plain', data: 'aGVsbG8=' },
              { type: 'file', field: 'messages.0.content.2', url: 'https://files.example/paper.pdf', mediaType: 'application/pdf' },
              { type: 'file', field: 'messages.0.content.3', url: 'https://files.example/paper', filename: 'paper.pdf' },
              { type: 'text', text: 'Summarize.' },
            ],
          },
        ],
      }),
      'gpt-4o',
      plain,
    );
    expect(out.input).toEqual([
      {
        role: 'user',
        content: [
          { type: 'input_file', filename: 'q3.pdf', file_data: `data:application/pdf;base64,${pdf}` },
          { type: 'input_file', filename: 'document.txt', file_data: 'data:text/plain;base64,aGVsbG8=' },
          { type: 'input_file', file_url: 'https://files.example/paper.pdf' },
          { type: 'input_file', file_url: 'https://files.example/paper', filename: 'paper.pdf' },
          { type: 'input_text', text: 'Summarize.' },
        ],
      },
    ]);
  });
});
