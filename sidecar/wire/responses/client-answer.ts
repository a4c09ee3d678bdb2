// OpenAI Responses API, client answer: a neutral result as a `response` object, or a stream as the
// API's typed events (writer.ts), continuing an upstream's own events after a mid-stream
// recovery. A response the sidecar makes is named after the request (shapes.ts responseIdOf); an
// upstream that speaks Responses keeps its own id.
import type { AirouteError } from '../../errors.ts';
import type { ChatResult, Frame, JsonObject, ProxyRequest, StreamEvent } from '../../chat/types.ts';
import type { StreamEncoder } from '../types.ts';
import { isResponsesRequest } from './client-request.ts';
import { echoOf, responseIdOf, wantsReasoningProof } from './shapes.ts';
import { ResponsesWriter } from './writer.ts';

function writerFor(request: ProxyRequest, fallbackId: string, model: string): ResponsesWriter {
  return new ResponsesWriter({
    id: responseIdOf(fallbackId),
    createdAt: Math.floor(Date.now() / 1000),
    model,
    echo: echoOf(request.body),
    includeProof: wantsReasoningProof(request.body),
  });
}

/** Tells a Responses request what its client finally got (kept for previous_response_id and GET). */
function settle(request: ProxyRequest, response: JsonObject, w: ResponsesWriter): void {
  if (request.operation !== 'chat' || !isResponsesRequest(request)) return;
  request.outcome.response = response;
  request.outcome.output = w.outputForStore();
}

/** A complete answer as a `response` object: reasoning, then the message, then function calls. */
export function encodeResponsesResult(r: ChatResult, fallbackId: string, request: ProxyRequest): JsonObject {
  const w = writerFor(request, fallbackId, r.model);
  const c = r.choices[0];
  for (const block of c?.reasoning ?? []) {
    // Stryker disable next-line ConditionalExpression: reasoning('') makes the same item as no call: an empty summary is `summary: []` either way
    if (block.text) w.reasoning(block.text);
    w.reasoningEnd(block);
  }
  if (c?.text) w.text(c.text);
  c?.toolCalls.forEach((t, i) => {
    w.toolStart(i, t.id, t.name);
    // Stryker disable next-line ConditionalExpression: toolArgs(i, '') adds '' to the arguments
    if (t.arguments) w.toolArgs(i, t.arguments);
  });
  w.setFinish(c?.finishReason ?? null);
  w.setUsage(r.usage);
  w.complete();
  const response = w.final!;
  settle(request, response, w);
  return response;
}

export class ResponsesStreamEncoder implements StreamEncoder {
  private readonly writer: ResponsesWriter;
  private readonly request: ProxyRequest;

  constructor(request: ProxyRequest, fallbackId: string) {
    this.request = request;
    this.writer = writerFor(request, fallbackId, request.model);
  }

  passthrough(frame: Frame): string | undefined {
    this.writer.observe(frame);
    if (!frame.raw) return undefined;
    return frame.raw.event !== undefined ? `event: ${frame.raw.event}\ndata: ${frame.raw.data}\n\n` : `data: ${frame.raw.data}\n\n`;
  }

  encode(events: readonly StreamEvent[]): string {
    const w = this.writer;
    for (const ev of events) {
      switch (ev.type) {
        case 'start':
          w.setModel(ev.model);
          // Stryker disable next-line ConditionalExpression: setUsage ignores undefined
          if (ev.usage) w.setUsage(ev.usage);
          continue;
        case 'usage':
          w.setUsage(ev.usage);
          continue;
        case 'finish':
          if (ev.choice === 0) w.setFinish(ev.reason);
          continue;
      }
      if (ev.choice !== 0) continue; // the Responses API has one output list: a client of it asked for one choice
      w.ensureStarted();
      switch (ev.type) {
        case 'text':
          w.text(ev.text);
          break;
        case 'tool_start':
          w.toolStart(ev.index, ev.id, ev.name);
          break;
        case 'tool_args':
          w.toolArgs(ev.index, ev.args);
          break;
        case 'reasoning':
          w.reasoning(ev.text);
          break;
        case 'reasoning_end':
          w.reasoningEnd({
            origin: ev.origin,
            // Stryker disable next-line ConditionalExpression: encodeProof treats an undefined signature as absent
            ...(ev.signature !== undefined ? { signature: ev.signature } : {}),
            // Stryker disable next-line ConditionalExpression: encodeProof treats an undefined encrypted as absent
            ...(ev.encrypted !== undefined ? { encrypted: ev.encrypted } : {}),
            // Stryker disable next-line ConditionalExpression: encodeProof treats an undefined redacted as absent
            ...(ev.redacted !== undefined ? { redacted: ev.redacted } : {}),
          });
          break;
      }
    }
    return w.drainText();
  }

  end(): string {
    const w = this.writer;
    w.complete();
    // After a passthrough stream the upstream's own terminal event went out; what the writer observed stands for it.
    settle(this.request, w.final ?? w.finished(), w);
    return w.drainText();
  }

  error(err: AirouteError): string {
    this.writer.fail({ code: err.code, message: err.message });
    return this.writer.drainText();
  }
}
