// The one table of how a client's parameters reach each backend: which field a backend gets, or
// that it has no equivalent and the request is refused with a 400 naming the parameter. The
// encoders in wire/<format>/upstream-request.ts do the work; test/parameters.test.ts runs every
// cell through them and fails where the table and the code disagree, and docs/translation.md
// shows the table as `npm run docs:translation` renders it from here.
import { AirouteError } from '../errors.ts';
import type { ChatPrompt, ChatRequest, ClientFormat, JsonObject } from '../chat/types.ts';

/** Backend types as the table's columns (the demo backend speaks Chat Completions, like openai-compatible). */
export const TABLE_BACKENDS = ['openai', 'azure-openai', 'openai-compatible', 'anthropic', 'gemini'] as const;
export type TableBackend = (typeof TABLE_BACKENDS)[number];

/** What a backend gets: the field it is sent as, `null` (refused with a 400), or left out on purpose, with the reason. */
export type Cell = string | null | { ignored: string };

export type NeutralParameter = keyof ChatPrompt | 'choices' | 'includeUsage';

export interface ParameterRow {
  /** The neutral prompt's name for it (chat/types.ts); a parameter only one format knows has none. */
  neutral?: NeutralParameter;
  /** The parameter in each client format; a format that has no such parameter is left out. */
  client: Partial<Record<ClientFormat, string[]>>;
  backend: Record<TableBackend, Cell>;
  note?: string;
}

const CACHE_BY_ITSELF = { ignored: 'a cache hint; caches by itself' };
const OPENAI_STORAGE = { ignored: "OpenAI's own storage and cache" };

export const PARAMETERS: readonly ParameterRow[] = [
  {
    neutral: 'system',
    client: { openai: ['messages[].role: system / developer'], anthropic: ['system', 'messages[].role: system'] },
    backend: { openai: 'messages[].role: system', 'azure-openai': 'messages[].role: system', 'openai-compatible': 'messages[].role: system', anthropic: 'system', gemini: 'systemInstruction' },
    note: 'several system messages or blocks are joined with a blank line',
  },
  {
    client: { openai: ['messages[].content[].type: file'], anthropic: ['messages[].content[].type: document'] },
    backend: {
      openai: 'messages[].content[].type: file',
      'azure-openai': 'messages[].content[].type: file',
      'openai-compatible': 'messages[].content[].type: file',
      anthropic: 'messages[].content[].type: document',
      gemini: 'contents[].parts[].inlineData',
    },
    note:
      "base64 file data (a data URL with a file name toward OpenAI) or a URL (Gemini fileData.fileUri, Anthropic's url source; 400 toward Chat Completions); Anthropic takes PDF and text files only; a file_id, Anthropic citations, context and content sources are a 400; the Responses API's input_file maps the same way",
  },
  {
    neutral: 'maxTokens',
    client: { openai: ['max_completion_tokens', 'max_tokens'], anthropic: ['max_tokens'] },
    backend: { openai: 'max_completion_tokens', 'azure-openai': 'max_completion_tokens', 'openai-compatible': 'max_tokens', anthropic: 'max_tokens', gemini: 'generationConfig.maxOutputTokens' },
    note: 'OpenAI reasoning models refuse max_tokens; Anthropic requires a value (4096 when the client gave none, plus the thinking budget)',
  },
  {
    neutral: 'temperature',
    client: { openai: ['temperature'], anthropic: ['temperature'] },
    backend: { openai: 'temperature', 'azure-openai': 'temperature', 'openai-compatible': 'temperature', anthropic: 'temperature', gemini: 'generationConfig.temperature' },
  },
  {
    neutral: 'topP',
    client: { openai: ['top_p'], anthropic: ['top_p'] },
    backend: { openai: 'top_p', 'azure-openai': 'top_p', 'openai-compatible': 'top_p', anthropic: 'top_p', gemini: 'generationConfig.topP' },
  },
  {
    neutral: 'topK',
    client: { anthropic: ['top_k'] },
    backend: { openai: null, 'azure-openai': null, 'openai-compatible': 'top_k', anthropic: 'top_k', gemini: 'generationConfig.topK' },
    note: "vLLM, SGLang and llama.cpp accept top_k beside the OpenAI parameters (Ollama's OpenAI endpoint ignores it)",
  },
  {
    neutral: 'stop',
    client: { openai: ['stop'], anthropic: ['stop_sequences'] },
    backend: { openai: 'stop', 'azure-openai': 'stop', 'openai-compatible': 'stop', anthropic: 'stop_sequences', gemini: 'generationConfig.stopSequences' },
  },
  {
    neutral: 'choices',
    client: { openai: ['n'] },
    backend: { openai: 'n', 'azure-openai': 'n', 'openai-compatible': 'n', anthropic: null, gemini: 'generationConfig.candidateCount' },
    note: 'refused only above 1',
  },
  {
    neutral: 'seed',
    client: { openai: ['seed'] },
    backend: { openai: 'seed', 'azure-openai': 'seed', 'openai-compatible': 'seed', anthropic: null, gemini: 'generationConfig.seed' },
  },
  {
    neutral: 'presencePenalty',
    client: { openai: ['presence_penalty'] },
    backend: { openai: 'presence_penalty', 'azure-openai': 'presence_penalty', 'openai-compatible': 'presence_penalty', anthropic: null, gemini: 'generationConfig.presencePenalty' },
  },
  {
    neutral: 'frequencyPenalty',
    client: { openai: ['frequency_penalty'] },
    backend: { openai: 'frequency_penalty', 'azure-openai': 'frequency_penalty', 'openai-compatible': 'frequency_penalty', anthropic: null, gemini: 'generationConfig.frequencyPenalty' },
  },
  {
    neutral: 'tools',
    client: { openai: ['tools'], anthropic: ['tools'] },
    backend: { openai: 'tools', 'azure-openai': 'tools', 'openai-compatible': 'tools', anthropic: 'tools', gemini: 'tools[].functionDeclarations' },
    note: 'function tools only; provider-hosted tools (web search, code execution, ...) are refused',
  },
  {
    neutral: 'toolChoice',
    client: { openai: ['tool_choice'], anthropic: ['tool_choice'] },
    backend: { openai: 'tool_choice', 'azure-openai': 'tool_choice', 'openai-compatible': 'tool_choice', anthropic: 'tool_choice', gemini: 'toolConfig.functionCallingConfig' },
    note: 'auto, none, required (Anthropic any, Gemini ANY), or one named function',
  },
  {
    neutral: 'parallelToolCalls',
    client: { openai: ['parallel_tool_calls'], anthropic: ['tool_choice.disable_parallel_tool_use'] },
    backend: { openai: 'parallel_tool_calls', 'azure-openai': 'parallel_tool_calls', 'openai-compatible': 'parallel_tool_calls', anthropic: 'tool_choice.disable_parallel_tool_use', gemini: null },
    note: 'only "one call at most" is refused on Gemini; parallel calls are every backend\'s default',
  },
  {
    neutral: 'responseFormat',
    client: { openai: ['response_format'], anthropic: ['output_config.format'] },
    backend: { openai: 'response_format', 'azure-openai': 'response_format', 'openai-compatible': 'response_format', anthropic: 'output_config.format', gemini: 'generationConfig.responseJsonSchema' },
    note: 'json_schema everywhere; json_object (any JSON) has no Anthropic equivalent and is refused there, Gemini gets responseMimeType only',
  },
  {
    neutral: 'reasoning',
    client: { openai: ['reasoning_effort'], anthropic: ['thinking', 'output_config.effort'] },
    backend: { openai: 'reasoning_effort', 'azure-openai': 'reasoning_effort', 'openai-compatible': 'reasoning_effort', anthropic: 'thinking', gemini: 'generationConfig.thinkingConfig' },
    note: 'see "Reasoning" for how efforts and token budgets convert',
  },
  {
    neutral: 'user',
    client: { openai: ['user', 'safety_identifier'], anthropic: ['metadata.user_id'] },
    backend: { openai: 'user', 'azure-openai': 'user', 'openai-compatible': 'user', anthropic: 'metadata.user_id', gemini: null },
  },
  {
    neutral: 'includeUsage',
    client: { openai: ['stream_options.include_usage'] },
    backend: { openai: 'stream_options.include_usage', 'azure-openai': 'stream_options.include_usage', 'openai-compatible': 'stream_options.include_usage', anthropic: { ignored: 'always reports usage' }, gemini: { ignored: 'always reports usage' } },
    note: 'the sidecar always asks an OpenAI-format backend for usage (for metrics and events) and drops the usage chunk for a client that did not ask',
  },
  {
    client: { openai: ['store', 'metadata', 'prompt_cache_key', 'prompt_cache_retention'] },
    backend: { openai: 'as sent', 'azure-openai': 'as sent', 'openai-compatible': 'as sent', anthropic: OPENAI_STORAGE, gemini: OPENAI_STORAGE },
  },
  {
    client: { anthropic: ['cache_control'] },
    backend: { openai: CACHE_BY_ITSELF, 'azure-openai': CACHE_BY_ITSELF, 'openai-compatible': CACHE_BY_ITSELF, anthropic: 'cache_control', gemini: CACHE_BY_ITSELF },
    note: 'cache_control on content blocks is left out the same way',
  },
  {
    client: { openai: ['logprobs', 'top_logprobs', 'logit_bias', 'modalities', 'audio', 'prediction', 'web_search_options', 'service_tier', 'verbosity', 'functions', 'function_call'] },
    backend: { openai: 'as sent', 'azure-openai': 'as sent', 'openai-compatible': 'as sent', anthropic: null, gemini: null },
  },
  {
    client: { anthropic: ['container', 'mcp_servers', 'service_tier', 'context_management', 'inference_geo', 'speed'] },
    backend: { openai: null, 'azure-openai': null, 'openai-compatible': null, anthropic: 'as sent', gemini: null },
  },
];

/** The name the client used for a neutral parameter (the first the table lists, if its body holds none of them). */
export function clientParam(req: ChatRequest, neutral: NeutralParameter): string {
  const names = PARAMETERS.find((r) => r.neutral === neutral)?.client[req.format] ?? [];
  return names.find((n) => isSet(req.body, n)) ?? names[0] ?? neutral;
}

function isSet(body: JsonObject, name: string): boolean {
  let v: unknown = body;
  for (const key of name.split('.')) v = typeof v === 'object' && v !== null ? (v as JsonObject)[key] : undefined;
  return v !== undefined && v !== null;
}

/**
 * Refuses, in one 400, what a backend cannot express: the neutral parameters named (as the
 * client spelled them) and every client parameter no other format knows.
 */
export function refuseParameters(req: ChatRequest, neutral: readonly NeutralParameter[], backendKind: string): void {
  const names = [...new Set([...neutral.map((n) => clientParam(req, n)), ...req.prompt().untranslatable])].sort();
  if (names.length === 0) return;
  throw new AirouteError('unsupported_parameter', 400, `unsupported parameter(s), with no equivalent in the ${backendKind} format: ${names.join(', ')}`, {
    param: names[0] ?? null,
  });
}
