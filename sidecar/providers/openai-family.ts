// What OpenAI, Azure OpenAI, OpenAI-compatible servers and the demo share: OpenAI's wire formats,
// Chat Completions and (where the upstream serves it, see `api`) Responses. Each provider file
// supplies only its URL, auth header and capabilities.
import type { UpstreamApi } from '../../api/v1alpha1/config.ts';
import type { ChatRequest, EmbeddingsRequest, JsonObject } from '../chat/types.ts';
import { isObject, malformed, parseJson } from '../wire/json.ts';
import { OpenAIStreamDecoder, parseOpenAIResult } from '../wire/openai/upstream-answer.ts';
import { openaiBody } from '../wire/openai/upstream-request.ts';
import { ResponsesStreamDecoder, parseResponsesResult } from '../wire/responses/upstream-answer.ts';
import { responsesBody } from '../wire/responses/upstream-request.ts';
import { classifyUpstream, providerErrorInfo } from './classify.ts';
import type { BuildOptions, ProviderAdapter, ResolvedBackend, UpstreamRequest } from './types.ts';

export type OpenAIPath = 'chat/completions' | 'responses' | 'embeddings';

export interface OpenAIFamilyOptions {
  type: ProviderAdapter['type'];
  inProcess?: boolean;
  prefillByDefault: boolean;
  continueFinalMessage: boolean;
  /** The API the upstream serves when the backend does not say (`api`). */
  defaultApi: UpstreamApi;
  url(backend: ResolvedBackend, model: string, path: OpenAIPath): string;
  auth(backend: ResolvedBackend): Record<string, string>;
}

/** Whether this request goes to the upstream's Responses API: always on a Responses-only upstream, for Responses clients on one that serves both. */
function viaResponses(api: UpstreamApi, req: ChatRequest): boolean {
  return api === 'responses' || (api === 'both' && req.format === 'responses');
}

/** The adapter for one backend type serving `api` (a backend's `api` setting, or the type's default). */
export function openAIFamily(o: OpenAIFamilyOptions, api: UpstreamApi = o.defaultApi): ProviderAdapter {
  const headers = (backend: ResolvedBackend): Record<string, string> => ({
    'content-type': 'application/json',
    ...backend.headers,
    ...(backend.apiKey ? o.auth(backend) : {}),
  });
  return {
    type: o.type,
    inProcess: o.inProcess === true,
    capabilities: (backend) => ({
      format: api === 'responses' ? 'responses' : 'openai',
      ...(api === 'both' ? { alsoSpeaks: ['responses'] as const } : {}),
      // Nothing says a Responses upstream continues a trailing assistant message (vLLM's continue_final_message
      // is a Chat Completions flag): unless the backend says so, resume verifies there instead.
      prefill: backend.prefill ?? (api === 'responses' ? false : o.prefillByDefault),
      embeddings: true,
      // The Responses API has one output per response.
      multipleChoices: api !== 'responses',
    }),
    chatRequest(req: ChatRequest, backend: ResolvedBackend, model: string, opts: BuildOptions): UpstreamRequest {
      const prefill = opts.prefill !== undefined ? { prefill: opts.prefill } : {};
      if (viaResponses(api, req)) {
        const body = responsesBody(req, model, { stream: opts.stream, backend: backend.name, ...prefill });
        return { url: o.url(backend, model, 'responses'), method: 'POST', headers: headers(backend), body: JSON.stringify(body) };
      }
      const body = openaiBody(req, model, { stream: opts.stream, continueFinalMessage: o.continueFinalMessage, ...prefill });
      return { url: o.url(backend, model, 'chat/completions'), method: 'POST', headers: headers(backend), body: JSON.stringify(body) };
    },
    // One adapter per API setting (adapterFor in index.ts), so the decoder knows which API the request went to.
    streamDecoder: (req) => (viaResponses(api, req) ? new ResponsesStreamDecoder() : new OpenAIStreamDecoder(req.choices, true)),
    chatResult: (text, req) => (viaResponses(api, req) ? parseResponsesResult(text) : parseOpenAIResult(text)),
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
