import type { BackendType } from '../../api/v1alpha1/config.ts';
import { anthropic, ANTHROPIC_BASE_URL } from './anthropic.ts';
import { azureOpenAI } from './azure-openai.ts';
import { demo } from './demo.ts';
import { gemini, GEMINI_BASE_URL } from './gemini.ts';
import { openai, OPENAI_BASE_URL } from './openai.ts';
import { openaiCompatible } from './openai-compatible.ts';
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
