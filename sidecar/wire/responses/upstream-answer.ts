// OpenAI Responses API, upstream answer: a provider's typed stream events and `response` objects
// decoded into neutral events and results. Every event keeps its raw text for same-format
// passthrough, its `sequence_number`, and, for output items and parts, their position and id, so
// that a client encoder can follow the upstream's numbering (see writer.ts `observe`).
import { AirouteError } from '../../errors.ts';
import type { ChatResult, ChoiceResult, FinishReason, Frame, JsonObject } from '../../chat/types.ts';
import { isObject, malformed, num, parseJson, str } from '../json.ts';
import { inStreamError } from '../stream-error.ts';
import type { SseEvent, StreamDecoder } from '../types.ts';
import { usageFromResponses } from './shapes.ts';

function finishOf(response: JsonObject, toolCalls: boolean): FinishReason {
  if (response.status === 'incomplete') {
    const reason = isObject(response.incomplete_details) ? response.incomplete_details.reason : undefined;
    return reason === 'content_filter' ? 'content_filter' : 'length';
  }
  return toolCalls ? 'tool_calls' : 'stop';
}

/** A response that failed upstream, as the attempt's failure: a rate limit or server error may go better on another try. */
function failed(response: JsonObject): AirouteError {
  const e = isObject(response.error) ? response.error : {};
  const code = str(e.code, 'server_error');
  const message = str(e.message, 'the upstream response failed');
  if (code === 'server_error' || code === 'rate_limit_exceeded' || code === 'vector_store_timeout')
    return inStreamError({ type: code === 'rate_limit_exceeded' ? 'rate_limit_error' : 'server_error', code, message }, 'openai');
  return new AirouteError('invalid_request', 400, message, { phase: 'stream', providerFormat: 'openai', providerCode: code });
}

export class ResponsesStreamDecoder implements StreamDecoder {
  complete = false;
  finished = false;
  /** Function call item id -> the neutral tool index. */
  private readonly tools = new Map<string, number>();
  /** Function call items whose arguments came as deltas (a done event then repeats them). */
  private readonly streamed = new Set<string>();

  decode(ev: SseEvent): Frame | null {
    const data: unknown = parseJson(ev.data, 'stream event');
    if (!isObject(data)) throw malformed('stream event');
    // Stryker disable next-line StringLiteral: an event with neither a type nor a name matches no case, whatever the fallback
    const type = str(data.type, ev.event ?? '');
    const frame: Frame = { events: [], raw: ev };
    if (typeof data.sequence_number === 'number') frame.seq = data.sequence_number;
    const events = frame.events;
    const index = num(data.output_index);
    switch (type) {
      case 'response.created': {
        const r = isObject(data.response) ? data.response : {};
        events.push({ type: 'start', id: str(r.id), model: str(r.model) });
        break;
      }
      case 'response.output_item.added': {
        const item = isObject(data.item) ? data.item : {};
        frame.block = { op: 'start', index, kind: str(item.type), id: str(item.id) };
        if (item.type === 'function_call') {
          const tool = this.tools.size;
          this.tools.set(str(item.id), tool);
          events.push({ type: 'tool_start', choice: 0, index: tool, id: str(item.call_id), name: str(item.name) });
          if (typeof item.arguments === 'string' && item.arguments !== '') {
            this.streamed.add(str(item.id));
            events.push({ type: 'tool_args', choice: 0, index: tool, args: item.arguments });
          }
        }
        break;
      }
      case 'response.content_part.added':
        frame.block = { op: 'start', index, kind: 'content_part', id: str(data.item_id) };
        break;
      case 'response.content_part.done':
        frame.block = { op: 'stop', index, kind: 'content_part', id: str(data.item_id) };
        break;
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        if (typeof data.delta === 'string' && data.delta !== '') events.push({ type: 'text', choice: 0, text: data.delta });
        break;
      case 'response.function_call_arguments.delta': {
        const tool = this.tools.get(str(data.item_id));
        if (tool !== undefined && typeof data.delta === 'string' && data.delta !== '') {
          this.streamed.add(str(data.item_id));
          events.push({ type: 'tool_args', choice: 0, index: tool, args: data.delta });
        }
        break;
      }
      case 'response.reasoning_summary_part.added':
        // A summary in several parts reads as paragraphs.
        if (num(data.summary_index) > 0) events.push({ type: 'reasoning', choice: 0, text: '\n\n' });
        break;
      case 'response.reasoning_summary_part.done':
        // Marks the part closed (a continuation after a cut must not close it again); its text came as deltas.
        frame.block = { op: 'stop', index, kind: 'summary_part', id: str(data.item_id) };
        break;
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        if (typeof data.delta === 'string' && data.delta !== '') events.push({ type: 'reasoning', choice: 0, text: data.delta });
        break;
      case 'response.output_item.done': {
        const item = isObject(data.item) ? data.item : {};
        const id = str(item.id);
        frame.block = { op: 'stop', index, kind: str(item.type), id };
        if (item.type === 'reasoning')
          events.push({ type: 'reasoning_end', choice: 0, origin: 'responses', ...(id ? { id } : {}), ...(typeof item.encrypted_content === 'string' ? { encrypted: item.encrypted_content } : {}) });
        const tool = this.tools.get(id);
        if (item.type === 'function_call' && tool !== undefined && !this.streamed.has(id) && typeof item.arguments === 'string' && item.arguments !== '')
          events.push({ type: 'tool_args', choice: 0, index: tool, args: item.arguments });
        break;
      }
      case 'response.completed':
      case 'response.incomplete': {
        const r = isObject(data.response) ? data.response : {};
        events.push({ type: 'finish', choice: 0, reason: finishOf(r, this.tools.size > 0) });
        const usage = usageFromResponses(r.usage);
        if (usage) events.push({ type: 'usage', usage });
        this.finished = true;
        this.complete = true;
        break;
      }
      case 'response.failed':
        throw failed(isObject(data.response) ? data.response : {});
      case 'error': {
        const e = isObject(data.error) ? data.error : data;
        throw inStreamError({ type: e.code === 'rate_limit_exceeded' ? 'rate_limit_error' : 'server_error', code: e.code, message: e.message }, 'openai');
      }
      // Everything else (in_progress, text and argument `done` events, annotations, built-in tool
      // progress) says nothing the neutral form carries; it still goes to a same-format client.
    }
    return frame;
  }
}

/** A non-streamed `response` object. */
export function parseResponsesResult(text: string): ChatResult {
  const body: unknown = parseJson(text, 'response body');
  if (!isObject(body) || !Array.isArray(body.output)) throw malformed('response body');
  if (body.status === 'failed') throw failed(body);
  // Stryker disable next-line StringLiteral: a placeholder, set from the message parts before the choice is returned
  const choice: ChoiceResult = { index: 0, text: '', toolCalls: [], finishReason: null };
  const texts: string[] = [];
  for (const item of body.output) {
    if (!isObject(item)) continue;
    if (item.type === 'message' && Array.isArray(item.content))
      for (const part of item.content) {
        if (isObject(part) && part.type === 'output_text') texts.push(str(part.text));
        else if (isObject(part) && part.type === 'refusal') texts.push(str(part.refusal));
      }
    else if (item.type === 'function_call') choice.toolCalls.push({ id: str(item.call_id), name: str(item.name), arguments: str(item.arguments) });
    else if (item.type === 'reasoning') {
      const summary = Array.isArray(item.summary) ? item.summary.filter(isObject).map((s) => str(s.text)) : [];
      (choice.reasoning ??= []).push({
        text: summary.join('\n\n'),
        origin: 'responses',
        ...(typeof item.id === 'string' ? { id: item.id } : {}),
        ...(typeof item.encrypted_content === 'string' ? { encrypted: item.encrypted_content } : {}),
      });
    }
  }
  choice.text = texts.join('');
  choice.finishReason = finishOf(body, choice.toolCalls.length > 0);
  const result: ChatResult = { id: str(body.id), model: str(body.model), choices: [choice] };
  const usage = usageFromResponses(body.usage);
  if (usage) result.usage = usage;
  return result;
}

