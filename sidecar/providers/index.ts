import type { BackendType, UpstreamApi } from '../../api/v1alpha1/config.ts';
import { anthropic, ANTHROPIC_BASE_URL } from './anthropic.ts';
import { AZURE_OPENAI_OPTIONS, azureOpenAI } from './azure-openai.ts';
import { demo } from './demo.ts';
import { gemini, GEMINI_BASE_URL } from './gemini.ts';
import { openAIFamily, type OpenAIFamilyOptions } from './openai-family.ts';
import { OPENAI_OPTIONS, openai, OPENAI_BASE_URL } from './openai.ts';
import { OPENAI_COMPATIBLE_OPTIONS, openaiCompatible } from './openai-compatible.ts';
import type { ProviderAdapter } from './types.ts';

export const PROVIDERS: Record<BackendType, ProviderAdapter> = {
  openai,
  'openai-compatible': openaiCompatible,
  'azure-openai': azureOpenAI,
  anthropic,
  gemini,
  demo,
};

/** Public endpoints for backends whose config leaves baseURL out. */
export const DEFAULT_BASE_URL: Partial<Record<BackendType, string>> = {
  openai: OPENAI_BASE_URL,
  anthropic: ANTHROPIC_BASE_URL,
  gemini: GEMINI_BASE_URL,
  demo: 'demo://local',
};

/** Backend types whose upstream may serve either OpenAI API (the backend's `api` setting). */
const WITH_API_CHOICE: Partial<Record<BackendType, OpenAIFamilyOptions>> = {
  openai: OPENAI_OPTIONS,
  'azure-openai': AZURE_OPENAI_OPTIONS,
  'openai-compatible': OPENAI_COMPATIBLE_OPTIONS,
};
const variants = new Map<string, ProviderAdapter>();

/** The adapter for a backend: its type's, or, where the backend names another API than the type's default, that variant. */
export function adapterFor(b: { type: BackendType; api?: UpstreamApi | undefined }): ProviderAdapter {
  const options = WITH_API_CHOICE[b.type];
  if (!options || b.api === undefined || b.api === options.defaultApi) return PROVIDERS[b.type];
  const key = `${b.type}/${b.api}`;
  let adapter = variants.get(key);
  if (!adapter) variants.set(key, (adapter = openAIFamily(options, b.api)));
  return adapter;
}
