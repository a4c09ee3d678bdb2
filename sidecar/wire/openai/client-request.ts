// OpenAI Chat Completions, client request: a client's `POST /v1/chat/completions` body, checked
// just enough to route it, and decoded into the neutral prompt only when the backend speaks
// another format (same-format traffic forwards the body untouched).
import { AirouteError, invalidRequest } from '../../errors.ts';
import type { ChatMessage, ChatPrompt, ChatRequest, JsonObject, Part, ToolDef } from '../../chat/types.ts';
import { isObject, str } from '../json.ts';

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
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128) throw invalidRequest("'n' must be an integer from 1 to 128", 'n');
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

const TRANSLATABLE = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'stop', 'tools', 'tool_choice', 'response_format', 'n', 'user', 'parallel_tool_calls', 'metadata', 'store',
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
      const url = p.image_url.url;
      const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
      return m ? { type: 'image', mediaType: m[1], data: m[2] } : { type: 'image', url };
    }
    throw invalidRequest(`${where}[${i}]: part type "${String(p.type)}" cannot be translated for this backend`, where);
  });
}

/** Decodes an OpenAI body into the neutral prompt (only when the backend speaks another format). */
export function openaiPrompt(body: JsonObject): ChatPrompt {
  const untranslatable = Object.keys(body).filter((k) => !TRANSLATABLE.has(k) && body[k] !== null && body[k] !== undefined);
  if (typeof body.n === 'number' && body.n > 1) untranslatable.push('n');
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
        const text = textOf(m.content, `${where}.content`);
        if (text) parts.push({ type: 'text', text });
        if (Array.isArray(m.tool_calls))
          for (const tc of m.tool_calls) {
            if (!isObject(tc) || !isObject(tc.function)) throw invalidRequest(`${where}.tool_calls: malformed tool call`, 'messages');
            parts.push({ type: 'tool_call', id: str(tc.id), name: str(tc.function.name), arguments: str(tc.function.arguments) });
          }
        push('assistant', parts);
        return;
      }
      case 'tool':
        push('user', [{ type: 'tool_result', toolCallId: str(m.tool_call_id), content: textOf(m.content, `${where}.content`) }]);
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
