// Azure OpenAI: the route's model names the deployment, the key goes in `api-key`, and every call
// carries an api-version.
import { openAIFamily, trimSlash } from './openai-family.ts';

export const AZURE_API_VERSION = '2024-10-21';

export const azureOpenAI = openAIFamily({
  type: 'azure-openai',
  prefillByDefault: false,
  dialect: { label: 'Azure OpenAI', maxTokens: 'max_completion_tokens', topK: false },
  continueFinalMessage: false,
  // The OpenAI organization and project name an api.openai.com account, which means nothing to Azure.
  forwardHeaders: [],
  requestIdHeaders: ['apim-request-id', 'x-request-id'],
  url: (b, deployment, path) =>
    `${trimSlash(b.baseURL)}/openai/deployments/${encodeURIComponent(deployment)}/${path}?api-version=${encodeURIComponent(b.apiVersion ?? AZURE_API_VERSION)}`,
  auth: (b) => ({ 'api-key': b.apiKey ?? '' }),
});
