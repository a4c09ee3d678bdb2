// Anthropic Messages, client answer: a neutral result or stream written as the `message` object or
// the named-event stream an Anthropic client expects, numbering content blocks itself when the
// upstream did not.
import type { AirouteError } from '../../errors.ts';
import type { ChatResult, FinishReason, Frame, JsonObject, ReasoningPart, StreamEvent, Usage } from '../../chat/types.ts';
import { mergeUsage, parseArguments } from '../../chat/types.ts';
import { withSignature } from '../tool-id.ts';
import type { StreamEncoder } from '../types.ts';

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

/**
 * The neutral usage as Anthropic reports it: `input_tokens` is the uncached remainder, so cache
 * reads and writes are taken out of the neutral input (which counts them) rather than added twice.
 */
export function anthropicUsage(u: Usage | undefined): JsonObject {
  const read = u?.cacheReadTokens ?? 0;
  const write = u?.cacheWriteTokens ?? 0;
  const out: JsonObject = {
    input_tokens: Math.max(0, (u?.inputTokens ?? 0) - read - write),
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
    output_tokens: u?.outputTokens ?? 0,
  };
  if (u?.reasoningTokens !== undefined) out.output_tokens_details = { thinking_tokens: u.reasoningTokens };
  return out;
}

/**
 * Reasoning as Anthropic's blocks. Only Anthropic's own signature is a signature here: another
 * provider's proof means nothing to Anthropic, so its thinking goes out unsigned (text only).
 */
function thinkingBlock(r: Omit<ReasoningPart, 'type'>): JsonObject {
  if (r.origin === 'anthropic' && r.redacted !== undefined) return { type: 'redacted_thinking', data: r.redacted };
  return { type: 'thinking', thinking: r.text, signature: r.origin === 'anthropic' ? (r.signature ?? '') : '' };
}

export function encodeAnthropicResult(r: ChatResult, fallbackId: string): JsonObject {
  const c = r.choices[0];
  const content: JsonObject[] = (c?.reasoning ?? []).map(thinkingBlock);
  if (c?.text) content.push({ type: 'text', text: c.text });
  for (const t of c?.toolCalls ?? []) content.push({ type: 'tool_use', id: withSignature(t.id, t.signature), name: t.name, input: parseArguments(t.arguments) });
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
        // The upstream's message_start went out as it came, id and model included: only its usage is kept, for end().
        this.started = true;
        if (ev.usage) this.usage = mergeUsage(this.usage, ev.usage);
      } else if (ev.type === 'finish') {
        this.finish = ev.reason;
        this.stopSequence = ev.stopSequence ?? null;
      } else if (ev.type === 'usage') this.usage = mergeUsage(this.usage, ev.usage);
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
    // (The decoder names an event whose `event:` line was lost from its data's type.)
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
    // Stryker disable next-line ConditionalExpression: an open block with `tool: undefined` reads as one without a tool
    this.open = { index, kind, ...(tool !== undefined ? { tool } : {}) };
    return out + sse('content_block_start', { index, content_block: block });
  }

  encode(events: readonly StreamEvent[]): string {
    let out = '';
    // Anthropic announces the input count in message_start, and some clients (LangChain) read it
    // only there: usage that arrives with the first events (Gemini, vLLM's continuous usage)
    // goes into message_start rather than waiting for message_delta.
    if (!this.started) for (const ev of events) if (ev.type === 'usage' || (ev.type === 'start' && ev.usage)) this.usage = mergeUsage(this.usage, ev.usage!);
    for (const ev of events) {
      switch (ev.type) {
        case 'start':
          if (!this.started && ev.id) this.id = ev.id;
          this.model = ev.model || this.model;
          out += this.ensureStarted();
          break;
        case 'usage':
          this.usage = mergeUsage(this.usage, ev.usage);
          break;
        case 'text':
          out += this.ensureStarted();
          if (this.open?.kind !== 'text') out += this.openBlock('text', { type: 'text', text: '' });
          out += sse('content_block_delta', { index: this.open!.index, delta: { type: 'text_delta', text: ev.text } });
          break;
        case 'tool_start':
          out += this.ensureStarted();
          // A Gemini 3 signature rides in the id, which every client sends back verbatim (wire/tool-id.ts).
          out += this.openBlock(
            // Stryker disable next-line StringLiteral: the kind of an open tool block is only compared with 'text' and 'thinking'
            'tool_use',
            { type: 'tool_use', id: withSignature(ev.id, ev.signature), name: ev.name, input: {} },
            ev.index,
          );
          break;
        case 'reasoning':
          out += this.ensureStarted();
          if (this.open?.kind !== 'thinking') out += this.openBlock('thinking', { type: 'thinking', thinking: '', signature: '' });
          out += sse('content_block_delta', { index: this.open!.index, delta: { type: 'thinking_delta', thinking: ev.text } });
          break;
        case 'reasoning_end':
          out += this.ensureStarted();
          if (ev.origin === 'anthropic' && ev.redacted !== undefined) {
            out +=
              this.openBlock(
                // Stryker disable next-line StringLiteral: the redacted block closes at once, so its kind is never read
                'redacted_thinking',
                { type: 'redacted_thinking', data: ev.redacted },
              ) + this.closeBlock();
            break;
          }
          if (this.open?.kind !== 'thinking') break;
          if (ev.origin === 'anthropic' && ev.signature) out += sse('content_block_delta', { index: this.open.index, delta: { type: 'signature_delta', signature: ev.signature } });
          out += this.closeBlock();
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
