// The sync pattern, streamed: POST a Chat Completions request with `stream: true` and read the
// answer as it arrives, frame by frame, the way an SDK does, keeping what crossed the wire. An
// error after the first byte arrives in-stream (`data: {"error": ...}`), never as a new status.
import { readSse, type SseMessage } from './sse.ts';

export interface StreamedAnswer {
  status: number;
  /** `x-airoute-request-id`: the handle for this request's events. */
  requestId?: string;
  /** Text of choice 0, as received. */
  text: string;
  /** The stream ended with `data: [DONE]`. */
  done: boolean;
  finishReason?: string;
  error?: { code?: string; type?: string; message: string };
}

export interface StreamOptions {
  baseURL: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** The response's status and headers, before any of its body. */
  onResponse?: (res: Response) => void;
  /** Every SSE message as it crossed the wire. */
  onFrame?: (frame: SseMessage) => void;
  /** Each piece of choice 0's text. */
  onDelta?: (text: string) => void;
}

interface Chunk {
  choices?: { index?: number; delta?: { content?: string | null }; finish_reason?: string | null }[];
  error?: { code?: string | null; type?: string; message?: string };
}

const errorOf = (e: NonNullable<Chunk['error']>, fallback: string): NonNullable<StreamedAnswer['error']> => ({
  message: e.message ?? fallback,
  ...(e.code ? { code: e.code } : {}),
  ...(e.type ? { type: e.type } : {}),
});

export async function streamCompletion(body: Record<string, unknown>, opts: StreamOptions): Promise<StreamedAnswer> {
  const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const res = await f(`${opts.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ ...body, stream: true }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  opts.onResponse?.(res);
  const requestId = res.headers.get('x-airoute-request-id') ?? undefined;
  const out: StreamedAnswer = { status: res.status, text: '', done: false, ...(requestId ? { requestId } : {}) };
  if (!res.ok || !res.body) {
    const json = (await res.json().catch(() => ({}))) as Chunk;
    out.error = errorOf(json.error ?? {}, `the request answered ${res.status}`);
    return out;
  }
  for await (const msg of readSse(res.body)) {
    opts.onFrame?.(msg);
    if (msg.data === '[DONE]') {
      out.done = true;
      continue;
    }
    let chunk: Chunk;
    try {
      chunk = JSON.parse(msg.data) as Chunk;
    } catch {
      continue; // not JSON: nothing a Chat Completions client could use
    }
    if (chunk.error) {
      out.error = errorOf(chunk.error, 'the stream failed');
      continue;
    }
    for (const c of chunk.choices ?? []) {
      if ((c.index ?? 0) !== 0) continue;
      const text = c.delta?.content;
      if (text) {
        out.text += text;
        opts.onDelta?.(text);
      }
      if (c.finish_reason) out.finishReason = c.finish_reason;
    }
  }
  return out;
}
