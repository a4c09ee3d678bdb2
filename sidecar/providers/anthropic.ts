// Anthropic Messages. Claude models continue a trailing assistant message (prefill) on the
// Messages API; some newer models refuse it, which the resume stage treats as "restart cleanly".
import { PREFILL_BY_DEFAULT } from '../../api/v1alpha1/constants.ts';
import { AnthropicStreamDecoder, parseAnthropicResult } from '../wire/anthropic/upstream-answer.ts';
import { ANTHROPIC_VERSION, anthropicBodyText } from '../wire/anthropic/upstream-request.ts';
import { forwardedHeaders } from './headers.ts';
import { trimSlash } from './openai-family.ts';
import type { ChatRequest } from '../chat/types.ts';
import { isObject, malformed, parseJson } from '../wire/json.ts';
import type { ProviderAdapter, ResolvedBackend } from './types.ts';
import { upstreamError } from './upstream-error.ts';

export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

function headers(req: ChatRequest, b: ResolvedBackend): Record<string, string> {
  return {
    'content-type': 'application/json',
    'anthropic-version': ANTHROPIC_VERSION,
    ...forwardedHeaders(req.headers, anthropic.forwardHeaders, req.format === 'anthropic'),
    ...b.headers,
    ...(b.apiKey ? { 'x-api-key': b.apiKey } : {}),
  };
}

export const anthropic: ProviderAdapter = {
  type: 'anthropic',
  capabilities: (b) => ({ format: 'anthropic', prefill: b.prefill ?? PREFILL_BY_DEFAULT.anthropic, embeddings: false, multipleChoices: false }),
  // The SDK's API version and beta features (1M context, interleaved thinking, fine-grained tool streaming ...).
  forwardHeaders: ['anthropic-version', 'anthropic-beta'],
  requestIdHeaders: ['request-id'],
  chatRequest(req, b, model, opts) {
    const body = anthropicBodyText(req, model, { stream: opts.stream, ...(opts.prefill !== undefined ? { prefill: opts.prefill } : {}) });
    return { url: `${trimSlash(b.baseURL)}/v1/messages`, method: 'POST', headers: headers(req, b), body };
  },
  streamDecoder: () => new AnthropicStreamDecoder(),
  chatResult: parseAnthropicResult,
  // Only Anthropic clients call count_tokens, so the body goes as the client sent it.
  countTokensRequest: (req, b, model) => ({
    url: `${trimSlash(b.baseURL)}/v1/messages/count_tokens`,
    method: 'POST',
    headers: headers(req, b),
    body: JSON.stringify({ ...req.body, model }),
  }),
  countTokensResult(text) {
    const body: unknown = parseJson(text, 'count_tokens answer');
    if (!isObject(body) || typeof body.input_tokens !== 'number') throw malformed('count_tokens answer');
    return body;
  },
  error: (status, body, h, secrets) => upstreamError(status, body, h, secrets, 'anthropic'),
};
