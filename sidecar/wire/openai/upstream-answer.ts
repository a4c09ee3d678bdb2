// OpenAI Chat Completions, upstream answer: a provider's stream chunks and JSON body decoded into
// neutral events and results, with its finish reasons and usage mapped.
import type { ChatResult, ChoiceResult, FinishReason, Frame, JsonObject, StreamEvent, Usage } from '../../chat/types.ts';
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

/**
 * OpenAI's `prompt_tokens` already counts every prompt token, cached or not, and
 * `completion_tokens` counts reasoning: the details are parts of them, as in the neutral model.
 */
export function usageFromOpenAI(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = { inputTokens: num(u.prompt_tokens), outputTokens: num(u.completion_tokens) };
  const prompt = u.prompt_tokens_details;
  if (isObject(prompt)) {
    if (typeof prompt.cached_tokens === 'number') usage.cacheReadTokens = prompt.cached_tokens;
    if (typeof prompt.cache_write_tokens === 'number') usage.cacheWriteTokens = prompt.cache_write_tokens;
  }
  const completion = u.completion_tokens_details;
  // SGLang reports reasoning tokens beside the totals rather than in the details.
  const reasoning = isObject(completion) && typeof completion.reasoning_tokens === 'number' ? completion.reasoning_tokens : u.reasoning_tokens;
  if (typeof reasoning === 'number') usage.reasoningTokens = reasoning;
  return usage;
}

/**
 * Reasoning text from OpenAI-compatible servers: `reasoning_content` (vLLM, SGLang, llama.cpp,
 * DeepSeek) or `reasoning` (Ollama, OpenRouter, newer vLLM). OpenAI itself sends none here.
 */
function reasoningOf(o: JsonObject): string | undefined {
  const r = o.reasoning_content ?? o.reasoning;
  return typeof r === 'string' && r !== '' ? r : undefined;
}

/**
 * The stop sequence that ended a choice, where the server says: vLLM's `stop_reason` and SGLang's
 * `matched_stop` hold the matched string (or a stop token's id, which is not a sequence).
 */
function stopSequenceOf(c: JsonObject): string | null {
  const s = c.stop_reason ?? c.matched_stop;
  return typeof s === 'string' ? s : null;
}

/** Google's OpenAI-compatible endpoint puts Gemini 3's function-call signature here. */
function signatureOf(tc: JsonObject): string | undefined {
  const google = isObject(tc.extra_content) && isObject(tc.extra_content.google) ? tc.extra_content.google : undefined;
  return typeof google?.thought_signature === 'string' && google.thought_signature !== '' ? google.thought_signature : undefined;
}

export class OpenAIStreamDecoder implements StreamDecoder {
  complete = false;
  finished = false;
  private started = false;
  private finishes = 0;
  /** The usage-only chunk (empty choices) that OpenAI sends last, before [DONE]. */
  private finalUsage = false;
  /** Choices whose reasoning is streaming: the first other content (or the finish) ends it. */
  private readonly reasoning = new Set<number>();
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
        const thought = reasoningOf(d);
        if (thought !== undefined) {
          this.reasoning.add(choice);
          events.push({ type: 'reasoning', choice, text: thought });
        }
        const endReasoning = () => {
          if (this.reasoning.delete(choice)) events.push({ type: 'reasoning_end', choice, origin: 'openai' });
        };
        if (typeof d.content === 'string' && d.content !== '') {
          endReasoning();
          events.push({ type: 'text', choice, text: d.content });
        }
        if (Array.isArray(d.tool_calls))
          for (const tc of d.tool_calls) {
            if (!isObject(tc)) throw malformed('tool call delta');
            const index = typeof tc.index === 'number' ? tc.index : 0;
            const fn = isObject(tc.function) ? tc.function : {};
            endReasoning();
            if (typeof tc.id === 'string' || typeof fn.name === 'string') {
              const signature = signatureOf(tc);
              events.push({ type: 'tool_start', choice, index, id: str(tc.id), name: str(fn.name), ...(signature !== undefined ? { signature } : {}) });
            }
            if (typeof fn.arguments === 'string' && fn.arguments !== '') events.push({ type: 'tool_args', choice, index, args: fn.arguments });
          }
        if (c.finish_reason !== null && c.finish_reason !== undefined) {
          endReasoning();
          this.finishes++;
          const stopSequence = stopSequenceOf(c);
          events.push({ type: 'finish', choice, reason: finishFromOpenAI(c.finish_reason), ...(stopSequence !== null ? { stopSequence } : {}) });
        }
      }
    const usage = usageFromOpenAI(chunk.usage);
    if (usage) {
      // Usage on a chunk with choices is not the end: llama.cpp puts it on the finish chunk,
      // vLLM's and SGLang's continuous usage on every chunk, and a final usage-only chunk may follow.
      if (!choices || choices.length === 0) this.finalUsage = true;
      events.push({ type: 'usage', usage });
    }
    this.finished = this.finishes >= this.choices;
    if (this.finished && (this.finalUsage || !this.expectUsage)) this.complete = true;
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
      const thought = reasoningOf(msg);
      const stopSequence = stopSequenceOf(choice);
      const out: ChoiceResult = {
        index: typeof choice.index === 'number' ? choice.index : i,
        text: typeof msg.content === 'string' ? msg.content : '',
        toolCalls: Array.isArray(msg.tool_calls)
          ? msg.tool_calls.filter(isObject).map((tc) => {
              const fn = isObject(tc.function) ? tc.function : {};
              const signature = signatureOf(tc);
              return { id: str(tc.id), name: str(fn.name), arguments: str(fn.arguments), ...(signature !== undefined ? { signature } : {}) };
            })
          : [],
        finishReason: choice.finish_reason == null ? null : finishFromOpenAI(choice.finish_reason),
      };
      if (stopSequence !== null) out.stopSequence = stopSequence;
      if (thought !== undefined) out.reasoning = [{ text: thought, origin: 'openai' }];
      return out;
    }),
  };
  const usage = usageFromOpenAI(body.usage);
  if (usage) result.usage = usage;
  return result;
}
