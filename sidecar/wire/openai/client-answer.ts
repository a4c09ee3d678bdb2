// OpenAI Chat Completions, client answer: a neutral result or stream written as the
// `chat.completion` object or `chat.completion.chunk` stream an OpenAI client expects.
import type { AirouteError } from '../../errors.ts';
import type { ChatResult, ChoiceResult, Frame, JsonObject, StreamEvent, Usage } from '../../chat/types.ts';
import { mergeUsage } from '../../chat/types.ts';
import { withSignature } from '../tool-id.ts';
import type { StreamEncoder } from '../types.ts';

/** The neutral usage as OpenAI reports it: cached and reasoning tokens as details of the totals. */
export function openaiUsage(u: Usage): JsonObject {
  const out: JsonObject = { prompt_tokens: u.inputTokens, completion_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens };
  const prompt: JsonObject = {};
  if (u.cacheReadTokens !== undefined) prompt.cached_tokens = u.cacheReadTokens;
  if (u.cacheWriteTokens !== undefined) prompt.cache_write_tokens = u.cacheWriteTokens;
  if (Object.keys(prompt).length) out.prompt_tokens_details = prompt;
  if (u.reasoningTokens !== undefined) out.completion_tokens_details = { reasoning_tokens: u.reasoningTokens };
  return out;
}

/**
 * Chat Completions has no reasoning field; OpenAI-compatible servers (vLLM, SGLang, DeepSeek) and
 * the clients built for them (the AI SDK's openai-compatible provider, LangChain) use
 * `reasoning_content`, which OpenAI's own SDK passes through untouched.
 */
function reasoningContent(reasoning: ChoiceResult['reasoning']): JsonObject {
  const text = (reasoning ?? []).map((r) => r.text).join('');
  return text ? { reasoning_content: text } : {};
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
        ...reasoningContent(c.reasoning),
        ...(c.toolCalls.length
          ? { tool_calls: c.toolCalls.map((t) => ({ id: withSignature(t.id, t.signature), type: 'function', function: { name: t.name, arguments: t.arguments } })) }
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
  private readonly continuousUsage: boolean;

  /**
   * `continuousUsage`: the client asked for usage on every chunk (vLLM's and SGLang's
   * `stream_options.continuous_usage_stats`, honoured only beside `include_usage`).
   */
  constructor(includeUsage: boolean, fallbackId: string, continuousUsage = false) {
    this.includeUsage = includeUsage;
    this.continuousUsage = includeUsage && continuousUsage;
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

  /**
   * The upstream's chunk as it came, except for usage the client did not ask for. The sidecar
   * always asks the upstream for usage, and servers put it in different places: a usage-only
   * chunk (OpenAI; llama.cpp even unasked), the finish chunk (llama.cpp), every chunk (vLLM,
   * SGLang with continuous usage). A usage-only chunk the client did not ask for is dropped; a
   * chunk with content keeps its content and loses only the usage, so no text or finish reason
   * is ever lost with it.
   */
  passthrough(frame: Frame): string | undefined {
    if (!frame.raw) return undefined;
    this.observe(frame.events);
    if (!frame.events.some((e) => e.type === 'usage') || this.continuousUsage) return `data: ${frame.raw.data}\n\n`;
    const { usage: _usage, ...rest } = JSON.parse(frame.raw.data) as JsonObject;
    const usageOnly = !Array.isArray(rest.choices) || rest.choices.length === 0;
    // The usage a client asked for is the final count: the usage-only chunk, or the finish chunk that carries it.
    if (this.includeUsage && !this.usageSent && (usageOnly || frame.events.some((e) => e.type === 'finish'))) {
      this.usageSent = true;
      return `data: ${frame.raw.data}\n\n`;
    }
    if (usageOnly) return undefined;
    return `data: ${JSON.stringify(rest)}\n\n`;
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
        case 'reasoning': {
          const delta: JsonObject = this.roleSent.has(ev.choice) ? { reasoning_content: ev.text } : { role: 'assistant', reasoning_content: ev.text };
          this.roleSent.add(ev.choice);
          out += this.chunk([{ index: ev.choice, delta, logprobs: null, finish_reason: null }]);
          break;
        }
        case 'tool_start': {
          const delta: JsonObject = {
            // A Gemini 3 signature rides in the id, which every client sends back verbatim (wire/tool-id.ts).
            tool_calls: [{ index: ev.index, id: withSignature(ev.id, ev.signature), type: 'function', function: { name: ev.name, arguments: '' } }],
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
