// Google Gemini (Generative Language API). No assistant prefill; resume uses verify.
import { GeminiStreamDecoder, parseGeminiResult } from '../wire/gemini/upstream-answer.ts';
import { geminiBody } from '../wire/gemini/upstream-request.ts';
import { upstreamError } from './upstream-error.ts';
import { trimSlash } from './openai-family.ts';
import type { ProviderAdapter } from './types.ts';

export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';

export const gemini: ProviderAdapter = {
  type: 'gemini',
  capabilities: (b) => ({ format: 'gemini', prefill: b.prefill ?? false, embeddings: false, multipleChoices: true }),
  // No client speaks Gemini's format, and its answers carry no request-id header.
  forwardHeaders: [],
  requestIdHeaders: [],
  chatRequest(req, b, model, opts) {
    const body = geminiBody(req, opts.prefill !== undefined ? { prefill: opts.prefill } : {});
    const method = opts.stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    return {
      url: `${trimSlash(b.baseURL)}/v1beta/models/${encodeURIComponent(model)}:${method}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...b.headers, ...(b.apiKey ? { 'x-goog-api-key': b.apiKey } : {}) },
      body: JSON.stringify(body),
    };
  },
  streamDecoder: (req) => new GeminiStreamDecoder(req.choices, req.model),
  chatResult: (text) => parseGeminiResult(text, ''),
  error: (status, body, h, secrets) => upstreamError(status, body, h, secrets, 'gemini'),
};
