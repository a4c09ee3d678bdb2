// A minimal Server-Sent Events reader over fetch's body (the client ships with no dependencies;
// the sidecar itself uses eventsource-parser). Handles `id:`, multi-line `data:`, comments, and
// any chunking of the byte stream.
export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
  /** The message's lines as they crossed the wire (comment lines in the same block included). */
  raw: string;
}

export interface ReadOptions {
  /** Checked after each message: when it says stop, reading ends there, even mid-chunk. */
  stop?: () => boolean;
}

export async function* readSse(body: ReadableStream<Uint8Array>, opts: ReadOptions = {}): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  let lines: string[] = [];
  let id: string | undefined;
  let event: string | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.search(/\r\n|\r|\n/)) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (data.length) {
            yield { data: data.join('\n'), raw: lines.join('\n'), ...(id !== undefined ? { id } : {}), ...(event !== undefined ? { event } : {}) };
            if (opts.stop?.()) return;
          }
          data = [];
          lines = [];
          event = undefined;
          continue;
        }
        lines.push(line);
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
        else if (field === 'event') event = value;
      }
    }
  } finally {
    // Cancelling (not just releasing) closes the connection when the caller stopped early.
    await reader.cancel().catch(() => undefined);
  }
}
