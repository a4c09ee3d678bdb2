import { describe, expect, test } from 'vitest';
import type { ChatPrompt, ChatRequest, JsonObject } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { decodeChatRequest } from './client-request.ts';
import { openaiBody, openaiBodyText } from './upstream-request.ts';
import { parseJsonBody } from '../../net/body.ts';
import { thrown as failure } from '../../../test/support/errors.ts';

/** A request from a client of another format, already decoded into the neutral prompt. */
function translated(prompt: ChatPrompt, choices = 1): ChatRequest {
  return { operation: 'chat', format: 'anthropic', body: {}, model: 'route', stream: false, includeUsage: true, choices, prompt: () => prompt };
}

const OPENAI = { label: 'OpenAI', maxTokens: 'max_completion_tokens', topK: false } as const;
const plain = { stream: false, continueFinalMessage: false, dialect: OPENAI };

describe('same format: the client body, with the model replaced', () => {
  test("every field the client sent is kept (even ones the sidecar does not know); the client's object is not mutated", () => {
    const body: JsonObject = { model: 'route', messages: [{ role: 'user', content: 'Hi' }], logprobs: true, seed: 7, user: 'u1' };
    const out = openaiBody(decodeChatRequest(body), 'gpt-4o-mini', plain);
    expect(out).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], logprobs: true, seed: 7, user: 'u1', stream: false });
    expect(body.model).toBe('route');
    expect('stream' in body).toBe(false);
  });

  test('a stream always asks for usage (for metrics), keeping the other stream_options the client set', () => {
    const req = decodeChatRequest({ model: 'route', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_obfuscation: false } });
    expect(openaiBody(req, 'gpt-4o', { ...plain, stream: true }).stream_options).toEqual({ include_obfuscation: false, include_usage: true });
  });

  test('a non-streamed attempt drops stream_options, which OpenAI refuses without stream', () => {
    const req = decodeChatRequest({ model: 'route', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    const out = openaiBody(req, 'gpt-4o', plain);
    expect(out.stream).toBe(false);
    expect('stream_options' in out).toBe(false);
  });
});

describe('same format: the body as text, the client\'s bytes kept', () => {
  /** A request as the HTTP layer hands it over: decoded, with the text it came in. */
  function arrived(text: string): ChatRequest {
    const { body, raw } = parseJsonBody(text);
    return { ...decodeChatRequest(body), raw };
  }
  const prompt = '{ "model": "route",\n  "messages": [{"role": "user", "content": "say \\"model\\": 1"}], "seed": 7 }';

  test('the model and the stream flag are spliced into the text as sent: its spacing and every other member stay byte for byte', () => {
    expect(openaiBodyText(arrived(prompt), 'gpt-4o-mini', plain)).toBe(
      '{ "model": "gpt-4o-mini",\n  "messages": [{"role": "user", "content": "say \\"model\\": 1"}], "seed": 7 ,"stream":false}',
    );
  });

  test('a stream gets stream_options with include_usage appended, or kept when the client already asked for it', () => {
    const streamed = prompt.replace('"seed": 7', '"stream": true');
    expect(openaiBodyText(arrived(streamed), 'm', { ...plain, stream: true })).toBe(streamed.replace('"route"', '"m"').replace(/ }$/, ' ,"stream_options":{"include_usage":true}}'));
    const asked = prompt.replace('"seed": 7', '"stream": true, "stream_options": {"include_usage": true}');
    expect(openaiBodyText(arrived(asked), 'm', { ...plain, stream: true })).toBe(asked.replace('"route"', '"m"'));
  });

  test('whatever the text takes, it parses to exactly the body openaiBody builds (stream_options merged or dropped, prefill, a duplicated model)', () => {
    const cases: [string, boolean, string | undefined][] = [
      [prompt, false, undefined],
      [prompt, true, undefined],
      [prompt.replace('"seed": 7', '"stream": true, "stream_options": {"include_obfuscation": false}'), true, undefined],
      [prompt.replace('"seed": 7', '"stream": true, "stream_options": {"include_usage": true}'), false, undefined],
      [prompt, false, 'Once upon'],
      ['{"model":"other","model":"route","messages":[{"role":"user","content":"Hi"}]}', false, undefined],
    ];
    for (const [text, stream, prefill] of cases) {
      const opts = { ...plain, stream, ...(prefill !== undefined ? { prefill } : {}) };
      const req = arrived(text);
      expect(JSON.parse(openaiBodyText(req, 'target', opts))).toEqual(openaiBody(req, 'target', opts));
    }
  });

  test('a model name given twice never lets the client\'s own value reach the upstream', () => {
    const out = openaiBodyText(arrived('{"model":"gpt-expensive","model":"route","messages":[{"role":"user","content":"Hi"}]}'), 'cheap', plain);
    expect(out).not.toContain('gpt-expensive');
    expect(JSON.parse(out).model).toBe('cheap');
  });

  test('a request that arrived without its text (async, tests) is serialised from the body', () => {
    const req = decodeChatRequest(JSON.parse(prompt) as JsonObject);
    expect(openaiBodyText(req, 'm', plain)).toBe(JSON.stringify(openaiBody(req, 'm', plain)));
  });
});

describe('prefill: continue what the client already received', () => {
  const base = { model: 'route', messages: [{ role: 'user', content: 'Count to five' }] };

  test('a new trailing assistant message carries the delivered text', () => {
    const out = openaiBody(decodeChatRequest(base), 'llama', { ...plain, stream: true, prefill: 'One, two,' });
    expect(out.messages).toEqual([...base.messages, { role: 'assistant', content: 'One, two,' }]);
    expect('continue_final_message' in out).toBe(false);
  });

  test("a client's own trailing assistant text is extended, not duplicated; vLLM gets continue_final_message", () => {
    const body = { model: 'route', messages: [...base.messages, { role: 'assistant', content: 'One,' }] };
    const out = openaiBody(decodeChatRequest(body), 'llama', { ...plain, stream: true, continueFinalMessage: true, prefill: ' two,' });
    expect(out.messages).toEqual([...base.messages, { role: 'assistant', content: 'One, two,' }]);
    expect(out).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
  });

  test('a trailing assistant message with tool calls is left alone; the prefill becomes a new message', () => {
    const call = { role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    const out = openaiBody(decodeChatRequest({ model: 'route', messages: [...base.messages, call] }), 'm', { ...plain, prefill: 'x' });
    expect(out.messages).toEqual([...base.messages, call, { role: 'assistant', content: 'x' }]);
  });
});

describe('another format: built from the neutral prompt', () => {
  test('system, text, image, tool calls and results become Chat Completions messages', () => {
    const out = openaiBody(
      translated({
        system: 'Be brief.',
        untranslatable: [],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'What is in this picture, and the weather?' }, { type: 'image', mediaType: 'image/png', data: 'AAAA' }] },
          { role: 'assistant', content: [{ type: 'tool_call', id: 'toolu_1', name: 'get_weather', arguments: '' }] },
          { role: 'user', content: [{ type: 'tool_result', toolCallId: 'toolu_1', content: '18C' }, { type: 'text', text: 'Thanks' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'A cat; 18C.' }] },
        ],
      }),
      'gpt-4o',
      plain,
    );
    expect(out).toEqual({
      model: 'gpt-4o',
      stream: false,
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture, and the weather?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
        // OpenAI wants null content beside tool calls, and arguments as a JSON object text
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
        { role: 'user', content: 'Thanks' },
        { role: 'assistant', content: 'A cat; 18C.' },
      ],
    });
  });

  test('limits, stop, tools, tool_choice and a JSON schema map to their OpenAI names; the cap is max_completion_tokens, which reasoning models require', () => {
    const out = openaiBody(
      translated({
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
        untranslatable: [],
        maxTokens: 256,
        temperature: 0,
        topP: 0.5,
        stop: ['\n\n'],
        tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } }],
        toolChoice: { type: 'tool', name: 'get_weather' },
        responseFormat: { type: 'json_schema', schema: { type: 'object' } },
      }),
      'gpt-4o',
      { ...plain, stream: true },
    );
    expect(out).toMatchObject({
      max_completion_tokens: 256,
      temperature: 0,
      top_p: 0.5,
      stop: ['\n\n'],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      response_format: { type: 'json_schema', json_schema: { name: 'response', schema: { type: 'object' } } },
      stream: true,
      stream_options: { include_usage: true },
    });
    expect('max_tokens' in out).toBe(false);
    const required = openaiBody(translated({ messages: [], untranslatable: [], toolChoice: { type: 'required' } }), 'm', plain);
    expect(required.tool_choice).toBe('required');
  });

  test('an OpenAI-compatible server gets max_tokens and top_k, which OpenAI itself refuses', () => {
    const compat = { ...plain, dialect: { label: 'OpenAI-compatible', maxTokens: 'max_tokens', topK: true } as const };
    const prompt: ChatPrompt = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], untranslatable: [], maxTokens: 64, topK: 40 };
    expect(openaiBody(translated(prompt), 'llama', compat)).toMatchObject({ max_tokens: 64, top_k: 40 });
    expect(() => openaiBody(translated(prompt), 'gpt-4o', plain)).toThrow('unsupported parameter(s), with no equivalent in the OpenAI format: top_k');
  });

  test('user, seed, penalties, one tool call at most, and a thinking budget as a reasoning effort', () => {
    const prompt: ChatPrompt = {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      untranslatable: [],
      user: 'user-42',
      seed: 7,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      parallelToolCalls: false,
      tools: [{ name: 'f', parameters: { type: 'object' } }],
      reasoning: { budgetTokens: 10000, summary: 'auto' },
    };
    expect(openaiBody(translated(prompt), 'o4-mini', plain)).toMatchObject({
      user: 'user-42',
      seed: 7,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      parallel_tool_calls: false,
      reasoning_effort: 'medium',
    });
    // parallel_tool_calls is refused by OpenAI without tools, so it goes only beside them
    expect('parallel_tool_calls' in openaiBody(translated({ ...prompt, tools: [] }), 'o4-mini', plain)).toBe(false);
    expect(openaiBody(translated({ ...prompt, reasoning: { effort: 'high' } }), 'o4-mini', plain).reasoning_effort).toBe('high');
  });

  test('earlier reasoning has no Chat Completions field and is left out; tool calls keep their ids', () => {
    const prompt: ChatPrompt = {
      untranslatable: [],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
        { role: 'assistant', content: [{ type: 'reasoning', text: 'Use the tool.', origin: 'anthropic', signature: 'EqQB' }, { type: 'tool_call', id: 'toolu_1', name: 'f', arguments: '{}', signature: 'sig' }] },
      ],
    };
    expect(openaiBody(translated(prompt), 'gpt-4o', plain).messages).toEqual([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ]);
  });

  test('a client parameter with no OpenAI meaning is refused as unsupported_parameter, never dropped', () => {
    let err: unknown;
    try {
      openaiBody(translated({ messages: [], untranslatable: ['top_k', 'container'] }), 'gpt-4o', plain);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AirouteError);
    expect((err as AirouteError).code).toBe('unsupported_parameter');
    expect((err as AirouteError).message).toBe('unsupported parameter(s), with no equivalent in the OpenAI format: container, top_k');
  });

  test('a tool call inside a user turn cannot be expressed and is refused', () => {
    const prompt: ChatPrompt = { untranslatable: [], messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'tool_call', id: 'c', name: 'f', arguments: '{}' }] }] };
    expect(() => openaiBody(translated(prompt), 'm', plain)).toThrow('a tool call cannot appear in a user message');
  });
});

describe('file parts as Chat Completions file parts (OpenAI "file inputs")', () => {
  const pdf = Buffer.from('%PDF-1.7 quarterly report').toString('base64');
  const user = (...content: ChatPrompt['messages'][number]['content']): ChatPrompt => ({ untranslatable: [], messages: [{ role: 'user', content }] });

  test('inline bytes go as file_data, a data URL, with the file name (a neutral one of the right extension when the source had none)', () => {
    const out = openaiBody(
      translated(
        user(
          { type: 'file', field: 'messages.0.content.0', filename: 'q3.pdf', mediaType: 'application/pdf', data: pdf },
          { type: 'file', field: 'messages.0.content.1', mediaType: 'application/pdf', data: pdf },
          { type: 'file', field: 'messages.0.content.2', mediaType: 'text/plain', data: 'aGVsbG8=' },
        ),
      ),
      'gpt-4o',
      plain,
    );
    expect(out.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'file', file: { filename: 'q3.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
          { type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
          { type: 'file', file: { filename: 'document.txt', file_data: 'data:text/plain;base64,aGVsbG8=' } },
        ],
      },
    ]);
  });

  test('refused, never dropped: a file by URL (Chat Completions has no file URL), named by the client\'s path', () => {
    const err = failure(() =>
      openaiBody(translated(user({ type: 'file', field: 'messages.0.content.1', url: 'https://files.example/paper.pdf', mediaType: 'application/pdf' })), 'm', {
        ...plain,
        dialect: { label: 'OpenAI-compatible', maxTokens: 'max_tokens', topK: true },
      }),
    );
    expect([err.code, err.status, err.details.param, err.message]).toEqual([
      'unsupported_parameter',
      400,
      'messages.0.content.1',
      'messages.0.content.1: a file by URL (Chat Completions takes file data only) has no equivalent in the OpenAI-compatible format',
    ]);
  });
});
