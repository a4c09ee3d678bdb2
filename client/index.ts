// airoute client: submit or attach to a request, follow its events over SSE, resume from the last
// seq after any disconnect, and fold them into one state object. Works in browsers and Node 24;
// no dependencies.
import { readSse, type SseMessage } from './sse.ts';
import { initialState, isTerminal, reduce, type LifecycleEvent, type RequestState } from './state.ts';

export { initialState, isTerminal, reduce } from './state.ts';
export type { LifecycleEvent, RequestState, RequestStatus } from './state.ts';
export { readSse, type SseMessage } from './sse.ts';
export { streamCompletion, type StreamedAnswer, type StreamOptions } from './stream.ts';
export { timeline, type Hop, type Lane, type Terminal, type Timeline, type Wait } from './timeline.ts';

export class FollowError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface FollowOptions {
  /** Where the sidecar is, e.g. `http://127.0.0.1:4000` or `''` for the page's own origin. */
  baseURL: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  onState?: (state: RequestState) => void;
  onEvent?: (event: LifecycleEvent) => void;
  /** Called before each reconnect, with how many have happened. */
  onReconnect?: (count: number, lastSeq: number) => void;
  /** Called as each connection opens, with what it resumes from and a way to cut it. */
  onConnect?: (connection: Connection) => void;
  /** Every SSE message as it crossed the wire, before it is folded in (a replayed duplicate too). */
  onFrame?: (frame: SseMessage) => void;
  /** Consecutive failed connects before giving up. */
  maxFailures?: number;
  retryDelayMs?: number;
}

export interface Connection {
  /** 1 for the first connection, then one more per reconnect. */
  n: number;
  /** The `Last-Event-ID` it sent: the last seq the follower had. */
  lastEventId: number;
  /** Ends this connection only, as a network failure would; the follower reconnects from the last event it has. */
  drop(): void;
}

/** Follows a request to its terminal event; reconnects from the last seq whenever the connection drops. */
export async function follow(id: string, opts: FollowOptions, from: RequestState = initialState(id)): Promise<RequestState> {
  const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
  let state = from;
  let failures = 0;
  let reconnects = 0;
  const maxFailures = opts.maxFailures ?? 20;
  while (!isTerminal(state)) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    const cut = new AbortController();
    let dropped = false;
    const signal = opts.signal ? AbortSignal.any([opts.signal, cut.signal]) : cut.signal;
    opts.onConnect?.({
      n: reconnects + 1,
      lastEventId: state.lastSeq,
      drop: () => {
        dropped = true;
        cut.abort(new Error('connection dropped by the caller'));
      },
    });
    try {
      const res = await f(`${opts.baseURL}/airoute/v1/requests/${encodeURIComponent(id)}/events?after=${state.lastSeq}`, {
        headers: { accept: 'text/event-stream', 'last-event-id': String(state.lastSeq) },
        signal,
      });
      if (res.status === 404 || res.status === 410) throw new FollowError(res.status, res.status === 404 ? `no request ${id}` : `the events of request ${id} are past retention`);
      if (!res.ok || !res.body) throw new Error(`events endpoint answered ${res.status}`);
      // A drop takes effect at once: nothing already buffered is folded in after it.
      for await (const msg of readSse(res.body, { stop: () => dropped })) {
        opts.onFrame?.(msg);
        if (msg.event === 'error') throw new FollowError(410, msg.data);
        const ev = JSON.parse(msg.data) as LifecycleEvent;
        const next = reduce(state, ev);
        if (next === state) continue;
        state = next;
        failures = 0;
        opts.onEvent?.(ev);
        opts.onState?.(state);
        if (dropped) break;
      }
    } catch (err) {
      if (err instanceof FollowError || opts.signal?.aborted) throw err;
      if (!dropped && ++failures > maxFailures) throw err;
    }
    if (!isTerminal(state)) {
      reconnects++; // not inside the optional call below: its arguments are skipped when there is no callback
      opts.onReconnect?.(reconnects, state.lastSeq);
      // A deliberate drop reconnects at once; a failure backs off.
      if (!dropped) await new Promise((r) => setTimeout(r, Math.min(5000, (opts.retryDelayMs ?? 100) * 2 ** Math.max(0, failures - 1))));
    }
  }
  return state;
}

export interface SubmitOptions {
  baseURL: string;
  /** `/v1/chat/completions` (default) or `/v1/messages`. */
  path?: string;
  headers?: Record<string, string>;
  idempotencyKey?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** Submits a request with `Prefer: respond-async`; resolves to its id once the sidecar accepted it. */
export async function submit(body: unknown, opts: SubmitOptions): Promise<{ id: string; status: string }> {
  const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const res = await f(`${opts.baseURL}${opts.path ?? '/v1/chat/completions'}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      prefer: 'respond-async',
      ...(opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {}),
      ...opts.headers,
    },
    body: JSON.stringify(body),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const json = (await res.json()) as { id?: string; status?: string; error?: { message?: string } };
  if (res.status !== 202 || !json.id) throw new FollowError(res.status, json.error?.message ?? `submission answered ${res.status}`);
  return { id: json.id, status: json.status ?? 'running' };
}
