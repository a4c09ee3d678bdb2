import { describe, expect, test } from 'vitest';
import type { ChatPrompt, ChatRequest, JsonObject, Part } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { decodeMessagesRequest } from './client-request.ts';
import { ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS, anthropicBody, anthropicBodyText } from './upstream-request.ts';
import { parseJsonBody } from '../../net/body.ts';
import { thrown as refusal } from '../../../test/support/errors.ts';

function translated(prompt: ChatPrompt): ChatRequest {
  return { operation: 'chat', format: 'openai', body: {}, model: 'route', stream: false, includeUsage: false, choices: 1, prompt: () => prompt };
}

const hello = { model: 'route', max_tokens: 1024, messages: [{ role: 'user', content: 'Count to five' }] };

test('the pinned API version and the default max_tokens', () => {
  expect(ANTHROPIC_VERSION).toBe('2023-06-01');
  expect(DEFAULT_MAX_TOKENS).toBe(4096);
});

describe('same format: the client body, with the model replaced', () => {
  test('fields the sidecar does not interpret (thinking, top_k, cache_control) pass through; the client object is untouched', () => {
    const body: JsonObject = {
      ...hello,
      system: [{ type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }],
      thinking: { type: 'enabled', budget_tokens: 2048 },
      top_k: 5,
    };
    const out = anthropicBody(decodeMessagesRequest(body), 'claude-sonnet-4-5', { stream: true });
    expect(out).toEqual({ ...body, model: 'claude-sonnet-4-5', stream: true });
    expect(body.model).toBe('route');
    expect('stream' in body).toBe(false);
  });
});

describe('prefill', () => {
  test('no trailing assistant turn → one is added with the delivered text', () => {
    const out = anthropicBody(decodeMessagesRequest(hello), 'm', { stream: true, prefill: 'One, two,' });
    expect(out.messages).toEqual([...hello.messages, { role: 'assistant', content: 'One, two,' }]);
  });

  test("a client's trailing assistant turn is extended: string content, a trailing text block, or a new text block after a non-text one", () => {
    const withTail = (content: unknown) => anthropicBody(decodeMessagesRequest({ ...hello, messages: [...hello.messages, { role: 'assistant', content }] }), 'm', { stream: true, prefill: ' two,' }).messages;
    expect(withTail('One,')).toEqual([...hello.messages, { role: 'assistant', content: 'One, two,' }]);
    expect(withTail([{ type: 'text', text: 'One,' }])).toEqual([...hello.messages, { role: 'assistant', content: [{ type: 'text', text: 'One, two,' }] }]);
    expect(withTail([{ type: 'thinking', thinking: 't', signature: 's' }])).toEqual([
      ...hello.messages,
      { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'text', text: ' two,' }] },
    ]);
  });

  test('an empty prefill changes nothing (Anthropic refuses an empty trailing assistant turn)', () => {
    expect(anthropicBody(decodeMessagesRequest(hello), 'm', { stream: true, prefill: '' }).messages).toEqual(hello.messages);
  });
});

describe('another format: built from the neutral prompt', () => {
  test('messages, images, tool use and results in Anthropic blocks; empty text dropped; max_tokens defaulted', () => {
    const out = anthropicBody(
      translated({
        system: 'Be brief.',
        untranslatable: [],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', url: 'https://example.com/sky.png' }, { type: 'image', mediaType: 'image/png', data: 'AAAA' }] },
          { role: 'assistant', content: [{ type: 'text', text: '' }, { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
          { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: 'unknown city', isError: true }] },
          { role: 'assistant', content: [{ type: 'text', text: '' }] },
        ],
      }),
      'claude-haiku-4-5',
      { stream: false },
    );
    expect(out).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 4096,
      system: 'Be brief.',
      stream: false,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather?' },
            { type: 'image', source: { type: 'url', url: 'https://example.com/sky.png' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
          ],
        },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'unknown city', is_error: true }] },
      ],
    });
  });

  test('limits, stop, tools and tool_choice in Anthropic names ("required" is "any")', () => {
    const out = anthropicBody(
      translated({
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
        untranslatable: [],
        maxTokens: 100,
        temperature: 0.5,
        topP: 0.9,
        stop: ['END'],
        tools: [{ name: 'get_weather', parameters: { type: 'object' } }],
        toolChoice: { type: 'required' },
      }),
      'm',
      { stream: true },
    );
    expect(out).toMatchObject({ max_tokens: 100, temperature: 0.5, top_p: 0.9, stop_sequences: ['END'], tools: [{ name: 'get_weather', input_schema: { type: 'object' } }], tool_choice: { type: 'any' }, stream: true });
    expect(anthropicBody(translated({ messages: [], untranslatable: [], toolChoice: { type: 'tool', name: 'f' } }), 'm', { stream: false }).tool_choice).toEqual({ type: 'tool', name: 'f' });
    expect(anthropicBody(translated({ messages: [], untranslatable: [], toolChoice: { type: 'auto' } }), 'm', { stream: false }).tool_choice).toEqual({ type: 'auto' });
  });

  test('response_format and other untranslatable parameters are refused as unsupported_parameter', () => {
    let err: unknown;
    try {
      anthropicBody(translated({ messages: [], untranslatable: ['logprobs'], responseFormat: { type: 'json_object' } }), 'm', { stream: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AirouteError);
    expect((err as AirouteError).message).toBe('unsupported parameter(s), with no equivalent in the Anthropic format: logprobs, response_format');
  });
});

describe('another format: the parameters and reasoning issue 18 maps', () => {
  const hi: ChatPrompt = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], untranslatable: [] };

  test('user → metadata.user_id, top_k, one tool call at most → disable_parallel_tool_use, a JSON schema → output_config.format', () => {
    const out = anthropicBody(
      translated({ ...hi, user: 'u-1', topK: 40, parallelToolCalls: false, tools: [{ name: 'f', parameters: { type: 'object' } }], responseFormat: { type: 'json_schema', schema: { type: 'object' } } }),
      'm',
      { stream: false },
    );
    expect(out).toMatchObject({ metadata: { user_id: 'u-1' }, top_k: 40, tool_choice: { type: 'auto', disable_parallel_tool_use: true }, output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } });
    const named = anthropicBody(translated({ ...hi, parallelToolCalls: false, toolChoice: { type: 'tool', name: 'f' } }), 'm', { stream: false });
    expect(named.tool_choice).toEqual({ type: 'tool', name: 'f', disable_parallel_tool_use: true });
  });

  test('seed, penalties, n > 1 and json_object have no Anthropic form: one 400 naming each as the client spelled it', () => {
    const req = { ...translated({ ...hi, seed: 1, presencePenalty: 0.1, frequencyPenalty: 0.1, responseFormat: { type: 'json_object' } }), choices: 2 };
    const err = refusal(() => anthropicBody(req, 'm', { stream: false }));
    expect([err.status, err.code, err.details.param]).toEqual([400, 'unsupported_parameter', 'frequency_penalty']);
    expect(err.message).toBe('unsupported parameter(s), with no equivalent in the Anthropic format: frequency_penalty, n, presence_penalty, response_format, seed');
  });

  test('an effort becomes a thinking budget on top of the default cap; with a cap of its own, the budget fits under it', () => {
    expect(anthropicBody(translated({ ...hi, reasoning: { effort: 'medium' } }), 'm', { stream: false })).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 8192 },
      max_tokens: DEFAULT_MAX_TOKENS + 8192,
    });
    expect(anthropicBody(translated({ ...hi, maxTokens: 5000, reasoning: { effort: 'high' } }), 'm', { stream: false })).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 4999 },
      max_tokens: 5000,
    });
    expect(anthropicBody(translated({ ...hi, reasoning: { effort: 'none' } }), 'm', { stream: false }).thinking).toEqual({ type: 'disabled' });
    const err = refusal(() => anthropicBody(translated({ ...hi, maxTokens: 800, reasoning: { effort: 'low' } }), 'm', { stream: false }));
    expect([err.status, err.details.param]).toEqual([400, 'max_completion_tokens']);
  });

  test("signed Anthropic thinking goes back in its place; reasoning from another provider is left out, and without a signed turn to continue, thinking is turned off as Anthropic's error advises", () => {
    const turn = (reasoning: Part[]): ChatPrompt => ({
      ...hi,
      reasoning: { effort: 'low' },
      messages: [
        ...hi.messages,
        { role: 'assistant', content: [...reasoning, { type: 'tool_call', id: 'toolu_1', name: 'f', arguments: '{}' }] },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'toolu_1', content: 'ok' }] },
      ],
    });
    const signed = anthropicBody(translated(turn([{ type: 'reasoning', text: 'Call f.', origin: 'anthropic', signature: 'EqQB' }])), 'm', { stream: false });
    expect((signed.messages as JsonObject[])[1]?.content).toEqual([
      { type: 'thinking', thinking: 'Call f.', signature: 'EqQB' },
      { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
    ]);
    expect(signed.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    const foreign = anthropicBody(translated(turn([{ type: 'reasoning', text: 'Call f.', origin: 'gemini', signature: 'CiQB' }])), 'm', { stream: false });
    expect((foreign.messages as JsonObject[])[1]?.content).toEqual([{ type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }]);
    expect('thinking' in foreign).toBe(false);
  });
});

describe('file parts as document blocks (Anthropic "PDF support": base64, url and text sources)', () => {
  const pdf = Buffer.from('%PDF-1.7 quarterly report').toString('base64');
  const user = (...content: Part[]): ChatPrompt => ({ untranslatable: [], messages: [{ role: 'user', content }] });

  test('a PDF goes as a base64 source, text as the text itself, a PDF URL as a url source; the file name is the title', () => {
    const out = anthropicBody(
      translated(
        user(
          { type: 'file', field: 'input[0].content[0]', filename: 'q3.pdf', mediaType: 'application/pdf', data: pdf },
          { type: 'file', field: 'input[0].content[1]', mediaType: 'text/plain', data: Buffer.from('Grass is green. Ünïcode too.').toString('base64') },
          { type: 'file', field: 'input[0].content[2]', filename: 'notes.md', mediaType: 'text/markdown', data: Buffer.from('# Notes').toString('base64') },
          { type: 'file', field: 'input[0].content[3]', url: 'https://files.example/paper.pdf', mediaType: 'application/pdf' },
          { type: 'file', field: 'input[0].content[4]', url: 'https://files.example/paper' },
          { type: 'text', text: 'Summarize.' },
        ),
      ),
      'claude-sonnet-4-5',
      { stream: false },
    );
    expect((out.messages as JsonObject[])[0]!.content).toEqual([
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'q3.pdf' },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Grass is green. Ünïcode too.' } },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: '# Notes' }, title: 'notes.md' },
      { type: 'document', source: { type: 'url', url: 'https://files.example/paper.pdf' } },
      { type: 'document', source: { type: 'url', url: 'https://files.example/paper' } },
      { type: 'text', text: 'Summarize.' },
    ]);
  });

  test('refused, never dropped: a file type Anthropic documents cannot hold, inline or by URL, named by the client\'s path', () => {
    const docx = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
    const inline = refusal(() => anthropicBody(translated(user({ type: 'file', field: 'input[0].content[1]', filename: 'a.docx', mediaType: docx, data: 'UEsDBA==' })), 'claude', { stream: false }));
    expect([inline.code, inline.status, inline.details.param, inline.message]).toEqual([
      'unsupported_parameter',
      400,
      'input[0].content[1]',
      `input[0].content[1]: a ${docx} file (documents there are PDF or plain text) has no equivalent in the Anthropic format`,
    ]);
    const byUrl = refusal(() => anthropicBody(translated(user({ type: 'file', field: 'messages[0].content[0]', url: 'https://x.example/a.csv', mediaType: 'text/csv' })), 'claude', { stream: false }));
    expect(byUrl.message).toBe('messages[0].content[0]: a text/csv file by URL (URL documents are PDFs there) has no equivalent in the Anthropic format');
  });
});

describe('same format: the body as text, the client\'s bytes kept', () => {
  function arrived(text: string): ChatRequest {
    const { body, raw } = parseJsonBody(text);
    return { ...decodeMessagesRequest(body), raw };
  }
  const text = '{"model": "route", "max_tokens": 1024, "messages": [{"role": "user", "content": "Count to five"}], "stream": true}';

  test('the model (and the stream flag when it differs) are spliced into the text as sent', () => {
    expect(anthropicBodyText(arrived(text), 'claude-x', { stream: true })).toBe(text.replace('"route"', '"claude-x"'));
    expect(anthropicBodyText(arrived(text), 'claude-x', { stream: false })).toBe(text.replace('"route"', '"claude-x"').replace('"stream": true', '"stream": false'));
  });

  test('whatever the text takes, it parses to exactly the body anthropicBody builds (a prefill, a duplicated model)', () => {
    for (const [t, opts] of [
      [text, { stream: false }],
      [text, { stream: true, prefill: 'One, two' }],
      [text, { stream: true, prefill: '' }],
      ['{"model":"claude-opus","model":"route","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}', { stream: false }],
    ] as const) {
      const req = arrived(t);
      expect(JSON.parse(anthropicBodyText(req, 'target', opts))).toEqual(anthropicBody(req, 'target', opts));
    }
  });
});
