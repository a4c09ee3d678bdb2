// Google Gemini (Generative Language API). No assistant prefill; resume uses verify.
import { GeminiStreamDecoder, parseGeminiResult } from '../wire/gemini/upstream-answer.ts';
import { geminiBody } from '../wire/gemini/upstream-request.ts';
import { classifyUpstream, providerErrorInfo } from './classify.ts';
import { trimSlash } from './openai-family.ts';
import type { ProviderAdapter } from './types.ts';

export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';

export const gemini: ProviderAdapter = {
  type: 'gemini',
  capabilities: (b) => ({ format: 'gemini', prefill: b.prefill ?? false, embeddings: false, multipleChoices: true }),
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
  error: (status, body, h, secrets) => classifyUpstream(status, h, providerErrorInfo(status, body, secrets), '', 'gemini'),
};
