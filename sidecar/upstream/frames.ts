// Upstream bytes into what the attempt reads: a bounded whole body (errors, non-streamed answers),
// or SSE events (eventsource-parser) decoded into neutral frames by the backend's wire decoder.
import { createParser } from 'eventsource-parser';
import type { Frame } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import type { StreamDecoder } from '../wire/types.ts';

/** SSE lines (and events) longer than this are a broken upstream, not something to buffer without end. */
export const MAX_SSE_BUFFER = 8 * 1024 * 1024;

/** An upstream that broke the SSE framing itself: a line or event past MAX_SSE_BUFFER characters. */
export function oversizedSse(limit: number): AirouteError {
  return new AirouteError('upstream_protocol_error', 502, `upstream sent an SSE line or event longer than the limit of ${limit} characters`, {
    retriable: true,
    fallback: 'retries_exhausted',
  });
}

/** Reads a body up to `limit` bytes (the rest is cut); `onChunk` lets the caller's idle clock see progress. */
export async function readText(body: AsyncIterable<Uint8Array>, limit: number, onChunk: () => void): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    onChunk();
    const room = limit - size;
    // A chunk that reaches the limit exactly is the last one read.
    if (chunk.length >= room) {
      parts.push(Buffer.from(chunk.subarray(0, room)));
      break;
    }
    parts.push(Buffer.from(chunk));
    size += chunk.length;
  }
  return Buffer.concat(parts).toString('utf8');
}

const STREAMING: TextDecodeOptions = { stream: true };

/** Upstream bytes → SSE events (eventsource-parser) → neutral frames, one decoder per attempt. */
export async function* decodeFrames(body: AsyncIterable<Uint8Array>, decoder: StreamDecoder, onChunk: () => void): AsyncGenerator<Frame> {
  const text = new TextDecoder();
  const pending: Frame[] = [];
  let failure: unknown;
  const parser = createParser({
    maxBufferSize: MAX_SSE_BUFFER,
    // Only the buffer overflow is fatal; an unknown field or a bad `retry:` is ignored, as the
    // SSE spec says. Past the overflow the parser refuses every feed, so the failure must be set here.
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded' && failure === undefined) failure = oversizedSse(MAX_SSE_BUFFER);
    },
    onEvent: (ev) => {
      if (failure !== undefined) return;
      // The parser checks its bound only on what it holds between feeds; an event that arrived
      // whole in one large read is checked here.
      if (ev.data.length > MAX_SSE_BUFFER) {
        failure = oversizedSse(MAX_SSE_BUFFER);
        return;
      }
      try {
        const frame = decoder.decode(ev);
        if (frame) pending.push(frame);
      } catch (err) {
        failure = err;
      }
    },
  });
  // Per chunk and per frame: no generator, closure or options object made here (a `yield*` into a
  // helper generator cost one of each per upstream read).
  for await (const chunk of body) {
    onChunk();
    parser.feed(text.decode(chunk, STREAMING));
    // Frames decoded before a malformed event still count; the failure surfaces right after them.
    for (let i = 0; i < pending.length; i++) yield pending[i]!;
    pending.length = 0;
    if (failure !== undefined) throw failure;
    if (decoder.complete) return;
  }
  // Nothing is left once the body ends: an event is dispatched only at the blank line after it, so
  // one the end cuts off (or a dangling partial UTF-8 character) is incomplete and never decoded;
  // the attempt then sees the decoder unfinished and reports the truncation.
}
