import { expect, test } from 'vitest';
import type { ChatResult, JsonObject } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import { answerFrom, chatBody, chatRequest, compile, routeOf, targetOf } from '../../test/support/pipeline.ts';
import { decodeEmbeddingsRequest } from '../endpoints/embeddings.ts';
import { completeAnswer, encoderFor, resultBody, resultValue } from './answer-body.ts';
import type { BytesAnswer, JsonAnswer } from './exchange.ts';

const config = compile({
  backends: [
    { name: 'oa', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1' },
    { name: 'an', type: 'anthropic', baseURL: 'http://127.0.0.1:9' },
    { name: 'ge', type: 'gemini', baseURL: 'http://127.0.0.1:9' },
  ],
  routes: [{ model: 'm', backends: [{ backend: 'oa', model: 'up-model' }, { backend: 'an', model: 'up-model' }, { backend: 'ge', model: 'up-model' }] }],
});
const route = routeOf(config, 'm');
const openaiClient = (body: JsonObject = chatBody('m')) => chatRequest(body, 'openai');
const anthropicClient = () => chatRequest(chatBody('m', { format: 'anthropic' }), 'anthropic');

const result: ChatResult = { id: 'res-1', model: 'up-model', choices: [{ index: 0, text: 'Hello!', toolCalls: [], finishReason: 'stop' }], usage: { inputTokens: 3, outputTokens: 2 } };
/** The upstream's own bytes, with spacing and a field no re-encoding would reproduce. */
const RAW = '{"id":"res-1",  "object":"chat.completion","system_fingerprint":"fp_abc","model":"up-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}]}';
const json = (backend: string, extra: Partial<JsonAnswer> = {}): JsonAnswer => ({ ...answerFrom(targetOf(route, backend)), raw: RAW, result, ...extra });

/** What the client is sent, as text. */
const text = (body: string | Uint8Array) => (typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));

test('same format: the client gets the upstream\'s bytes exactly (the very buffer they arrived in, when there is one)', () => {
  expect(resultBody(openaiClient(), json('oa'), 'req-1')).toBe(RAW);
  const bytes = Buffer.from(RAW);
  expect(resultBody(openaiClient(), json('oa', { bytes }), 'req-1')).toBe(bytes);
});

test('another format: encoded from the neutral result in the client\'s own shape', () => {
  const forAnthropic = JSON.parse(text(resultBody(anthropicClient(), json('oa'), 'req-1'))) as JsonObject;
  expect(forAnthropic).toMatchObject({ id: 'res-1', type: 'message', role: 'assistant', model: 'up-model', content: [{ type: 'text', text: 'Hello!' }], stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 2 } });
  const forOpenAI = JSON.parse(text(resultBody(openaiClient(), json('an', { raw: '{"type":"message"}' }), 'req-1'))) as JsonObject;
  expect(forOpenAI).toMatchObject({ id: 'res-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }] });
  expect(forOpenAI).not.toHaveProperty('system_fingerprint');
});

test('a result without an id gets one made from the request id', () => {
  const noId = json('oa', { result: { ...result, id: '' } });
  expect(JSON.parse(text(resultBody(anthropicClient(), noId, 'req-9')))).toMatchObject({ id: 'msg_req-9' });
  expect(JSON.parse(text(resultBody(openaiClient(), json('an', { result: { ...result, id: '' } }), 'req-9')))).toMatchObject({ id: 'chatcmpl-req-9' });
});

test('embeddings are OpenAI-shaped: an OpenAI-format backend\'s bytes pass through, any other backend\'s are serialised', () => {
  const embeddings = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5] }], model: 'e' };
  const raw = '{"object":"list",  "data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"e"}';
  const request = openaiClient();
  expect(resultBody(request, { ...answerFrom(targetOf(route, 'oa')), raw, embeddings }, 'r')).toBe(raw);
  expect(resultBody(request, { ...answerFrom(targetOf(route, 'ge')), raw: '{"embedding":{}}', embeddings }, 'r')).toBe(JSON.stringify(embeddings));
});

test('as a value (async results): the upstream\'s bytes parsed when they are the client\'s format, otherwise the encoded object', () => {
  expect(resultValue(openaiClient(), json('oa'), 'r')).toEqual(JSON.parse(RAW));
  expect(resultValue(anthropicClient(), json('oa'), 'r')).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Hello!' }] });
  const embeddings = { object: 'list', data: [] };
  expect(resultValue(openaiClient(), { ...answerFrom(targetOf(route, 'ge')), raw: '{}', embeddings }, 'r')).toBe(embeddings);
});

test('the stream encoder speaks the client\'s format: OpenAI chunks and [DONE], or Anthropic events and message_stop', () => {
  const openai = encoderFor(openaiClient(chatBody('m', { stream: true })), 'req-1');
  expect(openai.encode([{ type: 'text', choice: 0, text: 'Hi' }])).toMatch(/^data: \{"id":"chatcmpl-req-1","object":"chat\.completion\.chunk"/);
  expect(openai.end()).toBe('data: [DONE]\n\n');
  expect(openai.error(new AirouteError('stream_interrupted', 502, 'cut'))).toBe(`data: ${JSON.stringify({ error: { message: 'cut', type: 'server_error', param: null, code: 'stream_interrupted' } })}\n\n`);

  const anthropic = encoderFor(anthropicClient(), 'req-2');
  const out = anthropic.encode([{ type: 'text', choice: 0, text: 'Hi' }]);
  expect(out).toMatch(/^event: message_start\n/);
  expect(out).toContain('event: content_block_delta');
  expect(anthropic.end()).toContain('event: message_stop');
});

test('the OpenAI encoder sends usage at the end only when the client asked for it (stream_options.include_usage)', () => {
  const usage = [{ type: 'usage' as const, usage: { inputTokens: 3, outputTokens: 2 } }];
  const asked = encoderFor(openaiClient(chatBody('m', { stream: true, includeUsage: true })), 'r');
  asked.encode(usage);
  expect(asked.end()).toMatch(/"usage":\{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5\}[\s\S]*data: \[DONE\]/);
  const notAsked = encoderFor(openaiClient(chatBody('m', { stream: true })), 'r');
  notAsked.encode(usage);
  expect(notAsked.end()).toBe('data: [DONE]\n\n');
});

// ---------------------------------------------------------------- a passed-through answer read whole after all (async results)

const bytesAnswer = (backend: string): BytesAnswer => ({ kind: 'bytes', target: targetOf(route, backend), attempt: 2, head: Buffer.from('{'), rest: (async function* () {})() });

test('a chat answer read whole is parsed as a small one is: the neutral result with the raw text, target and attempt kept', () => {
  const raw = '{"id":"c9","object":"chat.completion","model":"served-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}';
  const got = completeAnswer(openaiClient(), bytesAnswer('oa'), raw);
  expect(got).toMatchObject({ kind: 'json', target: targetOf(route, 'oa'), attempt: 2, raw, result: { id: 'c9', model: 'served-model', choices: [{ text: 'Hi', finishReason: 'stop' }] } });
  expect(got).not.toHaveProperty('embeddings');
});

test('a chat answer read whole without a model name gets the target\'s', () => {
  const raw = '{"id":"c9","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}';
  expect(completeAnswer(openaiClient(), bytesAnswer('oa'), raw).result?.model).toBe('up-model');
});

test('an embeddings answer read whole is embeddings, never parsed as a chat answer', () => {
  const raw = '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,0.5]}],"model":"e"}';
  const got = completeAnswer(decodeEmbeddingsRequest({ model: 'm', input: 'hi' }), bytesAnswer('oa'), raw);
  expect(got).toStrictEqual({ kind: 'json', target: targetOf(route, 'oa'), attempt: 2, raw, embeddings: JSON.parse(raw) });
});
