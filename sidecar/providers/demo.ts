// The built-in demo model: speaks Chat Completions from inside the process (upstream/demo.ts).
import { openAIFamily } from './openai-family.ts';

export const demo = openAIFamily({
  type: 'demo',
  inProcess: true,
  dialect: { label: 'demo', maxTokens: 'max_tokens', topK: true },
  continueFinalMessage: true,
  forwardHeaders: [],
  requestIdHeaders: [],
  defaultApi: 'chat-completions',
  url: (b, _model, path) => `demo://${b.name}/${path}`,
  auth: () => ({}),
});
