// Anthropic Messages, client request: a client's `POST /v1/messages` body, checked just enough to
// route it (errors in Anthropic's own words), and decoded into the neutral prompt only when the
// backend speaks another format.
import { AirouteError, invalidRequest } from '../../errors.ts';
import type { ChatMessage, ChatPrompt, ChatRequest, JsonObject, Part } from '../../chat/types.ts';
import { isObject, num, str } from '../json.ts';
import { DEFAULT_MAX_TOKENS } from './upstream-request.ts';

const anthropicInvalid = (message: string) =>
  new AirouteError('invalid_request', 400, message, { providerFormat: 'anthropic', providerType: 'invalid_request_error' });

export function decodeMessagesRequest(body: JsonObject): ChatRequest {
  if (typeof body.model !== 'string' || body.model === '') throw anthropicInvalid('model: Field required');
  if (!Array.isArray(body.messages)) throw anthropicInvalid('messages: Field required');
  if (body.messages.length === 0) throw anthropicInvalid('messages: at least one message is required');
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1)
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

const TRANSLATABLE = new Set(['model', 'messages', 'system', 'max_tokens', 'stream', 'stop_sequences', 'temperature', 'top_p', 'tools', 'tool_choice', 'metadata']);

function blockText(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidRequest(`${where}: must be a string or an array of blocks`);
  return content
    .map((b, i) => {
      if (isObject(b) && b.type === 'text' && typeof b.text === 'string') return b.text;
      throw invalidRequest(`${where}[${i}]: only text blocks can be translated here`);
    })
    .join('');
}

export function anthropicPrompt(body: JsonObject): ChatPrompt {
  const untranslatable = Object.keys(body).filter((k) => !TRANSLATABLE.has(k) && body[k] !== null && body[k] !== undefined);
  const messages: ChatMessage[] = (body.messages as unknown[]).map((m, i) => {
    const where = `messages.${i}`;
    if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant')) throw invalidRequest(`${where}.role: must be "user" or "assistant"`);
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
        case 'tool_use':
          parts.push({ type: 'tool_call', id: str(b.id), name: str(b.name), arguments: JSON.stringify(b.input ?? {}) });
          return;
        case 'tool_result': {
          const part: Part = { type: 'tool_result', toolCallId: str(b.tool_use_id), content: b.content === undefined ? '' : blockText(b.content, `${where}.content.${j}.content`) };
          if (b.is_error === true) part.isError = true;
          parts.push(part);
          return;
        }
        case 'thinking':
        case 'redacted_thinking':
          return; // earlier reasoning means nothing to another provider's model
        default:
          throw invalidRequest(`${where}.content.${j}: block type "${String(b.type)}" cannot be translated for this backend`);
      }
    });
    return { role: m.role, content: parts };
  });
  const prompt: ChatPrompt = { messages, untranslatable, maxTokens: num(body.max_tokens, DEFAULT_MAX_TOKENS) };
  if (body.system !== undefined) prompt.system = blockText(body.system, 'system');
  if (typeof body.temperature === 'number') prompt.temperature = body.temperature;
  if (typeof body.top_p === 'number') prompt.topP = body.top_p;
  if (Array.isArray(body.stop_sequences)) prompt.stop = body.stop_sequences.filter((s): s is string => typeof s === 'string');
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
  }
  return prompt;
}
