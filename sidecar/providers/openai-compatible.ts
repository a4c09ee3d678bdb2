// vLLM, SGLang, Ollama, llama.cpp, LiteLLM and other servers that speak Chat Completions. vLLM and
// SGLang continue a trailing assistant message with `continue_final_message`, so prefill is on by
// default; set `prefill: false` on the backend for a server that does not. Many of them serve only
// Chat Completions, so Responses clients are translated to it unless the backend says `api: both`
// (or `responses`) for a server that has `/v1/responses` too.
import { openAIFamily, trimSlash, type OpenAIFamilyOptions } from './openai-family.ts';

export const OPENAI_COMPATIBLE_OPTIONS: OpenAIFamilyOptions = {
  type: 'openai-compatible',
  dialect: { label: 'OpenAI-compatible', maxTokens: 'max_tokens', topK: true },
  continueFinalMessage: true,
  // The OpenAI organization and project name an api.openai.com account: a self-hosted server gets neither.
  forwardHeaders: [],
  // vLLM's server sets X-Request-Id on every answer (vllm/entrypoints/serve/middleware/x_request_id.py).
  requestIdHeaders: ['x-request-id'],
  defaultApi: 'chat-completions',
  url: (b, _model, path) => `${trimSlash(b.baseURL)}/${path}`,
  auth: (b) => ({ authorization: `Bearer ${b.apiKey}` }),
};

export const openaiCompatible = openAIFamily(OPENAI_COMPATIBLE_OPTIONS);
