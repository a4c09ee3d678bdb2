// OpenAI Chat Completions, client answer: a neutral result or stream written as the
// `chat.completion` object or `chat.completion.chunk` stream an OpenAI client expects.
import type { AirouteError } from '../../errors.ts';
import type { ChatResult, Frame, JsonObject, StreamEvent, Usage } from '../../chat/types.ts';
import { mergeUsage } from '../../chat/types.ts';
import type { StreamEncoder } from '../types.ts';

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
