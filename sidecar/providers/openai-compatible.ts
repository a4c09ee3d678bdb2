// vLLM, SGLang, Ollama, llama.cpp, LiteLLM and other servers that speak Chat Completions. vLLM and
// SGLang continue a trailing assistant message with `continue_final_message`, so prefill is on by
// default; set `prefill: false` on the backend for a server that does not.
import { openAIFamily, trimSlash } from './openai-family.ts';

export const openaiCompatible = openAIFamily({
  type: 'openai-compatible',
  prefillByDefault: true,
  dialect: { label: 'OpenAI-compatible', maxTokens: 'max_tokens', topK: true },
  continueFinalMessage: true,
  url: (b, _model, path) => `${trimSlash(b.baseURL)}/${path}`,
  auth: (b) => ({ authorization: `Bearer ${b.apiKey}` }),
});
