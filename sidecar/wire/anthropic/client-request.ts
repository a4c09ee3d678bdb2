// Anthropic Messages, client request: a client's `POST /v1/messages` body, checked just enough to
// route it (errors in Anthropic's own words), and decoded into the neutral prompt only when the
// backend speaks another format.
import { AirouteError, invalidRequest } from '../../errors.ts';
import type { ChatMessage, ChatPrompt, ChatRequest, FilePart, JsonObject, Part, ReasoningRequest } from '../../chat/types.ts';
import { PDF } from '../file.ts';
import { isObject, num, str } from '../json.ts';
import { isEffort } from '../reasoning.ts';
import { splitSignature } from '../tool-id.ts';
import { DEFAULT_MAX_TOKENS } from './upstream-request.ts';

const anthropicInvalid = (message: string) =>
  new AirouteError('invalid_request', 400, message, { providerFormat: 'anthropic', providerType: 'invalid_request_error' });

export function decodeMessagesRequest(body: JsonObject): ChatRequest {
  if (typeof body.model !== 'string' || body.model === '') throw anthropicInvalid('model: Field required');
  if (!Array.isArray(body.messages)) throw anthropicInvalid('messages: Field required');
  if (body.messages.length === 0) throw anthropicInvalid('messages: at least one message is required');
  if (
    !Number.isInteger(body.max_tokens) ||
    // Stryker disable next-line ConditionalExpression: only narrows the type for the compiler; Number.isInteger has refused every non-number already
    typeof body.max_tokens !== 'number' ||
    body.max_tokens < 1
  )
    throw anthropicInvalid('max_tokens: Field required');
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw anthropicInvalid('stream: Input should be a valid boolean');
  const stream = body.stream === true;
  let prompt: ChatPrompt | undefined;
  return {
    operation: 'chat',
    format: 'anthropic',
    body,
    model: body.model,
    stream,
    includeUsage: true,
    choices: 1,
    prompt: () => (prompt ??= anthropicPrompt(body)),
  };
}

/** Parameters with a meaning in another format, or none needed there (wire/parameters.ts has the table). */
/**
 * `POST /v1/messages/count_tokens`: a Messages body without `max_tokens` (and never streamed),
 * counted by the backend (endpoints/count-tokens.ts).
 */
export function decodeCountTokensRequest(body: JsonObject): ChatRequest {
  if (typeof body.model !== 'string' || body.model === '') throw anthropicInvalid('model: Field required');
  if (!Array.isArray(body.messages)) throw anthropicInvalid('messages: Field required');
  let prompt: ChatPrompt | undefined;
  const counted = (): ChatPrompt => {
    // Nothing is generated: the default cap a Messages request gets would only be noise.
    const { maxTokens: _cap, ...rest } = anthropicPrompt(body);
    return rest;
  };
  return { operation: 'chat', format: 'anthropic', body, model: body.model, stream: false, includeUsage: false, choices: 1, prompt: () => (prompt ??= counted()) };
}

const TRANSLATABLE = new Set([
  'model', 'messages', 'system', 'max_tokens', 'stream', 'stop_sequences', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice',
  'metadata', 'thinking', 'output_config', 'cache_control',
]);

/** Text blocks as one string; separate blocks (system prompts are often several) keep a blank line between them. */
function blockText(content: unknown, where: string, separator = ''): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidRequest(`${where}: must be a string or an array of blocks`);
  return content
    .map((b, i) => {
      if (isObject(b) && b.type === 'text' && typeof b.text === 'string') return b.text;
      throw invalidRequest(`${where}.${i}: only text blocks can be translated here`);
    })
    .join(separator);
}

const SYSTEM_SEPARATOR = '\n\n';

export function anthropicPrompt(body: JsonObject): ChatPrompt {
  const untranslatable = Object.keys(body).filter((k) => !TRANSLATABLE.has(k) && body[k] !== null && body[k] !== undefined);
  const system: string[] = body.system === undefined || body.system === null ? [] : [blockText(body.system, 'system', SYSTEM_SEPARATOR)];
  const messages: ChatMessage[] = [];
  (body.messages as unknown[]).forEach((m, i) => {
    const where = `messages.${i}`;
    if (isObject(m) && m.role === 'system') return void system.push(blockText(m.content, `${where}.content`, SYSTEM_SEPARATOR));
    messages.push(message(m, where));
  });
  const prompt: ChatPrompt = { messages, untranslatable, maxTokens: num(body.max_tokens, DEFAULT_MAX_TOKENS) };
  if (system.length) prompt.system = system.join(SYSTEM_SEPARATOR);
  sampling(body, prompt);
  tooling(body, prompt);
  const reasoning = reasoningRequest(body);
  if (reasoning) prompt.reasoning = reasoning;
  const format = isObject(body.output_config) ? body.output_config.format : undefined;
  if (isObject(format) && format.type === 'json_schema' && isObject(format.schema)) prompt.responseFormat = { type: 'json_schema', schema: format.schema };
  return prompt;
}

function message(m: unknown, where: string): ChatMessage {
  if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant')) throw invalidRequest(`${where}.role: must be "user", "assistant" or "system"`);
  if (typeof m.content === 'string') return { role: m.role, content: [{ type: 'text', text: m.content }] };
  if (!Array.isArray(m.content)) throw invalidRequest(`${where}.content: must be a string or an array of blocks`);
  const parts: Part[] = [];
  m.content.forEach((b, j) => {
    if (!isObject(b)) throw invalidRequest(`${where}.content.${j}: must be an object`);
    switch (b.type) {
      case 'text':
        parts.push({ type: 'text', text: str(b.text) });
        return;
      case 'image': {
        const src = isObject(b.source) ? b.source : {};
        if (src.type === 'base64') parts.push({ type: 'image', mediaType: str(src.media_type), data: str(src.data) });
        else if (src.type === 'url') parts.push({ type: 'image', url: str(src.url) });
        else throw invalidRequest(`${where}.content.${j}.source: cannot be translated for this backend`);
        return;
      }
      case 'document':
        // Other formats take files from the user only.
        if (m.role !== 'user') throw invalidRequest(`${where}.content.${j}: a document in an assistant turn cannot be translated for this backend`);
        parts.push(document(b, `${where}.content.${j}`));
        return;
      case 'tool_use': {
        const { id, signature } = splitSignature(str(b.id));
        parts.push({ type: 'tool_call', id, name: str(b.name), arguments: JSON.stringify(b.input ?? {}), ...(signature ? { signature } : {}) });
        return;
      }
      case 'tool_result': {
        const part: Part = { type: 'tool_result', toolCallId: splitSignature(str(b.tool_use_id)).id, content: b.content === undefined ? '' : blockText(b.content, `${where}.content.${j}.content`) };
        if (b.is_error === true) part.isError = true;
        parts.push(part);
        return;
      }
      // Earlier reasoning, with the proof only Anthropic can check; another provider's encoder keeps at most the text.
      case 'thinking':
        parts.push({ type: 'reasoning', text: str(b.thinking), origin: 'anthropic', ...(typeof b.signature === 'string' && b.signature !== '' ? { signature: b.signature } : {}) });
        return;
      case 'redacted_thinking':
        parts.push({ type: 'reasoning', text: '', origin: 'anthropic', redacted: str(b.data) });
        return;
      default:
        throw invalidRequest(`${where}.content.${j}: block type "${String(b.type)}" cannot be translated for this backend`);
    }
  });
  return { role: m.role, content: parts };
}

/**
 * A `document` block: a PDF (base64 or by URL) or plain text. Its title is the file's name
 * elsewhere. Custom content sources, files uploaded to Anthropic, citations and a document
 * `context` have no counterpart in another format: each is a 400 naming it.
 */
function document(b: JsonObject, field: string): FilePart {
  const src = isObject(b.source) ? b.source : {};
  if (isObject(b.citations) && b.citations.enabled === true) throw invalidRequest(`${field}.citations: citations cannot be translated for this backend`);
  if (b.context !== undefined && b.context !== null) throw invalidRequest(`${field}.context: a document context cannot be translated for this backend`);
  const named = typeof b.title === 'string' && b.title !== '' ? { filename: b.title } : {};
  switch (src.type) {
    case 'base64':
      return { type: 'file', field, ...named, mediaType: str(src.media_type, PDF), data: str(src.data) };
    // The text itself: carried as base64 like any other file's bytes, which is what every other format wants.
    case 'text':
      return { type: 'file', field, ...named, mediaType: 'text/plain', data: Buffer.from(str(src.data), 'utf8').toString('base64') };
    case 'url':
      return { type: 'file', field, ...named, url: str(src.url), mediaType: PDF };
    default:
      throw invalidRequest(`${field}.source: a document source of type "${String(src.type)}" cannot be translated for this backend`);
  }
}

function sampling(body: JsonObject, prompt: ChatPrompt): void {
  if (typeof body.temperature === 'number') prompt.temperature = body.temperature;
  if (typeof body.top_p === 'number') prompt.topP = body.top_p;
  if (typeof body.top_k === 'number') prompt.topK = body.top_k;
  if (Array.isArray(body.stop_sequences)) prompt.stop = body.stop_sequences.filter((s): s is string => typeof s === 'string');
  const user = isObject(body.metadata) ? body.metadata.user_id : undefined;
  if (typeof user === 'string' && user !== '') prompt.user = user;
}

/**
 * `thinking: enabled` asks for a budget, `adaptive` lets the model decide (the effort, if any, is
 * in `output_config.effort`). `disabled` is Anthropic's default and asks for nothing: sent to a
 * backend whose model always reasons, "none" would be refused, so the backend keeps its default.
 */
function reasoningRequest(body: JsonObject): ReasoningRequest | undefined {
  const thinking = isObject(body.thinking) ? body.thinking : undefined;
  const effort = isObject(body.output_config) ? body.output_config.effort : undefined;
  const out: ReasoningRequest = {};
  if (thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number') out.budgetTokens = thinking.budget_tokens;
  if ((thinking?.type === 'enabled' || thinking?.type === 'adaptive') && thinking.display !== 'omitted') out.summary = 'auto';
  if (effort !== undefined && effort !== null) {
    if (!isEffort(effort) || effort === 'none' || effort === 'minimal') throw anthropicInvalid(`output_config.effort: "${String(effort)}" is not one of low, medium, high, xhigh, max`);
    out.effort = effort;
  }
  return Object.keys(out).length ? out : undefined;
}

function tooling(body: JsonObject, prompt: ChatPrompt): void {
  if (Array.isArray(body.tools))
    prompt.tools = body.tools.map((t, i) => {
      if (!isObject(t) || typeof t.name !== 'string' || (t.type !== undefined && t.type !== 'custom'))
        throw invalidRequest(`tools.${i}: only custom tools can be translated for this backend`);
      return {
        name: t.name,
        ...(typeof t.description === 'string' ? { description: t.description } : {}),
        parameters: isObject(t.input_schema) ? t.input_schema : { type: 'object', properties: {} },
      };
    });
  const tc = body.tool_choice;
  if (isObject(tc)) {
    if (tc.type === 'auto' || tc.type === 'none') prompt.toolChoice = { type: tc.type };
    else if (tc.type === 'any') prompt.toolChoice = { type: 'required' };
    else if (tc.type === 'tool' && typeof tc.name === 'string') prompt.toolChoice = { type: 'tool', name: tc.name };
    if (tc.disable_parallel_tool_use === true) prompt.parallelToolCalls = false;
  }
}
