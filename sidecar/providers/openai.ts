// api.openai.com. No assistant prefill: OpenAI's chat models answer a trailing assistant message
// instead of continuing it, so resume: prefill falls back to verify here unless overridden.
// OpenAI serves every model on the Responses API and most on Chat Completions too: by default each
// of its clients reaches its own API unchanged (`api: both`); a model that exists only on the
// Responses API needs `api: responses` on its backend, so that Chat Completions and Messages
// clients are translated to it.
import { openAIFamily, trimSlash, type OpenAIFamilyOptions } from './openai-family.ts';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

export const OPENAI_OPTIONS: OpenAIFamilyOptions = {
  type: 'openai',
  dialect: { label: 'OpenAI', maxTokens: 'max_completion_tokens', topK: false },
  continueFinalMessage: false,
  forwardHeaders: ['openai-organization', 'openai-project', 'openai-beta'],
  requestIdHeaders: ['x-request-id'],
  defaultApi: 'both',
  url: (b, _model, path) => `${trimSlash(b.baseURL)}/${path}`,
  auth: (b) => ({ authorization: `Bearer ${b.apiKey}` }),
};

export const openai = openAIFamily(OPENAI_OPTIONS);
