// Google Gemini (Generative Language API). No assistant prefill; resume uses verify.
import { PREFILL_BY_DEFAULT } from '../../api/v1alpha1/constants.ts';
import { GeminiStreamDecoder, parseGeminiResult } from '../wire/gemini/upstream-answer.ts';
import { geminiBody, geminiCountBody } from '../wire/gemini/upstream-request.ts';
import type { JsonObject } from '../chat/types.ts';
import { isObject, malformed, parseJson } from '../wire/json.ts';
import { upstreamError } from './upstream-error.ts';
import { trimSlash } from './openai-family.ts';
import type { ProviderAdapter, ResolvedBackend, UpstreamRequest } from './types.ts';

export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';

function post(b: ResolvedBackend, model: string, method: string, body: JsonObject): UpstreamRequest {
  return {
    url: `${trimSlash(b.baseURL)}/v1beta/models/${encodeURIComponent(model)}:${method}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...b.headers, ...(b.apiKey ? { 'x-goog-api-key': b.apiKey } : {}) },
    body: JSON.stringify(body),
  };
}

export const gemini: ProviderAdapter = {
  type: 'gemini',
  capabilities: (b) => ({ format: 'gemini', prefill: b.prefill ?? PREFILL_BY_DEFAULT.gemini, embeddings: false, multipleChoices: true }),
  // No client speaks Gemini's format, and its answers carry no request-id header.
  forwardHeaders: [],
  requestIdHeaders: [],
  chatRequest(req, b, model, opts) {
    const body = geminiBody(req, opts.prefill !== undefined ? { prefill: opts.prefill } : {});
    return post(b, model, opts.stream ? 'streamGenerateContent?alt=sse' : 'generateContent', body);
  },
  countTokensRequest: (req, b, model) => post(b, model, 'countTokens', geminiCountBody(req, model)),
  countTokensResult(text) {
    const body: unknown = parseJson(text, 'countTokens answer');
    if (!isObject(body) || typeof body.totalTokens !== 'number') throw malformed('countTokens answer');
    return { input_tokens: body.totalTokens };
  },
  streamDecoder: (req) => new GeminiStreamDecoder(req.choices, req.model),
  chatResult: (text) => parseGeminiResult(text, ''),
  error: (status, body, h, secrets) => upstreamError(status, body, h, secrets, 'gemini'),
};
