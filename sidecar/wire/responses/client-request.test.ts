import { describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import type { JsonObject } from '../../chat/types.ts';
import { decodeResponsesRequest, responsesPrompt, type StoredContext } from './client-request.ts';
import { encodeProof } from './shapes.ts';
import { thrown as failure } from '../../../test/support/errors.ts';


describe('decodeResponsesRequest: what routing needs', () => {
  test('a minimal body → a one-choice request that keeps the body itself; usage always reported', () => {
    const body = { model: 'gpt-4o', input: 'Hi' };
    const req = decodeResponsesRequest(body);
    expect(req).toMatchObject({ operation: 'chat', format: 'responses', model: 'gpt-4o', stream: false, includeUsage: true, choices: 1, background: false });
    expect(req.body).toBe(body);
  });

  test('background streams from its upstream whatever the client asked (its events feed the journal)', () => {
    expect(decodeResponsesRequest({ model: 'm', input: 'x', background: true }).stream).toBe(true);
    expect(decodeResponsesRequest({ model: 'm', input: 'x', stream: true }).stream).toBe(true);
  });

  test.each([
    [{ input: 'x' }, "Missing required parameter: 'model'.", 'model'],
    [{ model: 'm' }, "Missing required parameter: 'input'.", 'input'],
    [{ model: 'm', input: 42 }, "Invalid type for 'input': expected a string or an array of input items.", 'input'],
    [{ model: 'm', input: 'x', stream: 'yes' }, "Invalid type for 'stream': expected a boolean.", 'stream'],
    [{ model: 'm', input: 'x', previous_response_id: 7 }, "Invalid type for 'previous_response_id': expected a string.", 'previous_response_id'],
    [{ model: 'm', input: 'x', tools: 'get_weather' }, "Invalid type for 'tools': expected an array.", 'tools'],
    [{ model: 'm', input: 'x', reasoning: 'high' }, "Invalid type for 'reasoning': expected an object.", 'reasoning'],
    [{ model: 'm', input: 'x', background: true, store: false }, 'Background mode requires store to be true.', 'background'],
  ])('%j → 400 naming the parameter', (body, message, param) => {
    const err = failure(() => decodeResponsesRequest(body));
    expect(err.status).toBe(400);
    expect(err.message).toBe(message);
    expect(err.details.param).toBe(param);
  });
});

describe('responsesPrompt: the neutral prompt', () => {
  test('instructions, system and developer turns → system text; a string input → one user message', () => {
    const p = responsesPrompt({ model: 'm', instructions: 'Be brief.', input: [{ role: 'developer', content: 'Use metric units.' }, { role: 'user', content: 'Weather?' }] });
    expect(p.system).toBe('Be brief.\n\nUse metric units.');
    expect(p.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Weather?' }] }]);
    expect(responsesPrompt({ model: 'm', input: 'Hi' }).messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  test('a tool loop: message, reasoning, call and output items merge into alternating turns; images keep their data', () => {
    const proof = encodeProof({ origin: 'anthropic', signature: 'sig-1' })!;
    const p = responsesPrompt({
      model: 'm',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Weather in this city?' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' }] },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Need the tool.' }], encrypted_content: proof },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.', annotations: [] }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '18C' },
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(p.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in this city?' }, { type: 'image', mediaType: 'image/png', data: 'AAAA' }] },
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: 'Need the tool.', origin: 'anthropic', signature: 'sig-1', id: 'rs_1' },
          { type: 'text', text: 'Checking.' },
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: '18C' }, { type: 'text', text: 'Thanks' }] },
    ]);
  });

  test('limits, tools, tool_choice, a JSON schema and reasoning map to their neutral names', () => {
    const p = responsesPrompt({
      model: 'm',
      input: 'x',
      max_output_tokens: 256,
      temperature: 0,
      top_p: 0.5,
      tools: [{ type: 'function', name: 'get_weather', description: 'Weather now', parameters: { type: 'object' }, strict: true }],
      tool_choice: { type: 'function', name: 'get_weather' },
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
      reasoning: { effort: 'low', summary: 'auto' },
      include: ['reasoning.encrypted_content'],
      store: false,
      metadata: { user: 'u1' },
    });
    expect(responsesPrompt({ model: 'm', input: 'x', parallel_tool_calls: false, safety_identifier: 'u-42' })).toMatchObject({ parallelToolCalls: false, user: 'u-42' });
    expect(p).toMatchObject({
      maxTokens: 256,
      temperature: 0,
      topP: 0.5,
      tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } }],
      toolChoice: { type: 'tool', name: 'get_weather' },
      responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' } },
      reasoning: { effort: 'low', summary: 'auto' },
      untranslatable: [],
    });
  });

  test('what only OpenAI can do is listed as untranslatable, naming the field: built-in tools, item references, files by file_id, unknown fields', () => {
    const p = responsesPrompt({
      model: 'm',
      input: [{ type: 'item_reference', id: 'msg_1' }, { role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }],
      tools: [{ type: 'web_search' }],
      tool_choice: { type: 'web_search' },
      truncation: 'auto',
      parallel_tool_calls: false,
      include: ['message.output_text.logprobs'],
      top_logprobs: 3,
    });
    expect(p.untranslatable).toEqual([
      'top_logprobs',
      'input[0] (item_reference)',
      'input[1].content[0] (input_file by file_id)',
      'tools[0] (built-in tool web_search, served only by OpenAI Responses backends)',
      'tool_choice (web_search)',
      'include (message.output_text.logprobs)',
      'truncation (auto)',
    ]);
  });

  test('a previous response the sidecar stored is the start of the conversation; one it does not have is a 400 naming previous_response_id', () => {
    const prior = { id: 'resp_1', items: [{ role: 'user', content: 'My name is Ada.' }, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello Ada.' }] }] };
    const p = responsesPrompt({ model: 'm', input: 'What is my name?', previous_response_id: 'resp_1' }, { prior });
    expect(p.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', [{ type: 'text', text: 'My name is Ada.' }]],
      ['assistant', [{ type: 'text', text: 'Hello Ada.' }]],
      ['user', [{ type: 'text', text: 'What is my name?' }]],
    ]);
    const err = failure(() => responsesPrompt({ model: 'm', input: 'x', previous_response_id: 'resp_gone' }));
    expect(err.status).toBe(400);
    expect(err.details.param).toBe('previous_response_id');
    expect(err.message).toMatch(/^Previous response with id 'resp_gone' not found/);
  });

  test("an item_reference to an item of a response the sidecar made stands for that item; any other is OpenAI's alone", () => {
    const references = new Map([['msg_abc_1', { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] }]]);
    const body = { model: 'm', input: [{ role: 'user', content: 'Weather?' }, { type: 'item_reference', id: 'msg_abc_1' }, { type: 'item_reference', id: 'msg_openai' }] };
    const p = responsesPrompt(body, { references });
    expect(p.messages[1]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'Checking.' }] });
    expect(p.untranslatable).toEqual(['input[2] (item_reference)']);
  });

  test('malformed items are refused with the path of the item', () => {
    expect(failure(() => responsesPrompt({ model: 'm', input: [{ role: 'tool', content: 'x' }] })).message).toBe('input[0].role: must be one of user, assistant, system, developer');
    expect(failure(() => responsesPrompt({ model: 'm', input: ['x'] })).message).toBe('input[0]: must be an object');
  });
});

describe('decodeResponsesRequest: bad input in OpenAI words', () => {
  test.each([
    [{ model: '', input: 'x' }, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter'],
    [{ model: 'm', input: null }, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter'],
    [{ model: 'm', input: 'x', background: 'yes' }, "Invalid type for 'background': expected a boolean.", 'background', 'invalid_type'],
    [{ model: 'm', input: 'x', store: 1 }, "Invalid type for 'store': expected a boolean.", 'store', 'invalid_type'],
    [{ model: 'm', input: 'x', include: 'reasoning.encrypted_content' }, "Invalid type for 'include': expected an array.", 'include', 'invalid_type'],
    [{ model: 'm', input: 'x', text: [] }, "Invalid type for 'text': expected an object.", 'text', 'invalid_type'],
    [{ model: 'm', input: 'x', metadata: 'tag' }, "Invalid type for 'metadata': expected an object.", 'metadata', 'invalid_type'],
    [{ model: 'm', input: 'x', background: true, store: false }, 'Background mode requires store to be true.', 'background', 'invalid_value'],
  ])('%j → an OpenAI invalid_request_error with its code', (body, message, param, providerCode) => {
    const err = failure(() => decodeResponsesRequest(body));
    expect({ code: err.code, status: err.status, message: err.message, details: err.details }).toEqual({
      code: 'invalid_request',
      status: 400,
      message,
      details: { param, providerFormat: 'openai', providerCode },
    });
  });

  test('null stands for a field left out, as in the OpenAI SDKs', () => {
    const req = decodeResponsesRequest({ model: 'm', input: 'x', stream: null, background: null, store: null, tools: null, include: null, text: null, reasoning: null, metadata: null, previous_response_id: null });
    expect(req).toMatchObject({ stream: false, background: false });
    expect(responsesPrompt(req.body)).toStrictEqual({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }], untranslatable: [] });
  });

  test('the prompt is decoded once, on first use, with the stored context the request was decoded with', () => {
    const prior = { id: 'resp_1', items: [{ role: 'user', content: 'Earlier' }] };
    const req = decodeResponsesRequest({ model: 'm', input: 'Now', previous_response_id: 'resp_1' }, { prior });
    expect(req.prior).toBe(prior);
    expect(req.prompt()).toBe(req.prompt());
    expect(req.prompt().messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Earlier' }, { type: 'text', text: 'Now' }] }]);
    expect('references' in decodeResponsesRequest({ model: 'm', input: 'x' }, { references: new Map() })).toBe(false);
  });
});

describe('responsesPrompt: every input item and field', () => {
  const prompt = (extra: JsonObject, stored?: StoredContext) => responsesPrompt({ model: 'm', input: 'x', ...extra }, stored);
  const only = (input: unknown[]) => responsesPrompt({ model: 'm', input });
  const refusal = (fn: () => unknown) => {
    const err = failure(fn);
    return { status: err.status, message: err.message, param: err.details.param };
  };

  test('a minimal body is a user turn and nothing else: no limit, sampling, tools, user or format is invented', () => {
    expect(prompt({})).toStrictEqual({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }], untranslatable: [] });
    expect(prompt({ max_output_tokens: '100', temperature: '0', top_p: null, parallel_tool_calls: 'no', user: 42, tools: [], reasoning: {}, text: {} })).toStrictEqual({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }],
      untranslatable: [],
    });
  });

  test('instructions: empty means none; input items given as instructions are untranslatable; a null or unknown-but-null field is ignored', () => {
    expect(prompt({ instructions: '' })).toStrictEqual(prompt({}));
    expect(prompt({ instructions: null, top_logprobs: null, service_tier: undefined })).toStrictEqual(prompt({}));
    expect(prompt({ instructions: [{ role: 'developer', content: 'Be brief.' }] }).untranslatable).toEqual(['instructions (as input items)']);
  });

  test('system and developer turns: a string or input_text/output_text parts joined as they are; anything else is refused with its path', () => {
    expect(only([{ role: 'system', content: [{ type: 'input_text', text: 'Be ' }, { type: 'output_text', text: 'brief.' }] }, { role: 'user', content: 'Hi' }]).system).toBe('Be brief.');
    expect(only([{ type: 'message', role: 'system', content: 'One.' }, { role: 'developer', content: 'Two.' }]).system).toBe('One.\n\nTwo.');
    expect(refusal(() => only([{ role: 'system', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }]))).toEqual({
      status: 400,
      message: 'input[0].content[0]: only text can be translated here',
      param: 'input',
    });
    expect(refusal(() => only([{ role: 'developer', content: [{ type: 'input_text', text: 7 }] }])).message).toBe('input[0].content[0]: only text can be translated here');
    expect(refusal(() => only([{ role: 'developer', content: [{ text: 'untyped' }] }])).message).toBe('input[0].content[0]: only text can be translated here');
    expect(refusal(() => only([{ role: 'system', content: 7 }]))).toEqual({ status: 400, message: 'input[0].content: must be a string or an array of content parts', param: 'input' });
  });

  test('user parts: text and images (data URL or https URL); an image by file_id and non-text parts are untranslatable; malformed parts are refused', () => {
    const p = only([
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'Compare' },
          { type: 'input_image', image_url: 'https://img.example/a.png', detail: 'high' },
          { type: 'input_image', image_url: 'https://img.example/b?src=data:image/png;base64,AAAA' },
          { type: 'input_image', file_id: 'file-1' },
          { type: 'input_text', text: 5 },
          { type: 'input_audio' },
        ],
      },
    ]);
    expect(p.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare' },
          { type: 'image', url: 'https://img.example/a.png' },
          { type: 'image', url: 'https://img.example/b?src=data:image/png;base64,AAAA' },
        ],
      },
    ]);
    // A part is what its type says, whatever fields it happens to carry.
    expect(p.untranslatable).toEqual(['input[0].content[3] (input_image by file_id)', 'input[0].content[4] (input_text)', 'input[0].content[5] (input_audio)']);
    expect(refusal(() => only([{ role: 'user', content: ['Hi'] }]))).toEqual({ status: 400, message: 'input[0].content[0]: must be an object', param: 'input' });
    expect(refusal(() => only([{ role: 'user', content: { type: 'input_text', text: 'Hi' } }]))).toEqual({
      status: 400,
      message: 'input[0].content: must be a string or an array of content parts',
      param: 'input',
    });
  });

  test('input_file: file_data (a data URL, or bare base64 typed by its file name, else PDF) and file_url become file parts named by their path; file_id and a detail other than auto are untranslatable; a file part with no source is refused', () => {
    const pdf = Buffer.from('%PDF-1.7 quarterly report').toString('base64');
    const p = only([
      {
        role: 'user',
        content: [
          { type: 'input_file', filename: 'q3.pdf', file_data: `data:application/pdf;base64,${pdf}` },
          { type: 'input_file', filename: 'notes.txt', file_data: 'aGVsbG8=' },
          { type: 'input_file', file_data: pdf, detail: 'auto' },
          { type: 'input_file', file_url: 'https://files.example/letters/2024ltr.pdf' },
          { type: 'input_text', text: 'Summarize these.' },
        ],
      },
    ]);
    expect(p.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'file', field: 'input[0].content[0]', filename: 'q3.pdf', mediaType: 'application/pdf', data: pdf },
          { type: 'file', field: 'input[0].content[1]', filename: 'notes.txt', mediaType: 'text/plain', data: 'aGVsbG8=' },
          { type: 'file', field: 'input[0].content[2]', mediaType: 'application/pdf', data: pdf },
          { type: 'file', field: 'input[0].content[3]', url: 'https://files.example/letters/2024ltr.pdf', mediaType: 'application/pdf' },
          { type: 'text', text: 'Summarize these.' },
        ],
      },
    ]);
    expect(p.untranslatable).toEqual([]);
    const byId = only([{ role: 'user', content: [{ type: 'input_file', file_id: 'file-abc' }, { type: 'input_file', file_data: pdf, detail: 'high' }] }]);
    expect(byId.untranslatable).toEqual(['input[0].content[0] (input_file by file_id)', 'input[0].content[1].detail (high)']);
    expect(refusal(() => only([{ role: 'user', content: [{ type: 'input_file', filename: 'c.pdf' }] }]))).toEqual({
      status: 400,
      message: 'input[0].content[0]: an input_file needs file_data, file_url or file_id',
      param: 'input',
    });
  });

  test('assistant parts: output_text, input_text and refusals are text; empty text makes no turn; other parts are refused with their path', () => {
    const p = only([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '' },
      { role: 'assistant', content: [{ type: 'output_text', text: '' }] },
      { role: 'user', content: 'Again' },
      { role: 'assistant', content: [{ type: 'input_text', text: 'Sure.' }, { type: 'refusal', refusal: 'Not that.' }] },
      { role: 'assistant', content: 'Anything else?' },
    ]);
    expect(p.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: 'Again' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Sure.' }, { type: 'text', text: 'Not that.' }, { type: 'text', text: 'Anything else?' }] },
    ]);
    for (const bad of [{ type: 'output_text', text: 3 }, { type: 'refusal' }, { type: 'refusal', text: 'x' }, { type: 'output_audio', refusal: 'x' }, 'text', null])
      expect(refusal(() => only([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: [{ type: 'output_text', text: 'ok' }, bad] }]))).toEqual({
        status: 400,
        message: 'input[1].content[1]: only text can be translated here',
        param: 'input',
      });
    expect(refusal(() => only([{ role: 'assistant', content: 1 }]))).toEqual({ status: 400, message: 'input[0].content: must be a string or an array of content parts', param: 'input' });
    expect(refusal(() => only([{ role: 'tool', content: 'x' }])).param).toBe('input');
  });

  test('a function_call_output is a tool result: a string, or input_text parts joined; anything else is refused at its output', () => {
    const p = only([{ type: 'function_call_output', call_id: 'call_1', output: [{ type: 'input_text', text: '18' }, { type: 'input_text', text: 'C' }] }]);
    expect(p.messages).toEqual([{ role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: '18C' }] }]);
    expect(refusal(() => only([{ role: 'user', content: 'Weather?' }, { type: 'function_call_output', call_id: 'call_1', output: { temp: 18 } }]))).toEqual({
      status: 400,
      message: 'input[1].output: must be a string or an array of content parts',
      param: 'input',
    });
  });

  test('reasoning items: summaries joined by a blank line, no proof means OpenAI reasoning with nothing to verify, no id means none', () => {
    const p = only([
      { type: 'reasoning', summary: [{ type: 'summary_text', text: 'First.' }, 'junk', { type: 'summary_text', text: 'Second.' }] },
      { type: 'reasoning', summary: 'not a list', encrypted_content: 'gAAAA' },
    ]);
    expect(p.messages).toStrictEqual([
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: 'First.\n\n\n\nSecond.', origin: 'responses' },
          { type: 'reasoning', text: '', origin: 'responses', encrypted: 'gAAAA' },
        ],
      },
    ]);
  });

  test('positions in errors count from the client input, after the stored turns of previous_response_id', () => {
    const prior = { id: 'resp_1', items: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] };
    expect(refusal(() => prompt({ input: [{ role: 'user', content: 'ok' }, 'x'], previous_response_id: 'resp_1' }, { prior }))).toEqual({
      status: 400,
      message: 'input[1]: must be an object',
      param: 'input',
    });
  });

  test('previous_response_not_found is an OpenAI invalid_request_error naming the parameter', () => {
    const err = failure(() => prompt({ previous_response_id: 'resp_gone' }));
    expect({ code: err.code, status: err.status, details: err.details }).toEqual({
      code: 'invalid_request',
      status: 400,
      details: { param: 'previous_response_id', providerFormat: 'openai', providerCode: 'previous_response_not_found' },
    });
  });

  test('only an item_reference is looked up by id: a message that carries an id of a stored item stays itself', () => {
    const references = new Map([['msg_abc_1', { type: 'message', role: 'assistant', content: 'Stored.' }]]);
    const p = only([{ type: 'message', id: 'msg_abc_1', role: 'user', content: 'Mine.' }]);
    expect(responsesPrompt({ model: 'm', input: [{ type: 'message', id: 'msg_abc_1', role: 'user', content: 'Mine.' }] }, { references })).toEqual(p);
    expect(p.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Mine.' }] }]);
  });

  test('function tools: description optional, parameters default to an empty object schema; malformed tools are refused naming tools', () => {
    const p = prompt({ tools: [{ type: 'function', name: 'now' }, { type: 'function', name: 'get', description: 7, parameters: 'x' }] });
    expect(p.tools).toStrictEqual([
      { name: 'now', parameters: { type: 'object', properties: {} } },
      { name: 'get', parameters: { type: 'object', properties: {} } },
    ]);
    expect(refusal(() => prompt({ tools: ['now'] }))).toEqual({ status: 400, message: 'tools[0]: must be an object', param: 'tools' });
    expect(refusal(() => prompt({ tools: [{ type: 'function', description: 'nameless' }] }))).toEqual({ status: 400, message: 'tools[0].name: required', param: 'tools' });
  });

  test.each([
    ['auto', { type: 'auto' }],
    ['none', { type: 'none' }],
    ['required', { type: 'required' }],
  ])('tool_choice %j keeps its meaning', (tc, neutral) => {
    expect(prompt({ tool_choice: tc })).toMatchObject({ toolChoice: neutral, untranslatable: [] });
  });

  test('tool_choice: null is the default; a function without a name, allowed_tools or an unknown mode is untranslatable', () => {
    expect(prompt({ tool_choice: null })).toStrictEqual(prompt({}));
    expect(prompt({ tool_choice: { type: 'function' } }).untranslatable).toEqual(['tool_choice (function)']);
    expect(prompt({ tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [] } }).untranslatable).toEqual(['tool_choice (allowed_tools)']);
    // Named tools of other kinds (a custom tool, an MCP server's tool) are not function tools.
    expect(prompt({ tool_choice: { type: 'custom', name: 'sql' } }).untranslatable).toEqual(['tool_choice (custom)']);
    expect(prompt({ tool_choice: { type: 'mcp', server_label: 'deepwiki', name: 'ask' } }).untranslatable).toEqual(['tool_choice (mcp)']);
    expect(prompt({ tool_choice: 'any' })).toStrictEqual({ ...prompt({}), untranslatable: ['tool_choice (any)'] });
  });

  test('text.format: text is the default, json_object and json_schema (name optional) map, a schema-less json_schema or other format is untranslatable', () => {
    expect(prompt({ text: { format: { type: 'text' } } })).toStrictEqual(prompt({}));
    expect(prompt({ text: { verbosity: null } })).toStrictEqual(prompt({}));
    expect(prompt({ text: { format: { type: 'json_object' } } }).responseFormat).toEqual({ type: 'json_object' });
    expect(prompt({ text: { format: { type: 'json_schema', schema: { type: 'object' } } } }).responseFormat).toStrictEqual({ type: 'json_schema', schema: { type: 'object' } });
    const noSchema = prompt({ text: { format: { type: 'json_schema', name: 'x' } } });
    expect(noSchema.responseFormat).toBeUndefined();
    expect(noSchema.untranslatable).toEqual(['text.format (json_schema)']);
    expect(prompt({ text: { format: { type: 'grammar' }, verbosity: 'low' } }).untranslatable).toEqual(['text.verbosity', 'text.format (grammar)']);
    // The type decides, even when the format carries a schema.
    const other = prompt({ text: { format: { type: 'json_schema_draft', schema: { type: 'object' } } } });
    expect([other.responseFormat, other.untranslatable]).toEqual([undefined, ['text.format (json_schema_draft)']]);
  });

  test('reasoning: every summary mode (also under its old name generate_summary); an unknown effort is untranslatable; a non-string effort is ignored', () => {
    expect(prompt({ reasoning: { summary: 'concise' } }).reasoning).toStrictEqual({ summary: 'concise' });
    expect(prompt({ reasoning: { generate_summary: 'detailed' } }).reasoning).toStrictEqual({ summary: 'detailed' });
    expect(prompt({ reasoning: { effort: 'high', summary: 'verbose' } }).reasoning).toStrictEqual({ effort: 'high' });
    const unknown = prompt({ reasoning: { effort: 'extreme' } });
    expect(unknown).toStrictEqual({ ...prompt({}), untranslatable: ['reasoning.effort (extreme)'] });
    expect(prompt({ reasoning: { effort: 3 } })).toStrictEqual(prompt({}));
  });

  test.each(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'])('reasoning.effort %j (an effort OpenAI documents) reaches the neutral prompt, as it does from Chat Completions', (effort) => {
    expect(prompt({ reasoning: { effort } })).toStrictEqual({ ...prompt({}), reasoning: { effort } });
  });
});
