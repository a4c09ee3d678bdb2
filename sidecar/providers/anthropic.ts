// Anthropic Messages. Claude models continue a trailing assistant message (prefill) on the
// Messages API; some newer models refuse it, which the resume stage treats as "restart cleanly".
import { AnthropicStreamDecoder, parseAnthropicResult } from '../wire/anthropic/upstream-answer.ts';
import { ANTHROPIC_VERSION, anthropicBody } from '../wire/anthropic/upstream-request.ts';
import { classifyUpstream, providerErrorInfo } from './classify.ts';
import { trimSlash } from './openai-family.ts';
import type { ProviderAdapter } from './types.ts';

export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

export const anthropic: ProviderAdapter = {
  type: 'anthropic',
  capabilities: (b) => ({ format: 'anthropic', prefill: b.prefill ?? true, embeddings: false, multipleChoices: false }),
  chatRequest(req, b, model, opts) {
    const body = anthropicBody(req, model, { stream: opts.stream, ...(opts.prefill !== undefined ? { prefill: opts.prefill } : {}) });
    return {
      url: `${trimSlash(b.baseURL)}/v1/messages`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION, ...b.headers, ...(b.apiKey ? { 'x-api-key': b.apiKey } : {}) },
      body: JSON.stringify(body),
    };
  },
  streamDecoder: () => new AnthropicStreamDecoder(),
  chatResult: parseAnthropicResult,
  error: (status, body, h, secrets) => classifyUpstream(status, h, providerErrorInfo(status, body, secrets), '', 'anthropic'),
};
