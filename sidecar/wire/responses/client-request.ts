// OpenAI Responses API, client request: a `POST /v1/responses` body, checked just enough to route
// it (errors in OpenAI's words), and decoded into the neutral prompt only when the backend speaks
// another format. A Responses upstream gets the body itself (upstream-request.ts).
import { AirouteError, invalidRequest } from '../../errors.ts';
import type { ChatMessage, ChatPrompt, ChatRequest, FilePart, JsonObject, Part, ToolDef } from '../../chat/types.ts';
import { imageOf } from '../data-url.ts';
import { decodeFileData, fileByUrl } from '../file.ts';
import { isObject, str } from '../json.ts';
import { isEffort } from '../reasoning.ts';
import { decodeProof } from './shapes.ts';

/** The conversation `previous_response_id` names, as the sidecar stored it. */
export interface PriorResponse {
  id: string;
  /** Every turn up to and including that response, as Responses input items. */
  items: JsonObject[];
  /** The backend that keeps it too (an OpenAI Responses upstream with `store` on): that one is handed the id instead of the items. */
  keptBy?: string;
}

/** What the sidecar stored that a body refers to, loaded before the request runs. */
export interface StoredContext {
  /** The conversation `previous_response_id` names. */
  prior?: PriorResponse;
  /** Output items of responses the sidecar made, by id, that `item_reference` input items name (as input items). */
  references?: ReadonlyMap<string, JsonObject>;
}

export interface ResponsesRequest extends ChatRequest {
  format: 'responses';
  /** `background: true`: the sidecar runs it on its async machinery and streams it from the journal. */
  background: boolean;
  /** Resolved before the request runs, when the body names a `previous_response_id` the sidecar stored. */
  prior?: PriorResponse;
  references?: ReadonlyMap<string, JsonObject>;
  /**
   * Filled as the answer goes out: the final response object its client got, and its output with
   * every reasoning proof, which the sidecar keeps for `previous_response_id` and `GET /v1/responses/{id}`.
   */
  readonly outcome: { response?: JsonObject; output?: unknown[] };
}

export function isResponsesRequest(req: ChatRequest): req is ResponsesRequest {
  return req.format === 'responses';
}

const missing = (param: string) =>
  new AirouteError('invalid_request', 400, `Missing required parameter: '${param}'.`, { param, providerFormat: 'openai', providerCode: 'missing_required_parameter' });

const invalidType = (param: string, what: string) =>
  new AirouteError('invalid_request', 400, `Invalid type for '${param}': expected ${what}.`, { param, providerFormat: 'openai', providerCode: 'invalid_type' });

export function decodeResponsesRequest(body: JsonObject, stored: StoredContext = {}): ResponsesRequest {
  const { prior, references } = stored;
  if (typeof body.model !== 'string' || body.model === '') throw missing('model');
  if (body.input === undefined || body.input === null) throw missing('input');
  if (typeof body.input !== 'string' && !Array.isArray(body.input)) throw invalidType('input', 'a string or an array of input items');
  for (const key of ['stream', 'background', 'store'] as const)
    if (body[key] !== undefined && body[key] !== null && typeof body[key] !== 'boolean') throw invalidType(key, 'a boolean');
  for (const key of ['tools', 'include'] as const)
    if (body[key] !== undefined && body[key] !== null && !Array.isArray(body[key])) throw invalidType(key, 'an array');
  // null (a field left out) passes: typeof null is 'object'.
  for (const key of ['text', 'reasoning', 'metadata'] as const)
    if (body[key] !== undefined && (typeof body[key] !== 'object' || Array.isArray(body[key]))) throw invalidType(key, 'an object');
  const prev = body.previous_response_id;
  if (prev !== undefined && prev !== null && typeof prev !== 'string') throw invalidType('previous_response_id', 'a string');
  const background = body.background === true;
  if (background && body.store === false)
    throw new AirouteError('invalid_request', 400, 'Background mode requires store to be true.', { param: 'background', providerFormat: 'openai', providerCode: 'invalid_value' });
  let prompt: ChatPrompt | undefined;
  return {
    operation: 'chat',
    format: 'responses',
    body,
    model: body.model,
    // A background response streams from its upstream whatever the client asked: its events feed the journal as they come.
    stream: body.stream === true || background,
    includeUsage: true,
    choices: 1,
    background,
    ...(prior ? { prior } : {}),
    ...(references?.size ? { references } : {}),
    outcome: {},
    prompt: () => (prompt ??= responsesPrompt(body, stored)),
  };
}

/** Fields that map onto the neutral prompt, or that mean nothing to the answer (metadata, ids, hints the sidecar handles). */
const TRANSLATABLE = new Set([
  'model', 'input', 'instructions', 'stream', 'stream_options', 'background', 'store', 'metadata', 'user', 'safety_identifier',
  'prompt_cache_key', 'tools', 'tool_choice', 'parallel_tool_calls', 'text', 'reasoning', 'max_output_tokens', 'temperature',
  'top_p', 'include', 'truncation', 'previous_response_id',
]);

/** `include` values that only add output of built-in tools (which translation refuses anyway) or of reasoning (which it keeps). */
const HARMLESS_INCLUDES = new Set([
  'reasoning.encrypted_content', 'web_search_call.results', 'web_search_call.action.sources', 'file_search_call.results',
  'code_interpreter_call.outputs', 'computer_call_output.output.image_url', 'message.input_image.image_url',
]);

/** Decodes a Responses body into the neutral prompt: `instructions` and system turns become the system text, input items the messages. */
export function responsesPrompt(body: JsonObject, stored: StoredContext = {}): ChatPrompt {
  const { prior, references } = stored;
  const untranslatable = Object.keys(body).filter((k) => !TRANSLATABLE.has(k) && body[k] !== null && body[k] !== undefined);
  if (body.previous_response_id && !prior)
    throw new AirouteError('invalid_request', 400, `Previous response with id '${String(body.previous_response_id)}' not found: the sidecar keeps stored responses for its journal retention, and this backend cannot look it up itself.`, {
      param: 'previous_response_id',
      providerFormat: 'openai',
      providerCode: 'previous_response_not_found',
    });
  const system: string[] = [];
  // An empty string is no instructions (not a list of input items, which only OpenAI can take).
  if (typeof body.instructions === 'string') {
    if (body.instructions !== '') system.push(body.instructions);
  } else if (body.instructions !== undefined && body.instructions !== null) untranslatable.push('instructions (as input items)');
  const messages: ChatMessage[] = [];
  const push = (role: ChatMessage['role'], parts: Part[]) => {
    if (parts.length === 0) return;
    const last = messages[messages.length - 1];
    // Items of one turn (an assistant's reasoning, text and calls; a user's tool outputs and text) share one message.
    if (last?.role === role) last.content.push(...parts);
    else messages.push({ role, content: parts });
  };
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : (body.input as unknown[]);
  const items = [...(prior?.items ?? []), ...input];
  items.forEach((given, i) => {
    const where = `input[${i - (prior?.items.length ?? 0)}]`;
    if (!isObject(given)) throw invalidRequest(`${where}: must be an object`, 'input');
    // An item of a response the sidecar made, named by its id (the Vercel AI SDK does this with store on).
    const item =
      given.type === 'item_reference' &&
      // Stryker disable next-line ConditionalExpression: made true, a non-string id is looked up in a map keyed by strings, which finds nothing: the item stays itself (made false, it is killed)
      typeof given.id === 'string'
        ? (references?.get(given.id) ?? given)
        : given;
    const type = item.type ?? 'message';
    switch (type) {
      case 'message': {
        const role = item.role;
        if (role === 'system' || role === 'developer') system.push(textOf(item.content, `${where}.content`));
        else if (role === 'user') push('user', userParts(item.content, `${where}.content`, untranslatable));
        else if (role === 'assistant') push('assistant', assistantParts(item.content, `${where}.content`));
        else throw invalidRequest(`${where}.role: must be one of user, assistant, system, developer`, 'input');
        return;
      }
      case 'function_call':
        push('assistant', [{ type: 'tool_call', id: str(item.call_id), name: str(item.name), arguments: str(item.arguments) }]);
        return;
      case 'function_call_output':
        push('user', [{ type: 'tool_result', toolCallId: str(item.call_id), content: textOf(item.output, `${where}.output`) }]);
        return;
      case 'reasoning': {
        const text = Array.isArray(item.summary) ? item.summary.map((s) => (isObject(s) ? str(s.text) : '')).join('\n\n') : '';
        const proof = typeof item.encrypted_content === 'string' ? decodeProof(item.encrypted_content) : { origin: 'responses' as const };
        push('assistant', [{ type: 'reasoning', text, ...proof, ...(typeof item.id === 'string' ? { id: item.id } : {}) }]);
        return;
      }
      default:
        // item_reference, built-in tool calls and their outputs: only an OpenAI Responses upstream knows them
        untranslatable.push(`${where} (${String(type)})`);
    }
  });
  const prompt: ChatPrompt = { messages, untranslatable };
  if (system.length) prompt.system = system.join('\n\n');
  if (typeof body.max_output_tokens === 'number') prompt.maxTokens = body.max_output_tokens;
  if (typeof body.temperature === 'number') prompt.temperature = body.temperature;
  if (typeof body.top_p === 'number') prompt.topP = body.top_p;
  if (Array.isArray(body.tools) && body.tools.length) prompt.tools = tools(body.tools, untranslatable);
  toolChoice(body.tool_choice, prompt);
  if (typeof body.parallel_tool_calls === 'boolean') prompt.parallelToolCalls = body.parallel_tool_calls;
  const user = body.safety_identifier ?? body.user;
  if (typeof user === 'string') prompt.user = user;
  textFormat(body.text, prompt);
  reasoning(body.reasoning, prompt);
  if (Array.isArray(body.include)) for (const v of body.include) if (!HARMLESS_INCLUDES.has(String(v))) untranslatable.push(`include (${String(v)})`);
  if (body.truncation === 'auto') untranslatable.push('truncation (auto)');
  return prompt;
}

/** System or developer content, or a function call's output: a string, or text parts joined. */
function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidRequest(`${where}: must be a string or an array of content parts`, 'input');
  return content
    .map((p, i) => {
      if (isObject(p) && (p.type === 'input_text' || p.type === 'output_text') && typeof p.text === 'string') return p.text;
      throw invalidRequest(`${where}[${i}]: only text can be translated here`, 'input');
    })
    .join('');
}

function userParts(content: unknown, where: string, untranslatable: string[]): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalidRequest(`${where}: must be a string or an array of content parts`, 'input');
  const parts: Part[] = [];
  content.forEach((p, i) => {
    if (!isObject(p)) throw invalidRequest(`${where}[${i}]: must be an object`, 'input');
    if (p.type === 'input_text' && typeof p.text === 'string') parts.push({ type: 'text', text: p.text });
    else if (p.type === 'input_image' && typeof p.image_url === 'string') parts.push(imageOf(p.image_url));
    else if (p.type === 'input_file') {
      const file = inputFile(p, `${where}[${i}]`, untranslatable);
      if (file) parts.push(file);
    } else untranslatable.push(`${where}[${i}] (${String(p.type)}${p.type === 'input_image' ? ' by file_id' : ''})`);
  });
  return parts;
}

/**
 * An `input_file`: inline data (a base64 data URL, or bare base64) or a URL translate; a `file_id`
 * names a file uploaded to OpenAI, which no other provider can read, and `detail` (how finely
 * OpenAI renders PDF pages) has no counterpart elsewhere.
 */
function inputFile(p: JsonObject, field: string, untranslatable: string[]): FilePart | undefined {
  const filename = typeof p.filename === 'string' ? p.filename : undefined;
  if (p.detail !== undefined && p.detail !== null && p.detail !== 'auto') untranslatable.push(`${field}.detail (${String(p.detail)})`);
  if (typeof p.file_id === 'string') return void untranslatable.push(`${field} (input_file by file_id)`);
  if (typeof p.file_data === 'string') return decodeFileData(p.file_data, filename, field);
  if (typeof p.file_url === 'string') return fileByUrl(p.file_url, filename, field);
  throw invalidRequest(`${field}: an input_file needs file_data, file_url or file_id`, 'input');
}

function assistantParts(content: unknown, where: string): Part[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) throw invalidRequest(`${where}: must be a string or an array of content parts`, 'input');
  return content.flatMap((p, i): Part[] => {
    if (isObject(p) && (p.type === 'output_text' || p.type === 'input_text') && typeof p.text === 'string') return p.text ? [{ type: 'text', text: p.text }] : [];
    if (isObject(p) && p.type === 'refusal' && typeof p.refusal === 'string') return [{ type: 'text', text: p.refusal }];
    throw invalidRequest(`${where}[${i}]: only text can be translated here`, 'input');
  });
}

function tools(list: unknown[], untranslatable: string[]): ToolDef[] {
  const out: ToolDef[] = [];
  list.forEach((t, i) => {
    if (!isObject(t)) throw invalidRequest(`tools[${i}]: must be an object`, 'tools');
    if (t.type !== 'function') {
      // web_search, file_search, code_interpreter, mcp, ...: run by OpenAI's servers, nowhere else
      untranslatable.push(`tools[${i}] (built-in tool ${String(t.type)}, served only by OpenAI Responses backends)`);
      return;
    }
    if (typeof t.name !== 'string') throw invalidRequest(`tools[${i}].name: required`, 'tools');
    out.push({
      name: t.name,
      ...(typeof t.description === 'string' ? { description: t.description } : {}),
      parameters: isObject(t.parameters) ? t.parameters : { type: 'object', properties: {} },
    });
  });
  return out;
}

function toolChoice(tc: unknown, prompt: ChatPrompt): void {
  if (tc === undefined || tc === null) return;
  if (tc === 'auto' || tc === 'none' || tc === 'required') prompt.toolChoice = { type: tc };
  else if (isObject(tc) && tc.type === 'function' && typeof tc.name === 'string') prompt.toolChoice = { type: 'tool', name: tc.name };
  else prompt.untranslatable.push(`tool_choice (${isObject(tc) ? String(tc.type) : String(tc)})`);
}

function textFormat(text: unknown, prompt: ChatPrompt): void {
  if (!isObject(text)) return;
  if (text.verbosity !== undefined && text.verbosity !== null) prompt.untranslatable.push('text.verbosity');
  const f = text.format;
  if (!isObject(f) || f.type === 'text') return;
  if (f.type === 'json_object') prompt.responseFormat = { type: 'json_object' };
  else if (f.type === 'json_schema' && isObject(f.schema))
    prompt.responseFormat = { type: 'json_schema', schema: f.schema, ...(typeof f.name === 'string' ? { name: f.name } : {}) };
  else prompt.untranslatable.push(`text.format (${String(f.type)})`);
}

function reasoning(r: unknown, prompt: ChatPrompt): void {
  if (!isObject(r)) return;
  const req: NonNullable<ChatPrompt['reasoning']> = {};
  if (typeof r.effort === 'string') {
    if (isEffort(r.effort)) req.effort = r.effort;
    else prompt.untranslatable.push(`reasoning.effort (${r.effort})`);
  }
  const summary = r.summary ?? r.generate_summary;
  if (summary === 'auto' || summary === 'concise' || summary === 'detailed') req.summary = summary;
  if (Object.keys(req).length) prompt.reasoning = req;
}
