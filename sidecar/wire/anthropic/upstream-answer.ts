// Anthropic Messages, upstream answer: the documented stream events (message_start,
// content_block_start/delta/stop, message_delta, message_stop, ping, error) and the JSON message
// decoded into neutral events and results, with stop reasons and usage mapped.
import type { ChatResult, FinishReason, Frame, StreamEvent, Usage } from '../../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from '../json.ts';
import { inStreamError } from '../stream-error.ts';
import type { SseEvent, StreamDecoder } from '../types.ts';

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
