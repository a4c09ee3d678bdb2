// OpenAI Chat Completions, both directions: decoding a client's request and encoding what it
// gets back; building an upstream request and decoding the upstream's answer. Pure functions and
// small per-stream state machines; no I/O.
import { AirouteError, invalidRequest, refuseUntranslatable } from '../errors.ts';
import type {
  ChatMessage,
  ChatPrompt,
  ChatRequest,
  ChatResult,
  FinishReason,
  Frame,
  JsonObject,
  Part,
  StreamEvent,
  ToolChoice,
  ToolDef,
  Usage,
} from '../chat/types.ts';
import { mergeUsage } from '../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from './json.ts';
import { inStreamError } from './stream-error.ts';
import type { SseEvent, StreamDecoder, StreamEncoder } from './types.ts';

// ---------------------------------------------------------------- client request

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

// ---------------------------------------------------------------- upstream request

export interface OpenAIBodyOptions {
  stream: boolean;
  prefill?: string;
  /** vLLM/SGLang spelling for "continue the trailing assistant message". */
  continueFinalMessage: boolean;
}

function withPrefill(messages: unknown[], prefill: string): unknown[] {
  const last = messages[messages.length - 1];
  if (isObject(last) && last.role === 'assistant' && typeof last.content === 'string' && !Array.isArray(last.tool_calls))
    return [...messages.slice(0, -1), { ...last, content: last.content + prefill }];
  return [...messages, { role: 'assistant', content: prefill }];
}

export function openaiBody(req: ChatRequest, model: string, opts: OpenAIBodyOptions): JsonObject {
  const body: JsonObject = req.format === 'openai' ? { ...req.body, model } : promptToOpenAI(req.prompt(), model);
  body.stream = opts.stream;
  if (opts.stream) {
    // Always ask for usage so metrics and events see tokens; the encoder drops the chunk for a client that did not ask.
    body.stream_options = { ...(isObject(req.body.stream_options) ? req.body.stream_options : {}), include_usage: true };
  } else delete body.stream_options;
  if (opts.prefill !== undefined) {
    body.messages = withPrefill(body.messages as unknown[], opts.prefill);
    if (opts.continueFinalMessage) {
      body.continue_final_message = true;
      body.add_generation_prompt = false;
    }
  }
  return body;
}

function promptToOpenAI(p: ChatPrompt, model: string): JsonObject {
  refuseUntranslatable(p.untranslatable, 'OpenAI-format');
  const messages: JsonObject[] = [];
  if (p.system !== undefined) messages.push({ role: 'system', content: p.system });
  for (const m of p.messages) {
    if (m.role === 'assistant') {
      const text = m.content.filter((x) => x.type === 'text').map((x) => (x as { text: string }).text).join('');
      const calls = m.content.filter((x) => x.type === 'tool_call');
      const msg: JsonObject = { role: 'assistant', content: text || (calls.length ? null : '') };
      if (calls.length)
        msg.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } }));
      messages.push(msg);
      continue;
    }
    for (const part of m.content)
      if (part.type === 'tool_result') messages.push({ role: 'tool', tool_call_id: part.toolCallId, content: part.content });
    const rest = m.content.filter((x) => x.type !== 'tool_result');
    if (rest.length === 0) continue;
    if (rest.length === 1 && rest[0]?.type === 'text') messages.push({ role: 'user', content: rest[0].text });
    else
      messages.push({
        role: 'user',
        content: rest.map((x) => {
          if (x.type === 'text') return { type: 'text', text: x.text };
          if (x.type === 'image') return { type: 'image_url', image_url: { url: x.url ?? `data:${x.mediaType};base64,${x.data}` } };
          throw invalidRequest('a tool call cannot appear in a user message', 'messages');
        }),
      });
  }
  const body: JsonObject = { model, messages };
  if (p.maxTokens !== undefined) body.max_tokens = p.maxTokens;
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  if (p.stop?.length) body.stop = p.stop;
  if (p.tools?.length)
    body.tools = p.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
  if (p.toolChoice) body.tool_choice = toolChoiceToOpenAI(p.toolChoice);
  if (p.responseFormat?.type === 'json_object') body.response_format = { type: 'json_object' };
  else if (p.responseFormat?.type === 'json_schema')
    body.response_format = { type: 'json_schema', json_schema: { name: p.responseFormat.name ?? 'response', schema: p.responseFormat.schema } };
  return body;
}

function toolChoiceToOpenAI(c: ToolChoice): unknown {
  return c.type === 'tool' ? { type: 'function', function: { name: c.name } } : c.type;
}

// ---------------------------------------------------------------- upstream answer

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

export function finishFromOpenAI(reason: unknown): FinishReason {
  return (typeof reason === 'string' && FINISH[reason]) || 'stop';
}

export function usageFromOpenAI(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = { inputTokens: num(u.prompt_tokens), outputTokens: num(u.completion_tokens) };
  const details = u.prompt_tokens_details;
  if (isObject(details) && typeof details.cached_tokens === 'number') usage.cacheReadTokens = details.cached_tokens;
  return usage;
}

export class OpenAIStreamDecoder implements StreamDecoder {
  complete = false;
  finished = false;
  private started = false;
  private finishes = 0;
  private usageSeen = false;
  private readonly choices: number;
  private readonly expectUsage: boolean;

  constructor(choices: number, expectUsage: boolean) {
    this.choices = choices;
    this.expectUsage = expectUsage;
  }

  decode(ev: SseEvent): Frame | null {
    if (ev.data === '[DONE]') {
      this.complete = true;
      return null;
    }
    const chunk: unknown = parseJson(ev.data, 'stream chunk');
    if (!isObject(chunk)) throw malformed('stream chunk');
    if (chunk.error !== undefined) throw inStreamError(chunk.error, 'openai');
    const events: StreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      events.push({ type: 'start', id: str(chunk.id), model: str(chunk.model) });
    }
    const choices = chunk.choices;
    if (choices !== undefined && !Array.isArray(choices)) throw malformed('stream chunk');
    if (choices)
      for (const c of choices) {
        if (!isObject(c)) throw malformed('stream chunk');
        const choice = typeof c.index === 'number' ? c.index : 0;
        const d = isObject(c.delta) ? c.delta : {};
        if (typeof d.content === 'string' && d.content !== '') events.push({ type: 'text', choice, text: d.content });
        if (Array.isArray(d.tool_calls))
          for (const tc of d.tool_calls) {
            if (!isObject(tc)) throw malformed('tool call delta');
            const index = typeof tc.index === 'number' ? tc.index : 0;
            const fn = isObject(tc.function) ? tc.function : {};
            if (typeof tc.id === 'string' || typeof fn.name === 'string')
              events.push({ type: 'tool_start', choice, index, id: str(tc.id), name: str(fn.name) });
            if (typeof fn.arguments === 'string' && fn.arguments !== '') events.push({ type: 'tool_args', choice, index, args: fn.arguments });
          }
        if (c.finish_reason !== null && c.finish_reason !== undefined) {
          this.finishes++;
          events.push({ type: 'finish', choice, reason: finishFromOpenAI(c.finish_reason) });
        }
      }
    const usage = usageFromOpenAI(chunk.usage);
    if (usage) {
      this.usageSeen = true;
      events.push({ type: 'usage', usage });
    }
    this.finished = this.finishes >= this.choices;
    if (this.finished && (this.usageSeen || !this.expectUsage)) this.complete = true;
    return { events, raw: ev };
  }
}

export function parseOpenAIResult(text: string): ChatResult {
  const body: unknown = parseJson(text, 'response body');
  if (!isObject(body) || !Array.isArray(body.choices)) throw malformed('response body');
  const result: ChatResult = {
    id: str(body.id),
    model: str(body.model),
    choices: body.choices.map((c, i) => {
      const choice = isObject(c) ? c : {};
      const msg = isObject(choice.message) ? choice.message : {};
      return {
        index: typeof choice.index === 'number' ? choice.index : i,
        text: typeof msg.content === 'string' ? msg.content : '',
        toolCalls: Array.isArray(msg.tool_calls)
          ? msg.tool_calls.filter(isObject).map((tc) => {
              const fn = isObject(tc.function) ? tc.function : {};
              return { id: str(tc.id), name: str(fn.name), arguments: str(fn.arguments) };
            })
          : [],
        finishReason: choice.finish_reason == null ? null : finishFromOpenAI(choice.finish_reason),
      };
    }),
  };
  const usage = usageFromOpenAI(body.usage);
  if (usage) result.usage = usage;
  return result;
}

// ---------------------------------------------------------------- client answer

function openaiUsage(u: Usage): JsonObject {
  const out: JsonObject = { prompt_tokens: u.inputTokens, completion_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens };
  if (u.cacheReadTokens !== undefined) out.prompt_tokens_details = { cached_tokens: u.cacheReadTokens };
  return out;
}

export function encodeOpenAIResult(r: ChatResult, fallbackId: string): JsonObject {
  return {
    id: r.id || `chatcmpl-${fallbackId}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model,
    choices: r.choices.map((c) => ({
      index: c.index,
      message: {
        role: 'assistant',
        content: c.text === '' && c.toolCalls.length ? null : c.text,
        refusal: null,
        ...(c.toolCalls.length
          ? { tool_calls: c.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })) }
          : {}),
      },
      logprobs: null,
      finish_reason: c.finishReason ?? 'stop',
    })),
    ...(r.usage ? { usage: openaiUsage(r.usage) } : {}),
  };
}

export class OpenAIStreamEncoder implements StreamEncoder {
  private id: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private model = '';
  private started = false;
  private readonly roleSent = new Set<number>();
  private usage: Usage | undefined;
  private usageSent = false;
  private readonly includeUsage: boolean;

  constructor(includeUsage: boolean, fallbackId: string) {
    this.includeUsage = includeUsage;
    this.id = `chatcmpl-${fallbackId}`;
  }

  private observe(events: readonly StreamEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'start') {
        if (!this.started && ev.id) this.id = ev.id;
        this.started = true;
        this.model = ev.model || this.model;
        if (ev.usage) this.usage = mergeUsage(this.usage, ev.usage);
      } else if (ev.type === 'usage') this.usage = mergeUsage(this.usage, ev.usage);
      else if (ev.type === 'text' || ev.type === 'tool_start') this.roleSent.add(ev.choice);
    }
  }

  passthrough(frame: Frame): string | undefined {
    if (!frame.raw) return undefined;
    const hasUsage = frame.events.some((e) => e.type === 'usage');
    // A usage chunk the client did not ask for is dropped; one it asked for is sent once.
    if (hasUsage && (!this.includeUsage || this.usageSent)) return undefined;
    this.observe(frame.events);
    if (hasUsage) this.usageSent = true;
    return `data: ${frame.raw.data}\n\n`;
  }

  private chunk(choices: unknown[], usage?: JsonObject): string {
    const c: JsonObject = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices };
    if (usage) c.usage = usage;
    return `data: ${JSON.stringify(c)}\n\n`;
  }

  encode(events: readonly StreamEvent[]): string {
    let out = '';
    for (const ev of events) {
      switch (ev.type) {
        case 'start':
        case 'usage':
          this.observe([ev]);
          break;
        case 'text': {
          const delta: JsonObject = this.roleSent.has(ev.choice) ? { content: ev.text } : { role: 'assistant', content: ev.text };
          this.roleSent.add(ev.choice);
          out += this.chunk([{ index: ev.choice, delta, logprobs: null, finish_reason: null }]);
          break;
        }
        case 'tool_start': {
          const delta: JsonObject = {
            tool_calls: [{ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: '' } }],
          };
          if (!this.roleSent.has(ev.choice)) delta.role = 'assistant';
          this.roleSent.add(ev.choice);
          out += this.chunk([{ index: ev.choice, delta, logprobs: null, finish_reason: null }]);
          break;
        }
        case 'tool_args':
          out += this.chunk([{ index: ev.choice, delta: { tool_calls: [{ index: ev.index, function: { arguments: ev.args } }] }, logprobs: null, finish_reason: null }]);
          break;
        case 'finish':
          out += this.chunk([{ index: ev.choice, delta: {}, logprobs: null, finish_reason: ev.reason }]);
          break;
      }
    }
    return out;
  }

  end(): string {
    let out = '';
    if (this.includeUsage && !this.usageSent && this.usage) {
      this.usageSent = true;
      out += this.chunk([], openaiUsage(this.usage));
    }
    return out + 'data: [DONE]\n\n';
  }

  error(err: AirouteError): string {
    return `data: ${JSON.stringify(err.toOpenAI())}\n\n`;
  }
}
