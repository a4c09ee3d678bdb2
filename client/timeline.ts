// One request's lifecycle as a timeline a UI can draw: attempts as lanes, backoff waits as bars,
// fallback hops between lanes, the checkpoint where a stream broke, where the resumed part
// began, and the terminal event. Pure: the same events always give the same timeline. Times are
// milliseconds since the request was accepted (the sidecar's clock, from each event's `ts`).
import type { LifecycleEvent } from './state.ts';

export interface Lane {
  attempt: number;
  backend: string;
  model: string;
  /** fresh, or how it continues a broken stream: prefill or verify. */
  mode: string;
  start: number;
  /** When it failed or the request ended; undefined while it runs. */
  end?: number;
  /** First text this attempt delivered to the client. */
  firstContent?: number;
  /** content.delta events this attempt delivered, and their characters. */
  deltas: number;
  chars: number;
  failure?: { at: number; code: string; phase: string; status?: number; retriable: boolean; message: string };
  /** Where its stream broke: what the client had by then. */
  checkpoint?: { at: number; deliveredChars: number };
  /** It continued a broken stream: from which character of the answer. */
  resumed?: { at: number; fromChars: number };
}

export interface Wait {
  /** The attempt whose failure scheduled it. */
  after: number;
  start: number;
  /** The next attempt's start once it began, else the planned end. */
  end: number;
  delayMs: number;
  retryAfterMs?: number;
  reason: string;
}

export interface Hop {
  at: number;
  from: string;
  to: string;
  reason: string;
  /** The last attempt on `from`. */
  after: number;
}

export interface Terminal {
  at: number;
  type: 'request.completed' | 'request.failed' | 'request.cancelled';
  code?: string;
  message?: string;
}

export interface Timeline {
  /** Epoch ms of request.accepted (the first event's ts if that was not seen). */
  origin?: number;
  lanes: Lane[];
  waits: Wait[];
  hops: Hop[];
  terminal?: Terminal;
  /** The latest event's time: the right edge while the request runs. */
  now: number;
}

/** Folds events (in seq order; duplicates are ignored) into a timeline. */
export function timeline(events: readonly LifecycleEvent[]): Timeline {
  const t: Timeline = { lanes: [], waits: [], hops: [], now: 0 };
  const byAttempt = new Map<number, Lane>();
  let lastSeq = 0;
  for (const ev of events) {
    if (ev.seq <= lastSeq) continue;
    lastSeq = ev.seq;
    t.origin ??= ev.ts;
    const at = ev.ts - t.origin;
    t.now = Math.max(t.now, at);
    const lane = byAttempt.get(ev.attempt);
    switch (ev.type) {
      case 'attempt.started': {
        const { backend, model, mode } = ev.data;
        const l: Lane = { attempt: ev.attempt, backend, model, mode: mode ?? 'fresh', start: at, deltas: 0, chars: 0 };
        byAttempt.set(ev.attempt, l);
        t.lanes.push(l);
        const wait = t.waits.at(-1);
        if (wait && wait.after === ev.attempt - 1) wait.end = at;
        break;
      }
      case 'content.delta':
        if (!lane) break;
        lane.deltas++;
        lane.chars += ev.data.text?.length ?? 0;
        lane.firstContent ??= at;
        break;
      case 'attempt.failed': {
        if (!lane) break;
        const { code, phase, status, retriable, message } = ev.data;
        lane.failure = { at, code, phase: phase ?? '', ...(status ? { status } : {}), retriable, message };
        lane.end = at;
        break;
      }
      case 'checkpoint': {
        const broke = byAttempt.get(ev.data.attempt ?? ev.attempt);
        if (broke) broke.checkpoint = { at, deliveredChars: ev.data.deliveredChars };
        break;
      }
      case 'retry.scheduled': {
        const { delayMs, retryAfterMs, reason } = ev.data;
        t.waits.push({ after: ev.attempt, start: at, end: at + delayMs, delayMs, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), reason });
        break;
      }
      case 'fallback':
        t.hops.push({ at, from: ev.data.from, to: ev.data.to, reason: ev.data.reason, after: ev.attempt });
        break;
      case 'stream.resumed':
        if (lane) lane.resumed = { at, fromChars: ev.data.fromChars };
        break;
      case 'request.completed':
      case 'request.failed':
      case 'request.cancelled':
        t.terminal = {
          at,
          type: ev.type,
          ...(ev.type === 'request.failed' ? { code: ev.data.error.code, message: ev.data.error.message } : {}),
          ...(ev.type === 'request.cancelled' ? { message: ev.data.reason } : {}),
        };
        for (const l of t.lanes) l.end ??= at;
        break;
    }
  }
  return t;
}
