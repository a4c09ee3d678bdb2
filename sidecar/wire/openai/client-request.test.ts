import { describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import { withSignature } from '../tool-id.ts';
import { decodeChatRequest, openaiPrompt } from './client-request.ts';
import { thrown as failure } from '../../../test/support/errors.ts';


const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] };

describe('decodeChatRequest: what routing needs, nothing more', () => {
  test('a minimal body → a non-streamed, one-choice chat request that keeps the body itself', () => {
    const body = { ...hello };
    const req = decodeChatRequest(body);
    expect(req).toMatchObject({ operation: 'chat', format: 'openai', model: 'gpt-4o-mini', stream: false, includeUsage: false, choices: 1 });
    expect(req.body).toBe(body);
  });

  test('usage in the stream only when streaming and stream_options.include_usage is true', () => {
    expect(decodeChatRequest({ ...hello, stream: true, stream_options: { include_usage: true } }).includeUsage).toBe(true);
    expect(decodeChatRequest({ ...hello, stream: true }).includeUsage).toBe(false);
    expect(decodeChatRequest({ ...hello, stream: false, stream_options: { include_usage: true } }).includeUsage).toBe(false);
  });

  test('n sets the number of choices; null means 1', () => {
    expect(decodeChatRequest({ ...hello, n: 3 }).choices).toBe(3);
    expect(decodeChatRequest({ ...hello, n: null }).choices).toBe(1);
  });

  test('no model → 400 invalid_request with param "model", in the words OpenAI uses', () => {
    const err = failure(() => decodeChatRequest({ messages: hello.messages }));
    expect([err.code, err.status, err.message, err.details.param]).toEqual(['invalid_request', 400, 'you must provide a model parameter', 'model']);
  });

  test("empty messages → 400 with OpenAI's own code missing_required_parameter", () => {
    const err = failure(() => decodeChatRequest({ model: 'm', messages: [] }));
    expect(err.message).toBe("Missing required parameter: 'messages'.");
    expect(err.toOpenAI().error).toMatchObject({ code: 'missing_required_parameter', param: 'messages', type: 'invalid_request_error' });
  });

  test('a non-boolean stream and an out-of-range n are refused with the parameter named', () => {
    expect(failure(() => decodeChatRequest({ ...hello, stream: 'yes' })).details.param).toBe('stream');
    for (const n of [0, 1.5, 129, '2']) expect(failure(() => decodeChatRequest({ ...hello, n })).details.param).toBe('n');
  });

  test('the prompt is decoded lazily and once: an untranslatable body still routes, and prompt() is memoised', () => {
    const req = decodeChatRequest({ model: 'm', messages: [{ role: 'function', content: 'x' }] });
    expect(() => req.prompt()).toThrow(/messages\[0\]\.role: "function" cannot be translated/);
    const ok = decodeChatRequest({ ...hello });
    expect(ok.prompt()).toBe(ok.prompt());
  });
});

describe('openaiPrompt: a Chat Completions body in neutral form', () => {
  test('system and developer messages join into one system prompt; consecutive tool results share one user turn', () => {
    const prompt = openaiPrompt({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Weather in Paris and Lyon?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lyon"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '21C' }] },
      ],
    });
    expect(prompt.system).toBe('Be brief.\n\nAnswer in French.');
    expect(prompt.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Lyon?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'call_2', name: 'get_weather', arguments: '{"city":"Lyon"}' },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', toolCallId: 'call_1', content: '18C' },
          { type: 'tool_result', toolCallId: 'call_2', content: '21C' },
        ],
      },
    ]);
    expect(prompt.untranslatable).toEqual([]);
  });

  test('image parts: a data URL becomes inline data with its media type, any other URL stays a URL', () => {
    const prompt = openaiPrompt({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
          ],
        },
      ],
    });
    expect(prompt.messages[0]?.content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
      { type: 'image', url: 'https://example.com/cat.jpg' },
    ]);
  });

  test('file parts: file_data (a data URL as the docs send it, or bare base64) becomes a file part named by its path; a file by file_id or without data is refused by its path', () => {
    const pdf = Buffer.from('%PDF-1.7 invoice').toString('base64');
    const prompt = openaiPrompt({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Total?' },
            { type: 'file', file: { filename: 'invoice.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
            { type: 'file', file: { file_data: pdf } },
          ],
        },
      ],
    });
    expect(prompt.messages[0]?.content).toEqual([
      { type: 'text', text: 'Total?' },
      { type: 'file', field: 'messages[0].content[1]', filename: 'invoice.pdf', mediaType: 'application/pdf', data: pdf },
      { type: 'file', field: 'messages[0].content[2]', mediaType: 'application/pdf', data: pdf },
    ]);
    const byId = failure(() => openaiPrompt({ model: 'm', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc123' } }] }] }));
    expect([byId.status, byId.message, byId.details.param]).toEqual([
      400,
      'messages[0].content[0]: a file by file_id cannot be translated for this backend (the file is kept by OpenAI)',
      'messages[0].content[0]',
    ]);
    const empty = failure(() => openaiPrompt({ model: 'm', messages: [hello.messages[0], { role: 'user', content: [{ type: 'file', file: { filename: 'a.pdf' } }] }] }));
    expect([empty.status, empty.message]).toEqual([400, 'messages[1].content[0].file: file_data or file_id is required']);
  });

  test('sampling, stop, tools, tool_choice and response_format map to their neutral fields', () => {
    const prompt = openaiPrompt({
      model: 'm',
      messages: hello.messages,
      max_tokens: 100,
      max_completion_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stop: 'END',
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: { type: 'object' } } },
    });
    expect(prompt).toMatchObject({
      maxTokens: 50, // max_completion_tokens wins over the deprecated max_tokens
      temperature: 0.2,
      topP: 0.9,
      stop: ['END'],
      tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
      toolChoice: { type: 'tool', name: 'get_weather' },
      responseFormat: { type: 'json_schema', schema: { type: 'object' }, name: 'weather' },
    });
    expect(openaiPrompt({ model: 'm', messages: hello.messages, tool_choice: 'required' }).toolChoice).toEqual({ type: 'required' });
    expect(openaiPrompt({ model: 'm', messages: hello.messages, stop: ['a', 3, 'b'] }).stop).toEqual(['a', 'b']);
  });

  test('parameters with no neutral meaning are listed as untranslatable (null ones ignored); n is the request\'s choice count, not refused here', () => {
    const prompt = openaiPrompt({ model: 'm', messages: hello.messages, logprobs: true, logit_bias: { 50256: -100 }, frequency_penalty: null, n: 2 });
    expect(prompt.untranslatable).toEqual(['logprobs', 'logit_bias']);
  });

  test('seed, penalties, user (or safety_identifier), parallel_tool_calls and reasoning_effort become neutral fields', () => {
    const prompt = openaiPrompt({
      ...hello,
      seed: 7,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      user: 'u-1',
      parallel_tool_calls: false,
      reasoning_effort: 'high',
    });
    expect(prompt).toMatchObject({ seed: 7, presencePenalty: 0.5, frequencyPenalty: -0.5, user: 'u-1', parallelToolCalls: false, reasoning: { effort: 'high' } });
    expect(prompt.untranslatable).toEqual([]);
    expect(openaiPrompt({ ...hello, user: 'old', safety_identifier: 'new' }).user).toBe('new');
    expect(() => openaiPrompt({ ...hello, reasoning_effort: 'extreme' })).toThrow('reasoning_effort: "extreme" is not a reasoning effort');
  });

  test('a tool call id carrying a signature (wire/tool-id.ts) or Google\'s extra_content gives the signature back; the tool result keeps the plain id', () => {
    const long = withSignature('call_0_0', 'CiQBsig==');
    const prompt = openaiPrompt({
      ...hello,
      messages: [
        ...hello.messages,
        { role: 'assistant', content: null, reasoning_content: 'Look it up.', tool_calls: [{ id: long, type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: long, content: 'ok' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c2', type: 'function', function: { name: 'g', arguments: '{}' }, extra_content: { google: { thought_signature: 'Zz==' } } }] },
      ],
    });
    expect(prompt.messages.slice(1)).toEqual([
      { role: 'assistant', content: [{ type: 'reasoning', text: 'Look it up.', origin: 'openai' }, { type: 'tool_call', id: 'call_0_0', name: 'f', arguments: '{}', signature: 'CiQBsig==' }] },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_0_0', content: 'ok' }] },
      { role: 'assistant', content: [{ type: 'tool_call', id: 'c2', name: 'g', arguments: '{}', signature: 'Zz==' }] },
    ]);
  });

  test('parts that cannot be translated are refused with their place named', () => {
    expect(() => openaiPrompt({ model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] })).toThrow(
      'messages[0].content[0]: part type "input_audio" cannot be translated for this backend',
    );
    expect(() => openaiPrompt({ model: 'm', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] })).toThrow(
      'messages[0].content[0]: only text parts can be translated here',
    );
    expect(() => openaiPrompt({ model: 'm', messages: hello.messages, tools: [{ type: 'custom', custom: { name: 'x' } }] })).toThrow('tools[0]: only function tools can be translated');
  });
});

describe('decodeChatRequest: the refusals, in OpenAI\'s words', () => {
  test('an empty model is no model', () => {
    const err = failure(() => decodeChatRequest({ ...hello, model: '' }));
    expect([err.code, err.status, err.message, err.details.param]).toEqual(['invalid_request', 400, 'you must provide a model parameter', 'model']);
  });

  test('messages that are not an array are refused as missing, with code invalid_request', () => {
    const err = failure(() => decodeChatRequest({ model: 'm', messages: 'Hello' }));
    expect([err.code, err.status, err.message]).toEqual(['invalid_request', 400, "Missing required parameter: 'messages'."]);
  });

  test('the stream and n refusals say what is allowed; n may be as large as 128', () => {
    expect(failure(() => decodeChatRequest({ ...hello, stream: 1 })).message).toBe("'stream' must be a boolean");
    expect(failure(() => decodeChatRequest({ ...hello, n: 129 })).message).toBe("'n' must be an integer from 1 to 128");
    expect(decodeChatRequest({ ...hello, n: 128 }).choices).toBe(128);
  });
});

describe('openaiPrompt: shapes it refuses, each with its place named', () => {
  const refusal = (body: Record<string, unknown>) => failure(() => openaiPrompt({ model: 'm', ...body }));

  test('a message that is not an object', () => {
    const err = refusal({ messages: ['Hello'] });
    expect([err.message, err.details.param]).toEqual(['messages[0]: must be an object', 'messages']);
  });

  test('content that is neither a string nor an array of parts, for each role', () => {
    for (const role of ['system', 'user', 'assistant', 'tool']) {
      const err = refusal({ messages: [{ role, content: 42, tool_call_id: 'c' }] });
      expect([err.message, err.details.param]).toEqual(['messages[0].content: must be a string or an array of parts', 'messages[0].content']);
    }
  });

  test("a system part must be a text part with its text; a Responses-style input_text part is not one", () => {
    expect(refusal({ messages: [{ role: 'system', content: [{ type: 'text' }] }] }).message).toBe('messages[0].content[0]: only text parts can be translated here');
    expect(refusal({ messages: [{ role: 'system', content: [{ type: 'input_text', text: 'Be brief.' }] }] }).message).toBe('messages[0].content[0]: only text parts can be translated here');
  });

  test('a user part that is not an object, a text part without text, an input_text part, an image part without a URL', () => {
    expect(refusal({ messages: [{ role: 'user', content: ['Hello'] }] }).message).toBe('messages[0].content[0]: must be an object');
    for (const part of [{ type: 'text' }, { type: 'input_text', text: 'x' }, { type: 'image_url', image_url: {} }, { type: 'image_url' }, { type: 'input_image', image_url: { url: 'https://example.com/a.png' } }])
      expect(refusal({ messages: [{ role: 'user', content: [part] }] }).message).toMatch(/^messages\[0\]\.content\[0\]: part type ".*" cannot be translated for this backend$/);
  });

  test('a tool call without its function object', () => {
    const err = refusal({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function' }] }] });
    expect([err.message, err.details.param]).toEqual(['messages[1].tool_calls: malformed tool call', 'messages']);
  });

  test('an unknown role names the messages parameter', () => {
    expect(refusal({ messages: [{ role: 'function', name: 'f', content: 'x' }] }).details.param).toBe('messages');
  });

  test('tools that are not function tools with a name: not an object, no type, no function object, no name', () => {
    for (const tool of ['get_weather', { function: { name: 'f' } }, { type: 'function' }, { type: 'function', function: { description: 'x' } }]) {
      const err = refusal({ messages: hello.messages, tools: [tool] });
      expect([err.message, err.details.param]).toEqual(['tools[0]: only function tools can be translated', 'tools']);
    }
  });

  test('reasoning_effort that is not an effort names its parameter; a null one asks for nothing', () => {
    expect(refusal({ messages: hello.messages, reasoning_effort: 'extreme' }).details.param).toBe('reasoning_effort');
    expect(openaiPrompt({ ...hello, reasoning_effort: null })).not.toHaveProperty('reasoning');
  });
});

describe('openaiPrompt: what a minimal body leaves out, and the defaults', () => {
  test('a minimal body has messages and an empty untranslatable list, and no other field', () => {
    expect(openaiPrompt({ ...hello })).toStrictEqual({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }], untranslatable: [] });
  });

  test('an assistant turn keeps its text; without content, with only tool calls, it has just the calls; empty reasoning_content is no reasoning', () => {
    const prompt = openaiPrompt({
      model: 'm',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello! ', reasoning_content: '' },
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
      ],
    });
    expect(prompt.messages[1]).toStrictEqual({ role: 'assistant', content: [{ type: 'text', text: 'Hello! ' }] });
    expect(prompt.messages[3]).toStrictEqual({ role: 'assistant', content: [{ type: 'tool_call', id: 'call_1', name: 'w', arguments: '{}' }] });
  });

  test('text parts of a system message join without a separator; system messages join with a blank line', () => {
    const prompt = openaiPrompt({ model: 'm', messages: [{ role: 'system', content: [{ type: 'text', text: 'Be ' }, { type: 'text', text: 'brief.' }] }, { role: 'system', content: 'Use French.' }, ...hello.messages] });
    expect(prompt.system).toBe('Be brief.\n\nUse French.');
  });

  test("a URL that merely contains a data: URL is a URL, not inline data", () => {
    const url = 'https://example.com/proxy?src=data:image/png;base64,AAAA';
    expect(openaiPrompt({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] }).messages[0]?.content).toEqual([{ type: 'image', url }]);
  });

  test("Google's extra_content signature that is empty or not a string is no signature", () => {
    const prompt = openaiPrompt({
      model: 'm',
      messages: [
        ...hello.messages,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' }, extra_content: { google: { thought_signature: '' } } },
            { id: 'c2', type: 'function', function: { name: 'g', arguments: '{}' }, extra_content: { google: { thought_signature: 5 } } },
          ],
        },
      ],
    });
    expect(prompt.messages[1]?.content).toStrictEqual([
      { type: 'tool_call', id: 'c1', name: 'f', arguments: '{}' },
      { type: 'tool_call', id: 'c2', name: 'g', arguments: '{}' },
    ]);
  });

  test('only consecutive tool results share a user turn: a user text after them, a tool result after user text, turns of one role otherwise stay apart', () => {
    const tool = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'ok' });
    const result = (id: string) => ({ type: 'tool_result', toolCallId: id, content: 'ok' });
    expect(openaiPrompt({ model: 'm', messages: [tool('t0'), { role: 'user', content: 'and?' }, tool('t1')] }).messages).toEqual([
      { role: 'user', content: [result('t0')] },
      { role: 'user', content: [{ type: 'text', text: 'and?' }] },
      { role: 'user', content: [result('t1')] },
    ]);
    expect(openaiPrompt({ model: 'm', messages: [...hello.messages, { role: 'assistant', content: '' }, { role: 'assistant', content: '' }, tool('t2')] }).messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
      { role: 'assistant', content: [] },
      { role: 'assistant', content: [] },
      { role: 'user', content: [result('t2')] },
    ]);
  });

  test('null parameters with no neutral meaning are not listed as untranslatable, nor undefined ones', () => {
    expect(openaiPrompt({ ...hello, logprobs: null, top_logprobs: undefined, audio: null }).untranslatable).toEqual([]);
  });

  test('an empty or non-string user is no user', () => {
    expect(openaiPrompt({ ...hello, user: '' })).not.toHaveProperty('user');
    expect(openaiPrompt({ ...hello, user: 42 })).not.toHaveProperty('user');
  });

  test('a tool without parameters gets an empty object schema; without a description it has none', () => {
    expect(openaiPrompt({ ...hello, tools: [{ type: 'function', function: { name: 'now' } }] }).tools).toStrictEqual([{ name: 'now', parameters: { type: 'object', properties: {} } }]);
  });

  test("tool_choice 'auto' and 'none' map as they are; a function choice without a name is no choice", () => {
    expect(openaiPrompt({ ...hello, tool_choice: 'auto' }).toolChoice).toEqual({ type: 'auto' });
    expect(openaiPrompt({ ...hello, tool_choice: 'none' }).toolChoice).toEqual({ type: 'none' });
    expect(openaiPrompt({ ...hello, tool_choice: { type: 'function', function: {} } })).not.toHaveProperty('toolChoice');
  });

  test('response_format: json_object maps; text, a json_schema without its schema, or without json_schema maps to nothing; an unnamed schema has no name', () => {
    expect(openaiPrompt({ ...hello, response_format: { type: 'json_object' } }).responseFormat).toStrictEqual({ type: 'json_object' });
    for (const rf of [{ type: 'text' }, { type: 'json_schema' }, { type: 'json_schema', json_schema: { name: 'x' } }])
      expect(openaiPrompt({ ...hello, response_format: rf })).not.toHaveProperty('responseFormat');
    expect(openaiPrompt({ ...hello, response_format: { type: 'json_schema', json_schema: { schema: { type: 'object' } } } }).responseFormat).toStrictEqual({ type: 'json_schema', schema: { type: 'object' } });
  });
});

test('an empty user message next to tool results never becomes an empty turn of its own', () => {
  const tool = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'ok' });
  const result = (id: string) => ({ type: 'tool_result', toolCallId: id, content: 'ok' });
  expect(openaiPrompt({ model: 'm', messages: [tool('t0'), { role: 'user', content: [] }] }).messages).toEqual([{ role: 'user', content: [result('t0')] }]);
  expect(openaiPrompt({ model: 'm', messages: [{ role: 'user', content: [] }, tool('t1')] }).messages).toEqual([{ role: 'user', content: [result('t1')] }]);
});

test('the response_format type decides: a text format carrying a json_schema is still no format', () => {
  expect(openaiPrompt({ ...hello, response_format: { type: 'text', json_schema: { name: 'x', schema: { type: 'object' } } } })).not.toHaveProperty('responseFormat');
});
