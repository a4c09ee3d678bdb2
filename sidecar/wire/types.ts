// The codec interfaces: what a format's stream decoder (upstream answer), stream encoder (client
// answer) and client codec (both client directions) must do. wire/ depends only on chat/ and
// errors; providers/ and server/ depend on wire/, never the other way round.
import type { AirouteError } from '../errors.ts';
import type { ChatRequest, ChatResult, Frame, JsonObject, ProxyRequest, StreamEvent } from '../chat/types.ts';

/** One server-sent event as the SSE parser hands it over. */
export interface SseEvent {
  event?: string | undefined;
  data: string;
}

/** Decodes one attempt's stream; made per attempt because some formats are stateful. */
export interface StreamDecoder {
  /** 0..n neutral events for one upstream SSE event; throws an AirouteError for an in-stream error or a malformed event. */
  decode(ev: SseEvent): Frame | null;
  /** The stream said everything it will say (terminal marker, or finish plus usage). */
  readonly complete: boolean;
  /** Every choice reported a finish reason: a stream cut after this point lost nothing but the terminator. */
  readonly finished: boolean;
}

/**
 * Writes one client stream. It remembers what the client has already been told (message
 * started, open content block, the stream's id), so that after a mid-stream recovery the
 * continuation joins the same message instead of starting anew.
 */
export interface StreamEncoder {
  /** The upstream's own bytes for a same-format frame, or undefined to drop it (state is updated either way). */
  passthrough(frame: Frame): string | undefined;
  /** Client-format bytes for neutral events. */
  encode(events: readonly StreamEvent[]): string;
  /** Terminal frames after a successful stream (`[DONE]`, `message_stop`). */
  end(): string;
  /** A final in-stream error in the shape the client's SDK raises as an exception. */
  error(err: AirouteError): string;
}

/** Everything the data path needs to serve one client format, so it never branches on the format. */
export interface ClientCodec {
  /** The endpoint (`POST`) clients of this format call. */
  readonly path: string;
  /** Checks and decodes a client's JSON body; throws an AirouteError worded as this format's API would. */
  decodeRequest(body: JsonObject): ChatRequest;
  /** A complete answer as this format's non-streamed response object (`request`: for formats that repeat the request's settings). */
  encodeResult(result: ChatResult, fallbackId: string, request: ProxyRequest): JsonObject;
  /** A fresh encoder for one client stream; `fallbackId` names the stream until the upstream gives an id. */
  streamEncoder(request: ProxyRequest, fallbackId: string): StreamEncoder;
  /** An error as this format's JSON error body (before the first byte; after it, `StreamEncoder.error`). */
  errorBody(err: AirouteError): JsonObject;
}
