// Google Gemini generateContent, upstream direction only (no client speaks it to the sidecar).
import { AirouteError, invalidRequest, refuseUntranslatable } from '../errors.ts';
import type { ChatPrompt, ChatRequest, ChatResult, FinishReason, Frame, JsonObject, StreamEvent, ToolChoice, Usage } from '../chat/types.ts';
import { parseArguments } from '../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from './json.ts';
import type { SseEvent, StreamDecoder } from './types.ts';

export function geminiBody(req: ChatRequest, opts: { prefill?: string }): JsonObject {
  const p = req.prompt();
  refuseUntranslatable(p.untranslatable, 'Gemini');
  if (opts.prefill !== undefined) throw invalidRequest('Gemini backends do not continue an assistant prefix');
  const toolNames = new Map<string, string>();
  const contents = p.messages
    .map((m) => ({
      role: m.role === 'assistant' ? 'model' : 'user',
      parts: m.content
        .filter((x) => !(x.type === 'text' && x.text === ''))
        .map((x) => {
          switch (x.type) {
            case 'text':
              return { text: x.text };
            case 'image':
              if (!x.data) throw invalidRequest('image URLs cannot be sent to a Gemini backend; send the image inline (base64)');
              return { inlineData: { mimeType: x.mediaType ?? 'image/png', data: x.data } };
            case 'tool_call':
              toolNames.set(x.id, x.name);
              return { functionCall: { name: x.name, args: parseArguments(x.arguments) } };
            case 'tool_result':
              return { functionResponse: { name: x.name ?? toolNames.get(x.toolCallId) ?? x.toolCallId, response: { content: x.content } } };
          }
        }),
    }))
    .filter((c) => c.parts.length > 0);
  const body: JsonObject = { contents };
  if (p.system) body.systemInstruction = { parts: [{ text: p.system }] };
  const gen: JsonObject = {};
  if (p.maxTokens !== undefined) gen.maxOutputTokens = p.maxTokens;
  if (p.temperature !== undefined) gen.temperature = p.temperature;
  if (p.topP !== undefined) gen.topP = p.topP;
  if (p.stop?.length) gen.stopSequences = p.stop;
  if (req.choices > 1) gen.candidateCount = req.choices;
  if (p.responseFormat) {
    gen.responseMimeType = 'application/json';
    if (p.responseFormat.type === 'json_schema') gen.responseJsonSchema = p.responseFormat.schema;
  }
  if (Object.keys(gen).length) body.generationConfig = gen;
  if (p.tools?.length)
    body.tools = [{ functionDeclarations: p.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), parametersJsonSchema: t.parameters })) }];
  if (p.toolChoice) body.toolConfig = { functionCallingConfig: toolChoiceToGemini(p.toolChoice) };
  return body;
}

function toolChoiceToGemini(c: ToolChoice): JsonObject {
  switch (c.type) {
    case 'none':
      return { mode: 'NONE' };
    case 'required':
      return { mode: 'ANY' };
    case 'tool':
      return { mode: 'ANY', allowedFunctionNames: [c.name] };
    default:
      return { mode: 'AUTO' };
  }
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

function finishFromGemini(reason: string, sawTool: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(reason)) return 'content_filter';
  return sawTool ? 'tool_calls' : 'stop';
}

function usageFromGemini(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = { inputTokens: num(u.promptTokenCount), outputTokens: num(u.candidatesTokenCount) + num(u.thoughtsTokenCount) };
  if (typeof u.cachedContentTokenCount === 'number') usage.cacheReadTokens = u.cachedContentTokenCount;
  return usage;
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
      for (const part of Array.isArray(content.parts) ? content.parts : []) {
        if (!isObject(part) || part.thought === true) continue;
        if (typeof part.text === 'string' && part.text !== '') events.push({ type: 'text', choice, text: part.text });
        else if (isObject(part.functionCall)) {
          const index = (this.toolCounts[choice] ??= 0);
          this.toolCounts[choice] = index + 1;
          const fc = part.functionCall;
          events.push({ type: 'tool_start', choice, index, id: str(fc.id, `call_${choice}_${index}`), name: str(fc.name) });
          events.push({ type: 'tool_args', choice, index, args: JSON.stringify(fc.args ?? {}) });
        }
      }
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
      const parts = isObject(cand.content) && Array.isArray(cand.content.parts) ? cand.content.parts.filter(isObject) : [];
      const toolCalls = parts
        .filter((p) => isObject(p.functionCall))
        .map((p, j) => {
          const fc = p.functionCall as JsonObject;
          return { id: str(fc.id, `call_${i}_${j}`), name: str(fc.name), arguments: JSON.stringify(fc.args ?? {}) };
        });
      return {
        index: typeof cand.index === 'number' ? cand.index : i,
        text: parts.filter((p) => p.thought !== true && typeof p.text === 'string').map((p) => p.text as string).join(''),
        toolCalls,
        finishReason: typeof cand.finishReason === 'string' ? finishFromGemini(cand.finishReason, toolCalls.length > 0) : null,
      };
    }),
  };
  const usage = usageFromGemini(body.usageMetadata);
  if (usage) result.usage = usage;
  return result;
}
