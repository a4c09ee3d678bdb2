// Anthropic Messages, upstream answer: the documented stream events (message_start,
// content_block_start/delta/stop, message_delta, message_stop, ping, error) and the JSON message
// decoded into neutral events and results, with stop reasons and usage mapped.
import type { ChatResult, ChoiceResult, FinishReason, Frame, StreamEvent, Usage } from '../../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from '../json.ts';
import { inStreamError } from '../stream-error.ts';
import type { SseEvent, StreamDecoder } from '../types.ts';

/** What may stand in an SSE `event:` line taken from upstream data (never a line break). */
const EVENT_NAME = /^[a-z_]+$/;

const STOP: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** Anthropic's usage fields as reported so far; a stream reports them in pieces, each cumulative. */
interface AnthropicUsageReport {
  input_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  output_tokens?: number;
  thinking_tokens?: number;
}

function report(u: unknown, into: AnthropicUsageReport = {}): AnthropicUsageReport | undefined {
  if (!isObject(u)) return undefined;
  const take = (key: keyof AnthropicUsageReport, v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v)) into[key] = v;
  };
  take('input_tokens', u.input_tokens);
  take('cache_read_input_tokens', u.cache_read_input_tokens);
  take('cache_creation_input_tokens', u.cache_creation_input_tokens);
  take('output_tokens', u.output_tokens);
  if (isObject(u.output_tokens_details)) take('thinking_tokens', u.output_tokens_details.thinking_tokens);
  return into;
}

/**
 * Anthropic's `input_tokens` counts only the prompt tokens after the last cache breakpoint: the
 * neutral input adds cache reads and writes back, so it means "every prompt token" as it does for
 * OpenAI and Gemini, and the cache counts stay details of it.
 */
function neutralUsage(r: AnthropicUsageReport): Usage {
  const read = r.cache_read_input_tokens;
  const write = r.cache_creation_input_tokens;
  const usage: Usage = { inputTokens: (r.input_tokens ?? 0) + (read ?? 0) + (write ?? 0), outputTokens: r.output_tokens ?? 0 };
  if (read !== undefined) usage.cacheReadTokens = read;
  if (write !== undefined) usage.cacheWriteTokens = write;
  if (r.thinking_tokens !== undefined) usage.reasoningTokens = r.thinking_tokens;
  return usage;
}

export function usageFromAnthropic(u: unknown): Usage | undefined {
  const r = report(u);
  return r && neutralUsage(r);
}

export class AnthropicStreamDecoder implements StreamDecoder {
  complete = false;
  finished = false;
  private readonly toolOfBlock = new Map<number, number>();
  private tools = 0;
  /** The open thinking block and the signature its signature_delta events spelled so far. */
  private thinking: { index: number; signature: string } | undefined;
  /** message_start reports input and cache counts, message_delta the output (newer API versions repeat all of them). */
  private readonly usage: AnthropicUsageReport = {};

  decode(ev: SseEvent): Frame | null {
    const data: unknown = parseJson(ev.data, 'stream event');
    if (!isObject(data)) throw malformed('stream event');
    const type = ev.event ?? str(data.type);
    const events: StreamEvent[] = [];
    // An event whose `event:` line a proxy dropped is named from its data's type, so a client of the
    // same format gets it named as the Messages stream names every event (SDKs dispatch on the name).
    const raw = ev.event !== undefined || !EVENT_NAME.test(type) ? ev : { event: type, data: ev.data };
    const frame: Frame = { events, raw };
    switch (type) {
      case 'message_start': {
        const msg = isObject(data.message) ? data.message : {};
        const usage = report(msg.usage, this.usage) && neutralUsage(this.usage);
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
        else if (kind === 'thinking') {
          this.thinking = { index, signature: str(block.signature) };
          if (typeof block.thinking === 'string' && block.thinking !== '') events.push({ type: 'reasoning', choice: 0, text: block.thinking });
        } else if (kind === 'redacted_thinking') events.push({ type: 'reasoning_end', choice: 0, origin: 'anthropic', redacted: str(block.data) });
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
        } else if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') {
          if (delta.thinking !== '') events.push({ type: 'reasoning', choice: 0, text: delta.thinking });
        } else if (delta.type === 'signature_delta' && typeof delta.signature === 'string' && this.thinking) this.thinking.signature += delta.signature;
        return frame;
      }
      case 'content_block_stop': {
        const index = num(data.index);
        frame.block = { op: 'stop', index };
        // The signature proves the thinking to Anthropic on the next turn; it travels with the block's end.
        if (this.thinking?.index === index) {
          const { signature } = this.thinking;
          this.thinking = undefined;
          events.push({ type: 'reasoning_end', choice: 0, origin: 'anthropic', ...(signature ? { signature } : {}) });
        }
        return frame;
      }
      case 'message_delta': {
        const delta = isObject(data.delta) ? data.delta : {};
        if (typeof delta.stop_reason === 'string')
          events.push({ type: 'finish', choice: 0, reason: STOP[delta.stop_reason] ?? 'stop', stopSequence: typeof delta.stop_sequence === 'string' ? delta.stop_sequence : null });
        if (report(data.usage, this.usage)) events.push({ type: 'usage', usage: neutralUsage(this.usage) });
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
  const reasoning: NonNullable<ChoiceResult['reasoning']> = [];
  for (const b of body.content) {
    if (!isObject(b)) continue;
    if (b.type === 'text') out += str(b.text);
    else if (b.type === 'tool_use') toolCalls.push({ id: str(b.id), name: str(b.name), arguments: JSON.stringify(b.input ?? {}) });
    else if (b.type === 'thinking') reasoning.push({ text: str(b.thinking), origin: 'anthropic', ...(typeof b.signature === 'string' && b.signature ? { signature: b.signature } : {}) });
    else if (b.type === 'redacted_thinking') reasoning.push({ text: '', origin: 'anthropic', redacted: str(b.data) });
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
        ...(reasoning.length ? { reasoning } : {}),
      },
    ],
  };
  const usage = usageFromAnthropic(body.usage);
  if (usage) result.usage = usage;
  return result;
}
