import { describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import { withSignature } from '../tool-id.ts';
import { anthropicPrompt, decodeCountTokensRequest, decodeMessagesRequest } from './client-request.ts';
import { thrown as failure } from '../../../test/support/errors.ts';


const hello = { model: 'claude-haiku-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] };

describe('decodeMessagesRequest', () => {
  test('a valid body → an Anthropic chat request that always wants usage and has one choice, keeping the body itself', () => {
    const body = { ...hello, stream: true };
    const req = decodeMessagesRequest(body);
    expect(req).toMatchObject({ operation: 'chat', format: 'anthropic', model: 'claude-haiku-4-5', stream: true, includeUsage: true, choices: 1 });
    expect(req.body).toBe(body);
    expect(decodeMessagesRequest({ ...hello }).stream).toBe(false);
  });

  test("missing or bad fields → 400 in Anthropic's own words and error type", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...hello, model: '' }, 'model: Field required'],
      [{ model: 'm', max_tokens: 10 }, 'messages: Field required'],
      [{ ...hello, messages: [] }, 'messages: at least one message is required'],
      [{ model: 'm', messages: hello.messages }, 'max_tokens: Field required'],
      [{ ...hello, max_tokens: 0 }, 'max_tokens: Field required'],
      [{ ...hello, max_tokens: 1.5 }, 'max_tokens: Field required'],
      [{ ...hello, stream: 'true' }, 'stream: Input should be a valid boolean'],
    ];
    for (const [body, message] of cases) {
      const err = failure(() => decodeMessagesRequest(body));
      expect([err.code, err.status, err.message]).toEqual(['invalid_request', 400, message]);
      expect(err.toAnthropic()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message } });
    }
  });

  test('the prompt is decoded only when asked, and once', () => {
    const req = decodeMessagesRequest({ ...hello, messages: [{ role: 'tool', content: 'x' }] });
    expect(() => req.prompt()).toThrow('messages.0.role: must be "user", "assistant" or "system"');
    const ok = decodeMessagesRequest({ ...hello });
    expect(ok.prompt()).toBe(ok.prompt());
  });
});

describe('anthropicPrompt', () => {
  test('text, images, tool use and tool results become neutral parts; thinking keeps its signature and says it came from Anthropic', () => {
    const prompt = anthropicPrompt({
      model: 'm',
      max_tokens: 512,
      system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: ' Use metric units.' }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this, and the weather?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'The user wants...', signature: 'EqQBCgIYAh' },
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'redacted_thinking', data: 'EmwKAhgB' },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01A', content: [{ type: 'text', text: '18C' }] },
            { type: 'tool_result', tool_use_id: 'toolu_01B', content: 'no such city', is_error: true },
          ],
        },
      ],
    });
    // separate system blocks stay apart, as separate paragraphs
    expect(prompt.system).toBe('Be brief.\n\n Use metric units.');
    expect(prompt.maxTokens).toBe(512);
    expect(prompt.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this, and the weather?' },
          { type: 'image', mediaType: 'image/jpeg', data: '/9j/4AAQ' },
          { type: 'image', url: 'https://example.com/cat.jpg' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: 'The user wants...', origin: 'anthropic', signature: 'EqQBCgIYAh' },
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_call', id: 'toolu_01A', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { type: 'reasoning', text: '', origin: 'anthropic', redacted: 'EmwKAhgB' },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', toolCallId: 'toolu_01A', content: '18C' },
          { type: 'tool_result', toolCallId: 'toolu_01B', content: 'no such city', isError: true },
        ],
      },
    ]);
  });

  test('sampling, stop sequences, custom tools and tool_choice map to neutral fields', () => {
    const prompt = anthropicPrompt({
      ...hello,
      temperature: 0.3,
      top_p: 0.8,
      stop_sequences: ['\n\nHuman:'],
      tools: [{ name: 'get_weather', description: 'Weather now', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }, { type: 'custom', name: 'noop' }],
      tool_choice: { type: 'any' },
    });
    expect(prompt).toMatchObject({
      temperature: 0.3,
      topP: 0.8,
      stop: ['\n\nHuman:'],
      tools: [
        { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        { name: 'noop', parameters: { type: 'object', properties: {} } },
      ],
      toolChoice: { type: 'required' },
    });
    expect(anthropicPrompt({ ...hello, tool_choice: { type: 'tool', name: 'get_weather' } }).toolChoice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(anthropicPrompt({ ...hello, tool_choice: { type: 'none' } }).toolChoice).toEqual({ type: 'none' });
  });

  test('parameters with no neutral meaning are listed as untranslatable; null ones are ignored', () => {
    expect(anthropicPrompt({ ...hello, container: 'c1', mcp_servers: [], service_tier: null }).untranslatable).toEqual(['container', 'mcp_servers']);
  });

  test('top_k, metadata.user_id, disable_parallel_tool_use, system messages and output_config.format become neutral fields', () => {
    const prompt = anthropicPrompt({
      ...hello,
      system: 'One.',
      messages: [{ role: 'system', content: 'Two.' }, ...hello.messages],
      top_k: 40,
      metadata: { user_id: 'u-1' },
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
    });
    expect(prompt).toMatchObject({ system: 'One.\n\nTwo.', topK: 40, user: 'u-1', toolChoice: { type: 'auto' }, parallelToolCalls: false, responseFormat: { type: 'json_schema', schema: { type: 'object' } } });
    expect(prompt.messages).toHaveLength(1);
  });

  test('thinking: enabled gives a budget and wants the thinking shown; adaptive only shows it; disabled asks for nothing; output_config.effort is an effort', () => {
    expect(anthropicPrompt({ ...hello, thinking: { type: 'enabled', budget_tokens: 2048 } }).reasoning).toEqual({ budgetTokens: 2048, summary: 'auto' });
    expect(anthropicPrompt({ ...hello, thinking: { type: 'enabled', budget_tokens: 2048, display: 'omitted' } }).reasoning).toEqual({ budgetTokens: 2048 });
    expect(anthropicPrompt({ ...hello, thinking: { type: 'adaptive' }, output_config: { effort: 'high' } }).reasoning).toEqual({ effort: 'high', summary: 'auto' });
    expect(anthropicPrompt({ ...hello, thinking: { type: 'disabled' } }).reasoning).toBeUndefined();
    expect(() => anthropicPrompt({ ...hello, output_config: { effort: 'minimal' } })).toThrow('output_config.effort: "minimal" is not one of low, medium, high, xhigh, max');
  });

  test('a tool_use id carrying a signature (wire/tool-id.ts) gives it back; the tool_result keeps the plain id', () => {
    const long = withSignature('call_0_0', 'CiQBsig==');
    const prompt = anthropicPrompt({
      ...hello,
      messages: [
        ...hello.messages,
        { role: 'assistant', content: [{ type: 'tool_use', id: long, name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: long, content: 'ok' }] },
      ],
    });
    expect(prompt.messages.slice(1)).toEqual([
      { role: 'assistant', content: [{ type: 'tool_call', id: 'call_0_0', name: 'f', arguments: '{}', signature: 'CiQBsig==' }] },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_0_0', content: 'ok' }] },
    ]);
  });

  test('document blocks: a base64 PDF, plain text (carried as base64 like any file) and a PDF URL become file parts named by their path, the title as the file name', () => {
    const pdf = Buffer.from('%PDF-1.7 contract').toString('base64');
    const p = anthropicPrompt({
      ...hello,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'contract.pdf', cache_control: { type: 'ephemeral' } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Grass is green. Ünïcode too.' }, citations: { enabled: false } },
            { type: 'document', source: { type: 'url', url: 'https://files.example/paper.pdf' } },
            { type: 'text', text: 'Compare them.' },
          ],
        },
      ],
    });
    expect(p.messages[0]?.content).toEqual([
      { type: 'file', field: 'messages.0.content.0', filename: 'contract.pdf', mediaType: 'application/pdf', data: pdf },
      { type: 'file', field: 'messages.0.content.1', mediaType: 'text/plain', data: Buffer.from('Grass is green. Ünïcode too.').toString('base64') },
      { type: 'file', field: 'messages.0.content.2', url: 'https://files.example/paper.pdf', mediaType: 'application/pdf' },
      { type: 'text', text: 'Compare them.' },
    ]);
  });

  test("blocks and tools another format cannot express are refused with their place named in Anthropic's dotted style", () => {
    const doc = (block: Record<string, unknown>, role = 'user') => () => anthropicPrompt({ ...hello, messages: [{ role, content: [{ type: 'document', ...block }] }] });
    expect(doc({ source: { type: 'content', content: [{ type: 'text', text: 'x' }] } })).toThrow('messages.0.content.0.source: a document source of type "content" cannot be translated for this backend');
    expect(doc({ source: { type: 'file', file_id: 'file_011' } })).toThrow('messages.0.content.0.source: a document source of type "file" cannot be translated for this backend');
    expect(doc({ source: { type: 'text', data: 'x' }, citations: { enabled: true } })).toThrow('messages.0.content.0.citations: citations cannot be translated for this backend');
    expect(doc({ source: { type: 'text', data: 'x' }, context: 'From the 2024 filing.' })).toThrow('messages.0.content.0.context: a document context cannot be translated for this backend');
    expect(doc({ source: { type: 'text', data: 'x' } }, 'assistant')).toThrow('messages.0.content.0: a document in an assistant turn cannot be translated for this backend');
    expect(() => anthropicPrompt({ ...hello, messages: [{ role: 'user', content: [{ type: 'search_result', source: 'https://x.example', title: 't', content: [] }] }] })).toThrow(
      'messages.0.content.0: block type "search_result" cannot be translated for this backend',
    );
    expect(() => anthropicPrompt({ ...hello, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] })).toThrow(
      'messages.0.content.0.source: cannot be translated for this backend',
    );
    expect(() => anthropicPrompt({ ...hello, tools: [{ type: 'web_search_20250305', name: 'web_search' }] })).toThrow('tools.0: only custom tools can be translated for this backend');
  });
});

describe('decodeCountTokensRequest', () => {
  test('a Messages body without max_tokens; its prompt has no cap, since nothing is generated', () => {
    const req = decodeCountTokensRequest({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }], system: 'Be brief.' });
    expect(req).toMatchObject({ operation: 'chat', format: 'anthropic', model: 'claude', stream: false });
    expect(req.prompt()).toEqual({ system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], untranslatable: [] });
  });

  test("no model or no messages: Anthropic's own 400 wording", () => {
    expect(() => decodeCountTokensRequest({ messages: [] })).toThrow('model: Field required');
    expect(() => decodeCountTokensRequest({ model: 'claude' })).toThrow('messages: Field required');
  });
});

describe("decodeMessagesRequest and decodeCountTokensRequest: more refusals in Anthropic's words", () => {
  test("a missing model is refused; a max_tokens of 1 is enough; the error keeps Anthropic's type for an Anthropic client", () => {
    const err = failure(() => decodeMessagesRequest({ max_tokens: 10, messages: hello.messages }));
    expect([err.message, err.details.providerFormat, err.details.providerType]).toEqual(['model: Field required', 'anthropic', 'invalid_request_error']);
    expect(decodeMessagesRequest({ ...hello, max_tokens: 1 }).model).toBe('claude-haiku-4-5');
  });

  test('count_tokens: an empty model is no model; the request never wants usage', () => {
    expect(() => decodeCountTokensRequest({ model: '', messages: hello.messages })).toThrow('model: Field required');
    expect(decodeCountTokensRequest({ model: 'claude', messages: hello.messages })).toMatchObject({ stream: false, includeUsage: false, choices: 1 });
  });
});

describe('anthropicPrompt: shapes it refuses, with their place named', () => {
  const refused = (body: Record<string, unknown>) => failure(() => anthropicPrompt({ ...hello, ...body })).message;

  test('a system prompt, system message or message content that is neither a string nor a list of blocks', () => {
    expect(refused({ system: 42 })).toBe('system: must be a string or an array of blocks');
    expect(refused({ messages: [{ role: 'system', content: 42 }] })).toBe('messages.0.content: must be a string or an array of blocks');
    expect(refused({ messages: [{ role: 'user', content: 42 }] })).toBe('messages.0.content: must be a string or an array of blocks');
    expect(refused({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 42 }] }] })).toBe('messages.0.content.0.content: must be a string or an array of blocks');
  });

  test('system blocks must be text blocks with their text; a Responses-style input_text block is not one', () => {
    expect(refused({ system: [{ type: 'text' }] })).toBe('system.0: only text blocks can be translated here');
    expect(refused({ system: [{ type: 'input_text', text: 'Be brief.' }] })).toBe('system.0: only text blocks can be translated here');
  });

  test('a block that is not an object', () => {
    expect(refused({ messages: [{ role: 'user', content: ['Hello'] }] })).toBe('messages.0.content.0: must be an object');
  });

  test('tools that are not custom tools with a string name: null, a name that is not a string', () => {
    for (const tool of [null, { name: 5, input_schema: { type: 'object' } }]) expect(refused({ tools: [tool] })).toBe('tools.0: only custom tools can be translated for this backend');
  });

  test('output_config.effort must be a Messages effort: not "none", not made up', () => {
    expect(refused({ output_config: { effort: 'none' } })).toBe('output_config.effort: "none" is not one of low, medium, high, xhigh, max');
    expect(refused({ output_config: { effort: 'extreme' } })).toBe('output_config.effort: "extreme" is not one of low, medium, high, xhigh, max');
  });
});

describe('anthropicPrompt: what it leaves out and the defaults', () => {
  test('a minimal body: its messages, the cap, and nothing else; a null system is no system', () => {
    const minimal = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }], untranslatable: [], maxTokens: 1024 };
    expect(anthropicPrompt({ ...hello })).toStrictEqual(minimal);
    expect(anthropicPrompt({ ...hello, system: null, metadata: { user_id: '' }, top_k: null })).toStrictEqual(minimal);
    expect(anthropicPrompt({ ...hello, metadata: { user_id: 42 } })).toStrictEqual(minimal);
  });

  test('undefined parameters are not untranslatable', () => {
    expect(anthropicPrompt({ ...hello, container: undefined }).untranslatable).toEqual([]);
  });

  test('text blocks of a tool result join without a separator; a tool result without content is empty', () => {
    const prompt = anthropicPrompt({
      ...hello,
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: '18' }, { type: 'text', text: 'C' }] }, { type: 'tool_result', tool_use_id: 't2' }] }],
    });
    expect(prompt.messages[0]?.content).toStrictEqual([
      { type: 'tool_result', toolCallId: 't1', content: '18C' },
      { type: 'tool_result', toolCallId: 't2', content: '' },
    ]);
  });

  test('a thinking block with an empty, missing or non-string signature carries none', () => {
    const prompt = anthropicPrompt({
      ...hello,
      messages: [...hello.messages, { role: 'assistant', content: [{ type: 'thinking', thinking: 'a', signature: '' }, { type: 'thinking', thinking: 'b' }, { type: 'thinking', thinking: 'c', signature: 7 }, { type: 'text', text: 'ok' }] }],
    });
    expect(prompt.messages[1]?.content).toStrictEqual([
      { type: 'reasoning', text: 'a', origin: 'anthropic' },
      { type: 'reasoning', text: 'b', origin: 'anthropic' },
      { type: 'reasoning', text: 'c', origin: 'anthropic' },
      { type: 'text', text: 'ok' },
    ]);
  });

  test('stop sequences keep only strings; a tool without description or schema gets none and an empty object schema', () => {
    const prompt = anthropicPrompt({ ...hello, stop_sequences: ['END', 3, '###'], tools: [{ name: 'now' }] });
    expect(prompt.stop).toEqual(['END', '###']);
    expect(prompt.tools).toStrictEqual([{ name: 'now', parameters: { type: 'object', properties: {} } }]);
  });

  test('thinking enabled without a budget only shows the thinking; a null effort is no effort', () => {
    expect(anthropicPrompt({ ...hello, thinking: { type: 'enabled' } }).reasoning).toStrictEqual({ summary: 'auto' });
    expect(anthropicPrompt({ ...hello, output_config: { effort: null } })).not.toHaveProperty('reasoning');
  });

  test('tool_choice: a tool without a name, or an unknown type, is no choice', () => {
    expect(anthropicPrompt({ ...hello, tool_choice: { type: 'tool' } })).not.toHaveProperty('toolChoice');
    expect(anthropicPrompt({ ...hello, tool_choice: { type: 'function', name: 'f' } })).not.toHaveProperty('toolChoice');
  });

  test('an output format that is not a JSON schema is no response format', () => {
    expect(anthropicPrompt({ ...hello, output_config: { format: { type: 'text', schema: { type: 'object' } } } })).not.toHaveProperty('responseFormat');
  });
});
