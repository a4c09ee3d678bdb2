// What OpenAI, Azure OpenAI, OpenAI-compatible servers and the demo share: the Chat Completions
// wire format. Each provider file supplies only its URL, auth header and capabilities.
import type { ChatRequest, EmbeddingsRequest, JsonObject, ProxyRequest } from '../chat/types.ts';
import { isObject, malformed, parseJson } from '../wire/json.ts';
import { OpenAIStreamDecoder, parseOpenAIResult } from '../wire/openai/upstream-answer.ts';
import { openaiBody, type OpenAIDialect } from '../wire/openai/upstream-request.ts';
import { forwardedHeaders } from './headers.ts';
import { upstreamError } from './upstream-error.ts';
import type { BuildOptions, ProviderAdapter, ResolvedBackend, UpstreamRequest } from './types.ts';

export interface OpenAIFamilyOptions {
  type: ProviderAdapter['type'];
  inProcess?: boolean;
  prefillByDefault: boolean;
  continueFinalMessage: boolean;
  /** How bodies built by translation are spelled for this server family. */
  dialect: OpenAIDialect;
  /** Client protocol headers this server understands (providers/headers.ts). */
  forwardHeaders: readonly string[];
  /** Where this server puts its request id. */
  requestIdHeaders: readonly string[];
  url(backend: ResolvedBackend, model: string, path: 'chat/completions' | 'embeddings'): string;
  auth(backend: ResolvedBackend): Record<string, string>;
}

export function openAIFamily(o: OpenAIFamilyOptions): ProviderAdapter {
  // Every client of this family speaks Chat Completions (embeddings included), so its protocol headers always apply.
  const headers = (backend: ResolvedBackend, req: ProxyRequest): Record<string, string> => ({
    'content-type': 'application/json',
    ...forwardedHeaders(req.headers, o.forwardHeaders, req.format === 'openai'),
    ...backend.headers,
    ...(backend.apiKey ? o.auth(backend) : {}),
  });
  return {
    type: o.type,
    inProcess: o.inProcess === true,
    capabilities: (backend) => ({ format: 'openai', prefill: backend.prefill ?? o.prefillByDefault, embeddings: true, multipleChoices: true }),
    forwardHeaders: o.forwardHeaders,
    requestIdHeaders: o.requestIdHeaders,
    chatRequest(req: ChatRequest, backend: ResolvedBackend, model: string, opts: BuildOptions): UpstreamRequest {
      const body = openaiBody(req, model, {
        stream: opts.stream,
        continueFinalMessage: o.continueFinalMessage,
        dialect: o.dialect,
        ...(opts.prefill !== undefined ? { prefill: opts.prefill } : {}),
      });
      return { url: o.url(backend, model, 'chat/completions'), method: 'POST', headers: headers(backend, req), body: JSON.stringify(body) };
    },
    streamDecoder: (req) => new OpenAIStreamDecoder(req.choices, true),
    chatResult: parseOpenAIResult,
    embeddingsRequest(req: EmbeddingsRequest, backend: ResolvedBackend, model: string): UpstreamRequest {
      return { url: o.url(backend, model, 'embeddings'), method: 'POST', headers: headers(backend, req), body: JSON.stringify({ ...req.body, model }) };
    },
    embeddingsResult(text: string): JsonObject {
      const body: unknown = parseJson(text, 'embeddings response');
      if (!isObject(body) || !Array.isArray(body.data)) throw malformed('embeddings response');
      return body;
    },
    error: (status, body, h, secrets) => upstreamError(status, body, h, secrets, 'openai'),
  };
}

export const trimSlash = (s: string) => s.replace(/\/+$/, '');
