// OpenAI Chat Completions, upstream answer: a provider's stream chunks and JSON body decoded into
// neutral events and results, with its finish reasons and usage mapped.
import type { ChatResult, FinishReason, Frame, StreamEvent, Usage } from '../../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from '../json.ts';
import { inStreamError } from '../stream-error.ts';
import type { SseEvent, StreamDecoder } from '../types.ts';

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
