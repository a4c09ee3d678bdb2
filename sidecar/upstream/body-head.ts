// The start of a complete (non-streamed) upstream body, read up to a bound, with the rest left
// unread on the same iterator: a small answer is read whole and parsed, a large one is handed on
// to stream through without ever being held whole.
export interface BodyHead {
  /** Every byte read so far (at most `limit` plus one read's worth). */
  head: Buffer;
  /** The body ended within the bound. */
  complete: boolean;
  /** The rest of the body, unread (already exhausted when `complete`). */
  rest: AsyncIterator<Uint8Array>;
}

/** Reads until the body ends or more than `limit` bytes were read; `onChunk` lets the caller's idle clock see progress. */
export async function readHead(body: AsyncIterable<Uint8Array>, limit: number, onChunk: () => void): Promise<BodyHead> {
  const rest = body[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await rest.next();
    // Nearly every answer within the bound is one read: hand that buffer on rather than copy it.
    if (next.done) return { head: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), complete: true, rest };
    onChunk();
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    parts.push(chunk);
    size += chunk.length;
    if (size > limit) return { head: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), complete: false, rest };
  }
}
