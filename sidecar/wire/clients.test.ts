import { describe, expect, test } from 'vitest';
import type { ChatResult, EmbeddingsRequest } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import { CLIENT_CODECS } from './clients.ts';

const result: ChatResult = { id: 'up-1', model: 'm', choices: [{ index: 0, text: 'Hi', toolCalls: [], finishReason: 'stop' }], usage: { inputTokens: 3, outputTokens: 1 } };
const rateLimited = new AirouteError('upstream_rate_limited', 429, 'Rate limit reached');

test('every client format has a codec, keyed by the format its requests carry', () => {
  expect(Object.keys(CLIENT_CODECS).sort()).toEqual(['anthropic', 'openai', 'responses']);
  expect(CLIENT_CODECS.openai.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] }).format).toBe('openai');
  expect(CLIENT_CODECS.anthropic.decodeRequest({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }).format).toBe('anthropic');
  expect(CLIENT_CODECS.responses.decodeRequest({ model: 'm', input: 'Hi' }).format).toBe('responses');
});

describe('OpenAI Chat Completions codec', () => {
  const codec = CLIENT_CODECS.openai;

  test('endpoint, result object and error body', () => {
    expect(codec.path).toBe('/v1/chat/completions');
    const request = codec.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] });
    expect(codec.encodeResult(result, 'req1', request)).toMatchObject({ id: 'up-1', object: 'chat.completion', choices: [{ message: { content: 'Hi' }, finish_reason: 'stop' }] });
    expect(codec.errorBody(rateLimited)).toEqual({ error: { message: 'Rate limit reached', type: 'rate_limit_error', param: null, code: 'upstream_rate_limited' } });
  });

  test('the stream encoder sends a usage chunk only to a chat client that asked for it', () => {
    const usage = [{ type: 'usage' as const, usage: { inputTokens: 3, outputTokens: 1 } }];
    const asked = codec.streamEncoder(codec.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } }), 'req1');
    asked.encode(usage);
    expect(asked.end()).toMatch(/^data: \{"id":"chatcmpl-req1".*"usage":\{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4\}\}\n\ndata: \[DONE\]\n\n$/);
    const embeddings: EmbeddingsRequest = { operation: 'embeddings', format: 'openai', body: {}, model: 'e', stream: false };
    const quiet = codec.streamEncoder(embeddings, 'req2');
    quiet.encode(usage);
    expect(quiet.end()).toBe('data: [DONE]\n\n');
  });
});

describe('Anthropic Messages codec', () => {
  const codec = CLIENT_CODECS.anthropic;

  test('endpoint, result object and error body', () => {
    expect(codec.path).toBe('/v1/messages');
    const request = codec.decodeRequest({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] });
    expect(codec.encodeResult(result, 'req1', request)).toMatchObject({ id: 'up-1', type: 'message', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn' });
    expect(codec.errorBody(rateLimited)).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit reached' } });
  });

  test('the stream encoder writes named Anthropic events under the fallback id until the upstream gives one', () => {
    const enc = codec.streamEncoder(codec.decodeRequest({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }], stream: true }), 'req1');
    expect(enc.end()).toMatch(/^event: message_start\ndata: \{"type":"message_start","message":\{"id":"msg_req1"/);
  });
});

describe('OpenAI Responses codec', () => {
  const codec = CLIENT_CODECS.responses;
  const requestId = '0b6c3f52-1a2b-4c3d-8e9f-0123456789ab';

  test('endpoint, result object named after the request, error body in the OpenAI shape', () => {
    expect(codec.path).toBe('/v1/responses');
    const request = codec.decodeRequest({ model: 'm', input: 'Hi', instructions: 'Be brief.' });
    expect(codec.encodeResult(result, requestId, request)).toMatchObject({
      id: 'resp_0b6c3f521a2b4c3d8e9f0123456789ab',
      object: 'response',
      status: 'completed',
      instructions: 'Be brief.',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi' }] }],
      usage: { input_tokens: 3, output_tokens: 1, total_tokens: 4 },
    });
    expect(codec.errorBody(rateLimited)).toEqual({ error: { message: 'Rate limit reached', type: 'rate_limit_error', param: null, code: 'upstream_rate_limited' } });
  });

  test('the stream encoder writes typed events numbered from 0, ending in response.completed', () => {
    const enc = codec.streamEncoder(codec.decodeRequest({ model: 'm', input: 'Hi', stream: true }), requestId);
    const sse = enc.encode([{ type: 'text', choice: 0, text: 'Hi' }]) + enc.end();
    const types = [...sse.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect([...sse.matchAll(/"sequence_number":(\d+)/g)].map((m) => Number(m[1]))).toEqual(types.map((_, i) => i));
  });
});
