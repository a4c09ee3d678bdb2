// What OpenAI, Azure OpenAI, OpenAI-compatible servers and the demo share: OpenAI's wire formats,
// Chat Completions and (where the upstream serves it, see `api`) Responses. Each provider file
// supplies only its URL, auth header and capabilities.
import { PREFILL_BY_DEFAULT } from '../../api/v1alpha1/constants.ts';
import type { UpstreamApi } from '../../api/v1alpha1/config.ts';
import type { ChatRequest, EmbeddingsRequest, JsonObject, ProxyRequest } from '../chat/types.ts';
import { isObject, malformed, parseJson } from '../wire/json.ts';
import { OpenAIStreamDecoder, parseOpenAIResult } from '../wire/openai/upstream-answer.ts';
import { modelAndStream, withMembers } from '../wire/raw-json.ts';
import { openaiBodyText, type OpenAIDialect } from '../wire/openai/upstream-request.ts';
import { ResponsesStreamDecoder, parseResponsesResult } from '../wire/responses/upstream-answer.ts';
import { responsesBodyText } from '../wire/responses/upstream-request.ts';
import { forwardedHeaders } from './headers.ts';
import { upstreamError } from './upstream-error.ts';
import type { BuildOptions, ProviderAdapter, ResolvedBackend, UpstreamRequest } from './types.ts';

export type OpenAIPath = 'chat/completions' | 'responses' | 'embeddings';

export interface OpenAIFamilyOptions {
  type: ProviderAdapter['type'];
  inProcess?: boolean;
  continueFinalMessage: boolean;
  /** How bodies built by translation are spelled for this server family. */
  dialect: OpenAIDialect;
  /** Client protocol headers this server understands (providers/headers.ts). */
  forwardHeaders: readonly string[];
  /** Where this server puts its request id. */
  requestIdHeaders: readonly string[];
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
  // Every client of this family speaks one of OpenAI's APIs (embeddings included), so OpenAI's protocol headers apply to both.
  const headers = (backend: ResolvedBackend, req: ProxyRequest): Record<string, string> => ({
    'content-type': 'application/json',
    ...forwardedHeaders(req.headers, o.forwardHeaders, req.format === 'openai' || req.format === 'responses'),
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
      prefill: backend.prefill ?? (api === 'responses' ? false : PREFILL_BY_DEFAULT[o.type]),
      embeddings: true,
      // The Responses API has one output per response.
      multipleChoices: api !== 'responses',
    }),
    forwardHeaders: o.forwardHeaders,
    requestIdHeaders: o.requestIdHeaders,
    chatRequest(req: ChatRequest, backend: ResolvedBackend, model: string, opts: BuildOptions): UpstreamRequest {
      const prefill = opts.prefill !== undefined ? { prefill: opts.prefill } : {};
      if (viaResponses(api, req)) {
        const body = responsesBodyText(req, model, { stream: opts.stream, backend: backend.name, ...prefill });
        return { url: o.url(backend, model, 'responses'), method: 'POST', headers: headers(backend, req), body };
      }
      const body = openaiBodyText(req, model, { stream: opts.stream, continueFinalMessage: o.continueFinalMessage, dialect: o.dialect, ...prefill });
      return { url: o.url(backend, model, 'chat/completions'), method: 'POST', headers: headers(backend, req), body };
    },
    // One adapter per API setting (adapterFor in index.ts), so the decoder knows which API the request went to.
    streamDecoder: (req) => (viaResponses(api, req) ? new ResponsesStreamDecoder() : new OpenAIStreamDecoder(req.choices, true)),
    chatResult: (text, req) => (viaResponses(api, req) ? parseResponsesResult(text) : parseOpenAIResult(text)),
    embeddingsRequest(req: EmbeddingsRequest, backend: ResolvedBackend, model: string): UpstreamRequest {
      return { url: o.url(backend, model, 'embeddings'), method: 'POST', headers: headers(backend, req), body: (req.raw && withMembers(req.raw, modelAndStream(req.body, model))) ?? JSON.stringify({ ...req.body, model }) };
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
