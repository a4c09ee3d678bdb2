// Azure OpenAI: Chat Completions on the deployment's path with an api-version; the Responses API
// on the v1 surface (`/openai/v1/responses`), where the deployment name is the body's model and no
// api-version is needed. The key goes in `api-key`.
import { openAIFamily, trimSlash, type OpenAIFamilyOptions } from './openai-family.ts';

export const AZURE_API_VERSION = '2024-10-21';

export const AZURE_OPENAI_OPTIONS: OpenAIFamilyOptions = {
  type: 'azure-openai',
  dialect: { label: 'Azure OpenAI', maxTokens: 'max_completion_tokens', topK: false },
  continueFinalMessage: false,
  // The OpenAI organization and project name an api.openai.com account, which means nothing to Azure.
  forwardHeaders: [],
  requestIdHeaders: ['apim-request-id', 'x-request-id'],
  defaultApi: 'both',
  url: (b, deployment, path) =>
    path === 'responses'
      ? `${trimSlash(b.baseURL)}/openai/v1/responses`
      : `${trimSlash(b.baseURL)}/openai/deployments/${encodeURIComponent(deployment)}/${path}?api-version=${encodeURIComponent(b.apiVersion ?? AZURE_API_VERSION)}`,
  auth: (b) => ({ 'api-key': b.apiKey ?? '' }),
};

export const azureOpenAI = openAIFamily(AZURE_OPENAI_OPTIONS);
