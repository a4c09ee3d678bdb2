// What OpenAI, Azure OpenAI, OpenAI-compatible servers and the demo share: the Chat Completions
// wire format. Each provider file supplies only its URL, auth header and capabilities.
import type { ChatRequest, EmbeddingsRequest, JsonObject } from '../chat/types.ts';
import { isObject, malformed, parseJson } from '../wire/json.ts';
import { OpenAIStreamDecoder, parseOpenAIResult } from '../wire/openai/upstream-answer.ts';
import { openaiBody } from '../wire/openai/upstream-request.ts';
import { classifyUpstream, providerErrorInfo } from './classify.ts';
import type { BuildOptions, ProviderAdapter, ResolvedBackend, UpstreamRequest } from './types.ts';

export interface OpenAIFamilyOptions {
  type: ProviderAdapter['type'];
  inProcess?: boolean;
  prefillByDefault: boolean;
  continueFinalMessage: boolean;
  url(backend: ResolvedBackend, model: string, path: 'chat/completions' | 'embeddings'): string;
  auth(backend: ResolvedBackend): Record<string, string>;
}

export function openAIFamily(o: OpenAIFamilyOptions): ProviderAdapter {
  const headers = (backend: ResolvedBackend): Record<string, string> => ({
    'content-type': 'application/json',
    ...backend.headers,
    ...(backend.apiKey ? o.auth(backend) : {}),
  });
  return {
    type: o.type,
    inProcess: o.inProcess === true,
    capabilities: (backend) => ({ format: 'openai', prefill: backend.prefill ?? o.prefillByDefault, embeddings: true, multipleChoices: true }),
    chatRequest(req: ChatRequest, backend: ResolvedBackend, model: string, opts: BuildOptions): UpstreamRequest {
      const body = openaiBody(req, model, { stream: opts.stream, continueFinalMessage: o.continueFinalMessage, ...(opts.prefill !== undefined ? { prefill: opts.prefill } : {}) });
      return { url: o.url(backend, model, 'chat/completions'), method: 'POST', headers: headers(backend), body: JSON.stringify(body) };
    },
    streamDecoder: (req) => new OpenAIStreamDecoder(req.choices, true),
    chatResult: parseOpenAIResult,
    embeddingsRequest(req: EmbeddingsRequest, backend: ResolvedBackend, model: string): UpstreamRequest {
      return { url: o.url(backend, model, 'embeddings'), method: 'POST', headers: headers(backend), body: JSON.stringify({ ...req.body, model }) };
    },
    embeddingsResult(text: string): JsonObject {
      const body: unknown = parseJson(text, 'embeddings response');
      if (!isObject(body) || !Array.isArray(body.data)) throw malformed('embeddings response');
      return body;
    },
    error: (status, body, h, secrets) => classifyUpstream(status, h, providerErrorInfo(status, body, secrets), '', 'openai'),
  };
}

export const trimSlash = (s: string) => s.replace(/\/+$/, '');
