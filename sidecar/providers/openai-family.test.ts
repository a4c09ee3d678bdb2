import { describe, expect, test } from 'vitest';
import type { ChatRequest } from '../chat/types.ts';
import { decodeMessagesRequest } from '../wire/anthropic/client-request.ts';
import { OpenAIStreamDecoder } from '../wire/openai/upstream-answer.ts';
import { decodeChatRequest } from '../wire/openai/client-request.ts';
import { decodeResponsesRequest } from '../wire/responses/client-request.ts';
import { ResponsesStreamDecoder } from '../wire/responses/upstream-answer.ts';
import { adapterFor } from './index.ts';
import { speaksNatively, type ResolvedBackend } from './types.ts';

const backend = (type: ResolvedBackend['type'], extra: Partial<ResolvedBackend> = {}): ResolvedBackend => ({
  name: 'b',
  type,
  baseURL: 'http://up.example/v1',
  apiKey: 'k',
  headers: {},
  demo: { tokens: 1, tokensPerSecond: 1 },
  ...extra,
});

const CLIENTS: Record<'openai' | 'responses' | 'anthropic', ChatRequest> = {
  openai: decodeChatRequest({ model: 'r', messages: [{ role: 'user', content: 'Hi' }] }),
  responses: decodeResponsesRequest({ model: 'r', input: 'Hi' }),
  anthropic: decodeMessagesRequest({ model: 'r', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }),
};

/** Where each client format's request goes on a backend, and with which decoder its answer is read. */
function routes(type: ResolvedBackend['type'], api?: 'chat-completions' | 'responses' | 'both') {
  const b = backend(type);
  const adapter = adapterFor({ type, api });
  return Object.fromEntries(
    Object.entries(CLIENTS).map(([format, req]) => {
      const path = new URL(adapter.chatRequest(req, b, 'm', { stream: true }).url).pathname;
      const decoder = adapter.streamDecoder(req) instanceof ResponsesStreamDecoder ? 'responses' : adapter.streamDecoder(req) instanceof OpenAIStreamDecoder ? 'chat' : '?';
      return [format, `${path} (${decoder})`];
    }),
  );
}

describe('which OpenAI API a request goes to', () => {
  test('openai, default (both): each OpenAI client reaches its own API; a Messages client goes to Chat Completions', () => {
    expect(routes('openai')).toEqual({ openai: '/v1/chat/completions (chat)', responses: '/v1/responses (responses)', anthropic: '/v1/chat/completions (chat)' });
    const caps = adapterFor({ type: 'openai' }).capabilities(backend('openai'));
    expect([speaksNatively(caps, 'openai'), speaksNatively(caps, 'responses'), speaksNatively(caps, 'anthropic')]).toEqual([true, true, false]);
  });

  test('api: responses: every client goes to /responses (a model served only there), and only Responses clients pass through', () => {
    expect(routes('openai', 'responses')).toEqual({ openai: '/v1/responses (responses)', responses: '/v1/responses (responses)', anthropic: '/v1/responses (responses)' });
    const caps = adapterFor({ type: 'openai', api: 'responses' }).capabilities(backend('openai'));
    expect([speaksNatively(caps, 'openai'), speaksNatively(caps, 'responses')]).toEqual([false, true]);
    expect(caps.multipleChoices).toBe(false);
  });

  test('openai-compatible, default (chat-completions): Responses clients are translated to Chat Completions', () => {
    expect(routes('openai-compatible')).toEqual({ openai: '/v1/chat/completions (chat)', responses: '/v1/chat/completions (chat)', anthropic: '/v1/chat/completions (chat)' });
    expect(speaksNatively(adapterFor({ type: 'openai-compatible' }).capabilities(backend('openai-compatible')), 'responses')).toBe(false);
  });

  test('a Responses upstream is not assumed to continue an assistant prefix: resume verifies there unless the backend says prefill', () => {
    const responses = adapterFor({ type: 'openai-compatible', api: 'responses' });
    expect(responses.capabilities(backend('openai-compatible')).prefill).toBe(false);
    expect(responses.capabilities(backend('openai-compatible', { prefill: true })).prefill).toBe(true);
    expect(adapterFor({ type: 'openai-compatible' }).capabilities(backend('openai-compatible')).prefill).toBe(true);
  });

  test('Azure OpenAI: Chat Completions on the deployment path with api-version, Responses on the v1 surface with the deployment as model', () => {
    const b = backend('azure-openai', { baseURL: 'https://res.openai.azure.com', apiVersion: '2024-10-21' });
    const adapter = adapterFor({ type: 'azure-openai' });
    expect(adapter.chatRequest(CLIENTS.openai, b, 'dep', { stream: false }).url).toBe('https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21');
    const r = adapter.chatRequest(CLIENTS.responses, b, 'dep', { stream: false });
    expect(r.url).toBe('https://res.openai.azure.com/openai/v1/responses');
    expect(JSON.parse(r.body).model).toBe('dep');
    expect(r.headers['api-key']).toBe('k');
  });

  test('a non-streamed answer is read as the API it came from', () => {
    const adapter = adapterFor({ type: 'openai' });
    const fromResponses = adapter.chatResult(JSON.stringify({ id: 'resp_1', object: 'response', model: 'm', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'A' }] }] }), CLIENTS.responses);
    const fromChat = adapter.chatResult(JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, message: { content: 'B' }, finish_reason: 'stop' }] }), CLIENTS.openai);
    expect([fromResponses.choices[0]!.text, fromChat.choices[0]!.text]).toEqual(['A', 'B']);
  });
});
