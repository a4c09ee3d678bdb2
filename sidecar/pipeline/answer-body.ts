// A complete answer in the client's format: the upstream's own bytes when it already speaks it,
// otherwise encoded from the neutral result by the client format's codec.
import type { ChatResult, ProxyRequest } from '../chat/types.ts';
import { speaksNatively } from '../providers/types.ts';
import { CLIENT_CODECS } from '../wire/clients.ts';
import type { StreamEncoder } from '../wire/types.ts';
import type { BytesAnswer, JsonAnswer } from './exchange.ts';

export function encoderFor(request: ProxyRequest, id: string): StreamEncoder {
  return CLIENT_CODECS[request.format].streamEncoder(request, id);
}

export function encodeResult(request: ProxyRequest, result: ChatResult, id: string): unknown {
  return CLIENT_CODECS[request.format].encodeResult(result, id, request);
}

/** The upstream's own bytes, when they already are in the client's format (embeddings are OpenAI-shaped). */
function passthrough(request: ProxyRequest, answer: JsonAnswer): string | undefined {
  return speaksNatively(answer.target.backend.caps, answer.embeddings ? 'openai' : request.format) ? answer.raw : undefined;
}

/** As bytes, for a client connection: the upstream's own bytes when they are in the client's format. */
export function resultBody(request: ProxyRequest, answer: JsonAnswer, id: string): string | Uint8Array {
  const raw = passthrough(request, answer);
  if (raw !== undefined) return answer.bytes ?? raw;
  return JSON.stringify(answer.embeddings ?? encodeResult(request, answer.result as ChatResult, id));
}

/** As a value (async results): parsed only when it is the upstream's bytes, never serialised and re-read. */
export function resultValue(request: ProxyRequest, answer: JsonAnswer, id: string): unknown {
  const raw = passthrough(request, answer);
  return answer.embeddings ?? (raw !== undefined ? JSON.parse(raw) : encodeResult(request, answer.result as ChatResult, id));
}

/** A streamed-through answer read whole after all (an async result must be kept): parsed as attempt parses a small one. */
export function completeAnswer(request: ProxyRequest, answer: BytesAnswer, text: string): JsonAnswer {
  const adapter = answer.target.backend.adapter;
  const base = { kind: 'json' as const, target: answer.target, attempt: answer.attempt, raw: text };
  if (request.operation !== 'chat') return { ...base, embeddings: adapter.embeddingsResult!(text) };
  const result = adapter.chatResult(text, request as Parameters<typeof adapter.chatResult>[1]);
  if (!result.model) result.model = answer.target.model;
  return { ...base, result };
}
