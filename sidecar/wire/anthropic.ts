// Anthropic Messages, both directions. Pure functions and per-stream state machines; no I/O.
import { AirouteError, invalidRequest, refuseUntranslatable } from '../errors.ts';
import type { ChatMessage, ChatPrompt, ChatRequest, ChatResult, FinishReason, Frame, JsonObject, Part, StreamEvent, ToolChoice, Usage } from '../chat/types.ts';
import { parseArguments } from '../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from './json.ts';
import { inStreamError } from './stream-error.ts';
import type { SseEvent, StreamDecoder, StreamEncoder } from './types.ts';

export const ANTHROPIC_VERSION = '2023-06-01';
/** Anthropic requires max_tokens; an OpenAI client may omit it. */
export const DEFAULT_MAX_TOKENS = 4096;

const anthropicInvalid = (message: string) =>
  new AirouteError('invalid_request', 400, message, { providerFormat: 'anthropic', providerType: 'invalid_request_error' });

// ---------------------------------------------------------------- client request

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

// ---------------------------------------------------------------- upstream request

function withPrefill(messages: unknown[], prefill: string): unknown[] {
  const last = messages[messages.length - 1];
  if (isObject(last) && last.role === 'assistant') {
    if (typeof last.content === 'string') return [...messages.slice(0, -1), { ...last, content: last.content + prefill }];
    if (Array.isArray(last.content)) {
      const blocks = [...last.content];
      const tail = blocks[blocks.length - 1];
      if (isObject(tail) && tail.type === 'text') blocks[blocks.length - 1] = { ...tail, text: str(tail.text) + prefill };
      else blocks.push({ type: 'text', text: prefill });
      return [...messages.slice(0, -1), { ...last, content: blocks }];
    }
  }
  return [...messages, { role: 'assistant', content: prefill }];
}

export function anthropicBody(req: ChatRequest, model: string, opts: { stream: boolean; prefill?: string }): JsonObject {
  const body: JsonObject = req.format === 'anthropic' ? { ...req.body, model } : promptToAnthropic(req.prompt(), model);
  body.stream = opts.stream;
  if (opts.prefill !== undefined && opts.prefill !== '') body.messages = withPrefill(body.messages as unknown[], opts.prefill);
  return body;
}

function promptToAnthropic(p: ChatPrompt, model: string): JsonObject {
  refuseUntranslatable(p.untranslatable.concat(p.responseFormat ? ['response_format'] : []), 'Anthropic');
  const messages = p.messages
    .map((m) => ({
      role: m.role,
      content: m.content
        .filter((x) => !(x.type === 'text' && x.text === ''))
        .map((x) => {
          switch (x.type) {
            case 'text':
              return { type: 'text', text: x.text };
            case 'image':
              return { type: 'image', source: x.url ? { type: 'url', url: x.url } : { type: 'base64', media_type: x.mediaType, data: x.data } };
            case 'tool_call':
              return { type: 'tool_use', id: x.id, name: x.name, input: parseArguments(x.arguments) };
            case 'tool_result':
              return { type: 'tool_result', tool_use_id: x.toolCallId, content: x.content, ...(x.isError ? { is_error: true } : {}) };
          }
        }),
    }))
    .filter((m) => m.content.length > 0);
  const body: JsonObject = { model, messages, max_tokens: p.maxTokens ?? DEFAULT_MAX_TOKENS };
  if (p.system) body.system = p.system;
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  if (p.stop?.length) body.stop_sequences = p.stop;
  if (p.tools?.length) body.tools = p.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters }));
  if (p.toolChoice) body.tool_choice = toolChoiceToAnthropic(p.toolChoice);
  return body;
}

function toolChoiceToAnthropic(c: ToolChoice): JsonObject {
  switch (c.type) {
    case 'required':
      return { type: 'any' };
    case 'tool':
      return { type: 'tool', name: c.name };
    default:
      return { type: c.type };
  }
}

// ---------------------------------------------------------------- upstream answer

const STOP: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

function usageFromAnthropic(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = { inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens) };
  if (typeof u.cache_read_input_tokens === 'number') usage.cacheReadTokens = u.cache_read_input_tokens;
  if (typeof u.cache_creation_input_tokens === 'number') usage.cacheWriteTokens = u.cache_creation_input_tokens;
  return usage;
}

export class AnthropicStreamDecoder implements StreamDecoder {
  complete = false;
  finished = false;
  private readonly toolOfBlock = new Map<number, number>();
  private tools = 0;

  decode(ev: SseEvent): Frame | null {
    const data: unknown = parseJson(ev.data, 'stream event');
    if (!isObject(data)) throw malformed('stream event');
    const type = ev.event ?? str(data.type);
    const events: StreamEvent[] = [];
    const frame: Frame = { events, raw: ev };
    switch (type) {
      case 'message_start': {
        const msg = isObject(data.message) ? data.message : {};
        const usage = usageFromAnthropic(msg.usage);
        events.push({ type: 'start', id: str(msg.id), model: str(msg.model), ...(usage ? { usage } : {}) });
        return frame;
      }
      case 'content_block_start': {
        const index = num(data.index);
        const block = isObject(data.content_block) ? data.content_block : {};
        const kind = str(block.type);
        frame.block = { op: 'start', index, kind };
        if (kind === 'tool_use' || kind === 'server_tool_use') {
          const tool = this.tools++;
          this.toolOfBlock.set(index, tool);
          events.push({ type: 'tool_start', choice: 0, index: tool, id: str(block.id), name: str(block.name) });
        } else if (kind === 'text' && typeof block.text === 'string' && block.text !== '') events.push({ type: 'text', choice: 0, text: block.text });
        return frame;
      }
      case 'content_block_delta': {
        const delta = isObject(data.delta) ? data.delta : {};
        if (delta.type === 'text_delta' && typeof delta.text === 'string') {
          if (delta.text !== '') events.push({ type: 'text', choice: 0, text: delta.text });
        } else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
          const tool = this.toolOfBlock.get(num(data.index));
          if (tool === undefined) throw malformed('tool delta without its block');
          if (delta.partial_json !== '') events.push({ type: 'tool_args', choice: 0, index: tool, args: delta.partial_json });
        }
        return frame;
      }
      case 'content_block_stop':
        frame.block = { op: 'stop', index: num(data.index) };
        return frame;
      case 'message_delta': {
        const delta = isObject(data.delta) ? data.delta : {};
        if (typeof delta.stop_reason === 'string')
          events.push({ type: 'finish', choice: 0, reason: STOP[delta.stop_reason] ?? 'stop', stopSequence: typeof delta.stop_sequence === 'string' ? delta.stop_sequence : null });
        const usage = usageFromAnthropic(data.usage);
        if (usage) events.push({ type: 'usage', usage });
        this.finished = this.complete = true;
        return frame;
      }
      case 'message_stop':
        this.finished = this.complete = true;
        return null;
      case 'error':
        throw inStreamError(data.error, 'anthropic');
      default:
        return frame; // ping, and event types newer than this code: forwarded, meaning nothing here
    }
  }
}

export function parseAnthropicResult(text: string): ChatResult {
  const body: unknown = parseJson(text, 'response body');
  if (!isObject(body) || !Array.isArray(body.content)) throw malformed('response body');
  let out = '';
  const toolCalls: ChatResult['choices'][number]['toolCalls'] = [];
  for (const b of body.content) {
    if (!isObject(b)) continue;
    if (b.type === 'text') out += str(b.text);
    else if (b.type === 'tool_use') toolCalls.push({ id: str(b.id), name: str(b.name), arguments: JSON.stringify(b.input ?? {}) });
  }
  const result: ChatResult = {
    id: str(body.id),
    model: str(body.model),
    choices: [
      {
        index: 0,
        text: out,
        toolCalls,
        finishReason: typeof body.stop_reason === 'string' ? (STOP[body.stop_reason] ?? 'stop') : null,
        stopSequence: typeof body.stop_sequence === 'string' ? body.stop_sequence : null,
      },
    ],
  };
  const usage = usageFromAnthropic(body.usage);
  if (usage) result.usage = usage;
  return result;
}

// ---------------------------------------------------------------- client answer

function stopReason(reason: FinishReason | null, stopSequence: string | null | undefined): string {
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return stopSequence ? 'stop_sequence' : 'end_turn';
  }
}

function anthropicUsage(u: Usage | undefined): JsonObject {
  const out: JsonObject = { input_tokens: u?.inputTokens ?? 0, output_tokens: u?.outputTokens ?? 0 };
  if (u?.cacheReadTokens !== undefined) out.cache_read_input_tokens = u.cacheReadTokens;
  if (u?.cacheWriteTokens !== undefined) out.cache_creation_input_tokens = u.cacheWriteTokens;
  return out;
}

export function encodeAnthropicResult(r: ChatResult, fallbackId: string): JsonObject {
  const c = r.choices[0];
  const content: JsonObject[] = [];
  if (c?.text) content.push({ type: 'text', text: c.text });
  for (const t of c?.toolCalls ?? []) content.push({ type: 'tool_use', id: t.id, name: t.name, input: parseArguments(t.arguments) });
  return {
    id: r.id || `msg_${fallbackId}`,
    type: 'message',
    role: 'assistant',
    model: r.model,
    content,
    stop_reason: stopReason(c?.finishReason ?? null, c?.stopSequence),
    stop_sequence: c?.stopSequence ?? null,
    usage: anthropicUsage(r.usage),
  };
}

const sse = (event: string, data: JsonObject) => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;

export class AnthropicStreamEncoder implements StreamEncoder {
  private id: string;
  private model = '';
  private started = false;
  private open: { index: number; kind: string; tool?: number } | null = null;
  private nextIndex = 0;
  private finish: FinishReason | null = null;
  private stopSequence: string | null = null;
  private usage: Usage | undefined;
  private deltaSent = false;

  constructor(fallbackId: string) {
    this.id = `msg_${fallbackId}`;
  }

  private observe(frame: Frame): void {
    for (const ev of frame.events) {
      if (ev.type === 'start') {
        if (!this.started && ev.id) this.id = ev.id;
        this.started = true;
        this.model = ev.model || this.model;
        if (ev.usage) this.usage = ev.usage;
      } else if (ev.type === 'finish') {
        this.finish = ev.reason;
        this.stopSequence = ev.stopSequence ?? null;
      } else if (ev.type === 'usage') this.usage = this.usage ? { ...this.usage, ...nonZero(ev.usage) } : ev.usage;
    }
    if (frame.block?.op === 'start') {
      const tool = frame.events.find((e) => e.type === 'tool_start');
      this.open = { index: frame.block.index, kind: frame.block.kind ?? 'text', ...(tool?.type === 'tool_start' ? { tool: tool.index } : {}) };
      this.nextIndex = Math.max(this.nextIndex, frame.block.index + 1);
    } else if (frame.block?.op === 'stop') this.open = null;
  }

  passthrough(frame: Frame): string | undefined {
    if (!frame.raw) return undefined;
    this.observe(frame);
    if (frame.raw.event === 'message_delta') this.deltaSent = true;
    return `event: ${frame.raw.event ?? 'message'}\ndata: ${frame.raw.data}\n\n`;
  }

  private ensureStarted(): string {
    if (this.started) return '';
    this.started = true;
    return sse('message_start', {
      message: { id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(this.usage) },
    });
  }

  private closeBlock(): string {
    if (!this.open) return '';
    const out = sse('content_block_stop', { index: this.open.index });
    this.open = null;
    return out;
  }

  private openBlock(kind: string, block: JsonObject, tool?: number): string {
    const out = this.closeBlock();
    const index = this.nextIndex++;
    this.open = { index, kind, ...(tool !== undefined ? { tool } : {}) };
    return out + sse('content_block_start', { index, content_block: block });
  }

  encode(events: readonly StreamEvent[]): string {
    let out = '';
    for (const ev of events) {
      switch (ev.type) {
        case 'start':
          if (!this.started) {
            if (ev.id) this.id = ev.id;
            if (ev.usage) this.usage = ev.usage;
          }
          this.model = ev.model || this.model;
          out += this.ensureStarted();
          break;
        case 'usage':
          this.usage = this.usage ? { ...this.usage, ...nonZero(ev.usage) } : ev.usage;
          break;
        case 'text':
          out += this.ensureStarted();
          if (this.open?.kind !== 'text') out += this.openBlock('text', { type: 'text', text: '' });
          out += sse('content_block_delta', { index: this.open!.index, delta: { type: 'text_delta', text: ev.text } });
          break;
        case 'tool_start':
          out += this.ensureStarted();
          out += this.openBlock('tool_use', { type: 'tool_use', id: ev.id, name: ev.name, input: {} }, ev.index);
          break;
        case 'tool_args':
          if (this.open?.tool === ev.index)
            out += sse('content_block_delta', { index: this.open.index, delta: { type: 'input_json_delta', partial_json: ev.args } });
          break;
        case 'finish':
          if (ev.choice === 0) {
            this.finish = ev.reason;
            this.stopSequence = ev.stopSequence ?? null;
          }
          break;
      }
    }
    return out;
  }

  end(): string {
    let out = this.ensureStarted() + this.closeBlock();
    if (!this.deltaSent)
      out += sse('message_delta', {
        delta: { stop_reason: stopReason(this.finish, this.stopSequence), stop_sequence: this.stopSequence },
        usage: anthropicUsage(this.usage),
      });
    return out + sse('message_stop', {});
  }

  error(err: AirouteError): string {
    return `event: error\ndata: ${JSON.stringify(err.toAnthropic())}\n\n`;
  }
}

function nonZero(u: Usage): Partial<Usage> {
  const out: Partial<Usage> = {};
  if (u.inputTokens) out.inputTokens = u.inputTokens;
  if (u.outputTokens) out.outputTokens = u.outputTokens;
  if (u.cacheReadTokens !== undefined) out.cacheReadTokens = u.cacheReadTokens;
  if (u.cacheWriteTokens !== undefined) out.cacheWriteTokens = u.cacheWriteTokens;
  return out;
}
