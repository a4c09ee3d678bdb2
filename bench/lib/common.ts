// Shared by the orchestrator, the mock upstream and the load generator: the mock's modes, the
// deterministic answer text, and the request bodies. No I/O here.

/** How the mock upstream answers; set per phase with `PUT /_mock/mode`. */
export interface MockMode {
  /** Milliseconds before the response starts (headers, and for a stream its first chunks). */
  delayMs: number;
  /** Content tokens per answer (stream: one content chunk per token). */
  chunks: number;
  /** Milliseconds between content chunks of a stream; 0 writes them back to back. */
  intervalMs: number;
  /**
   * Milliseconds between the first content chunk and the second (then `intervalMs` apart): with
   * `intervalMs: 0` the first token arrives alone and the rest as one burst, so a single stream
   * shows both the time to first token and the cost per chunk.
   */
  firstGapMs: number;
  /** Share of attempts answered 429 before the first byte (0..1). */
  fault429: number;
  /** Share of attempts dropped mid-stream (0..1): the socket is destroyed after `dropAfter` content chunks. */
  faultDrop: number;
  /** Content chunks sent before a drop, as a fraction of `chunks`. */
  dropAt: number;
  /** Sent as `retry-after-ms` on a 429 when set. */
  retryAfterMs?: number;
}

export const DEFAULT_MODE: MockMode = { delayMs: 0, chunks: 64, intervalMs: 0, firstGapMs: 0, fault429: 0, faultDrop: 0, dropAt: 0.5 };

/** Counters the mock keeps since its last reset (`GET /_mock/stats`). */
export interface MockStats {
  requests: number;
  streams: number;
  faults429: number;
  drops: number;
  prefills: number;
  prefillMismatches: number;
  aborted: number;
}

const WORDS = [
  'The', 'sidecar', 'streams', 'tokens', 'through', 'with', 'constant', 'work', 'per', 'chunk,', 'and', 'every',
  'recovery', 'is', 'visible', 'as', 'an', 'event.', 'Checkpoints', 'never', 'repeat', 'a', 'delivered', 'token.',
];

/** Token i of the canonical answer: ASCII, non-empty, a leading space after the first. */
export function token(i: number): string {
  const w = WORDS[i % WORDS.length]!;
  return i === 0 ? w : ` ${w}`;
}

/** The answer's first `n` tokens after `from` characters of the canonical text (a prefill may end mid-token). */
export function pieces(n: number, from: number): string[] {
  const out: string[] = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const t = token(i);
    const end = pos + t.length;
    if (end > from) out.push(from > pos ? t.slice(from - pos) : t);
    pos = end;
  }
  return out;
}

const textCache = new Map<number, string>();
/** The complete answer of `n` tokens that every mock response is a part of. */
export function canonicalText(n: number): string {
  let t = textCache.get(n);
  if (t === undefined) {
    t = '';
    for (let i = 0; i < n; i++) t += token(i);
    textCache.set(n, t);
  }
  return t;
}

/** A small, typical chat request body (what an SDK sends). */
export function chatBody(model: string, stream: boolean): Buffer {
  const body: Record<string, unknown> = {
    model,
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: 'Explain in one paragraph what a sidecar proxy does for LLM traffic.' },
    ],
    max_tokens: 256,
    temperature: 0,
  };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return Buffer.from(JSON.stringify(body));
}

/** A place the load generator sends requests to: the mock directly, or a sidecar route. */
export interface Target {
  /** Label in results (`direct`, `sidecar`, `sidecar:none`, ...). */
  name: string;
  origin: string;
  /** The model the client sends: the mock's model name directly, a route name through the sidecar. */
  model: string;
}

export const MIB = 1024 * 1024;
