// OpenAI Chat Completions, client request: a client's `POST /v1/chat/completions` body, checked
// just enough to route it, and decoded into the neutral prompt only when the backend speaks
// another format (same-format traffic forwards the body untouched).
import { AirouteError, invalidRequest } from '../../errors.ts';
import type { ChatMessage, ChatPrompt, ChatRequest, JsonObject, Part, ToolDef } from '../../chat/types.ts';
import { imageOf } from '../data-url.ts';
import { decodeFileData } from '../file.ts';
import { isObject, str } from '../json.ts';
import { isEffort } from '../reasoning.ts';
import { splitSignature } from '../tool-id.ts';

export function decodeChatRequest(body: JsonObject): ChatRequest {
  const model = body.model;
  if (typeof model !== 'string' || model === '')
    throw new AirouteError('invalid_request', 400, 'you must provide a model parameter', { param: 'model' });
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    throw new AirouteError('invalid_request', 400, "Missing required parameter: 'messages'.", {
      param: 'messages',
      providerFormat: 'openai',
      providerCode: 'missing_required_parameter',
    });
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalidRequest("'stream' must be a boolean", 'stream');
  const n = body.n === undefined || body.n === null ? 1 : body.n;
  if (
    !Number.isInteger(n) ||
    // Stryker disable next-line ConditionalExpression: only narrows the type for the compiler; Number.isInteger has refused every non-number already
    typeof n !== 'number' ||
    n < 1 ||
    n > 128
  )
    throw invalidRequest("'n' must be an integer from 1 to 128", 'n');
  const stream = body.stream === true;
  const streamOptions = body.stream_options;
  const includeUsage = stream && isObject(streamOptions) && streamOptions.include_usage === true;
  let prompt: ChatPrompt | undefined;
  return {
    operation: 'chat',
    format: 'openai',
    body,
    model,
    stream,
    includeUsage,
    choices: n,
    prompt: () => (prompt ??= openaiPrompt(body)),
  };
}

/** Parameters with a meaning in another format, or none needed there (wire/parameters.ts has the table). */
const TRANSLATABLE = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'stop', 'tools', 'tool_choice', 'response_format', 'n', 'user', 'safety_identifier', 'parallel_tool_calls', 'seed',
  'presence_penalty', 'frequency_penalty', 'reasoning_effort', 'metadata', 'store', 'prompt_cache_key', 'prompt_cache_retention',
]);

function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content))
    return content
      .map((p, i) => {
        if (isObject(p) && p.type === 'text' && typeof p.text === 'string') return p.text;
        throw invalidRequest(`${where}[${i}]: only text parts can be translated here`, where);
      })
      .join('');
  throw invalidRequest(`${where}: must be a string or an array of parts`, where);
}

function userParts(content: unknown, where: string): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalidRequest(`${where}: must be a string or an array of parts`, where);
  return content.map((p, i): Part => {
    if (!isObject(p)) throw invalidRequest(`${where}[${i}]: must be an object`, where);
    if (p.type === 'text' && typeof p.text === 'string') return { type: 'text', text: p.text };
    if (p.type === 'image_url' && isObject(p.image_url) && typeof p.image_url.url === 'string') {
      return imageOf(p.image_url.url);
    }
    if (p.type === 'file' && isObject(p.file)) return file(p.file, `${where}[${i}]`);
    throw invalidRequest(`${where}[${i}]: part type "${String(p.type)}" cannot be translated for this backend`, where);
  });
}

/** A `file` part: its data translates; a `file_id` names a file uploaded to OpenAI, which no other provider can read. */
function file(f: JsonObject, field: string): Part {
  if (typeof f.file_id === 'string') throw invalidRequest(`${field}: a file by file_id cannot be translated for this backend (the file is kept by OpenAI)`, field);
  if (typeof f.file_data !== 'string') throw invalidRequest(`${field}.file: file_data or file_id is required`, field);
  return decodeFileData(f.file_data, typeof f.filename === 'string' ? f.filename : undefined, field);
}

/** A tool call as the client sent it back: its id without the signature the sidecar put in it (wire/tool-id.ts). */
function toolCall(tc: JsonObject, fn: JsonObject): Part {
  const { id, signature } = splitSignature(str(tc.id));
  // Google's OpenAI-compatible endpoint carries the signature in `extra_content`; clients built for it send it back there.
  const extra = isObject(tc.extra_content) && isObject(tc.extra_content.google) ? tc.extra_content.google.thought_signature : undefined;
  const sig = signature ?? (typeof extra === 'string' && extra !== '' ? extra : undefined);
  return { type: 'tool_call', id, name: str(fn.name), arguments: str(fn.arguments), ...(sig !== undefined ? { signature: sig } : {}) };
}

/** Decodes an OpenAI body into the neutral prompt (only when the backend speaks another format). */
export function openaiPrompt(body: JsonObject): ChatPrompt {
  const untranslatable = Object.keys(body).filter((k) => !TRANSLATABLE.has(k) && body[k] !== null && body[k] !== undefined);
  const system: string[] = [];
  const messages: ChatMessage[] = [];
  const push = (role: ChatMessage['role'], parts: Part[]) => {
    const last = messages[messages.length - 1];
    // Tool results must sit in one user turn right after the assistant's calls.
    if (last && last.role === role && role === 'user' && parts.every((p) => p.type === 'tool_result') && last.content.every((p) => p.type === 'tool_result'))
      last.content.push(...parts);
    else messages.push({ role, content: parts });
  };
  (body.messages as unknown[]).forEach((m, i) => {
    const where = `messages[${i}]`;
    if (!isObject(m)) throw invalidRequest(`${where}: must be an object`, 'messages');
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(textOf(m.content, `${where}.content`));
        return;
      case 'user':
        push('user', userParts(m.content, `${where}.content`));
        return;
      case 'assistant': {
        const parts: Part[] = [];
        // OpenAI-compatible reasoning servers (and the AI SDK) send reasoning text back here; it has no proof to carry.
        if (typeof m.reasoning_content === 'string' && m.reasoning_content !== '') parts.push({ type: 'reasoning', text: m.reasoning_content, origin: 'openai' });
        const text = textOf(m.content, `${where}.content`);
        if (text) parts.push({ type: 'text', text });
        if (Array.isArray(m.tool_calls))
          for (const tc of m.tool_calls) {
            if (!isObject(tc) || !isObject(tc.function)) throw invalidRequest(`${where}.tool_calls: malformed tool call`, 'messages');
            parts.push(toolCall(tc, tc.function));
          }
        push('assistant', parts);
        return;
      }
      case 'tool':
        push('user', [{ type: 'tool_result', toolCallId: splitSignature(str(m.tool_call_id)).id, content: textOf(m.content, `${where}.content`) }]);
        return;
      default:
        throw invalidRequest(`${where}.role: "${String(m.role)}" cannot be translated for this backend`, 'messages');
    }
  });
  const prompt: ChatPrompt = { messages, untranslatable };
  if (system.length) prompt.system = system.join('\n\n');
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') prompt.maxTokens = maxTokens;
  if (typeof body.temperature === 'number') prompt.temperature = body.temperature;
  if (typeof body.top_p === 'number') prompt.topP = body.top_p;
  if (typeof body.seed === 'number') prompt.seed = body.seed;
  if (typeof body.presence_penalty === 'number') prompt.presencePenalty = body.presence_penalty;
  if (typeof body.frequency_penalty === 'number') prompt.frequencyPenalty = body.frequency_penalty;
  const user = body.safety_identifier ?? body.user;
  if (typeof user === 'string' && user !== '') prompt.user = user;
  if (typeof body.parallel_tool_calls === 'boolean') prompt.parallelToolCalls = body.parallel_tool_calls;
  if (body.reasoning_effort !== undefined && body.reasoning_effort !== null) {
    if (!isEffort(body.reasoning_effort)) throw invalidRequest(`reasoning_effort: "${String(body.reasoning_effort)}" is not a reasoning effort`, 'reasoning_effort');
    prompt.reasoning = { effort: body.reasoning_effort };
  }
  if (typeof body.stop === 'string') prompt.stop = [body.stop];
  else if (Array.isArray(body.stop)) prompt.stop = body.stop.filter((s): s is string => typeof s === 'string');
  if (Array.isArray(body.tools))
    prompt.tools = body.tools.map((t, i): ToolDef => {
      if (!isObject(t) || t.type !== 'function' || !isObject(t.function) || typeof t.function.name !== 'string')
        throw invalidRequest(`tools[${i}]: only function tools can be translated`, 'tools');
      const def: ToolDef = { name: t.function.name, parameters: isObject(t.function.parameters) ? t.function.parameters : { type: 'object', properties: {} } };
      if (typeof t.function.description === 'string') def.description = t.function.description;
      return def;
    });
  const tc = body.tool_choice;
  if (tc === 'auto' || tc === 'none' || tc === 'required') prompt.toolChoice = { type: tc };
  else if (isObject(tc) && isObject(tc.function) && typeof tc.function.name === 'string') prompt.toolChoice = { type: 'tool', name: tc.function.name };
  const rf = body.response_format;
  if (isObject(rf)) {
    if (rf.type === 'json_object') prompt.responseFormat = { type: 'json_object' };
    else if (rf.type === 'json_schema' && isObject(rf.json_schema) && isObject(rf.json_schema.schema)) {
      prompt.responseFormat = { type: 'json_schema', schema: rf.json_schema.schema };
      if (typeof rf.json_schema.name === 'string') prompt.responseFormat.name = rf.json_schema.name;
    }
  }
  return prompt;
}
