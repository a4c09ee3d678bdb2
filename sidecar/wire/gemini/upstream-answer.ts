// Google Gemini generateContent, upstream answer: `streamGenerateContent?alt=sse` chunks and the
// JSON body decoded into neutral events and results. Gemini has no stream terminator, so a
// stream is complete when every candidate has a finish reason and that chunk carries the usage.
import { AirouteError } from '../../errors.ts';
import type { ChatResult, ChoiceResult, FinishReason, Frame, JsonObject, StreamEvent, Usage } from '../../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from '../json.ts';
import type { SseEvent, StreamDecoder } from '../types.ts';

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

function finishFromGemini(reason: string, sawTool: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(reason)) return 'content_filter';
  return sawTool ? 'tool_calls' : 'stop';
}

/**
 * Gemini's `promptTokenCount` already includes the cached content, and thinking is counted apart
 * from the candidates: the neutral output adds `thoughtsTokenCount` back, keeping it as a detail.
 * Tokens of tool results Gemini fed itself (search, code execution) are prompt tokens it bills.
 */
export function usageFromGemini(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = {
    inputTokens: num(u.promptTokenCount) + num(u.toolUsePromptTokenCount),
    outputTokens: num(u.candidatesTokenCount) + num(u.thoughtsTokenCount),
  };
  if (typeof u.cachedContentTokenCount === 'number') usage.cacheReadTokens = u.cachedContentTokenCount;
  if (typeof u.thoughtsTokenCount === 'number') usage.reasoningTokens = u.thoughtsTokenCount;
  return usage;
}

/** Gemini 3 signs function calls; the signature must come back on the call next turn (wire/tool-id.ts). */
function signatureOf(part: JsonObject): string | undefined {
  return typeof part.thoughtSignature === 'string' && part.thoughtSignature !== '' ? part.thoughtSignature : undefined;
}

function blocked(body: JsonObject): AirouteError | undefined {
  const fb = isObject(body.promptFeedback) ? body.promptFeedback : undefined;
  if (fb && typeof fb.blockReason === 'string' && (!Array.isArray(body.candidates) || body.candidates.length === 0))
    return new AirouteError('content_policy', 400, `the prompt was blocked by the provider (${fb.blockReason})`, { providerFormat: 'gemini' });
  return undefined;
}

export class GeminiStreamDecoder implements StreamDecoder {
  complete = false;
  finished = false;
  private started = false;
  private readonly finishedChoices = new Set<number>();
  private readonly toolCounts: number[] = [];
  /** Candidates whose thought summary is streaming: their first answer part (or finish) ends it. */
  private readonly thinking = new Set<number>();
  private readonly choices: number;
  private readonly model: string;

  constructor(choices: number, model: string) {
    this.choices = choices;
    this.model = model;
  }

  decode(ev: SseEvent): Frame | null {
    const chunk: unknown = parseJson(ev.data, 'stream chunk');
    if (!isObject(chunk)) throw malformed('stream chunk');
    if (chunk.error !== undefined) {
      const e = isObject(chunk.error) ? chunk.error : {};
      throw new AirouteError('upstream_error', 502, str(e.message, 'upstream reported an error mid-stream'), {
        retriable: true,
        fallback: 'retries_exhausted',
        phase: 'stream',
        providerFormat: 'gemini',
      });
    }
    const block = blocked(chunk);
    if (block) throw block;
    const events: StreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      events.push({ type: 'start', id: str(chunk.responseId), model: str(chunk.modelVersion, this.model) });
    }
    for (const cand of Array.isArray(chunk.candidates) ? chunk.candidates : []) {
      if (!isObject(cand)) throw malformed('stream chunk');
      const choice = num(cand.index);
      const content = isObject(cand.content) ? cand.content : {};
      const endThinking = () => {
        if (this.thinking.delete(choice)) events.push({ type: 'reasoning_end', choice, origin: 'gemini' });
      };
      // Stryker disable next-line ArrayDeclaration: whatever a non-empty stand-in list held, a part that is not an object is skipped
      for (const part of Array.isArray(content.parts) ? content.parts : []) {
        if (!isObject(part)) continue;
        if (part.thought === true) {
          if (typeof part.text === 'string' && part.text !== '') {
            this.thinking.add(choice);
            events.push({ type: 'reasoning', choice, text: part.text });
          }
          continue;
        }
        if (typeof part.text === 'string' && part.text !== '') {
          endThinking();
          events.push({ type: 'text', choice, text: part.text });
        } else if (isObject(part.functionCall)) {
          endThinking();
          const index = (this.toolCounts[choice] ??= 0);
          this.toolCounts[choice] = index + 1;
          const fc = part.functionCall;
          const signature = signatureOf(part);
          events.push({ type: 'tool_start', choice, index, id: str(fc.id, `call_${choice}_${index}`), name: str(fc.name), ...(signature !== undefined ? { signature } : {}) });
          events.push({ type: 'tool_args', choice, index, args: JSON.stringify(fc.args ?? {}) });
        }
      }
      if (typeof cand.finishReason === 'string') endThinking();
      if (typeof cand.finishReason === 'string' && !this.finishedChoices.has(choice)) {
        this.finishedChoices.add(choice);
        events.push({ type: 'finish', choice, reason: finishFromGemini(cand.finishReason, (this.toolCounts[choice] ?? 0) > 0) });
      }
    }
    const usage = usageFromGemini(chunk.usageMetadata);
    if (usage) events.push({ type: 'usage', usage });
    this.finished = this.finishedChoices.size >= this.choices;
    // Gemini has no terminator: the chunk with the last finish reason carries the final usage.
    if (this.finished && usage) this.complete = true;
    return { events };
  }
}

export function parseGeminiResult(text: string, model: string): ChatResult {
  const body: unknown = parseJson(text, 'response body');
  if (!isObject(body)) throw malformed('response body');
  const block = blocked(body);
  if (block) throw block;
  const candidates = Array.isArray(body.candidates) ? body.candidates.filter(isObject) : [];
  const result: ChatResult = {
    id: str(body.responseId),
    model: str(body.modelVersion, model),
    choices: candidates.map((cand, i) => {
      // Stryker disable next-line ArrayDeclaration: the list only feeds filters that keep objects, so a stand-in list of strings adds nothing
      const parts = isObject(cand.content) && Array.isArray(cand.content.parts) ? cand.content.parts.filter(isObject) : [];
      const toolCalls = parts
        .filter((p) => isObject(p.functionCall))
        .map((p, j) => {
          const fc = p.functionCall as JsonObject;
          const signature = signatureOf(p);
          return { id: str(fc.id, `call_${i}_${j}`), name: str(fc.name), arguments: JSON.stringify(fc.args ?? {}), ...(signature !== undefined ? { signature } : {}) };
        });
      const thoughts = parts.filter((p) => p.thought === true && typeof p.text === 'string').map((p) => p.text as string).join('');
      const choice: ChoiceResult = {
        index: typeof cand.index === 'number' ? cand.index : i,
        text: parts.filter((p) => p.thought !== true && typeof p.text === 'string').map((p) => p.text as string).join(''),
        toolCalls,
        finishReason: typeof cand.finishReason === 'string' ? finishFromGemini(cand.finishReason, toolCalls.length > 0) : null,
      };
      if (thoughts) choice.reasoning = [{ text: thoughts, origin: 'gemini' }];
      return choice;
    }),
  };
  const usage = usageFromGemini(body.usageMetadata);
  if (usage) result.usage = usage;
  return result;
}
