// api.openai.com. No assistant prefill: OpenAI's chat models answer a trailing assistant message
// instead of continuing it, so resume: prefill falls back to verify here unless overridden.
import { openAIFamily, trimSlash } from './openai-family.ts';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

export const openai = openAIFamily({
  type: 'openai',
  prefillByDefault: false,
  dialect: { label: 'OpenAI', maxTokens: 'max_completion_tokens', topK: false },
  continueFinalMessage: false,
  forwardHeaders: ['openai-organization', 'openai-project', 'openai-beta'],
  requestIdHeaders: ['x-request-id'],
  url: (b, _model, path) => `${trimSlash(b.baseURL)}/${path}`,
  auth: (b) => ({ authorization: `Bearer ${b.apiKey}` }),
});
