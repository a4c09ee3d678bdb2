// Upstream bytes into what the attempt reads: a bounded whole body (errors, non-streamed answers),
// or SSE events (eventsource-parser) decoded into neutral frames by the backend's wire decoder.
import { createParser } from 'eventsource-parser';
import type { Frame } from '../chat/types.ts';
import type { StreamDecoder } from '../wire/types.ts';

/** SSE lines longer than this are a malformed upstream, not something to buffer without end. */
const MAX_SSE_BUFFER = 8 * 1024 * 1024;

/** Reads a body up to `limit` bytes (the rest is cut); `onChunk` lets the caller's idle clock see progress. */
export async function readText(body: AsyncIterable<Uint8Array>, limit: number, onChunk: () => void): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    onChunk();
    if (size + chunk.length > limit) {
      parts.push(Buffer.from(chunk.subarray(0, limit - size)));
      size = limit;
      break;
    }
    parts.push(Buffer.from(chunk));
    size += chunk.length;
  }
  return Buffer.concat(parts, size).toString('utf8');
}

/** Upstream bytes → SSE events (eventsource-parser) → neutral frames, one decoder per attempt. */
export async function* decodeFrames(body: AsyncIterable<Uint8Array>, decoder: StreamDecoder, onChunk: () => void): AsyncGenerator<Frame> {
  const text = new TextDecoder();
  const pending: Frame[] = [];
  let failure: unknown;
  const parser = createParser({
    maxBufferSize: MAX_SSE_BUFFER,
    onEvent: (ev) => {
      if (failure !== undefined) return;
      try {
        const frame = decoder.decode(ev);
        if (frame) pending.push(frame);
      } catch (err) {
        failure = err;
      }
    },
  });
  const drain = function* (): Generator<Frame> {
    for (const f of pending) yield f;
    pending.length = 0;
  };
  for await (const chunk of body) {
    onChunk();
    parser.feed(text.decode(chunk, { stream: true }));
    // Frames decoded before a malformed event still count; the failure surfaces right after them.
    yield* drain();
    if (failure !== undefined) throw failure;
    if (decoder.complete) return;
  }
  parser.feed(text.decode());
  parser.reset({ consume: true });
  yield* drain();
  if (failure !== undefined) throw failure;
}
