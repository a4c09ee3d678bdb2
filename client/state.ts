// One request's lifecycle folded into the state a UI renders. A pure reducer: the same events in
// the same order always give the same state, and an event seen twice (a replay after a
// reconnect) changes nothing, so a frontend cannot drift from what the sidecar did.
import type { LifecycleEvent } from '../api/v1alpha1/events.ts';

export type { LifecycleEvent };

export type RequestStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface RequestState {
  id: string;
  status: RequestStatus;
  /** Text of choice 0, exactly as delivered. */
  text: string;
  attempts: number;
  retries: number;
  fallbacks: number;
  resumes: number;
  /** Where in `text` each recovered part begins: the stream broke there and was resumed. */
  resumedAt: number[];
  backend?: string;
  model?: string;
  error?: { code?: string; message: string; status?: number };
  usage?: { inputTokens: number; outputTokens: number };
  /** What the app's backend answered (backend-in-the-loop requests). */
  callback?: unknown;
  /** The last seq folded in: resume from here after a disconnect. */
  lastSeq: number;
  /** A seq was skipped: the state may be incomplete (the journal trimmed it). */
  gap: boolean;
}

export function initialState(id: string): RequestState {
  return { id, status: 'pending', text: '', attempts: 0, retries: 0, fallbacks: 0, resumes: 0, resumedAt: [], lastSeq: 0, gap: false };
}

export const isTerminal = (s: RequestState): boolean => s.status === 'completed' || s.status === 'failed' || s.status === 'cancelled';

export function reduce(s: RequestState, ev: LifecycleEvent): RequestState {
  if (ev.seq <= s.lastSeq || isTerminal(s)) return s;
  const next: RequestState = { ...s, lastSeq: ev.seq, gap: s.gap || ev.seq !== s.lastSeq + 1, attempts: Math.max(s.attempts, ev.attempt) };
  switch (ev.type) {
    case 'request.accepted':
      next.status = 'running';
      break;
    case 'attempt.started':
      next.status = 'running';
      if (typeof ev.data.backend === 'string') next.backend = ev.data.backend;
      if (typeof ev.data.model === 'string') next.model = ev.data.model;
      break;
    case 'content.delta':
      if ((ev.data.choice ?? 0) === 0 && typeof ev.data.text === 'string') next.text = s.text + ev.data.text;
      break;
    case 'retry.scheduled':
      next.retries = s.retries + 1;
      break;
    case 'fallback':
      next.fallbacks = s.fallbacks + 1;
      break;
    case 'stream.resumed':
      // Announced before the continuation's first new text, so the text so far is exactly what came before the break.
      next.resumes = s.resumes + 1;
      next.resumedAt = [...s.resumedAt, s.text.length];
      break;
    case 'request.completed': {
      next.status = 'completed';
      const u = ev.data.usage as { inputTokens?: number; outputTokens?: number } | undefined;
      if (u) next.usage = { inputTokens: u.inputTokens ?? 0, outputTokens: u.outputTokens ?? 0 };
      if (ev.data.callback !== undefined) next.callback = ev.data.callback;
      if (typeof ev.data.backend === 'string') next.backend = ev.data.backend;
      break;
    }
    case 'request.failed': {
      next.status = 'failed';
      const e = (ev.data.error ?? {}) as { code?: string; message?: string; status?: number };
      next.error = { message: e.message ?? 'the request failed', ...(e.code ? { code: e.code } : {}), ...(e.status ? { status: e.status } : {}) };
      break;
    }
    case 'request.cancelled':
      next.status = 'cancelled';
      break;
  }
  return next;
}
